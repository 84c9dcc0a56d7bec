//! `report` on runs whose `per_example.npz` numpy itself wrote, with hand-written correctness
//! histories: the dynamics table's numbers (first fitted, forgetting, unforgettable, the seeds'
//! rank agreement, EL2N), the hardest/easiest lists (parsed by `subset`'s own reader), the ECDF
//! figure (its series and a non-blank PNG), and a malformed file refused with its name.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use rethink_testkit::Run;
use rethink_testkit::csv::{assert_close, num, read_csv, series};
use rethink_testkit::runs::Fixture;

/// Runs the `report` binary built for these tests.
fn report(args: &[&dyn AsRef<OsStr>]) -> Run {
    Run::with_args(env!("CARGO_BIN_EXE_report"), args)
}

/// Writes `per_example.npz` with numpy: `histories` one string per example ('1' = correct at
/// that evaluation), evaluations every 100 steps; `corrupted` a '0'/'1' string or empty; `el2n`
/// comma-separated or empty; `bad` breaks one entry on purpose.
const WRITER: &str = r#"
import sys, numpy as np
out, rows, corrupted, el2n, bad = sys.argv[1:6]
hist = np.array([[c == '1' for c in r] for r in rows.split(',')])
correct = hist.T.copy()                        # [evaluations, examples]
E, n = correct.shape
a = dict(
    steps=np.arange(E, dtype=np.uint64) * 100,
    correct=np.packbits(correct, axis=1),
    loss=np.where(correct, 0.1, 2.3).astype(np.float16),
    margin=np.where(correct, 1.5, -0.5).astype(np.float16),
    labels=(np.arange(n) % 10).astype(np.uint16),
)
if corrupted:
    a['corrupted'] = np.array([int(c) for c in corrupted], dtype=np.uint8)
if el2n:
    a['el2n'] = np.array([float(x) for x in el2n.split(',')], dtype=np.float32)
    a['el2n_step'] = np.array([100], dtype=np.uint64)
if bad == 'loss-f32':
    a['loss'] = a['loss'].astype(np.float32)
if bad == 'correct-short':
    a['correct'] = a['correct'][:-1]
np.savez(out, **a)
z = np.load(out)
assert bad or (np.unpackbits(z['correct'], axis=1, count=n).astype(bool) == correct).all()
"#;

fn write_npz(run: &Path, histories: &[&str], corrupted: &str, el2n: &str, bad: &str) {
    let status = Command::new(rethink_testkit::python())
        .args(["-c", WRITER])
        .arg(run.join("per_example.npz"))
        .args([&histories.join(","), corrupted, el2n, bad])
        .status()
        .expect("run python");
    assert!(status.success(), "numpy could not write the fixture");
}

/// A fixture run of `n` examples evaluated at steps 0..=400, with its per_example.npz.
fn run_with(
    runs: &Path,
    fixture: Fixture,
    histories: &[&str],
    corrupted: &str,
    el2n: &str,
) -> PathBuf {
    let evals: Vec<(u64, f64, f64)> = (0..5)
        .map(|e| (e * 100, 0.1 + 0.2 * e as f64, 0.3))
        .collect();
    let dir = fixture.evals(&evals).write(runs);
    edit_config(&dir, |c| {
        // The fixture says 1000 training examples; these runs have as many as their histories.
        c["train_size"] = histories.len().into();
        c["per_example"] = true.into();
    });
    write_npz(&dir, histories, corrupted, el2n, "");
    dir
}

fn edit_config(run: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = run.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut config);
    fs::write(&path, config.to_string()).unwrap();
}

/// Ten examples, five evaluations (steps 0-400). Per example: first fitted, forgetting events.
const SEED1: [&str; 10] = [
    "11111", // 0 clean: fitted at 0, unforgettable
    "01111", // 1 clean: 100
    "00111", // 2 clean: 200
    "01011", // 3 clean: 300, forgotten once
    "00011", // 4 clean: 300
    "00001", // 5 corrupted: 400
    "01001", // 6 corrupted: 400, forgotten once
    "00000", // 7 corrupted: never learned
    "10101", // 8 clean: 400, forgotten twice
    "11110", // 9 clean: never fitted (forgotten at the end)
];
/// Seed 2: the clean examples exactly as seed 1, the corrupted ones in another order.
const SEED2: [&str; 10] = [
    "11111", "01111", "00111", "01011", "00011", //
    "00000", // 5: never learned
    "00111", // 6: 200
    "00001", // 7: 400
    "10101", "11110",
];
const CORRUPTED: &str = "0000011100";

#[test]
fn dynamics_table_lists_and_figure_from_numpy_written_records() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let out = dir.path().join("report");
    let noisy = |name: &str, seed: u64| Fixture::new(name, "mlp-1x512").labels(0.4).seed(seed);
    let a = run_with(&runs, noisy("noisy-s1", 1), &SEED1, CORRUPTED, "");
    let b = run_with(&runs, noisy("noisy-s2", 2), &SEED2, CORRUPTED, "");
    // True labels, one seed, EL2N in the order of first fitting (never = last): ρ = 1.
    let t = run_with(
        &runs,
        Fixture::new("true-s1", "mlp-1x512"),
        &SEED1,
        "",
        "0,0.1,0.2,0.3,0.3,0.4,0.4,0.5,0.4,0.5",
    );
    // A run without per_example.npz is left out of the dynamics, not an error.
    let plain = Fixture::new("plain-s1", "alexnet-small").write(&runs);
    edit_config(&plain, |c| c["train_size"] = 10.into());

    report(&[&a, &b, &t, &plain, &"--out", &out]).assert_code(0);

    let rows = read_csv(&out.join("dynamics.csv"));
    let row = |data: &str, subset: &str| {
        rows.iter()
            .find(|r| r["data"] == data && r["subset"] == subset)
            .unwrap_or_else(|| panic!("no row {data}/{subset} in {rows:?}"))
    };
    assert_eq!(
        rows.len(),
        4,
        "noisy: all, clean, corrupted; true: all: {rows:?}"
    );

    let clean = row("labels p=0.4", "clean");
    assert_eq!(clean["runs"], "2");
    assert_close(num(clean, "examples"), 7.0);
    assert_close(num(clean, "eval_every_steps"), 100.0);
    assert_close(num(clean, "eval_every_epochs"), 1.0);
    assert_close(num(clean, "fitted_pct"), (600.0 / 7.0_f64).round_to(2));
    assert_close(num(clean, "median_first_fitted_step"), 250.0); // of 0, 100, 200, 300, 300, 400
    assert_close(
        num(clean, "unforgettable_pct"),
        (400.0 / 7.0_f64).round_to(2),
    );
    assert_close(num(clean, "never_learned_pct"), 0.0);
    assert_close(
        num(clean, "forgetting_events_mean"),
        (4.0 / 7.0_f64).round_to(4),
    );
    assert_close(num(clean, "forgotten_pct"), (300.0 / 7.0_f64).round_to(2));
    assert_close(num(clean, "seed_spearman"), 1.0); // the same order in both seeds
    assert_eq!(clean["seed_pairs"], "1");
    assert_close(num(clean, "seed_examples"), 7.0);

    let corrupted = row("labels p=0.4", "corrupted");
    assert_close(num(corrupted, "examples"), 3.0);
    assert_close(num(corrupted, "fitted_pct"), (200.0 / 3.0_f64).round_to(2));
    assert_close(num(corrupted, "median_first_fitted_step"), 350.0); // 400 and 300 (of 200, 400)
    assert_close(num(corrupted, "unforgettable_pct"), 50.0); // 1 of 3, then 2 of 3
    assert_close(
        num(corrupted, "never_learned_pct"),
        (100.0 / 3.0_f64).round_to(2),
    );
    assert_close(
        num(corrupted, "forgetting_events_mean"),
        (1.0 / 6.0_f64).round_to(4),
    );
    // Steps 400, 400, never vs never, 200, 400: ranks (1.5, 1.5, 3) vs (3, 1, 2): ρ = 0.
    assert_close(num(corrupted, "seed_spearman"), 0.0);

    let all = row("labels p=0.4", "all");
    assert_close(num(all, "examples"), 10.0);
    assert_close(num(all, "fitted_pct"), 80.0);
    assert_close(num(all, "unforgettable_pct"), 55.0); // 5 of 10, then 6 of 10

    let truth = row("true labels", "all");
    assert_eq!(truth["runs"], "1");
    assert_eq!(truth["seed_spearman"], "", "one seed: no pair to compare");
    assert_close(num(truth, "el2n_spearman_first_fitted"), 1.0);
    assert_close(num(truth, "el2n_mean"), 0.31);
    assert_eq!(truth["el2n_step"], "100");

    // The lists: by mean first-fitted step (never = 500), ties by forgetting events, then index.
    let list = |name: &str| -> Vec<usize> {
        let path = out.join("dynamics").join(name);
        let text = fs::read_to_string(&path).unwrap_or_else(|e| {
            let written: Vec<_> = fs::read_dir(path.parent().unwrap())
                .map(|d| d.flatten().map(|e| e.file_name()).collect())
                .unwrap_or_default();
            panic!("{}: {e}; written: {written:?}", path.display())
        });
        subset::indices::parse(&text, name, 10).unwrap()
    };
    assert_eq!(
        list("mlp-1x512--labels0.4-hardest.txt"),
        [9, 5, 7, 8, 3, 6, 4, 2, 1, 0]
    );
    assert_eq!(
        list("mlp-1x512--labels0.4-easiest.txt"),
        [0, 1, 2, 4, 6, 3, 8, 5, 7, 9]
    );
    assert_eq!(list("mlp-1x512--true-hardest.txt")[..2], [9, 7]); // never fitted; 9 was forgotten

    // The ECDF: share of the clean examples fitted for good by each step, both seeds alike.
    let s = series(&out.join("dynamics-first-fitted.csv"));
    let clean_curve = &s
        .iter()
        .find(|(n, _)| n == "labels p=0.4: clean")
        .unwrap()
        .1;
    let expected = [1.0, 2.0, 3.0, 5.0, 6.0].map(|k| 100.0 * k / 7.0);
    assert_eq!(clean_curve.len(), 5);
    for ((x, y), (k, e)) in clean_curve.iter().zip(expected.iter().enumerate()) {
        assert_close(*x, k as f64 * 0.1);
        assert_close(*y, *e);
    }
    assert!(s.iter().any(|(n, _)| n == "labels p=0.4: corrupted"));
    assert!(s.iter().any(|(n, _)| n == "true labels"));

    let png = image::open(out.join("dynamics-first-fitted.png"))
        .unwrap()
        .to_rgb8();
    assert_eq!(png.dimensions(), (960, 640));
    let palette = [[31u8, 119, 180], [255, 127, 14]];
    for c in palette {
        let count = png.pixels().filter(|p| p.0 == c).count();
        assert!(
            count > 200,
            "the figure draws condition color {c:?} ({count} pixels)"
        );
    }
    assert!(out.join("dynamics-first-fitted.svg").exists());

    let summary = fs::read_to_string(out.join("summary.md")).unwrap();
    for needle in [
        "## Per-example learning dynamics",
        "every 100 steps (1 epoch)",
        "92%",
        "![First fitted",
        "dynamics/mlp-1x512--labels0.4-hardest.txt",
    ] {
        assert!(
            summary.contains(needle),
            "summary.md lacks {needle:?}:\n{summary}"
        );
    }
    let md = fs::read_to_string(out.join("dynamics.md")).unwrap();
    assert!(
        md.contains("| MLP 1x512 | labels p=0.4 | none | corrupted (3) | 2 |"),
        "{md}"
    );
}

/// A report without per-example records writes no dynamics at all.
#[test]
fn no_records_no_dynamics() {
    let dir = tempfile::tempdir().unwrap();
    let run = Fixture::new("plain-s1", "mlp-1x512").write(&dir.path().join("runs"));
    let out = dir.path().join("report");
    report(&[&run, &"--out", &out]).assert_code(0);
    assert!(!out.join("dynamics.csv").exists());
    assert!(!out.join("dynamics").exists());
    let summary = fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(!summary.contains("Per-example"), "{summary}");
}

#[test]
fn malformed_records_are_refused_naming_file_and_entry() {
    for (bad, needles) in [
        ("loss-f32", &["per_example.npz", "loss", "float16"][..]),
        (
            "correct-short",
            &["per_example.npz", "correct", "expected shape [5, 2]"][..],
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let runs = dir.path().join("runs");
        let run = run_with(&runs, Fixture::new("r", "mlp-1x512"), &SEED1, "", "");
        write_npz(&run, &SEED1, "", "", bad);
        let r = report(&[&run, &"--out", &dir.path().join("report")]);
        r.assert_code(1);
        let err = r.stderr();
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        for n in needles {
            assert!(err.contains(n), "{bad}: {err:?} lacks {n:?}");
        }
    }
}

trait RoundTo {
    fn round_to(self, decimals: i32) -> f64;
}
impl RoundTo for f64 {
    /// As dynamics.csv writes it.
    fn round_to(self, decimals: i32) -> f64 {
        let k = 10f64.powi(decimals);
        (self * k).round() / k
    }
}
