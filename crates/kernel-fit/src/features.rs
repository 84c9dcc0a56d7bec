//! Random features: N seeded features φ_j(x) and the minimum-norm least-squares weights
//! W = Φ⁺ Y, the cheapest model that shows model-wise double descent.
//!
//! Near N = n the feature matrix Φ (n × N) is nearly singular, and that is where the test-error
//! peak is. Solving the normal equations (ΦᵀΦ or ΦΦᵀ) would square its condition number, and a
//! jitter would flatten the peak; so Φ's thin SVD (faer) gives W = V diag(1/σ) Uᵀ Y over the
//! singular values above σ_max · max(n, N) · ε (numpy's `lstsq` cutoff), for N < n (least
//! squares) and N > n (minimum norm) alike. A ridge λ > 0 uses σ / (σ² + λ) instead.
//!
//! Each feature's weights come from its own ChaCha stream (rethink-rng: purpose
//! "kernel-fit/features", stream j), so the features do not depend on the thread count and the
//! first N features are the same for every larger N.

use anyhow::{Result, anyhow};
use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::matmul::matmul;
use faer::linalg::svd::{self, ComputeSvdVectors};
use faer::{Accum, Mat, MatMut, MatRef, Par};
use rayon::prelude::*;
use rethink_runs::FeatureMap;

use crate::data::Examples;

/// Rows of a prediction block (test features held at once: block × N floats).
pub const PREDICT_BLOCK: usize = 256;

/// The drawn feature map: the D × N weight matrix (column j is w_j) and the N offsets b_j:
/// φ_j(x) = σ(w_j·x + b_j).
pub struct Features {
    /// `relu` or `fourier`.
    pub map: FeatureMap,
    /// D × N, column-major.
    pub w: Vec<f64>,
    /// The offsets: −w_j·x̄ for ReLU features (x̄ the mean training input, so that the features
    /// see centered inputs), the phases b_j ∈ [0, 2π) for Fourier features.
    pub b: Vec<f64>,
    /// D.
    pub d: usize,
    /// N.
    pub n: usize,
}

/// A standard normal from two uniforms (Box–Muller, the cosine half).
fn normal(rng: &mut impl rand::RngCore) -> f64 {
    let u1 = 1.0 - rethink_rng::unit(rng); // in (0, 1]: ln is finite
    let u2 = rethink_rng::unit(rng);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

impl Features {
    /// Draws N features for inputs of dimension D: w_j ~ N(0, I/D) for ReLU, N(0, 2γI) for
    /// Fourier features of the Gaussian kernel exp(−γ‖x − y‖²), b_j ~ U[0, 2π). ReLU features
    /// are centered on `mean`, the mean training input: max(0, w_j·(x − x̄)). On nonnegative
    /// pixels without centering, w_j·x has one sign for most images when the image has little
    /// background, features are then dead or linear, and Φ loses rank below N = n.
    pub fn draw(
        map: FeatureMap,
        d: usize,
        n: usize,
        gamma: f64,
        seed: u64,
        mean: &[f64],
    ) -> Features {
        let std = match map {
            FeatureMap::Relu => (1.0 / d.max(1) as f64).sqrt(),
            FeatureMap::Fourier => (2.0 * gamma).sqrt(),
        };
        let mut w = vec![0.0f64; d * n];
        w.par_chunks_mut(d.max(1)).enumerate().for_each(|(j, col)| {
            let mut rng = rethink_rng::stream(seed, 0, "kernel-fit/features", j as u64);
            col.iter_mut().for_each(|v| *v = std * normal(&mut rng));
        });
        let b = match map {
            FeatureMap::Relu => w
                .par_chunks(d.max(1))
                .map(|col| -col.iter().zip(mean).map(|(a, b)| a * b).sum::<f64>())
                .collect(),
            FeatureMap::Fourier => (0..n)
                .map(|j| {
                    let mut rng = rethink_rng::stream(seed, 0, "kernel-fit/phases", j as u64);
                    std::f64::consts::TAU * rethink_rng::unit(&mut rng)
                })
                .collect(),
        };
        Features { map, w, b, d, n }
    }

    /// Φ of the rows `r0..r1` of `x` into `out`, a (r1 − r0) × N column-major matrix.
    fn map_rows(&self, x: &Examples, r0: usize, r1: usize, out: &mut [f64], par: Par) {
        let rows = r1 - r0;
        let q = MatRef::from_row_major_slice(&x.x[r0 * self.d..r1 * self.d], rows, self.d);
        let w = MatRef::from_column_major_slice(&self.w, self.d, self.n);
        matmul(
            MatMut::from_column_major_slice_mut(out, rows, self.n),
            Accum::Replace,
            q,
            w,
            1.0,
            par,
        );
        let scale = match self.map {
            FeatureMap::Relu => (1.0 / self.n as f64).sqrt(),
            FeatureMap::Fourier => (2.0 / self.n as f64).sqrt(),
        };
        match self.map {
            FeatureMap::Relu => out
                .par_chunks_mut(rows.max(1))
                .zip(&self.b)
                .for_each(|(col, b)| col.iter_mut().for_each(|v| *v = (*v + b).max(0.0) * scale)),
            FeatureMap::Fourier => out
                .par_chunks_mut(rows.max(1))
                .zip(&self.b)
                .for_each(|(col, b)| col.iter_mut().for_each(|v| *v = (*v + b).cos() * scale)),
        }
    }

    /// Φ of every row of `x`: n × N, column-major.
    pub fn map_all(&self, x: &Examples, par: Par) -> Vec<f64> {
        let n = x.len();
        let mut phi = vec![0.0f64; n * self.n];
        self.map_rows(x, 0, n, &mut phi, par);
        phi
    }

    /// Φ(x) W for every row of `x` (m × k, column-major), Φ made [`PREDICT_BLOCK`] rows at a time.
    pub fn predict(&self, x: &Examples, weights: &[f64], par: Par) -> Vec<f64> {
        let m = x.len();
        let classes = weights.len() / self.n.max(1);
        let wk = MatRef::from_column_major_slice(weights, self.n, classes);
        let mut out = vec![0.0f64; m * classes];
        let mut block = vec![0.0f64; PREDICT_BLOCK.min(m.max(1)) * self.n];
        let mut r0 = 0;
        while r0 < m {
            let r1 = (r0 + PREDICT_BLOCK).min(m);
            let b = r1 - r0;
            let phi = &mut block[..b * self.n];
            self.map_rows(x, r0, r1, phi, par);
            let dst =
                MatMut::from_column_major_slice_with_stride_mut(&mut out[r0..], b, classes, m);
            let phi = MatRef::from_column_major_slice(phi, b, self.n);
            matmul(dst, Accum::Replace, phi, wk, 1.0, par);
            r0 = r1;
        }
        out
    }
}

/// The minimum-norm least-squares weights and what the SVD says about Φ.
pub struct Solution {
    /// W: N × k, column-major.
    pub weights: Vec<f64>,
    /// Singular values kept (above the cutoff).
    pub rank: usize,
    /// σ_max / σ_min over the kept singular values.
    pub condition: f64,
}

/// W = Φ⁺ Y (ridge 0) or V diag(σ / (σ² + λ)) Uᵀ Y, with Φ n × N and Y n × k column-major.
pub fn solve(
    phi: &[f64],
    n: usize,
    features: usize,
    y: &[f64],
    ridge: f64,
    par: Par,
) -> Result<Solution> {
    let classes = y.len() / n.max(1);
    let r = n.min(features);
    let a = MatRef::from_column_major_slice(phi, n, features);
    let mut s = Diag::<f64>::zeros(r);
    let mut u = Mat::<f64>::zeros(n, r);
    let mut v = Mat::<f64>::zeros(features, r);
    let mut mem = MemBuffer::new(svd::svd_scratch::<f64>(
        n,
        features,
        ComputeSvdVectors::Thin,
        ComputeSvdVectors::Thin,
        par,
        Default::default(),
    ));
    svd::svd(
        a,
        s.as_mut(),
        Some(u.as_mut()),
        Some(v.as_mut()),
        par,
        MemStack::new(&mut mem),
        Default::default(),
    )
    .map_err(|e| anyhow!("the SVD of the feature matrix did not converge ({e:?})"))?;
    let sv: Vec<f64> = s.column_vector().iter().copied().collect();
    let s_max = sv.iter().copied().fold(0.0f64, f64::max);
    let cutoff = s_max * n.max(features) as f64 * f64::EPSILON;
    let kept: Vec<bool> = sv.iter().map(|&x| x > cutoff).collect();
    let rank = kept.iter().filter(|&&k| k).count();
    let s_min = sv
        .iter()
        .zip(&kept)
        .filter(|(_, k)| **k)
        .map(|(x, _)| *x)
        .fold(f64::INFINITY, f64::min);
    // T = diag(g(σ)) Uᵀ Y (r × k), then W = V T.
    let ym = MatRef::from_column_major_slice(y, n, classes);
    let mut t = Mat::<f64>::zeros(r, classes);
    matmul(
        t.as_mut(),
        Accum::Replace,
        u.as_ref().transpose(),
        ym,
        1.0,
        par,
    );
    for (i, (&sigma, &keep)) in sv.iter().zip(&kept).enumerate() {
        let g = if !keep {
            0.0
        } else if ridge > 0.0 {
            sigma / (sigma * sigma + ridge)
        } else {
            1.0 / sigma
        };
        for c in 0..classes {
            t[(i, c)] *= g;
        }
    }
    let mut weights = vec![0.0f64; features * classes];
    matmul(
        MatMut::from_column_major_slice_mut(&mut weights, features, classes),
        Accum::Replace,
        v.as_ref(),
        t.as_ref(),
        1.0,
        par,
    );
    Ok(Solution {
        weights,
        rank,
        condition: if rank > 0 {
            s_max / s_min
        } else {
            f64::INFINITY
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_are_seeded_and_nested() {
        let mean = [0.5, 0.25, 0.0];
        let a = Features::draw(FeatureMap::Fourier, 3, 5, 0.5, 7, &mean);
        let b = Features::draw(FeatureMap::Fourier, 3, 8, 0.5, 7, &mean);
        assert_eq!(a.w[..], b.w[..15]);
        assert_eq!(a.b[..], b.b[..5]);
        assert_ne!(
            a.w,
            Features::draw(FeatureMap::Fourier, 3, 5, 0.5, 8, &mean).w
        );
        let r = Features::draw(FeatureMap::Relu, 3, 5, 0.0, 7, &mean);
        assert_eq!(
            r.w[..],
            Features::draw(FeatureMap::Relu, 3, 8, 0.0, 7, &mean).w[..15]
        );
        let c = -(0.5 * r.w[0] + 0.25 * r.w[1]);
        assert!(
            (r.b[0] - c).abs() < 1e-15,
            "ReLU features are centered on the mean"
        );
    }

    #[test]
    fn least_squares_and_minimum_norm() {
        // Overdetermined: Φ = [1; 1] (n = 2, N = 1), y = (1, 3): w = 2.
        let s = solve(&[1.0, 1.0], 2, 1, &[1.0, 3.0], 0.0, Par::Seq).unwrap();
        assert!((s.weights[0] - 2.0).abs() < 1e-12);
        // Underdetermined: Φ = [1 1] (n = 1, N = 2), y = 2: the minimum-norm w = (1, 1).
        let s = solve(&[1.0, 1.0], 1, 2, &[2.0], 0.0, Par::Seq).unwrap();
        assert!((s.weights[0] - 1.0).abs() < 1e-12 && (s.weights[1] - 1.0).abs() < 1e-12);
        // Rank-deficient: Φ = [[1, 1], [1, 1]]: rank 1, the pseudo-inverse solution.
        let s = solve(&[1.0, 1.0, 1.0, 1.0], 2, 2, &[2.0, 2.0], 0.0, Par::Seq).unwrap();
        assert_eq!(s.rank, 1);
        assert!((s.weights[0] - 1.0).abs() < 1e-12 && (s.weights[1] - 1.0).abs() < 1e-12);
    }
}
