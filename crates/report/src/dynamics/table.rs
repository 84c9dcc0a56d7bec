//! The dynamics table: for each condition and subset of its examples, the per-example measures
//! summarized per run and averaged over the runs, and the seeds' rank agreement.

use super::measures::{median, spearman};
use super::{Condition, Dynamics, RunDynamics, Subset};
use crate::stats::mean;

/// One line of the dynamics table: a condition's subset, averaged over its runs.
#[derive(Debug, Clone)]
pub struct Row {
    /// Index into [`Dynamics::conditions`].
    pub condition: usize,
    /// Which examples.
    pub subset: Subset,
    /// Runs (seeds) averaged.
    pub runs: usize,
    /// Examples in the subset (mean over runs).
    pub examples: f64,
    /// Evaluations (mean over runs).
    pub evaluations: f64,
    /// The evaluation interval the events were counted at, in steps.
    pub every_steps: Option<u64>,
    /// The same in epochs.
    pub every_epochs: Option<f64>,
    /// Percent of the subset fitted for good by the last evaluation.
    pub fitted_pct: f64,
    /// Median first-fitted step over the subset's fitted examples (mean over runs).
    pub median_fitted_step: Option<f64>,
    /// The same in epochs.
    pub median_fitted_epoch: Option<f64>,
    /// Percent unforgettable: learned and never forgotten.
    pub unforgettable_pct: f64,
    /// Percent never correct at any evaluation.
    pub never_learned_pct: f64,
    /// Forgetting events per example.
    pub forgetting_mean: f64,
    /// Percent forgotten at least once.
    pub forgotten_pct: f64,
    /// Spearman correlation of first-fitted steps between seeds, mean over pairs of runs.
    pub seed_spearman: Option<f64>,
    /// Pairs of runs behind `seed_spearman`.
    pub seed_pairs: usize,
    /// Examples compared per pair (mean): those in the subset in both runs.
    pub seed_examples: Option<f64>,
    /// Mean EL2N score.
    pub el2n_mean: Option<f64>,
    /// The step the EL2N scores were taken at (the first run's).
    pub el2n_step: Option<u64>,
    /// Spearman correlation of EL2N and first-fitted step within a run (mean over runs).
    pub el2n_spearman: Option<f64>,
}

/// Mean over the values that exist; `None` when none does.
fn mean_of(xs: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let v: Vec<f64> = xs.flatten().collect();
    (!v.is_empty()).then(|| mean(&v))
}

/// The dynamics table: one row per condition and subset.
pub fn rows(d: &Dynamics) -> Vec<Row> {
    let mut out = Vec::new();
    for (ci, c) in d.conditions.iter().enumerate() {
        let every_steps = c.interval();
        let spe = c.steps_per_epoch();
        for subset in c.subsets() {
            // Per run: the members of the subset and the measures over them.
            let per_run = |f: &dyn Fn(&RunDynamics, &[usize]) -> Option<f64>| -> Vec<Option<f64>> {
                c.runs
                    .iter()
                    .map(|r| {
                        let members: Vec<usize> =
                            (0..r.n()).filter(|&i| r.in_subset(i, subset)).collect();
                        f(r, &members)
                    })
                    .collect()
            };
            let pct = |f: &dyn Fn(&RunDynamics, usize) -> bool| {
                mean_of(
                    per_run(&|r, m| {
                        (!m.is_empty()).then(|| {
                            100.0 * m.iter().filter(|&&i| f(r, i)).count() as f64 / m.len() as f64
                        })
                    })
                    .into_iter(),
                )
                .unwrap_or(f64::NAN)
            };
            let median_fitted_step = mean_of(
                per_run(&|r, m| {
                    let steps: Vec<f64> = m
                        .iter()
                        .filter_map(|&i| r.first_fitted[i].map(|e| r.steps[e] as f64))
                        .collect();
                    median(&steps)
                })
                .into_iter(),
            );
            let forgetting_mean = mean_of(
                per_run(&|r, m| {
                    (!m.is_empty()).then(|| {
                        m.iter().map(|&i| r.forgetting[i] as f64).sum::<f64>() / m.len() as f64
                    })
                })
                .into_iter(),
            )
            .unwrap_or(f64::NAN);
            let (seed_spearman, seed_pairs, seed_examples) = seed_agreement(c, subset);
            let el2n_mean = mean_of(
                per_run(&|r, m| {
                    let (_, s) = r.el2n.as_ref()?;
                    (!m.is_empty())
                        .then(|| m.iter().map(|&i| s[i] as f64).sum::<f64>() / m.len() as f64)
                })
                .into_iter(),
            );
            let el2n_spearman = mean_of(
                per_run(&|r, m| {
                    let (_, s) = r.el2n.as_ref()?;
                    let fitted = r.fitted_steps();
                    let a: Vec<f64> = m.iter().map(|&i| s[i] as f64).collect();
                    let b: Vec<f64> = m.iter().map(|&i| fitted[i]).collect();
                    spearman(&a, &b)
                })
                .into_iter(),
            );
            out.push(Row {
                condition: ci,
                subset,
                runs: c.runs.len(),
                examples: mean_of(per_run(&|_, m| Some(m.len() as f64)).into_iter()).unwrap_or(0.0),
                evaluations: mean(
                    &c.runs
                        .iter()
                        .map(|r| r.steps.len() as f64)
                        .collect::<Vec<_>>(),
                ),
                every_steps,
                every_epochs: every_steps.zip(spe).map(|(s, e)| s as f64 / e),
                fitted_pct: pct(&|r, i| r.first_fitted[i].is_some()),
                median_fitted_step,
                median_fitted_epoch: median_fitted_step.zip(spe).map(|(s, e)| s / e),
                unforgettable_pct: pct(&|r, i| r.unforgettable[i]),
                never_learned_pct: pct(&|r, i| !r.learned[i]),
                forgetting_mean,
                forgotten_pct: pct(&|r, i| r.forgetting[i] > 0),
                seed_spearman,
                seed_pairs,
                seed_examples,
                el2n_mean,
                el2n_step: c.runs.iter().find_map(|r| r.el2n.as_ref().map(|e| e.0)),
                el2n_spearman,
            });
        }
    }
    out
}

/// Spearman correlation of first-fitted steps between every pair of runs of `c`, over the
/// examples in `subset` in both runs: its mean over the pairs, the number of pairs, and the
/// mean number of examples compared.
fn seed_agreement(c: &Condition, subset: Subset) -> (Option<f64>, usize, Option<f64>) {
    if !c.same_examples() {
        return (None, 0, None);
    }
    let fitted: Vec<Vec<f64>> = c.runs.iter().map(RunDynamics::fitted_steps).collect();
    let mut rs = Vec::new();
    let mut compared = Vec::new();
    for a in 0..c.runs.len() {
        for b in a + 1..c.runs.len() {
            let both: Vec<usize> = (0..c.runs[a].n())
                .filter(|&i| c.runs[a].in_subset(i, subset) && c.runs[b].in_subset(i, subset))
                .collect();
            let xa: Vec<f64> = both.iter().map(|&i| fitted[a][i]).collect();
            let xb: Vec<f64> = both.iter().map(|&i| fitted[b][i]).collect();
            if let Some(r) = spearman(&xa, &xb) {
                rs.push(r);
                compared.push(both.len() as f64);
            }
        }
    }
    let pairs = rs.len();
    let some = !rs.is_empty();
    (
        some.then(|| mean(&rs)),
        pairs,
        some.then(|| mean(&compared)),
    )
}
