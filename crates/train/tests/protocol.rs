//! The paper's protocol, item by item (issue "The paper's protocol, exactly"): BatchNorm shifts
//! that learn, weight decay on conv and linear weights only, top-5 accuracy, memorization counted
//! on the labels that differ from the truth, crops that move, and usage errors for settings that
//! would silently do nothing.

#![allow(deprecated)] // burn-tch, the backend this project chose (see crates/train/src/lib.rs)

mod util;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::activation::log_softmax;
use burn::tensor::{DType, Device, Int, Tensor, TensorData};
use train::models::{Architecture, Network};
use util::*;

/// After one backward pass, every trainable parameter of every model has a gradient that is not
/// (numerically) zero. A conv bias followed by BatchNorm is cancelled by the mean subtraction:
/// its gradient is zero up to rounding, ~1e-9 of the others.
#[test]
fn every_parameter_of_every_model_learns() {
    struct Grads<'a> {
        grads: &'a GradientsParams,
        path: Vec<String>,
        seen: Vec<(String, Option<f32>)>,
    }
    impl ModuleVisitor for Grads<'_> {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let name = self.path.join(".");
            if ["running_mean", "running_var", "ones"].contains(&self.path.last().unwrap().as_str())
            {
                return; // buffers, not parameters
            }
            let max = self
                .grads
                .get::<D>(param.id)
                .map(|g| g.abs().max().into_scalar::<f32>());
            self.seen.push((name, max));
        }
    }
    let device = Device::libtorch().autodiff();
    for (name, input, batchnorm) in [
        ("mlp-2x16", [8, 8, 3], true),
        ("alexnet-small", [28, 28, 3], true),
        ("inception-small", [28, 28, 3], true),
        ("inception-small", [28, 28, 3], false),
        ("wrn-10-1", [16, 16, 3], true),
        ("wrn-10-1", [16, 16, 3], false),
        ("inception-v3", [75, 75, 3], true),
    ] {
        device.seed(7);
        let arch = Architecture {
            name: name.parse().unwrap(),
            input,
            classes: 10,
            batchnorm,
            dropout: 0.0,
        };
        let model = Network::new(&arch, &device);
        let b = 6;
        let [h, w, c] = input;
        let values: Vec<f32> = (0..b * h * w * c)
            .map(|i| ((i * 7919) % 97) as f32 / 48.0 - 1.0)
            .collect();
        let x = Tensor::<4>::from_data(TensorData::new(values, [b, h, w, c]), &device);
        let labels: Vec<i64> = (0..b as i64).map(|i| (i * 3) % 10).collect();
        let y = Tensor::<2, Int>::from_data(TensorData::new(labels, [b, 1]), (&device, DType::I64));
        let loss = log_softmax(model.forward(x), 1).gather(1, y).mean().neg();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let mut visitor = Grads {
            grads: &grads,
            path: Vec::new(),
            seen: Vec::new(),
        };
        model.visit(&mut visitor);
        let largest = visitor
            .seen
            .iter()
            .filter_map(|(_, m)| *m)
            .fold(0.0f32, f32::max);
        assert!(largest > 0.0, "{name}: no gradient at all");
        for (param, max) in &visitor.seen {
            let max =
                max.unwrap_or_else(|| panic!("{name} (bn {batchnorm}): {param} has no gradient"));
            assert!(
                max > 1e-5 * largest,
                "{name} (bn {batchnorm}): {param} has a vanishing gradient {max:e} (largest {largest:e})"
            );
        }
    }
}

/// Weight decay applies to exactly the conv and linear weights: every parameter of rank ≥ 2 and
/// nothing else (biases and BatchNorm shifts/scales are rank 1).
#[test]
fn weight_decay_targets_conv_and_linear_weights() {
    struct Ranks {
        path: Vec<String>,
        matrices: Vec<String>,
    }
    impl ModuleVisitor for Ranks {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, _: &Param<Tensor<D>>) {
            if D >= 2 {
                self.matrices.push(self.path.join("."));
            }
        }
    }
    let device = Device::libtorch();
    for (name, input) in [
        ("mlp-3x512", [28, 28, 3]),
        ("alexnet-small", [28, 28, 3]),
        ("inception-small", [28, 28, 3]),
        ("wrn-10-2", [32, 32, 3]),
    ] {
        let arch = Architecture {
            name: name.parse().unwrap(),
            input,
            classes: 10,
            batchnorm: true,
            dropout: 0.0,
        };
        let model = Network::new(&arch, &device);
        let decayed = train::weight_decay::decayed_parameters(&model);
        let mut ranks = Ranks {
            path: Vec::new(),
            matrices: Vec::new(),
        };
        model.visit(&mut ranks);
        assert!(!decayed.is_empty(), "{name}");
        assert_eq!(decayed, ranks.matrices, "{name}");
        assert!(
            decayed.iter().all(|p| p.ends_with(".weight")),
            "{name}: {decayed:?}"
        );
    }
    // Inception-small: 19 convolutions and the classifier.
    let arch = Architecture {
        name: "inception-small".parse().unwrap(),
        input: [28, 28, 3],
        classes: 10,
        batchnorm: true,
        dropout: 0.0,
    };
    assert_eq!(
        train::weight_decay::decayed_parameters(&Network::new(&arch, &device)).len(),
        20
    );
}

fn train_args(data: &std::path::Path, out: &std::path::Path, model: &str) -> std::process::Command {
    let mut cmd = train_bin();
    cmd.args(["--model", model, "--data"])
        .arg(data)
        .arg("--out")
        .arg(out)
        .args(["--threads", "1", "--batch-size", "20"]);
    cmd
}

/// 40 learnable 6×6×1 images of 10 classes in `dir/d.npz`, no test split.
fn small_ten_class(dir: &tempfile::TempDir) {
    let split = prototype_split(40, [6, 6, 1], 10, 0.2, 1);
    write_dataset(
        &path(dir, "d.npz"),
        &dataset("proto", 10, Some(split), None),
    );
}

/// config.json lists the decayed parameters; without decay the list is empty.
#[test]
fn config_records_the_decayed_parameters() {
    let dir = tmp();
    small_ten_class(&dir);
    let out = path(&dir, "wd");
    run(
        train_args(&path(&dir, "d.npz"), &out, "mlp-1x8").args([
            "--max-steps",
            "1",
            "--weight-decay",
            "0.001",
        ]),
        0,
    );
    let config = read_json(&out.join("config.json"));
    let names: Vec<&str> = config["weight_decay_params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.iter().all(|n| n.ends_with("weight")), "{names:?}");
    assert_eq!(config["schema_version"], 1);
    let plain = path(&dir, "plain");
    run(
        train_args(&path(&dir, "d.npz"), &plain, "mlp-1x8").args(["--max-steps", "1"]),
        0,
    );
    assert_eq!(
        read_json(&plain.join("config.json"))["weight_decay_params"],
        serde_json::json!([])
    );
}

/// Top-5 accuracy is recorded beside top-1 with more than 5 classes (and is at least top-1),
/// and is null with 5 classes or fewer.
#[test]
fn top5_accuracy_beside_top1() {
    let dir = tmp();
    let data = dataset(
        "ten",
        10,
        Some(prototype_split(100, [6, 6, 1], 10, 0.6, 1)),
        Some(prototype_split(50, [6, 6, 1], 10, 0.6, 2)),
    );
    write_dataset(&path(&dir, "ten.npz"), &data);
    let out = path(&dir, "run");
    run(
        train_args(&path(&dir, "ten.npz"), &out, "mlp-1x16").args(["--epochs", "2"]),
        0,
    );
    let records = evals(&out);
    assert_eq!(records.len(), 3);
    for e in &records {
        for split in ["train", "test"] {
            let top1 = e[format!("{split}_acc")].as_f64().unwrap();
            let top5 = e[format!("{split}_top5")].as_f64().unwrap();
            assert!(top5 >= top1 && top5 <= 1.0, "{e}");
        }
    }
    // An untrained 10-class model puts the label in its top 5 about half the time, not never
    // and not always.
    let first = records[0]["train_top5"].as_f64().unwrap();
    assert!((0.2..0.8).contains(&first), "step 0 top-5 {first}");
    let summary = read_json(&out.join("summary.json"));
    assert_eq!(summary["final"]["test_top5"], records[2]["test_top5"]);

    let four = dataset(
        "four",
        4,
        Some(prototype_split(40, [6, 6, 1], 4, 0.2, 1)),
        None,
    );
    write_dataset(&path(&dir, "four.npz"), &four);
    let out = path(&dir, "four");
    run(
        train_args(&path(&dir, "four.npz"), &out, "mlp-1x8").args(["--max-steps", "1"]),
        0,
    );
    assert!(evals(&out)[0]["train_top5"].is_null());
}

/// The memorized ("corrupted") examples are those whose label differs from the clean one; a
/// redrawn label that drew its true class again is clean. Both counts are reported.
#[test]
fn memorization_counts_labels_that_differ() {
    let dir = tmp();
    let n = 200;
    let mut split = prototype_split(n, [8, 8, 3], 4, 0.3, 5);
    let clean = split.labels.clone();
    let mut redrawn = vec![0u8; n];
    for i in (0..n).step_by(2) {
        redrawn[i] = 1;
        if i % 4 == 0 {
            split.labels[i] = (split.labels[i] + 1) % 4; // redrawn to another class
        } // else: redrawn to its own class
    }
    let mut data = dataset("half", 4, Some(split), None);
    data.train_clean_labels = Some(clean);
    data.train_corrupted = Some(redrawn);
    write_dataset(&path(&dir, "half.npz"), &data);
    let out = path(&dir, "run");
    run(
        train_args(&path(&dir, "half.npz"), &out, "mlp-1x64").args(["--epochs", "3"]),
        0,
    );
    let summary = read_json(&out.join("summary.json"));
    assert_eq!(summary["corrupted_count"], 50);
    assert_eq!(summary["redrawn_count"], 100);
    for e in evals(&out) {
        let (all, bad, good) = (
            e["train_acc"].as_f64().unwrap(),
            e["train_acc_corrupted"].as_f64().unwrap(),
            e["train_acc_clean"].as_f64().unwrap(),
        );
        // 50 examples carry a wrong label, 150 a right one.
        assert!(
            (all - (50.0 * bad + 150.0 * good) / 200.0).abs() < 1e-9,
            "{e}"
        );
        assert!(e["train_acc_redrawn"].as_f64().is_some(), "{e}");
    }
}

/// `--augment crop` on images no larger than the crop pads them (4 by default) instead of doing
/// nothing; an explicit `--pad 0` there is a usage error, as is `--no-batchnorm` on a model
/// without BatchNorm.
#[test]
fn settings_that_would_do_nothing_are_refused_or_made_to_work() {
    let dir = tmp();
    small_ten_class(&dir);
    let d = path(&dir, "d.npz");
    let out = path(&dir, "crop");
    run(
        train_args(&d, &out, "mlp-1x8").args(["--max-steps", "1", "--augment", "crop"]),
        0,
    );
    assert_eq!(read_json(&out.join("config.json"))["pad"], 4);
    let out = run(
        train_args(&d, &path(&dir, "nopad"), "mlp-1x8").args([
            "--max-steps",
            "1",
            "--augment",
            "crop",
            "--pad",
            "0",
        ]),
        2,
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot move"));
    assert!(!path(&dir, "nopad").exists());
    for model in ["mlp-1x8", "alexnet-small"] {
        let out = run(
            train_args(&d, &path(&dir, "nobn"), model).args(["--max-steps", "1", "--no-batchnorm"]),
            2,
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("no BatchNorm"),
            "{model}"
        );
    }
    run(
        train_args(&d, &path(&dir, "flip"), "mlp-1x8").args(["--max-steps", "1", "--pad", "2"]),
        2,
    );
}
