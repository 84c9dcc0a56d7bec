//! Run folders in the format `train` writes (config.json, metrics.jsonl, summary.json), with
//! exactly the numbers a test gives, for the tests of the tools that read them (`report`).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// One fixture run: the numbers it reports are exactly the ones given here.
#[derive(Clone)]
pub struct Fixture {
    /// The folder's name under the directory it is written into.
    pub name: String,
    /// `train --model` (`mlp-1x512`, `inception-small`, ...).
    pub model: String,
    /// The dataset's name (default `cifar10`).
    pub dataset: String,
    /// `None` = true data; else (label corruption p, pixels kind).
    pub corruption: Option<(f64, Option<&'static str>)>,
    /// `train --augment` kinds.
    pub augment: Vec<&'static str>,
    /// `train --weight-decay`.
    pub weight_decay: f64,
    /// `train --seed`, also written into the dataset's history.
    pub seed: u64,
    /// (step, train_acc, test_acc), fractions.
    pub evals: Vec<(u64, f64, f64)>,
    /// (step, training loss) `train` lines.
    pub losses: Vec<(u64, f64)>,
    /// Per eval: (accuracy on the clean subset, on the corrupted subset).
    pub subsets: Option<Vec<(f64, f64)>>,
    /// Has a summary.json (false: a run still in progress).
    pub finished: bool,
    /// `schema_version` to write (`None`: a folder from before schema 1, without the new fields).
    pub schema: Option<u32>,
    /// Per eval: (train top-5, test top-5).
    pub top5: Option<Vec<(f64, f64)>>,
    /// Per eval: accuracy on the redrawn subset (schema 1).
    pub redrawn: Option<Vec<f64>>,
    /// summary.json's (corrupted_count, redrawn_count).
    pub counts: Option<(usize, usize)>,
    /// Built with BatchNorm (config.json's `batchnorm`).
    pub batchnorm: bool,
    /// `train --precision` (written with schema 1 only; default "f32").
    pub precision: &'static str,
    /// config.json values that replace the fixture's own (`lr`, `epochs`, `until_train_acc`).
    pub config: Vec<(&'static str, Value)>,
}

impl Fixture {
    /// A finished run of `model` on true CIFAR-10 labels that fits in 1000 steps (test
    /// accuracy 0.5), seed 1, before schema 1.
    pub fn new(name: &str, model: &str) -> Fixture {
        Fixture {
            name: name.to_string(),
            model: model.to_string(),
            dataset: "cifar10".to_string(),
            corruption: None,
            augment: vec![],
            weight_decay: 0.0,
            seed: 1,
            evals: vec![(0, 0.1, 0.1), (500, 0.6, 0.4), (1000, 1.0, 0.5)],
            losses: vec![(0, 2.3), (250, 1.5), (500, 0.9), (750, 0.4), (1000, 0.05)],
            subsets: None,
            finished: true,
            schema: None,
            top5: None,
            redrawn: None,
            counts: None,
            batchnorm: true,
            precision: "f32",
            config: Vec::new(),
        }
    }

    /// Written with schema `v` (1: the fields of issue 15).
    pub fn schema(mut self, v: u32) -> Self {
        self.schema = Some(v);
        self
    }
    /// Top-5 accuracies per evaluation (train, test); needs a schema.
    pub fn top5(mut self, t: &[(f64, f64)]) -> Self {
        self.top5 = Some(t.to_vec());
        self
    }
    /// Accuracy on the redrawn subset per evaluation; needs a schema.
    pub fn redrawn(mut self, r: &[f64]) -> Self {
        self.redrawn = Some(r.to_vec());
        self
    }
    /// summary.json's corrupted and redrawn counts; needs a schema.
    pub fn counts(mut self, corrupted: usize, redrawn: usize) -> Self {
        self.counts = Some((corrupted, redrawn));
        self
    }
    /// Built without BatchNorm.
    pub fn no_batchnorm(mut self) -> Self {
        self.batchnorm = false;
        self
    }

    /// Trained with `train --precision p` (schema 1).
    pub fn precision(mut self, p: &'static str) -> Self {
        self.precision = p;
        self.schema(1)
    }
    /// Another seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Another dataset name.
    pub fn dataset(mut self, d: &str) -> Self {
        self.dataset = d.to_string();
        self
    }
    /// Labels corrupted with probability `p`.
    pub fn labels(mut self, p: f64) -> Self {
        self.corruption = Some((p, None));
        self
    }
    /// Pixels corrupted: `shuffle`, `random` or `gaussian`.
    pub fn pixels(mut self, kind: &'static str) -> Self {
        self.corruption = Some((0.0, Some(kind)));
        self
    }
    /// Trained with these augmentations.
    pub fn augment(mut self, a: &[&'static str]) -> Self {
        self.augment = a.to_vec();
        self
    }
    /// Trained with weight decay `wd`.
    pub fn weight_decay(mut self, wd: f64) -> Self {
        self.weight_decay = wd;
        self
    }
    /// The evaluations: (step, train accuracy, test accuracy).
    pub fn evals(mut self, e: &[(u64, f64, f64)]) -> Self {
        self.evals = e.to_vec();
        self
    }
    /// The training loss lines: (step, loss).
    pub fn losses(mut self, l: &[(u64, f64)]) -> Self {
        self.losses = l.to_vec();
        self
    }
    /// Per evaluation: accuracy on the clean and on the corrupted subset.
    pub fn subsets(mut self, s: &[(f64, f64)]) -> Self {
        self.subsets = Some(s.to_vec());
        self
    }
    /// Reaches 100% training accuracy at `steps` (halfway: 50%), with test accuracy `test` at
    /// the end and `peak` (≥ `test`) halfway.
    pub fn fits_at(mut self, steps: u64, test: f64, peak: f64) -> Self {
        self.evals = vec![(0, 0.1, 0.1), (steps / 2, 0.5, peak), (steps, 1.0, test)];
        self
    }
    /// Stops at `steps` with training accuracy `train` (< 1: never fitted).
    pub fn stops_at(mut self, steps: u64, train: f64, test: f64) -> Self {
        self.evals = vec![
            (0, 0.1, 0.1),
            (steps / 2, train / 2.0, test),
            (steps, train, test),
        ];
        self
    }
    /// Sets `key` of config.json to `value` (`lr`, `epochs`, `until_train_acc`: null for a
    /// fixed budget).
    pub fn config(mut self, key: &'static str, value: Value) -> Self {
        self.config.push((key, value));
        self
    }
    /// Still training: no summary.json.
    pub fn unfinished(mut self) -> Self {
        self.finished = false;
        self
    }

    fn corruption_json(&self) -> Value {
        match self.corruption {
            None => Value::Null,
            Some((p, pixels)) => json!({ "labels": p, "pixels": pixels }),
        }
    }

    /// Writes `dir/<name>/` and returns its path.
    pub fn write(&self, dir: &Path) -> PathBuf {
        let run = dir.join(&self.name);
        fs::create_dir_all(&run).unwrap();
        let config = json!({
            "model": self.model, "data": format!("data/{}.npz", self.name), "data_digest": format!("blake3:{}", self.seed),
            "test_data": null,
            "dataset": { "name": self.dataset, "classes": [], "history": [{"tool": "corrupt", "seed": self.seed}],
                         "corruption": self.corruption_json() },
            "input_shape": [28, 28, 3], "num_classes": 10, "train_size": 1000, "test_size": 200, "parameters": 1209866,
            "epochs": 10, "max_steps": null, "until_train_acc": 1.0, "batch_size": 128, "lr": 0.01, "lr_decay": 0.95,
            "momentum": 0.9, "weight_decay": self.weight_decay, "dropout": 0.0, "augment": self.augment,
            "batchnorm": self.batchnorm, "seed": self.seed, "device": "cpu", "threads": 2, "eval_every": 1, "version": "0.1.0"
        });
        let mut config = config;
        if let Some(v) = self.schema {
            config["schema_version"] = json!(v);
            config["weight_decay_params"] = json!(["fc1.weight", "fc2.weight"]);
            config["pad"] = Value::Null;
            config["precision"] = json!(self.precision);
        }
        for (k, v) in &self.config {
            config[*k] = v.clone();
        }
        fs::write(
            run.join("config.json"),
            serde_json::to_string_pretty(&config).unwrap(),
        )
        .unwrap();

        let steps_per_epoch = 100.0;
        let mut lines = Vec::new();
        for &(step, loss) in &self.losses {
            lines.push(json!({"kind": "train", "step": step, "epoch": step as f64 / steps_per_epoch, "lr": 0.01,
                              "loss": loss, "wall_s": 0.1}));
        }
        for (i, &(step, train, test)) in self.evals.iter().enumerate() {
            let (clean, corrupted) = match &self.subsets {
                Some(s) => (json!(s[i].0), json!(s[i].1)),
                None => (Value::Null, Value::Null),
            };
            let mut line = json!({"kind": "eval", "step": step, "epoch": step as f64 / steps_per_epoch, "lr": 0.01,
                "train_loss": 1.0, "train_acc": train, "test_loss": 1.0, "test_acc": test,
                "train_acc_corrupted": corrupted, "train_acc_clean": clean, "train_acc_vs_clean_labels": null,
                "images_per_sec": 1000.0, "wall_s": 0.1});
            if self.schema.is_some() {
                let (t5, s5) = self.top5.as_ref().map_or((Value::Null, Value::Null), |t| {
                    (json!(t[i].0), json!(t[i].1))
                });
                line["train_top5"] = t5;
                line["test_top5"] = s5;
                line["train_acc_redrawn"] =
                    self.redrawn.as_ref().map_or(Value::Null, |r| json!(r[i]));
            }
            lines.push(line);
        }
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        fs::write(run.join("metrics.jsonl"), text).unwrap();

        if self.finished {
            let last = *self.evals.last().unwrap();
            // The first evaluation with the highest test accuracy, as `train` records it.
            let best = self.evals.iter().fold((last.0, f64::NEG_INFINITY), |b, e| {
                if e.2 > b.1 { (e.0, e.2) } else { b }
            });
            let mut steps_to = BTreeMap::new();
            let mut epochs_to = BTreeMap::new();
            for t in ["0.5", "0.9", "0.99", "1.0"] {
                let th: f64 = t.parse().unwrap();
                let hit = self.evals.iter().find(|e| e.1 >= th).map(|e| e.0);
                steps_to.insert(t, json!(hit));
                epochs_to.insert(t, json!(hit.map(|s| s as f64 / steps_per_epoch)));
            }
            let mut summary = json!({
                "model": self.model, "dataset": self.dataset, "corruption": self.corruption_json(),
                "steps": last.0, "epochs": last.0 as f64 / steps_per_epoch, "stopped": "until_train_acc",
                "final": {"train_acc": last.1, "test_acc": last.2, "train_loss": 0.01, "test_loss": 2.0,
                          "train_acc_corrupted": null, "train_acc_clean": null},
                "generalization_error": last.1 - last.2, "best_test_acc": best.1, "best_test_step": best.0,
                "steps_to_train_acc": steps_to, "epochs_to_train_acc": epochs_to, "wall_s": 1.0, "parameters": 1209866
            });
            if self.schema.is_some() {
                let i = self.evals.len() - 1;
                summary["schema_version"] = json!(self.schema);
                let (t5, s5) = self.top5.as_ref().map_or((Value::Null, Value::Null), |t| {
                    (json!(t[i].0), json!(t[i].1))
                });
                summary["final"]["train_top5"] = t5;
                summary["final"]["test_top5"] = s5;
                summary["corrupted_count"] = json!(self.counts.map(|c| c.0));
                summary["redrawn_count"] = json!(self.counts.map(|c| c.1));
            }
            fs::write(
                run.join("summary.json"),
                serde_json::to_string_pretty(&summary).unwrap(),
            )
            .unwrap();
        }
        run
    }
}
