//! What a run reports: `metrics.jsonl` (one JSON object per line: training loss every k steps,
//! and one record per evaluation) and `summary.json` (final numbers, generalization error, steps
//! to reach 50/90/99/100% training accuracy). The schema is shared with `report`.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TrainRecord {
    pub kind: String,
    pub step: u64,
    pub epoch: f64,
    pub lr: f64,
    /// Mean training loss over the steps since the previous record.
    pub loss: f64,
    pub wall_s: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EvalRecord {
    pub kind: String,
    pub step: u64,
    pub epoch: f64,
    pub lr: f64,
    pub train_loss: f64,
    pub train_acc: f64,
    pub test_loss: Option<f64>,
    pub test_acc: Option<f64>,
    /// Accuracy on the training examples whose label was corrupted, against those labels.
    pub train_acc_corrupted: Option<f64>,
    /// Accuracy on the training examples whose label was kept.
    pub train_acc_clean: Option<f64>,
    /// Accuracy on the whole training set against the true labels.
    pub train_acc_vs_clean_labels: Option<f64>,
    /// Training images per second since the previous evaluation (evaluation time excluded).
    pub images_per_sec: Option<f64>,
    pub wall_s: f64,
}

/// The accuracy thresholds of `steps_to_train_acc`.
pub const THRESHOLDS: [(f64, &str); 4] = [(0.5, "0.5"), (0.9, "0.9"), (0.99, "0.99"), (1.0, "1.0")];

/// Appends records to `metrics.jsonl`, one flushed line each.
pub struct MetricsLog {
    path: PathBuf,
    file: File,
    pub evals: Vec<EvalRecord>,
}

impl MetricsLog {
    pub fn create(path: &Path) -> Result<MetricsLog> {
        let file =
            File::create(path).with_context(|| format!("{}: cannot create", path.display()))?;
        Ok(MetricsLog {
            path: path.to_path_buf(),
            file,
            evals: Vec::new(),
        })
    }

    /// Reopens the log of an interrupted run, keeping only the records up to `step` (those the
    /// checkpoint had seen) and, at `step` itself, only an evaluation `on_schedule` (not the
    /// closing evaluation of a run stopped there), so the resumed run appends exactly what an
    /// uninterrupted one would.
    pub fn resume(path: &Path, step: u64, on_schedule: impl Fn(u64) -> bool) -> Result<MetricsLog> {
        let name = path.display().to_string();
        let reader =
            BufReader::new(File::open(path).with_context(|| format!("{name}: cannot open"))?);
        let mut kept = String::new();
        let mut evals = Vec::new();
        for (i, line) in reader.lines().enumerate() {
            let line = line.with_context(|| format!("{name}: cannot read"))?;
            let Ok(value) = serde_json::from_str::<Value>(&line) else {
                break; // a line cut short by the interruption
            };
            let record_step = value
                .get("step")
                .and_then(Value::as_u64)
                .with_context(|| format!("{name}:{}: no step", i + 1))?;
            let is_eval = value.get("kind").and_then(Value::as_str) == Some("eval");
            if record_step > step || (is_eval && record_step == step && !on_schedule(step)) {
                continue;
            }
            if is_eval {
                evals.push(
                    serde_json::from_value(value)
                        .with_context(|| format!("{name}:{}: bad eval record", i + 1))?,
                );
            }
            kept.push_str(&line);
            kept.push('\n');
        }
        rethink_cli::atomic_write(path, |w| Ok(w.write_all(kept.as_bytes())?))?;
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .with_context(|| format!("{name}: cannot append"))?;
        Ok(MetricsLog {
            path: path.to_path_buf(),
            file,
            evals,
        })
    }

    fn append(&mut self, value: &impl Serialize) -> Result<()> {
        let mut line = serde_json::to_string(value)?;
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .with_context(|| format!("{}: cannot write", self.path.display()))?;
        self.file.flush()?;
        Ok(())
    }

    pub fn train(&mut self, record: &TrainRecord) -> Result<()> {
        self.append(record)
    }

    pub fn eval(&mut self, record: EvalRecord) -> Result<()> {
        self.append(&record)?;
        self.evals.push(record);
        Ok(())
    }
}

/// Accuracy of `predictions` against `labels`, optionally only where `mask` equals `keep`.
pub fn accuracy(predictions: &[i64], labels: &[u16], mask: Option<(&[u8], u8)>) -> Option<f64> {
    let (mut right, mut total) = (0usize, 0usize);
    for (i, (&p, &l)) in predictions.iter().zip(labels).enumerate() {
        if let Some((mask, keep)) = mask
            && mask[i] != keep
        {
            continue;
        }
        total += 1;
        right += (p == l as i64) as usize;
    }
    (total > 0).then(|| right as f64 / total as f64)
}

/// `summary.json`, computed from the evaluation records alone.
pub fn summary(config: &crate::Config, evals: &[EvalRecord], stopped: &str, wall_s: f64) -> Value {
    let last = evals.last();
    let final_ = last.map(|e| {
        json!({
            "train_acc": e.train_acc, "test_acc": e.test_acc, "train_loss": e.train_loss, "test_loss": e.test_loss,
            "train_acc_corrupted": e.train_acc_corrupted, "train_acc_clean": e.train_acc_clean,
            "train_acc_vs_clean_labels": e.train_acc_vs_clean_labels,
        })
    });
    let best = evals
        .iter()
        .filter_map(|e| e.test_acc.map(|a| (a, e.step)))
        .fold(None, |best: Option<(f64, u64)>, (a, s)| match best {
            Some((b, _)) if b >= a => best,
            _ => Some((a, s)),
        });
    let reach = |t: f64| evals.iter().find(|e| e.train_acc >= t);
    let mut steps_to = serde_json::Map::new();
    let mut epochs_to = serde_json::Map::new();
    for (t, key) in THRESHOLDS {
        steps_to.insert(
            key.into(),
            reach(t).map(|e| json!(e.step)).unwrap_or(Value::Null),
        );
        epochs_to.insert(
            key.into(),
            reach(t).map(|e| json!(e.epoch)).unwrap_or(Value::Null),
        );
    }
    json!({
        "model": config.model,
        "dataset": config.dataset.get("name"),
        "corruption": config.dataset.get("corruption").cloned().unwrap_or(Value::Null),
        "steps": last.map(|e| e.step),
        "epochs": last.map(|e| e.epoch),
        "stopped": stopped,
        "final": final_,
        "generalization_error": last.and_then(|e| e.test_acc.map(|t| e.train_acc - t)),
        "best_test_acc": best.map(|b| b.0),
        "best_test_step": best.map(|b| b.1),
        "steps_to_train_acc": steps_to,
        "epochs_to_train_acc": epochs_to,
        "wall_s": wall_s,
        "parameters": config.parameters,
    })
}
