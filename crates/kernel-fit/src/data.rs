//! From dataset files to the matrices a linear model needs: images flattened to rows of float64
//! scaled to [0, 1], one-hot targets, the clean labels of a corrupted file, and the seeded
//! `--max-train` subset. Everything that can be wrong with the input is found here, before any
//! large matrix is allocated.

use anyhow::{Result, bail};
use rethink_dataset::{Dataset, Pixels, Split};

/// One split as a linear model sees it.
pub struct Examples {
    /// n × D, row-major: example i is `x[i * d..(i + 1) * d]`.
    pub x: Vec<f64>,
    /// D.
    pub d: usize,
    /// The labels the model is fitted to (training) or scored on (test).
    pub labels: Vec<u16>,
    /// Whether the file held uint8 pixels, so that every value of `x` is an integer in 0..=255
    /// divided by 255: the Gaussian kernel then computes distances in exact integer arithmetic.
    pub integer: bool,
}

impl Examples {
    /// n.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Row i.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.x[i * self.d..(i + 1) * self.d]
    }

    /// The mean row.
    pub fn mean(&self) -> Vec<f64> {
        let mut m = vec![0.0; self.d];
        for i in 0..self.len() {
            m.iter_mut().zip(self.row(i)).for_each(|(a, b)| *a += b);
        }
        m.iter_mut().for_each(|a| *a /= self.len().max(1) as f64);
        m
    }
}

/// How pixels become input vectors; recorded in `config.json`.
pub const SCALING: &str = "pixels / 255 (uint8 and float32 alike), flattened in (h, w, c) order";
/// [`SCALING`] for ReLU random features, which also center their inputs.
pub const SCALING_CENTERED: &str = "pixels / 255 (uint8 and float32 alike), flattened in (h, w, c) order; ReLU features see x minus the mean training input";

/// The split's images as rows of pixels / 255, in the order of `keep` (all when `None`).
/// `what` names the entry in errors ("train_images").
pub fn flatten(split: &Split, keep: Option<&[usize]>, file: &str, what: &str) -> Result<Examples> {
    let d = split.images.image_len();
    let all: Vec<usize>;
    let keep = match keep {
        Some(k) => k,
        None => {
            all = (0..split.len()).collect();
            &all
        }
    };
    let mut x = vec![0.0f64; keep.len() * d];
    let integer = matches!(split.images.pixels(), Pixels::U8(_));
    match split.images.pixels() {
        Pixels::U8(bytes) => {
            for (row, &i) in x.chunks_exact_mut(d.max(1)).zip(keep) {
                for (v, &p) in row.iter_mut().zip(&bytes[i * d..(i + 1) * d]) {
                    *v = f64::from(p) / 255.0;
                }
            }
        }
        Pixels::F32(values) => {
            for (row, &i) in x.chunks_exact_mut(d.max(1)).zip(keep) {
                for (k, (v, &p)) in row.iter_mut().zip(&values[i * d..(i + 1) * d]).enumerate() {
                    if !p.is_finite() {
                        bail!(
                            "{file}: {what}: pixel {} of image {i} is {p} (not finite)",
                            k
                        );
                    }
                    *v = f64::from(p) / 255.0;
                }
            }
        }
    }
    let labels = keep.iter().map(|&i| split.labels[i]).collect();
    Ok(Examples {
        x,
        d,
        labels,
        integer,
    })
}

/// The one-hot targets of `labels`: n × k, column-major (column c is class c).
pub fn one_hot(labels: &[u16], classes: usize) -> Vec<f64> {
    let n = labels.len();
    let mut y = vec![0.0; n * classes];
    for (i, &l) in labels.iter().enumerate() {
        y[l as usize * n + i] = 1.0;
    }
    y
}

/// `k` of `0..n` drawn uniformly without replacement from the seed's "kernel-fit/train"
/// stream (rethink-rng), sorted; all of them when `k ≥ n`.
pub fn max_train_subset(n: usize, k: usize, seed: u64) -> Option<Vec<usize>> {
    if k >= n {
        return None;
    }
    let mut rng = rethink_rng::stream(seed, 0, "kernel-fit/train", 0);
    let mut all: Vec<u32> = (0..n as u32).collect();
    for i in 0..k {
        let j = i + rethink_rng::below(&mut rng, (n - i) as u32) as usize;
        all.swap(i, j);
    }
    let mut kept: Vec<usize> = all[..k].iter().map(|&i| i as usize).collect();
    kept.sort_unstable();
    Some(kept)
}

/// The training split of `data`, or a one-line error naming `file`.
pub fn train_split<'a>(data: &'a Dataset, file: &str) -> Result<&'a Split> {
    match &data.train {
        Some(s) if !s.is_empty() => Ok(s),
        _ => bail!("{file}: holds no training split: kernel-fit fits the training examples"),
    }
}

/// The test split: from `test` (the `--test` file) when given, else from `data`.
pub fn test_split<'a>(
    data: &'a Dataset,
    file: &str,
    test: Option<(&'a Dataset, &str)>,
) -> Result<&'a Split> {
    match test {
        Some((t, name)) => match &t.test {
            Some(s) if !s.is_empty() => Ok(s),
            _ => bail!("{name}: holds no test split (--test needs a file with test_images)"),
        },
        None => match &data.test {
            Some(s) if !s.is_empty() => Ok(s),
            _ => bail!(
                "{file}: holds one split only (no test split): give the test examples with --test FILE"
            ),
        },
    }
}

/// Checks that the test split fits the training split: same image shape and classes.
pub fn check_compatible(
    train: &Split,
    test: &Split,
    classes: usize,
    test_classes: usize,
    test_file: &str,
) -> Result<()> {
    let (a, b) = (train.images.shape(), test.images.shape());
    if a[1..] != b[1..] {
        bail!(
            "{test_file}: test_images are {}x{}x{} but the training images are {}x{}x{}",
            b[1],
            b[2],
            b[3],
            a[1],
            a[2],
            a[3]
        );
    }
    if classes != test_classes {
        bail!("{test_file}: {test_classes} classes but the training file has {classes}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rethink_dataset::Images;

    #[test]
    fn pixels_are_scaled_and_rows_follow_keep() {
        let split = Split {
            images: Images::from_u8([3, 1, 1, 2], vec![0u8, 255, 51, 102, 10, 20]),
            labels: vec![0, 1, 2],
        };
        let e = flatten(&split, Some(&[2, 0]), "f", "train_images").unwrap();
        assert_eq!(e.d, 2);
        assert_eq!(e.labels, vec![2, 0]);
        assert_eq!(e.row(0), &[10.0 / 255.0, 20.0 / 255.0]);
        assert_eq!(e.row(1), &[0.0, 1.0]);
        let f = Split {
            images: Images::from_f32([1, 1, 1, 2], vec![127.5, -255.0]),
            labels: vec![1],
        };
        let e = flatten(&f, None, "f", "train_images").unwrap();
        assert_eq!(e.x, vec![0.5, -1.0]);
    }

    #[test]
    fn one_hot_is_column_major() {
        assert_eq!(one_hot(&[1, 0, 1], 2), vec![0.0, 1.0, 0.0, 1.0, 0.0, 1.0]);
    }

    #[test]
    fn the_subset_is_seeded_sorted_and_distinct() {
        let a = max_train_subset(100, 10, 1).unwrap();
        assert_eq!(a, max_train_subset(100, 10, 1).unwrap());
        assert_ne!(a, max_train_subset(100, 10, 2).unwrap());
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(max_train_subset(10, 10, 1), None);
    }
}
