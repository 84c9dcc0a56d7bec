//! Reading one `train` run directory (`config.json`, `metrics.jsonl`, `summary.json`) into plain
//! values, tolerating a run that is still in progress (no summary, a torn last JSONL line).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_json::Value;

/// How a run's training set was altered (`config.dataset.corruption`, written by `corrupt`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Corruption {
    /// Probability with which each training label was replaced by a random class (0 = true labels).
    pub labels: f64,
    pub pixels: Pixels,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Pixels {
    #[default]
    None,
    Shuffled,
    Random,
    Gaussian,
}

impl Corruption {
    /// The five curves of the paper's Figure 1a; partially corrupted labels are not one of them.
    pub fn figure1a_kind(&self) -> Option<&'static str> {
        match (self.pixels, self.labels) {
            (Pixels::None, 0.0) => Some("true labels"),
            (Pixels::None, p) if p >= 1.0 => Some("random labels"),
            (Pixels::Shuffled, 0.0) => Some("shuffled pixels"),
            (Pixels::Random, 0.0) => Some("random pixels"),
            (Pixels::Gaussian, 0.0) => Some("Gaussian"),
            _ => None,
        }
    }

    /// Human label for tables and legends: "true labels", "labels p=0.4", "random labels", ...
    pub fn describe(&self) -> String {
        let labels = if self.labels == 0.0 {
            None
        } else if self.labels >= 1.0 {
            Some("random labels".to_string())
        } else {
            Some(format!("labels p={}", fmt_num(self.labels)))
        };
        let pixels = match self.pixels {
            Pixels::None => None,
            Pixels::Shuffled => Some("shuffled pixels"),
            Pixels::Random => Some("random pixels"),
            Pixels::Gaussian => Some("Gaussian"),
        };
        match (pixels, labels) {
            (None, None) => "true labels".to_string(),
            (None, Some(l)) => l,
            (Some(p), None) => p.to_string(),
            (Some(p), Some(l)) => format!("{p} + {l}"),
        }
    }
}

/// Shortest decimal form of a setting (0.4, 0.0005, 1).
pub fn fmt_num(x: f64) -> String {
    let s = format!("{x}");
    if s.len() > 8 { format!("{x:e}") } else { s }
}

/// One `{"kind":"eval",...}` line of `metrics.jsonl`. Accuracies are fractions.
#[derive(Debug, Clone, Deserialize)]
pub struct Eval {
    pub step: u64,
    #[serde(default)]
    pub epoch: Option<f64>,
    #[serde(default)]
    pub train_loss: Option<f64>,
    #[serde(default)]
    pub train_acc: Option<f64>,
    #[serde(default)]
    pub test_acc: Option<f64>,
    #[serde(default)]
    pub train_acc_corrupted: Option<f64>,
    #[serde(default)]
    pub train_acc_clean: Option<f64>,
}

/// One `{"kind":"train",...}` line: the training loss every k steps.
#[derive(Debug, Clone, Deserialize)]
pub struct TrainPoint {
    pub step: u64,
    pub loss: f64,
}

#[derive(Debug, Clone, Deserialize)]
struct LineKind {
    kind: String,
}

/// The parts of `summary.json` the report uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Summary {
    pub steps: Option<u64>,
    pub epochs: Option<f64>,
    pub final_: Option<Final>,
    #[serde(default)]
    pub steps_to_train_acc: BTreeMap<String, Option<u64>>,
    #[serde(default)]
    pub epochs_to_train_acc: BTreeMap<String, Option<f64>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Final {
    pub train_acc: Option<f64>,
    pub test_acc: Option<f64>,
}

/// A run directory, read.
#[derive(Debug, Clone)]
pub struct Run {
    pub dir: PathBuf,
    /// The directory's last component (`runs/mlp-s1/` → `mlp-s1`).
    pub name: String,
    /// `config.json` as written, for grouping by whatever differs between runs.
    pub config: Value,
    pub model: String,
    pub dataset: String,
    pub corruption: Corruption,
    pub augment: Vec<String>,
    pub weight_decay: f64,
    pub dropout: f64,
    pub batchnorm: Option<bool>,
    pub evals: Vec<Eval>,
    pub train_points: Vec<TrainPoint>,
    pub summary: Option<Summary>,
    /// The last metrics line was torn (the run is being written).
    pub truncated: bool,
}

impl Run {
    /// Still training: no `summary.json` yet.
    pub fn in_progress(&self) -> bool {
        self.summary.is_none()
    }

    /// Final train/test accuracy (fractions): from the summary, else the last evaluation so far.
    pub fn final_accuracy(&self) -> (Option<f64>, Option<f64>) {
        if let Some(f) = self.summary.as_ref().and_then(|s| s.final_.as_ref())
            && (f.train_acc.is_some() || f.test_acc.is_some())
        {
            return (f.train_acc, f.test_acc);
        }
        match self.evals.last() {
            Some(e) => (e.train_acc, e.test_acc),
            None => (None, None),
        }
    }

    /// Steps and epochs until the training accuracy first reached `threshold`, `None` if it never did.
    /// The summary's own count is used when it has this threshold; otherwise the evaluations decide.
    pub fn time_to_fit(&self, threshold: f64) -> (Option<u64>, Option<f64>) {
        if let Some(s) = &self.summary {
            let key = s
                .steps_to_train_acc
                .keys()
                .find(|k| k.parse::<f64>().is_ok_and(|v| (v - threshold).abs() < 1e-9))
                .cloned();
            if let Some(key) = key {
                let steps = s.steps_to_train_acc.get(&key).copied().flatten();
                let epochs = s.epochs_to_train_acc.get(&key).copied().flatten();
                return (steps, epochs);
            }
        }
        self.evals
            .iter()
            .find(|e| e.train_acc.is_some_and(|a| a >= threshold - 1e-9))
            .map(|e| (Some(e.step), e.epoch))
            .unwrap_or((None, None))
    }

    /// The training-loss curve: the per-k-steps `train` lines, or the evaluations' `train_loss`.
    pub fn loss_curve(&self) -> Vec<(u64, f64)> {
        if !self.train_points.is_empty() {
            return self.train_points.iter().map(|p| (p.step, p.loss)).collect();
        }
        self.evals
            .iter()
            .filter_map(|e| e.train_loss.map(|l| (e.step, l)))
            .collect()
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

    let config_path = dir.join("config.json");
    let config_text = fs::read_to_string(&config_path).with_context(|| {
        format!(
            "{}: cannot read (is this a train run directory?)",
            config_path.display()
        )
    })?;
    let config: Value = serde_json::from_str(&config_text)
        .with_context(|| format!("{}: not valid JSON", config_path.display()))?;
    if !config.is_object() {
        bail!("{}: expected a JSON object", config_path.display());
    }
    let model = config
        .get("model")
        .and_then(Value::as_str)
        .with_context(|| format!("{}: no \"model\" string", config_path.display()))?
        .to_string();
    let dataset = config
        .pointer("/dataset/name")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            config.get("data").and_then(Value::as_str).and_then(|d| {
                Path::new(d)
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
            })
        })
        .unwrap_or_else(|| "unknown".to_string());
    let corruption = parse_corruption(config.pointer("/dataset/corruption"))
        .with_context(|| format!("{}: dataset.corruption", config_path.display()))?;
    let augment = match config.get("augment") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            let mut v: Vec<String> = items
                .iter()
                .map(|i| i.as_str().map(str::to_string))
                .collect::<Option<_>>()
                .with_context(|| format!("{}: augment: expected strings", config_path.display()))?;
            v.sort();
            v
        }
        Some(Value::String(s)) => vec![s.clone()],
        Some(other) => bail!(
            "{}: augment: expected a list, got {other}",
            config_path.display()
        ),
    };
    let number = |key: &str| -> Result<f64> {
        match config.get(key) {
            None | Some(Value::Null) => Ok(0.0),
            Some(v) => v.as_f64().with_context(|| {
                format!(
                    "{}: {key}: expected a number, got {v}",
                    config_path.display()
                )
            }),
        }
    };
    let weight_decay = number("weight_decay")?;
    let dropout = number("dropout")?;
    let batchnorm = config.get("batchnorm").and_then(Value::as_bool);

    let metrics_path = dir.join("metrics.jsonl");
    let metrics = fs::read_to_string(&metrics_path).with_context(|| {
        format!(
            "{}: cannot read: a run needs its metrics (has training started?)",
            metrics_path.display()
        )
    })?;
    let (evals, train_points, truncated) = parse_metrics(&metrics, &metrics_path)?;

    let summary_path = dir.join("summary.json");
    let summary = if summary_path.exists() {
        let text = fs::read_to_string(&summary_path)
            .with_context(|| format!("{}: cannot read", summary_path.display()))?;
        let v: Value = serde_json::from_str(&text)
            .with_context(|| format!("{}: not valid JSON", summary_path.display()))?;
        Some(parse_summary(v).with_context(|| format!("{}", summary_path.display()))?)
    } else {
        None
    };

    Ok(Run {
        dir: dir.to_path_buf(),
        name,
        config,
        model,
        dataset,
        corruption,
        augment,
        weight_decay,
        dropout,
        batchnorm,
        evals,
        train_points,
        summary,
        truncated,
    })
}

fn parse_summary(mut v: Value) -> Result<Summary> {
    // `final` is a Rust keyword; move it aside before deserializing.
    if let Some(obj) = v.as_object_mut()
        && let Some(f) = obj.remove("final")
    {
        obj.insert("final_".to_string(), f);
    }
    Ok(serde_json::from_value(v)?)
}

fn parse_corruption(v: Option<&Value>) -> Result<Corruption> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(Corruption::default());
    };
    let labels = match v.get("labels") {
        None | Some(Value::Null) => 0.0,
        Some(x) => x
            .as_f64()
            .with_context(|| format!("labels: expected a number, got {x}"))?,
    };
    if !(0.0..=1.0).contains(&labels) {
        bail!("labels: expected a probability in [0, 1], got {labels}");
    }
    let pixels = match v.get("pixels") {
        None | Some(Value::Null) => Pixels::None,
        Some(Value::String(s)) => match s.as_str() {
            "shuffle" | "shuffled" => Pixels::Shuffled,
            "random" => Pixels::Random,
            "gaussian" => Pixels::Gaussian,
            other => bail!("pixels: unknown kind {other:?} (expected shuffle, random or gaussian)"),
        },
        Some(x) => bail!("pixels: expected a string, got {x}"),
    };
    Ok(Corruption { labels, pixels })
}

type Metrics = (Vec<Eval>, Vec<TrainPoint>, bool);

fn parse_metrics(text: &str, path: &Path) -> Result<Metrics> {
    let mut evals = Vec::new();
    let mut train = Vec::new();
    let mut truncated = false;
    let lines: Vec<&str> = text.split('\n').collect();
    let complete_end = text.ends_with('\n');
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let last = i + 1 == lines.len();
        let value: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            // A writer killed or still writing leaves a torn last line without its newline.
            Err(_) if last && !complete_end => {
                truncated = true;
                break;
            }
            Err(e) => bail!("{}: line {}: not valid JSON: {e}", path.display(), i + 1),
        };
        let kind: LineKind = serde_json::from_value(value.clone())
            .with_context(|| format!("{}: line {}: no \"kind\"", path.display(), i + 1))?;
        match kind.kind.as_str() {
            "eval" => evals.push(
                serde_json::from_value::<Eval>(value)
                    .with_context(|| format!("{}: line {}: eval record", path.display(), i + 1))?,
            ),
            "train" => train.push(
                serde_json::from_value::<TrainPoint>(value)
                    .with_context(|| format!("{}: line {}: train record", path.display(), i + 1))?,
            ),
            _ => {} // Newer record kinds are not ours to judge.
        }
    }
    evals.sort_by_key(|e| e.step);
    train.sort_by_key(|t| t.step);
    Ok((evals, train, truncated))
}
