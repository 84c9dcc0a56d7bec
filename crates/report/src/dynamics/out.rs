//! Writing the dynamics: `dynamics.csv` and `dynamics.md` (the table), the ECDF figure of
//! first-fitted steps, the index lists of the hardest and easiest examples (`dynamics/`, for
//! `subset --indices`), and the section of summary.md that says how to read them.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use anyhow::{Context as _, Result};

use super::measures::ecdf;
use super::{Condition, Dynamics, Row, RunDynamics, Subset, rows};
use crate::figures::{Context, Figure, Series, mean_curve, seed_band};
use crate::stats::mean;
use crate::table::csv_field;
use crate::{Format, plot, write_bytes, write_text};

/// Examples in each hardest / easiest list (an 8 × 8 `inspect --grid --first 64`).
pub const LIST_LEN: usize = 64;

/// The figure's file stem.
pub const FIGURE_ID: &str = "dynamics-first-fitted";

fn opt(x: Option<f64>, decimals: usize) -> String {
    x.filter(|v| v.is_finite())
        .map_or(String::new(), |v| format!("{v:.decimals$}"))
}

/// The table as CSV: one row per condition and subset.
pub fn csv(d: &Dynamics, rows: &[Row]) -> String {
    let mut out = String::from(
        "model,data,regularizers,settings,subset,runs,examples,evaluations,eval_every_steps,\
         eval_every_epochs,fitted_pct,median_first_fitted_step,median_first_fitted_epoch,\
         unforgettable_pct,never_learned_pct,forgetting_events_mean,forgotten_pct,\
         seed_spearman,seed_pairs,seed_examples,el2n_mean,el2n_step,el2n_spearman_first_fitted\n",
    );
    for r in rows {
        let c = &d.conditions[r.condition];
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            csv_field(&c.model),
            csv_field(&c.data),
            csv_field(&c.regularizers),
            csv_field(&c.settings),
            r.subset.name(),
            r.runs,
            opt(Some(r.examples), 1),
            opt(Some(r.evaluations), 1),
            r.every_steps.map_or(String::new(), |s| s.to_string()),
            opt(r.every_epochs, 3),
            opt(Some(r.fitted_pct), 2),
            opt(r.median_fitted_step, 1),
            opt(r.median_fitted_epoch, 2),
            opt(Some(r.unforgettable_pct), 2),
            opt(Some(r.never_learned_pct), 2),
            opt(Some(r.forgetting_mean), 4),
            opt(Some(r.forgotten_pct), 2),
            opt(r.seed_spearman, 4),
            r.seed_pairs,
            opt(r.seed_examples, 1),
            opt(r.el2n_mean, 4),
            r.el2n_step.map_or(String::new(), |s| s.to_string()),
            opt(r.el2n_spearman, 4),
        );
    }
    out
}

/// "every 16 steps (1 epoch)".
fn interval_text(steps: Option<u64>, epochs: Option<f64>) -> String {
    match (steps, epochs) {
        (None, _) => "one evaluation only".to_string(),
        (Some(s), None) => format!("every {s} steps"),
        (Some(s), Some(e)) => {
            let e = format!("{e:.3}");
            let e = e.trim_end_matches('0').trim_end_matches('.');
            format!(
                "every {s} steps ({e} epoch{})",
                if e == "1" { "" } else { "s" }
            )
        }
    }
}

/// Seed ρ, with the examples it compared when fewer than the subset (the examples clean, or
/// corrupted, in both runs of a pair).
fn seed_cell(r: &Row) -> String {
    match (r.seed_spearman, r.seed_examples) {
        (Some(rho), Some(k)) if k < r.examples - 0.5 => format!("{rho:.3} ({k:.0} in both)"),
        (Some(rho), _) => format!("{rho:.3}"),
        (None, _) => "–".to_string(),
    }
}

/// The table as Markdown.
pub fn markdown(d: &Dynamics, rows: &[Row]) -> String {
    let mut out = String::from(
        "| Model | Data | Regularizers | Examples | Runs | Counted | Fitted % | Median first fitted (step) | \
         Unforgettable % | Never learned % | Forgetting events / example | Seed ρ | EL2N ρ |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let c = &d.conditions[r.condition];
        let regularizers = if c.settings.is_empty() {
            c.regularizers.clone()
        } else {
            format!("{} {}", c.regularizers, c.settings)
        };
        let dash = |s: String| if s.is_empty() { "–".to_string() } else { s };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} ({:.0}) | {} | {} | {:.1} | {} | {:.1} | {:.1} | {:.3} | {} | {} |",
            c.model,
            c.data,
            regularizers,
            r.subset.name(),
            r.examples,
            r.runs,
            interval_text(r.every_steps, r.every_epochs),
            r.fitted_pct,
            dash(opt(r.median_fitted_step, 0)),
            r.unforgettable_pct,
            r.never_learned_pct,
            r.forgetting_mean,
            seed_cell(r),
            dash(opt(r.el2n_spearman, 3)),
        );
    }
    out
}

/// The ECDF of first-fitted steps: one panel per model, one color per condition, the clean
/// subset solid and the corrupted one dashed (all examples, solid, where nothing is corrupted);
/// the mean over seeds with their range as a band.
pub fn figure(cx: &Context, d: &Dynamics) -> Option<Figure> {
    if d.conditions.is_empty() {
        return None;
    }
    let used: Vec<&crate::groups::Group> =
        d.conditions.iter().map(|c| &cx.groups[c.group]).collect();
    let mut fig = cx.figure(
        FIGURE_ID,
        "First fitted: examples fitted for good by each step",
        "thousands of training steps",
        "examples fitted from then on (% of the subset)",
        &used,
    );
    fig.runs = d
        .conditions
        .iter()
        .flat_map(|c| c.runs.iter())
        .map(|r| r.name.clone())
        .collect();
    fig.y_range = Some((0.0, 100.0));
    fig.x_from_zero = true;
    let several_datasets = d
        .conditions
        .iter()
        .any(|c| c.dataset != d.conditions[0].dataset);
    let panel_of = |c: &Condition| {
        if several_datasets {
            format!("{}: {}", c.dataset, c.model)
        } else {
            c.model.clone()
        }
    };
    let mut panels: Vec<String> = Vec::new();
    let mut colors: Vec<&str> = Vec::new();
    for c in &d.conditions {
        if !panels.contains(&panel_of(c)) {
            panels.push(panel_of(c));
        }
        if !colors.contains(&c.legend.as_str()) {
            colors.push(&c.legend);
        }
    }
    for c in &d.conditions {
        let panel = panels.iter().position(|p| *p == panel_of(c)).unwrap_or(0);
        let color = colors.iter().position(|l| *l == c.legend).unwrap_or(0);
        for subset in c.subsets() {
            if subset == Subset::All && c.subsets().len() > 1 {
                continue; // clean and corrupted say more than their sum
            }
            let curves = hold_to_the_end(c.runs.iter().map(|r| curve(r, subset)).collect());
            let points = mean_curve(&curves);
            let name = match subset {
                Subset::All => c.legend.clone(),
                s => format!("{}: {}", c.legend, s.name()),
            };
            fig.series.push(Series {
                name,
                seed_band: seed_band(&curves, &points),
                points,
                color,
                dashed: subset == Subset::Corrupted,
                thin: false,
                in_legend: true,
                band_to: None,
                panel,
            });
        }
    }
    if panels.len() > 1 {
        fig.panels = panels;
    }
    Some(fig)
}

/// Runs of one condition stop at different steps (each at 100% training accuracy): a stopped
/// run's ECDF holds its last value from then on (training stopped, nothing changes), so the mean
/// and the band cover the longest run instead of ending with the shortest. Every run is
/// evaluated at the same interval, so the longest run's steps extend the others.
fn hold_to_the_end(mut curves: Vec<Vec<(f64, f64)>>) -> Vec<Vec<(f64, f64)>> {
    let Some(longest) = curves.iter().max_by(|a, b| a.len().cmp(&b.len())).cloned() else {
        return curves;
    };
    for c in &mut curves {
        if let Some(&(end, last)) = c.last() {
            c.extend(longest.iter().filter(|p| p.0 > end).map(|p| (p.0, last)));
        }
    }
    curves
}

/// One run's ECDF of first-fitted steps over `subset`: (thousands of steps, percent).
fn curve(r: &RunDynamics, subset: Subset) -> Vec<(f64, f64)> {
    let fitted: Vec<Option<usize>> = (0..r.n())
        .filter(|&i| r.in_subset(i, subset))
        .map(|i| r.first_fitted[i])
        .collect();
    ecdf(&fitted, r.steps.len())
        .into_iter()
        .zip(&r.steps)
        .map(|(f, &s)| (s as f64 / 1000.0, 100.0 * f))
        .collect()
}

/// The hardest and the easiest examples of `c` by first-fitted step (mean over runs; never
/// fitted = one interval past the last evaluation), ties broken by forgetting events, then
/// index: two lists for `subset --indices`, each line `index  # why`.
pub fn lists(c: &Condition) -> Option<(String, String)> {
    if !c.same_examples() {
        return None;
    }
    let n = c.runs[0].n();
    let fitted: Vec<Vec<f64>> = c.runs.iter().map(RunDynamics::fitted_steps).collect();
    let score: Vec<f64> = (0..n)
        .map(|i| mean(&fitted.iter().map(|f| f[i]).collect::<Vec<_>>()))
        .collect();
    let forgotten: Vec<f64> = (0..n)
        .map(|i| {
            mean(
                &c.runs
                    .iter()
                    .map(|r| r.forgetting[i] as f64)
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let never: Vec<usize> = (0..n)
        .map(|i| {
            c.runs
                .iter()
                .filter(|r| r.first_fitted[i].is_none())
                .count()
        })
        .collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| {
        score[a]
            .total_cmp(&score[b])
            .then(forgotten[a].total_cmp(&forgotten[b]))
            .then(a.cmp(&b))
    });
    let k = LIST_LEN.min(n);
    let easiest: Vec<usize> = order[..k].to_vec();
    order.sort_by(|&a, &b| {
        score[b]
            .total_cmp(&score[a])
            .then(forgotten[b].total_cmp(&forgotten[a]))
            .then(a.cmp(&b))
    });
    let hardest: Vec<usize> = order[..k].to_vec();
    let runs = c.runs.len();
    let first = &c.runs[0];
    let header = |which: &str| {
        let mut h = format!(
            "# The {k} {which} training examples of {}, {}, {} by first-fitted step (mean over {runs} run{}; \
             an example never fitted counts as one evaluation interval past the last).\n",
            c.model,
            c.data,
            c.regularizers,
            if runs == 1 { "" } else { "s" }
        );
        let mut data: Vec<&str> = c.runs.iter().map(|r| r.data.as_str()).collect();
        data.dedup();
        let _ = writeln!(
            h,
            "# Indices into the training split of {}; labels and corruption below are {}'s.",
            data.join(", "),
            first.data
        );
        let _ = writeln!(
            h,
            "# See them: subset --indices THIS_FILE {} | inspect - --grid {which}.png --first {k}",
            first.data
        );
        h
    };
    let line = |i: usize| {
        let mut why = if never[i] == runs {
            "never fitted".to_string()
        } else {
            format!("first fitted at step {:.0}", score[i])
        };
        if never[i] > 0 && never[i] < runs {
            let _ = write!(why, " ({} of {runs} runs never)", never[i]);
        }
        let _ = write!(why, ", forgotten {} times", trim(forgotten[i]));
        let _ = write!(why, ", label {}", first.labels[i]);
        if first.corrupted.as_ref().is_some_and(|m| m[i]) {
            why.push_str(" (corrupted)");
        }
        format!("{i}  # {why}\n")
    };
    let list = |which: &str, idx: &[usize]| {
        let mut s = header(which);
        for &i in idx {
            s.push_str(&line(i));
        }
        s
    };
    Some((list("hardest", &hardest), list("easiest", &easiest)))
}

/// 2 → "2", 1.5 → "1.5", 1.3333 → "1.33".
fn trim(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Writes the table, the figure and the lists into `out`, and returns the section of
/// summary.md ("" when no run recorded per-example dynamics).
pub(crate) fn write(
    out: &Path,
    cx: &Context,
    d: &Dynamics,
    formats: &[Format],
    size: (u32, u32),
) -> Result<String> {
    if d.conditions.is_empty() {
        return Ok(String::new());
    }
    for run in &d.without {
        eprintln!(
            "report: {run}: no {}; left out of the per-example dynamics",
            super::PER_EXAMPLE_FILE
        );
    }
    let rows = rows(d);
    write_text(&out.join("dynamics.csv"), &csv(d, &rows))?;
    let table = markdown(d, &rows);
    write_text(&out.join("dynamics.md"), &table)?;

    let mut md = String::from("\n## Per-example learning dynamics\n\n");
    let recorded: usize = d.conditions.iter().map(|c| c.runs.len()).sum();
    let _ = writeln!(
        md,
        "{recorded} runs recorded every training example's correctness at every evaluation \
         (`per_example.npz`, `train --per-example`). An example's **first-fitted step** is the first \
         evaluation from which it stays correct to the last one (never, if it is wrong at the end); \
         a **forgetting event** is correct at one evaluation and wrong at the next; an example is \
         **unforgettable** when it was learned and never forgotten.\n"
    );
    let mut intervals: Vec<String> = rows
        .iter()
        .map(|r| interval_text(r.every_steps, r.every_epochs))
        .collect();
    intervals.dedup();
    intervals.sort();
    intervals.dedup();
    let _ = writeln!(
        md,
        "Counted at each evaluation, {}. Toneva et al. (2019) counted at every presentation of an \
         example (each mini-batch it is in) and found about 92% of MNIST and 31% of CIFAR-10 \
         (ResNet) unforgettable. A coarser interval sees fewer events: an example forgotten and \
         relearned between two evaluations counts as never forgotten, so these percentages are upper \
         bounds for the same training counted more often.\n",
        intervals.join("; ")
    );

    if let Some(fig) = figure(cx, d) {
        write_text(&out.join(format!("{}.csv", fig.id)), &fig.csv())?;
        for f in formats {
            match f {
                Format::Png => write_bytes(
                    &out.join(format!("{}.png", fig.id)),
                    &plot::png(&fig, size)?,
                )?,
                Format::Svg => write_text(
                    &out.join(format!("{}.svg", fig.id)),
                    &plot::svg(&fig, size)?,
                )?,
            }
        }
        let ext = if formats.contains(&Format::Png) {
            Some("png")
        } else if formats.contains(&Format::Svg) {
            Some("svg")
        } else {
            None
        };
        let _ = writeln!(md, "### {}\n", fig.title);
        if let Some(ext) = ext {
            let _ = writeln!(md, "![{}]({}.{ext})\n", fig.title, fig.id);
        }
        let _ = writeln!(
            md,
            "The share of each subset fitted for good by each step (an ECDF; examples never fitted stay \
             in the denominator, so a curve ends at the fraction fitted): one panel per model, one \
             color per condition, the corrupted examples dashed, the mean over seeds with their range \
             as a pale band; a run that stopped earlier than another (at 100% training accuracy) \
             holds its last value. Plotted series: [{id}.csv]({id}.csv).\n",
            id = fig.id
        );
    }

    md.push_str("### Table\n\n");
    md.push_str(&table);
    md.push_str(
        "\nThe same with more digits and columns: [dynamics.csv](dynamics.csv). Percentages and \
         medians are per run, then averaged over runs. *Seed ρ*: Spearman's rank correlation of the \
         first-fitted steps of the same examples between two seeds (never fitted ranks last), the \
         mean over all pairs of seeds; Arpit et al. (2017): real data has examples that are easy for \
         every seed (ρ well above 0), noise has not (ρ near 0 for random labels and random pixels, \
         and for corrupted examples). Seeds of a corrupted condition may have corrupted different \
         examples (a sweep corrupts once per seed); the clean and corrupted rows compare the examples \
         that are clean (corrupted) in both runs. *EL2N ρ*: Spearman's correlation, within a run, of \
         each example's EL2N score (‖softmax − one-hot label‖₂ at the step in dynamics.csv, Paul et \
         al. 2021) with its first-fitted step: high EL2N early should mean fitted late.\n",
    );

    let dir = out.join("dynamics");
    let mut listed = String::new();
    for c in &d.conditions {
        let Some((hardest, easiest)) = lists(c) else {
            continue;
        };
        fs::create_dir_all(&dir)
            .with_context(|| format!("{}: cannot create directory", dir.display()))?;
        write_text(&dir.join(format!("{}-hardest.txt", c.slug)), &hardest)?;
        write_text(&dir.join(format!("{}-easiest.txt", c.slug)), &easiest)?;
        let _ = writeln!(
            listed,
            "- {}, {}, {}: [hardest](dynamics/{s}-hardest.txt), [easiest](dynamics/{s}-easiest.txt)",
            c.model,
            c.data,
            c.regularizers,
            s = c.slug
        );
    }
    if !listed.is_empty() {
        let _ = writeln!(
            md,
            "\n### The hardest and easiest examples\n\n\
             The {LIST_LEN} examples fitted last (hardest) and first (easiest) by first-fitted step, \
             mean over seeds; one training index per line, with the reason after `#`:\n\n{listed}\n\
             To look at them: `subset --indices dynamics/<list>.txt <the run's data file> | inspect - \
             --grid hardest.png --first {LIST_LEN}` (each list names its data file).",
        );
    }
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_run_holds_its_last_value_to_the_longest_run() {
        let short = vec![(0.1, 20.0), (0.2, 100.0)];
        let long = vec![(0.1, 10.0), (0.2, 50.0), (0.3, 90.0), (0.4, 100.0)];
        let held = hold_to_the_end(vec![short, long.clone()]);
        assert_eq!(
            held[0],
            [(0.1, 20.0), (0.2, 100.0), (0.3, 100.0), (0.4, 100.0)]
        );
        assert_eq!(held[1], long);
        let mean = mean_curve(&held);
        assert_eq!(
            mean.last(),
            Some(&(0.4, 100.0)),
            "the mean covers the longest run"
        );
    }

    #[test]
    fn intervals_read_as_steps_and_epochs() {
        assert_eq!(
            interval_text(Some(16), Some(1.0)),
            "every 16 steps (1 epoch)"
        );
        assert_eq!(
            interval_text(Some(4), Some(0.25)),
            "every 4 steps (0.25 epochs)"
        );
        assert_eq!(interval_text(Some(16), None), "every 16 steps");
    }

    #[test]
    fn forgetting_means_read_short() {
        assert_eq!(trim(2.0), "2");
        assert_eq!(trim(1.5), "1.5");
        assert_eq!(trim(4.0 / 3.0), "1.33");
    }
}
