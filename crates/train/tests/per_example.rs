//! `train --per-example`: per_example.npz, opened by numpy, agrees with the run's own
//! evaluations, and a resumed run's records equal an uninterrupted run's.

mod util;

use rethink_testkit::run_python;
use util::*;

/// 120 learnable 6×6×1 images of 4 classes, a quarter of the labels corrupted (with clean labels
/// and the redrawn mask, as `corrupt` writes them); 30 test images.
fn data(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let mut split = prototype_split(120, [6, 6, 1], 4, 0.3, 5);
    let clean = split.labels.clone();
    let mut redrawn = vec![0u8; 120];
    for i in (0..120).step_by(4) {
        split.labels[i] = (split.labels[i] + 1) % 4;
        redrawn[i] = 1;
    }
    let mut data = dataset(
        "quarter",
        4,
        Some(split),
        Some(prototype_split(30, [6, 6, 1], 4, 0.3, 6)),
    );
    data.train_clean_labels = Some(clean);
    data.train_corrupted = Some(redrawn);
    let file = path(dir, "d.npz");
    write_dataset(&file, &data);
    file
}

fn train(data: &std::path::Path, out: &std::path::Path, extra: &[&str]) {
    run(
        train_bin()
            .args(["--model", "mlp-1x512", "--data"])
            .arg(data)
            .arg("--out")
            .arg(out)
            .args(["--batch-size", "20", "--threads", "1", "--per-example"])
            .args(["--eval-every", "0.5", "--dropout", "0.2"])
            .args(extra),
        0,
    );
}

/// numpy reads every array; each row's correctness is the evaluation's train accuracy to the
/// example, its mean loss the evaluation's loss (to float16 rounding), the margin positive
/// exactly where the example is right, and EL2N is recorded after one epoch (6 steps).
#[test]
fn per_example_records_agree_with_the_evaluations() {
    let dir = tmp();
    let data = data(&dir);
    let out = path(&dir, "run");
    train(&data, &out, &["--epochs", "4"]);
    let config = read_json(&out.join("config.json"));
    assert_eq!(config["per_example"], true);
    assert_eq!(config["el2n_step"], 6);
    let evals: Vec<String> = evals(&out)
        .iter()
        .map(|e| format!("{} {} {}", e["step"], e["train_acc"], e["train_loss"]))
        .collect();
    assert_eq!(evals.len(), 9, "evaluations at steps 0, 3, ..., 24");
    let checked = run_python(
        r#"
import sys, numpy as np
z = np.load(sys.argv[1])
n = 120
assert sorted(z.files) == ["correct", "corrupted", "el2n", "el2n_step", "labels", "loss", "margin", "steps"], z.files
assert z["correct"].dtype == np.uint8 and z["correct"].shape == (9, 15), z["correct"].shape
assert z["loss"].dtype == np.float16 and z["loss"].shape == (9, n)
assert z["margin"].dtype == np.float16 and z["margin"].shape == (9, n)
assert z["steps"].dtype == np.uint64 and z["labels"].dtype == np.uint16
assert z["corrupted"].sum() == 30 and (np.flatnonzero(z["corrupted"]) % 4 == 0).all()
correct = np.unpackbits(z["correct"], axis=1, count=n).astype(bool)
assert ((z["margin"] > 0) == correct).all(), "margin > 0 exactly where right"
assert z["el2n_step"].tolist() == [6] and z["el2n"].shape == (n,) and (z["el2n"] >= 0).all()
assert (z["el2n"] <= np.sqrt(2) + 1e-6).all()
for step, c, loss in zip(z["steps"], correct, z["loss"].astype(np.float64)):
    print(int(step), c.mean(), loss.mean())
"#,
        &[&out.join("per_example.npz")],
    );
    let rows: Vec<&str> = checked.lines().collect();
    assert_eq!(rows.len(), evals.len(), "{checked}");
    for (row, eval) in rows.iter().zip(&evals) {
        let r: Vec<f64> = row.split(' ').map(|v| v.parse().unwrap()).collect();
        let e: Vec<f64> = eval.split(' ').map(|v| v.parse().unwrap()).collect();
        assert_eq!(r[0], e[0], "steps: {row} vs {eval}");
        assert!((r[1] - e[1]).abs() < 1e-12, "accuracy: {row} vs {eval}");
        assert!(
            (r[2] - e[2]).abs() < 2e-3 * e[2].max(1.0),
            "loss: {row} vs {eval}"
        );
    }
}

/// A run stopped mid-epoch (step 7, after the step-6 checkpoint) and resumed writes the same
/// per-example records as a run never interrupted.
#[test]
fn resumed_records_equal_an_uninterrupted_run() {
    let dir = tmp();
    let data = data(&dir);
    let (whole, parts) = (path(&dir, "whole"), path(&dir, "parts"));
    train(&data, &whole, &["--epochs", "3"]);
    train(&data, &parts, &["--max-steps", "7"]);
    train(&data, &parts, &["--epochs", "3", "--resume"]);
    let same = run_python(
        r#"
import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
assert a.files == b.files, (a.files, b.files)
for k in a.files:
    assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k
print(a["steps"].tolist())
"#,
        &[
            &whole.join("per_example.npz"),
            &parts.join("per_example.npz"),
        ],
    );
    assert_eq!(same.trim(), "[0, 3, 6, 9, 12, 15, 18]");
}
