//! Property tests of the transforms on random small datasets (in-process, through `corrupt::apply`).

use corrupt::{Config, PixelMode, apply};
use proptest::prelude::*;
use rethink_dataset::{Dataset, Images};
use rethink_testkit as testkit;

fn config(pixels: Option<PixelMode>, labels: Option<f64>, seed: u64) -> Config {
    Config {
        labels,
        pixels,
        quantize: false,
        seed,
    }
}

fn image(images: &Images, i: usize) -> Vec<u8> {
    let d = images.image_len();
    images.as_u8().unwrap()[i * d..(i + 1) * d].to_vec()
}

/// Each image's pixels (C values each), sorted: what a permutation of positions must preserve.
fn pixel_multiset(images: &Images, i: usize) -> Vec<Vec<u8>> {
    let mut px: Vec<Vec<u8>> = image(images, i)
        .chunks(images.channels())
        .map(<[u8]>::to_vec)
        .collect();
    px.sort();
    px
}

fn dataset() -> impl Strategy<Value = Dataset> {
    (
        1usize..12,
        0usize..6,
        1usize..6,
        1usize..6,
        prop::sample::select(vec![1usize, 3, 4]),
        2usize..12,
        any::<u64>(),
    )
        .prop_map(|(train, test, h, w, c, classes, seed)| {
            testkit::tiny_dataset(train, test, [h, w, c], classes, seed)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn permutation_modes_preserve_each_images_pixels(d in dataset(), seed in any::<u64>(), random in any::<bool>()) {
        let mode = if random { PixelMode::Random } else { PixelMode::Shuffle };
        let mut out = d.clone();
        apply(&mut out, &config(Some(mode), None, seed), "t").unwrap();
        for (a, b) in [(&d.train, &out.train), (&d.test, &out.test)] {
            prop_assert_eq!(a.is_some(), b.is_some());
            let (Some(a), Some(b)) = (a, b) else { continue };
            prop_assert_eq!(&a.labels, &b.labels);
            prop_assert_eq!(a.images.shape(), b.images.shape());
            for i in 0..a.len() {
                prop_assert_eq!(pixel_multiset(&a.images, i), pixel_multiset(&b.images, i));
            }
        }
    }

    #[test]
    fn shuffle_uses_one_permutation_for_both_splits(
        train in 1usize..8, test in 1usize..8, h in 1usize..9, w in 1usize..9, c in 1usize..4, seed in any::<u64>()
    ) {
        let mut d = testkit::tiny_dataset(train, test, [h, w, c], 3, seed ^ 1);
        // Make the first training image spell out positions so the permutation can be read back.
        let split = d.train.as_mut().unwrap();
        let mut px = split.images.as_u8().unwrap().to_vec();
        for j in 0..h * w { px[j * c] = j as u8; }
        split.images = Images::from_u8(split.images.shape(), px);
        let mut out = d.clone();
        apply(&mut out, &config(Some(PixelMode::Shuffle), None, seed), "t").unwrap();
        let first = image(&out.train.as_ref().unwrap().images, 0);
        let perm: Vec<usize> = (0..h * w).map(|j| first[j * c] as usize).collect();
        for (a, b) in [(&d.train, &out.train), (&d.test, &out.test)] {
            let (a, b) = (a.as_ref().unwrap(), b.as_ref().unwrap());
            for i in 0..a.len() {
                let (src, dst) = (image(&a.images, i), image(&b.images, i));
                for j in 0..h * w {
                    prop_assert_eq!(&dst[j * c..(j + 1) * c], &src[perm[j] * c..(perm[j] + 1) * c]);
                }
            }
        }
    }

    #[test]
    fn label_noise_keeps_a_consistent_mask_and_test_labels(d in dataset(), p in 0.0f64..=1.0, seed in any::<u64>()) {
        let mut out = d.clone();
        apply(&mut out, &config(None, Some(p), seed), "t").unwrap();
        let clean = &d.train.as_ref().unwrap().labels;
        prop_assert_eq!(out.train_clean_labels.as_ref().unwrap(), clean);
        prop_assert_eq!(&out.test, &d.test);
        prop_assert_eq!(&out.train.as_ref().unwrap().images, &d.train.as_ref().unwrap().images);
        let mask = out.train_corrupted.as_ref().unwrap();
        for (i, (l, c)) in out.train.as_ref().unwrap().labels.iter().zip(clean).enumerate() {
            prop_assert!((*l as usize) < d.num_classes());
            if l != c { prop_assert_eq!(mask[i], 1); }
        }
        out.validate("t").unwrap();
    }

    #[test]
    fn same_seed_same_result(d in dataset(), seed in any::<u64>()) {
        let cfg = Config { labels: Some(0.5), pixels: Some(PixelMode::Gaussian), quantize: true, seed };
        let (mut a, mut b) = (d.clone(), d.clone());
        apply(&mut a, &cfg, "t").unwrap();
        apply(&mut b, &cfg, "t").unwrap();
        prop_assert_eq!(a, b);
    }
}
