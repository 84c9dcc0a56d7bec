//! The Gaussian kernel's minimum-norm interpolant (the paper's Section 5): K α = Y solved
//! exactly, K_ij = exp(−γ‖x_i − x_j‖²), in float64 with faer's Cholesky factorization.
//!
//! K is built one panel of columns at a time: a GEMM writes 2γ x_i·x_j for the panel's rows
//! on and below the diagonal, and the exponential pass turns the panel into kernel values while
//! it is still in cache (‖x_i − x_j‖² = ‖x_i‖² + ‖x_j‖² − 2 x_i·x_j). Only the lower triangle is
//! computed: it is all the factorization reads, and it is half the work of the full matrix.
//! Pixels read from uint8 files are integers p/255, and then the distances are exact: the GEMM
//! runs on the centered integers p − 128 (in −128..=127; distances do not change) in float32,
//! over chunks of at most 1,024 of the D coordinates, where every partial sum of products of
//! magnitude ≤ 128² stays within 2²⁴ and is therefore exact in any order of addition; chunks
//! add up in float64 (exact below 2⁵³), and ‖p_i − p_j‖² is an exact integer before the one
//! rounding of multiplying by γ/255². That is twice the GEMM rate of float64, and more accurate
//! (float32 Gaussian-noise files take the float64 path).
//! The factorization overwrites K in place (one n × n matrix in memory). Predictions recompute
//! kernel rows block by block against the training set, so the training residual ‖K α − Y‖ is
//! measured with the true K, not with its factor.

use anyhow::{Result, bail};
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt;
use faer::linalg::matmul::matmul;
use faer::reborrow::{Reborrow, ReborrowMut};
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

/// Coordinates per float32 GEMM of the exact path: 1,024 · 128² = 2²⁴.
const EXACT_CHUNK: usize = 1024;
/// Columns of a destination tile of the exact path (its float32 scratch is rows × this).
const EXACT_TILE: usize = 2048;

/// How a kernel block is computed: `dots` fills 2·x_i·x_j (in some unit), `norms` are the
/// matching ‖x‖², and the kernel is exp((dots − norm_i − norm_j) · scale).
enum Distances {
    /// float64 throughout: dots = 2γ x_i·x_j, norms γ‖x‖², scale 1.
    Float { gamma: f64 },
    /// uint8 pixels as exact centered integers p − 128 = 255x − 128 in float32 (row-major n × D).
    Exact { gamma: f64 },
}

impl Distances {
    fn of(x: &Examples, other: &Examples, gamma: f64) -> Distances {
        if x.integer && other.integer {
            Distances::Exact { gamma }
        } else {
            Distances::Float { gamma }
        }
    }

    /// The GEMM's operand for `x`: the pixel integers, or nothing (x itself is used).
    fn operand(&self, x: &Examples) -> Vec<f32> {
        match self {
            Distances::Float { .. } => Vec::new(),
            Distances::Exact { .. } => {
                x.x.par_iter()
                    .map(|v| ((v * 255.0).round() - 128.0) as f32)
                    .collect()
            }
        }
    }

    /// The norms subtracted from the dots: γ‖x‖², or the integers ‖p − 128‖².
    fn norms(&self, x: &Examples) -> Vec<f64> {
        match *self {
            Distances::Float { gamma } => scaled_sq_norms(x, gamma),
            Distances::Exact { .. } => (0..x.len())
                .into_par_iter()
                .map(|i| {
                    x.row(i)
                        .iter()
                        .map(|v| {
                            let p = (v * 255.0).round() - 128.0;
                            p * p
                        })
                        .sum::<f64>()
                })
                .collect(),
        }
    }

    /// The factor applied to dots − norms: 1, or γ/255².
    fn scale(&self) -> f64 {
        match *self {
            Distances::Float { .. } => 1.0,
            Distances::Exact { gamma } => gamma / (255.0 * 255.0),
        }
    }

    /// `dst` (rows × cols) = 2γ x_i·x_j, or the exact integers 2 (p_i − 128)·(p_j − 128).
    /// `lhs` holds the rows' examples (rows × D) and `rhs` the columns' (D × cols), both as x
    /// (float64) and as their [`Distances::operand`] (float32).
    #[allow(clippy::too_many_arguments)]
    fn dots(
        &self,
        mut dst: MatMut<'_, f64>,
        lhs: MatRef<'_, f64>,
        rhs: MatRef<'_, f64>,
        lhs32: MatRef<'_, f32>,
        rhs32: MatRef<'_, f32>,
        scratch: &mut Vec<f32>,
        par: Par,
    ) {
        if let Distances::Float { gamma } = *self {
            matmul(dst, Accum::Replace, lhs, rhs, 2.0 * gamma, par);
            return;
        }
        let (rows, cols, d) = (dst.nrows(), dst.ncols(), lhs32.ncols());
        let chunks = d.div_ceil(EXACT_CHUNK).max(1);
        let chunk = d.div_ceil(chunks).max(1);
        scratch.resize(rows * EXACT_TILE.min(cols).max(1), 0.0);
        let mut c0 = 0;
        while c0 < cols {
            let tw = EXACT_TILE.min(cols - c0);
            let mut tile = dst.rb_mut().subcols_mut(c0, tw);
            // The scratch takes the tile's layout, so that the additions run along memory.
            let column_major = tile.row_stride() == 1;
            for (k, k0) in (0..d).step_by(chunk).enumerate() {
                let kw = chunk.min(d - k0);
                let mut part = if column_major {
                    MatMut::from_column_major_slice_mut(&mut scratch[..rows * tw], rows, tw)
                } else {
                    MatMut::from_row_major_slice_mut(&mut scratch[..rows * tw], rows, tw)
                };
                matmul(
                    part.rb_mut(),
                    Accum::Replace,
                    lhs32.subcols(k0, kw),
                    rhs32.subrows(k0, kw).subcols(c0, tw),
                    1.0f32,
                    par,
                );
                if k == 0 {
                    faer::zip!(tile.rb_mut(), part.rb())
                        .for_each(|faer::unzip!(t, p)| *t = 2.0 * f64::from(*p));
                } else {
                    faer::zip!(tile.rb_mut(), part.rb())
                        .for_each(|faer::unzip!(t, p)| *t += 2.0 * f64::from(*p));
                }
            }
            c0 += tw;
        }
    }
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
    let how = Distances::of(x, x, gamma);
    let g = how.norms(x);
    let scale = how.scale();
    let x32 = how.operand(x);
    let all = MatRef::from_row_major_slice(&x.x, n, d);
    let all32 = MatRef::from_row_major_slice(&x32, if x32.is_empty() { 0 } else { n }, d);
    let mut scratch = Vec::new();
    let width = panel_width(n);
    let mut j0 = 0;
    while j0 < n {
        let j1 = (j0 + width).min(n);
        let w = j1 - j0;
        let rows = n - j0;
        // Rows j0..n of columns j0..j1: 2γ X[j0..] X[j0..j1]ᵀ (or the centered integers' 2 P[j0..] P[j0..j1]ᵀ).
        let panel =
            MatMut::from_column_major_slice_with_stride_mut(&mut k[j0 * n + j0..], rows, w, n);
        let (lhs32, rhs32) = if x32.is_empty() {
            (all32, all32.transpose())
        } else {
            (
                all32.subrows(j0, rows),
                MatRef::from_column_major_slice(&x32[j0 * d..j1 * d], d, w),
            )
        };
        how.dots(
            panel,
            all.subrows(j0, rows),
            MatRef::from_column_major_slice(&x.x[j0 * d..j1 * d], d, w),
            lhs32,
            rhs32,
            &mut scratch,
            par,
        );
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
                    *v = ((*v - gi - gj) * scale).min(0.0).exp();
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
    let how = Distances::of(query, train, gamma);
    let (gq, gx) = (how.norms(query), how.norms(train));
    let scale = how.scale();
    let (q32, x32) = (how.operand(query), how.operand(train));
    let xt = MatRef::from_column_major_slice(&train.x, d, n);
    let xt32 = MatRef::from_column_major_slice(
        &x32,
        if x32.is_empty() { 0 } else { d },
        if x32.is_empty() { 0 } else { n },
    );
    let a = MatRef::from_column_major_slice(alpha, n, classes);
    let mut out = vec![0.0f64; m * classes];
    let mut block = vec![0.0f64; PREDICT_BLOCK.min(m.max(1)) * n];
    let mut scratch = Vec::new();
    let mut r0 = 0;
    while r0 < m {
        let r1 = (r0 + PREDICT_BLOCK).min(m);
        let b = r1 - r0;
        let kb = &mut block[..b * n];
        // Row-major b × n: row r is the kernel between query r0 + r and every training example.
        let q = MatRef::from_row_major_slice(&query.x[r0 * d..r1 * d], b, d);
        let q32 = if q32.is_empty() {
            MatRef::from_row_major_slice(&q32, 0, d)
        } else {
            MatRef::from_row_major_slice(&q32[r0 * d..r1 * d], b, d)
        };
        how.dots(
            MatMut::from_row_major_slice_mut(kb, b, n),
            q,
            xt,
            q32,
            xt32,
            &mut scratch,
            par,
        );
        kb.par_chunks_mut(n).enumerate().for_each(|(r, row)| {
            let g = gq[r0 + r];
            for (v, gi) in row.iter_mut().zip(&gx) {
                *v = ((*v - gi - g) * scale).min(0.0).exp();
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
            integer: false,
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
    fn uint8_pixels_give_the_exactly_rounded_kernel_over_several_chunks() {
        // D = 2,500 is three float32 chunks; pixels at the extremes (0 and 255) make the largest
        // products, where a float32 sum that is not exact would be off.
        let (n, d) = (6, 2500);
        let p: Vec<u8> = (0..n * d)
            .map(|i| match (i / d, i % 3) {
                (0, _) => 0,
                (1, _) => 255,
                (_, 0) => 255,
                (r, _) => ((i * 31 + r * 7) % 256) as u8,
            })
            .collect();
        let x = Examples {
            x: p.iter().map(|&v| f64::from(v) / 255.0).collect(),
            d,
            labels: vec![0; n],
            integer: true,
        };
        let gamma = 0.01;
        let exact = |i: usize, j: usize| -> f64 {
            let d2: i64 = (0..d)
                .map(|k| (i64::from(p[i * d + k]) - i64::from(p[j * d + k])).pow(2))
                .sum();
            (-(d2 as f64) * (gamma / (255.0 * 255.0))).exp()
        };
        let k = build(&x, gamma, 0.0, Par::Seq);
        for j in 0..n {
            for i in j..n {
                assert_eq!(k[j * n + i], exact(i, j), "K[{i},{j}]");
            }
        }
        // Predictions use the same exact kernel rows.
        let alpha: Vec<f64> = (0..n).map(|i| if i == 2 { 1.0 } else { 0.0 }).collect();
        let f = predict(&x, &x, &alpha, gamma, Par::Seq);
        for (i, fi) in f.iter().enumerate() {
            assert_eq!(*fi, exact(i, 2), "f({i})");
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
