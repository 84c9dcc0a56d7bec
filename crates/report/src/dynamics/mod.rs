//! Per-example learning dynamics (issue 21): which training examples a network fits first, which
//! it keeps forgetting, and which it can only memorize, from the `per_example.npz` that
//! `train --per-example` writes into a run folder. Runs are grouped into conditions as the table
//! groups them (model, data condition, settings; seeds together); for each condition and each
//! subset of examples (all; clean and corrupted where the data file carried clean labels) this
//! module computes the first-fitted step, forgetting events, the unforgettable fraction, the
//! rank agreement of first-fitted steps across seeds (Arpit et al. 2017) and the EL2N scores
//! (Paul et al. 2021): `read` reads the file, `measures` are the per-example measures, `table`
//! sums them up per condition, and `out` writes them: dynamics.csv/.md, the ECDF figure, the
//! index lists of the hardest and easiest examples, and a section of summary.md.

pub mod measures;
pub mod out;
pub mod read;
pub mod table;

use std::collections::BTreeMap;

use anyhow::{Result, bail};

use crate::groups::{Group, Part, legend_labels};
use crate::runs::{Pixels, Run, fmt_num};
use measures::{first_fitted, forgetting_events, unforgettable};
pub use read::{PER_EXAMPLE_FILE, PerExample};
pub use table::{Row, rows};

/// One run's per-example measures.
#[derive(Debug, Clone)]
pub struct RunDynamics {
    /// The run's directory name.
    pub name: String,
    /// The run's training data file (config.json `data`): the examples' order.
    pub data: String,
    /// The step of each evaluation.
    pub steps: Vec<u64>,
    /// Steps in one epoch, when the run says.
    pub steps_per_epoch: Option<f64>,
    /// Per example: the evaluation from which it stays correct (`None`: not correct at the end).
    pub first_fitted: Vec<Option<usize>>,
    /// Per example: correct → incorrect transitions between consecutive evaluations.
    pub forgetting: Vec<usize>,
    /// Per example: learned at some evaluation and never forgotten.
    pub unforgettable: Vec<bool>,
    /// Per example: ever correct at an evaluation.
    pub learned: Vec<bool>,
    /// The labels trained on.
    pub labels: Vec<u16>,
    /// Per example: the training label differs from the clean label, where known.
    pub corrupted: Option<Vec<bool>>,
    /// The EL2N scores and the step they were taken at.
    pub el2n: Option<(u64, Vec<f32>)>,
}

impl RunDynamics {
    /// The measures of `record`, the per-example record of `run`.
    pub fn new(run: &Run, record: &PerExample) -> RunDynamics {
        let histories: Vec<Vec<bool>> = (0..record.n).map(|i| record.history(i)).collect();
        RunDynamics {
            name: run.name.clone(),
            data: run.config.data.clone(),
            steps: record.steps.clone(),
            steps_per_epoch: steps_per_epoch(run),
            first_fitted: histories.iter().map(|h| first_fitted(h)).collect(),
            forgetting: histories.iter().map(|h| forgetting_events(h)).collect(),
            unforgettable: histories.iter().map(|h| unforgettable(h)).collect(),
            learned: histories.iter().map(|h| h.contains(&true)).collect(),
            labels: record.labels.clone(),
            corrupted: record.corrupted.clone(),
            el2n: record.el2n.clone(),
        }
    }

    /// Training examples.
    pub fn n(&self) -> usize {
        self.first_fitted.len()
    }

    /// Each example's first-fitted step; one evaluation interval past the last evaluation for
    /// an example never fitted ("not before the end"), so that it ranks after every fitted one.
    pub fn fitted_steps(&self) -> Vec<f64> {
        let last = *self.steps.last().expect("at least one evaluation");
        let never = (last + self.interval().unwrap_or(1)) as f64;
        self.first_fitted
            .iter()
            .map(|f| f.map_or(never, |e| self.steps[e] as f64))
            .collect()
    }

    /// The most common gap between evaluations, in steps; `None` with one evaluation.
    pub fn interval(&self) -> Option<u64> {
        mode(self.steps.windows(2).map(|w| w[1] - w[0]))
    }

    /// Whether example `i` is in `subset`.
    pub fn in_subset(&self, i: usize, subset: Subset) -> bool {
        match (subset, &self.corrupted) {
            (Subset::All, _) => true,
            (Subset::Clean, Some(c)) => !c[i],
            (Subset::Corrupted, Some(c)) => c[i],
            (_, None) => false,
        }
    }
}

/// Steps per epoch: config.json's, else from an evaluation's step and epoch.
fn steps_per_epoch(run: &Run) -> Option<f64> {
    if run.config.steps_per_epoch > 0 {
        return Some(run.config.steps_per_epoch as f64);
    }
    run.evals
        .iter()
        .find(|e| e.epoch > 0.0 && e.step > 0)
        .map(|e| e.step as f64 / e.epoch)
}

/// The most frequent value (the smallest among equally frequent ones).
fn mode(xs: impl Iterator<Item = u64>) -> Option<u64> {
    let mut counts: BTreeMap<u64, usize> = BTreeMap::new();
    for x in xs {
        *counts.entry(x).or_default() += 1;
    }
    let best = counts.values().copied().max()?;
    counts.into_iter().find(|&(_, c)| c == best).map(|(x, _)| x)
}

/// Which examples a row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subset {
    /// Every training example.
    All,
    /// Examples whose training label is the clean label.
    Clean,
    /// Examples whose training label differs from the clean label (only memorizable).
    Corrupted,
}

impl Subset {
    /// "all", "clean", "corrupted".
    pub fn name(self) -> &'static str {
        match self {
            Subset::All => "all",
            Subset::Clean => "clean",
            Subset::Corrupted => "corrupted",
        }
    }
}

/// The runs of one experiment (seeds of one group) that recorded per-example dynamics.
#[derive(Debug, Clone)]
pub struct Condition {
    /// Index into the report's groups.
    pub group: usize,
    /// Model, as the table shows it.
    pub model: String,
    /// Data condition ("true labels", "labels p=0.4", ...).
    pub data: String,
    /// Regularizers ("none", ...).
    pub regularizers: String,
    /// Other settings that differ between the report's runs.
    pub settings: String,
    /// Dataset name.
    pub dataset: String,
    /// Legend text without the model (the same condition has one color in every panel).
    pub legend: String,
    /// File-name stem of the index lists: `mlp-1x512--labels0.4`, ...
    pub slug: String,
    /// The runs, in the group's order.
    pub runs: Vec<RunDynamics>,
}

impl Condition {
    /// The subsets this condition has: all, and clean and corrupted when every run knows which
    /// labels are corrupted and some are.
    pub fn subsets(&self) -> Vec<Subset> {
        let masked = self.runs.iter().all(|r| r.corrupted.is_some())
            && self
                .runs
                .iter()
                .any(|r| r.corrupted.as_ref().is_some_and(|c| c.contains(&true)));
        if masked {
            vec![Subset::All, Subset::Clean, Subset::Corrupted]
        } else {
            vec![Subset::All]
        }
    }

    /// The typical evaluation interval over the runs, in steps.
    pub fn interval(&self) -> Option<u64> {
        mode(
            self.runs
                .iter()
                .flat_map(|r| r.steps.windows(2).map(|w| w[1] - w[0])),
        )
    }

    /// Steps per epoch, from the first run that says.
    pub fn steps_per_epoch(&self) -> Option<f64> {
        self.runs.iter().find_map(|r| r.steps_per_epoch)
    }

    /// Whether all runs have the same number of examples (needed to compare them example by example).
    pub fn same_examples(&self) -> bool {
        self.runs.windows(2).all(|w| w[0].n() == w[1].n())
    }
}

/// What `report` found about per-example dynamics.
#[derive(Debug, Clone, Default)]
pub struct Dynamics {
    /// Conditions with at least one per-example record.
    pub conditions: Vec<Condition>,
    /// Runs of those conditions without per_example.npz (left out).
    pub without: Vec<String>,
}

/// Reads the per-example records of `runs` (those that have one) and groups them as `groups`
/// does. Refuses conditions of different datasets unless `allow_mixed`.
pub fn analyze(runs: &[Run], groups: &[Group], allow_mixed: bool) -> Result<Dynamics> {
    let mut out = Dynamics::default();
    let mut used: Vec<(usize, &Group, Vec<RunDynamics>)> = Vec::new();
    for (gi, g) in groups.iter().enumerate() {
        let mut recorded = Vec::new();
        let mut without = Vec::new();
        for &i in &g.runs {
            let run = &runs[i];
            let path = run.dir.join(PER_EXAMPLE_FILE);
            if !path.exists() {
                without.push(run.dir.display().to_string());
                continue;
            }
            let record = read::read(&path)?;
            if run.config.train_size > 0 && record.n != run.config.train_size {
                bail!(
                    "{}: {} examples, but config.json says train_size {}",
                    path.display(),
                    record.n,
                    run.config.train_size
                );
            }
            recorded.push(RunDynamics::new(run, &record));
        }
        if !recorded.is_empty() {
            out.without.extend(without);
            used.push((gi, g, recorded));
        }
    }
    let datasets: Vec<&String> = {
        let mut d: Vec<&String> = used.iter().map(|(_, g, _)| &g.dataset).collect();
        d.sort();
        d.dedup();
        d
    };
    if datasets.len() > 1 && !allow_mixed {
        bail!(
            "the per-example dynamics would mix runs of different datasets ({}); report each dataset separately, or pass --allow-mixed",
            datasets
                .iter()
                .map(|d| d.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let group_refs: Vec<&Group> = used.iter().map(|(_, g, _)| *g).collect();
    let legends = legend_labels(
        &group_refs,
        &[
            Part::Dataset,
            Part::Data,
            Part::Regularizers,
            Part::Settings,
        ],
        &[Part::Data],
    );
    let mut slugs: Vec<String> = Vec::new();
    for ((gi, g, recorded), legend) in used.into_iter().zip(legends) {
        let mut slug = slug_of(g, datasets.len() > 1);
        let base = slug.clone();
        let mut k = 2;
        while slugs.contains(&slug) {
            slug = format!("{base}-{k}");
            k += 1;
        }
        slugs.push(slug.clone());
        out.conditions.push(Condition {
            group: gi,
            model: g.model_label(),
            data: g.data_label(),
            regularizers: g.regularizers_label(),
            settings: g.settings_label(),
            dataset: g.dataset.clone(),
            legend,
            slug,
            runs: recorded,
        });
    }
    Ok(out)
}

/// `mlp-1x512--labels0.4`, `alexnet-small--random-pixels--crop`: the sweep's own tokens where
/// there are some, so that a list's name says which runs it came from.
fn slug_of(g: &Group, with_dataset: bool) -> String {
    let mut parts = Vec::new();
    if with_dataset {
        parts.push(slugify(&g.dataset));
    }
    let mut model = slugify(&g.model);
    if g.without_batchnorm {
        model.push_str("-nobn");
    }
    parts.push(model);
    let c = &g.corruption;
    let mut data = Vec::new();
    if let Some(p) = c.pixels {
        data.push(match p {
            Pixels::Shuffle => "shuffle",
            Pixels::Random => "random-pixels",
            Pixels::Gaussian => "gaussian",
        });
    }
    let labels = if c.labels >= 1.0 {
        "random-labels".to_string()
    } else {
        format!("labels{}", fmt_num(c.labels))
    };
    if c.labels > 0.0 {
        data.push(&labels);
    }
    parts.push(if data.is_empty() {
        "true".to_string()
    } else {
        data.join("+")
    });
    let reg = g.regularizers_label();
    if reg != "none" {
        parts.push(slugify(&reg));
    }
    if !g.settings.is_empty() {
        parts.push(slugify(&g.settings_label()));
    }
    parts.join("--")
}

/// Lowercase letters, digits, '.', '+' and single dashes.
fn slugify(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() || c == '.' || c == '+' {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}
