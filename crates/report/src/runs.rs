//! Reading one `train` run directory through `rethink-runs` (the schema's owner) into what the
//! report needs, tolerating a run that is still in progress (no summary, a torn last JSONL line).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use rethink_runs::{
    CONFIG_FILE, Config, EvalRecord, METRICS_FILE, SUMMARY_FILE, Summary, TrainRecord,
};
use serde_json::Value;

pub use rethink_runs::{Corruption, Pixels, fmt_num};

/// A run directory, read.
#[derive(Debug, Clone)]
pub struct Run {
    /// The run directory as given on the command line.
    pub dir: PathBuf,
    /// The directory's last component (`runs/mlp-s1/` → `mlp-s1`).
    pub name: String,
    /// `config.json`, typed.
    pub config: Config,
    /// `config.json` as written, for grouping by whatever differs between runs.
    pub config_json: Value,
    /// The model name (`mlp-1x512`, `inception-small`, ...).
    pub model: String,
    /// The dataset's name from its meta (`cifar10`, `fashion-mnist`, ...).
    pub dataset: String,
    /// What the data tools did to labels and pixels, from the dataset's history.
    pub corruption: Corruption,
    /// `augment`, sorted.
    pub augment: Vec<String>,
    /// The weight decay coefficient (0: none).
    pub weight_decay: f64,
    /// The dropout probability (0: none).
    pub dropout: f64,
    /// Whether the model was built with BatchNorm; `None` when config.json does not say.
    pub batchnorm: Option<bool>,
    /// The `eval` lines of metrics.jsonl, in order.
    pub evals: Vec<EvalRecord>,
    /// The `train` lines of metrics.jsonl (training loss every k steps), in order.
    pub train_points: Vec<TrainRecord>,
    /// `summary.json`, once the run has finished.
    pub summary: Option<Summary>,
    /// The last metrics line was torn (the run is being written).
    pub truncated: bool,
}

impl Run {
    /// Still training: no `summary.json` yet.
    pub fn in_progress(&self) -> bool {
        self.summary.is_none()
    }

    /// Written with schema 1 or later: `train_acc_corrupted` is over the labels that differ from
    /// the clean label (before: over the redrawn ones).
    pub fn schema_1(&self) -> bool {
        self.config.schema_version >= 1
    }

    fn summary_final(&self) -> Option<&rethink_runs::Final> {
        self.summary.as_ref().and_then(|s| s.final_.as_ref())
    }

    /// Final train/test accuracy (fractions): from the summary, else the last evaluation so far.
    pub fn final_accuracy(&self) -> (Option<f64>, Option<f64>) {
        if let Some(f) = self.summary_final()
            && (f.train_acc.is_some() || f.test_acc.is_some())
        {
            return (f.train_acc, f.test_acc);
        }
        match self.evals.last() {
            Some(e) => (Some(e.train_acc), e.test_acc),
            None => (None, None),
        }
    }

    /// Final train/test top-5 accuracy (fractions), where the run recorded it.
    pub fn final_top5(&self) -> (Option<f64>, Option<f64>) {
        if let Some(f) = self.summary_final()
            && (f.train_top5.is_some() || f.test_top5.is_some())
        {
            return (f.train_top5, f.test_top5);
        }
        match self.evals.last() {
            Some(e) => (e.train_top5, e.test_top5),
            None => (None, None),
        }
    }

    /// Training examples whose label differs from the clean label, and those whose label was
    /// redrawn: from the summary, else from the fractions `corrupt` recorded.
    pub fn corruption_counts(&self) -> (Option<usize>, Option<usize>) {
        let from_fraction = |f: Option<f64>| {
            f.filter(|_| self.config.train_size > 0)
                .map(|f| (f * self.config.train_size as f64).round() as usize)
        };
        let summary = self.summary.as_ref();
        (
            summary
                .and_then(|s| s.corrupted_count)
                .or_else(|| from_fraction(self.corruption.labels_changed())),
            summary
                .and_then(|s| s.redrawn_count)
                .or_else(|| from_fraction(self.corruption.labels_redrawn())),
        )
    }

    /// Steps and epochs until the training accuracy first reached `threshold`, `None` if it never did.
    /// The summary's own count is used when it has this threshold; otherwise the evaluations decide.
    pub fn time_to_fit(&self, threshold: f64) -> (Option<u64>, Option<f64>) {
        if let Some(t) = self.summary.as_ref().and_then(|s| s.time_to_fit(threshold)) {
            return t;
        }
        self.evals
            .iter()
            .find(|e| e.train_acc >= threshold - 1e-9)
            .map(|e| (Some(e.step), Some(e.epoch)))
            .unwrap_or((None, None))
    }

    /// The training-loss curve: the per-k-steps `train` lines (the mini-batches' mean loss), or
    /// the evaluations' `train_loss` (the whole training set's) where those are more points: a
    /// small training set evaluated every epoch has far more evaluations than `train` lines
    /// (one per `--log-every` steps), and they start at step 0.
    pub fn loss_curve(&self) -> Vec<(u64, f64)> {
        if !self.train_points.is_empty() && self.train_points.len() >= self.evals.len() {
            return self.train_points.iter().map(|p| (p.step, p.loss)).collect();
        }
        self.evals.iter().map(|e| (e.step, e.train_loss)).collect()
    }
}

/// Reads `dir`. A torn last metrics line is dropped (and flagged); any other bad line is an error.
pub fn read_run(dir: &Path) -> Result<Run> {
    if !dir.is_dir() {
        bail!("{}: not a directory", dir.display());
    }
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string());

    let config_path = dir.join(CONFIG_FILE);
    let config_text = fs::read_to_string(&config_path).with_context(|| {
        format!(
            "{}: cannot read (is this a train run directory?)",
            config_path.display()
        )
    })?;
    let config_json: Value = serde_json::from_str(&config_text)
        .with_context(|| format!("{}: not valid JSON", config_path.display()))?;
    if !config_json.is_object() {
        bail!("{}: expected a JSON object", config_path.display());
    }
    let config: Config = serde_json::from_value(config_json.clone())
        .with_context(|| format!("{}: not a run config", config_path.display()))?;
    if config.model.is_empty() {
        bail!("{}: no \"model\" string", config_path.display());
    }
    let dataset = config
        .dataset_name()
        .map(str::to_string)
        .or_else(|| {
            Path::new(&config.data)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| "unknown".to_string());
    let corruption = config
        .corruption()
        .with_context(|| format!("{}: dataset.corruption", config_path.display()))?
        .unwrap_or_default();
    let mut augment = config.augment.clone();
    augment.sort();
    let batchnorm = config_json.get("batchnorm").and_then(Value::as_bool);

    let metrics_path = dir.join(METRICS_FILE);
    if !metrics_path.is_file() {
        bail!(
            "{}: cannot read: a run needs its metrics (has training started?)",
            metrics_path.display()
        );
    }
    let metrics = rethink_runs::read_metrics(&metrics_path)?;

    let summary_path = dir.join(SUMMARY_FILE);
    let summary = if summary_path.exists() {
        Some(Summary::read(&summary_path)?)
    } else {
        None
    };

    Ok(Run {
        dir: dir.to_path_buf(),
        name,
        model: config.model.clone(),
        weight_decay: config.weight_decay,
        dropout: config.dropout,
        config,
        config_json,
        dataset,
        corruption,
        augment,
        batchnorm,
        evals: metrics.evals,
        train_points: metrics.train,
        summary,
        truncated: metrics.torn,
    })
}
