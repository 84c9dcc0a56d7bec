//! The paper's Section 5 from `kernel-fit` run folders (`"kind": "kernel"`, see rethink-runs):
//! a table of the Gaussian kernel's interpolants (labels, n, train error, test error, norm) and,
//! for a random-features sweep, the double-descent curve: test error and norm against N/n.
//!
//! Kernel runs have no training curve, so they take no part in the tables, figures and claims of
//! `train` runs; they are read here, written into `kernel.md`, `kernel.csv`, `double-descent.*`
//! and `double-descent-norm.*`, and given their own section of `summary.md`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use rethink_runs::{
    CONFIG_FILE, Corruption, KernelConfig, KernelSummary, Method, RunKind, SUMMARY_FILE, fmt_num,
};

use crate::figures::{Figure, Series};
use crate::table::csv_field;
use crate::{Format, plot, write_bytes, write_text};

/// A `kernel-fit` run folder, read.
#[derive(Debug, Clone)]
pub struct KernelRun {
    /// The folder.
    pub dir: PathBuf,
    /// `config.json`.
    pub config: KernelConfig,
    /// `summary.json`.
    pub summary: KernelSummary,
}

/// Whether `dir` holds a kernel run (its `config.json` says `"kind": "kernel"`).
pub fn is_kernel_run(dir: &Path) -> bool {
    RunKind::of_dir(dir) == Some(RunKind::Kernel)
}

/// Reads a kernel run folder; a missing `summary.json` is an error (kernel-fit writes both
/// files at the end, so a folder without it is not a finished fit).
pub fn read_run(dir: &Path) -> Result<KernelRun> {
    let config = KernelConfig::read(&dir.join(CONFIG_FILE))?;
    let summary_path = dir.join(SUMMARY_FILE);
    if !summary_path.is_file() {
        bail!(
            "{}: missing: a kernel-fit run writes it with config.json (did the fit fail?)",
            summary_path.display()
        );
    }
    let summary = KernelSummary::read(&summary_path)?;
    Ok(KernelRun {
        dir: dir.to_path_buf(),
        config,
        summary,
    })
}

impl KernelRun {
    fn corruption(&self) -> Corruption {
        self.summary.corruption.clone().unwrap_or_default()
    }

    /// "true labels", "labels p=0.2", "random labels", "Gaussian", ...
    fn labels(&self) -> String {
        self.corruption().describe()
    }

    fn dataset(&self) -> String {
        self.summary
            .dataset
            .clone()
            .unwrap_or_else(|| "unknown".into())
    }

    /// Everything but the seed: runs that share it are one row, averaged.
    fn key(&self) -> String {
        let c = &self.config;
        format!(
            "{}|{}|{}|{}|{:?}|{:?}|{:?}|{}|{}",
            c.method.name(),
            self.dataset(),
            self.labels(),
            self.summary.train_size,
            c.gamma,
            c.features,
            c.feature_map,
            c.ridge,
            self.summary.test_size
        )
    }
}

/// One row: runs that differ only in their seed.
struct Row<'a> {
    runs: Vec<&'a KernelRun>,
}

impl Row<'_> {
    fn first(&self) -> &KernelRun {
        self.runs[0]
    }
    fn mean(&self, f: impl Fn(&KernelRun) -> Option<f64>) -> Option<f64> {
        let v: Vec<f64> = self.runs.iter().filter_map(|r| f(r)).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    }
    fn train_err(&self) -> Option<f64> {
        self.mean(|r| Some(100.0 * r.summary.train_error()))
    }
    fn test_err(&self) -> Option<f64> {
        self.mean(|r| r.summary.test_error().map(|e| 100.0 * e))
    }
    fn norm(&self) -> Option<f64> {
        self.mean(|r| Some(r.summary.norm))
    }
    fn ratio(&self) -> f64 {
        self.first().summary.features_per_example.unwrap_or(0.0)
    }
}

fn rows(runs: &[KernelRun], method: Method) -> Vec<Row<'_>> {
    let mut by_key: BTreeMap<String, Vec<&KernelRun>> = BTreeMap::new();
    for r in runs.iter().filter(|r| r.config.method == method) {
        by_key.entry(r.key()).or_default().push(r);
    }
    let mut rows: Vec<Row> = by_key.into_values().map(|runs| Row { runs }).collect();
    // Labels from true to random, then by size.
    rows.sort_by(|a, b| {
        let (ca, cb) = (a.first().corruption(), b.first().corruption());
        (
            ca.pixels,
            ca.labels,
            a.first().summary.train_size,
            a.ratio(),
        )
            .partial_cmp(&(
                cb.pixels,
                cb.labels,
                b.first().summary.train_size,
                b.ratio(),
            ))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    rows
}

fn opt(x: Option<f64>, decimals: usize) -> String {
    x.filter(|v| v.is_finite())
        .map_or("–".into(), |v| format!("{v:.decimals$}"))
}

fn sci(x: Option<f64>) -> String {
    x.filter(|v| v.is_finite())
        .map_or("–".into(), |v| format!("{v:.3e}"))
}

/// The Section 5 table (Gaussian kernel) and the random-features table, Markdown.
pub fn markdown(runs: &[KernelRun], paper: bool) -> String {
    let mut out = String::new();
    let kernel = rows(runs, Method::Gaussian);
    if !kernel.is_empty() {
        out.push_str("| Dataset | Labels | n | γ | Ridge | Seeds | Train error (%) | Test error (%) | Norm ‖f‖ | Condition of K | Jitter |\n");
        out.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for r in &kernel {
            let f = r.first();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                f.dataset(),
                f.labels(),
                f.summary.train_size,
                f.config.gamma.map_or("–".into(), fmt_num),
                fmt_num(f.config.ridge),
                r.runs.len(),
                opt(r.train_err(), 2),
                opt(r.test_err(), 2),
                opt(r.norm(), 1),
                sci(r.mean(|r| r.summary.condition_estimate)),
                r.runs
                    .iter()
                    .filter_map(|r| r.summary.jitter)
                    .map(|j| format!("{j:e}"))
                    .next()
                    .unwrap_or_else(|| "none".into())
            );
        }
        if paper {
            out.push_str(
                "\nThe paper (Section 5): the Gaussian kernel's interpolant on all of MNIST (n = 60,000) \
                 without preprocessing reaches 1.2% test error.\n",
            );
        }
    }
    let features = rows(runs, Method::RandomFeatures);
    if !features.is_empty() {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str("| Dataset | Labels | Features | n | N | N/n | Seeds | Train error (%) | Test error (%) | Norm ‖W‖ | Rank of Φ | Condition of Φ |\n");
        out.push_str("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for r in &features {
            let f = r.first();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                f.dataset(),
                f.labels(),
                f.config.feature_map.map_or("–", |m| m.name()),
                f.summary.train_size,
                f.summary.features.unwrap_or(0),
                fmt_num((r.ratio() * 1000.0).round() / 1000.0),
                r.runs.len(),
                opt(r.train_err(), 2),
                opt(r.test_err(), 2),
                opt(r.norm(), 2),
                f.summary.rank.map_or("–".into(), |k| k.to_string()),
                sci(r.mean(|r| r.summary.condition_estimate)),
            );
        }
    }
    out
}

/// The same rows as CSV, one per (method, labels, size) with the run folders.
pub fn csv(runs: &[KernelRun]) -> String {
    let mut out = String::from(
        "method,dataset,labels,label_corruption,n,gamma,ridge,feature_map,features,features_per_example,seeds,train_error_pct,test_error_pct,norm,condition,rank,jitter,runs\n",
    );
    for method in [Method::Gaussian, Method::RandomFeatures] {
        for r in rows(runs, method) {
            let f = r.first();
            let num = |x: Option<f64>| {
                x.filter(|v| v.is_finite())
                    .map_or(String::new(), |v| v.to_string())
            };
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                method.name(),
                csv_field(&f.dataset()),
                csv_field(&f.labels()),
                f.corruption().labels,
                f.summary.train_size,
                num(f.config.gamma),
                f.config.ridge,
                f.config.feature_map.map_or("", |m| m.name()),
                f.summary.features.map_or(String::new(), |n| n.to_string()),
                num(f.summary.features_per_example),
                r.runs.len(),
                num(r.train_err()),
                num(r.test_err()),
                num(r.norm()),
                num(r.mean(|r| r.summary.condition_estimate)),
                f.summary.rank.map_or(String::new(), |k| k.to_string()),
                num(f.summary.jitter),
                csv_field(
                    &r.runs
                        .iter()
                        .map(|r| r.dir.display().to_string())
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            );
        }
    }
    out
}

/// The double-descent figures of a random-features sweep: test error (and, thin and dashed,
/// train error) against N/n, and the norm of the weights against N/n, one colour per labels
/// condition (and dataset/size when several). `None` without random-features runs.
pub fn double_descent(runs: &[KernelRun]) -> Option<(Figure, Figure)> {
    let rows = rows(runs, Method::RandomFeatures);
    if rows.is_empty() {
        return None;
    }
    // One curve per everything-but-N.
    let mut curves: BTreeMap<(String, String, usize, String), Vec<&Row>> = BTreeMap::new();
    for r in &rows {
        let f = r.first();
        let c = f.corruption();
        let order = format!("{:?}{:08.4}", c.pixels, c.labels);
        curves
            .entry((order, f.dataset(), f.summary.train_size, f.labels()))
            .or_default()
            .push(r);
    }
    let several = curves
        .keys()
        .map(|(_, d, n, _)| (d.clone(), *n))
        .collect::<std::collections::BTreeSet<_>>()
        .len()
        > 1;
    let mut datasets: Vec<String> = Vec::new();
    let mut used: Vec<String> = Vec::new();
    let mut err_series = Vec::new();
    let mut norm_series = Vec::new();
    for (color, ((_, dataset, n, labels), rows)) in curves.iter().enumerate() {
        let name = if several {
            format!("{labels} ({dataset}, n = {n})")
        } else {
            labels.clone()
        };
        if !datasets.contains(dataset) {
            datasets.push(dataset.clone());
        }
        let points = |f: &dyn Fn(&Row) -> Option<f64>| -> Vec<(f64, f64)> {
            let mut p: Vec<(f64, f64)> = rows
                .iter()
                .filter_map(|r| f(r).map(|y| (r.ratio(), y)))
                .filter(|(x, y)| *x > 0.0 && y.is_finite())
                .collect();
            p.sort_by(|a, b| a.0.total_cmp(&b.0));
            p
        };
        let mut test = Series::line(name.clone(), points(&|r: &Row| r.test_err()), color);
        test.in_legend = true;
        err_series.push(test);
        let mut train = Series::line(
            format!("{name}, train"),
            points(&|r: &Row| r.train_err()),
            color,
        );
        train.dashed = true;
        train.thin = true;
        train.in_legend = false;
        err_series.push(train);
        norm_series.push(Series::line(
            name,
            points(&|r: &Row| r.norm().filter(|v| *v > 0.0)),
            color,
        ));
        for r in rows {
            used.extend(r.runs.iter().map(|r| r.dir.display().to_string()));
        }
    }
    let figure =
        |id: &'static str, title: &str, y: &str, series: Vec<Series>, log_y: bool| Figure {
            id,
            title: title.to_string(),
            x_label: "N / n (random features per training example, log scale)".into(),
            y_label: y.to_string(),
            x_range: None,
            y_range: None,
            markers: true,
            x_from_zero: false,
            series,
            panels: Vec::new(),
            runs: used.clone(),
            datasets: datasets.clone(),
            notes: vec!["dashed: training error".to_string()]
                .into_iter()
                .filter(|_| !log_y)
                .collect(),
            log_x: true,
            log_y,
        };
    Some((
        figure(
            "double-descent",
            "Double descent: random features, minimum-norm least squares",
            "test error (%)",
            err_series,
            false,
        ),
        figure(
            "double-descent-norm",
            "Norm of the minimum-norm solution",
            "norm of W, Frobenius (log scale)",
            norm_series,
            true,
        ),
    ))
}

/// Writes `kernel.md`, `kernel.csv` and the double-descent figures into `out` and returns the
/// Section 5 part of `summary.md` (empty without kernel runs).
pub(crate) fn write(
    out: &Path,
    runs: &[KernelRun],
    formats: &[Format],
    size: (u32, u32),
    paper: bool,
) -> Result<String> {
    if runs.is_empty() {
        return Ok(String::new());
    }
    std::fs::create_dir_all(out)
        .with_context(|| format!("{}: cannot create directory", out.display()))?;
    let table = markdown(runs, paper);
    write_text(&out.join("kernel.md"), &table)?;
    write_text(&out.join("kernel.csv"), &csv(runs))?;
    let mut section = String::from("\n## Section 5: linear models (kernel-fit)\n\n");
    let _ = writeln!(
        section,
        "{} kernel-fit runs. Error = 100 − accuracy, in percent; test labels are always true. \
         Norm: sqrt(αᵀKα) for the kernel, ‖W‖_F for random features. Rows: [kernel.csv](kernel.csv).\n",
        runs.len()
    );
    section.push_str(&table);
    if let Some((err, norm)) = double_descent(runs) {
        for fig in [err, norm] {
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
            let _ = writeln!(section, "\n### {}\n", fig.title);
            let ext = if formats.contains(&Format::Png) {
                "png"
            } else {
                "svg"
            };
            if !formats.is_empty() {
                let _ = writeln!(section, "![{}]({}.{ext})\n", fig.title, fig.id);
            }
            let _ = writeln!(section, "Plotted series: [{}.csv]({}.csv).", fig.id, fig.id);
        }
    }
    Ok(section)
}

/// The report of kernel runs alone (no `train` runs given): `kernel.md`, `kernel.csv`, the
/// figures and a `summary.md` that holds only Section 5.
pub(crate) fn write_alone(cfg: &crate::Config, runs: &[KernelRun]) -> Result<()> {
    let section = write(&cfg.out, runs, &cfg.formats, cfg.size, cfg.paper)?;
    let text = format!(
        "# Report: Understanding deep learning requires rethinking generalization\n{section}"
    );
    write_text(&cfg.out.join("summary.md"), &text)?;
    eprintln!(
        "report: {} kernel-fit runs; written to {}",
        runs.len(),
        cfg.out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rethink_runs::{FeatureMap, KERNEL_KIND};

    fn run(labels: f64, n: usize, features: Option<usize>, test_acc: f64, norm: f64) -> KernelRun {
        let corruption = (labels > 0.0).then(|| Corruption {
            labels,
            ..Default::default()
        });
        KernelRun {
            dir: PathBuf::from(format!("runs/{labels}-{features:?}")),
            config: KernelConfig {
                method: if features.is_some() {
                    Method::RandomFeatures
                } else {
                    Method::Gaussian
                },
                gamma: features.is_none().then_some(0.02),
                features,
                feature_map: features.map(|_| FeatureMap::Relu),
                ..KernelConfig::default()
            },
            summary: KernelSummary {
                kind: KERNEL_KIND.into(),
                dataset: Some("fmnist".into()),
                corruption,
                train_size: n,
                test_size: 100,
                features,
                features_per_example: features.map(|f| f as f64 / n as f64),
                train_acc: 1.0,
                test_acc: Some(test_acc),
                norm,
                ..KernelSummary::default()
            },
        }
    }

    #[test]
    fn the_section_5_table_orders_labels_from_true_to_random() {
        let runs = vec![run(1.0, 50, None, 0.1, 90.0), run(0.0, 50, None, 0.8, 10.0)];
        let md = markdown(&runs, true);
        let t = md
            .find("| fmnist | true labels | 50 | 0.02 | 0 | 1 | 0.00 | 20.00 | 10.0 |")
            .unwrap();
        let r = md.find("| fmnist | random labels | 50 |").unwrap();
        assert!(t < r, "{md}");
        assert!(md.contains("1.2% test error"));
        assert!(double_descent(&runs).is_none());
    }

    #[test]
    fn a_features_sweep_draws_test_error_and_norm_against_n_over_n() {
        let runs = vec![
            run(0.2, 100, Some(200), 0.6, 5.0),
            run(0.2, 100, Some(100), 0.4, 50.0),
            run(0.2, 100, Some(50), 0.55, 3.0),
            run(0.0, 100, Some(100), 0.7, 8.0),
        ];
        let (err, norm) = double_descent(&runs).unwrap();
        let noisy = err
            .series
            .iter()
            .find(|s| s.name == "labels p=0.2")
            .unwrap();
        assert_eq!(noisy.points.len(), 3);
        assert!((noisy.points[0].0 - 0.5).abs() < 1e-12);
        assert!(
            (noisy.points[1].1 - 60.0).abs() < 1e-9,
            "{:?}",
            noisy.points
        );
        assert_eq!(norm.series.len(), 2);
        assert!(err.log_x && norm.log_y);
        let csv = csv(&runs);
        assert_eq!(csv.lines().count(), 5, "{csv}");
        assert!(plot::png(&err, (640, 480)).is_ok() && plot::svg(&norm, (640, 480)).is_ok());
    }
}
