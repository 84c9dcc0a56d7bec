//! `train --stream`: the images stay in their memory-mapped files (one dataset file, or the shards
//! of a shard set) and come to the device a batch at a time. Same seed, same numbers as holding
//! them on the device; a resume in the middle of an epoch replays the uninterrupted run; a
//! missing or truncated shard stops `train` before it starts.

mod util;

use rethink_testkit::{Dir, cut};
use util::*;

/// 90 training images of noise (10×10×3, 3 classes) and 30 test images.
fn data() -> rethink_dataset::Dataset {
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(5);
    dataset(
        "tiny",
        3,
        Some(random_split(90, [10, 10, 3], 3, &mut rng)),
        Some(random_split(30, [10, 10, 3], 3, &mut rng)),
    )
}

fn train(data: &std::path::Path, out: &std::path::Path, extra: &[&str]) -> std::process::Command {
    let mut cmd = train_bin();
    cmd.args(["--model", "mlp-1x512", "--data"])
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
        ])
        .args(["--dropout", "0.3", "--threads", "1", "--log-every", "2"])
        .args(extra);
    cmd
}

#[test]
fn streamed_runs_give_the_numbers_of_the_in_memory_run() {
    let dir = Dir::new();
    let whole = data();
    let file = dir.dataset("tiny.npz", &whole);
    // Shards of uneven sizes, the test split in the last one.
    let set = dir.shards("tiny-set", &cut(&whole, &[25, 40, 25]));
    let run = |data: &std::path::Path, name: &str, extra: &[&str]| {
        let out = dir.path(name);
        run(
            &mut train(data, &out, &[&["--epochs", "3"], extra].concat()),
            0,
        );
        metrics_without_timing(&out)
    };
    let memory = run(&file, "memory", &[]);
    assert!(memory.len() > 5);
    assert_eq!(
        run(&file, "file-stream", &["--stream"]),
        memory,
        "file, streamed"
    );
    assert_eq!(
        run(&set, "set-stream", &["--stream"]),
        memory,
        "shard set, streamed"
    );
    assert_eq!(run(&set, "set-memory", &[]), memory, "shard set, in memory");
    assert_eq!(
        run(&set, "set-prefetch1", &["--stream", "--prefetch", "1"]),
        memory,
        "shard set, prefetch 1"
    );
    // A separate test set given as a shard set streams too.
    let test_set = dir.shards("test-set", std::slice::from_ref(&whole));
    assert_eq!(
        run(
            &file,
            "test-stream",
            &["--stream", "--test", test_set.to_str().unwrap()]
        ),
        memory,
        "--test shard set"
    );
}

#[test]
fn a_streamed_run_resumes_in_the_middle_of_an_epoch_like_an_uninterrupted_one() {
    let dir = Dir::new();
    let whole = data();
    let set = dir.shards("tiny-set", &cut(&whole, &[30, 30, 30]));
    let (a, b) = (dir.path("whole"), dir.path("parts"));
    run(&mut train(&set, &a, &["--epochs", "3", "--stream"]), 0);
    // 5 steps an epoch: step 7 is in the middle of the second.
    run(&mut train(&set, &b, &["--max-steps", "7", "--stream"]), 0);
    run(
        &mut train(&set, &b, &["--epochs", "3", "--stream", "--resume"]),
        0,
    );
    assert_eq!(metrics_without_timing(&a), metrics_without_timing(&b));
}

#[test]
fn a_missing_or_truncated_shard_stops_train_before_it_starts() {
    let dir = Dir::new();
    let set = dir.shards("set", &cut(&data(), &[45, 45]));
    let shard = set.join("shard-00001.npz");
    let bytes = std::fs::read(&shard).unwrap();
    std::fs::write(&shard, &bytes[..bytes.len() / 2]).unwrap();
    let out = dir.path("run");
    let output = run(&mut train(&set, &out, &["--stream"]), 1);
    let stderr = String::from_utf8_lossy(&output.stderr);
    rethink_testkit::assert_one_line_error(&stderr, &["shard-00001.npz", "truncated"]);
    assert!(!out.exists(), "nothing was started");
    std::fs::remove_file(&shard).unwrap();
    let output = run(&mut train(&set, &out, &[]), 1);
    let stderr = String::from_utf8_lossy(&output.stderr);
    rethink_testkit::assert_one_line_error(&stderr, &["shard-00001.npz", "missing"]);
    assert!(!out.exists(), "nothing was started");
}

/// `--eval-train-subset N` scores N fixed training examples for the training metrics: training
/// itself is untouched (every test metric and training-loss line equals the full run's), each
/// training accuracy counts N examples, config.json records N, N = all examples gives the full
/// run's numbers, and a streamed shard set scores the same examples.
#[test]
fn eval_train_subset_scores_fixed_examples_and_leaves_training_alone() {
    let dir = Dir::new();
    let whole = data();
    let file = dir.dataset("tiny.npz", &whole);
    let set = dir.shards("tiny-set", &cut(&whole, &[30, 60]));
    let go = |data: &std::path::Path, name: &str, extra: &[&str]| {
        let out = dir.path(name);
        run(
            &mut train(data, &out, &[&["--epochs", "4"], extra].concat()),
            0,
        );
        (out.clone(), metrics_without_timing(&out))
    };
    let (_, full) = go(&file, "full", &[]);
    let (sub_dir, sub) = go(&file, "sub", &["--eval-train-subset", "7"]);
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sub_dir.join("config.json")).unwrap())
            .unwrap();
    assert_eq!(config["eval_train_subset"], 7);
    assert_eq!(full.len(), sub.len());
    let mut differs = false;
    for (f, s) in full.iter().zip(&sub) {
        if f["kind"] == "train" {
            assert_eq!(f, s, "training is the same");
            continue;
        }
        for key in ["step", "test_acc", "test_loss", "lr"] {
            assert_eq!(f[key], s[key], "{key} at step {}", f["step"]);
        }
        let correct = s["train_acc"].as_f64().unwrap() * 7.0;
        assert!(
            (correct - correct.round()).abs() < 1e-9,
            "train_acc counts 7 examples: {s}"
        );
        differs |= f["train_acc"] != s["train_acc"] || f["train_loss"] != s["train_loss"];
    }
    assert!(differs, "7 of 90 examples score differently from all 90");
    let (_, all) = go(&file, "all", &["--eval-train-subset", "90"]);
    assert_eq!(
        all, full,
        "a subset of every example is the full evaluation"
    );
    let (_, streamed) = go(
        &set,
        "sub-stream",
        &["--eval-train-subset", "7", "--stream"],
    );
    assert_eq!(streamed, sub, "streamed shards score the same examples");
    // Per-example records need every example.
    let out = dir.path("both");
    let err = run(
        &mut train(
            &file,
            &out,
            &["--epochs", "1", "--eval-train-subset", "7", "--per-example"],
        ),
        2,
    );
    let err = String::from_utf8_lossy(&err.stderr);
    assert!(err.contains("--per-example"), "{err}");
}
