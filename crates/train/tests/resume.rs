//! `--resume` beyond the happy path (that one, and Ctrl-C, are in train.rs): a crash in the middle
//! of a checkpoint swap falls back to the previous checkpoint, metric records written after the
//! checkpoint are dropped, a torn last metrics line is cut, and a changed setting is refused.
//! Also evaluation mode: dropout off, no augmentation, BatchNorm on running statistics.

mod util;

use util::*;

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

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// A run killed while swapping in its step-9 checkpoint (the step-5 one already renamed to
/// `checkpoint.old`, the new one half-written in `checkpoint.tmp`), whose `metrics.jsonl` holds
/// records up to step 9 and a torn last line: `--resume` continues from step 5, drops what came
/// after it and replays the uninterrupted run exactly.
#[test]
fn a_crash_during_the_checkpoint_swap_resumes_from_the_previous_checkpoint() {
    let dir = tmp();
    let data = tiny_random_file(&dir);
    let whole = path(&dir, "whole");
    run(&mut train(&data, &whole, &["--epochs", "4"]), 0);

    let crashed = path(&dir, "crashed");
    run(&mut train(&data, &crashed, &["--max-steps", "5"]), 0);
    let step5 = path(&dir, "step5");
    copy_dir(&crashed.join("checkpoint"), &step5);
    run(
        &mut train(&data, &crashed, &["--max-steps", "9", "--resume"]),
        0,
    );
    // The crash: no current checkpoint, the previous one as checkpoint.old, a torn new one.
    std::fs::remove_dir_all(crashed.join("checkpoint")).unwrap();
    copy_dir(&step5, &crashed.join("checkpoint.old"));
    std::fs::create_dir_all(crashed.join("checkpoint.tmp")).unwrap();
    std::fs::write(
        crashed.join("checkpoint.tmp").join("model.bpk"),
        b"half a mo",
    )
    .unwrap();
    std::fs::remove_file(crashed.join("summary.json")).unwrap();
    let metrics = crashed.join("metrics.jsonl");
    let mut text = std::fs::read_to_string(&metrics).unwrap();
    let last_step = read_metrics(&crashed).last().unwrap()["step"]
        .as_u64()
        .unwrap();
    assert_eq!(last_step, 9, "records past the step-5 checkpoint to drop");
    text.push_str(r#"{"kind":"train","step":10,"ep"#);
    std::fs::write(&metrics, text).unwrap();

    run(
        &mut train(&data, &crashed, &["--epochs", "4", "--resume"]),
        0,
    );
    assert_eq!(
        metrics_without_timing(&whole),
        metrics_without_timing(&crashed)
    );
    assert_eq!(
        read_json(&whole.join("summary.json"))["final"],
        read_json(&crashed.join("summary.json"))["final"]
    );
    // The swap left nothing behind.
    assert!(crashed.join("checkpoint").join("state.json").exists());
    assert!(!crashed.join("checkpoint.old").exists());
    assert!(!crashed.join("checkpoint.tmp").exists());
}

/// Resuming with a setting that changes the trajectory is refused (usage error, one line naming
/// the setting); the stopping criteria may change.
#[test]
fn resume_refuses_a_changed_setting() {
    let dir = tmp();
    let data = tiny_random_file(&dir);
    let out = path(&dir, "run");
    run(&mut train(&data, &out, &["--max-steps", "3"]), 0);
    for (flag, value, key) in [
        ("--lr", "0.5", "lr"),
        ("--momentum", "0.5", "momentum"),
        ("--weight-decay", "0.01", "weight_decay"),
        ("--seed", "2", "seed"),
    ] {
        let result = run(
            &mut train(&data, &out, &["--max-steps", "6", "--resume", flag, value]),
            2,
        );
        let err = String::from_utf8(result.stderr).unwrap();
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(
            err.contains("--resume") && err.contains(key),
            "{flag}: {err}"
        );
    }
    // Nothing was written by the refused attempts: the run continues from step 3.
    run(
        &mut train(&data, &out, &["--max-steps", "6", "--resume"]),
        0,
    );
    assert_eq!(read_json(&out.join("summary.json"))["steps"], 6);
}

fn eval_records(out: &std::path::Path) -> Vec<serde_json::Value> {
    metrics_without_timing(out)
        .into_iter()
        .filter(|r| r["kind"] == "eval")
        .collect()
}

/// Evaluation mode: the step-0 evaluation (the model as initialized) is the same with and without
/// dropout and augmentation, because evaluation switches dropout off and scores the center crop.
#[test]
fn evaluation_uses_no_dropout_and_no_augmentation() {
    let dir = tmp();
    let data = tiny_random_file(&dir);
    let plain = path(&dir, "plain");
    let noisy = path(&dir, "noisy");
    let args = |out: &std::path::Path, extra: &[&str]| {
        let mut cmd = train_bin();
        cmd.args(["--model", "mlp-1x512", "--data"])
            .arg(&data)
            .arg("--out")
            .arg(out)
            .args(["--batch-size", "20", "--crop", "8", "--threads", "1"])
            .args(["--max-steps", "2"])
            .args(extra);
        cmd
    };
    run(&mut args(&plain, &[]), 0);
    run(
        &mut args(&noisy, &["--dropout", "0.5", "--augment", "crop,flip"]),
        0,
    );
    let (a, b) = (eval_records(&plain), eval_records(&noisy));
    assert_eq!(a[0]["step"], 0);
    assert_eq!(a[0], b[0]);
    // Training differs (dropout and augmentation are on there), so the next evaluation does too.
    assert_ne!(a[1], b[1]);
}

/// Inception's BatchNorm evaluates with its running statistics: the evaluation does not depend on
/// how the evaluated set is batched. Accuracies are equal and losses agree to 1e-5 (relative):
/// the matrix products of different batch sizes differ in the last bits.
#[test]
fn inception_evaluation_does_not_depend_on_the_evaluation_batch_size() {
    let dir = tmp();
    let data = tiny_random_file(&dir);
    let outs: Vec<_> = ["7", "64"]
        .iter()
        .map(|batch| {
            let out = path(&dir, &format!("eval{batch}"));
            run(
                train_bin()
                    .args(["--model", "inception-small", "--data"])
                    .arg(&data)
                    .arg("--out")
                    .arg(&out)
                    .args(["--batch-size", "20", "--crop", "8", "--threads", "1"])
                    .args(["--max-steps", "4", "--eval-batch-size", batch]),
                0,
            );
            eval_records(&out)
        })
        .collect();
    assert_eq!(outs[0].len(), 2);
    assert_eq!(outs[0].len(), outs[1].len());
    for (a, b) in outs[0].iter().zip(&outs[1]) {
        for key in ["train_acc", "test_acc", "train_top5", "test_top5"] {
            assert_eq!(a[key], b[key], "{key}: {a} vs {b}");
        }
        for key in ["train_loss", "test_loss"] {
            let (x, y) = (a[key].as_f64().unwrap(), b[key].as_f64().unwrap());
            assert!((x - y).abs() <= 1e-5 * x.abs(), "{key}: {x} vs {y}");
        }
    }
    // After 4 steps the running statistics have moved away from their start (mean 0, var 1): a
    // batch-statistics evaluation would see other numbers for batches of 7 and 64.
    assert_ne!(outs[0][0]["train_loss"], outs[0][1]["train_loss"]);
}

/// `kill -9` at each point of a checkpoint write (the test hook `RETHINK_TEST_ABORT_AT`, here at
/// the second checkpoint, step 10): the run folder keeps a complete checkpoint, `--resume`
/// replays the uninterrupted run, and the finished folder has no temporary checkpoint left.
#[test]
fn a_kill_during_a_checkpoint_write_leaves_a_checkpoint_to_resume_from() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tmp();
    let data = tiny_random_file(&dir);
    let whole = path(&dir, "whole");
    run(&mut train(&data, &whole, &["--epochs", "3"]), 0);
    for point in [
        "checkpoint:model",
        "checkpoint:optimizer",
        "checkpoint:swap",
    ] {
        let out = path(&dir, point.replace(':', "-").as_str());
        let killed = train(&data, &out, &["--epochs", "3"])
            .env("RETHINK_TEST_ABORT_AT", format!("{point}#2"))
            .output()
            .unwrap();
        assert_eq!(killed.status.signal(), Some(9), "{point}: {killed:?}");
        assert!(!out.join("summary.json").exists(), "{point}");
        run(&mut train(&data, &out, &["--epochs", "3", "--resume"]), 0);
        assert_eq!(
            metrics_without_timing(&whole),
            metrics_without_timing(&out),
            "{point}"
        );
        for left in ["checkpoint.tmp", "checkpoint.old"] {
            assert!(!out.join(left).exists(), "{point}: {left} left behind");
        }
    }
}
