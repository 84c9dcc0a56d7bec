//! The figures of a study that mixes runs trained until they fit with fixed-budget runs of the
//! same experiment (Figure 1 and Table 1 share them) and models with their own learning rates:
//! legends name only what tells a chart's curves apart, each figure draws its own kind of run,
//! short runs are drawn against steps, and loss spikes do not flatten the other curves.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

use rethink_testkit::Run;
use rethink_testkit::csv::{line_names, panel_series, series};
use rethink_testkit::runs::Fixture;
use serde_json::json;

fn report(dirs: &[PathBuf], out: &Path) -> Run {
    let mut args: Vec<&dyn AsRef<OsStr>> = dirs.iter().map(|d| d as _).collect();
    args.push(&"--out");
    args.push(&out);
    let r = Run::with_args(env!("CARGO_BIN_EXE_report"), &args);
    r.assert_code(0);
    r
}

/// A fixed budget of 40 epochs, as Table 1's runs: not asked to fit.
fn budget(f: Fixture) -> Fixture {
    f.config("until_train_acc", json!(null))
        .config("epochs", json!(40))
}

/// Breaks if a legend names a setting that is the same for every curve of its chart (the
/// convnets' lr 0.1 against the MLP's 0.01 is a difference between panels, not within one), if
/// Figure 1a draws a fixed-budget run beside the fitted one of the same condition, if Figure 2
/// draws the fitted run beside the budget's, or if runs of a few hundred steps are drawn
/// against "thousands of training steps".
#[test]
fn legends_name_only_what_differs_and_each_figure_draws_its_own_kind_of_run() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let lr = |f: Fixture, v: f64| f.config("lr", json!(v));
    let dirs = [
        lr(Fixture::new("inc-true-fit", "inception-small"), 0.1)
            .fits_at(200, 0.7, 0.75)
            .write(&runs),
        lr(Fixture::new("inc-random-fit", "inception-small"), 0.1)
            .labels(1.0)
            .fits_at(400, 0.1, 0.12)
            .write(&runs),
        budget(lr(Fixture::new("inc-true-budget", "inception-small"), 0.1))
            .stops_at(160, 0.95, 0.8)
            .write(&runs),
        budget(lr(Fixture::new("inc-nobn-budget", "inception-small"), 0.1))
            .no_batchnorm()
            .stops_at(160, 0.1, 0.1)
            .write(&runs),
        Fixture::new("mlp-true-fit", "mlp-1x512")
            .fits_at(300, 0.6, 0.65)
            .write(&runs),
        Fixture::new("mlp-random-fit", "mlp-1x512")
            .labels(1.0)
            .fits_at(500, 0.1, 0.11)
            .write(&runs),
    ];
    let out = dir.path().join("out");
    report(&dirs, &out);

    assert_eq!(
        panel_series(&out.join("fig1a.csv")),
        pairs(&[
            ("Inception-small", "true labels"),
            ("Inception-small", "random labels"),
            ("MLP 1x512", "true labels"),
            ("MLP 1x512", "random labels"),
        ]),
        "one curve per condition, the budget run and Inception w/o BN left out"
    );
    let summary = fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(
        summary.contains("left out, a fixed budget beside runs trained until they fit"),
        "{summary}"
    );

    let names = line_names(&out.join("fig2.csv"));
    assert_eq!(
        names,
        [
            "Inception-small, no regularizer",
            "Inception-small w/o BN, no regularizer"
        ],
        "the budget's curves, named without settings they share"
    );
    let fig2 = series(&out.join("fig2.csv"));
    let plain = &fig2.iter().find(|(n, _)| *n == names[0]).unwrap().1;
    assert_eq!(plain.last().unwrap().0, 160.0, "the budget run, in steps");
    assert!(
        summary.contains("left out, trained until they fit beside the fixed budget drawn here"),
        "{summary}"
    );

    let svg = fs::read_to_string(out.join("fig2.svg")).unwrap();
    assert!(svg.contains("training steps") && !svg.contains("thousands of training steps"));
    assert!(!svg.contains("lr=") && !svg.contains("epochs="), "{svg}");
}

/// Breaks if Figure 1a draws the `train` lines when the evaluations (the whole training set's
/// loss, from step 0) are the denser record, or if a loss spike sets the y axis.
#[test]
fn figure_1a_draws_the_denser_loss_record_and_cuts_spikes() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    // Six evaluations (train_loss 1.0 each in the fixture) against two `train` lines.
    let sparse = Fixture::new("sparse-lines", "mlp-1x512")
        .evals(&[
            (0, 0.1, 0.1),
            (100, 0.3, 0.2),
            (200, 0.5, 0.3),
            (300, 0.7, 0.4),
            (400, 0.9, 0.5),
            (1000, 1.0, 0.5),
        ])
        .losses(&[(0, 2.3), (1000, 0.2)])
        .write(&runs);
    // Five `train` lines against three evaluations, one of them far above the start.
    let spiky = Fixture::new("spiky", "mlp-1x512")
        .labels(1.0)
        .fits_at(1000, 0.1, 0.1)
        .losses(&[(0, 2.3), (250, 250.0), (500, 1.0), (750, 0.5), (1000, 0.1)])
        .write(&runs);
    let out = dir.path().join("out");
    report(&[sparse, spiky], &out);

    let fig1a = series(&out.join("fig1a.csv"));
    let true_labels = &fig1a.iter().find(|(n, _)| n == "true labels").unwrap().1;
    assert_eq!(true_labels.len(), 6, "{true_labels:?}");
    assert!(true_labels.iter().all(|p| p.1 == 1.0), "{true_labels:?}");
    let random = &fig1a.iter().find(|(n, _)| n == "random labels").unwrap().1;
    assert_eq!(random[1], (0.25, 250.0), "the CSV keeps the spike");
    let summary = fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(
        summary
            .contains("y axis cut at 2.88 (1.25 x the largest starting loss): losses up to 250.0"),
        "{summary}"
    );
}

/// Owned (panel, series) pairs, to compare with [`panel_series`].
fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(p, s)| (p.to_string(), s.to_string()))
        .collect()
}

/// Breaks if a run that differs from a fitted one in more than how it stopped (here its
/// learning rate) is left out as the same curve, or if a panel's legend names a setting all
/// its curves share while another panel differs in it (Figure 2 without Inception: AlexNet at
/// lr 0.1, the MLP at 0.01 and 0.1).
#[test]
fn a_curve_that_differs_in_more_than_its_stop_is_drawn_and_named_by_that() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let lr = |f: Fixture, v: f64| f.config("lr", json!(v));
    let dirs = [
        Fixture::new("mlp-fit", "mlp-1x512")
            .fits_at(300, 0.6, 0.65)
            .write(&runs),
        budget(Fixture::new("mlp-budget", "mlp-1x512"))
            .stops_at(160, 0.9, 0.6)
            .write(&runs),
        budget(lr(Fixture::new("mlp-budget-lr", "mlp-1x512"), 0.1))
            .stops_at(160, 0.9, 0.55)
            .write(&runs),
        budget(lr(Fixture::new("alexnet-budget", "alexnet-small"), 0.1))
            .stops_at(160, 0.9, 0.7)
            .write(&runs),
    ];
    let out = dir.path().join("out");
    report(&dirs, &out);

    let mut fig2 = panel_series(&out.join("fig2.csv"));
    fig2.retain(|(_, s)| !s.ends_with("(best so far)"));
    fig2.sort();
    assert_eq!(
        fig2,
        pairs(&[
            ("AlexNet-small", "no regularizer"),
            ("MLP 1x512", "no regularizer, lr=0.01"),
            ("MLP 1x512", "no regularizer, lr=0.1"),
        ])
    );
    let mut fig1a = panel_series(&out.join("fig1a.csv"));
    fig1a.sort();
    assert_eq!(
        fig1a,
        pairs(&[
            ("AlexNet-small", "true labels"),
            (
                "MLP 1x512",
                "true labels, epochs=10 lr=0.01 until_train_acc=1.0"
            ),
            ("MLP 1x512", "true labels, epochs=40 lr=0.1"),
        ]),
        "the budget run at lr 0.01 is the fitted run's curve, the one at lr 0.1 is not"
    );
}
