//! Grouping runs by what differs between them: runs whose configs agree on everything but the
//! seed (and where/how they ran) are repeats of one experiment, and are averaged.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::runs::{Corruption, Run, fmt_num};

/// Config keys that do not make a different experiment: seeds, machines, paths, provenance.
/// `dataset` is replaced by its name and corruption (its history holds the corruption seed).
const NOT_THE_EXPERIMENT: &[&str] = &[
    "seed",
    "device",
    "threads",
    "data",
    "data_digest",
    "test_data",
    "version",
    "dataset",
    "parameters",
    "out",
    "resume",
    // Provenance and consequences of other settings (schema 1).
    "schema_version",
    "weight_decay_params",
    // What was recorded, not what was trained (`train --per-example`): a run with per-example
    // records is a seed like one without.
    "per_example",
    "el2n_step",
];

/// Keys added with schema 1, and the value an older config means by leaving them out.
const ADDED_WITH_DEFAULTS: &[(&str, &str)] = &[("precision", "\"f32\""), ("pad", "null")];

/// Keys shown in their own table columns; any other key that differs goes into "settings".
const OWN_COLUMNS: &[&str] = &[
    "model",
    "batchnorm",
    "augment",
    "weight_decay",
    "dropout",
    "precision",
];

/// Runs that are seeds of one experiment.
#[derive(Debug, Clone)]
pub struct Group {
    /// Indices into the run list, in input order.
    pub runs: Vec<usize>,
    /// The dataset's name (`meta.name` of the data file).
    pub dataset: String,
    /// `train --model` as recorded (`mlp-1x512`, `inception-small`, ...).
    pub model: String,
    /// `Some(false)` only for models that have BatchNorm and ran without it.
    pub without_batchnorm: bool,
    /// The randomization of the training data (kind and level; its seed is a seed like others).
    pub corruption: Corruption,
    /// `train --augment` kinds, in order.
    pub augment: Vec<String>,
    /// `train --weight-decay` (0: none).
    pub weight_decay: f64,
    /// `train --dropout` (0: none).
    pub dropout: f64,
    /// `train --precision`: "f32", or "bf16" (mixed precision); runs of different precision are
    /// different experiments.
    pub precision: String,
    /// Other config values that differ between the runs of this report, `key=value`.
    pub settings: Vec<String>,
}

/// Which description parts a legend needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The dataset's name.
    Dataset,
    /// The model (with "w/o BN" where BatchNorm was left out).
    Model,
    /// The randomization: "true labels", "labels 40% random", "shuffled pixels", ...
    Data,
    /// Augmentation, weight decay and dropout.
    Regularizers,
    /// Other differing settings, and the precision when it is not f32.
    Settings,
}

impl Group {
    /// "Inception-small", "Inception-small w/o BN", "MLP 1x512".
    pub fn model_label(&self) -> String {
        let base = model_display(&self.model);
        if self.without_batchnorm {
            format!("{base} w/o BN")
        } else {
            base
        }
    }

    /// What was done to the training data: "true labels", "random labels", "Gaussian pixels".
    pub fn data_label(&self) -> String {
        self.corruption.describe()
    }

    /// "crop+flip, wd 0.0005, dropout 0.5", or "none".
    pub fn regularizers_label(&self) -> String {
        let mut parts = Vec::new();
        if !self.augment.is_empty() {
            parts.push(self.augment.join("+"));
        }
        if self.weight_decay > 0.0 {
            parts.push(format!("wd {}", fmt_num(self.weight_decay)));
        }
        if self.dropout > 0.0 {
            parts.push(format!("dropout {}", fmt_num(self.dropout)));
        }
        if parts.is_empty() {
            "none".to_string()
        } else {
            parts.join(", ")
        }
    }

    /// The config values outside the own columns that differ between the report's runs,
    /// `key=value` joined by spaces ("" when none differ).
    pub fn settings_label(&self) -> String {
        self.settings.join(" ")
    }

    /// The other settings (`key=value`) without those of `keys`: with the stopping keys left
    /// out, what makes a fitted run and a fixed-budget run the same curve.
    pub fn settings_except(&self, keys: &[&str]) -> Vec<String> {
        self.settings
            .iter()
            .filter(|s| !keys.iter().any(|k| s.split('=').next() == Some(*k)))
            .cloned()
            .collect()
    }

    /// [`Group::part`], with the settings in `leave_out` and the unset ones not named (see
    /// [`legend_labels`]).
    pub fn part_without(&self, part: Part, leave_out: &BTreeSet<String>) -> String {
        if part != Part::Settings {
            return self.part(part);
        }
        let settings: Vec<&str> = self
            .settings
            .iter()
            // Unset (`null`) settings say nothing the set ones beside them do not.
            .filter(|s| !leave_out.contains(*s) && !s.ends_with("=null"))
            .map(String::as_str)
            .collect();
        let mut label = settings.join(" ");
        if self.precision != "f32" {
            label = format!("{} {label}", self.precision).trim_end().to_string();
        }
        label
    }

    /// The text of one legend part for this group.
    pub fn part(&self, part: Part) -> String {
        match part {
            Part::Dataset => self.dataset.clone(),
            Part::Model => self.model_label(),
            Part::Data => self.data_label(),
            Part::Regularizers => {
                let r = self.regularizers_label();
                if r == "none" {
                    "no regularizer".to_string()
                } else {
                    r
                }
            }
            Part::Settings => {
                let mut label = self.settings_label();
                if self.precision != "f32" {
                    label = format!("{} {label}", self.precision).trim_end().to_string();
                }
                label
            }
        }
    }
}

/// "mlp-1x512" → "MLP 1x512"; unknown names are shown as written.
pub fn model_display(model: &str) -> String {
    let m = model.to_ascii_lowercase();
    if let Some(rest) = m.strip_prefix("mlp-") {
        return format!("MLP {rest}");
    }
    match m.as_str() {
        "alexnet-small" | "alexnet" => "AlexNet-small".to_string(),
        "inception-small" | "inception" => "Inception-small".to_string(),
        "inception-v3" | "inception_v3" => "Inception V3".to_string(),
        _ if m.starts_with("wrn") => model.to_ascii_uppercase(),
        _ => model.to_string(),
    }
}

/// Models built with BatchNorm, for which `batchnorm: false` is a different model (the paper's
/// "Inception w/o BatchNorm"); for the others the flag means nothing.
pub fn has_batchnorm(model: &str) -> bool {
    let m = model.to_ascii_lowercase();
    m.starts_with("inception") || m.starts_with("wrn") || m.contains("resnet")
}

/// The experiment a run belongs to, as comparable strings.
fn experiment_key(run: &Run) -> BTreeMap<String, String> {
    let mut key = BTreeMap::new();
    if let Value::Object(map) = &run.config_json {
        for (k, v) in map {
            if NOT_THE_EXPERIMENT.contains(&k.as_str()) {
                continue;
            }
            if k == "batchnorm" && !has_batchnorm(&run.model) {
                continue;
            }
            let v = if k == "augment" {
                format!("{:?}", run.augment)
            } else {
                v.to_string()
            };
            key.insert(k.clone(), v);
        }
    }
    for (k, v) in ADDED_WITH_DEFAULTS {
        key.entry(k.to_string()).or_insert_with(|| v.to_string());
    }
    key.insert("dataset.name".into(), run.dataset.clone());
    // Only the kind and level: the corruption's seed is a seed like the others.
    key.insert(
        "dataset.corruption".into(),
        format!("{:?} {:?}", run.corruption.labels, run.corruption.pixels),
    );
    key
}

/// Groups `runs` (stable: groups in order of their first run).
pub fn group_runs(runs: &[Run]) -> Vec<Group> {
    let keys: Vec<BTreeMap<String, String>> = runs.iter().map(experiment_key).collect();

    // Keys outside the own columns whose value is not the same in every run.
    let all_keys: BTreeSet<&String> = keys.iter().flat_map(|k| k.keys()).collect();
    let varying: Vec<&String> = all_keys
        .into_iter()
        .filter(|k| !OWN_COLUMNS.contains(&k.as_str()) && !k.starts_with("dataset."))
        .filter(|k| {
            let values: BTreeSet<Option<&String>> = keys.iter().map(|m| m.get(*k)).collect();
            values.len() > 1
        })
        .collect();

    let mut groups: Vec<Group> = Vec::new();
    let mut index: BTreeMap<&BTreeMap<String, String>, usize> = BTreeMap::new();
    for (i, run) in runs.iter().enumerate() {
        if let Some(&g) = index.get(&keys[i]) {
            groups[g].runs.push(i);
            continue;
        }
        index.insert(&keys[i], groups.len());
        let settings = varying
            .iter()
            .map(|k| {
                let v = keys[i].get(*k).map(String::as_str).unwrap_or("-");
                format!("{k}={}", v.trim_matches('"'))
            })
            .collect();
        groups.push(Group {
            runs: vec![i],
            dataset: run.dataset.clone(),
            model: run.model.clone(),
            without_batchnorm: has_batchnorm(&run.model) && run.batchnorm == Some(false),
            corruption: run.corruption.clone(),
            augment: run.augment.clone(),
            weight_decay: run.weight_decay,
            dropout: run.dropout,
            precision: keys[i]["precision"].trim_matches('"').to_string(),
            settings,
        });
    }
    // Table order: by dataset and model, then true labels, growing label noise, random labels,
    // the pixel randomizations, then regularizers.
    groups.sort_by(|a, b| {
        (&a.dataset, a.model_label(), a.corruption.pixels)
            .cmp(&(&b.dataset, b.model_label(), b.corruption.pixels))
            .then(a.corruption.labels.total_cmp(&b.corruption.labels))
            .then_with(|| {
                (a.regularizers_label(), a.settings_label(), &a.precision).cmp(&(
                    b.regularizers_label(),
                    b.settings_label(),
                    &b.precision,
                ))
            })
    });
    groups
}

/// Legend text for each group: the given parts, skipping those equal across all `groups`
/// (unless listed in `always`), so legends say only what tells the curves apart. Of the other
/// settings (`key=value`), only those that differ between `groups` are named: a learning rate
/// that differs between the report's models but not between one panel's curves is left out.
pub fn legend_labels(groups: &[&Group], parts: &[Part], always: &[Part]) -> Vec<String> {
    let common = common_settings(groups);
    let part = |g: &Group, p: Part| match p {
        Part::Settings => g.part_without(p, &common),
        _ => g.part(p),
    };
    let shown: Vec<Part> = parts
        .iter()
        .copied()
        .filter(|p| {
            always.contains(p)
                || groups
                    .iter()
                    .map(|g| part(g, *p))
                    .collect::<BTreeSet<_>>()
                    .len()
                    > 1
        })
        .collect();
    groups
        .iter()
        .map(|g| {
            let text: Vec<String> = shown
                .iter()
                .map(|p| part(g, *p))
                .filter(|s| !s.is_empty())
                .collect();
            if text.is_empty() {
                g.model_label()
            } else {
                text.join(", ")
            }
        })
        .collect()
}

/// The settings entries (`key=value`) that every one of `groups` has.
pub fn common_settings(groups: &[&Group]) -> BTreeSet<String> {
    let mut common: Option<BTreeSet<String>> = None;
    for g in groups {
        let mine: BTreeSet<String> = g.settings.iter().cloned().collect();
        common = Some(match common {
            None => mine,
            Some(c) => c.intersection(&mine).cloned().collect(),
        });
    }
    common.unwrap_or_default()
}
