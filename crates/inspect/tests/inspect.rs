//! `inspect` as a user runs it: on our files, numpy's files, pipes, and bad input.

use rethink_testkit as testkit;
use rethink_testkit::{Dir, TestCommand, assert_one_line_error};

fn inspect() -> TestCommand {
    TestCommand::new(env!("CARGO_BIN_EXE_inspect"))
}

fn corrupted_dataset() -> rethink_dataset::Dataset {
    let mut d = testkit::tiny_dataset(40, 10, [6, 6, 3], 4, 11);
    let train = d.train.as_ref().unwrap();
    let clean = train.labels.clone();
    let mut labels = clean.clone();
    for i in (0..40).step_by(4) {
        labels[i] = (labels[i] + 1) % 4; // 10 of 40 changed
    }
    d.train.as_mut().unwrap().labels = labels;
    d.train_clean_labels = Some(clean);
    d.train_corrupted = Some((0..40).map(|i| u8::from(i % 4 == 0 || i == 1)).collect());
    d.meta.history.push(rethink_dataset::HistoryRecord {
        tool: "corrupt".into(),
        version: "0.1.0".into(),
        args: vec!["--labels".into(), "0.3".into()],
        seed: Some(42),
        ..Default::default()
    });
    d
}

#[test]
fn json_reports_entries_histograms_noise_and_pixel_moments() {
    let dir = Dir::new();
    let d = corrupted_dataset();
    let path = dir.dataset("c.npz", &d);
    let out: serde_json::Value =
        serde_json::from_str(&inspect().arg(&path).arg("--json").stdout_text()).unwrap();
    let names: Vec<&str> = out["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, rethink_dataset::ENTRIES);
    assert_eq!(out["entries"][1]["shape"], serde_json::json!([40, 6, 6, 3]));
    assert_eq!(out["entries"][1]["dtype"], "uint8");
    let hist: Vec<u64> = serde_json::from_value(out["labels"]["train"].clone()).unwrap();
    let mut expect = vec![0u64; 4];
    for &l in &d.train.as_ref().unwrap().labels {
        expect[l as usize] += 1;
    }
    assert_eq!(hist, expect);
    assert_eq!(out["label_noise"]["differ_count"], 10);
    assert_eq!(out["label_noise"]["differ_fraction"], 0.25);
    assert_eq!(out["label_noise"]["flagged_count"], 11);
    assert_eq!(out["history"][0]["seed"], 42);
    // Channel 1's mean over the training images, computed here independently.
    let px = d.train.as_ref().unwrap().images.as_u8().unwrap();
    let ch1: Vec<f64> = px.iter().skip(1).step_by(3).map(|&v| v as f64).collect();
    let mean = ch1.iter().sum::<f64>() / ch1.len() as f64;
    let got = out["pixels"]["train"]["mean"][1].as_f64().unwrap();
    assert!((got - mean).abs() < 1e-9, "{got} vs {mean}");
}

#[test]
fn text_shows_history_classes_and_the_noise_line_from_a_pipe() {
    let bytes = testkit::encode(&corrupted_dataset());
    let text = inspect().arg("-").pipe(bytes).stdout_text();
    assert!(text.contains("dataset    tiny (4 classes)"), "{text}");
    assert!(
        text.contains("1. corrupt 0.1.0 --labels 0.3  seed 42"),
        "{text}"
    );
    assert!(
        text.contains("train labels differing from clean labels: 25.00% (10 of 40)"),
        "{text}"
    );
    assert!(
        text.contains("train_images         uint8    [40, 6, 6, 3]"),
        "{text}"
    );
}

#[test]
fn grid_draws_one_row_per_class_with_red_frames_on_changed_labels() {
    let dir = Dir::new();
    let path = dir.dataset("c.npz", &corrupted_dataset());
    let png = dir.path("grid.png");
    inspect()
        .arg(&path)
        .args(["--grid"])
        .arg(&png)
        .args(["--per-class", "3", "--scale", "10"])
        .stdout();
    let img = image::open(&png).unwrap().to_rgb8();
    // 4 rows of (6*10 + 14 caption) + gaps; 3 columns of 60 + gaps + the row-label column.
    assert_eq!(img.height(), 4 * (60 + 14 + 4) + 4);
    assert_eq!(img.width(), (4 * 3 * 2 + 4) + 3 * (72 + 4) + 4);
    let red = img.pixels().filter(|p| p.0 == [230, 0, 0]).count();
    assert!(
        red > 0,
        "a changed label in the first images should be framed red"
    );
    let plain = dir.dataset("p.npz", &testkit::tiny_dataset(20, 0, [6, 6, 3], 4, 1));
    let png2 = dir.path("plain.png");
    inspect().arg(&plain).arg("--grid").arg(&png2).stdout();
    assert_eq!(
        image::open(&png2)
            .unwrap()
            .to_rgb8()
            .pixels()
            .filter(|p| p.0 == [230, 0, 0])
            .count(),
        0
    );
}

#[test]
fn works_on_a_file_numpy_wrote() {
    let dir = Dir::new();
    let path = dir.path("np.npz");
    let ok = std::process::Command::new(testkit::python())
        .arg("-c")
        .arg("import sys, numpy as np; np.savez_compressed(sys.argv[1], test_images=np.full((5,3,3,1), 7, np.uint8), test_labels=np.arange(5, dtype=np.uint8))")
        .arg(&path)
        .status()
        .unwrap();
    assert!(ok.success());
    let out: serde_json::Value =
        serde_json::from_str(&inspect().arg(&path).arg("--json").stdout_text()).unwrap();
    assert_eq!(out["labels"]["test"], serde_json::json!([1, 1, 1, 1, 1]));
    assert_eq!(out["pixels"]["test"]["mean"][0], 7.0);
    assert_eq!(out["pixels"]["test"]["std"][0], 0.0);
}

#[test]
fn bad_input_is_a_one_line_error_with_exit_1() {
    let dir = Dir::new();
    let good = testkit::encode(&testkit::tiny_dataset(6, 2, [4, 4, 3], 10, 2));
    let truncated = dir.write("truncated.npz", &good[..good.len() / 2]);
    assert_one_line_error(
        &inspect().arg(&truncated).assert_exit_code(1),
        &["truncated.npz", "truncated"],
    );

    let not_zip = dir.write("text.npz", b"hello, I am not a zip file at all");
    assert_one_line_error(
        &inspect().arg(&not_zip).assert_exit_code(1),
        &["text.npz", "not an .npz"],
    );

    let err = inspect().arg("-").pipe(Vec::new()).assert_exit_code(1);
    assert_one_line_error(&err, &["<stdin>", "empty input"]);

    let cases = [
        (
            "dtype.npz",
            "train_images=np.zeros((2,2,2,1), np.int32), train_labels=np.zeros(2, np.uint8)",
            "train_images: expected dtype uint8 or float32, got '<i4'",
        ),
        (
            "count.npz",
            "train_images=np.zeros((3,2,2,1), np.uint8), train_labels=np.zeros(2, np.uint8)",
            "train_labels: expected 3 entries like train_images, got 2",
        ),
        (
            "label.npz",
            "meta=np.frombuffer(b'{\"name\":\"x\",\"classes\":[\"a\",\"b\"]}', np.uint8), train_images=np.zeros((2,2,2,1), np.uint8), train_labels=np.array([0, 2], np.uint8)",
            "train_labels: label 2 at index 1 is out of range: the dataset has 2 classes",
        ),
        (
            "rank.npz",
            "train_images=np.zeros((2,4), np.uint8), train_labels=np.zeros(2, np.uint8)",
            "train_images: expected rank 4 [N, H, W, C], got shape [2, 4]",
        ),
        ("other.npz", "weights=np.zeros(3)", "weights: unknown entry"),
        (
            "shapes.npz",
            "train_images=np.zeros((2,2,2,1), np.uint8), train_labels=np.zeros(2, np.uint8), test_images=np.zeros((1,3,2,1), np.uint8), test_labels=np.zeros(1, np.uint8)",
            "test_images: image shape 3x2x1 differs from train_images's 2x2x1",
        ),
    ];
    for (name, arrays, message) in cases {
        let path = dir.path(name);
        let ok = std::process::Command::new(testkit::python())
            .arg("-c")
            .arg(format!(
                "import sys, numpy as np; np.savez(sys.argv[1], {arrays})"
            ))
            .arg(&path)
            .status()
            .unwrap();
        assert!(ok.success());
        let err = inspect().arg(&path).assert_exit_code(1);
        assert_one_line_error(&err, &[name, message]);
    }
}

#[test]
fn usage_errors_exit_2() {
    inspect().arg("--no-such-flag").assert_exit_code(2);
    let dir = Dir::new();
    let path = dir.dataset("d.npz", &testkit::tiny_dataset(3, 0, [2, 2, 1], 2, 1));
    inspect()
        .arg(&path)
        .args(["--grid", "g.png", "--split", "validation"])
        .assert_exit_code(2);
}

#[test]
fn a_shard_set_is_reported_as_the_concatenated_file_with_a_line_per_shard() {
    let dir = Dir::new();
    let whole = corrupted_dataset();
    let file = dir.dataset("whole.npz", &whole);
    let set = dir.shards("set", &testkit::cut(&whole, &[15, 25]));
    let json = |path: &std::path::Path| -> serde_json::Value {
        serde_json::from_slice(&inspect().arg(path).arg("--json").stdout()).unwrap()
    };
    let (one, many) = (json(&file), json(&set));
    for key in [
        "name",
        "classes",
        "entries",
        "history",
        "labels",
        "label_noise",
        "pixels",
    ] {
        assert_eq!(one[key], many[key], "{key}");
    }
    assert_eq!(many["shards"][1]["file"], "shard-00001.npz");
    assert_eq!(many["shards"][1]["train"], 25);
    assert_eq!(many["shards"][1]["test"], 10);
    let text = String::from_utf8(inspect().arg(&set).stdout()).unwrap();
    assert!(text.contains("shards     2 files"), "{text}");
    assert!(text.contains("shard-00000.npz"), "{text}");
    // --verify reads every shard against its digest.
    let stderr = inspect().arg(&set).arg("--verify").assert_exit_code(0);
    assert!(stderr.contains("2 shards match"), "{stderr}");
    let shard = set.join("shard-00001.npz");
    let mut bytes = std::fs::read(&shard).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&shard, &bytes).unwrap();
    let stderr = inspect().arg(&set).arg("--verify").assert_exit_code(1);
    assert_one_line_error(&stderr, &["shard-00001.npz", "digest"]);
    let stderr = inspect().arg(&file).arg("--verify").assert_exit_code(2);
    assert_one_line_error(&stderr, &["--verify"]);
}
