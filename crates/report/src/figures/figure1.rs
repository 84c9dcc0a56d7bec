//! Figure 1: learning curves under randomization (1a), the slowdown of fitting (1b) and the
//! growth of test error (1c) with the label corruption level.

use std::collections::BTreeMap;

use super::curves::{mean_curve, range_of, seed_band};
use super::{Context, Figure, KILO, Series, Skipped, same_curve_key};
use crate::groups::{Group, Part, common_settings, legend_labels};
use crate::stats::mean;

/// Figure 1a: training loss against thousands of steps, one curve per data/corruption kind.
pub fn fig1a(cx: &Context) -> Result<Figure, Skipped> {
    let order = [
        "true labels",
        "shuffled pixels",
        "random pixels",
        "Gaussian",
        "random labels",
    ];
    let mut used: Vec<&Group> = cx
        .groups
        .iter()
        .filter(|g| g.corruption.figure1a_kind().is_some())
        .collect();
    // The paper's curves are without regularizers; other settings only when there are none such.
    if used.iter().any(|g| g.regularizers_label() == "none") {
        used.retain(|g| g.regularizers_label() == "none");
    }
    // A model without BatchNorm is a row of Table 1, not of the paper's Figure 1: left out
    // where the same model with BatchNorm has runs.
    let with_bn = |g: &Group| {
        used.iter()
            .any(|h| !h.without_batchnorm && h.dataset == g.dataset && h.model == g.model)
    };
    let (used, without_bn): (Vec<&Group>, Vec<&Group>) = used
        .iter()
        .copied()
        .partition(|g| !g.without_batchnorm || !with_bn(g));
    // A fixed-budget run (Table 1) beside a run of the same curve trained until it fitted.
    let (mut used, budget_only) = cx.prefer_stop(
        used,
        |g| (same_curve_key(g), g.corruption.figure1a_kind()),
        true,
    );
    used.sort_by_key(|g| {
        let kind = g.corruption.figure1a_kind().unwrap_or("");
        (
            g.model.clone(),
            g.model_label(),
            order.iter().position(|k| *k == kind),
        )
    });
    if used.is_empty() {
        return Err(Skipped {
            id: "fig1a",
            reason: "no run on true labels, random labels, shuffled/random pixels or Gaussian data"
                .into(),
        });
    }
    let mut fig = cx.figure(
        "fig1a",
        "Figure 1a: learning curves under randomization",
        "thousands of training steps",
        "training loss (cross-entropy)",
        &used,
    );
    fig.x_from_zero = true;
    fig.note_left_out(
        "without BatchNorm (Table 1's rows; Figure 1 has the models as built)",
        &without_bn,
        |g| format!("{}, {}", g.model_label(), g.data_label()),
    );
    let common = common_settings(&used);
    fig.note_left_out(
        "a fixed budget beside runs trained until they fit",
        &budget_only,
        |g| {
            let settings = g.part_without(Part::Settings, &common);
            format!("{}, {}, {settings}", g.model_label(), g.data_label())
        },
    );
    let loss_curve = |g: &Group| {
        let curves: Vec<Vec<(f64, f64)>> = cx
            .group_runs(g)
            .map(|r| {
                r.loss_curve()
                    .into_iter()
                    .map(|(s, l)| (s as f64 / KILO, l))
                    .collect()
            })
            .collect();
        let mean = mean_curve(&curves);
        let band = seed_band(&curves, &mean);
        (mean, band)
    };
    // Small multiples: one panel per model (the paper's 1a is one model), one colour per
    // randomization across panels.
    let panel_of = |g: &Group| (g.dataset.clone(), g.model_label());
    let mut panels: Vec<(String, String)> = Vec::new();
    for g in &used {
        if !panels.contains(&panel_of(g)) {
            panels.push(panel_of(g));
        }
    }
    if panels.len() == 1 {
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
            let (points, band) = loss_curve(g);
            if points.is_empty() {
                fig.notes
                    .push(format!("{label}: no training loss recorded yet"));
                continue;
            }
            let mut s = Series::line(label, points, i);
            s.seed_band = band;
            fig.series.push(s);
        }
    } else {
        let several_datasets = panels.iter().any(|p| p.0 != panels[0].0);
        fig.panels = panels
            .iter()
            .map(|(d, m)| {
                if several_datasets {
                    format!("{d}, {m}")
                } else {
                    m.clone()
                }
            })
            .collect();
        for (p, key) in panels.iter().enumerate() {
            let members: Vec<&Group> = used
                .iter()
                .copied()
                .filter(|g| panel_of(g) == *key)
                .collect();
            let labels = legend_labels(
                &members,
                &[Part::Data, Part::Regularizers, Part::Settings],
                &[Part::Data],
            );
            let mut kinds_seen: Vec<usize> = Vec::new();
            for (g, label) in members.iter().zip(labels) {
                let kind = g.corruption.figure1a_kind().unwrap_or("");
                let k = order.iter().position(|o| *o == kind).unwrap_or(0);
                // A second curve of one kind in a panel (other settings) gets the paler colour.
                let color = if kinds_seen.contains(&k) {
                    k + order.len()
                } else {
                    k
                };
                kinds_seen.push(k);
                let (points, band) = loss_curve(g);
                if points.is_empty() {
                    fig.notes.push(format!(
                        "{}, {label}: no training loss recorded yet",
                        fig.panels[p]
                    ));
                    continue;
                }
                let mut s = Series::line(label, points, color);
                s.seed_band = band;
                s.panel = p;
                fig.series.push(s);
            }
        }
    }
    if fig.series.is_empty() {
        return Err(Skipped {
            id: "fig1a",
            reason: "the matching runs have no training loss yet".into(),
        });
    }
    cut_loss_spikes(&mut fig);
    Context::in_steps_when_short(&mut fig);
    Ok(fig)
}

/// Cuts the y axis at 1.25 times the largest starting loss (about ln K) when a curve rises past
/// twice that: evaluation losses of a BatchNorm network early in training (its running
/// statistics not yet settled) can reach a hundred times the starting loss and would flatten
/// every other curve. The figure says so; the CSV keeps every value.
fn cut_loss_spikes(fig: &mut Figure) {
    let start = fig
        .series
        .iter()
        .filter_map(|s| s.points.first().map(|p| p.1))
        .fold(0.0f64, f64::max);
    let highest = fig.points().map(|p| p.1).fold(0.0f64, f64::max);
    if start > 0.0 && highest > 2.0 * start {
        let top = 1.25 * start;
        fig.y_range = Some((0.0, top));
        fig.notes.push(format!(
            "y axis cut at {top:.2} (1.25 x the largest starting loss): losses up to {highest:.1} \
             run off the top (the CSV has every value)"
        ));
    }
}

/// Runs on clean pixels, keyed by everything but the label corruption level: one line of
/// Figures 1b/1c each, with its points sorted by corruption level.
fn label_corruption_families<'a>(cx: &'a Context) -> Vec<Vec<&'a Group>> {
    let mut families: BTreeMap<String, Vec<&Group>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for g in cx.groups.iter().filter(|g| g.corruption.pixels.is_none()) {
        let key = format!(
            "{}\u{1}{}\u{1}{}\u{1}{}",
            g.dataset,
            g.model_label(),
            g.regularizers_label(),
            g.settings_label()
        );
        if !families.contains_key(&key) {
            order.push(key.clone());
        }
        families.entry(key).or_default().push(g);
    }
    order
        .into_iter()
        .filter_map(|k| families.remove(&k))
        .map(|mut f| {
            f.sort_by(|a, b| a.corruption.labels.total_cmp(&b.corruption.labels));
            f
        })
        .filter(|f| f.len() >= 2)
        .collect()
}

fn family_labels(families: &[Vec<&Group>]) -> Vec<String> {
    let heads: Vec<&Group> = families.iter().map(|f| f[0]).collect();
    legend_labels(
        &heads,
        &[
            Part::Dataset,
            Part::Model,
            Part::Regularizers,
            Part::Settings,
        ],
        &[Part::Model],
    )
}

/// Figure 1b: steps to fit relative to true labels, against the label corruption level.
pub fn fig1b(cx: &Context) -> Result<Figure, Skipped> {
    let families = label_corruption_families(cx);
    let threshold = cx.fit_threshold;
    let mut fig = cx.figure(
        "fig1b",
        "Figure 1b: convergence slowdown",
        "label corruption level p",
        &format!(
            "time to fit (steps to {}% train acc.) / true labels",
            fmt_pct(threshold)
        ),
        &families.iter().flatten().copied().collect::<Vec<_>>(),
    );
    fig.markers = true;
    fig.x_range = Some((-0.03, 1.03));
    let labels = family_labels(&families);
    for (i, (family, label)) in families.iter().zip(labels).enumerate() {
        let seeds = |g: &Group| -> Option<Vec<f64>> {
            let fitted: Vec<f64> = cx
                .group_runs(g)
                .filter_map(|r| r.time_to_fit(threshold).0.map(|s| s as f64))
                .collect();
            (fitted.len() == g.runs.len()).then_some(fitted)
        };
        let steps = |g: &Group| seeds(g).map(|xs| mean(&xs));
        let Some(base) = family.iter().find(|g| g.corruption.labels == 0.0) else {
            fig.notes
                .push(format!("{label}: no true-labels run to compare with"));
            continue;
        };
        let Some(base_steps) = steps(base).filter(|s| *s > 0.0) else {
            fig.notes.push(format!(
                "{label}: the true-labels runs did not all reach {}% training accuracy",
                fmt_pct(threshold)
            ));
            continue;
        };
        let mut points = Vec::new();
        let mut band = Vec::new();
        for g in family {
            match seeds(g) {
                Some(xs) => {
                    let p = g.corruption.labels;
                    points.push((p, mean(&xs) / base_steps));
                    let (lo, hi) = range_of(&xs).unwrap_or((mean(&xs), mean(&xs)));
                    band.push((p, lo / base_steps, hi / base_steps));
                }
                None => fig.notes.push(format!(
                    "{label}, {}: not all runs reached {}% training accuracy; left out",
                    g.data_label(),
                    fmt_pct(threshold)
                )),
            }
        }
        if points.len() >= 2 {
            let mut s = Series::line(label, points, i);
            s.seed_band = band.iter().any(|b| b.1 < b.2).then_some(band);
            fig.series.push(s);
        }
    }
    if fig.series.is_empty() {
        let mut reason =
            "needs runs of one model at several label corruption levels, including true labels, that reached the fit threshold".to_string();
        if !fig.notes.is_empty() {
            reason = format!("{reason} ({})", fig.notes.join("; "));
        }
        return Err(Skipped {
            id: "fig1b",
            reason,
        });
    }
    Ok(fig)
}

/// Figure 1c: test error against the label corruption level.
pub fn fig1c(cx: &Context) -> Result<Figure, Skipped> {
    let families = label_corruption_families(cx);
    let mut fig = cx.figure(
        "fig1c",
        "Figure 1c: generalization error growth",
        "label corruption level p",
        "test error (%)",
        &families.iter().flatten().copied().collect::<Vec<_>>(),
    );
    fig.markers = true;
    fig.x_range = Some((-0.03, 1.03));
    fig.y_range = Some((0.0, 100.0));
    let labels = family_labels(&families);
    for (i, (family, label)) in families.iter().zip(labels).enumerate() {
        let errors: Vec<(f64, Vec<f64>)> = family
            .iter()
            .map(|g| {
                let errs: Vec<f64> = cx
                    .group_runs(g)
                    .filter_map(|r| r.final_accuracy().1)
                    .map(|a| 100.0 * (1.0 - a))
                    .collect();
                (g.corruption.labels, errs)
            })
            .filter(|(_, e)| !e.is_empty())
            .collect();
        let points: Vec<(f64, f64)> = errors.iter().map(|(p, e)| (*p, mean(e))).collect();
        let band: Vec<(f64, f64, f64)> = errors
            .iter()
            .map(|(p, e)| {
                let (lo, hi) = range_of(e).unwrap_or((mean(e), mean(e)));
                (*p, lo, hi)
            })
            .collect();
        if points.len() >= 2 {
            let mut s = Series::line(label, points, i);
            s.seed_band = band.iter().any(|b| b.1 < b.2).then_some(band);
            fig.series.push(s);
        }
    }
    if fig.series.is_empty() {
        return Err(Skipped {
            id: "fig1c",
            reason: "needs runs of one model at two or more label corruption levels".into(),
        });
    }
    Ok(fig)
}

fn fmt_pct(threshold: f64) -> String {
    crate::runs::fmt_num((threshold * 1000.0).round() / 10.0)
}
