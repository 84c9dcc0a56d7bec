//! The paper's figures as data: which runs go into each, and the series they plot. Drawing is
//! `plot`'s job; the same series are written to a sidecar CSV so they can be checked as numbers.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::groups::{Group, Part, legend_labels, model_display};
use crate::paper;
use crate::runs::Run;
use crate::stats::mean;
use rethink_runs::EvalRecord;

/// One plotted line.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    /// (x, y) in plot units, sorted by x.
    pub points: Vec<(f64, f64)>,
    pub color: usize,
    pub dashed: bool,
    pub thin: bool,
    pub in_legend: bool,
    /// Shade the area between this line and these points (Figure 2's early-stopping potential).
    pub band_to: Option<Vec<(f64, f64)>>,
    /// The seeds' range at each point, (x, lowest, highest): drawn as a pale band; `None` with
    /// one seed.
    pub seed_band: Option<Vec<(f64, f64, f64)>>,
    /// Index into the figure's `panels` (0 when it has none).
    pub panel: usize,
}

impl Series {
    pub(crate) fn line(name: String, points: Vec<(f64, f64)>, color: usize) -> Series {
        Series {
            name,
            points,
            color,
            dashed: false,
            thin: false,
            in_legend: true,
            band_to: None,
            seed_band: None,
            panel: 0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Figure {
    /// File stem: fig1a, fig1b, fig1c, fig2, memorization.
    pub id: &'static str,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub x_range: Option<(f64, f64)>,
    pub y_range: Option<(f64, f64)>,
    pub markers: bool,
    /// The x axis starts at 0 (steps): where training started, not where the first record is.
    pub x_from_zero: bool,
    pub series: Vec<Series>,
    /// Panel titles of a figure drawn as small multiples; empty for one chart.
    pub panels: Vec<String>,
    /// Run directories that went into the figure.
    pub runs: Vec<String>,
    /// Datasets of those runs (more than one needs --allow-mixed).
    pub datasets: Vec<String>,
    /// What the reader should know (runs left out and why).
    pub notes: Vec<String>,
    /// Logarithmic x / y axis (the points stay in plain units; `plot` draws their logarithms).
    pub log_x: bool,
    /// See `log_x`.
    pub log_y: bool,
}

impl Figure {
    /// The plotted series, long format: `series,x,y,seed_min,seed_max`, with a leading `panel`
    /// column for small multiples; the seed range is empty where there is one seed.
    pub fn csv(&self) -> String {
        use crate::table::csv_field;
        let panels = !self.panels.is_empty();
        let mut out = String::from(if panels {
            "panel,series,x,y,seed_min,seed_max\n"
        } else {
            "series,x,y,seed_min,seed_max\n"
        });
        for s in &self.series {
            for (i, (x, y)) in s.points.iter().enumerate() {
                if panels {
                    let _ = write!(out, "{},", csv_field(&self.panels[s.panel]));
                }
                let (lo, hi) = s
                    .seed_band
                    .as_ref()
                    .and_then(|b| b.get(i))
                    .map_or((String::new(), String::new()), |b| {
                        (b.1.to_string(), b.2.to_string())
                    });
                let _ = writeln!(out, "{},{x},{y},{lo},{hi}", csv_field(&s.name));
            }
        }
        out
    }
}

/// Why a figure was not drawn.
pub struct Skipped {
    pub id: &'static str,
    pub reason: String,
}

pub struct Context<'a> {
    pub runs: &'a [Run],
    pub groups: &'a [Group],
    pub fit_threshold: f64,
}

impl Context<'_> {
    fn group_runs<'b>(&'b self, g: &'b Group) -> impl Iterator<Item = &'b Run> + 'b {
        g.runs.iter().map(|&i| &self.runs[i])
    }

    pub(crate) fn figure(
        &self,
        id: &'static str,
        title: &str,
        x: &str,
        y: &str,
        used: &[&Group],
    ) -> Figure {
        let mut runs: Vec<String> = Vec::new();
        let mut datasets: Vec<String> = Vec::new();
        for g in used {
            for r in self.group_runs(g) {
                runs.push(r.dir.display().to_string());
            }
            if !datasets.contains(&g.dataset) {
                datasets.push(g.dataset.clone());
            }
        }
        Figure {
            id,
            title: title.to_string(),
            x_label: x.to_string(),
            y_label: y.to_string(),
            x_range: None,
            y_range: None,
            markers: false,
            x_from_zero: false,
            series: Vec::new(),
            panels: Vec::new(),
            runs,
            datasets,
            notes: Vec::new(),
            log_x: false,
            log_y: false,
        }
    }
}

/// Mean of several curves sampled at possibly different steps: evaluated at the first curve's x
/// values inside the range all curves cover, others linearly interpolated.
pub fn mean_curve(curves: &[Vec<(f64, f64)>]) -> Vec<(f64, f64)> {
    let curves: Vec<&Vec<(f64, f64)>> = curves.iter().filter(|c| !c.is_empty()).collect();
    let Some(first) = curves.first() else {
        return Vec::new();
    };
    if curves.len() == 1 {
        return first.to_vec();
    }
    let lo = curves
        .iter()
        .map(|c| c[0].0)
        .fold(f64::NEG_INFINITY, f64::max);
    let hi = curves
        .iter()
        .map(|c| c[c.len() - 1].0)
        .fold(f64::INFINITY, f64::min);
    first
        .iter()
        .filter(|(x, _)| *x >= lo && *x <= hi)
        .map(|&(x, _)| {
            let ys: Vec<f64> = curves.iter().map(|c| interpolate(c, x)).collect();
            (x, mean(&ys))
        })
        .collect()
}

/// The seeds' lowest and highest value at each x of `mean` (a [`mean_curve`] of `curves`);
/// `None` for fewer than two curves.
pub fn seed_band(curves: &[Vec<(f64, f64)>], mean: &[(f64, f64)]) -> Option<Vec<(f64, f64, f64)>> {
    let curves: Vec<&Vec<(f64, f64)>> = curves.iter().filter(|c| !c.is_empty()).collect();
    if curves.len() < 2 {
        return None;
    }
    Some(
        mean.iter()
            .map(|&(x, _)| {
                let ys = curves.iter().map(|c| interpolate(c, x));
                let (lo, hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
                    (a.min(y), b.max(y))
                });
                (x, lo, hi)
            })
            .collect(),
    )
}

/// The lowest and highest of per-seed values at one point.
fn range_of(xs: &[f64]) -> Option<(f64, f64)> {
    (xs.len() >= 2).then(|| {
        xs.iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &y| {
                (a.min(y), b.max(y))
            })
    })
}

fn interpolate(c: &[(f64, f64)], x: f64) -> f64 {
    let i = c.partition_point(|p| p.0 < x);
    if i < c.len() && c[i].0 == x {
        return c[i].1;
    }
    if i == 0 {
        return c[0].1;
    }
    if i == c.len() {
        return c[c.len() - 1].1;
    }
    let (x0, y0) = c[i - 1];
    let (x1, y1) = c[i];
    y0 + (y1 - y0) * (x - x0) / (x1 - x0)
}

const KILO: f64 = 1000.0;

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
    Ok(fig)
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
    let left_out: Vec<String> = true_labels
        .iter()
        .filter(|g| !used.iter().any(|u| std::ptr::eq(*u, **g)))
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
                if !g.settings_label().is_empty() {
                    label = format!("{label}, {}", g.settings_label());
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
    Ok(fig)
}

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

fn fmt_pct(threshold: f64) -> String {
    crate::runs::fmt_num((threshold * 1000.0).round() / 10.0)
}
