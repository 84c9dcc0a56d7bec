//! Test harness: fixture run directories in the format `train` writes, and a runner for the real
//! `report` binary that shows the command, status and stderr when an assertion fails.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

/// One fixture run: the numbers it reports are exactly the ones given here.
#[derive(Clone)]
pub struct Fixture {
    pub name: String,
    pub model: String,
    pub dataset: String,
    /// `None` = true data; else (label corruption p, pixels kind).
    pub corruption: Option<(f64, Option<&'static str>)>,
    pub augment: Vec<&'static str>,
    pub weight_decay: f64,
    pub seed: u64,
    /// (step, train_acc, test_acc), fractions.
    pub evals: Vec<(u64, f64, f64)>,
    /// (step, training loss) `train` lines.
    pub losses: Vec<(u64, f64)>,
    /// Per eval: (accuracy on the clean subset, on the corrupted subset).
    pub subsets: Option<Vec<(f64, f64)>>,
    pub finished: bool,
    /// `schema_version` to write (`None`: a folder from before schema 1, without the new fields).
    pub schema: Option<u32>,
    /// Per eval: (train top-5, test top-5).
    pub top5: Option<Vec<(f64, f64)>>,
    /// Per eval: accuracy on the redrawn subset (schema 1).
    pub redrawn: Option<Vec<f64>>,
    /// summary.json's (corrupted_count, redrawn_count).
    pub counts: Option<(usize, usize)>,
    pub batchnorm: bool,
}

impl Fixture {
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
        }
    }

    /// Written with schema `v` (1: the fields of issue 15).
    pub fn schema(mut self, v: u32) -> Self {
        self.schema = Some(v);
        self
    }
    pub fn top5(mut self, t: &[(f64, f64)]) -> Self {
        self.top5 = Some(t.to_vec());
        self
    }
    pub fn redrawn(mut self, r: &[f64]) -> Self {
        self.redrawn = Some(r.to_vec());
        self
    }
    pub fn counts(mut self, corrupted: usize, redrawn: usize) -> Self {
        self.counts = Some((corrupted, redrawn));
        self
    }
    pub fn no_batchnorm(mut self) -> Self {
        self.batchnorm = false;
        self
    }

    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    pub fn dataset(mut self, d: &str) -> Self {
        self.dataset = d.to_string();
        self
    }
    pub fn labels(mut self, p: f64) -> Self {
        self.corruption = Some((p, None));
        self
    }
    pub fn pixels(mut self, kind: &'static str) -> Self {
        self.corruption = Some((0.0, Some(kind)));
        self
    }
    pub fn augment(mut self, a: &[&'static str]) -> Self {
        self.augment = a.to_vec();
        self
    }
    pub fn weight_decay(mut self, wd: f64) -> Self {
        self.weight_decay = wd;
        self
    }
    pub fn evals(mut self, e: &[(u64, f64, f64)]) -> Self {
        self.evals = e.to_vec();
        self
    }
    pub fn losses(mut self, l: &[(u64, f64)]) -> Self {
        self.losses = l.to_vec();
        self
    }
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
            config["precision"] = json!("f32");
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

/// A finished `report` invocation.
pub struct Run {
    pub cmd: String,
    pub output: Output,
}

impl Run {
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }

    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            code,
            "command: {}\nstatus: {}\nstderr:\n{}",
            self.cmd,
            self.output.status,
            self.stderr()
        );
        self
    }
}

pub fn report(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_report"));
    for a in args {
        cmd.arg(a);
    }
    let text = format!(
        "report {}",
        args.iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    );
    Run {
        cmd: text,
        output: cmd.output().expect("run report"),
    }
}

/// `table.csv` (or any figure CSV) as header-keyed records.
pub fn read_csv(path: &Path) -> Vec<BTreeMap<String, String>> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header = split_csv(lines.next().unwrap());
    lines
        .map(|l| {
            let fields = split_csv(l);
            assert_eq!(
                fields.len(),
                header.len(),
                "{}: ragged line {l:?}",
                path.display()
            );
            header.iter().cloned().zip(fields).collect()
        })
        .collect()
}

fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// The series of a figure CSV: name → points, in file order.
pub fn series(path: &Path) -> Vec<(String, Vec<(f64, f64)>)> {
    let mut out: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for rec in read_csv(path) {
        let point = (rec["x"].parse().unwrap(), rec["y"].parse().unwrap());
        match out.iter_mut().find(|(n, _)| *n == rec["series"]) {
            Some((_, pts)) => pts.push(point),
            None => out.push((rec["series"].clone(), vec![point])),
        }
    }
    out
}

pub fn num(rec: &BTreeMap<String, String>, key: &str) -> f64 {
    rec[key]
        .parse()
        .unwrap_or_else(|_| panic!("{key}: not a number: {:?}", rec[key]))
}

#[track_caller]
pub fn assert_close(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() < 1e-6,
        "expected {expected}, got {actual}"
    );
}
