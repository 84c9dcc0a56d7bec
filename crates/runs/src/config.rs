//! `config.json`: the resolved configuration of a run, every default filled in, saved before
//! training starts so that a run folder says what produced it.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Corruption;

/// `config.json`. Field by field in the crate's README.
///
/// Reading is lenient: a field missing from a file written by an older `train` takes its
/// default (`schema_version` 0, `precision` "f32", empty lists, `None`, 0).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Config {
    /// [`crate::SCHEMA_VERSION`] of the writer; 0 when the file predates the field.
    pub schema_version: u32,
    /// Model name as given to `--model` ("mlp-1x512", "inception-small", ...).
    pub model: String,
    /// The training data path as given.
    pub data: String,
    /// `blake3:<hex>` of the training data file.
    pub data_digest: Option<String>,
    /// A separate test data path, when the test split came from another file.
    pub test_data: Option<String>,
    /// `blake3:<hex>` of `test_data`.
    pub test_data_digest: Option<String>,
    /// The dataset file's meta as written by the data tools: `name`, `classes`, `history`,
    /// `corruption` (see [`Config::corruption`]) and whatever else the meta holds.
    pub dataset: Value,
    /// Model input, height × width × channels, after cropping.
    pub input_shape: [usize; 3],
    /// Stored image shape, height × width × channels.
    pub image_shape: [usize; 3],
    /// Center/random crop size, `None` when images are used whole.
    pub crop: Option<usize>,
    /// Zero padding on each side before random crops (the CIFAR convention), `None` for none.
    pub pad: Option<usize>,
    /// Number of classes.
    pub num_classes: usize,
    /// Training examples.
    pub train_size: usize,
    /// Test examples (0 without a test split).
    pub test_size: usize,
    /// Trainable parameters of the model.
    pub parameters: usize,
    /// Stop after this many epochs.
    pub epochs: Option<u64>,
    /// Stop after this many steps.
    pub max_steps: Option<u64>,
    /// Stop at the first evaluation whose training accuracy reaches this fraction.
    pub until_train_acc: Option<f64>,
    /// Examples per SGD step.
    pub batch_size: usize,
    /// Steps in one epoch (the last partial batch included).
    pub steps_per_epoch: u64,
    /// Initial learning rate.
    pub lr: f64,
    /// Factor applied to the learning rate after every epoch.
    pub lr_decay: f64,
    /// SGD momentum.
    pub momentum: f64,
    /// Weight decay (L2) coefficient, applied to the parameters in `weight_decay_params`.
    pub weight_decay: f64,
    /// Names of the parameters weight decay was applied to (conv and linear weights only).
    pub weight_decay_params: Vec<String>,
    /// Dropout probability.
    pub dropout: f64,
    /// Data augmentations: "crop" (random crop), "flip" (horizontal flip), "rrc" (random
    /// resized crop).
    pub augment: Vec<String>,
    /// Whether models that have BatchNorm use it.
    pub batchnorm: bool,
    /// The training seed.
    pub seed: u64,
    /// "cpu", "cuda:0", ...
    pub device: String,
    /// CPU threads.
    pub threads: usize,
    /// Numeric precision of the forward/backward pass: "f32" or "bf16" (mixed, f32 master weights).
    #[serde(default = "f32_name")]
    pub precision: String,
    /// Evaluate every this many epochs (fractions allowed).
    pub eval_every: f64,
    /// Whether every evaluation also recorded each training example's correctness, loss and
    /// margin in `per_example.npz` (`train --per-example`). Absent (false) otherwise.
    #[serde(default, skip_serializing_if = "is_false")]
    pub per_example: bool,
    /// The step at which `per_example.npz` records the EL2N score of every training example.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub el2n_step: Option<u64>,
    /// Training metrics scored on this many training examples, a fixed subset drawn once from the
    /// training set's size (`train --eval-train-subset`: the same examples for every seed);
    /// absent when every training example is scored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_train_subset: Option<usize>,
    /// Log the training loss every this many steps.
    pub log_every: u64,
    /// The burn backend that ran the model.
    pub backend: String,
    /// Version of the writing tool.
    pub version: String,
}

fn is_false(b: &bool) -> bool {
    !b
}

fn f32_name() -> String {
    "f32".to_string()
}

impl Default for Config {
    fn default() -> Config {
        Config {
            schema_version: 0,
            model: String::new(),
            data: String::new(),
            data_digest: None,
            test_data: None,
            test_data_digest: None,
            dataset: Value::Null,
            input_shape: [0; 3],
            image_shape: [0; 3],
            crop: None,
            pad: None,
            num_classes: 0,
            train_size: 0,
            test_size: 0,
            parameters: 0,
            epochs: None,
            max_steps: None,
            until_train_acc: None,
            batch_size: 0,
            steps_per_epoch: 0,
            lr: 0.0,
            lr_decay: 1.0,
            momentum: 0.0,
            weight_decay: 0.0,
            weight_decay_params: Vec::new(),
            dropout: 0.0,
            augment: Vec::new(),
            batchnorm: true,
            seed: 0,
            device: String::new(),
            threads: 0,
            precision: f32_name(),
            eval_every: 1.0,
            per_example: false,
            el2n_step: None,
            eval_train_subset: None,
            log_every: 0,
            backend: String::new(),
            version: String::new(),
        }
    }
}

impl Config {
    /// Reads `config.json`.
    pub fn read(path: &Path) -> anyhow::Result<Config> {
        crate::read_json(path)
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

    /// The fields a resumed run must share with the run it continues: everything that changes the
    /// trajectory. Stopping criteria, device, threads, logging and provenance may differ.
    pub fn trajectory(&self) -> Value {
        let mut v = serde_json::to_value(self).expect("config serializes");
        let map = v.as_object_mut().expect("object");
        for key in [
            "schema_version",
            "epochs",
            "max_steps",
            "until_train_acc",
            "device",
            "threads",
            "eval_every",
            "log_every",
            "version",
            "data",
            "test_data",
        ] {
            map.remove(key);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_config_from_before_schema_1_reads_with_defaults() {
        let old = json!({"model": "mlp-1x512", "data": "d.npz", "dataset": {"name": "cifar10",
            "corruption": {"labels": 0.2}}, "lr": 0.01, "augment": ["crop"], "batchnorm": false});
        let c: Config = serde_json::from_value(old).unwrap();
        assert_eq!(c.schema_version, 0);
        assert_eq!(c.precision, "f32");
        assert_eq!(c.pad, None);
        assert!(c.weight_decay_params.is_empty());
        assert!(!c.batchnorm);
        assert_eq!(c.dataset_name(), Some("cifar10"));
        assert_eq!(c.corruption().unwrap().unwrap().labels, 0.2);
    }

    #[test]
    fn round_trip_and_trajectory() {
        let c = Config {
            schema_version: crate::SCHEMA_VERSION,
            model: "inception-small".into(),
            pad: Some(4),
            augment: vec!["crop".into(), "rrc".into()],
            weight_decay_params: vec!["conv1.weight".into()],
            precision: "bf16".into(),
            device: "cuda:0".into(),
            ..Config::default()
        };
        let text = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Config>(&text).unwrap(), c);
        let t = c.trajectory();
        assert!(t.get("device").is_none() && t.get("schema_version").is_none());
        assert_eq!(t["pad"], json!(4));
        assert_eq!(t["precision"], json!("bf16"));
    }
}
