//! `report`: the paper's tables and figures from any set of `train` run directories.
//!
//! Reads each run's `config.json`, `metrics.jsonl` and `summary.json`, groups runs that differ
//! only by seed, and writes `table.md`, `table.csv`, the figures (PNG/SVG plus a CSV of the
//! plotted series each) and `summary.md` into the output directory.

#![warn(missing_docs)]

pub mod claims;
pub mod dynamics;
pub mod figures;
pub mod groups;
pub mod kernel;
pub mod paper;
pub mod plot;
pub mod runs;
pub mod stats;
pub mod table;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use clap::Parser;
use rethink_cli::{UsageError, atomic_write};

use crate::figures::{Figure, Skipped};

/// Tables and figures of Zhang et al. (2017) from training runs.
///
/// Each RUN_DIR is a directory written by `train` (config.json, metrics.jsonl, and summary.json
/// once finished). Runs whose configs differ only in the seed are one experiment: the table shows
/// the mean ± standard deviation over them, the figures their mean curve. A run still in progress
/// is used up to its last complete metrics line.
///
/// Writes into --out: table.md, table.csv (one row per experiment: model, data/corruption,
/// regularizers, train and test accuracy, top-5 where recorded, generalization error, steps and
/// epochs to fit), fig1a (training loss vs steps per randomization, one panel per model), fig1b
/// (time to fit relative to true labels vs label corruption), fig1c (test error vs label
/// corruption), fig2 (test accuracy vs steps for the paper's settings: plain, w/o BatchNorm,
/// aug+wd; best-so-far shaded), memorization (training accuracy on the clean vs the corrupted and
/// the redrawn subset), each as .png/.svg plus .csv of the plotted series, and summary.md.
/// A figure without matching runs is skipped with a note on stderr. The paper's claims, checked
/// on the runs (holds / fails / partly / not run, with the numbers), go into claims.json,
/// claims.md and a section of summary.md.
///
/// Runs that recorded every training example at every evaluation (per_example.npz, `train
/// --per-example`) also give the per-example dynamics: dynamics.md and dynamics.csv (per
/// condition and for clean vs corrupted examples: first-fitted steps, forgetting events, the
/// unforgettable fraction, the rank agreement across seeds), the figure dynamics-first-fitted,
/// index lists of the hardest and easiest examples in dynamics/ (for `subset --indices`), and a
/// section of summary.md.
///
/// Run directories written by `kernel-fit` (the paper's Section 5) go into kernel.md and
/// kernel.csv (labels, n, train and test error, norm) and, for random features, the
/// double-descent figures (test error and norm against N/n), and a section of summary.md.
#[derive(Debug, Parser)]
#[command(name = "report", version)]
pub struct Args {
    /// Run directories written by `train` or `kernel-fit`.
    #[arg(required = true, value_name = "RUN_DIR")]
    pub runs: Vec<PathBuf>,

    /// Directory to write the report into (created if missing).
    #[arg(short, long, default_value = "report", value_name = "DIR")]
    pub out: PathBuf,

    /// Figure formats, comma-separated: png, svg.
    #[arg(
        long,
        default_value = "png,svg",
        value_delimiter = ',',
        value_name = "LIST"
    )]
    pub format: Vec<String>,

    /// Figure size in pixels, WIDTHxHEIGHT.
    #[arg(long, default_value = "960x640", value_name = "WxH")]
    pub size: String,

    /// Training accuracy that counts as "fitted" for steps/epochs to fit and Figure 1b.
    #[arg(long, default_value_t = 1.0, value_name = "FRACTION")]
    pub fit_threshold: f64,

    /// Put the paper's Table 1 (CIFAR-10) and Table 2 (ImageNet) numbers beside matching rows.
    #[arg(long)]
    pub paper: bool,

    /// Draw runs of different datasets in one figure instead of refusing.
    #[arg(long)]
    pub allow_mixed: bool,

    /// Also print the table of the paper's claims, checked on these runs, to stdout (Markdown).
    /// claims.json and claims.md are written into --out either way.
    #[arg(long)]
    pub claims: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Png,
    Svg,
}

struct Config {
    runs: Vec<PathBuf>,
    out: PathBuf,
    formats: Vec<Format>,
    size: (u32, u32),
    fit_threshold: f64,
    paper: bool,
    allow_mixed: bool,
    claims: bool,
}

fn usage(msg: String) -> anyhow::Error {
    anyhow::Error::new(UsageError(msg))
}

impl Config {
    fn from_args(args: Args) -> Result<Config> {
        let mut formats = Vec::new();
        for f in &args.format {
            let f = match f.trim().to_ascii_lowercase().as_str() {
                "png" => Format::Png,
                "svg" => Format::Svg,
                other => {
                    return Err(usage(format!(
                        "--format: unknown format {other:?} (expected png, svg)"
                    )));
                }
            };
            if !formats.contains(&f) {
                formats.push(f);
            }
        }
        let size = args
            .size
            .split_once(['x', 'X'])
            .and_then(|(w, h)| Some((w.trim().parse::<u32>().ok()?, h.trim().parse::<u32>().ok()?)))
            .filter(|&(w, h)| (200..=8000).contains(&w) && (150..=8000).contains(&h))
            .ok_or_else(|| {
                usage(format!(
                    "--size: expected WIDTHxHEIGHT between 200x150 and 8000x8000, got {:?}",
                    args.size
                ))
            })?;
        if !(args.fit_threshold > 0.0 && args.fit_threshold <= 1.0) {
            return Err(usage(format!(
                "--fit-threshold: expected a fraction in (0, 1], got {}",
                args.fit_threshold
            )));
        }
        Ok(Config {
            runs: args.runs,
            out: args.out,
            formats,
            size,
            fit_threshold: args.fit_threshold,
            paper: args.paper,
            allow_mixed: args.allow_mixed,
            claims: args.claims,
        })
    }
}

/// Reads the runs of `args`, writes the report into `args.out`, and prints the claims table on
/// stdout with `--claims`. A usage error (bad `--format`, `--size`, ...) comes back as a
/// [`UsageError`] so that `main` exits with 2.
pub fn run(args: Args) -> Result<()> {
    let cfg = Config::from_args(args)?;

    let mut runs = Vec::new();
    let mut kernel_runs = Vec::new();
    let mut seen = BTreeSet::new();
    for dir in &cfg.runs {
        let canonical = fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
        if !seen.insert(canonical) {
            continue; // the same run named twice (runs/*/ runs/a/) counts once
        }
        if kernel::is_kernel_run(dir) {
            kernel_runs.push(kernel::read_run(dir)?);
            continue;
        }
        let run = runs::read_run(dir)?;
        if run.truncated {
            eprintln!(
                "report: {}: last line incomplete (run still writing?); using the complete lines",
                dir.join("metrics.jsonl").display()
            );
        }
        if run.in_progress() {
            eprintln!(
                "report: {}: no summary.json, run in progress; using its {} evaluations so far",
                dir.display(),
                run.evals.len()
            );
        }
        runs.push(run);
    }

    if runs.is_empty() {
        return kernel::write_alone(&cfg, &kernel_runs);
    }
    let groups = groups::group_runs(&runs);
    let rows = table::rows(&runs, &groups, cfg.fit_threshold, cfg.paper);
    let claims = claims::check(&runs, &groups, cfg.fit_threshold);
    let claims_md = claims::out::markdown(&claims, cfg.fit_threshold);

    let cx = figures::Context {
        runs: &runs,
        groups: &groups,
        fit_threshold: cfg.fit_threshold,
    };
    let built: Vec<Result<Figure, Skipped>> = vec![
        figures::fig1a(&cx),
        figures::fig1b(&cx),
        figures::fig1c(&cx),
        figures::fig2(&cx),
        figures::memorization(&cx),
    ];
    // Refuse before writing anything: a figure mixing datasets compares unlike things.
    for fig in built.iter().flatten() {
        if fig.datasets.len() > 1 && !cfg.allow_mixed {
            bail!(
                "{} would mix runs of different datasets ({}); report each dataset separately, or pass --allow-mixed",
                fig.id,
                fig.datasets.join(", ")
            );
        }
    }

    let dynamics = dynamics::analyze(&runs, &groups, cfg.allow_mixed)?;

    fs::create_dir_all(&cfg.out)
        .with_context(|| format!("{}: cannot create directory", cfg.out.display()))?;
    write_text(
        &cfg.out.join("table.md"),
        &table::markdown(&rows, cfg.fit_threshold, cfg.paper),
    )?;
    write_text(
        &cfg.out.join("table.csv"),
        &table::csv(&rows, cfg.fit_threshold, cfg.paper),
    )?;

    write_text(&cfg.out.join("claims.md"), &claims_md)?;
    let claims_json = claims::out::json(&claims, cfg.fit_threshold);
    write_text(
        &cfg.out.join("claims.json"),
        &format!("{}\n", serde_json::to_string_pretty(&claims_json)?),
    )?;

    let mut drawn = Vec::new();
    for fig in built {
        match fig {
            Err(skipped) => eprintln!("report: {}: skipped: {}", skipped.id, skipped.reason),
            Ok(fig) => {
                for note in &fig.notes {
                    eprintln!("report: {}: {note}", fig.id);
                }
                write_text(&cfg.out.join(format!("{}.csv", fig.id)), &fig.csv())?;
                for f in &cfg.formats {
                    match f {
                        Format::Png => {
                            let bytes = plot::png(&fig, cfg.size)?;
                            write_bytes(&cfg.out.join(format!("{}.png", fig.id)), &bytes)?;
                        }
                        Format::Svg => {
                            let text = plot::svg(&fig, cfg.size)?;
                            write_text(&cfg.out.join(format!("{}.svg", fig.id)), &text)?;
                        }
                    }
                }
                drawn.push(fig);
            }
        }
    }

    let dynamics_md = dynamics::out::write(&cfg.out, &cx, &dynamics, &cfg.formats, cfg.size)?;
    let kernel_md = kernel::write(&cfg.out, &kernel_runs, &cfg.formats, cfg.size, cfg.paper)?;
    write_text(
        &cfg.out.join("summary.md"),
        &(summary(&cfg, &runs, &rows, &drawn, &claims_md) + &dynamics_md + &kernel_md),
    )?;
    if cfg.claims {
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(claims_md.as_bytes())?;
        stdout.flush()?;
    }
    eprintln!(
        "report: {} runs in {} groups; {} figures; written to {}",
        runs.len(),
        groups.len(),
        drawn.len(),
        cfg.out.display()
    );
    Ok(())
}

fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    atomic_write(path, |w| {
        w.write_all(bytes)
            .with_context(|| format!("{}: cannot write", path.display()))
    })
}

fn write_text(path: &Path, text: &str) -> Result<()> {
    write_bytes(path, text.as_bytes())
}

fn summary(
    cfg: &Config,
    runs: &[runs::Run],
    rows: &[table::Row],
    figs: &[Figure],
    claims_md: &str,
) -> String {
    let mut out = String::from(
        "# Report: Understanding deep learning requires rethinking generalization\n\n",
    );
    let _ = writeln!(
        out,
        "{} runs, {} experiments (runs differing only in seed are averaged: mean ± sample std). \
         Accuracies in percent; generalization error = train − test accuracy, in percentage points.\n",
        runs.len(),
        rows.len()
    );
    out.push_str("## The paper's claims, checked\n\n");
    out.push_str(claims_md);
    out.push_str("Numbers as data: [claims.json](claims.json).\n\n");
    out.push_str("## Table\n\n");
    out.push_str(&table::markdown(rows, cfg.fit_threshold, cfg.paper));
    if cfg.paper {
        out.push_str(
            "\n### The paper's numbers (Zhang et al., ICLR 2017)\n\n\
             Table 1 (CIFAR-10) in full; of Table 2 (ImageNet, Inception V3) only the cells stated \
             again in the paper's text.\n\n",
        );
        out.push_str(&table::paper_markdown());
    }
    out.push_str("\n## Figures\n");
    let ext = if cfg.formats.contains(&Format::Png) {
        Some("png")
    } else if cfg.formats.contains(&Format::Svg) {
        Some("svg")
    } else {
        None
    };
    for fig in figs {
        let _ = writeln!(out, "\n### {}\n", fig.title);
        if let Some(ext) = ext {
            let _ = writeln!(out, "![{}]({}.{ext})\n", fig.title, fig.id);
        }
        let _ = writeln!(out, "Plotted series: [{}.csv]({}.csv).", fig.id, fig.id);
        for note in &fig.notes {
            let _ = writeln!(out, "Note: {note}.");
        }
        let _ = writeln!(
            out,
            "\nRuns: {}",
            fig.runs
                .iter()
                .map(|r| format!("`{r}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    out.push_str("\n## Runs\n\n| Row | Runs |\n|---|---|\n");
    for r in rows {
        let _ = writeln!(
            out,
            "| {}, {}, {} | {} |",
            r.model,
            r.data,
            r.regularizers,
            r.runs
                .iter()
                .map(|r| format!("`{r}`"))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    out
}
