//! Figure 2: test accuracy on true labels with and without the paper's regularizers, the
//! cumulative best shaded (what early stopping could gain).

use super::curves::{mean_curve, seed_band};
use super::{Context, Figure, KILO, Series, Skipped, same_curve_key};
use crate::groups::{Group, Part, common_settings, legend_labels, model_display};
use crate::paper;

/// The paper's Figure 2 setting a group is in: "plain" (no regularizer), "w/o BN" (plain,
/// without BatchNorm) or "aug+wd" (the paper's augmentation, see [`paper::paper_augmentation`],
/// with weight decay); `None` for any other setting.
pub fn figure2_setting(g: &Group) -> Option<&'static str> {
    if g.dropout > 0.0 {
        return None;
    }
    let table = paper::table_for(&g.dataset).unwrap_or("Table 1");
    let augmented = paper::paper_augmentation(table, &g.augment)?;
    match (augmented, g.weight_decay > 0.0, g.without_batchnorm) {
        (false, false, false) => Some("plain"),
        (false, false, true) => Some("w/o BN"),
        (true, true, false) => Some("aug+wd"),
        _ => None,
    }
}

/// Figure 2: test accuracy against steps on true labels for the paper's settings (plain,
/// without BatchNorm, augmentation + weight decay) of Inception — or of the other models when
/// there is no Inception run — with the cumulative best test accuracy shaded (what early
/// stopping could gain).
pub fn fig2(cx: &Context) -> Result<Figure, Skipped> {
    let true_labels: Vec<&Group> = cx
        .groups
        .iter()
        .filter(|g| g.corruption.pixels.is_none() && g.corruption.labels == 0.0)
        .collect();
    if true_labels.is_empty() {
        return Err(Skipped {
            id: "fig2",
            reason: "no run on true labels".into(),
        });
    }
    let in_setting: Vec<&Group> = true_labels
        .iter()
        .copied()
        .filter(|g| figure2_setting(g).is_some())
        .collect();
    let inception: Vec<&Group> = in_setting
        .iter()
        .copied()
        .filter(|g| g.model.to_ascii_lowercase().starts_with("inception"))
        .collect();
    let used = if inception.is_empty() {
        in_setting
    } else {
        inception
    };
    // A run of the same setting trained until it fitted (Figure 1's) beside the budget's.
    let (used, fit_only) = cx.prefer_stop(used, |g| (same_curve_key(g), figure2_setting(g)), false);
    let left_out: Vec<String> = true_labels
        .iter()
        .filter(|g| !used.iter().any(|u| std::ptr::eq(*u, **g)))
        .filter(|g| !fit_only.iter().any(|u| std::ptr::eq(*u, **g)))
        .map(|g| format!("{}, {}", g.model_label(), g.regularizers_label()))
        .collect();
    if used.is_empty() {
        return Err(Skipped {
            id: "fig2",
            reason: format!(
                "no true-label run in one of the paper's settings (plain, w/o BatchNorm, crop+wd); not drawn: {}",
                left_out.join("; ")
            ),
        });
    }
    let mut fig = cx.figure(
        "fig2",
        "Figure 2: regularizers and early stopping",
        "thousands of training steps",
        "test accuracy (%)",
        &used,
    );
    if !left_out.is_empty() {
        fig.notes.push(format!(
            "left out, not one of the paper's settings (Inception plain, w/o BatchNorm, crop+wd): {}",
            left_out.join("; ")
        ));
    }
    fig.note_left_out(
        "trained until they fit beside the fixed budget drawn here",
        &fit_only,
        |g| format!("{}, {}", g.model_label(), g.regularizers_label()),
    );
    fig.y_range = Some((0.0, 100.0));
    fig.x_from_zero = true;
    // Several models: small multiples, one panel per model (with and without BatchNorm in one),
    // each setting in the same colour in every panel.
    let panel_of = |g: &Group| (g.dataset.clone(), model_display(&g.model));
    let mut panels: Vec<(String, String)> = Vec::new();
    for g in &used {
        if !panels.contains(&panel_of(g)) {
            panels.push(panel_of(g));
        }
    }
    let several_models = panels
        .iter()
        .map(|p| &p.1)
        .collect::<std::collections::BTreeSet<_>>()
        .len()
        > 1;
    let mut drawn: Vec<(usize, String, usize)> = Vec::new(); // (group, label, colour), panel in colour order
    let mut panel_index: Vec<usize> = Vec::new();
    if several_models {
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
        const SETTINGS: [&str; 3] = ["plain", "w/o BN", "aug+wd"];
        for (p, key) in panels.iter().enumerate() {
            // Settings shared by the panel's curves (a model's own lr) are not named.
            let members: Vec<&Group> = used
                .iter()
                .copied()
                .filter(|g| panel_of(g) == *key)
                .collect();
            let common = common_settings(&members);
            let mut seen: Vec<usize> = Vec::new();
            for (i, g) in used.iter().enumerate().filter(|(_, g)| panel_of(g) == *key) {
                let setting = figure2_setting(g).unwrap_or("plain");
                let k = SETTINGS.iter().position(|s| *s == setting).unwrap_or(0);
                let colour = if seen.contains(&k) {
                    k + SETTINGS.len()
                } else {
                    k
                };
                seen.push(k);
                let mut label = match setting {
                    "w/o BN" => "no regularizer, w/o BatchNorm".to_string(),
                    _ => g.part(Part::Regularizers),
                };
                let settings = g.part_without(Part::Settings, &common);
                if !settings.is_empty() {
                    label = format!("{label}, {settings}");
                }
                drawn.push((i, label, colour));
                panel_index.push(p);
            }
        }
    } else {
        let labels = legend_labels(
            &used,
            &[
                Part::Dataset,
                Part::Model,
                Part::Regularizers,
                Part::Settings,
            ],
            &[Part::Regularizers],
        );
        for (i, label) in labels.into_iter().enumerate() {
            drawn.push((i, label, i));
            panel_index.push(0);
        }
    }
    for ((gi, label, i), panel) in drawn.into_iter().zip(panel_index) {
        let g = used[gi];
        let curves: Vec<Vec<(f64, f64)>> = cx
            .group_runs(g)
            .map(|r| {
                r.evals
                    .iter()
                    .filter_map(|e| e.test_acc.map(|a| (e.step as f64 / KILO, 100.0 * a)))
                    .collect()
            })
            .collect();
        let points = mean_curve(&curves);
        if points.is_empty() {
            continue;
        }
        let band = seed_band(&curves, &points);
        let mut best = f64::NEG_INFINITY;
        let best_so_far: Vec<(f64, f64)> = points
            .iter()
            .map(|&(x, y)| {
                best = best.max(y);
                (x, best)
            })
            .collect();
        let mut best_series = Series::line(format!("{label} (best so far)"), best_so_far, i);
        best_series.thin = true;
        best_series.in_legend = false;
        best_series.band_to = Some(points.clone());
        best_series.panel = panel;
        let mut line = Series::line(label, points, i);
        line.seed_band = band;
        line.panel = panel;
        fig.series.push(line);
        fig.series.push(best_series);
    }
    if fig.series.is_empty() {
        return Err(Skipped {
            id: "fig2",
            reason: "the true-label runs have no test evaluations yet".into(),
        });
    }
    Context::in_steps_when_short(&mut fig);
    Ok(fig)
}
