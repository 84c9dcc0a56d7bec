//! The results table (the paper's Table 1 layout): one row per group of runs, mean ± std over
//! seeds, optionally beside the paper's numbers; written as Markdown and as CSV.

use std::fmt::Write as _;

use crate::groups::Group;
use crate::paper::{self, PaperRow};
use crate::runs::{Pixels, Run, fmt_num};
use crate::stats::{mean, std};

/// Mean and (for two or more seeds) standard deviation.
#[derive(Debug, Clone, Copy)]
pub struct Stat {
    /// The mean over the seeds.
    pub mean: f64,
    /// The sample standard deviation (n − 1), with two or more seeds.
    pub std: Option<f64>,
    /// How many seeds the numbers are over.
    pub n: usize,
}

impl Stat {
    fn of(xs: &[f64]) -> Option<Stat> {
        (!xs.is_empty()).then(|| Stat {
            mean: mean(xs),
            std: std(xs),
            n: xs.len(),
        })
    }
}

/// One line of the results table: a group of runs that differ only by seed.
#[derive(Debug, Clone)]
pub struct Row {
    /// The dataset's name.
    pub dataset: String,
    /// The model as shown ([`Group::model_label`]).
    pub model: String,
    /// The randomization as shown ([`Group::data_label`]).
    pub data: String,
    /// The label corruption probability (1 = random labels).
    pub label_corruption: f64,
    /// The pixel randomization, if any.
    pub pixels: Option<Pixels>,
    /// Augmentation, weight decay and dropout ([`Group::regularizers_label`]).
    pub regularizers: String,
    /// Other differing settings ([`Group::settings_label`]).
    pub settings: String,
    /// "f32" or "bf16" (`train --precision`).
    pub precision: String,
    /// The run folders of the row.
    pub runs: Vec<String>,
    /// How many of them have no summary.json yet (their last evaluation is used).
    pub in_progress: usize,
    /// Final training accuracy, percent.
    pub train_acc: Option<Stat>,
    /// When the training metrics scored a fixed subset (`train --eval-train-subset`): how many
    /// examples of how many (the smallest subset over the row's runs).
    pub train_scored: Option<(usize, usize)>,
    /// Final test accuracy, percent.
    pub test_acc: Option<Stat>,
    /// Train minus test accuracy, percentage points.
    pub gen_error: Option<Stat>,
    /// Top-5 accuracies in percent, over the runs that recorded them.
    pub train_top5: Option<Stat>,
    /// Test top-5 accuracy in percent.
    pub test_top5: Option<Stat>,
    /// Over the runs that reached the threshold; `runs_fitted` says how many did.
    pub steps_to_fit: Option<Stat>,
    /// Epochs to reach the fit threshold, over the runs that did.
    pub epochs_to_fit: Option<Stat>,
    /// How many runs reached the fit threshold.
    pub runs_fitted: usize,
    /// The paper's numbers for the same experiment (with `--paper`), if it has them.
    pub paper: Option<PaperRow>,
}

/// One row per group, in the groups' order, with `fit_threshold` (a training accuracy, 0–1)
/// defining "fitted"; `with_paper` looks up the paper's matching numbers.
pub fn rows(runs: &[Run], groups: &[Group], fit_threshold: f64, with_paper: bool) -> Vec<Row> {
    groups
        .iter()
        .map(|g| {
            let members: Vec<&Run> = g.runs.iter().map(|&i| &runs[i]).collect();
            let mut train = Vec::new();
            let mut test = Vec::new();
            let mut gap = Vec::new();
            let mut train_top5 = Vec::new();
            let mut test_top5 = Vec::new();
            let mut steps = Vec::new();
            let mut epochs = Vec::new();
            for r in &members {
                let (tr, te) = r.final_accuracy();
                if let Some(tr) = tr {
                    train.push(100.0 * tr);
                }
                if let Some(te) = te {
                    test.push(100.0 * te);
                }
                if let (Some(tr), Some(te)) = (tr, te) {
                    gap.push(100.0 * (tr - te));
                }
                let (tr5, te5) = r.final_top5();
                train_top5.extend(tr5.map(|a| 100.0 * a));
                test_top5.extend(te5.map(|a| 100.0 * a));
                let (s, e) = r.time_to_fit(fit_threshold);
                if let Some(s) = s {
                    steps.push(s as f64);
                    if let Some(e) = e {
                        epochs.push(e);
                    }
                }
            }
            Row {
                dataset: g.dataset.clone(),
                model: g.model_label(),
                data: g.data_label(),
                label_corruption: g.corruption.labels,
                pixels: g.corruption.pixels,
                regularizers: g.regularizers_label(),
                settings: g.settings_label(),
                precision: g.precision.clone(),
                runs: members
                    .iter()
                    .map(|r| r.dir.display().to_string())
                    .collect(),
                in_progress: members.iter().filter(|r| r.in_progress()).count(),
                train_acc: Stat::of(&train),
                train_scored: members
                    .iter()
                    .filter_map(|r| r.config.eval_train_subset.map(|k| (k, r.config.train_size)))
                    .min(),
                test_acc: Stat::of(&test),
                gen_error: Stat::of(&gap),
                train_top5: Stat::of(&train_top5),
                test_top5: Stat::of(&test_top5),
                runs_fitted: steps.len(),
                steps_to_fit: Stat::of(&steps),
                epochs_to_fit: Stat::of(&epochs),
                paper: if with_paper {
                    paper::matching_row(g)
                } else {
                    None
                },
            }
        })
        .collect()
}

/// A CSV field, quoted when it needs to be.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// A CSV number: rounded to `decimals`, written in its shortest form ("51", "1.414214").
fn num(x: Option<f64>, decimals: usize) -> String {
    match x {
        Some(v) if v.is_finite() => {
            let scale = 10f64.powi(decimals as i32);
            let r = (v * scale).round() / scale;
            format!("{}", if r == 0.0 { 0.0 } else { r })
        }
        _ => String::new(),
    }
}

fn pixels_name(p: Option<Pixels>) -> &'static str {
    p.map_or("", Pixels::name)
}

/// Which top-5 columns the table has: only those some row has numbers for (runs before schema 1,
/// and runs with five classes or fewer, have none).
#[derive(Debug, Clone, Copy)]
struct Top5Columns {
    train: bool,
    test: bool,
}

impl Top5Columns {
    fn of(rows: &[Row]) -> Top5Columns {
        Top5Columns {
            train: rows.iter().any(|r| r.train_top5.is_some()),
            test: rows.iter().any(|r| r.test_top5.is_some()),
        }
    }
}

/// The rows as CSV, one header line then one line per row; top-5 columns only when some row
/// has them, the paper's only `with_paper`.
pub fn csv(rows: &[Row], fit_threshold: f64, with_paper: bool) -> String {
    let mut header = vec![
        "dataset",
        "model",
        "data",
        "label_corruption",
        "pixels",
        "regularizers",
        "settings",
        "precision",
        "runs",
        "in_progress",
        "train_acc_pct",
        "train_acc_pct_std",
        "test_acc_pct",
        "test_acc_pct_std",
    ];
    let top5 = Top5Columns::of(rows);
    if top5.train {
        header.extend(["train_top5_pct", "train_top5_pct_std"]);
    }
    if top5.test {
        header.extend(["test_top5_pct", "test_top5_pct_std"]);
    }
    header.extend([
        "gen_error_pct",
        "gen_error_pct_std",
        "fit_threshold",
        "runs_fitted",
        "steps_to_fit",
        "steps_to_fit_std",
        "epochs_to_fit",
        "epochs_to_fit_std",
    ]);
    if with_paper {
        header.extend([
            "paper_table",
            "paper_train_acc_pct",
            "paper_test_acc_pct",
            "paper_test_top5_pct",
            "train_diff_pct",
            "test_diff_pct",
        ]);
        if top5.test {
            header.push("test_top5_diff_pct");
        }
    }
    let mut out = header.join(",");
    out.push('\n');
    for r in rows {
        let mean = |s: Option<Stat>, d| num(s.map(|s| s.mean), d);
        let sd = |s: Option<Stat>, d| num(s.and_then(|s| s.std), d);
        let mut fields = vec![
            csv_field(&r.dataset),
            csv_field(&r.model),
            csv_field(&r.data),
            fmt_num(r.label_corruption),
            pixels_name(r.pixels).to_string(),
            csv_field(&r.regularizers),
            csv_field(&r.settings),
            csv_field(&r.precision),
            r.runs.len().to_string(),
            r.in_progress.to_string(),
            mean(r.train_acc, 6),
            sd(r.train_acc, 6),
            mean(r.test_acc, 6),
            sd(r.test_acc, 6),
        ];
        if top5.train {
            fields.extend([mean(r.train_top5, 6), sd(r.train_top5, 6)]);
        }
        if top5.test {
            fields.extend([mean(r.test_top5, 6), sd(r.test_top5, 6)]);
        }
        fields.extend([
            mean(r.gen_error, 6),
            sd(r.gen_error, 6),
            fmt_num(fit_threshold),
            r.runs_fitted.to_string(),
            mean(r.steps_to_fit, 3),
            sd(r.steps_to_fit, 3),
            mean(r.epochs_to_fit, 6),
            sd(r.epochs_to_fit, 6),
        ]);
        if with_paper {
            let p = r.paper;
            let diff = |ours: Option<Stat>, theirs: Option<f64>| match (ours, theirs) {
                (Some(o), Some(t)) => num(Some(o.mean - t), 6),
                _ => String::new(),
            };
            fields.extend([
                p.map(|p| p.table.to_string()).unwrap_or_default(),
                num(p.and_then(|p| p.train), 2),
                num(p.and_then(|p| p.test), 2),
                num(p.and_then(|p| p.test_top5), 2),
                diff(r.train_acc, p.and_then(|p| p.train)),
                diff(r.test_acc, p.and_then(|p| p.test)),
            ]);
            if top5.test {
                fields.push(diff(r.test_top5, p.and_then(|p| p.test_top5)));
            }
        }
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

fn pm(s: Option<Stat>, decimals: usize) -> String {
    match s {
        None => "–".to_string(),
        Some(Stat {
            mean,
            std: Some(sd),
            ..
        }) => format!("{mean:.decimals$} ± {sd:.decimals$}"),
        Some(Stat { mean, .. }) => format!("{mean:.decimals$}"),
    }
}

/// The rows as a Markdown table, mean ± std over seeds; a dataset column only with several
/// datasets, settings and precision columns only when a row has them.
pub fn markdown(rows: &[Row], fit_threshold: f64, with_paper: bool) -> String {
    let several_datasets = rows.iter().any(|r| r.dataset != rows[0].dataset);
    let any_settings = rows.iter().any(|r| !r.settings.is_empty());
    // The precision column appears when a row is not the paper's float32.
    let any_precision = rows.iter().any(|r| r.precision != "f32");
    let pct = fmt_num((fit_threshold * 1000.0).round() / 10.0);
    let top5 = Top5Columns::of(rows);

    let mut head: Vec<String> = Vec::new();
    if several_datasets {
        head.push("Dataset".into());
    }
    head.extend(["Model".into(), "Data".into(), "Regularizers".into()]);
    if any_settings {
        head.push("Settings".into());
    }
    if any_precision {
        head.push("Precision".into());
    }
    head.extend([
        "Seeds".into(),
        "Train acc. (%)".into(),
        "Test acc. (%)".into(),
    ]);
    if top5.train {
        head.push("Train top-5 (%)".into());
    }
    if top5.test {
        head.push("Test top-5 (%)".into());
    }
    head.extend([
        "Gen. error (pp)".into(),
        format!("Steps to {pct}% train"),
        format!("Epochs to {pct}% train"),
    ]);
    if with_paper {
        head.extend([
            "Paper train (%)".into(),
            "Paper test (%)".into(),
            "Δ test (pp)".into(),
        ]);
        if top5.test {
            head.extend(["Paper test top-5 (%)".into(), "Δ test top-5 (pp)".into()]);
        }
    }

    let mut out = String::new();
    let _ = writeln!(out, "| {} |", head.join(" | "));
    let _ = writeln!(
        out,
        "|{}|",
        head.iter()
            .enumerate()
            .map(|(i, _)| {
                if i < 3
                    + several_datasets as usize
                    + any_settings as usize
                    + any_precision as usize
                {
                    "---"
                } else {
                    "---:"
                }
            })
            .collect::<Vec<_>>()
            .join("|")
    );
    let mut footnotes: Vec<String> = Vec::new();
    for r in rows {
        let mut cells: Vec<String> = Vec::new();
        if several_datasets {
            cells.push(r.dataset.clone());
        }
        cells.extend([r.model.clone(), r.data.clone(), r.regularizers.clone()]);
        if any_settings {
            cells.push(r.settings.clone());
        }
        if any_precision {
            cells.push(r.precision.clone());
        }
        let mut seeds = r.runs.len().to_string();
        if r.in_progress > 0 {
            seeds.push('*');
            if !footnotes.iter().any(|f| f.starts_with("\\*")) {
                footnotes.push("\\* some runs of this row are still in progress: their last evaluation is used.".to_string());
            }
        }
        cells.push(seeds);
        match r.train_scored {
            Some((k, n)) => {
                cells.push(format!("{} †", pm(r.train_acc, 2)));
                let note = "† training accuracy on a fixed subset of the training examples \
                    (`train --eval-train-subset`):";
                let this = format!(
                    " {} of {}, {} {}",
                    fmt_count(k),
                    fmt_count(n),
                    r.model,
                    r.data
                );
                match footnotes.iter_mut().find(|f| f.starts_with('†')) {
                    Some(f) => f.push_str(&format!(";{this}")),
                    None => footnotes.push(format!("{note}{this}")),
                }
            }
            None => cells.push(pm(r.train_acc, 2)),
        }
        cells.push(pm(r.test_acc, 2));
        if top5.train {
            cells.push(pm(r.train_top5, 2));
        }
        if top5.test {
            cells.push(pm(r.test_top5, 2));
        }
        cells.push(pm(r.gen_error, 2));
        let fit = |s: Option<Stat>, d: usize| {
            let text = pm(s, d);
            if r.runs_fitted < r.runs.len() {
                format!("{text} ({}/{} fit)", r.runs_fitted, r.runs.len())
            } else {
                text
            }
        };
        cells.push(fit(r.steps_to_fit, 0));
        cells.push(fit(r.epochs_to_fit, 1));
        if with_paper {
            let p = r.paper;
            let show = |x: Option<f64>| x.map(|v| format!("{v:.2}")).unwrap_or_else(|| "–".into());
            cells.push(show(p.and_then(|p| p.train)));
            cells.push(show(p.and_then(|p| p.test)));
            let delta = |ours: Option<Stat>, theirs: Option<f64>| match (ours, theirs) {
                (Some(o), Some(t)) => format!("{:+.2}", o.mean - t),
                _ => "–".into(),
            };
            cells.push(delta(r.test_acc, p.and_then(|p| p.test)));
            if top5.test {
                cells.push(show(p.and_then(|p| p.test_top5)));
                cells.push(delta(r.test_top5, p.and_then(|p| p.test_top5)));
            }
        }
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    for f in footnotes {
        let _ = writeln!(out, "\n{f}");
    }
    out
}

/// `1281167` → `1,281,167`.
fn fmt_count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The paper's own rows, for the summary.
pub fn paper_markdown() -> String {
    let mut out = String::from(
        "| Table | Model | Augmentation | Weight decay | Dropout | Labels | Train (%) | Test (%) | Test top-5 (%) |\n|---|---|---|---|---|---|---:|---:|---:|\n",
    );
    let yn = |b: bool| if b { "yes" } else { "no" };
    let show = |x: Option<f64>| x.map(|v| format!("{v:.2}")).unwrap_or_else(|| "–".into());
    for r in paper::ROWS {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.table,
            r.model,
            yn(r.augmentation),
            yn(r.weight_decay),
            yn(r.dropout),
            if r.random_labels { "random" } else { "true" },
            show(r.train),
            show(r.test),
            show(r.test_top5)
        );
    }
    out
}
