//! `corrupt` as a user runs it: each randomization test on generated datasets, decoded and checked
//! against what the paper asks for, plus determinism across thread counts and bad input.

use rethink_dataset::{Dataset, Images, Meta, Split};
use rethink_testkit::{Dir, TestCommand, assert_one_line_error, decode, encode, tiny_dataset};

fn corrupt() -> TestCommand {
    TestCommand::new(env!("CARGO_BIN_EXE_corrupt"))
}

fn run(d: &Dataset, args: &[&str]) -> Dataset {
    decode(&corrupt().args(args).pipe(encode(d)).stdout())
}

/// `n` one-pixel images with labels cycling through 10 classes.
fn many_labels(n: usize) -> Dataset {
    let train = Split {
        images: Images::from_u8([n, 1, 1, 1], vec![0u8; n]),
        labels: (0..n).map(|i| (i % 10) as u16).collect(),
    };
    let test = Split {
        images: Images::from_u8([100, 1, 1, 1], vec![0u8; 100]),
        labels: (0..100).map(|i| (i * 7 % 10) as u16).collect(),
    };
    let classes = (0..10).map(|k| format!("c{k}")).collect();
    Dataset::new(Meta::new("labels", classes), Some(train), Some(test))
}

#[test]
fn label_noise_changes_a_binomial_fraction_of_training_labels_only() {
    let n = 50_000;
    let d = many_labels(n);
    let clean = d.train.as_ref().unwrap().labels.clone();
    for p in [0.0, 0.2, 0.5, 0.8, 1.0] {
        let out = run(&d, &["--labels", &p.to_string(), "--seed", "3"]);
        let labels = &out.train.as_ref().unwrap().labels;
        let kept_clean = out.train_clean_labels.as_ref().expect("clean labels kept");
        let mask = out.train_corrupted.as_ref().expect("mask written");
        assert_eq!(
            kept_clean, &clean,
            "p={p}: clean labels are the input labels"
        );
        assert_eq!(out.test, d.test, "p={p}: test split untouched");

        // A redrawn label is uniform over 10 classes: it changes with probability 0.9.
        let q = 0.9 * p;
        let changed = labels.iter().zip(&clean).filter(|(a, b)| a != b).count();
        let sigma = (n as f64 * q * (1.0 - q)).sqrt();
        let expected = n as f64 * q;
        assert!(
            (changed as f64 - expected).abs() <= 4.0 * sigma,
            "p={p}: {changed} changed, expected {expected} ± 4·{sigma:.1}"
        );
        let flagged = mask.iter().filter(|&&m| m == 1).count();
        let sigma_flag = (n as f64 * p * (1.0 - p)).sqrt();
        assert!(
            (flagged as f64 - n as f64 * p).abs() <= 4.0 * sigma_flag,
            "p={p}: {flagged}"
        );
        for i in 0..n {
            assert!(mask[i] <= 1);
            if labels[i] != clean[i] {
                assert_eq!(mask[i], 1, "p={p}: example {i} changed but is not flagged");
            }
        }

        let c = out.meta.corruption.as_ref().expect("meta.corruption");
        assert_eq!(c.labels, p);
        assert_eq!(c.pixels, None);
        assert_eq!(c.extra["seed"], 3);
        assert_eq!(c.extra["labels_changed"], changed as f64 / n as f64);
        let h = out.meta.history.last().unwrap();
        assert_eq!((h.tool.as_str(), h.seed), ("corrupt", Some(3)));
    }
}

/// The first training image has pixel j = j (channel 0), so the permutation can be read off it.
fn positional(train: usize, test: usize, hw: usize, c: usize) -> Dataset {
    let mut d = tiny_dataset(train, test, [hw, hw, c], 3, 5);
    let train_split = d.train.as_mut().unwrap();
    let mut px = train_split.images.as_u8().unwrap().to_vec();
    for j in 0..hw * hw {
        px[j * c] = j as u8;
    }
    train_split.images = Images::from_u8(train_split.images.shape(), px);
    d
}

fn image(images: &Images, i: usize) -> &[u8] {
    let d = images.image_len();
    &images.as_u8().unwrap()[i * d..(i + 1) * d]
}

#[test]
fn shuffle_pixels_applies_one_permutation_to_every_train_and_test_image() {
    let (hw, c) = (8, 3);
    let d = positional(150, 70, hw, c);
    let out = run(&d, &["--shuffle-pixels", "--seed", "9"]);
    let first = image(&out.train.as_ref().unwrap().images, 0);
    let perm: Vec<usize> = (0..hw * hw).map(|j| first[j * c] as usize).collect();
    assert_ne!(perm, (0..hw * hw).collect::<Vec<_>>(), "pixels did move");
    for (before, after) in [(&d.train, &out.train), (&d.test, &out.test)] {
        let (before, after) = (before.as_ref().unwrap(), after.as_ref().unwrap());
        assert_eq!(before.labels, after.labels);
        for i in 0..before.len() {
            let (src, dst) = (image(&before.images, i), image(&after.images, i));
            for j in 0..hw * hw {
                assert_eq!(dst[j * c..(j + 1) * c], src[perm[j] * c..(perm[j] + 1) * c]);
            }
        }
    }
    assert_eq!(
        out.meta.corruption.unwrap().pixels.as_deref(),
        Some("shuffle")
    );
}

#[test]
fn random_pixels_permute_each_image_differently() {
    let (hw, c) = (6, 1);
    // Every image is the positional image, so each output image spells its own permutation.
    let mut d = positional(1, 0, hw, c);
    let one = image(&d.train.as_ref().unwrap().images, 0).to_vec();
    let n = 200;
    d.train = Some(Split {
        images: Images::from_u8([n, hw, hw, c], one.repeat(n)),
        labels: vec![0; n],
    });
    let out = run(&d, &["--random-pixels", "--seed", "2"]);
    let images = &out.train.as_ref().unwrap().images;
    let mut seen = std::collections::HashSet::new();
    for i in 0..n {
        let mut sorted = image(images, i).to_vec();
        assert!(
            seen.insert(sorted.clone()),
            "image {i} repeats an earlier permutation"
        );
        sorted.sort();
        assert_eq!(
            sorted,
            (0..36).collect::<Vec<u8>>(),
            "image {i} is a permutation"
        );
    }
    assert_eq!(
        out.meta.corruption.unwrap().pixels.as_deref(),
        Some("random")
    );
}

fn channel_moments(images: &Images, c: usize) -> Vec<(f64, f64)> {
    let values: Vec<f64> = (0..images.len() * images.image_len())
        .map(|i| images.value(i) as f64)
        .collect();
    (0..c)
        .map(|k| {
            let ch: Vec<f64> = values.iter().skip(k).step_by(c).copied().collect();
            let mean = ch.iter().sum::<f64>() / ch.len() as f64;
            let var = ch.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / ch.len() as f64;
            (mean, var)
        })
        .collect()
}

/// Training images whose channels have clearly different means and spreads.
fn colored(train: usize, test: usize) -> Dataset {
    let mut d = tiny_dataset(train, test, [8, 8, 3], 4, 21);
    for split in [&mut d.train, &mut d.test].into_iter().flatten() {
        let px: Vec<u8> = split
            .images
            .as_u8()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, &v)| match i % 3 {
                0 => v / 4,       // mean ≈ 32, sd ≈ 18
                1 => 100 + v / 8, // mean ≈ 116, sd ≈ 9
                _ => v,           // mean ≈ 128, sd ≈ 74
            })
            .collect();
        split.images = Images::from_u8(split.images.shape(), px);
    }
    d
}

#[test]
fn gaussian_images_have_the_training_images_channel_moments() {
    let d = colored(300, 100);
    let target = channel_moments(&d.train.as_ref().unwrap().images, 3);
    let out = run(&d, &["--gaussian", "--seed", "4"]);
    for split in [&out.train, &out.test] {
        let images = &split.as_ref().unwrap().images;
        assert!(images.as_f32().is_some(), "float32 without --quantize");
        let n = (images.len() * 64) as f64; // values per channel
        for (k, (&(m, v), (gm, gv))) in target.iter().zip(channel_moments(images, 3)).enumerate() {
            // Sampling error: sd/√n for the mean, about var·√(2/n) for the variance.
            assert!(
                (gm - m).abs() < 5.0 * v.sqrt() / n.sqrt(),
                "channel {k}: mean {gm} vs {m}"
            );
            assert!(
                (gv - v).abs() < 5.0 * v * (2.0 / n).sqrt(),
                "channel {k}: var {gv} vs {v}"
            );
        }
    }
    assert_eq!(
        out.train.as_ref().unwrap().labels,
        d.train.as_ref().unwrap().labels
    );
    let c = out.meta.corruption.unwrap();
    assert_eq!(c.pixels.as_deref(), Some("gaussian"));
    assert_eq!(c.extra["quantize"], false);
    let recorded: Vec<f64> = serde_json::from_value(c.extra["gaussian_mean"].clone()).unwrap();
    for k in 0..3 {
        assert!((recorded[k] - target[k].0).abs() < 1e-9);
    }
}

#[test]
fn quantized_gaussian_images_are_the_float_draws_rounded_and_clamped() {
    let d = colored(300, 100);
    let float = run(&d, &["--gaussian", "--seed", "4"]);
    let quantized = run(&d, &["--gaussian", "--quantize", "--seed", "4"]);
    for (f, q) in [
        (&float.train, &quantized.train),
        (&float.test, &quantized.test),
    ] {
        let f = f.as_ref().unwrap().images.as_f32().unwrap();
        let q = q
            .as_ref()
            .unwrap()
            .images
            .as_u8()
            .expect("uint8 with --quantize");
        let mut clamped = 0;
        for (&f, &q) in f.iter().zip(q) {
            let near_half = (f.fract().abs() - 0.5).abs() < 1e-3; // f32 vs f64 rounding may differ
            if !near_half {
                assert_eq!(
                    q as f32,
                    f.round().clamp(0.0, 255.0),
                    "{f} quantized to {q}"
                );
            }
            clamped += usize::from(!(0.0..=255.0).contains(&f));
        }
        assert!(clamped > 0, "channel 0 (mean 32, sd 18) reaches below 0");
    }
    assert_eq!(quantized.meta.corruption.unwrap().extra["quantize"], true);
}

#[test]
fn float_images_can_be_shuffled_after_gaussian() {
    let d = colored(20, 5);
    let gauss = run(&d, &["--gaussian", "--seed", "1"]);
    let out = run(&gauss, &["--shuffle-pixels", "--seed", "1"]);
    let (a, b) = (
        &gauss.train.as_ref().unwrap().images,
        &out.train.as_ref().unwrap().images,
    );
    let d_len = a.image_len();
    for i in 0..a.len() {
        let sorted = |im: &Images| {
            let mut v: Vec<u32> = im.as_f32().unwrap()[i * d_len..(i + 1) * d_len]
                .iter()
                .map(|x| x.to_bits())
                .collect();
            v.sort();
            v
        };
        assert_eq!(sorted(a), sorted(b));
    }
    assert_ne!(a, b);
    // Shuffled Gaussian pixels are still i.i.d. Gaussian pixels.
    assert_eq!(
        out.meta.corruption.unwrap().pixels.as_deref(),
        Some("gaussian")
    );
}

#[test]
fn corrupting_twice_keeps_the_true_labels_and_combines_the_probabilities() {
    let d = many_labels(20_000);
    let clean = d.train.as_ref().unwrap().labels.clone();
    let once = run(&d, &["--labels", "0.2", "--seed", "1"]);
    let twice = run(
        &once,
        &["--labels", "0.5", "--seed", "1", "--shuffle-pixels"],
    );
    assert_eq!(twice.train_clean_labels.as_ref().unwrap(), &clean);
    let (m1, m2) = (
        once.train_corrupted.unwrap(),
        twice.train_corrupted.clone().unwrap(),
    );
    assert!(
        m1.iter().zip(&m2).all(|(a, b)| *a <= *b),
        "flags accumulate"
    );
    // Same seed, second round: an independent draw, so 1-(0.8·0.5) = 0.6 of labels are redrawn.
    let flagged = m2.iter().filter(|&&m| m == 1).count() as f64 / 20_000.0;
    let sigma = (0.6f64 * 0.4 / 20_000.0).sqrt();
    assert!((flagged - 0.6).abs() < 4.0 * sigma, "{flagged}");
    let c = twice.meta.corruption.unwrap();
    assert_eq!(c.labels, 0.6);
    assert_eq!(c.pixels.as_deref(), Some("shuffle"));
    assert_eq!(c.extra["passes"].as_array().unwrap().len(), 2);
    let changed = twice
        .train
        .as_ref()
        .unwrap()
        .labels
        .iter()
        .zip(&clean)
        .filter(|(a, b)| a != b);
    assert_eq!(c.extra["labels_changed"], changed.count() as f64 / 20_000.0);
}

#[test]
fn adding_a_mode_does_not_change_what_the_other_draws() {
    let d = colored(100, 30);
    let labels_only = run(&d, &["--labels", "0.5", "--seed", "8"]);
    let pixels_only = run(&d, &["--random-pixels", "--seed", "8"]);
    let both = run(&d, &["--labels", "0.5", "--random-pixels", "--seed", "8"]);
    assert_eq!(
        both.train.as_ref().unwrap().labels,
        labels_only.train.as_ref().unwrap().labels
    );
    assert_eq!(both.train_corrupted, labels_only.train_corrupted);
    assert_eq!(
        both.train.as_ref().unwrap().images,
        pixels_only.train.as_ref().unwrap().images
    );
    assert_eq!(both.test, pixels_only.test);
    let c = both.meta.corruption.unwrap();
    assert_eq!((c.labels, c.pixels.as_deref()), (0.5, Some("random")));
}

#[test]
fn output_is_identical_for_one_and_two_threads() {
    let d = colored(700, 150); // several rayon tasks per split
    let input = encode(&d);
    for mode in [
        &["--labels", "0.3"][..],
        &["--shuffle-pixels"],
        &["--random-pixels"],
        &["--gaussian"],
        &["--gaussian", "--quantize"],
    ] {
        let with = |threads: &str| {
            corrupt()
                .args(mode)
                .args(["--seed", "12"])
                .env("RAYON_NUM_THREADS", threads)
                .pipe(input.clone())
                .stdout()
        };
        let one = with("1");
        assert!(
            one == with("2"),
            "{mode:?}: outputs differ between 1 and 2 threads"
        );
        assert_ne!(
            one,
            corrupt()
                .args(mode)
                .args(["--seed", "13"])
                .pipe(input.clone())
                .stdout()
        );
    }
}

#[test]
fn a_file_output_streams_the_same_images_as_a_pipe() {
    // 25,000 images of 8×8×3 = 4.8 MB: written to a file, they stream in more than one chunk.
    let dir = Dir::new();
    let input = dir.dataset("in.npz", &colored(25_000, 300));
    let piped_input = std::fs::read(&input).unwrap();
    for mode in [
        &["--shuffle-pixels"][..],
        &["--random-pixels", "--labels", "0.5"],
        &["--gaussian", "--quantize"],
    ] {
        let piped = decode(
            &corrupt()
                .args(mode)
                .args(["--seed", "3"])
                .pipe(piped_input.clone())
                .stdout(),
        );
        for threads in ["1", "2"] {
            let out = dir.path(&format!("out-{threads}.npz"));
            corrupt()
                .arg(&input)
                .args(mode)
                .args(["--seed", "3", "-o"])
                .arg(&out)
                .env("RAYON_NUM_THREADS", threads)
                .stdout();
            let file = rethink_dataset::read_path(&out).unwrap();
            assert!(file.train == piped.train, "{mode:?}: train split differs");
            assert!(file.test == piped.test, "{mode:?}: test split differs");
            assert_eq!(file.train_clean_labels, piped.train_clean_labels);
            assert_eq!(file.meta.corruption, piped.meta.corruption);
        }
    }
}

#[test]
fn files_in_and_out_with_history_digest() {
    let dir = Dir::new();
    let input = dir.dataset("in.npz", &colored(10, 4));
    let out = dir.path("out.npz");
    let stdout = corrupt()
        .arg(&input)
        .args(["-o"])
        .arg(&out)
        .args(["--labels", "1"])
        .stdout();
    assert!(stdout.is_empty(), "data goes to the file");
    let result = rethink_dataset::read_path(&out).unwrap();
    let digest = rethink_dataset::read_path(&input).unwrap().digest();
    let h = result.meta.history.last().unwrap();
    assert_eq!(h.input_digest, digest);
    assert_eq!(h.seed, Some(0), "the default seed is recorded");
    assert_eq!(
        h.args,
        vec![
            input.display().to_string(),
            "-o".into(),
            out.display().to_string(),
            "--labels".into(),
            "1".into()
        ]
    );
    assert_eq!(dir.files(), vec!["in.npz", "out.npz"]);
}

#[test]
fn bad_input_gives_one_line_and_the_right_exit_code() {
    let dir = Dir::new();
    let good = dir.dataset("good.npz", &colored(10, 4));
    let err = corrupt()
        .arg(&good)
        .args(["--labels", "1.5"])
        .assert_exit_code(2);
    assert_one_line_error(&err, &["--labels 1.5", "between 0 and 1"]);
    let err = corrupt().arg(&good).assert_exit_code(2);
    assert_one_line_error(&err, &["nothing to do"]);
    corrupt()
        .arg(&good)
        .args(["--quantize", "--labels", "0"])
        .assert_exit_code(2);
    for mode in ["--shuffle-pixels", "--random-pixels"] {
        let err = corrupt()
            .arg(&good)
            .args([mode, "--quantize"])
            .assert_exit_code(2);
        assert_one_line_error(&err, &["--quantize goes with --gaussian only"]);
    }
    corrupt()
        .arg(&good)
        .args(["--shuffle-pixels", "--random-pixels"])
        .assert_exit_code(2);

    let test_only = dir.dataset("test-only.npz", &tiny_dataset(0, 5, [4, 4, 1], 3, 1));
    for mode in ["--labels=0.5", "--gaussian"] {
        let err = corrupt()
            .arg(&test_only)
            .arg(mode)
            .args(["-o"])
            .arg(dir.path("x.npz"))
            .assert_exit_code(1);
        assert_one_line_error(&err, &["test-only.npz", "needs training data"]);
    }
    let garbage = dir.write("garbage.npz", b"this is not a zip file");
    let err = corrupt()
        .arg(&garbage)
        .args(["--labels", "0.5", "-o"])
        .arg(dir.path("x.npz"))
        .assert_exit_code(1);
    assert_one_line_error(&err, &["garbage.npz"]);
    let err = corrupt()
        .arg(dir.path("missing.npz"))
        .args(["--labels", "0.5", "-o"])
        .arg(dir.path("x.npz"))
        .assert_exit_code(1);
    assert_one_line_error(&err, &["missing.npz"]);
    assert!(!dir.path("x.npz").exists(), "no output on failure");

    // Shuffling pixels of a test-only shard is fine: the permutation comes from the seed alone.
    let out = decode(&corrupt().arg(&test_only).arg("--shuffle-pixels").stdout());
    assert!(out.train.is_none());
}
