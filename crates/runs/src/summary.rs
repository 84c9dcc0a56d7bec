//! `summary.json`: a finished run's final numbers, computed from its evaluation records alone
//! (final accuracies, generalization error, best test accuracy, steps to reach 50/90/99/100%
//! training accuracy). Its absence marks a run still in progress.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Config, Corruption, EvalRecord};

/// The training-accuracy thresholds of `steps_to_train_acc` / `epochs_to_train_acc`, with their
/// keys in those maps.
pub const THRESHOLDS: [(f64, &str); 4] = [(0.5, "0.5"), (0.9, "0.9"), (0.99, "0.99"), (1.0, "1.0")];

/// Why training stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// `--epochs` were done (also the default budget).
    Epochs,
    /// `--max-steps` were done.
    MaxSteps,
    /// An evaluation reached `--until-train-acc`.
    UntilTrainAcc,
}

impl StopReason {
    /// The name written to `summary.json`: "epochs", "max_steps", "until_train_acc".
    pub fn name(self) -> &'static str {
        match self {
            StopReason::Epochs => "epochs",
            StopReason::MaxSteps => "max_steps",
            StopReason::UntilTrainAcc => "until_train_acc",
        }
    }
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `summary.json`. Field by field in the crate's README.
///
/// Reading is lenient like [`Config`]: a field missing from an older file takes its default.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Summary {
    /// [`crate::SCHEMA_VERSION`] of the writer; 0 when the file predates the field.
    pub schema_version: u32,
    /// Model name (`config.model`).
    pub model: String,
    /// Dataset name (`config.dataset.name`).
    pub dataset: Option<String>,
    /// `config.dataset.corruption`; `None` for an unaltered dataset.
    pub corruption: Option<Corruption>,
    /// Training examples whose label differs from the clean label; `None` without clean labels.
    pub corrupted_count: Option<usize>,
    /// Training examples whose label was redrawn (the dataset's `train_corrupted` mask); `None`
    /// without the mask.
    pub redrawn_count: Option<usize>,
    /// Step of the last evaluation.
    pub steps: Option<u64>,
    /// Epoch of the last evaluation.
    pub epochs: Option<f64>,
    /// Why training stopped; `None` only in a file that lacks it.
    pub stopped: Option<StopReason>,
    /// The last evaluation's numbers.
    #[serde(rename = "final")]
    pub final_: Option<Final>,
    /// `final.train_acc − final.test_acc` (fractions), `None` without a test set.
    pub generalization_error: Option<f64>,
    /// The highest test accuracy of any evaluation (what early stopping could have kept).
    pub best_test_acc: Option<f64>,
    /// The step of the first evaluation with `best_test_acc`.
    pub best_test_step: Option<u64>,
    /// For each threshold of [`THRESHOLDS`] (keys "0.5", "0.9", "0.99", "1.0"): the step of the
    /// first evaluation whose training accuracy reached it, `None` if none did.
    pub steps_to_train_acc: BTreeMap<String, Option<u64>>,
    /// The same in epochs.
    pub epochs_to_train_acc: BTreeMap<String, Option<f64>>,
    /// Seconds the run took (its resumed parts added).
    pub wall_s: f64,
    /// Trainable parameters (`config.parameters`).
    pub parameters: usize,
}

/// The last evaluation's numbers in `summary.json` (fractions; see [`EvalRecord`]).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Final {
    /// Top-1 training accuracy.
    pub train_acc: Option<f64>,
    /// Top-1 test accuracy.
    pub test_acc: Option<f64>,
    /// Top-5 training accuracy.
    pub train_top5: Option<f64>,
    /// Top-5 test accuracy.
    pub test_top5: Option<f64>,
    /// Mean training loss.
    pub train_loss: Option<f64>,
    /// Mean test loss.
    pub test_loss: Option<f64>,
    /// Accuracy on the examples whose label differs from the clean label.
    pub train_acc_corrupted: Option<f64>,
    /// Accuracy on the examples whose label equals the clean label.
    pub train_acc_clean: Option<f64>,
    /// Accuracy on the examples whose label was redrawn.
    pub train_acc_redrawn: Option<f64>,
    /// Accuracy on the whole training set against the clean labels.
    pub train_acc_vs_clean_labels: Option<f64>,
}

impl Final {
    fn of(e: &EvalRecord) -> Final {
        Final {
            train_acc: Some(e.train_acc),
            test_acc: e.test_acc,
            train_top5: e.train_top5,
            test_top5: e.test_top5,
            train_loss: Some(e.train_loss),
            test_loss: e.test_loss,
            train_acc_corrupted: e.train_acc_corrupted,
            train_acc_clean: e.train_acc_clean,
            train_acc_redrawn: e.train_acc_redrawn,
            train_acc_vs_clean_labels: e.train_acc_vs_clean_labels,
        }
    }
}

impl Summary {
    /// The summary of a run from its evaluation records (in step order), why it stopped, its
    /// wall time, and the sizes of the corrupted (label ≠ clean label) and redrawn subsets.
    ///
    /// `config.dataset.corruption` is copied typed; one that does not parse is left out (`train`
    /// checks it with [`Config::corruption`] before training).
    pub fn from_evals(
        config: &Config,
        evals: &[EvalRecord],
        stopped: StopReason,
        wall_s: f64,
        corrupted_count: Option<usize>,
        redrawn_count: Option<usize>,
    ) -> Summary {
        let last = evals.last();
        let best = evals
            .iter()
            .filter_map(|e| e.test_acc.map(|a| (a, e.step)))
            .fold(None, |best: Option<(f64, u64)>, (a, s)| match best {
                Some((b, _)) if b >= a => best,
                _ => Some((a, s)),
            });
        let reach = |t: f64| evals.iter().find(|e| e.train_acc >= t);
        let mut steps_to = BTreeMap::new();
        let mut epochs_to = BTreeMap::new();
        for (t, key) in THRESHOLDS {
            steps_to.insert(key.to_string(), reach(t).map(|e| e.step));
            epochs_to.insert(key.to_string(), reach(t).map(|e| e.epoch));
        }
        Summary {
            schema_version: crate::SCHEMA_VERSION,
            model: config.model.clone(),
            dataset: config.dataset_name().map(str::to_string),
            corruption: config.corruption().ok().flatten(),
            corrupted_count,
            redrawn_count,
            steps: last.map(|e| e.step),
            epochs: last.map(|e| e.epoch),
            stopped: Some(stopped),
            final_: last.map(Final::of),
            generalization_error: last.and_then(|e| e.test_acc.map(|t| e.train_acc - t)),
            best_test_acc: best.map(|b| b.0),
            best_test_step: best.map(|b| b.1),
            steps_to_train_acc: steps_to,
            epochs_to_train_acc: epochs_to,
            wall_s,
            parameters: config.parameters,
        }
    }

    /// Reads `summary.json`.
    pub fn read(path: &Path) -> anyhow::Result<Summary> {
        crate::read_json(path)
    }

    /// Writes `summary.json` (pretty, keys sorted, atomically).
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        crate::write_json(path, self)
    }

    /// Steps and epochs until the training accuracy first reached `threshold`, if this summary
    /// has that threshold (`None` if it does not; `Some((None, None))` if never reached).
    pub fn time_to_fit(&self, threshold: f64) -> Option<(Option<u64>, Option<f64>)> {
        let key = self
            .steps_to_train_acc
            .keys()
            .find(|k| k.parse::<f64>().is_ok_and(|v| (v - threshold).abs() < 1e-9))?;
        let steps = self.steps_to_train_acc.get(key).copied().flatten();
        let epochs = self.epochs_to_train_acc.get(key).copied().flatten();
        Some((steps, epochs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn eval(step: u64, train_acc: f64, test_acc: f64) -> EvalRecord {
        EvalRecord {
            step,
            epoch: step as f64 / 10.0,
            lr: 0.1,
            train_loss: 1.0 - train_acc,
            train_acc,
            train_top5: Some(1.0),
            test_loss: Some(2.0),
            test_acc: Some(test_acc),
            test_top5: Some(0.9),
            train_acc_corrupted: Some(0.5),
            train_acc_clean: Some(0.9),
            train_acc_redrawn: Some(0.55),
            train_acc_vs_clean_labels: None,
            images_per_sec: None,
            wall_s: 0.5,
        }
    }

    fn config() -> Config {
        Config {
            schema_version: crate::SCHEMA_VERSION,
            model: "mlp-1x512".into(),
            dataset: json!({"name": "cifar10", "corruption": {"labels": 0.4, "seed": 1}}),
            parameters: 1209866,
            ..Config::default()
        }
    }

    #[test]
    fn from_evals_computes_what_the_untyped_summary_did() {
        let evals = [eval(0, 0.1, 0.1), eval(10, 0.95, 0.6), eval(20, 1.0, 0.55)];
        let s = Summary::from_evals(
            &config(),
            &evals,
            StopReason::UntilTrainAcc,
            3.5,
            Some(36),
            Some(40),
        );
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["schema_version"], json!(1));
        assert_eq!(v["stopped"], json!("until_train_acc"));
        assert_eq!(v["dataset"], json!("cifar10"));
        assert_eq!(
            v["corruption"],
            json!({"labels": 0.4, "pixels": null, "seed": 1})
        );
        assert_eq!(v["steps"], json!(20));
        assert_eq!(v["best_test_acc"], json!(0.6));
        assert_eq!(v["best_test_step"], json!(10));
        assert_eq!(
            v["steps_to_train_acc"],
            json!({"0.5": 10, "0.9": 10, "0.99": 20, "1.0": 20})
        );
        assert_eq!(v["epochs_to_train_acc"]["0.5"], json!(1.0));
        assert!((v["generalization_error"].as_f64().unwrap() - 0.45).abs() < 1e-12);
        assert_eq!(v["final"]["test_top5"], json!(0.9));
        assert_eq!(v["final"]["train_acc_redrawn"], json!(0.55));
        assert_eq!(
            (v["corrupted_count"].clone(), v["redrawn_count"].clone()),
            (json!(36), json!(40))
        );
        assert_eq!(
            serde_json::from_value::<Summary>(v).unwrap(),
            s,
            "round trip"
        );
        assert_eq!(s.time_to_fit(0.99), Some((Some(20), Some(2.0))));
        assert_eq!(s.time_to_fit(0.95), None);
    }

    /// `train`'s untyped summary before schema 1, for the same input: the typed one writes the
    /// same JSON plus the new fields.
    #[test]
    fn the_typed_summary_writes_what_the_untyped_one_did_plus_the_new_fields() {
        let evals = [eval(0, 0.1, 0.1), eval(10, 0.95, 0.6), eval(20, 1.0, 0.55)];
        let config = config();
        let last = &evals[2];
        let old = json!({
            "model": config.model,
            "dataset": config.dataset.get("name"),
            "corruption": config.dataset.get("corruption").cloned().unwrap_or(Value::Null),
            "steps": last.step,
            "epochs": last.epoch,
            "stopped": "epochs",
            "final": {
                "train_acc": last.train_acc, "test_acc": last.test_acc, "train_loss": last.train_loss,
                "test_loss": last.test_loss, "train_acc_corrupted": last.train_acc_corrupted,
                "train_acc_clean": last.train_acc_clean,
                "train_acc_vs_clean_labels": last.train_acc_vs_clean_labels,
            },
            "generalization_error": last.test_acc.map(|t| last.train_acc - t),
            "best_test_acc": 0.6,
            "best_test_step": 10,
            "steps_to_train_acc": {"0.5": 10, "0.9": 10, "0.99": 20, "1.0": 20},
            "epochs_to_train_acc": {"0.5": 1.0, "0.9": 1.0, "0.99": 2.0, "1.0": 2.0},
            "wall_s": 3.5,
            "parameters": config.parameters,
        });
        let typed = Summary::from_evals(&config, &evals, StopReason::Epochs, 3.5, None, None);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.json");
        typed.write(&path).unwrap();
        // Compared as values: serde_json's default float parser may not read back the last bit.
        let mut new = serde_json::to_value(&typed).unwrap();
        let map = new.as_object_mut().unwrap();
        for key in ["schema_version", "corrupted_count", "redrawn_count"] {
            assert!(map.remove(key).is_some(), "{key}");
        }
        let fin = map["final"].as_object_mut().unwrap();
        for key in ["train_top5", "test_top5", "train_acc_redrawn"] {
            assert!(fin.remove(key).is_some(), "{key}");
        }
        // The corruption object gains the `pixels: null` that `corrupt` always writes.
        map["corruption"].as_object_mut().unwrap().remove("pixels");
        assert_eq!(new, old);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.ends_with("}\n") && text.starts_with("{\n  \"best_test_acc\""),
            "{text}"
        );
    }

    #[test]
    fn stop_reasons_keep_their_names() {
        for (r, name) in [
            (StopReason::Epochs, "epochs"),
            (StopReason::MaxSteps, "max_steps"),
            (StopReason::UntilTrainAcc, "until_train_acc"),
        ] {
            assert_eq!(serde_json::to_value(r).unwrap(), Value::from(name));
            assert_eq!(r.to_string(), name);
        }
    }

    #[test]
    fn a_summary_from_before_schema_1_reads() {
        let old = json!({"model": "mlp-1x512", "dataset": "cifar10", "corruption": null, "steps": 800,
            "epochs": 8.0, "stopped": "epochs", "final": {"train_acc": 1.0, "test_acc": 0.5,
            "train_loss": 0.01, "test_loss": 2.0, "train_acc_corrupted": null, "train_acc_clean": null},
            "generalization_error": 0.5, "best_test_acc": 0.5, "best_test_step": 800,
            "steps_to_train_acc": {"0.5": 400, "1.0": 800}, "epochs_to_train_acc": {"0.5": 4.0, "1.0": 8.0},
            "wall_s": 1.0, "parameters": 1209866});
        let s: Summary = serde_json::from_value(old).unwrap();
        assert_eq!(s.schema_version, 0);
        assert_eq!(s.stopped, Some(StopReason::Epochs));
        assert_eq!(s.final_.as_ref().unwrap().test_top5, None);
        assert_eq!((s.corrupted_count, s.redrawn_count), (None, None));
        assert_eq!(s.time_to_fit(1.0), Some((Some(800), Some(8.0))));
    }
}
