//! The distributions `corrupt` draws from, tested as distributions: Gaussian images must be
//! i.i.d. pixels (varying within each image, uncorrelated with their neighbours), and redrawn
//! labels must be uniform over all classes whatever the true label was (chi-square).
//!
//! Matching pooled moments (`corrupt.rs`) is not enough: images that are each one flat colour,
//! that share an image-wide offset, or whose pixels follow their neighbours have the right
//! per-channel mean and variance over the whole split, in expectation. Each check here has a fixed
//! seed and a stated tolerance or significance level, and was seen to fail on a generator broken
//! that way (the numbers each break gave are noted beside the check).

use rethink_dataset::{Dataset, Images, Meta, Split};
use rethink_testkit::{TestCommand, decode, encode};

fn corrupt(d: &Dataset, args: &[&str]) -> Dataset {
    decode(
        &TestCommand::new(env!("CARGO_BIN_EXE_corrupt"))
            .args(args)
            .pipe(encode(d))
            .stdout(),
    )
}

// ---- Gaussian images ----

const H: usize = 8;
const W: usize = 8;
const C: usize = 3;

/// Smooth training images (a per-image offset plus ramps across x, y and the channels), so that
/// any of the input's structure leaking into the Gaussian images would show as correlation.
fn smooth(train: usize, test: usize) -> Dataset {
    let split = |n: usize, salt: usize| {
        let mut px = Vec::with_capacity(n * H * W * C);
        for i in 0..n {
            let offset = (i * 37 + salt) % 60;
            for y in 0..H {
                for x in 0..W {
                    for k in 0..C {
                        px.push((offset + 10 * (x + y) + 20 * k) as u8);
                    }
                }
            }
        }
        Split {
            images: Images::from_u8([n, H, W, C], px),
            labels: (0..n).map(|i| (i % 4) as u16).collect(),
        }
    };
    let meta = Meta::new("smooth", (0..4).map(|k| format!("c{k}")).collect());
    Dataset::new(meta, Some(split(train, 0)), Some(split(test, 11)))
}

/// Value of channel `k` at (`y`, `x`) of image `i` (layout [n, h, w, c]).
fn at(values: &[f64], i: usize, y: usize, x: usize, k: usize) -> f64 {
    values[((i * H + y) * W + x) * C + k]
}

/// Pearson correlation of the pairs, and how many there were.
fn correlation(pairs: &[(f64, f64)]) -> (f64, usize) {
    let n = pairs.len() as f64;
    let (ma, mb) = pairs
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x / n, b + y / n));
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (a, b) in pairs {
        sab += (a - ma) * (b - mb);
        saa += (a - ma).powi(2);
        sbb += (b - mb).powi(2);
    }
    (sab / (saa * sbb).sqrt(), pairs.len())
}

#[test]
fn gaussian_pixels_vary_within_each_image_and_are_uncorrelated_with_their_neighbours() {
    let d = smooth(400, 100);
    let out = corrupt(&d, &["--gaussian", "--seed", "4"]);
    let c = out.meta.corruption.as_ref().unwrap();
    let target: Vec<f64> = serde_json::from_value(c.extra["gaussian_std"].clone()).unwrap();
    for (name, split) in [("train", &out.train), ("test", &out.test)] {
        let images = &split.as_ref().unwrap().images;
        assert_eq!(images.shape()[1..], [H, W, C]);
        let n = images.len();
        let values: Vec<f64> = (0..n * H * W * C).map(|i| images.value(i) as f64).collect();

        // Within-image variance: an image of i.i.d. N(m, σ²) pixels has a population variance
        // of σ²·(d−1)/d on average (d = H·W values per channel), with a standard deviation of
        // σ²·√(2(d−1))/d; averaged over n images that shrinks by √n. An image of one value,
        // or one whose pixels share an image-wide offset, falls short of it (flat images gave 0.0;
        // an offset carrying 10% of the variance gave 1204.5 for 1329.9 ± 59.2, while the pooled
        // moments in corrupt.rs still passed).
        let d_px = (H * W) as f64;
        for (k, sd) in target.iter().enumerate() {
            let var = sd * sd;
            let per_image: Vec<f64> = (0..n)
                .map(|i| {
                    let v: Vec<f64> = (0..H * W)
                        .map(|p| at(&values, i, p / W, p % W, k))
                        .collect();
                    let m = v.iter().sum::<f64>() / d_px;
                    v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / d_px
                })
                .collect();
            let mean_within = per_image.iter().sum::<f64>() / n as f64;
            let expected = var * (d_px - 1.0) / d_px;
            let tolerance = 5.0 * var * (2.0 * (d_px - 1.0)).sqrt() / d_px / (n as f64).sqrt();
            assert!(
                (mean_within - expected).abs() < tolerance,
                "{name} channel {k}: mean within-image variance {mean_within:.1}, expected \
                 {expected:.1} ± {tolerance:.1} (σ² = {var:.1}): pixels do not vary within an image as i.i.d. pixels do"
            );
            // One flat image is enough to fail: below σ²/4 has probability < 1e-9 for d = 64.
            let (flattest, &low) = per_image
                .iter()
                .enumerate()
                .min_by(|a, b| a.1.total_cmp(b.1))
                .unwrap();
            assert!(
                low > var / 4.0,
                "{name} channel {k}: image {flattest} has within-image variance {low:.1}, under σ²/4 = {:.1}",
                var / 4.0
            );
        }

        // Correlations: independent pixels give r ≈ N(0, 1/pairs); |r| < 5/√pairs (pixels drawn as
        // an AR(1) chain along the row, ρ = 0.5, gave r = 0.50 with pooled moments intact; one
        // stream for every image would give r = 1 across images). Channels have
        // different means, so pairs are of deviations from their own channel's mean (pooled raw
        // values would correlate through the channel means alone).
        let mean: Vec<f64> = (0..C)
            .map(|k| values.iter().skip(k).step_by(C).sum::<f64>() / (n * H * W) as f64)
            .collect();
        let values: Vec<f64> = values
            .iter()
            .enumerate()
            .map(|(j, v)| v - mean[j % C])
            .collect();
        let mut right = Vec::new(); // (x, y) with (x+1, y), every channel
        let mut below = Vec::new(); // (x, y) with (x, y+1)
        let mut channel = Vec::new(); // channel k with k+1 of the same pixel
        let mut next_image = Vec::new(); // the same value of image i and image i+1
        for i in 0..n {
            for y in 0..H {
                for x in 0..W {
                    for k in 0..C {
                        let v = at(&values, i, y, x, k);
                        if x + 1 < W {
                            right.push((v, at(&values, i, y, x + 1, k)));
                        }
                        if y + 1 < H {
                            below.push((v, at(&values, i, y + 1, x, k)));
                        }
                        if k + 1 < C {
                            channel.push((v, at(&values, i, y, x, k + 1)));
                        }
                        if i + 1 < n {
                            next_image.push((v, at(&values, i + 1, y, x, k)));
                        }
                    }
                }
            }
        }
        for (what, pairs) in [
            ("horizontal neighbours", right),
            ("vertical neighbours", below),
            ("adjacent channels of a pixel", channel),
            ("the same pixel of consecutive images", next_image),
        ] {
            let (r, count) = correlation(&pairs);
            let bound = 5.0 / (count as f64).sqrt();
            assert!(
                r.abs() < bound,
                "{name}: correlation of {what} is {r:.4} over {count} pairs; i.i.d. pixels give |r| < {bound:.4}"
            );
        }
    }
}

// ---- Redrawn labels ----

const K: usize = 10;

/// 99.9% points of the chi-square distribution (significance level α = 0.001), by degrees of
/// freedom: with the fixed seeds below a correct generator passes, and a wrong one fails by far.
fn chi_square_critical(df: usize) -> f64 {
    match df {
        9 => 27.877,
        27 => 55.476,
        _ => panic!("no critical value for {df} degrees of freedom"),
    }
}

/// Pearson's statistic of `observed` counts against equal expected counts.
fn chi_square_uniform(observed: &[usize]) -> f64 {
    let total: usize = observed.iter().sum();
    let e = total as f64 / observed.len() as f64;
    observed.iter().map(|&o| (o as f64 - e).powi(2) / e).sum()
}

/// `n` training labels from only three of the ten classes, unevenly (60% class 0, 30% class 1,
/// 10% class 2), so a redraw that followed the true labels could not look uniform by accident.
fn skewed_labels(n: usize) -> Dataset {
    let label = |i: usize| match i % 10 {
        0..=5 => 0,
        6..=8 => 1,
        _ => 2,
    };
    let train = Split {
        images: Images::from_u8([n, 1, 1, 1], vec![0; n]),
        labels: (0..n).map(label).collect(),
    };
    let test = Split {
        images: Images::from_u8([10, 1, 1, 1], vec![0; 10]),
        labels: (0..10).collect(),
    };
    let meta = Meta::new("skewed", (0..K).map(|k| format!("c{k}")).collect());
    Dataset::new(meta, Some(train), Some(test))
}

#[test]
fn redrawn_labels_are_uniform_over_all_classes_whatever_the_true_label() {
    // The rule (src/labels.rs): with probability p a label is replaced by a class drawn uniformly
    // from all K classes of meta.classes, its own included; the others stay as they were.
    let n = 30_000;
    let d = skewed_labels(n);
    let clean = d.train.as_ref().unwrap().labels.clone();
    for (p, seed) in [(0.5, "5"), (1.0, "6")] {
        let out = corrupt(&d, &["--labels", &p.to_string(), "--seed", seed]);
        let labels = &out.train.as_ref().unwrap().labels;
        let mask = out.train_corrupted.as_ref().unwrap();
        let mut by_clean = vec![vec![0usize; K]; 3]; // [true class][new class], redrawn only
        for i in 0..n {
            if mask[i] == 1 {
                by_clean[clean[i] as usize][labels[i] as usize] += 1;
            } else {
                assert_eq!(
                    labels[i], clean[i],
                    "p={p}: example {i} not redrawn but changed"
                );
            }
        }
        let redrawn: usize = by_clean.iter().flatten().sum();
        let sigma = (n as f64 * p * (1.0 - p)).sqrt();
        assert!(
            (redrawn as f64 - n as f64 * p).abs() <= 4.0 * sigma,
            "p={p}: {redrawn} redrawn of {n}"
        );

        // 1. The new classes, pooled: uniform over all ten (df 9), though the true labels use three.
        //    (Drawing from 9 of the 10 classes gave 1663.5, and the binomial count of changed labels
        //    in corrupt.rs cannot see that break: it still changes 90% of redrawn labels.)
        let pooled: Vec<usize> = (0..K)
            .map(|k| by_clean.iter().map(|r| r[k]).sum())
            .collect();
        let stat = chi_square_uniform(&pooled);
        let crit = chi_square_critical(K - 1);
        assert!(
            stat < crit,
            "p={p}: redrawn labels are not uniform over {K} classes: chi-square {stat:.1} ≥ {crit} \
             (df {}, α = 0.001); counts per class {pooled:?}",
            K - 1
        );

        // 2. Given the true class: still uniform (3 rows × 9 df), so the new label does not depend
        //    on the old one and keeps it 1 time in K (a redraw among the other classes would not).
        let stat: f64 = by_clean.iter().map(|row| chi_square_uniform(row)).sum();
        let crit = chi_square_critical(3 * (K - 1));
        assert!(
            stat < crit,
            "p={p}: redrawn labels depend on the true label: chi-square {stat:.1} ≥ {crit} \
             (df {}, α = 0.001); counts [true][new] {by_clean:?}",
            3 * (K - 1)
        );
        let kept: usize = (0..3).map(|c| by_clean[c][c]).sum();
        let q = 1.0 / K as f64;
        let sigma = (redrawn as f64 * q * (1.0 - q)).sqrt();
        assert!(
            (kept as f64 - redrawn as f64 * q).abs() <= 4.0 * sigma,
            "p={p}: {kept} of {redrawn} redrawn labels kept their class; a draw from all {K} \
             classes keeps {:.0} ± 4·{sigma:.1}",
            redrawn as f64 * q
        );
    }
}
