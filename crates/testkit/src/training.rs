//! Fixtures and readers for the tests of `train` (and any tool that trains): generated datasets
//! (pure noise to memorize, or class prototypes plus noise to learn), a command runner that
//! prints the command and its output when the exit code is not the expected one, and readers of
//! the run folder `train` writes (`config.json`, `metrics.jsonl`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rethink_dataset::{Dataset, Images, Meta, Split};
use serde_json::Value;

/// `dir/tiny.npz`: 90 random 10×10×3 training images of 3 classes and 30 test images (seed 3):
/// nothing to learn, only to memorize; 10×10 images are center-cropped to 8×8 unless augmented.
pub fn tiny_random_file(dir: &tempfile::TempDir) -> PathBuf {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let data = dataset(
        "tiny",
        3,
        Some(random_split(90, [10, 10, 3], 3, &mut rng)),
        Some(random_split(30, [10, 10, 3], 3, &mut rng)),
    );
    let file = path(dir, "tiny.npz");
    write_dataset(&file, &data);
    file
}

/// `class0`, `class1`, ... `class{k-1}`.
pub fn classes(k: usize) -> Vec<String> {
    (0..k).map(|i| format!("class{i}")).collect()
}

/// Writes `dataset` to `path` as a rethink dataset file.
pub fn write_dataset(path: &Path, dataset: &Dataset) {
    let file = std::fs::File::create(path).unwrap();
    rethink_dataset::write_to(
        dataset,
        std::io::BufWriter::new(file),
        &path.display().to_string(),
    )
    .unwrap();
}

/// `n` images of uniform noise with uniformly random labels: nothing to learn, only to memorize.
pub fn random_split(n: usize, hwc: [usize; 3], k: usize, rng: &mut ChaCha8Rng) -> Split {
    let [h, w, c] = hwc;
    let pixels: Vec<u8> = (0..n * h * w * c).map(|_| rng.random()).collect();
    let labels = (0..n).map(|_| rng.random_range(0..k as u16)).collect();
    Split {
        images: Images::from_u8([n, h, w, c], pixels),
        labels,
    }
}

/// A learnable task: each class has a fixed random prototype; an example is its class prototype
/// plus noise.
pub fn prototype_split(n: usize, hwc: [usize; 3], k: usize, noise: f64, seed: u64) -> Split {
    let [h, w, c] = hwc;
    let d = h * w * c;
    let mut proto_rng = ChaCha8Rng::seed_from_u64(1234);
    let prototypes: Vec<Vec<f64>> = (0..k)
        .map(|_| (0..d).map(|_| proto_rng.random_range(0.0..255.0)).collect())
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut pixels = Vec::with_capacity(n * d);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let label = rng.random_range(0..k);
        labels.push(label as u16);
        for &p in &prototypes[label] {
            let v = (1.0 - noise) * p + noise * rng.random_range(0.0..255.0);
            pixels.push(v.round().clamp(0.0, 255.0) as u8);
        }
    }
    Split {
        images: Images::from_u8([n, h, w, c], pixels),
        labels,
    }
}

/// A dataset named `name` with `k` classes and the given splits.
pub fn dataset(name: &str, k: usize, train: Option<Split>, test: Option<Split>) -> Dataset {
    Dataset::new(Meta::new(name, classes(k)), train, test)
}

/// Runs the command and returns its output, printing command and stderr when `expect` is not met.
pub fn run(cmd: &mut Command, expect_code: i32) -> Output {
    let out = cmd.output().expect("the command runs");
    let code = out.status.code().unwrap_or(-1);
    if code != expect_code {
        panic!(
            "{cmd:?}\nexpected exit code {expect_code}, got {code}\n--- stderr ---\n{}\n--- stdout ---\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
    }
    out
}

/// A JSON file, parsed (panics naming the file when it cannot be read).
pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Every line of `dir/metrics.jsonl`.
pub fn read_metrics(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The evaluation lines (`"kind": "eval"`) of `dir/metrics.jsonl`.
pub fn evals(dir: &Path) -> Vec<Value> {
    read_metrics(dir)
        .into_iter()
        .filter(|r| r["kind"] == "eval")
        .collect()
}

/// Metrics without the fields that measure time.
pub fn metrics_without_timing(dir: &Path) -> Vec<Value> {
    read_metrics(dir)
        .into_iter()
        .map(|mut r| {
            let m = r.as_object_mut().unwrap();
            m.remove("wall_s");
            m.remove("images_per_sec");
            r
        })
        .collect()
}

/// A temporary folder, removed when dropped.
pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// `name` inside `dir`.
pub fn path(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}
