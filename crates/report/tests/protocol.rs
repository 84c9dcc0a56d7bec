//! The report side of the paper's protocol (issue 15): top-5 beside top-1 (item 4), the
//! corrupted and redrawn subsets of memorization (item 8), Figure 1a as small multiples and
//! Figure 2 with the paper's settings only (item 9). Each test fails on the report before them.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

use rethink_testkit::Run;
use rethink_testkit::csv::{assert_close, num, panel_series, read_csv, series};
use rethink_testkit::runs::Fixture;

/// Runs the `report` binary built for these tests.
fn report(args: &[&dyn AsRef<OsStr>]) -> Run {
    Run::with_args(env!("CARGO_BIN_EXE_report"), args)
}

fn run_report(dirs: &[PathBuf], out: &Path, extra: &[&str]) -> Run {
    let mut args: Vec<&dyn AsRef<OsStr>> = dirs.iter().map(|d| d as _).collect();
    args.push(&"--out");
    args.push(&out);
    for e in extra {
        args.push(e);
    }
    let r = report(&args);
    r.assert_code(0);
    r
}

/// Breaks if top-5 is not read from the runs, not tabulated, or not set beside Table 2's 80.38.
#[test]
fn top5_sits_beside_top1_where_the_runs_have_it_and_beside_the_papers_table2() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let dirs = [
        Fixture::new("v3", "inception-v3")
            .dataset("imagenet")
            .schema(1)
            .evals(&[(0, 0.01, 0.01), (1000, 0.9, 0.6)])
            .top5(&[(0.05, 0.05), (0.99, 0.82)])
            .write(&runs),
        // Written before top-5 existed: its top-5 cells stay empty.
        Fixture::new("v3-aug", "inception-v3")
            .dataset("imagenet")
            .augment(&["rrc", "flip"])
            .evals(&[(0, 0.01, 0.01), (1000, 0.8, 0.7)])
            .write(&runs),
    ];
    let out = dir.path().join("out");
    run_report(&dirs, &out, &["--paper"]);

    let rows = read_csv(&out.join("table.csv"));
    assert_eq!(rows.len(), 2, "{rows:?}");
    let plain = rows.iter().find(|r| r["regularizers"] == "none").unwrap();
    assert_close(num(plain, "train_top5_pct"), 99.0);
    assert_close(num(plain, "test_top5_pct"), 82.0);
    assert_eq!(plain["paper_table"], "Table 2");
    assert_close(num(plain, "paper_test_top5_pct"), 80.38);
    assert_close(num(plain, "test_top5_diff_pct"), 82.0 - 80.38);
    let aug = rows.iter().find(|r| r["regularizers"] != "none").unwrap();
    assert_eq!(aug["test_top5_pct"], "", "an old run has no top-5");
    assert_close(num(aug, "paper_test_acc_pct"), 72.95);

    let md = fs::read_to_string(out.join("table.md")).unwrap();
    let header = md.lines().next().unwrap();
    assert!(
        header.contains("| Test acc. (%) | Train top-5 (%) | Test top-5 (%) |")
            && header.contains("| Paper test top-5 (%) | Δ test top-5 (pp) |"),
        "{md}"
    );
    assert!(
        md.contains("| 99.00 | 82.00 |") && md.contains("| 80.38 | +1.62 |"),
        "{md}"
    );
}

#[test]
fn without_top5_in_any_run_the_table_has_no_top5_column() {
    let dir = tempfile::tempdir().unwrap();
    let run = Fixture::new("mlp", "mlp-1x512").schema(1).write(dir.path());
    let out = dir.path().join("out");
    run_report(&[run], &out, &[]);
    let csv = fs::read_to_string(out.join("table.csv")).unwrap();
    assert!(!csv.contains("top5"), "{csv}");
    let md = fs::read_to_string(out.join("table.md")).unwrap();
    assert!(!md.contains("top-5"), "{md}");
}

/// Breaks if "corrupted" still means "redrawn" for new runs, the redrawn subset is not drawn, or
/// the two counts are not reported.
#[test]
fn memorization_reports_the_corrupted_and_the_redrawn_subset_and_their_counts() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let run = Fixture::new("p04", "mlp-1x512")
        .labels(0.4)
        .schema(1)
        .evals(&[(0, 0.1, 0.1), (500, 0.7, 0.4), (1000, 1.0, 0.35)])
        .subsets(&[(0.1, 0.1), (0.95, 0.2), (1.0, 1.0)])
        .redrawn(&[(0.1), (0.3), (1.0)])
        .counts(360, 400)
        .write(&runs);
    let out = dir.path().join("out");
    let r = run_report(&[run], &out, &[]);

    let s = series(&out.join("memorization.csv"));
    let names: Vec<&str> = s.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "labels p=0.4: clean subset",
            "labels p=0.4: corrupted subset",
            "labels p=0.4: redrawn subset"
        ]
    );
    for (_, points) in &s {
        assert_eq!(points.len(), 3, "{s:?}");
    }
    assert_eq!(s[1].1, vec![(0.0, 10.0), (0.5, 20.0), (1.0, 100.0)]);
    assert_eq!(s[2].1, vec![(0.0, 10.0), (0.5, 30.0), (1.0, 100.0)]);

    let counts = "360 corrupted (label ≠ clean label), 400 redrawn of 1000 training labels";
    let summary = fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains(counts), "{summary}");
    assert!(r.stderr().contains(counts), "{}", r.stderr());
    assert!(!r.stderr().contains("before schema 1"), "{}", r.stderr());
}

/// Breaks if Figure 1a puts every model in one chart, or colours a randomization differently in
/// different panels.
#[test]
fn figure1a_draws_one_panel_per_model_with_one_colour_per_randomization() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let dirs = vec![
        Fixture::new("inc-true", "inception-small").write(&runs),
        Fixture::new("inc-random", "inception-small")
            .labels(1.0)
            .write(&runs),
        Fixture::new("mlp-true", "mlp-1x512").write(&runs),
        Fixture::new("mlp-gauss", "mlp-1x512")
            .pixels("gaussian")
            .write(&runs),
        Fixture::new("mlp-random", "mlp-1x512")
            .labels(1.0)
            .write(&runs),
    ];
    let out = dir.path().join("out");
    run_report(&dirs, &out, &["--format", "png"]);
    let csv = fs::read_to_string(out.join("fig1a.csv")).unwrap();
    assert!(
        csv.starts_with("panel,series,x,y,seed_min,seed_max\n"),
        "{csv}"
    );
    let panels = panel_series(&out.join("fig1a.csv"));
    let expect = [
        ("Inception-small", "true labels"),
        ("Inception-small", "random labels"),
        ("MLP 1x512", "true labels"),
        ("MLP 1x512", "Gaussian"),
        ("MLP 1x512", "random labels"),
    ];
    assert_eq!(panels.len(), expect.len(), "{panels:?}");
    for (got, want) in panels.iter().zip(expect) {
        assert_eq!((got.0.as_str(), got.1.as_str()), want);
    }
    let png = image::open(out.join("fig1a.png")).unwrap();
    assert_eq!((png.width(), png.height()), (960, 640));

    // The colours, from the figure itself.
    let read: Vec<_> = dirs
        .iter()
        .map(|d| report::runs::read_run(d).unwrap())
        .collect();
    let groups = report::groups::group_runs(&read);
    let cx = report::figures::Context {
        runs: &read,
        groups: &groups,
        fit_threshold: 1.0,
    };
    let Ok(fig) = report::figures::fig1a(&cx) else {
        panic!("fig1a skipped")
    };
    assert_eq!(fig.panels, ["Inception-small", "MLP 1x512"]);
    assert_eq!(fig.series.len(), 5);
    let color = |panel: usize, name: &str| {
        fig.series
            .iter()
            .find(|s| s.panel == panel && s.name == name)
            .unwrap_or_else(|| panic!("no {name} in panel {panel}"))
            .color
    };
    assert_eq!(color(0, "true labels"), color(1, "true labels"));
    assert_eq!(color(0, "random labels"), color(1, "random labels"));
    assert_ne!(color(1, "Gaussian"), color(1, "random labels"));
}

/// Breaks if Figure 2 draws every true-label group, or counts a flip or random resized crop as
/// the paper's crop.
#[test]
fn figure2_draws_only_the_papers_inception_settings() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let evals = [(0, 0.1, 0.1), (1000, 0.8, 0.6), (2000, 1.0, 0.7)];
    let inc = |name: &str| Fixture::new(name, "inception-small").evals(&evals);
    let dirs = vec![
        inc("plain").write(&runs),
        inc("nobn").no_batchnorm().write(&runs),
        inc("crop-wd")
            .augment(&["crop"])
            .weight_decay(0.0005)
            .write(&runs),
        inc("crop").augment(&["crop"]).write(&runs),
        inc("wd").weight_decay(0.0005).write(&runs),
        inc("rrc-wd")
            .augment(&["rrc"])
            .weight_decay(0.0005)
            .write(&runs),
        inc("flip-wd")
            .augment(&["flip"])
            .weight_decay(0.0005)
            .write(&runs),
        Fixture::new("mlp", "mlp-1x512").evals(&evals).write(&runs),
    ];
    let out = dir.path().join("out");
    let r = run_report(&dirs, &out, &["--format", "svg"]);
    let s = series(&out.join("fig2.csv"));
    let names: Vec<&str> = s
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| !n.ends_with("(best so far)"))
        .collect();
    assert_eq!(
        names,
        [
            "Inception-small, crop, wd 0.0005",
            "Inception-small, no regularizer",
            "Inception-small w/o BN, no regularizer"
        ]
    );
    assert!(r.stderr().contains("fig2: left out"), "{}", r.stderr());
    assert!(r.stderr().contains("rrc, wd 0.0005"), "{}", r.stderr());
}

/// Breaks if a flip or a random resized crop with weight decay is set beside the paper's
/// crop+wd or wd-only rows.
#[test]
fn aug_wd_matches_the_papers_crop_wd_row_only_when_it_is_crop_wd() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let inc = |name: &str, aug: &[&'static str]| {
        Fixture::new(name, "inception-small")
            .augment(aug)
            .weight_decay(0.0005)
            .evals(&[(0, 0.1, 0.1), (1000, 1.0, 0.88)])
            .write(&runs)
    };
    let dirs = vec![
        inc("crop-wd", &["crop"]),
        inc("crop-flip-wd", &["crop", "flip"]),
        inc("flip-wd", &["flip"]),
        inc("rrc-wd", &["rrc"]),
        inc("wd", &[]),
    ];
    let out = dir.path().join("out");
    run_report(&dirs, &out, &["--paper"]);
    let rows = read_csv(&out.join("table.csv"));
    assert_eq!(rows.len(), 5, "{rows:?}");
    let paper_test = |regs: &str| {
        let row = rows
            .iter()
            .find(|r| r["regularizers"] == regs)
            .unwrap_or_else(|| panic!("no row {regs}: {rows:?}"));
        row["paper_test_acc_pct"].clone()
    };
    assert_eq!(paper_test("crop, wd 0.0005"), "89.05");
    assert_eq!(paper_test("crop+flip, wd 0.0005"), "89.05");
    assert_eq!(paper_test("wd 0.0005"), "86.03");
    assert_eq!(
        paper_test("flip, wd 0.0005"),
        "",
        "a flip is not the paper's crop"
    );
    assert_eq!(
        paper_test("rrc, wd 0.0005"),
        "",
        "nor is a random resized crop"
    );
}
