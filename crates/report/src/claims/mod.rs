//! The paper's claims, checked on the given runs: each claim gets a status (holds / fails /
//! partly / not run), the numbers behind it, the spread across seeds and the runs it rests on.
//! The claims of Figure 1 are in `figure1`, those about regularizers in `regularizers`;
//! rendering (Markdown, `claims.json`) is `out`'s job.
//!
//! Status of one check (one model, one setting) and of a claim (all its checks) alike:
//! *fails* if any part fails; else *not run* if no part could be judged; else *holds* if every
//! part holds; else *partly*: nothing failed, something held, and some runs the claim needs are
//! missing (or never reached the fit threshold where that is what is judged).

mod figure1;
pub mod out;
mod regularizers;

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::groups::{Group, Part, common_settings, has_batchnorm};
use crate::runs::{Pixels, Run, fmt_num};
use crate::stats::{mean, std};

/// The verdict on a check or a claim (the rule is in the module comment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Every part was judged and agrees with the paper.
    Holds,
    /// At least one part disagrees with the paper.
    Fails,
    /// Nothing failed and something held, but some parts could not be judged.
    Partly,
    /// No part could be judged: the runs it needs are missing or never fitted.
    NotRun,
}

impl Status {
    /// The word written into claims.md and claims.json ("holds", "not run", ...).
    pub fn name(self) -> &'static str {
        match self {
            Status::Holds => "holds",
            Status::Fails => "fails",
            Status::Partly => "partly",
            Status::NotRun => "not run",
        }
    }

    /// The rule in the module comment.
    pub fn combine(parts: &[Status]) -> Status {
        if parts.contains(&Status::Fails) {
            Status::Fails
        } else if parts.iter().all(|s| *s == Status::NotRun) {
            Status::NotRun
        } else if parts.iter().all(|s| *s == Status::Holds) {
            Status::Holds
        } else {
            Status::Partly
        }
    }
}

/// One judged piece of a claim: one model (or one setting), with its numbers.
#[derive(Debug, Clone)]
pub struct Check {
    /// What was judged: a model ("MLP 1x512"), or a model and setting.
    pub subject: String,
    /// The verdict on this subject alone.
    pub status: Status,
    /// The numbers, in words.
    pub detail: String,
    /// Run directories behind the check.
    pub runs: Vec<String>,
    /// The numbers, as data (written to claims.json).
    pub values: Value,
}

/// One claim of the paper, checked on every model (or setting) the runs cover.
#[derive(Debug, Clone)]
pub struct Claim {
    /// A short stable key ("fit", "chance", "slowdown", ...), used in claims.json.
    pub id: &'static str,
    /// Where in the paper the claim is made ("Figure 1b", "Section 2, Table 1").
    pub source: &'static str,
    /// The claim, in one sentence.
    pub claim: &'static str,
    /// The verdict over all checks, with [`Status::NotRun`] added when conditions are missing.
    pub status: Status,
    /// One check per model or setting judged.
    pub checks: Vec<Check>,
    /// Conditions the claim needs that no run covers ("MLP 1x512: Gaussian").
    pub not_run: Vec<String>,
}

impl Claim {
    fn new(
        id: &'static str,
        source: &'static str,
        claim: &'static str,
        checks: Vec<Check>,
        not_run: Vec<String>,
    ) -> Claim {
        let mut parts: Vec<Status> = checks.iter().map(|c| c.status).collect();
        if !not_run.is_empty() {
            parts.push(Status::NotRun);
        }
        Claim {
            id,
            source,
            claim,
            status: Status::combine(&parts),
            checks,
            not_run,
        }
    }

    /// Every run behind the claim, sorted, once each.
    pub fn runs(&self) -> Vec<String> {
        let mut runs: Vec<String> = self.checks.iter().flat_map(|c| c.runs.clone()).collect();
        runs.sort();
        runs.dedup();
        runs
    }
}

/// A data condition: label corruption level and pixel corruption.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cond {
    /// Label corruption probability p (0: true labels, 1: random labels).
    pub labels: f64,
    /// Pixel corruption (shuffled, random pixels, Gaussian), `None` for clean images.
    pub pixels: Option<Pixels>,
}

impl Cond {
    const fn labels(p: f64) -> Cond {
        Cond {
            labels: p,
            pixels: None,
        }
    }
    const fn pixels(px: Pixels) -> Cond {
        Cond {
            labels: 0.0,
            pixels: Some(px),
        }
    }
    fn of(g: &Group) -> Cond {
        Cond {
            labels: g.corruption.labels,
            pixels: g.corruption.pixels,
        }
    }
    /// The condition in the report's words ("true labels", "labels p=0.4", "Gaussian").
    pub fn describe(self) -> String {
        rethink_runs::Corruption {
            labels: self.labels,
            pixels: self.pixels,
            extra: Default::default(),
        }
        .describe()
    }
    /// Table order: clean pixels by growing p, then shuffled, random pixels, Gaussian.
    fn order(self) -> (Option<Pixels>, u64) {
        (self.pixels, (self.labels * 1e6).round() as u64)
    }
}

/// True labels, clean pixels.
pub const TRUE: Cond = Cond::labels(0.0);
/// Every label redrawn uniformly at random (p = 1).
pub const RANDOM_LABELS: Cond = Cond::labels(1.0);
/// One fixed permutation of pixel positions for every image.
pub const SHUFFLED: Cond = Cond::pixels(Pixels::Shuffle);
/// An independent permutation of pixel positions for each image.
pub const RANDOM_PIXELS: Cond = Cond::pixels(Pixels::Random);
/// Images replaced by Gaussian noise with the dataset's mean and variance.
pub const GAUSSIAN: Cond = Cond::pixels(Pixels::Gaussian);
/// The label corruption levels of Figures 1b and 1c.
pub const LEVELS: [f64; 6] = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0];

/// The nine conditions of Figure 1.
pub fn figure1_conditions() -> Vec<Cond> {
    let mut c: Vec<Cond> = LEVELS.iter().map(|&p| Cond::labels(p)).collect();
    c.extend([SHUFFLED, RANDOM_PIXELS, GAUSSIAN]);
    c.sort_by_key(|c| c.order());
    c
}

/// A label corruption level and one number (if any) per run at it.
type Level<'a> = (f64, Vec<(&'a Run, Option<f64>)>);

/// One model's Figure 1 runs (no regularizers, BatchNorm as built), by condition.
struct ModelRuns<'a> {
    name: String,
    /// Has a run that only Figure 1 makes (pixel randomization, 0 < p < 1): all nine conditions
    /// are expected. Otherwise (say a Table 1 model) only the conditions it has are judged.
    figure1: bool,
    conds: Vec<(Cond, Vec<&'a Run>)>,
}

impl<'a> ModelRuns<'a> {
    fn get(&self, c: Cond) -> Option<&[&'a Run]> {
        self.conds
            .iter()
            .find(|(k, _)| *k == c)
            .map(|(_, r)| r.as_slice())
    }
    /// The conditions of `wanted` this model is judged on, and those it misses (for a
    /// Figure 1 model).
    fn split(&self, wanted: &[Cond]) -> (Vec<(Cond, &[&'a Run])>, Vec<Cond>) {
        let mut have = Vec::new();
        let mut missing = Vec::new();
        for &c in wanted {
            match self.get(c) {
                Some(r) => have.push((c, r)),
                None if self.figure1 => missing.push(c),
                None => {}
            }
        }
        (have, missing)
    }
}

struct Checker<'a> {
    runs: &'a [Run],
    groups: &'a [Group],
    fit_threshold: f64,
    several_datasets: bool,
}

/// Checks every claim of the paper on `runs` (grouped into `groups` by seed), in the order of
/// claims.md; `fit_threshold` is the training accuracy that counts as fitted.
pub fn check(runs: &[Run], groups: &[Group], fit_threshold: f64) -> Vec<Claim> {
    let several_datasets = groups.iter().any(|g| g.dataset != groups[0].dataset);
    let cx = Checker {
        runs,
        groups,
        fit_threshold,
        several_datasets,
    };
    let models = cx.figure1_models();
    vec![
        cx.fit(&models),
        cx.chance(&models),
        cx.error_grows(&models),
        cx.slowdown(&models),
        cx.order(&models),
        cx.regularization(),
        cx.early_stopping(),
        cx.batchnorm(),
    ]
}

// ---- per-run numbers ----

fn seed(r: &Run) -> u64 {
    r.config.seed
}
fn test_acc(r: &Run) -> Option<f64> {
    r.final_accuracy().1
}
fn train_acc(r: &Run) -> Option<f64> {
    r.final_accuracy().0
}
/// The highest test accuracy of any evaluation (what early stopping could have kept).
fn best_test_acc(r: &Run) -> Option<f64> {
    r.summary
        .as_ref()
        .and_then(|s| s.best_test_acc)
        .or_else(|| {
            r.evals
                .iter()
                .filter_map(|e| e.test_acc)
                .fold(None, |m: Option<f64>, a| Some(m.map_or(a, |m| m.max(a))))
        })
}
fn names(runs: &[&Run]) -> Vec<String> {
    let mut v: Vec<String> = runs.iter().map(|r| r.dir.display().to_string()).collect();
    v.sort();
    v
}
fn pct(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}
/// "12.30 ± 0.40" (n ≥ 2) or "12.30 (1 seed)".
pub fn mean_std(xs: &[f64], digits: usize) -> String {
    mean_std_unit(xs, digits, "")
}

/// "12.30 ± 0.40%" or "12.30% (1 seed)".
pub fn mean_std_unit(xs: &[f64], digits: usize, unit: &str) -> String {
    match std(xs) {
        Some(s) => format!("{:.digits$} ± {:.digits$}{unit}", mean(xs), s),
        None => format!("{:.digits$}{unit} (1 seed)", mean(xs)),
    }
}

/// The 99% interval of the accuracy of a chance-level classifier: the smallest and largest
/// count with at most 0.5% of Binomial(n, 1/K) below and above, divided by n.
pub fn chance_interval(n: usize, k: usize) -> (f64, f64) {
    let p = 1.0 / k as f64;
    // log pmf by the ratio pmf(i+1)/pmf(i) = (n−i)/(i+1) · p/(1−p): no overflow at any n.
    let mut log_pmf = Vec::with_capacity(n + 1);
    let mut l = n as f64 * (1.0 - p).ln();
    for i in 0..=n {
        log_pmf.push(l);
        l += ((n - i) as f64 / (i + 1) as f64).ln() + (p / (1.0 - p)).ln();
    }
    let max = log_pmf.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let pmf: Vec<f64> = log_pmf.iter().map(|l| (l - max).exp()).collect();
    let total: f64 = pmf.iter().sum();
    let mut cdf = 0.0;
    let (mut lo, mut hi) = (None, None);
    for (i, q) in pmf.iter().enumerate() {
        cdf += q / total;
        if lo.is_none() && cdf >= 0.005 {
            lo = Some(i);
        }
        if hi.is_none() && cdf >= 0.995 {
            hi = Some(i);
        }
    }
    let n_f = n as f64;
    (lo.unwrap_or(0) as f64 / n_f, hi.unwrap_or(n) as f64 / n_f)
}

impl<'a> Checker<'a> {
    fn group_runs(&self, g: &Group) -> Vec<&'a Run> {
        let mut v: Vec<&Run> = g.runs.iter().map(|&i| &self.runs[i]).collect();
        v.sort_by(|a, b| a.dir.cmp(&b.dir));
        v
    }

    fn model_name(&self, g: &Group) -> String {
        if self.several_datasets {
            format!("{}, {}", g.dataset, g.model_label())
        } else {
            g.model_label()
        }
    }

    fn fitted(&self, r: &Run) -> bool {
        r.time_to_fit(self.fit_threshold).0.is_some()
    }

    fn steps_to_fit(&self, r: &Run) -> Option<f64> {
        r.time_to_fit(self.fit_threshold).0.map(|s| s as f64)
    }

    /// Figure 1's runs: no regularizers, BatchNorm as built. Where a condition has runs trained
    /// until they fit (`until_train_acc`) beside fixed-budget ones (Table 1), the former count.
    fn figure1_models(&self) -> Vec<ModelRuns<'a>> {
        let mut by_model: BTreeMap<(String, String), Vec<&Group>> = BTreeMap::new();
        for g in self.groups {
            if g.regularizers_label() == "none" && !g.without_batchnorm {
                by_model
                    .entry((g.dataset.clone(), g.model_label()))
                    .or_default()
                    .push(g);
            }
        }
        let mut out = Vec::new();
        for groups in by_model.values() {
            let mut conds: Vec<(Cond, Vec<&Group>)> = Vec::new();
            for g in groups {
                let c = Cond::of(g);
                if c.pixels.is_some() && c.labels > 0.0 {
                    continue; // pixel and label corruption at once: no claim of the paper
                }
                match conds.iter_mut().find(|(k, _)| *k == c) {
                    Some((_, v)) => v.push(g),
                    None => conds.push((c, vec![g])),
                }
            }
            conds.sort_by_key(|(c, _)| c.order());
            let conds: Vec<(Cond, Vec<&Run>)> = conds
                .into_iter()
                .map(|(c, gs)| {
                    let until_fit = |g: &&&Group| {
                        self.group_runs(g)
                            .iter()
                            .all(|r| r.config.until_train_acc.is_some())
                    };
                    let keep: Vec<&&Group> = if gs.iter().any(|g| until_fit(&g)) {
                        gs.iter().filter(until_fit).collect()
                    } else {
                        gs.iter().collect()
                    };
                    let mut runs: Vec<&Run> =
                        keep.iter().flat_map(|g| self.group_runs(g)).collect();
                    runs.sort_by(|a, b| a.dir.cmp(&b.dir));
                    (c, runs)
                })
                .collect();
            let figure1 = conds
                .iter()
                .any(|(c, _)| c.pixels.is_some() || (c.labels > 0.0 && c.labels < 1.0));
            out.push(ModelRuns {
                name: self.model_name(groups[0]),
                figure1,
                conds,
            });
        }
        out
    }
}

/// A difference in units of the seed standard deviation.
struct EffectSize {
    value: Option<f64>,
    std: Option<f64>,
    points: f64,
}

fn effect_size(diff: f64, std: Option<f64>) -> EffectSize {
    EffectSize {
        value: std.filter(|s| *s > 0.0).map(|s| diff / s),
        std,
        points: diff,
    }
}

impl EffectSize {
    fn text(&self, positive: bool, yes: &str, no: &str) -> String {
        let dir = if positive { yes } else { no };
        match self.value {
            Some(v) => format!("{dir} by {:.2} points = {v:.1} seed std", self.points),
            None if self.std.is_some() => {
                format!("{dir} by {:.2} points; seed std 0", self.points)
            }
            None => format!(
                "{dir} by {:.2} points; seed std unknown (one seed)",
                self.points
            ),
        }
    }
}
