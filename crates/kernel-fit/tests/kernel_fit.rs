//! `kernel-fit` as a user runs it: build a tiny dataset, fit it, read the run folder back and
//! check the numbers: exact interpolation of true and random labels, a norm computed by hand,
//! random features at N = n, the memory refusal, and one-line errors for bad input.

use std::path::Path;

use rethink_dataset::{Dataset, Images, Meta, Split};
use rethink_runs::{KernelConfig, KernelSummary, Method, RunKind};
use rethink_testkit as testkit;
use rethink_testkit::{Dir, Gen, TestCommand, assert_one_line_error};

fn kernel_fit() -> TestCommand {
    TestCommand::new(env!("CARGO_BIN_EXE_kernel-fit"))
}

fn summary(dir: &Path) -> KernelSummary {
    KernelSummary::read(&dir.join("summary.json")).expect("summary.json")
}

/// `train` + `test` 4×4 grey images of 3 classes whose true class is which third of the image is
/// brightest (learnable), with pixel noise.
fn structured(train: usize, test: usize, seed: u64) -> (Dataset, Vec<u16>) {
    structured_side(train, test, 4, seed)
}

/// [`structured`] with `side`×`side` images.
fn structured_side(train: usize, test: usize, side: usize, seed: u64) -> (Dataset, Vec<u16>) {
    let d = side * side;
    let mut g = Gen(seed);
    let mut split = |n: usize| {
        let mut pixels = Vec::with_capacity(n * d);
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            let class = g.below(3) as u16;
            for p in 0..d {
                let bright = (p * 3 / d) as u16 == class;
                pixels.push((if bright { 150 } else { 40 } + g.below(100)) as u8);
            }
            labels.push(class);
        }
        Split {
            images: Images::from_u8([n, side, side, 1], pixels),
            labels,
        }
    };
    let train = split(train);
    let test = split(test);
    let clean = train.labels.clone();
    let meta = Meta::new("structured", vec!["a".into(), "b".into(), "c".into()]);
    (Dataset::new(meta, Some(train), Some(test)), clean)
}

/// The same file with every training label replaced by a random class, the true ones kept as
/// `train_clean_labels` (what `corrupt --labels 1` writes).
fn random_labels(d: &Dataset, clean: &[u16], seed: u64) -> Dataset {
    let mut g = Gen(seed);
    let mut out = d.clone();
    let train = out.train.as_mut().unwrap();
    train.labels = (0..train.len()).map(|_| g.below(3) as u16).collect();
    out.train_corrupted = Some(vec![1; train.len()]);
    out.train_clean_labels = Some(clean.to_vec());
    out.meta.corruption = Some(rethink_dataset::Corruption {
        labels: 1.0,
        ..Default::default()
    });
    out
}

#[test]
fn the_gaussian_kernel_interpolates_true_and_random_labels_exactly() {
    let dir = Dir::new();
    let (data, clean) = structured(120, 60, 1);
    let true_file = dir.dataset("true.npz", &data);
    let random_file = dir.dataset("random.npz", &random_labels(&data, &clean, 2));
    let mut fits = Vec::new();
    for (name, file) in [("true", &true_file), ("random", &random_file)] {
        let out = dir.path(name);
        kernel_fit()
            .args(["--kernel", "gaussian", "--gamma", "0.5", "--data"])
            .arg(file)
            .arg("--out")
            .arg(&out)
            .stdout();
        let s = summary(&out);
        assert_eq!(s.train_acc, 1.0, "{name}: training error 0");
        assert!(
            s.relative_residual < 1e-8,
            "{name}: ‖Kα − Y‖/‖Y‖ = {}",
            s.relative_residual
        );
        assert_eq!(s.jitter, None, "{name}: no jitter needed");
        assert_eq!((s.train_size, s.test_size, s.input_dim), (120, 60, 16));
        assert!(s.condition_estimate.unwrap() > 1.0);
        let config = KernelConfig::read(&out.join("config.json")).unwrap();
        assert_eq!(config.method, Method::Gaussian);
        assert_eq!(config.gamma, Some(0.5));
        assert_eq!(RunKind::of_dir(&out), Some(RunKind::Kernel));
        let digest = format!(
            "blake3:{}",
            blake3::hash(&std::fs::read(file).unwrap()).to_hex()
        );
        assert_eq!(config.data_digest.as_deref(), Some(digest.as_str()));
        fits.push(s);
    }
    let (t, r) = (&fits[0], &fits[1]);
    // True labels generalize, random ones are at chance; fitting noise needs a larger norm.
    assert!(t.test_acc.unwrap() > 0.8, "true labels: {:?}", t.test_acc);
    assert!(r.test_acc.unwrap() < 0.6, "random labels: {:?}", r.test_acc);
    assert!(
        r.norm > 1.5 * t.norm,
        "norms: true {} random {}",
        t.norm,
        r.norm
    );
    // Against the clean labels, a perfect fit of random labels is right where they agree.
    let agree = r.corrupted_count.map(|c| 1.0 - c as f64 / 120.0).unwrap();
    assert!((r.train_acc_vs_clean_labels.unwrap() - agree).abs() < 1e-12);
    assert_eq!(r.train_acc_corrupted, Some(1.0));
    assert_eq!(r.corruption.as_ref().map(|c| c.labels), Some(1.0));
    assert_eq!(t.train_acc_vs_clean_labels, None);
}

#[test]
fn the_norm_of_a_three_point_problem_is_the_one_computed_by_hand() {
    // x = 0, 0.2, 0.4 (pixels 0, 51, 102 over 255) and γ = ln 2 / 0.04, so that
    // K = [[1, 1/2, 1/16], [1/2, 1, 1/2], [1/16, 1/2, 1]], det K = 135/256. Labels 0, 1, 0:
    // ‖f‖² = Σ_c y_cᵀ K⁻¹ y_c = (K⁻¹₀₀ + K⁻¹₂₂ + 2 K⁻¹₀₂) + K⁻¹₁₁ = (64 + 64 + 32)/45 + 17/9 = 49/9.
    let dir = Dir::new();
    let split = || Split {
        images: Images::from_u8([3, 1, 1, 1], vec![0u8, 51, 102]),
        labels: vec![0, 1, 0],
    };
    let d = Dataset::new(
        Meta::new("three", vec!["a".into(), "b".into()]),
        Some(split()),
        Some(split()),
    );
    let file = dir.dataset("three.npz", &d);
    let gamma = std::f64::consts::LN_2 / 0.04;
    kernel_fit()
        .args([
            "--kernel",
            "gaussian",
            "--gamma",
            &gamma.to_string(),
            "--data",
        ])
        .arg(&file)
        .arg("--out")
        .arg(dir.path("run"))
        .stdout();
    let s = summary(&dir.path("run"));
    assert!(
        (s.norm - 7.0 / 3.0).abs() < 1e-9,
        "‖f‖ = {}, expected 7/3",
        s.norm
    );
    assert_eq!((s.train_acc, s.test_acc), (1.0, Some(1.0)));
    // Its eigenvalues: 1 − 1/16 and (17 ± √(1 + 512))/32... bounded: cond(K) is between 2 and 20.
    let c = s.condition_estimate.unwrap();
    assert!((2.0..20.0).contains(&c), "condition {c}");
}

fn rf(dir: &Dir, file: &Path, features: usize, name: &str) -> KernelSummary {
    let out = dir.path(name);
    kernel_fit()
        .args([
            "--random-features",
            &features.to_string(),
            "--seed",
            "3",
            "--data",
        ])
        .arg(file)
        .arg("--out")
        .arg(&out)
        .stdout();
    summary(&out)
}

#[test]
fn random_features_interpolate_from_n_equal_to_the_examples_on() {
    let dir = Dir::new();
    // 8×8 images: D = 64 ≥ n, so the inputs themselves are in general position.
    let (data, clean) = structured_side(30, 30, 8, 4);
    let file = dir.dataset("noisy.npz", &random_labels(&data, &clean, 5));
    let under = rf(&dir, &file, 10, "n10");
    let at = rf(&dir, &file, 30, "n30");
    let over = rf(&dir, &file, 300, "n300");
    // N < n: least squares, not an interpolant.
    assert!(
        under.train_acc < 1.0 && under.relative_residual > 0.1,
        "N = 10: {under:?}"
    );
    // N = n and beyond: Φ has full row rank and W = Φ⁺Y fits every label.
    for s in [&at, &over] {
        assert_eq!(s.train_acc, 1.0, "N = {:?}", s.features);
        assert!(
            s.relative_residual < 1e-6,
            "N = {:?}: {}",
            s.features,
            s.relative_residual
        );
        assert_eq!(s.rank, Some(30));
    }
    assert_eq!(at.features_per_example, Some(1.0));
    // The norm peaks where Φ is square: its smallest singular value is the smallest there.
    assert!(
        at.norm > 3.0 * over.norm,
        "norm at N = n {} vs N = 10n {}",
        at.norm,
        over.norm
    );
    assert!(at.condition_estimate.unwrap() > over.condition_estimate.unwrap());
}

#[test]
fn a_kernel_matrix_too_large_for_memory_is_refused_with_its_size() {
    let dir = Dir::new();
    // 200,000 one-pixel images: a small file, but K would be 320 GB.
    let n = 200_000;
    let split = |n: usize| Split {
        images: Images::from_u8(
            [n, 1, 1, 1],
            (0..n).map(|i| (i % 251) as u8).collect::<Vec<u8>>(),
        ),
        labels: (0..n).map(|i| (i % 2) as u16).collect(),
    };
    let d = Dataset::new(
        Meta::new("big", vec!["a".into(), "b".into()]),
        Some(split(n)),
        Some(split(10)),
    );
    let file = dir.dataset("big.npz", &d);
    let run = |extra: &[&str]| {
        kernel_fit()
            .args(["--kernel", "gaussian", "--gamma", "1", "--data"])
            .arg(&file)
            .arg("--out")
            .arg(dir.path("run"))
            .args(extra)
    };
    let err = run(&[]).assert_exit_code(1);
    assert_one_line_error(
        &err,
        &[
            "big.npz",
            "K is 200000 × 200000 float64 = 320 GB",
            "--max-train",
        ],
    );
    assert!(!dir.path("run").exists(), "nothing written");
    let err = run(&["--max-train", "2000", "--max-memory", "1M"]).assert_exit_code(1);
    assert_one_line_error(
        &err,
        &["K is 2000 × 2000 float64 = 32.0 MB", "--max-memory"],
    );
    assert!(!dir.path("run").exists(), "nothing written");
    // A seeded subset that fits.
    run(&["--max-train", "300", "--seed", "1"]).stdout();
    let s = summary(&dir.path("run"));
    assert_eq!(s.train_size, 300);
    let c = KernelConfig::read(&dir.path("run/config.json")).unwrap();
    assert_eq!(c.max_train, Some(300));
}

/// Replaces the f32 pixel `from` by `to` in an encoded dataset file and fixes the entry's CRC in
/// the local and central headers (the writer stores entries uncompressed, sizes in the header).
fn patch_pixel(bytes: &mut [u8], entry: &str, from: f32, to: f32) {
    let name = format!("{entry}.npy");
    let find = |hay: &[u8], needle: &[u8], start: usize| {
        hay[start..]
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|p| p + start)
    };
    let local_name = find(bytes, name.as_bytes(), 0).expect("local header");
    let header = local_name - 30;
    let u16_at = |b: &[u8], at: usize| u16::from_le_bytes([b[at], b[at + 1]]) as usize;
    let size = u32::from_le_bytes(bytes[header + 18..header + 22].try_into().unwrap()) as usize;
    let start = local_name + u16_at(bytes, header + 26) + u16_at(bytes, header + 28);
    let at = find(&bytes[..start + size], &from.to_le_bytes(), start).expect("the pixel");
    bytes[at..at + 4].copy_from_slice(&to.to_le_bytes());
    let crc = crc32fast::hash(&bytes[start..start + size]).to_le_bytes();
    bytes[header + 14..header + 18].copy_from_slice(&crc);
    let central_name = find(bytes, name.as_bytes(), start + size).expect("central header");
    bytes[central_name - 46 + 16..central_name - 46 + 20].copy_from_slice(&crc);
}

#[test]
fn bad_input_gets_one_line_errors_and_writes_nothing() {
    let dir = Dir::new();
    let (data, _) = structured(20, 10, 6);
    // One split only, no --test.
    let mut train_only = data.clone();
    train_only.test = None;
    let file = dir.dataset("train-only.npz", &train_only);
    let fit = || {
        kernel_fit()
            .args(["--kernel", "gaussian", "--gamma", "0.5", "--out"])
            .arg(dir.path("run"))
    };
    let err = fit().arg("--data").arg(&file).assert_exit_code(1);
    assert_one_line_error(&err, &["train-only.npz", "one split only", "--test"]);
    assert!(!dir.path("run").exists());
    // The same file with --test naming a file that holds the test split works.
    let test_file = dir.dataset("with-test.npz", &data);
    fit()
        .arg("--data")
        .arg(&file)
        .arg("--test")
        .arg(&test_file)
        .stdout();
    let s = summary(&dir.path("run"));
    assert_eq!((s.train_size, s.test_size), (20, 10));
    let c = KernelConfig::read(&dir.path("run/config.json")).unwrap();
    assert!(c.test_data.unwrap().ends_with("with-test.npz") && c.test_data_digest.is_some());
    std::fs::remove_dir_all(dir.path("run")).unwrap();

    // NaN pixels in a float32 (Gaussian-noise) file.
    let n = 8;
    let mut pixels: Vec<f32> = (0..n * 4).map(|i| i as f32 * 3.0).collect();
    pixels[13] = 1234.5;
    let d = Dataset::new(
        Meta::new("noise", vec!["a".into(), "b".into()]),
        Some(Split {
            images: Images::from_f32([n, 2, 2, 1], pixels),
            labels: (0..n).map(|i| (i % 2) as u16).collect(),
        }),
        None,
    );
    let mut bytes = testkit::encode(&d);
    patch_pixel(&mut bytes, "train_images", 1234.5, f32::NAN);
    let nan_file = dir.write("nan.npz", &bytes);
    let err = fit()
        .arg("--data")
        .arg(&nan_file)
        .arg("--test")
        .arg(&test_file)
        .assert_exit_code(1);
    assert_one_line_error(&err, &["nan.npz", "train_images", "NaN"]);
    assert!(!dir.path("run").exists());

    // Usage errors: exit 2.
    let err = kernel_fit()
        .args(["--kernel", "gaussian", "--data"])
        .arg(&test_file)
        .args(["--out", "x"])
        .assert_exit_code(2);
    assert_one_line_error(&err, &["--gamma"]);
    let err = kernel_fit()
        .arg("--data")
        .arg(&test_file)
        .args(["--out", "x"])
        .assert_exit_code(2);
    assert!(
        err.contains("--kernel") && err.contains("--random-features"),
        "{err}"
    );
}

#[test]
fn a_piped_file_and_a_path_give_the_same_fit() {
    let dir = Dir::new();
    let (data, _) = structured(40, 20, 7);
    let file = dir.dataset("d.npz", &data);
    let args = [
        "--random-features",
        "25",
        "--feature-map",
        "fourier",
        "--gamma",
        "0.3",
        "--seed",
        "9",
    ];
    kernel_fit()
        .args(args)
        .arg("--data")
        .arg(&file)
        .arg("--out")
        .arg(dir.path("a"))
        .stdout();
    kernel_fit()
        .args(args)
        .args(["--data", "-", "--threads", "1", "--out"])
        .arg(dir.path("b"))
        .pipe(std::fs::read(&file).unwrap())
        .stdout();
    let (a, b) = (summary(&dir.path("a")), summary(&dir.path("b")));
    assert_eq!((a.train_acc, a.test_acc), (b.train_acc, b.test_acc));
    assert!((a.norm - b.norm).abs() < 1e-9 * a.norm);
}
