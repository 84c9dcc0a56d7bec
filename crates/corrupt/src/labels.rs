//! Label corruption as in the paper: each training label, independently with probability p, is
//! replaced by a class drawn uniformly from all classes (so about (1 − 1/K)·p labels change).
//!
//! Every label consumes the same draws whatever p is (a uniform u, then a class c; the label is
//! redrawn when u < p), so for one seed the examples redrawn at p = 0.2 are a subset of those
//! redrawn at p = 0.5 and get the same new classes: a sweep over p is nested, not reshuffled.

use crate::streams;

/// What one label-corruption pass did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LabelPass {
    /// Examples whose label was redrawn in this pass.
    pub redrawn: usize,
}

/// Redraws `labels` in place with probability `p` each and sets `mask` to 1 where it did.
/// `labels` and `mask` have the same length; `classes` is the number of classes.
pub fn corrupt(
    labels: &mut [u16],
    mask: &mut [u8],
    p: f64,
    classes: usize,
    seed: u64,
    round: u32,
) -> LabelPass {
    assert_eq!(labels.len(), mask.len());
    assert!((1..=65536).contains(&classes));
    let mut rng = streams::stream(seed, round, "labels/train", 0);
    let mut redrawn = 0;
    for (label, flag) in labels.iter_mut().zip(mask.iter_mut()) {
        let u = streams::unit(&mut rng);
        let class = streams::below(&mut rng, classes as u32) as u16;
        if u < p {
            *label = class;
            *flag = 1;
            redrawn += 1;
        }
    }
    LabelPass { redrawn }
}

/// The probability that a label was redrawn after passes with probabilities `p1` then `p2`:
/// a redrawn label is uniform and independent of the true one, so two passes are one pass with
/// 1 − (1 − p1)(1 − p2). Rounded to 12 decimals so 0.2 then 0.5 reads 0.6, not 0.6000000000000001.
pub fn combined(p1: f64, p2: f64) -> f64 {
    let p = 1.0 - (1.0 - p1) * (1.0 - p2);
    (p * 1e12).round() / 1e12
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p_zero_touches_nothing_and_p_one_redraws_everything() {
        let clean: Vec<u16> = (0..1000).map(|i| (i % 10) as u16).collect();
        let mut labels = clean.clone();
        let mut mask = vec![0u8; 1000];
        assert_eq!(corrupt(&mut labels, &mut mask, 0.0, 10, 1, 0).redrawn, 0);
        assert_eq!(labels, clean);
        assert!(mask.iter().all(|&m| m == 0));
        assert_eq!(corrupt(&mut labels, &mut mask, 1.0, 10, 1, 0).redrawn, 1000);
        assert!(mask.iter().all(|&m| m == 1));
    }

    #[test]
    fn a_smaller_p_redraws_a_subset_with_the_same_classes() {
        let clean: Vec<u16> = (0..5000).map(|i| (i % 10) as u16).collect();
        let run = |p| {
            let mut l = clean.clone();
            let mut m = vec![0u8; clean.len()];
            corrupt(&mut l, &mut m, p, 10, 7, 0);
            (l, m)
        };
        let (low_l, low_m) = run(0.2);
        let (high_l, high_m) = run(0.5);
        for i in 0..clean.len() {
            if low_m[i] == 1 {
                assert_eq!(high_m[i], 1);
                assert_eq!(high_l[i], low_l[i]);
            }
        }
        assert!(
            low_m.iter().filter(|&&m| m == 1).count() < high_m.iter().filter(|&&m| m == 1).count()
        );
    }

    #[test]
    fn combined_probability() {
        assert_eq!(combined(0.2, 0.5), 0.6);
        assert_eq!(combined(0.0, 0.3), 0.3);
        assert_eq!(combined(1.0, 0.3), 1.0);
    }
}
