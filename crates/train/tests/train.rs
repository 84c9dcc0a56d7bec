//! `train` end to end on tiny generated datasets: what the README promises, checked on the
//! numbers the run folder holds.

mod util;

use std::io::Write;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use util::*;

/// One libtorch thread: bit-exact comparisons of two runs must not depend on how a parallel
/// reduction happened to split its work.
const THREADS: &str = "1";

/// `train --list-models` prints the paper's parameter counts (Table 1) for 28×28×3 inputs.
#[test]
fn list_models_prints_the_paper_parameter_counts() {
    let out = run(train_bin().arg("--list-models"), 0);
    let text = String::from_utf8(out.stdout).unwrap();
    let count = |model: &str| -> u64 {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(model))
            .unwrap_or_else(|| panic!("no {model} in\n{text}"));
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    assert_eq!(count("mlp-1x512"), 1_209_866);
    assert_eq!(count("mlp-3x512"), 1_735_178);
    assert_eq!(count("alexnet-small"), 1_387_786);
    assert_eq!(count("inception-small"), 1_649_402);

    // The counts follow the input shape and class count.
    let out = run(
        train_bin().args([
            "--list-models",
            "--input-shape",
            "28x28x1",
            "--classes",
            "2",
        ]),
        0,
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text.lines().find(|l| l.starts_with("mlp-1x512")).unwrap();
    assert_eq!(
        line.split_whitespace().nth(1).unwrap(),
        (784 * 512 + 512 + 512 * 2 + 2).to_string()
    );
}

/// The paper's central experiment in miniature: an MLP memorizes 500 random labels (100% train
/// accuracy) while its test accuracy stays at chance. Trained without learning-rate decay, so
/// 100% is reached on any CPU rather than stalling at 499/500 under a finite total step size.
#[test]
fn mlp_fits_random_labels_and_does_not_generalize() {
    let dir = tmp();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let data = dataset(
        "noise",
        10,
        Some(random_split(500, [8, 8, 3], 10, &mut rng)),
        Some(random_split(500, [8, 8, 3], 10, &mut rng)),
    );
    write_dataset(&path(&dir, "noise.npz"), &data);
    let out = path(&dir, "run");
    run(
        train_bin()
            .args(["--model", "mlp-1x512", "--data"])
            .arg(path(&dir, "noise.npz"))
            .arg("--out")
            .arg(&out)
            .args(FIT_RANDOM_LABELS)
            .args(["--until-train-acc", "1.0", "--epochs", "300"]),
        0,
    );
    let summary = read_json(&out.join("summary.json"));
    assert_eq!(summary["stopped"], "until_train_acc", "{summary:#}");
    assert_eq!(summary["final"]["train_acc"], 1.0);
    let test_acc = summary["final"]["test_acc"].as_f64().unwrap();
    assert!(
        (0.03..0.2).contains(&test_acc),
        "test accuracy {test_acc} is not near chance (0.1)"
    );
    let gap = summary["generalization_error"].as_f64().unwrap();
    assert!((gap - (1.0 - test_acc)).abs() < 1e-12);
    // Steps to 100%, evaluated after every step: the same run cut one step earlier (a separate
    // run, judged by its own final evaluation) has not fitted; cut there, it has.
    let fit = summary["steps_to_train_acc"]["1.0"].as_u64().unwrap();
    assert_eq!(summary["steps"], fit);
    assert!(fit > 10, "fitted 500 random labels in {fit} steps");
    for (steps, fitted) in [(fit - 1, false), (fit, true)] {
        let cut = path(&dir, &format!("cut{steps}"));
        run(
            train_bin()
                .args(["--model", "mlp-1x512", "--data"])
                .arg(path(&dir, "noise.npz"))
                .arg("--out")
                .arg(&cut)
                .args(FIT_RANDOM_LABELS)
                .args(["--max-steps", &steps.to_string()]),
            0,
        );
        let acc = read_json(&cut.join("summary.json"))["final"]["train_acc"]
            .as_f64()
            .unwrap();
        assert_eq!(
            acc == 1.0,
            fitted,
            "after {steps} steps: train accuracy {acc}"
        );
    }
    let evals = evals(&out);
    assert_eq!(
        evals.len() as u64,
        fit + 1,
        "an evaluation after every step"
    );
    assert_eq!(evals[0]["step"], 0);
    assert!(evals[0]["train_acc"].as_f64().unwrap() < 0.3);
    assert!(out.join("model.bpk").exists());
    let config = read_json(&out.join("config.json"));
    assert_eq!(config["parameters"], 8 * 8 * 3 * 512 + 512 + 5130);
    assert_eq!(config["train_size"], 500);
    assert_eq!(config["crop"], serde_json::Value::Null);
}

/// Random labels fitted with evaluations after every step (10 steps per epoch) and a constant
/// learning rate.
const FIT_RANDOM_LABELS: &[&str] = &[
    "--batch-size",
    "50",
    "--eval-every",
    "0.1",
    "--lr-decay",
    "1",
    "--threads",
    THREADS,
];

/// On a learnable task the same protocol generalizes: high test accuracy.
#[test]
fn mlp_learns_a_learnable_task() {
    let dir = tmp();
    let data = dataset(
        "protos",
        4,
        Some(prototype_split(400, [8, 8, 3], 4, 0.6, 1)),
        Some(prototype_split(200, [8, 8, 3], 4, 0.6, 2)),
    );
    write_dataset(&path(&dir, "protos.npz"), &data);
    let out = path(&dir, "run");
    run(
        train_bin()
            .args(["--model", "mlp-1x512", "--data"])
            .arg(path(&dir, "protos.npz"))
            .arg("--out")
            .arg(&out)
            .args(["--epochs", "10", "--batch-size", "32", "--threads", THREADS])
            .args(["--log-every", "10"]),
        0,
    );
    let summary = read_json(&out.join("summary.json"));
    assert_eq!(summary["stopped"], "epochs");
    assert_eq!(summary["steps"], 10 * 13);
    let test_acc = summary["final"]["test_acc"].as_f64().unwrap();
    assert!(test_acc > 0.9, "test accuracy {test_acc}");
    // Training loss is logged every --log-every steps and falls: the mean of the last three
    // records is under half that of the first three, and the evaluated loss falls from about
    // ln 4 at step 0 to under half of it.
    let records = read_metrics(&out);
    let losses: Vec<f64> = records
        .iter()
        .filter(|r| r["kind"] == "train")
        .map(|r| r["loss"].as_f64().unwrap())
        .collect();
    assert_eq!(losses.len(), 130 / 10);
    let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len() as f64;
    let (early, late) = (mean(&losses[..3]), mean(&losses[losses.len() - 3..]));
    assert!(
        late < 0.5 * early,
        "training loss {early} -> {late}: {losses:?}"
    );
    let evals = evals(&out);
    let (first, last) = (
        evals[0]["train_loss"].as_f64().unwrap(),
        evals.last().unwrap()["train_loss"].as_f64().unwrap(),
    );
    assert!((first - 4f64.ln()).abs() < 0.5, "initial loss {first}");
    assert!(last < 0.5 * first, "evaluated loss {first} -> {last}");
}

fn train_tiny(data: &std::path::Path, out: &std::path::Path, model: &str, extra: &[&str]) {
    run(
        train_bin()
            .args(["--model", model, "--data"])
            .arg(data)
            .arg("--out")
            .arg(out)
            .args([
                "--batch-size",
                "20",
                "--crop",
                "8",
                "--augment",
                "crop,flip",
                "--threads",
                THREADS,
                "--log-every",
                "2",
            ])
            .args(extra),
        0,
    );
}

/// Same seed, same numbers; another seed, other numbers.
#[test]
fn a_seed_determines_the_run() {
    let dir = tmp();
    let data = tiny_random_file(&dir);
    let args = ["--epochs", "3", "--dropout", "0.3"];
    train_tiny(&data, &path(&dir, "a"), "mlp-1x512", &args);
    train_tiny(&data, &path(&dir, "b"), "mlp-1x512", &args);
    train_tiny(
        &data,
        &path(&dir, "c"),
        "mlp-1x512",
        &[&args[..], &["--seed", "2"]].concat(),
    );
    assert_eq!(
        metrics_without_timing(&path(&dir, "a")),
        metrics_without_timing(&path(&dir, "b"))
    );
    assert_ne!(
        metrics_without_timing(&path(&dir, "a")),
        metrics_without_timing(&path(&dir, "c"))
    );
}

/// A run stopped early (here by --max-steps mid-epoch, then at an epoch boundary) and continued
/// with --resume writes exactly the metrics of a run never interrupted.
#[test]
fn resume_replays_an_uninterrupted_run() {
    for (model, extra) in [
        ("mlp-1x512", &["--dropout", "0.3"][..]),
        ("inception-small", &[][..]),
    ] {
        let dir = tmp();
        let data = tiny_random_file(&dir);
        let whole = path(&dir, "whole");
        let parts = path(&dir, "parts");
        train_tiny(&data, &whole, model, &[&["--epochs", "4"], extra].concat());
        train_tiny(
            &data,
            &parts,
            model,
            &[&["--max-steps", "7"], extra].concat(),
        );
        assert_eq!(
            read_json(&parts.join("summary.json"))["stopped"],
            "max_steps"
        );
        train_tiny(
            &data,
            &parts,
            model,
            &[&["--epochs", "2", "--resume"], extra].concat(),
        );
        train_tiny(
            &data,
            &parts,
            model,
            &[&["--epochs", "4", "--resume"], extra].concat(),
        );
        assert_eq!(
            metrics_without_timing(&whole),
            metrics_without_timing(&parts),
            "{model}"
        );
        let (a, b) = (
            read_json(&whole.join("summary.json")),
            read_json(&parts.join("summary.json")),
        );
        assert_eq!(a["final"], b["final"], "{model}");
        // (model.bpk files are not byte-compared: burnpack records carry per-process parameter ids.)
    }
}

/// Label-corruption bookkeeping: accuracies on the corrupted and clean subsets and against the
/// true labels are reported when the file carries them.
#[test]
fn subset_accuracies_follow_the_corruption_mask() {
    let dir = tmp();
    let mut split = prototype_split(200, [8, 8, 3], 4, 0.3, 5);
    let clean = split.labels.clone();
    // A quarter of the labels is corrupted (shifted to the next class): the true class stays the
    // majority label of each prototype, so a network that generalizes fits the clean examples
    // first and the corrupted ones later, if at all.
    let mut corrupted = vec![0u8; 200];
    for i in (0..200).step_by(4) {
        split.labels[i] = (split.labels[i] + 1) % 4;
        corrupted[i] = 1;
    }
    let mut data = dataset("half", 4, Some(split), None);
    data.train_clean_labels = Some(clean);
    data.train_corrupted = Some(corrupted);
    write_dataset(&path(&dir, "half.npz"), &data);
    let out = path(&dir, "run");
    run(
        train_bin()
            .args(["--model", "mlp-1x512", "--data"])
            .arg(path(&dir, "half.npz"))
            .arg("--out")
            .arg(&out)
            .args(["--epochs", "3", "--batch-size", "20", "--threads", THREADS]),
        0,
    );
    let evals = evals(&out);
    for e in &evals {
        let (all, bad, good, truth) = (
            e["train_acc"].as_f64().unwrap(),
            e["train_acc_corrupted"].as_f64().unwrap(),
            e["train_acc_clean"].as_f64().unwrap(),
            e["train_acc_vs_clean_labels"].as_f64().unwrap(),
        );
        // 50 of the 200 examples are corrupted: the overall accuracy weighs the two subsets.
        assert!((all - (3.0 * good + bad) / 4.0).abs() < 1e-9, "{e}");
        // No test split: test numbers are null.
        assert!(e["test_acc"].is_null());
        // A prediction right on a clean example is right against the true labels too; one right
        // on a corrupted example is wrong against them.
        assert!(
            truth >= 0.75 * good - 1e-9 && truth <= 0.75 * good + 0.25 * (1.0 - bad) + 1e-9,
            "{e}"
        );
    }
    // The learnable part is learned, the corruption is not (yet): swapping the two masks in the
    // bookkeeping would fail here.
    let last = evals.last().unwrap();
    let (good, bad) = (
        last["train_acc_clean"].as_f64().unwrap(),
        last["train_acc_corrupted"].as_f64().unwrap(),
    );
    assert!(
        good > 0.9 && bad < 0.3,
        "clean {good}, corrupted {bad}: {last}"
    );
    assert!(
        last["train_acc_vs_clean_labels"].as_f64().unwrap() > 0.9,
        "{last}"
    );
}

fn one_line_error(out: &std::process::Output) -> String {
    let err = String::from_utf8(out.stderr.clone()).unwrap();
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    err
}

#[test]
fn bad_input_gives_one_line_errors() {
    let dir = tmp();
    let data = tiny_random_file(&dir);
    let out_dir = path(&dir, "run");

    // Unknown model: usage error.
    let out = run(
        train_bin()
            .args(["--model", "resnet-9000", "--data"])
            .arg(&data)
            .arg("--out")
            .arg(&out_dir),
        2,
    );
    assert!(one_line_error(&out).contains("unknown model 'resnet-9000'"));

    // CUDA on a machine (or libtorch) without it: runtime error naming the device.
    if !tch_has_cuda() {
        let out = run(
            train_bin()
                .args(["--model", "mlp-1x512", "--device", "cuda", "--data"])
                .arg(&data)
                .arg("--out")
                .arg(&out_dir),
            1,
        );
        assert!(one_line_error(&out).contains("--device cuda"));
    }

    // An empty training split.
    let empty = path(&dir, "empty.npz");
    let split = rethink_dataset::Split {
        images: rethink_dataset::Images::from_u8([0, 8, 8, 3], Vec::<u8>::new()),
        labels: vec![],
    };
    write_dataset(&empty, &dataset("empty", 3, Some(split), None));
    let out = run(
        train_bin()
            .args(["--model", "mlp-1x512", "--data"])
            .arg(&empty)
            .arg("--out")
            .arg(&out_dir),
        1,
    );
    let err = one_line_error(&out);
    assert!(err.contains("empty.npz") && err.contains("empty"), "{err}");

    // Labels out of range for the class list (written the way numpy.savez would).
    let bad = path(&dir, "bad.npz");
    write_npz(&bad, 3, &[0, 1, 5, 2]);
    let out = run(
        train_bin()
            .args(["--model", "mlp-1x512", "--data"])
            .arg(&bad)
            .arg("--out")
            .arg(&out_dir),
        1,
    );
    let err = one_line_error(&out);
    assert!(
        err.contains("bad.npz") && err.contains("train_labels") && err.contains('5'),
        "{err}"
    );

    // An existing run is not overwritten.
    train_tiny(&data, &out_dir, "mlp-1x512", &["--max-steps", "1"]);
    let out = run(
        train_bin()
            .args(["--model", "mlp-1x512", "--data"])
            .arg(&data)
            .arg("--out")
            .arg(&out_dir),
        2,
    );
    assert!(one_line_error(&out).contains("--resume"));
}

/// Whether libtorch itself sees a CUDA device (asked, not guessed from the environment).
fn tch_has_cuda() -> bool {
    tch::Cuda::is_available()
}

/// A minimal npz as numpy.savez writes it: meta, train_images (n×8×8×3 zeros), train_labels.
fn write_npz(path: &std::path::Path, classes: usize, labels: &[u8]) {
    use rethink_dataset::npy::{Dtype, header};
    let meta =
        serde_json::to_vec(&rethink_dataset::Meta::new("bad", util::classes(classes))).unwrap();
    let n = labels.len();
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, dtype, shape, data) in [
        ("meta.npy", Dtype::U8, vec![meta.len()], meta.clone()),
        (
            "train_images.npy",
            Dtype::U8,
            vec![n, 8, 8, 3],
            vec![0u8; n * 192],
        ),
        ("train_labels.npy", Dtype::U8, vec![n], labels.to_vec()),
    ] {
        zip.start_file(name, options).unwrap();
        zip.write_all(&header(dtype, &shape)).unwrap();
        zip.write_all(&data).unwrap();
    }
    zip.finish().unwrap();
}

/// Ctrl-C saves a checkpoint and exits with 130 (128 + SIGINT); `--resume` then continues from
/// that checkpoint to the same numbers as a run never interrupted.
#[test]
fn ctrl_c_saves_a_checkpoint_and_exits_130() {
    let dir = tmp();
    let data = tiny_random_file(&dir);
    let out = path(&dir, "run");
    let train_into = |out: &std::path::Path| {
        let mut cmd = train_bin();
        cmd.args(["--model", "mlp-1x512", "--data"])
            .arg(&data)
            .arg("--out")
            .arg(out)
            .args(["--batch-size", "20", "--crop", "8", "--threads", "1"]);
        cmd
    };
    let child = train_into(&out)
        .args(["--epochs", "100000"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The first checkpoint comes after the first epoch (5 steps): wait for it, then interrupt.
    let started = std::time::Instant::now();
    while !out.join("checkpoint").join("state.json").exists() {
        assert!(
            started.elapsed().as_secs() < 120,
            "no checkpoint after 120 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: kill sends a signal to the child we spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted at step"), "{stderr}");
    assert!(!out.join("summary.json").exists());
    let step = read_json(&out.join("checkpoint").join("state.json"))["step"]
        .as_u64()
        .unwrap();
    assert!(step >= 5, "checkpoint at step {step}");
    // Resume to a few steps past the interruption and compare with an uninterrupted run.
    let until = (step + 7).to_string();
    run(
        train_into(&out).args(["--max-steps", until.as_str(), "--resume"]),
        0,
    );
    let whole = path(&dir, "whole");
    run(train_into(&whole).args(["--max-steps", until.as_str()]), 0);
    assert_eq!(
        read_json(&whole.join("summary.json"))["final"],
        read_json(&out.join("summary.json"))["final"]
    );
}
