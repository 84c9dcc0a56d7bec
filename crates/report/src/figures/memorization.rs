//! The memorization figure: training accuracy on the clean and the corrupted part of a
//! partially corrupted training set.

use super::curves::mean_curve;
use super::{Context, Figure, KILO, Series, Skipped};
use crate::groups::{Group, Part, legend_labels};
use crate::runs::Run;
use crate::stats::mean;
use rethink_runs::EvalRecord;

/// Training accuracy on the clean and the corrupted part of a partially corrupted training set:
/// clean examples are learned first, corrupted ones memorized later.
///
/// Corrupted means "label differs from the clean label" (schema 1); the redrawn subset (labels
/// drawn anew, about 1/K of them equal to the clean label) is drawn too where recorded. Runs
/// from before schema 1 recorded only the redrawn subset, under the name `train_acc_corrupted`.
pub fn memorization(cx: &Context) -> Result<Figure, Skipped> {
    fn redrawn(r: &Run, e: &EvalRecord) -> Option<f64> {
        if r.schema_1() {
            e.train_acc_redrawn
        } else {
            e.train_acc_corrupted
        }
    }
    fn corrupted(r: &Run, e: &EvalRecord) -> Option<f64> {
        r.schema_1().then_some(e.train_acc_corrupted).flatten()
    }
    fn clean(_: &Run, e: &EvalRecord) -> Option<f64> {
        e.train_acc_clean
    }
    let used: Vec<&Group> = cx
        .groups
        .iter()
        .filter(|g| g.corruption.labels > 0.0 && g.corruption.labels < 1.0)
        .filter(|g| {
            cx.group_runs(g).any(|r| {
                r.evals.iter().any(|e| {
                    clean(r, e).is_some() && (corrupted(r, e).is_some() || redrawn(r, e).is_some())
                })
            })
        })
        .collect();
    if used.is_empty() {
        return Err(Skipped {
            id: "memorization",
            reason: "no run on partially corrupted labels with per-subset training accuracy".into(),
        });
    }
    let mut fig = cx.figure(
        "memorization",
        "Memorization: clean examples are fitted first",
        "thousands of training steps",
        "training accuracy on the subset (%)",
        &used,
    );
    fig.y_range = Some((0.0, 100.0));
    fig.x_from_zero = true;
    let labels = legend_labels(
        &used,
        &[
            Part::Dataset,
            Part::Model,
            Part::Data,
            Part::Regularizers,
            Part::Settings,
        ],
        &[Part::Data],
    );
    for (i, (g, label)) in used.iter().zip(labels).enumerate() {
        let subset = |pick: fn(&Run, &EvalRecord) -> Option<f64>| {
            let curves: Vec<Vec<(f64, f64)>> = cx
                .group_runs(g)
                .map(|r| {
                    r.evals
                        .iter()
                        .filter_map(|e| pick(r, e).map(|a| (e.step as f64 / KILO, 100.0 * a)))
                        .collect()
                })
                .collect();
            mean_curve(&curves)
        };
        fig.series.push(Series::line(
            format!("{label}: clean subset"),
            subset(clean),
            i,
        ));
        let corrupted = subset(corrupted);
        if !corrupted.is_empty() {
            let mut c = Series::line(format!("{label}: corrupted subset"), corrupted, i);
            c.dashed = true;
            fig.series.push(c);
        }
        let redrawn = subset(redrawn);
        if !redrawn.is_empty() {
            let mut c = Series::line(format!("{label}: redrawn subset"), redrawn, i);
            c.dashed = true;
            c.thin = true;
            fig.series.push(c);
        }
        if let Some(note) = subset_counts(cx, g) {
            fig.notes.push(format!("{label}: {note}"));
        }
        if cx.group_runs(g).any(|r| !r.schema_1()) {
            fig.notes.push(format!(
                "{label}: runs from before schema 1 recorded accuracy on the redrawn labels only \
                 (about 1/K of them equal the clean label); their clean subset is the labels not redrawn"
            ));
        }
    }
    Context::in_steps_when_short(&mut fig);
    Ok(fig)
}

/// "2160 corrupted (label ≠ clean label), 2400 redrawn of 6000 training labels", over the
/// group's runs (their mean when the seeds differ).
fn subset_counts(cx: &Context, g: &Group) -> Option<String> {
    let runs: Vec<&Run> = cx.group_runs(g).collect();
    // One count for the group: every run's, their mean when the seeds differ.
    let count = |xs: Vec<Option<usize>>| -> Option<String> {
        let xs: Vec<usize> = xs.into_iter().collect::<Option<_>>()?;
        let first = *xs.first()?;
        if xs.iter().all(|&x| x == first) {
            return Some(first.to_string());
        }
        let m = mean(&xs.iter().map(|&x| x as f64).collect::<Vec<_>>());
        Some(format!("{m:.1} (mean of {})", xs.len()))
    };
    let (corrupted, redrawn): (Vec<_>, Vec<_>) = runs.iter().map(|r| r.corruption_counts()).unzip();
    let corrupted = count(corrupted);
    let redrawn = count(redrawn);
    if corrupted.is_none() && redrawn.is_none() {
        return None;
    }
    let mut parts = Vec::new();
    if let Some(c) = corrupted {
        parts.push(format!("{c} corrupted (label ≠ clean label)"));
    }
    if let Some(r) = redrawn {
        parts.push(format!("{r} redrawn"));
    }
    let sizes: Vec<usize> = runs.iter().map(|r| r.config.train_size).collect();
    let mut text = parts.join(", ");
    if sizes[0] > 0 && sizes.iter().all(|&s| s == sizes[0]) {
        text.push_str(&format!(" of {} training labels", sizes[0]));
    }
    Some(text)
}
