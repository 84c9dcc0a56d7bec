//! `metrics.jsonl`: one JSON object per line, the training loss every k steps (`"kind":"train"`)
//! and one record per evaluation (`"kind":"eval"`). Appended line by line while training, so a
//! reader may meet a run still in progress, or one killed mid-write with a torn last line.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A `"kind":"train"` line: the mean training loss since the previous one.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TrainRecord {
    /// SGD steps taken so far.
    pub step: u64,
    /// Epochs so far (`step / steps_per_epoch`).
    pub epoch: f64,
    /// Learning rate of the last step.
    pub lr: f64,
    /// Mean training loss over the steps since the previous record.
    pub loss: f64,
    /// Seconds since training started.
    pub wall_s: f64,
}

/// A `"kind":"eval"` line. Accuracies are fractions in [0, 1].
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EvalRecord {
    /// SGD steps taken so far.
    pub step: u64,
    /// Epochs so far.
    pub epoch: f64,
    /// Learning rate of the last step.
    pub lr: f64,
    /// Mean loss on the whole training set (evaluation mode, no augmentation).
    pub train_loss: f64,
    /// Top-1 accuracy on the training set against the training labels.
    pub train_acc: f64,
    /// Top-5 accuracy on the training set; `None` with five classes or fewer.
    #[serde(default)]
    pub train_top5: Option<f64>,
    /// Mean loss on the test set, `None` without one.
    #[serde(default)]
    pub test_loss: Option<f64>,
    /// Top-1 test accuracy.
    #[serde(default)]
    pub test_acc: Option<f64>,
    /// Top-5 test accuracy; `None` with five classes or fewer.
    #[serde(default)]
    pub test_top5: Option<f64>,
    /// Accuracy on the training examples whose label differs from the clean label, against
    /// their training labels. (Before schema 1: on the examples whose label was redrawn.)
    #[serde(default)]
    pub train_acc_corrupted: Option<f64>,
    /// Accuracy on the training examples whose label equals the clean label. (Before schema 1:
    /// on the examples whose label was not redrawn.)
    #[serde(default)]
    pub train_acc_clean: Option<f64>,
    /// Accuracy on the examples whose label was redrawn (the dataset's `train_corrupted` mask),
    /// against their training labels; about 1/K of them drew their true class again.
    #[serde(default)]
    pub train_acc_redrawn: Option<f64>,
    /// Accuracy on the whole training set against the clean labels.
    #[serde(default)]
    pub train_acc_vs_clean_labels: Option<f64>,
    /// Training images per second since the previous evaluation (evaluation time excluded).
    #[serde(default)]
    pub images_per_sec: Option<f64>,
    /// Seconds since training started.
    pub wall_s: f64,
}

/// One line of `metrics.jsonl`, tagged by its `kind`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind")]
pub enum Record {
    /// `"kind":"train"`.
    #[serde(rename = "train")]
    Train(TrainRecord),
    /// `"kind":"eval"`.
    #[serde(rename = "eval")]
    Eval(EvalRecord),
}

/// The same tagging for borrowed records, so writing does not clone them.
#[derive(Serialize)]
#[serde(tag = "kind")]
enum RecordRef<'a> {
    #[serde(rename = "train")]
    Train(&'a TrainRecord),
    #[serde(rename = "eval")]
    Eval(&'a EvalRecord),
}

/// `metrics.jsonl`, read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metrics {
    /// The `train` records, sorted by step.
    pub train: Vec<TrainRecord>,
    /// The `eval` records, sorted by step.
    pub evals: Vec<EvalRecord>,
    /// The last line was torn (no final newline and not valid JSON): a run killed or still
    /// writing. It was left out.
    pub torn: bool,
}

/// Reads `metrics.jsonl`; see [`parse_metrics`].
pub fn read_metrics(path: &Path) -> Result<Metrics> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    parse_metrics(&text, path)
}

/// Parses the text of `metrics.jsonl` (`path` names it in errors). A torn last line is dropped
/// and flagged; any other bad line is an error naming the line. Records of kinds other than
/// `train` and `eval` (from a newer writer) are skipped.
pub fn parse_metrics(text: &str, path: &Path) -> Result<Metrics> {
    let mut out = Metrics::default();
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
                out.torn = true;
                break;
            }
            Err(e) => bail!("{}: line {}: not valid JSON: {e}", path.display(), i + 1),
        };
        match value.get("kind").and_then(Value::as_str) {
            None => bail!("{}: line {}: no \"kind\"", path.display(), i + 1),
            Some("train" | "eval") => {}
            Some(_) => continue, // newer record kinds are not ours to judge
        }
        let record: Record = serde_json::from_value(value)
            .with_context(|| format!("{}: line {}: bad record", path.display(), i + 1))?;
        match record {
            Record::Train(t) => out.train.push(t),
            Record::Eval(e) => out.evals.push(e),
        }
    }
    out.evals.sort_by_key(|e| e.step);
    out.train.sort_by_key(|t| t.step);
    Ok(out)
}

/// Appends records to `metrics.jsonl`, one flushed line each, and keeps the evaluations for the
/// summary.
pub struct MetricsLog {
    path: PathBuf,
    file: File,
    /// The evaluation records written so far (on resume: those kept).
    pub evals: Vec<EvalRecord>,
}

impl MetricsLog {
    /// Creates (truncates) `path`.
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
    /// uninterrupted one would. A torn line ends the kept part.
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

    fn append(&mut self, record: RecordRef) -> Result<()> {
        let mut line = serde_json::to_string(&record)?;
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .with_context(|| format!("{}: cannot write", self.path.display()))?;
        self.file.flush()?;
        Ok(())
    }

    /// Appends a `train` line.
    pub fn train(&mut self, record: &TrainRecord) -> Result<()> {
        self.append(RecordRef::Train(record))
    }

    /// Appends an `eval` line and keeps the record.
    pub fn eval(&mut self, record: EvalRecord) -> Result<()> {
        self.append(RecordRef::Eval(&record))?;
        self.evals.push(record);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn eval(step: u64, train_acc: f64, test_acc: Option<f64>) -> EvalRecord {
        EvalRecord {
            step,
            epoch: step as f64 / 10.0,
            lr: 0.1,
            train_loss: 1.0,
            train_acc,
            train_top5: None,
            test_loss: test_acc.map(|_| 2.0),
            test_acc,
            test_top5: None,
            train_acc_corrupted: None,
            train_acc_clean: None,
            train_acc_redrawn: None,
            train_acc_vs_clean_labels: None,
            images_per_sec: None,
            wall_s: 0.5,
        }
    }

    #[test]
    fn lines_are_tagged_by_kind_as_before() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        let mut log = MetricsLog::create(&path).unwrap();
        let t = TrainRecord {
            step: 5,
            epoch: 0.5,
            lr: 0.1,
            loss: 2.25,
            wall_s: 1.0,
        };
        log.train(&t).unwrap();
        log.eval(eval(10, 0.5, Some(0.25))).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0],
            r#"{"kind":"train","step":5,"epoch":0.5,"lr":0.1,"loss":2.25,"wall_s":1.0}"#
        );
        assert!(
            lines[1].starts_with(r#"{"kind":"eval","step":10,"#),
            "{}",
            lines[1]
        );
        let m = read_metrics(&path).unwrap();
        assert_eq!(m.train, vec![t]);
        assert_eq!(m.evals, vec![eval(10, 0.5, Some(0.25))]);
        assert!(!m.torn);
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_flagged_a_bad_middle_line_is_an_error() {
        let good = r#"{"kind":"eval","step":0,"epoch":0,"lr":0.1,"train_loss":2,"train_acc":0.1,"wall_s":0}"#;
        let path = Path::new("run/metrics.jsonl");
        let m = parse_metrics(&format!("{good}\n{{\"kind\":\"eval\",\"st"), path).unwrap();
        assert!(m.torn);
        assert_eq!(m.evals.len(), 1);
        assert_eq!(m.evals[0].test_acc, None, "old lines lack the new fields");
        let err = parse_metrics(&format!("{{oops\n{good}\n"), path).unwrap_err();
        assert!(
            format!("{err:#}").contains("metrics.jsonl: line 1"),
            "{err:#}"
        );
        let m = parse_metrics(
            &format!("{{\"kind\":\"weights\",\"step\":3}}\n{good}\n"),
            path,
        )
        .unwrap();
        assert_eq!(
            (m.evals.len(), m.torn),
            (1, false),
            "unknown kinds are skipped"
        );
    }

    #[test]
    fn resume_keeps_what_the_checkpoint_saw() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        let mut log = MetricsLog::create(&path).unwrap();
        for s in [0, 10, 20] {
            log.eval(eval(s, 0.5, None)).unwrap();
        }
        drop(log);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(r#"{"kind":"eval","st"#);
        std::fs::write(&path, text).unwrap();
        // Stopped at 10 by a closing evaluation that is not on the schedule (every 20 steps).
        let mut log = MetricsLog::resume(&path, 10, |s| s % 20 == 0).unwrap();
        assert_eq!(log.evals.iter().map(|e| e.step).collect::<Vec<_>>(), [0]);
        log.eval(eval(20, 0.9, None)).unwrap();
        let m = read_metrics(&path).unwrap();
        assert_eq!(m.evals.iter().map(|e| e.step).collect::<Vec<_>>(), [0, 20]);
        assert!(!m.torn);
    }
}
