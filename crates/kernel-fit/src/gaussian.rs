//! The Gaussian kernel's minimum-norm interpolant (the paper's Section 5): K α = Y solved
//! exactly, K_ij = exp(−γ‖x_i − x_j‖²), in float64 with faer's Cholesky factorization.
//!
//! K is built one panel of columns at a time: a GEMM writes 2γ x_i·x_j for the panel's rows
//! on and below the diagonal, and the exponential pass turns the panel into kernel values while
//! it is still in cache (‖x_i − x_j‖² = ‖x_i‖² + ‖x_j‖² − 2 x_i·x_j). Only the lower triangle is
//! computed: it is all the factorization reads, and it is half the work of the full matrix.
//! The factorization overwrites K in place (one n × n matrix in memory). Predictions recompute
//! kernel rows block by block against the training set, so the training residual ‖K α − Y‖ is
//! measured with the true K, not with its factor.

use anyhow::{Result, bail};
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt;
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

use crate::data::Examples;

/// Rows of a prediction block (the kernel rows held at once: block × n floats).
pub const PREDICT_BLOCK: usize = 512;

/// γ‖x‖² of every row.
pub fn scaled_sq_norms(x: &Examples, gamma: f64) -> Vec<f64> {
    (0..x.len())
        .into_par_iter()
        .map(|i| gamma * x.row(i).iter().map(|v| v * v).sum::<f64>())
        .collect()
}

/// Columns per panel: a panel of n rows fits in about 4 MB of cache.
fn panel_width(n: usize) -> usize {
    ((4 << 20) / (8 * n.max(1))).clamp(32, 512)
}

/// The lower triangle of K + λI (column-major n × n; the strict upper triangle is zero).
pub fn build(x: &Examples, gamma: f64, ridge: f64, par: Par) -> Vec<f64> {
    let n = x.len();
    let mut k = vec![0.0f64; n * n];
    build_into(&mut k, x, gamma, ridge, par);
    k
}

/// [`build`] into `k` (n × n, overwritten).
pub fn build_into(k: &mut [f64], x: &Examples, gamma: f64, ridge: f64, par: Par) {
    let (n, d) = (x.len(), x.d);
    assert_eq!(k.len(), n * n);
    let g = scaled_sq_norms(x, gamma);
    let all = MatRef::from_row_major_slice(&x.x, n, d);
    let width = panel_width(n);
    let mut j0 = 0;
    while j0 < n {
        let j1 = (j0 + width).min(n);
        let w = j1 - j0;
        let rows = n - j0;
        // Rows j0..n of columns j0..j1: 2γ X[j0..] X[j0..j1]ᵀ.
        let panel =
            MatMut::from_column_major_slice_with_stride_mut(&mut k[j0 * n + j0..], rows, w, n);
        let lhs = all.subrows(j0, rows);
        let rhs = MatRef::from_column_major_slice(&x.x[j0 * d..j1 * d], d, w);
        matmul(panel, Accum::Replace, lhs, rhs, 2.0 * gamma, par);
        // exp(2γ x_i·x_j − γ‖x_i‖² − γ‖x_j‖²) on and below the diagonal, zero above it.
        k[j0 * n..j1 * n]
            .par_chunks_mut(n)
            .enumerate()
            .for_each(|(c, col)| {
                let j = j0 + c;
                col[j0..j].fill(0.0);
                col[j] = 1.0 + ridge;
                let gj = g[j];
                for (v, gi) in col[j + 1..].iter_mut().zip(&g[j + 1..]) {
                    // −γ‖x_i − x_j‖², clamped at 0: rounding can make a tiny distance negative.
                    *v = (*v - gi - gj).min(0.0).exp();
                }
            });
        j0 = j1;
    }
}

/// The Cholesky factor of K + λI in place; on failure, the pivot where it failed.
pub fn factor(k: &mut [f64], n: usize, par: Par) -> Result<(), usize> {
    let params = Default::default();
    let mut mem = MemBuffer::new(llt::factor::cholesky_in_place_scratch::<f64>(
        n, par, params,
    ));
    let m = MatMut::from_column_major_slice_mut(k, n, n);
    llt::factor::cholesky_in_place(m, Default::default(), par, MemStack::new(&mut mem), params)
        .map(|_| ())
        .map_err(|llt::factor::LltError::NonPositivePivot { index }| index)
}

/// Solves L Lᵀ α = Y in place (Y: n × k column-major, overwritten with α).
pub fn solve(l: &[f64], n: usize, y: &mut [f64], par: Par) {
    let classes = y.len() / n.max(1);
    let l = MatRef::from_column_major_slice(l, n, n);
    let rhs = MatMut::from_column_major_slice_mut(y, n, classes);
    let mut mem = MemBuffer::new(llt::solve::solve_in_place_scratch::<f64>(n, classes, par));
    llt::solve::solve_in_place(l, rhs, par, MemStack::new(&mut mem));
}

/// The outcome of [`fit`].
pub struct Fit {
    /// α (n × k, column-major).
    pub alpha: Vec<f64>,
    /// The Cholesky factor L (lower triangle of an n × n column-major matrix).
    pub factor: Vec<f64>,
    /// λ added to the diagonal because the factorization failed without it.
    pub jitter: Option<f64>,
    /// Seconds building K (all attempts).
    pub build_s: f64,
    /// Seconds factorizing and solving.
    pub solve_s: f64,
}

/// Builds K + λI, factorizes it, and solves for α. A factorization that fails (K numerically
/// singular: nearly equal images, or a large γ⁻¹) is retried with a jitter of 10⁻¹⁰, 10⁻⁹, …,
/// 10⁻⁶ times the diagonal added, and the jitter used is returned; past that it is an error.
pub fn fit(x: &Examples, y: &[f64], gamma: f64, ridge: f64, par: Par) -> Result<Fit> {
    let n = x.len();
    let mut k = vec![0.0f64; n * n];
    let (mut build_s, mut solve_s) = (0.0, 0.0);
    let mut jitter: Option<f64> = None;
    loop {
        let t = std::time::Instant::now();
        build_into(&mut k, x, gamma, ridge + jitter.unwrap_or(0.0), par);
        build_s += t.elapsed().as_secs_f64();
        let t = std::time::Instant::now();
        let result = factor(&mut k, n, par);
        solve_s += t.elapsed().as_secs_f64();
        match result {
            Ok(()) => break,
            Err(pivot) => {
                let next = jitter.map_or(1e-10 * (1.0 + ridge), |j| j * 10.0);
                if next > 1e-6 * (1.0 + ridge) {
                    bail!(
                        "the kernel matrix is numerically singular (Cholesky failed at pivot {pivot} even with a jitter of {:e} on the diagonal): use a larger --gamma or a --ridge",
                        jitter.unwrap_or(0.0)
                    );
                }
                eprintln!(
                    "kernel-fit: Cholesky failed at pivot {pivot} (K not numerically positive definite); retrying with {next:e} added to the diagonal"
                );
                jitter = Some(next);
            }
        }
    }
    let t = std::time::Instant::now();
    let mut alpha = y.to_vec();
    solve(&k, n, &mut alpha, par);
    solve_s += t.elapsed().as_secs_f64();
    Ok(Fit {
        alpha,
        factor: k,
        jitter,
        build_s,
        solve_s,
    })
}

/// f(q) = Σ_i α_i k(q, x_i) for every row q of `query`: m × k, column-major. Kernel rows are
/// made [`PREDICT_BLOCK`] at a time (GEMM, then the exponential pass), then multiplied by α.
pub fn predict(
    query: &Examples,
    train: &Examples,
    alpha: &[f64],
    gamma: f64,
    par: Par,
) -> Vec<f64> {
    let (m, n, d) = (query.len(), train.len(), train.d);
    let classes = alpha.len() / n.max(1);
    let gq = scaled_sq_norms(query, gamma);
    let gx = scaled_sq_norms(train, gamma);
    let xt = MatRef::from_column_major_slice(&train.x, d, n);
    let a = MatRef::from_column_major_slice(alpha, n, classes);
    let mut out = vec![0.0f64; m * classes];
    let mut block = vec![0.0f64; PREDICT_BLOCK.min(m.max(1)) * n];
    let mut r0 = 0;
    while r0 < m {
        let r1 = (r0 + PREDICT_BLOCK).min(m);
        let b = r1 - r0;
        let kb = &mut block[..b * n];
        // Row-major b × n: row r is the kernel between query r0 + r and every training example.
        let q = MatRef::from_row_major_slice(&query.x[r0 * d..r1 * d], b, d);
        matmul(
            MatMut::from_row_major_slice_mut(kb, b, n),
            Accum::Replace,
            q,
            xt,
            2.0 * gamma,
            par,
        );
        kb.par_chunks_mut(n).enumerate().for_each(|(r, row)| {
            let g = gq[r0 + r];
            for (v, gi) in row.iter_mut().zip(&gx) {
                *v = (*v - gi - g).min(0.0).exp();
            }
        });
        let dst = MatMut::from_column_major_slice_with_stride_mut(&mut out[r0..], b, classes, m);
        matmul(
            dst,
            Accum::Replace,
            MatRef::from_row_major_slice(kb, b, n),
            a,
            1.0,
            par,
        );
        r0 = r1;
    }
    out
}

/// ‖f‖² = trace(αᵀ K α) = trace(Yᵀ α) for the interpolant (Y the targets it was solved for).
pub fn norm(y: &[f64], alpha: &[f64]) -> f64 {
    y.iter()
        .zip(alpha)
        .map(|(a, b)| a * b)
        .sum::<f64>()
        .max(0.0)
        .sqrt()
}

/// λ_max / λ_min of K = L Lᵀ by power iteration (K v through L, K⁻¹ v through two triangular
/// solves), `iterations` steps each from a fixed start: a lower bound that is close after a few
/// dozen steps when the extreme eigenvalues are separated from the rest.
pub fn condition(l: &[f64], n: usize, iterations: usize, par: Par) -> f64 {
    if n == 0 {
        return 1.0;
    }
    let lm = MatRef::from_column_major_slice(l, n, n);
    let start = || -> Vec<f64> { (0..n).map(|i| 1.0 + (i % 7) as f64 * 0.1).collect() };
    let normalize = |v: &mut [f64]| {
        let s = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        v.iter_mut().for_each(|x| *x /= s);
        s
    };
    let lower = faer::linalg::matmul::triangular::BlockStructure::TriangularLower;
    let upper = faer::linalg::matmul::triangular::BlockStructure::TriangularUpper;
    let rect = faer::linalg::matmul::triangular::BlockStructure::Rectangular;
    let apply = |v: &[f64]| -> Vec<f64> {
        let mut t = vec![0.0; n];
        faer::linalg::matmul::triangular::matmul(
            MatMut::from_column_major_slice_mut(&mut t, n, 1),
            rect,
            Accum::Replace,
            lm.transpose(),
            upper,
            MatRef::from_column_major_slice(v, n, 1),
            rect,
            1.0,
            par,
        );
        let mut out = vec![0.0; n];
        faer::linalg::matmul::triangular::matmul(
            MatMut::from_column_major_slice_mut(&mut out, n, 1),
            rect,
            Accum::Replace,
            lm,
            lower,
            MatRef::from_column_major_slice(&t, n, 1),
            rect,
            1.0,
            par,
        );
        out
    };
    let mut v = start();
    normalize(&mut v);
    let mut largest = 0.0;
    for _ in 0..iterations {
        v = apply(&v);
        largest = normalize(&mut v);
    }
    let mut v = start();
    normalize(&mut v);
    let mut inverse_largest = 0.0;
    for _ in 0..iterations {
        solve(l, n, &mut v, par);
        inverse_largest = normalize(&mut v);
    }
    largest * inverse_largest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn examples(x: Vec<f64>, d: usize) -> Examples {
        let n = x.len() / d;
        Examples {
            x,
            d,
            labels: vec![0; n],
        }
    }

    #[test]
    fn the_kernel_matches_its_definition() {
        let x = examples(
            (0..7 * 3).map(|i| ((i * 37) % 11) as f64 / 11.0).collect(),
            3,
        );
        let n = 7;
        let gamma = 0.7;
        let k = build(&x, gamma, 0.0, Par::Seq);
        for j in 0..n {
            for i in 0..n {
                let d2: f64 = x
                    .row(i)
                    .iter()
                    .zip(x.row(j))
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum();
                let want = if i >= j { (-gamma * d2).exp() } else { 0.0 };
                assert!((k[j * n + i] - want).abs() < 1e-14, "K[{i},{j}]");
            }
        }
        let p = predict(
            &x,
            &x,
            &[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            gamma,
            Par::Seq,
        );
        for (i, pi) in p.iter().enumerate() {
            let d2: f64 = x
                .row(i)
                .iter()
                .zip(x.row(0))
                .map(|(a, b)| (a - b) * (a - b))
                .sum();
            assert!((pi - (-gamma * d2).exp()).abs() < 1e-14);
        }
    }

    #[test]
    fn the_condition_number_of_a_diagonal_matrix() {
        // L = diag(1, 2, 4): K = diag(1, 4, 16), condition 16.
        let l = vec![1.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 4.0];
        let c = condition(&l, 3, 60, Par::Seq);
        assert!((c - 16.0).abs() < 1e-6, "{c}");
    }
}
