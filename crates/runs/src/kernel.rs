//! The run folder of a linear-model run (`kernel-fit`, the paper's Section 5): `config.json` and
//! `summary.json` with `"kind": "kernel"`, no `metrics.jsonl` (there is no training loop to log).
//! Their types live here beside `train`'s, so that `kernel-fit` writes and `report` reads one
//! schema. A `train` folder has no `kind` field and is unchanged by this module.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Corruption;

/// The `kind` of a kernel run's `config.json` and `summary.json`.
pub const KERNEL_KIND: &str = "kernel";

/// Which program wrote a run folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunKind {
    /// `train`: `config.json` without a `kind` (or `"kind": "train"`), `metrics.jsonl`, `summary.json`.
    Train,
    /// `kernel-fit`: `config.json` and `summary.json` with `"kind": "kernel"`.
    Kernel,
}

impl RunKind {
    /// The kind of the run whose `config.json` parsed to `config`.
    pub fn of(config: &Value) -> RunKind {
        match config.get("kind").and_then(Value::as_str) {
            Some(KERNEL_KIND) => RunKind::Kernel,
            _ => RunKind::Train,
        }
    }

    /// The kind of the run folder `dir`: `None` when its `config.json` cannot be read as JSON
    /// (the caller's reader then says why).
    pub fn of_dir(dir: &Path) -> Option<RunKind> {
        let text = std::fs::read_to_string(dir.join(crate::CONFIG_FILE)).ok()?;
        serde_json::from_str::<Value>(&text)
            .ok()
            .map(|v| RunKind::of(&v))
    }
}

/// The linear model: a kernel interpolant or least squares on random features.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Gaussian kernel k(x, y) = exp(−γ‖x − y‖²), α = (K + λI)⁻¹ Y.
    #[default]
    Gaussian,
    /// N random features φ(x), W = Φ⁺ Y (minimum-norm least squares).
    RandomFeatures,
}

impl Method {
    /// The name written to the files: "gaussian", "random-features".
    pub fn name(self) -> &'static str {
        match self {
            Method::Gaussian => "gaussian",
            Method::RandomFeatures => "random-features",
        }
    }
}

/// The random feature map of [`Method::RandomFeatures`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeatureMap {
    /// φ_j(x) = max(0, w_j·x) / √N, w_j ~ N(0, I/D).
    Relu,
    /// φ_j(x) = √(2/N) cos(w_j·x + b_j), w_j ~ N(0, 2γI), b_j ~ U[0, 2π): the Gaussian kernel's
    /// random Fourier features.
    Fourier,
}

impl FeatureMap {
    /// The name written to the files: "relu", "fourier".
    pub fn name(self) -> &'static str {
        match self {
            FeatureMap::Relu => "relu",
            FeatureMap::Fourier => "fourier",
        }
    }
}

/// `config.json` of a kernel run. Field by field in the crate's README.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct KernelConfig {
    /// [`crate::SCHEMA_VERSION`] of the writer.
    pub schema_version: u32,
    /// Always [`KERNEL_KIND`] (absent, as in a `train` config, it reads as "" and is refused).
    #[serde(default)]
    pub kind: String,
    /// The model.
    pub method: Method,
    /// γ of the Gaussian kernel (and of Fourier features).
    pub gamma: Option<f64>,
    /// N, the number of random features.
    pub features: Option<usize>,
    /// The random feature map.
    pub feature_map: Option<FeatureMap>,
    /// λ added to the kernel's diagonal (0: interpolation) or the ridge of random features.
    pub ridge: f64,
    /// Seed of the random features and of the `--max-train` subset.
    pub seed: u64,
    /// `--max-train`: the training set was cut to this many examples (seeded, uniform).
    pub max_train: Option<usize>,
    /// The training data path as given.
    pub data: String,
    /// `blake3:<hex>` of the training data file.
    pub data_digest: Option<String>,
    /// A separate test data path, when the test split came from another file.
    pub test_data: Option<String>,
    /// `blake3:<hex>` of `test_data`.
    pub test_data_digest: Option<String>,
    /// The training data file's meta (`name`, `classes`, `history`, `corruption`, ...).
    pub dataset: Value,
    /// Stored image shape, height × width × channels.
    pub image_shape: [usize; 3],
    /// D: the length of an input vector (h·w·c).
    pub input_dim: usize,
    /// How pixels became input vectors.
    pub scaling: String,
    /// Number of classes (the width of the one-hot targets).
    pub num_classes: usize,
    /// Training examples used (after `--max-train`).
    pub train_size: usize,
    /// Test examples.
    pub test_size: usize,
    /// CPU threads.
    pub threads: usize,
    /// Version of the writing tool.
    pub version: String,
}

impl Default for KernelConfig {
    fn default() -> KernelConfig {
        KernelConfig {
            schema_version: 0,
            kind: KERNEL_KIND.to_string(),
            method: Method::Gaussian,
            gamma: None,
            features: None,
            feature_map: None,
            ridge: 0.0,
            seed: 0,
            max_train: None,
            data: String::new(),
            data_digest: None,
            test_data: None,
            test_data_digest: None,
            dataset: Value::Null,
            image_shape: [0; 3],
            input_dim: 0,
            scaling: String::new(),
            num_classes: 0,
            train_size: 0,
            test_size: 0,
            threads: 0,
            version: String::new(),
        }
    }
}

impl KernelConfig {
    /// Reads `config.json`; refuses a file of another kind.
    pub fn read(path: &Path) -> anyhow::Result<KernelConfig> {
        let c: KernelConfig = crate::read_json(path)?;
        if c.kind != KERNEL_KIND {
            anyhow::bail!(
                "{}: \"kind\" is {:?}, not {KERNEL_KIND:?}",
                path.display(),
                c.kind
            );
        }
        Ok(c)
    }

    /// Writes `config.json` (pretty, keys sorted, atomically).
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        crate::write_json(path, self)
    }

    /// `dataset.name`, if the meta has one.
    pub fn dataset_name(&self) -> Option<&str> {
        self.dataset.get("name").and_then(Value::as_str)
    }

    /// `dataset.corruption`, typed; `None` for an unaltered dataset.
    pub fn corruption(&self) -> Result<Option<Corruption>, serde_json::Error> {
        Corruption::from_value(self.dataset.get("corruption"))
    }
}

/// Seconds spent in each phase of a kernel run.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct KernelTimings {
    /// Reading and scaling the data.
    pub read_s: f64,
    /// Building the kernel matrix K, or the feature matrix Φ.
    pub build_s: f64,
    /// Factorizing and solving (Cholesky, or the SVD).
    pub solve_s: f64,
    /// Predicting the training and test sets (and the condition estimate).
    pub predict_s: f64,
}

/// `summary.json` of a kernel run. Field by field in the crate's README.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct KernelSummary {
    /// [`crate::SCHEMA_VERSION`] of the writer.
    pub schema_version: u32,
    /// Always [`KERNEL_KIND`].
    pub kind: String,
    /// The model.
    pub method: Method,
    /// Dataset name (`config.dataset.name`).
    pub dataset: Option<String>,
    /// `config.dataset.corruption`; `None` for an unaltered dataset.
    pub corruption: Option<Corruption>,
    /// Training examples (of those used) whose label differs from the clean label; `None`
    /// without clean labels.
    pub corrupted_count: Option<usize>,
    /// n: training examples used.
    pub train_size: usize,
    /// Test examples.
    pub test_size: usize,
    /// D: the input dimension.
    pub input_dim: usize,
    /// N: random features (`None` for a kernel).
    pub features: Option<usize>,
    /// N / n (`None` for a kernel).
    pub features_per_example: Option<f64>,
    /// Training accuracy against the training labels.
    pub train_acc: f64,
    /// Test accuracy (test labels are always true).
    pub test_acc: Option<f64>,
    /// Training accuracy against the clean labels (`train_clean_labels`); `None` for a file
    /// without them.
    pub train_acc_vs_clean_labels: Option<f64>,
    /// Training accuracy on the examples whose label differs from the clean label.
    pub train_acc_corrupted: Option<f64>,
    /// ‖K α − Y‖_F (or ‖Φ W − Y‖_F), Y the one-hot training targets.
    pub residual: f64,
    /// `residual` / ‖Y‖_F.
    pub relative_residual: f64,
    /// ‖f‖: the RKHS norm sqrt(trace(αᵀ K α)) of the kernel solution, or the Frobenius norm of
    /// the random-features weights.
    pub norm: f64,
    /// The condition number of K (power iterations through its Cholesky factor) or of Φ
    /// (σ_max / σ_min over the singular values kept).
    pub condition_estimate: Option<f64>,
    /// The numerical rank of Φ (random features).
    pub rank: Option<usize>,
    /// "cholesky" or "svd".
    pub solver: String,
    /// λ added to K's diagonal because the factorization failed without it; `None` when none
    /// was needed.
    pub jitter: Option<f64>,
    /// Bytes of the matrix the solver holds (K, or Φ).
    pub matrix_bytes: u64,
    /// Seconds per phase.
    pub timings: KernelTimings,
    /// Seconds the whole run took.
    pub wall_s: f64,
}

impl KernelSummary {
    /// Reads `summary.json`; refuses a file of another kind.
    pub fn read(path: &Path) -> anyhow::Result<KernelSummary> {
        let s: KernelSummary = crate::read_json(path)?;
        if s.kind != KERNEL_KIND {
            anyhow::bail!(
                "{}: \"kind\" is {:?}, not {KERNEL_KIND:?}",
                path.display(),
                s.kind
            );
        }
        Ok(s)
    }

    /// Writes `summary.json` (pretty, keys sorted, atomically).
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        crate::write_json(path, self)
    }

    /// 1 − train accuracy.
    pub fn train_error(&self) -> f64 {
        1.0 - self.train_acc
    }

    /// 1 − test accuracy.
    pub fn test_error(&self) -> Option<f64> {
        self.test_acc.map(|a| 1.0 - a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kinds_are_told_apart_by_the_kind_field() {
        assert_eq!(RunKind::of(&json!({"model": "mlp-1x512"})), RunKind::Train);
        assert_eq!(RunKind::of(&json!({"kind": "kernel"})), RunKind::Kernel);
        let c = KernelConfig::default();
        assert_eq!(
            RunKind::of(&serde_json::to_value(&c).unwrap()),
            RunKind::Kernel
        );
    }

    #[test]
    fn round_trip_and_names() {
        let dir = tempfile::tempdir().unwrap();
        let c = KernelConfig {
            schema_version: crate::SCHEMA_VERSION,
            method: Method::RandomFeatures,
            features: Some(100),
            feature_map: Some(FeatureMap::Relu),
            dataset: json!({"name": "tiny", "corruption": {"labels": 0.2}}),
            ..KernelConfig::default()
        };
        c.write(&dir.path().join("config.json")).unwrap();
        let back = KernelConfig::read(&dir.path().join("config.json")).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.corruption().unwrap().unwrap().labels, 0.2);
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["method"], json!("random-features"));
        assert_eq!(v["feature_map"], json!("relu"));
        let s = KernelSummary {
            kind: KERNEL_KIND.into(),
            train_acc: 1.0,
            test_acc: Some(0.75),
            ..KernelSummary::default()
        };
        s.write(&dir.path().join("summary.json")).unwrap();
        let back = KernelSummary::read(&dir.path().join("summary.json")).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.test_error(), Some(0.25));
    }

    #[test]
    fn a_train_config_is_not_read_as_a_kernel_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        crate::Config::default().write(&path).unwrap();
        let err = KernelConfig::read(&path).unwrap_err();
        assert!(format!("{err:#}").contains("not \"kernel\""), "{err:#}");
    }
}
