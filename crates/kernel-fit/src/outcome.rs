//! Fitting the chosen model and turning its predictions into `summary.json`: accuracies (against
//! the training labels, the clean labels, the test labels), the residual ‖f(X) − Y‖, the norm.

use std::time::Instant;

use anyhow::Result;
use faer::Par;
use rethink_runs::{Corruption, KERNEL_KIND, KernelConfig, KernelSummary, KernelTimings};

use crate::data::Examples;
use crate::{Config, Model, features, gaussian};

/// A fitted model's predictions and what the solver reported.
pub struct Fitted {
    /// f(x) on the training set, n × k column-major.
    pub train_pred: Vec<f64>,
    /// f(x) on the test set, m × k column-major.
    pub test_pred: Vec<f64>,
    /// ‖f‖.
    pub norm: f64,
    /// The condition estimate.
    pub condition: Option<f64>,
    /// Rank of Φ (random features).
    pub rank: Option<usize>,
    /// "cholesky" or "svd".
    pub solver: &'static str,
    /// Jitter added to K's diagonal.
    pub jitter: Option<f64>,
    /// Bytes of K or Φ.
    pub matrix_bytes: u64,
    /// Seconds building, solving, predicting.
    pub build_s: f64,
    /// See `build_s`.
    pub solve_s: f64,
    /// See `build_s`.
    pub predict_s: f64,
}

/// Fits `cfg.model` to (x, y) and predicts the training and test sets.
pub fn fit(cfg: &Config, x: &Examples, test: &Examples, y: &[f64], par: Par) -> Result<Fitted> {
    let n = x.len();
    match cfg.model {
        Model::Gaussian { gamma } => {
            let fit = gaussian::fit(x, y, gamma, cfg.ridge, par)?;
            let t = Instant::now();
            let train_pred = gaussian::predict(x, x, &fit.alpha, gamma, par);
            let test_pred = gaussian::predict(test, x, &fit.alpha, gamma, par);
            // ‖f‖² = αᵀ K α with the true K (no ridge or jitter): α · (K α).
            let norm = fit
                .alpha
                .iter()
                .zip(&train_pred)
                .map(|(a, p)| a * p)
                .sum::<f64>()
                .max(0.0)
                .sqrt();
            let condition = gaussian::condition(&fit.factor, n, 30, par);
            Ok(Fitted {
                train_pred,
                test_pred,
                norm,
                condition: Some(condition),
                rank: None,
                solver: "cholesky",
                jitter: fit.jitter,
                matrix_bytes: (n as u64).pow(2) * 8,
                build_s: fit.build_s,
                solve_s: fit.solve_s,
                predict_s: t.elapsed().as_secs_f64(),
            })
        }
        Model::RandomFeatures {
            features: count,
            map,
            gamma,
        } => {
            let t = Instant::now();
            let mean = x.mean();
            let feats = features::Features::draw(map, x.d, count, gamma, cfg.seed, &mean);
            let phi = feats.map_all(x, par);
            let build_s = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let sol = features::solve(&phi, n, count, y, cfg.ridge, par)?;
            let solve_s = t.elapsed().as_secs_f64();
            drop(phi);
            let t = Instant::now();
            let train_pred = feats.predict(x, &sol.weights, par);
            let test_pred = feats.predict(test, &sol.weights, par);
            let norm = sol.weights.iter().map(|w| w * w).sum::<f64>().sqrt();
            Ok(Fitted {
                train_pred,
                test_pred,
                norm,
                condition: Some(sol.condition),
                rank: Some(sol.rank),
                solver: "svd",
                jitter: None,
                matrix_bytes: n as u64 * count as u64 * 8,
                build_s,
                solve_s,
                predict_s: t.elapsed().as_secs_f64(),
            })
        }
    }
}

/// The predicted class of each row of `pred` (m × k column-major): the first largest output.
pub fn argmax(pred: &[f64], m: usize) -> Vec<u16> {
    let k = pred.len() / m.max(1);
    (0..m)
        .map(|i| {
            let mut best = 0;
            for c in 1..k {
                if pred[c * m + i] > pred[best * m + i] {
                    best = c;
                }
            }
            best as u16
        })
        .collect()
}

fn accuracy(pred: &[u16], labels: &[u16]) -> f64 {
    if labels.is_empty() {
        return 0.0;
    }
    pred.iter().zip(labels).filter(|(a, b)| a == b).count() as f64 / labels.len() as f64
}

/// `summary.json` for a fit.
#[allow(clippy::too_many_arguments)]
pub fn summary(
    config: &KernelConfig,
    corruption: Option<Corruption>,
    fitted: &Fitted,
    x: &Examples,
    test: &Examples,
    y: &[f64],
    clean: Option<&[u16]>,
    read_s: f64,
    started: Instant,
) -> KernelSummary {
    let n = x.len();
    let train_classes = argmax(&fitted.train_pred, n);
    let test_classes = argmax(&fitted.test_pred, test.len());
    let residual = fitted
        .train_pred
        .iter()
        .zip(y)
        .map(|(p, t)| (p - t) * (p - t))
        .sum::<f64>()
        .sqrt();
    let y_norm = y.iter().map(|v| v * v).sum::<f64>().sqrt();
    let corrupted: Option<Vec<usize>> =
        clean.map(|c| (0..n).filter(|&i| c[i] != x.labels[i]).collect());
    let train_acc_corrupted = corrupted.as_ref().filter(|c| !c.is_empty()).map(|c| {
        c.iter()
            .filter(|&&i| train_classes[i] == x.labels[i])
            .count() as f64
            / c.len() as f64
    });
    KernelSummary {
        schema_version: rethink_runs::SCHEMA_VERSION,
        kind: KERNEL_KIND.to_string(),
        method: config.method,
        dataset: config.dataset_name().map(str::to_string),
        corruption,
        corrupted_count: corrupted.as_ref().map(Vec::len),
        train_size: n,
        test_size: test.len(),
        input_dim: x.d,
        features: config.features,
        features_per_example: config.features.map(|f| f as f64 / n.max(1) as f64),
        train_acc: accuracy(&train_classes, &x.labels),
        test_acc: (!test.is_empty()).then(|| accuracy(&test_classes, &test.labels)),
        train_acc_vs_clean_labels: clean.map(|c| accuracy(&train_classes, c)),
        train_acc_corrupted,
        residual,
        relative_residual: if y_norm > 0.0 { residual / y_norm } else { 0.0 },
        norm: fitted.norm,
        condition_estimate: fitted.condition,
        rank: fitted.rank,
        solver: fitted.solver.to_string(),
        jitter: fitted.jitter,
        matrix_bytes: fitted.matrix_bytes,
        timings: KernelTimings {
            read_s,
            build_s: fitted.build_s,
            solve_s: fitted.solve_s,
            predict_s: fitted.predict_s,
        },
        wall_s: started.elapsed().as_secs_f64(),
    }
}
