//! `report` on `kernel-fit` run folders (`"kind": "kernel"`): the Section 5 table, the
//! double-descent figures of a random-features sweep, and kernel runs beside `train` runs.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

use rethink_runs::{
    Corruption, FeatureMap, KERNEL_KIND, KernelConfig, KernelSummary, Method, SCHEMA_VERSION,
};
use rethink_testkit::Run;
use rethink_testkit::csv::{assert_close, num, read_csv, series};
use rethink_testkit::runs::Fixture;

/// Runs the `report` binary built for these tests.
fn report(args: &[&dyn AsRef<OsStr>]) -> Run {
    Run::with_args(env!("CARGO_BIN_EXE_report"), args)
}

/// Writes a kernel run folder the way kernel-fit does (config.json and summary.json).
fn kernel_run(
    root: &Path,
    name: &str,
    labels: f64,
    features: Option<usize>,
    n: usize,
    test_acc: f64,
    norm: f64,
) -> PathBuf {
    let dir = root.join(name);
    fs::create_dir_all(&dir).unwrap();
    let corruption = (labels > 0.0).then(|| Corruption {
        labels,
        ..Default::default()
    });
    let method = if features.is_some() {
        Method::RandomFeatures
    } else {
        Method::Gaussian
    };
    let config = KernelConfig {
        schema_version: SCHEMA_VERSION,
        method,
        gamma: features.is_none().then_some(0.02),
        features,
        feature_map: features.map(|_| FeatureMap::Relu),
        dataset: serde_json::json!({"name": "fashion-mnist", "corruption": corruption}),
        train_size: n,
        test_size: 1000,
        ..KernelConfig::default()
    };
    config.write(&dir.join("config.json")).unwrap();
    let summary = KernelSummary {
        schema_version: SCHEMA_VERSION,
        kind: KERNEL_KIND.into(),
        method,
        dataset: Some("fashion-mnist".into()),
        corruption,
        train_size: n,
        test_size: 1000,
        features,
        features_per_example: features.map(|f| f as f64 / n as f64),
        train_acc: if features.is_some_and(|f| f < n) {
            0.9
        } else {
            1.0
        },
        test_acc: Some(test_acc),
        norm,
        ..KernelSummary::default()
    };
    summary.write(&dir.join("summary.json")).unwrap();
    dir
}

#[test]
fn kernel_runs_alone_make_the_section_5_table() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let out = dir.path().join("report");
    let dirs = [
        kernel_run(&runs, "random", 1.0, None, 1000, 0.1, 300.0),
        kernel_run(&runs, "true", 0.0, None, 1000, 0.85, 40.0),
        kernel_run(&runs, "p0.2", 0.2, None, 1000, 0.7, 120.0),
    ];
    report(&[&dirs[0], &dirs[1], &dirs[2], &"--out", &out, &"--paper"]).assert_code(0);
    let rows = read_csv(&out.join("kernel.csv"));
    let labels: Vec<&str> = rows.iter().map(|r| r["labels"].as_str()).collect();
    assert_eq!(labels, ["true labels", "labels p=0.2", "random labels"]);
    assert_close(num(&rows[0], "test_error_pct"), 15.0);
    assert_close(num(&rows[2], "norm"), 300.0);
    assert_close(num(&rows[1], "train_error_pct"), 0.0);
    let md = fs::read_to_string(out.join("kernel.md")).unwrap();
    assert!(
        md.contains("| fashion-mnist | true labels | 1000 | 0.02 |"),
        "{md}"
    );
    assert!(
        md.contains("1.2% test error"),
        "--paper adds the paper's number"
    );
    let summary = fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains("## Section 5"), "{summary}");
    // No train runs: none of train's tables or figures.
    assert!(!out.join("table.csv").exists() && !out.join("double-descent.png").exists());
}

#[test]
fn a_features_sweep_draws_the_double_descent_curve() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let out = dir.path().join("report");
    let mut dirs = Vec::new();
    for (n_feat, noisy_acc, clean_acc, norm) in [
        (50, 0.6, 0.7, 5.0),
        (100, 0.3, 0.6, 80.0),
        (400, 0.65, 0.8, 10.0),
    ] {
        dirs.push(kernel_run(
            &runs,
            &format!("p0.2-N{n_feat}"),
            0.2,
            Some(n_feat),
            100,
            noisy_acc,
            norm,
        ));
        dirs.push(kernel_run(
            &runs,
            &format!("true-N{n_feat}"),
            0.0,
            Some(n_feat),
            100,
            clean_acc,
            norm / 2.0,
        ));
    }
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = Vec::new();
    for d in &dirs {
        args.push(d);
    }
    args.push(&"--out");
    args.push(&out);
    report(&args).assert_code(0);
    let curves = series(&out.join("double-descent.csv"));
    let noisy = &curves
        .iter()
        .find(|(name, _)| name == "labels p=0.2")
        .unwrap()
        .1;
    assert_eq!(noisy.len(), 3);
    assert_close(noisy[0].0, 0.5);
    assert_close(noisy[1].1, 70.0); // the peak at N/n = 1
    assert!(noisy[1].1 > noisy[0].1 && noisy[1].1 > noisy[2].1);
    let norms = series(&out.join("double-descent-norm.csv"));
    assert_eq!(norms.len(), 2);
    for ext in ["png", "svg"] {
        for id in ["double-descent", "double-descent-norm"] {
            assert!(out.join(format!("{id}.{ext}")).is_file(), "{id}.{ext}");
        }
    }
    let png = image::open(out.join("double-descent.png")).unwrap();
    assert_eq!((png.width(), png.height()), (960, 640));
}

#[test]
fn kernel_runs_beside_train_runs_leave_train_s_report_alone() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let (alone, both) = (dir.path().join("alone"), dir.path().join("both"));
    let train = Fixture::new("mlp-s1", "mlp-1x512")
        .evals(&[(0, 0.1, 0.1), (800, 1.0, 0.5)])
        .write(&runs);
    let kernel = kernel_run(&runs, "kernel", 0.0, None, 1000, 0.85, 40.0);
    report(&[&train, &"--out", &alone]).assert_code(0);
    report(&[&train, &kernel, &"--out", &both]).assert_code(0);
    assert_eq!(
        fs::read(alone.join("table.csv")).unwrap(),
        fs::read(both.join("table.csv")).unwrap(),
        "a kernel run is not a row of train's table"
    );
    assert!(both.join("kernel.csv").is_file());
    let summary = fs::read_to_string(both.join("summary.md")).unwrap();
    assert!(summary.contains("## Table") && summary.contains("## Section 5"));
    // A kernel folder without summary.json is an error naming it.
    fs::remove_file(kernel.join("summary.json")).unwrap();
    let run = report(&[&train, &kernel, &"--out", &both]);
    run.assert_code(1);
    assert!(run.stderr().contains("summary.json"), "{}", run.stderr());
}
