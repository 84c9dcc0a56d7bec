//! The paper's figures as data: which runs go into each, and the series they plot. Drawing is
//! `plot`'s job; the same series are written to a sidecar CSV so they can be checked as numbers.
//!
//! This module holds the figure's data model ([`Figure`], [`Series`]) and the [`Context`] every
//! figure is built from; each figure has a file of its own: `figure1` (1a, 1b, 1c), `figure2`,
//! `memorization`; `curves` averages the seeds' curves.

mod curves;
mod figure1;
mod figure2;
mod memorization;

use std::fmt::Write as _;

use crate::groups::Group;
use crate::runs::Run;

pub use curves::{mean_curve, seed_band};
pub use figure1::{fig1a, fig1b, fig1c};
pub use figure2::{fig2, figure2_setting};
pub use memorization::memorization;

/// One plotted line.
#[derive(Debug, Clone)]
pub struct Series {
    /// The legend entry (and the `series` column of the figure's CSV).
    pub name: String,
    /// (x, y) in plot units, sorted by x.
    pub points: Vec<(f64, f64)>,
    /// Index into `plot`'s palette (wrapping): one colour per condition, the same in every panel.
    pub color: usize,
    /// Drawn dashed (the corrupted and redrawn subsets of the memorization figure).
    pub dashed: bool,
    /// Drawn with a thin line (a secondary curve, such as Figure 2's best so far).
    pub thin: bool,
    /// Listed in the legend (false for a curve that only accompanies another).
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

/// One figure: its axes, its series and where they came from; `plot` draws it, [`Figure::csv`]
/// writes its numbers.
#[derive(Debug, Clone)]
pub struct Figure {
    /// File stem: fig1a, fig1b, fig1c, fig2, memorization.
    pub id: &'static str,
    /// The title drawn above the chart.
    pub title: String,
    /// The x axis label, with its unit.
    pub x_label: String,
    /// The y axis label, with its unit.
    pub y_label: String,
    /// Fixed x range; `None` fits the data.
    pub x_range: Option<(f64, f64)>,
    /// Fixed y range; `None` fits the data.
    pub y_range: Option<(f64, f64)>,
    /// Draw a marker at each point (figures of a few points, such as 1b and 1c).
    pub markers: bool,
    /// The x axis starts at 0 (steps): where training started, not where the first record is.
    pub x_from_zero: bool,
    /// The lines, in drawing and legend order.
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
    /// Every (x, y) point of every series.
    pub fn points(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.series.iter().flat_map(|s| s.points.iter().copied())
    }

    /// Adds the note "left out, `why`: a; b; …" naming `groups` with `describe`, if any.
    pub(crate) fn note_left_out(
        &mut self,
        why: &str,
        groups: &[&Group],
        describe: impl Fn(&Group) -> String,
    ) {
        if !groups.is_empty() {
            let named: Vec<String> = groups.iter().map(|g| describe(g)).collect();
            self.notes
                .push(format!("left out, {why}: {}", named.join("; ")));
        }
    }

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
    /// The figure's file stem, as in [`Figure::id`].
    pub id: &'static str,
    /// What runs it would need, printed on stderr.
    pub reason: String,
}

/// What every figure is built from: the runs read, and their groups of seeds.
pub struct Context<'a> {
    /// Every run of the report.
    pub runs: &'a [Run],
    /// The runs grouped by experiment (indices into `runs`).
    pub groups: &'a [Group],
    /// The training accuracy that counts as fitted (`--fit-threshold`).
    pub fit_threshold: f64,
}

impl Context<'_> {
    fn group_runs<'b>(&'b self, g: &'b Group) -> impl Iterator<Item = &'b Run> + 'b {
        g.runs.iter().map(|&i| &self.runs[i])
    }

    /// A figure drawn against thousands of steps whose runs are all shorter than 1,000 steps
    /// is drawn against steps (an axis of 0.0 to 0.2 thousand steps reads badly).
    fn in_steps_when_short(fig: &mut Figure) {
        let longest = fig.points().map(|p| p.0).fold(0.0f64, f64::max);
        if longest >= 1.0 || fig.series.is_empty() {
            return;
        }
        for s in &mut fig.series {
            for p in &mut s.points {
                p.0 *= KILO;
            }
            if let Some(to) = &mut s.band_to {
                to.iter_mut().for_each(|p| p.0 *= KILO);
            }
            if let Some(band) = &mut s.seed_band {
                band.iter_mut().for_each(|p| p.0 *= KILO);
            }
        }
        if let Some((a, b)) = &mut fig.x_range {
            *a *= KILO;
            *b *= KILO;
        }
        fig.x_label = "training steps".to_string();
    }

    /// [`prefer_stop`] on this report's runs.
    fn prefer_stop<'g, K: PartialEq>(
        &self,
        groups: Vec<&'g Group>,
        key: impl Fn(&Group) -> K,
        fit: bool,
    ) -> (Vec<&'g Group>, Vec<&'g Group>) {
        prefer_stop(self.runs, groups, key, fit)
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

/// Whether every run of `g` (indices into `runs`) trained until it fitted (`until_train_acc`),
/// rather than for a fixed budget.
pub(crate) fn trained_to_fit(runs: &[Run], g: &Group) -> bool {
    g.runs
        .iter()
        .all(|&i| runs[i].config.until_train_acc.is_some())
}

/// What makes two groups the same curve but for how they stopped: dataset, model,
/// regularizers, precision and every other setting but the stopping ones.
pub(crate) fn same_curve_key(g: &Group) -> (String, String, String, String, Vec<String>) {
    (
        g.dataset.clone(),
        g.model_label(),
        g.regularizers_label(),
        g.precision.clone(),
        g.settings_except(&["until_train_acc", "epochs", "max_steps"]),
    )
}

/// Of the groups that share a `key`, keep those trained until they fit (`fit` true) or those
/// that ran a fixed budget (`fit` false) where a key has both kinds; the others are returned as
/// left out. Figure 1 is about fitting, Figure 2 (and its early-stopping claim) about a fixed
/// budget: a run of the other kind of the same experiment (Table 1 shares them) would count the
/// same curve twice.
pub(crate) fn prefer_stop<'g, K: PartialEq>(
    runs: &[Run],
    groups: Vec<&'g Group>,
    key: impl Fn(&Group) -> K,
    fit: bool,
) -> (Vec<&'g Group>, Vec<&'g Group>) {
    let keyed: Vec<(K, bool)> = groups
        .iter()
        .map(|g| (key(g), trained_to_fit(runs, g)))
        .collect();
    let (mut kept, mut left_out) = (Vec::new(), Vec::new());
    for (g, (k, to_fit)) in groups.iter().zip(&keyed) {
        let other_kind_only = *to_fit != fit && keyed.iter().any(|(k2, f2)| k2 == k && *f2 == fit);
        if other_kind_only {
            left_out.push(*g);
        } else {
            kept.push(*g);
        }
    }
    (kept, left_out)
}

/// Steps are plotted in thousands.
const KILO: f64 = 1000.0;
