//! `report` on fixture runs with known numbers: the table values and grouping, the relative
//! convergence times, the figures (valid PNG/SVG of the requested size, the plotted series), and
//! the bad inputs (no metrics, a torn last line, mixed datasets).

use std::ffi::OsStr;
use std::fs;

use rethink_testkit::Run;
use rethink_testkit::csv::{assert_close, line_names, num, read_csv, series};
use rethink_testkit::runs::Fixture;

/// Runs the `report` binary built for these tests.
fn report(args: &[&dyn AsRef<OsStr>]) -> Run {
    Run::with_args(env!("CARGO_BIN_EXE_report"), args)
}

#[test]
fn seeds_are_averaged_and_other_settings_make_their_own_rows() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let out = dir.path().join("report");
    let a = Fixture::new("mlp-s1", "mlp-1x512").seed(1).evals(&[
        (0, 0.1, 0.1),
        (400, 0.7, 0.45),
        (800, 1.0, 0.50),
    ]);
    let b = Fixture::new("mlp-s2", "mlp-1x512").seed(2).evals(&[
        (0, 0.1, 0.1),
        (600, 0.8, 0.47),
        (1200, 1.0, 0.52),
    ]);
    let c = Fixture::new("mlp-wd", "mlp-1x512")
        .weight_decay(0.0005)
        .evals(&[(0, 0.1, 0.1), (900, 0.998, 0.55)]);
    let dirs = [a.write(&runs), b.write(&runs), c.write(&runs)];

    report(&[&dirs[0], &dirs[1], &dirs[2], &"--out", &out]).assert_code(0);

    let rows = read_csv(&out.join("table.csv"));
    assert_eq!(
        rows.len(),
        2,
        "two seeds are one row, weight decay another: {rows:?}"
    );
    let plain = rows.iter().find(|r| r["regularizers"] == "none").unwrap();
    assert_eq!(plain["model"], "MLP 1x512");
    assert_eq!(plain["data"], "true labels");
    assert_eq!(plain["runs"], "2");
    assert_close(num(plain, "train_acc_pct"), 100.0);
    assert_close(num(plain, "test_acc_pct"), 51.0);
    assert_close(num(plain, "test_acc_pct_std"), 2f64.sqrt()); // sample std of 50 and 52
    assert_close(num(plain, "gen_error_pct"), 49.0);
    assert_close(num(plain, "steps_to_fit"), 1000.0); // mean of 800 and 1200
    assert_close(num(plain, "epochs_to_fit"), 10.0);
    assert_eq!(plain["runs_fitted"], "2");

    let wd = rows
        .iter()
        .find(|r| r["regularizers"] == "wd 0.0005")
        .unwrap();
    assert_eq!(wd["runs"], "1");
    assert_eq!(wd["train_acc_pct_std"], "", "no std from one seed");
    assert_close(num(wd, "test_acc_pct"), 55.0);
    assert_eq!(wd["runs_fitted"], "0", "99.8% is not 100%");
    assert_eq!(wd["steps_to_fit"], "");

    let md = fs::read_to_string(out.join("table.md")).unwrap();
    assert!(
        md.contains("| MLP 1x512 | true labels | none | 2 | 100.00 ± 0.00 | 51.00 ± 1.41 |"),
        "{md}"
    );
    let summary = fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(
        summary.contains("mlp-s1") && summary.contains("mlp-wd"),
        "summary names the runs:\n{summary}"
    );
}

/// Runs of different precision (`train --precision`) are different experiments: never averaged,
/// and each row says its precision (a CSV column always, a table column once a row is not f32).
#[test]
fn runs_of_different_precision_are_separate_rows_with_a_precision_column() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let out = dir.path().join("report");
    let run = |name: &str, precision: &'static str, seed: u64, test: f64| {
        Fixture::new(name, "inception-small")
            .precision(precision)
            .seed(seed)
            .fits_at(1000, test, test)
            .write(&runs)
    };
    let dirs = [
        run("f32-s1", "f32", 1, 0.50),
        run("f32-s2", "f32", 2, 0.52),
        run("bf16-s1", "bf16", 1, 0.60),
        run("bf16-s2", "bf16", 2, 0.62),
    ];
    report(&[&dirs[0], &dirs[1], &dirs[2], &dirs[3], &"--out", &out]).assert_code(0);
    let rows = read_csv(&out.join("table.csv"));
    assert_eq!(rows.len(), 2, "one row per precision: {rows:?}");
    for (precision, mean) in [("f32", 51.0), ("bf16", 61.0)] {
        let row = rows.iter().find(|r| r["precision"] == precision).unwrap();
        assert_eq!(row["runs"], "2");
        assert_close(num(row, "test_acc_pct"), mean);
        assert_eq!(
            row["settings"], "",
            "precision has its own column, not a setting"
        );
    }
    let md = fs::read_to_string(out.join("table.md")).unwrap();
    assert!(md.contains("| Precision |"), "{md}");
    assert!(
        md.contains("| bf16 | 2 |") && md.contains("| f32 | 2 |"),
        "{md}"
    );

    // f32 runs alone: the table has no precision column (the CSV still does).
    let f32_out = dir.path().join("f32");
    report(&[&dirs[0], &dirs[1], &"--out", &f32_out]).assert_code(0);
    let md = fs::read_to_string(f32_out.join("table.md")).unwrap();
    assert!(!md.contains("Precision"), "{md}");
    assert_eq!(read_csv(&f32_out.join("table.csv"))[0]["precision"], "f32");
}

/// A run whose training metrics scored a fixed subset (`train --eval-train-subset`) is marked in
/// the table: its training accuracy carries † and a footnote says how many of how many.
#[test]
fn a_training_accuracy_on_a_subset_is_marked() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let out = dir.path().join("report");
    let subset = Fixture::new("subset", "inception-small")
        .schema(1)
        .write(&runs);
    let config_path = subset.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&config_path).unwrap()).unwrap();
    config["eval_train_subset"] = 10000.into();
    config["train_size"] = 1281167.into();
    fs::write(&config_path, config.to_string()).unwrap();
    let whole = Fixture::new("whole", "mlp-1x512").schema(1).write(&runs);
    report(&[&subset, &whole, &"--out", &out]).assert_code(0);
    let md = fs::read_to_string(out.join("table.md")).unwrap();
    assert_eq!(
        md.matches(" † |").count(),
        1,
        "only the subset run is marked: {md}"
    );
    assert!(
        md.contains(
            "training examples (`train --eval-train-subset`): 10,000 of 1,281,167, Inception-small"
        ),
        "{md}"
    );
}

/// When only some seeds reached 100%, steps to fit is the mean (and std) over the seeds that did,
/// and the row says how many did; accuracies average over every seed.
#[test]
fn steps_to_fit_averages_the_seeds_that_fitted() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let out = dir.path().join("report");
    let dirs = [
        Fixture::new("s1", "mlp-1x512")
            .seed(1)
            .evals(&[(0, 0.1, 0.1), (800, 1.0, 0.50)]),
        Fixture::new("s2", "mlp-1x512")
            .seed(2)
            .evals(&[(0, 0.1, 0.1), (1200, 1.0, 0.52)]),
        Fixture::new("s3", "mlp-1x512")
            .seed(3)
            .evals(&[(0, 0.1, 0.1), (1500, 0.97, 0.54)]),
    ]
    .map(|f| f.write(&runs));
    report(&[&dirs[0], &dirs[1], &dirs[2], &"--out", &out]).assert_code(0);
    let rows = read_csv(&out.join("table.csv"));
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row["runs"], "3");
    assert_eq!(row["runs_fitted"], "2");
    assert_close(num(row, "steps_to_fit"), 1000.0);
    // The sample std of 800 and 1200 (the table rounds it to 3 decimals).
    assert!(
        (num(row, "steps_to_fit_std") - 80_000f64.sqrt()).abs() < 1e-3,
        "{row:?}"
    );
    assert_close(num(row, "train_acc_pct"), 99.0); // (100 + 100 + 97) / 3
    assert_close(num(row, "test_acc_pct"), 52.0);
    assert_close(num(row, "test_acc_pct_std"), 2.0);
}

#[test]
fn a_lower_fit_threshold_counts_steps_from_the_evaluations() {
    let dir = tempfile::tempdir().unwrap();
    let run = Fixture::new("r", "mlp-1x512").evals(&[
        (0, 0.1, 0.1),
        (300, 0.5, 0.3),
        (700, 0.95, 0.4),
        (900, 1.0, 0.4),
    ]);
    let run = run.write(dir.path());
    let out = dir.path().join("out");
    report(&[&run, &"--out", &out, &"--fit-threshold", &"0.95"]).assert_code(0);
    let rows = read_csv(&out.join("table.csv"));
    assert_close(num(&rows[0], "fit_threshold"), 0.95);
    assert_close(num(&rows[0], "steps_to_fit"), 700.0);
}

#[test]
fn label_noise_slows_fitting_relative_to_true_labels_and_raises_test_error() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let fit = |name: &str, p: f64, steps: u64, test: f64| {
        Fixture::new(name, "alexnet-small")
            .labels(p)
            .evals(&[(0, 0.1, 0.1), (steps / 2, 0.7, test), (steps, 1.0, test)])
            .write(&runs)
    };
    let dirs = [
        fit("p0", 0.0, 1000, 0.80),
        fit("p05", 0.5, 1500, 0.45),
        fit("p1", 1.0, 3000, 0.10),
        Fixture::new("mlp-p0", "mlp-1x512")
            .evals(&[(0, 0.1, 0.1), (400, 1.0, 0.5)])
            .write(&runs),
        Fixture::new("mlp-p1", "mlp-1x512")
            .labels(1.0)
            .evals(&[(0, 0.1, 0.1), (1000, 1.0, 0.1)])
            .write(&runs),
    ];
    let out = dir.path().join("out");
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = dirs.iter().map(|d| d as _).collect();
    args.push(&"--out");
    args.push(&out);
    report(&args).assert_code(0);

    let b = series(&out.join("fig1b.csv"));
    assert_eq!(b.len(), 2, "one line per model: {b:?}");
    let alexnet = &b.iter().find(|(n, _)| n == "AlexNet-small").unwrap().1;
    assert_eq!(alexnet, &vec![(0.0, 1.0), (0.5, 1.5), (1.0, 3.0)]);
    let mlp = &b.iter().find(|(n, _)| n == "MLP 1x512").unwrap().1;
    assert_eq!(mlp, &vec![(0.0, 1.0), (1.0, 2.5)]);

    let c = series(&out.join("fig1c.csv"));
    let alexnet = &c.iter().find(|(n, _)| n == "AlexNet-small").unwrap().1;
    let errors: Vec<f64> = alexnet.iter().map(|p| p.1).collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    for (got, want) in errors.iter().zip([20.0, 55.0, 90.0]) {
        assert_close(*got, want);
    }
    assert!(out.join("fig1b.png").exists() && out.join("fig1c.svg").exists());
}

#[test]
fn figures_are_png_and_svg_of_the_requested_size_with_one_curve_per_randomization() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let dirs = [
        Fixture::new("true", "inception-small").write(&runs),
        Fixture::new("shuffled", "inception-small")
            .pixels("shuffle")
            .write(&runs),
        Fixture::new("random-pixels", "inception-small")
            .pixels("random")
            .write(&runs),
        Fixture::new("gaussian", "inception-small")
            .pixels("gaussian")
            .write(&runs),
        Fixture::new("random-labels", "inception-small")
            .labels(1.0)
            .write(&runs),
    ];
    let out = dir.path().join("out");
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = dirs.iter().map(|d| d as _).collect();
    args.push(&"--out");
    args.push(&out);
    args.push(&"--size");
    args.push(&"640x480");
    report(&args).assert_code(0);

    let a = series(&out.join("fig1a.csv"));
    let names: Vec<&str> = a.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "true labels",
            "shuffled pixels",
            "random pixels",
            "Gaussian",
            "random labels"
        ]
    );
    assert_eq!(
        a[0].1[0],
        (0.0, 2.3),
        "x in thousands of steps, y the logged loss"
    );
    assert_eq!(a[0].1[4], (1.0, 0.05));

    for id in ["fig1a", "fig1c", "fig2"] {
        let png =
            image::open(out.join(format!("{id}.png"))).unwrap_or_else(|e| panic!("{id}.png: {e}"));
        assert_eq!((png.width(), png.height()), (640, 480), "{id}.png");
        // Text is drawn (the embedded font works): the title band is not blank.
        let rgb = png.to_rgb8();
        let dark = (0..640)
            .flat_map(|x| (0..30).map(move |y| (x, y)))
            .filter(|&(x, y)| rgb.get_pixel(x, y).0[0] < 100);
        assert!(dark.count() > 50, "{id}.png: no title text drawn");
        let svg = fs::read_to_string(out.join(format!("{id}.svg"))).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{id}.svg"
        );
        assert!(
            svg.contains(r#"width="640""#) && svg.contains(r#"height="480""#),
            "{id}.svg size"
        );
        assert!(
            svg.contains("thousands of training steps") || svg.contains("label corruption level"),
            "{id}.svg axis label"
        );
    }
}

#[test]
fn figure2_shades_the_cumulative_best_test_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let evals = [
        (0, 0.1, 0.1),
        (1000, 0.8, 0.6),
        (2000, 0.95, 0.7),
        (3000, 1.0, 0.65),
        (4000, 1.0, 0.66),
    ];
    let dirs = [
        Fixture::new("plain", "inception-small")
            .evals(&evals)
            .write(&runs),
        Fixture::new("crop-wd", "inception-small")
            .augment(&["crop"])
            .weight_decay(0.0005)
            .evals(&evals)
            .write(&runs),
    ];
    let out = dir.path().join("out");
    report(&[&dirs[0], &dirs[1], &"--out", &out, &"--format", &"svg"]).assert_code(0);
    assert!(!out.join("fig2.png").exists(), "--format svg writes no PNG");
    let s = series(&out.join("fig2.csv"));
    let names: Vec<&str> = s.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "crop, wd 0.0005",
            "crop, wd 0.0005 (best so far)",
            "no regularizer",
            "no regularizer (best so far)"
        ]
    );
    let ys = |i: usize| s[i].1.iter().map(|p| p.1).collect::<Vec<f64>>();
    assert_eq!((ys(2).len(), ys(3).len()), (5, 5));
    for (got, want) in ys(2).iter().zip([10.0, 60.0, 70.0, 65.0, 66.0]) {
        assert_close(*got, want);
    }
    for (got, want) in ys(3).iter().zip([10.0, 60.0, 70.0, 70.0, 70.0]) {
        assert_close(*got, want);
    }
}

/// A run from before schema 1 recorded the redrawn subset under `train_acc_corrupted`: it is
/// drawn as the redrawn subset, with a note.
#[test]
fn memorization_of_an_old_run_plots_the_clean_and_the_redrawn_subset() {
    let dir = tempfile::tempdir().unwrap();
    let run = Fixture::new("p04", "mlp-1x512")
        .labels(0.4)
        .evals(&[(0, 0.1, 0.1), (500, 0.7, 0.4), (1000, 1.0, 0.35)])
        .subsets(&[(0.1, 0.1), (0.95, 0.3), (1.0, 1.0)])
        .write(dir.path());
    let out = dir.path().join("out");
    let r = report(&[&run, &"--out", &out]);
    r.assert_code(0);
    let s = series(&out.join("memorization.csv"));
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].0, "labels p=0.4: clean subset");
    assert_eq!(s[0].1, vec![(0.0, 10.0), (0.5, 95.0), (1.0, 100.0)]);
    assert_eq!(s[1].0, "labels p=0.4: redrawn subset");
    assert_eq!(s[1].1, vec![(0.0, 10.0), (0.5, 30.0), (1.0, 100.0)]);
    assert!(r.stderr().contains("before schema 1"), "{}", r.stderr());
}

#[test]
fn a_figure_without_matching_runs_is_skipped_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let run = Fixture::new("only", "mlp-1x512").write(dir.path());
    let out = dir.path().join("out");
    let r = report(&[&run, &"--out", &out]);
    r.assert_code(0);
    let err = r.stderr();
    for id in ["fig1b", "fig1c", "memorization"] {
        assert!(
            err.contains(&format!("{id}: skipped")),
            "{id} not reported as skipped:\n{err}"
        );
        assert!(!out.join(format!("{id}.png")).exists() && !out.join(format!("{id}.csv")).exists());
    }
    assert!(out.join("fig1a.png").exists() && out.join("fig2.svg").exists());
}

#[test]
fn paper_numbers_sit_beside_matching_rows() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let dirs = [
        Fixture::new("inc", "inception-small")
            .augment(&["crop", "flip"])
            .weight_decay(0.0005)
            .evals(&[(0, 0.1, 0.1), (1000, 1.0, 0.88)])
            .write(&runs),
        Fixture::new("mlp-rand", "mlp-1x512")
            .labels(1.0)
            .evals(&[(0, 0.1, 0.1), (1000, 1.0, 0.1)])
            .write(&runs),
        Fixture::new("mlp-p02", "mlp-1x512")
            .labels(0.2)
            .write(&runs),
    ];
    let out = dir.path().join("out");
    report(&[&dirs[0], &dirs[1], &dirs[2], &"--out", &out, &"--paper"]).assert_code(0);
    let rows = read_csv(&out.join("table.csv"));
    let inc = rows
        .iter()
        .find(|r| r["model"] == "Inception-small")
        .unwrap();
    assert_eq!(inc["paper_table"], "Table 1");
    assert_close(num(inc, "paper_test_acc_pct"), 89.05);
    assert_close(num(inc, "test_diff_pct"), -1.05);
    let rand = rows.iter().find(|r| r["data"] == "random labels").unwrap();
    assert_close(num(rand, "paper_train_acc_pct"), 99.34);
    assert_close(num(rand, "paper_test_acc_pct"), 10.61);
    let p02 = rows.iter().find(|r| r["data"] == "labels p=0.2").unwrap();
    assert_eq!(p02["paper_table"], "", "the paper has no row for p = 0.2");
    let summary = fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(
        summary.contains("| Table 1 | Inception | yes | yes | no | true | 100.00 | 89.05 |"),
        "{summary}"
    );
}

#[test]
fn a_run_still_in_progress_uses_its_complete_lines() {
    let dir = tempfile::tempdir().unwrap();
    let run = Fixture::new("live", "mlp-1x512")
        .evals(&[(0, 0.1, 0.1), (500, 0.6, 0.42)])
        .unfinished()
        .write(dir.path());
    let metrics = run.join("metrics.jsonl");
    let mut text = fs::read_to_string(&metrics).unwrap();
    text.push_str(r#"{"kind":"eval","step":1000,"train_acc":0.9"#); // torn mid-write
    fs::write(&metrics, text).unwrap();
    let out = dir.path().join("out");
    let r = report(&[&run, &"--out", &out]);
    r.assert_code(0);
    assert!(
        r.stderr().contains("last line incomplete"),
        "{}",
        r.stderr()
    );
    assert!(r.stderr().contains("in progress"), "{}", r.stderr());
    let rows = read_csv(&out.join("table.csv"));
    assert_eq!(rows[0]["in_progress"], "1");
    assert_close(num(&rows[0], "test_acc_pct"), 42.0);
    assert!(
        fs::read_to_string(out.join("table.md"))
            .unwrap()
            .contains("still in progress")
    );
}

#[test]
fn a_broken_line_in_the_middle_is_an_error_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let run = Fixture::new("bad", "mlp-1x512").write(dir.path());
    let metrics = run.join("metrics.jsonl");
    let text = fs::read_to_string(&metrics)
        .unwrap()
        .replacen("\n", "\n{oops\n", 1);
    fs::write(&metrics, text).unwrap();
    let r = report(&[&run, &"--out", &dir.path().join("out")]);
    r.assert_code(1);
    assert!(
        r.stderr().contains("metrics.jsonl: line 2"),
        "{}",
        r.stderr()
    );
}

#[test]
fn a_run_without_metrics_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let run = Fixture::new("empty", "mlp-1x512").write(dir.path());
    fs::remove_file(run.join("metrics.jsonl")).unwrap();
    let out = dir.path().join("out");
    let r = report(&[&run, &"--out", &out]);
    r.assert_code(1);
    assert!(r.stderr().contains("empty/metrics.jsonl"), "{}", r.stderr());
    assert!(!out.join("table.csv").exists(), "nothing written on error");
}

#[test]
fn runs_of_different_datasets_are_not_mixed_in_a_figure_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let a = Fixture::new("cifar", "mlp-1x512").write(&runs);
    let b = Fixture::new("fmnist", "mlp-1x512")
        .dataset("fashion-mnist")
        .write(&runs);
    let out = dir.path().join("out");
    let r = report(&[&a, &b, &"--out", &out]);
    r.assert_code(1);
    assert!(
        r.stderr().contains("cifar10, fashion-mnist") && r.stderr().contains("--allow-mixed"),
        "{}",
        r.stderr()
    );
    assert!(!out.exists());

    report(&[&a, &b, &"--out", &out, &"--allow-mixed"]).assert_code(0);
    let rows = read_csv(&out.join("table.csv"));
    assert_eq!(rows.len(), 2);
    assert_eq!(
        line_names(&out.join("fig2.csv")),
        ["cifar10, no regularizer", "fashion-mnist, no regularizer"]
    );
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let run = Fixture::new("r", "mlp-1x512").write(dir.path());
    report(&[&run, &"--format", &"gif"]).assert_code(2);
    report(&[&run, &"--size", &"big"]).assert_code(2);
    report(&[&run, &"--fit-threshold", &"1.5"]).assert_code(2);
    report(&[]).assert_code(2);
}
