//! Which examples to keep: a uniform sample without replacement, or a per-class balanced one,
//! drawn from a ChaCha8 stream keyed by the seed, returned sorted by original index.

use rand::RngCore;
use rand_chacha::ChaCha8Rng;

/// The generator for `purpose` ("subset/train", "subset/test"): round 0, stream 0 of the key
/// layout `corrupt` uses (rethink-rng).
pub fn stream(seed: u64, purpose: &str) -> ChaCha8Rng {
    rethink_rng::stream(seed, 0, purpose, 0)
}

/// A uniform integer in `0..n`.
fn below(rng: &mut impl RngCore, n: usize) -> usize {
    rethink_rng::below(rng, u32::try_from(n).expect("fewer than 2^32 examples")) as usize
}

/// Moves a uniform sample of `k` of `items` to the front (partial Fisher–Yates) and returns it.
fn choose<'a, T>(rng: &mut impl RngCore, items: &'a mut [T], k: usize) -> &'a mut [T] {
    let n = items.len();
    assert!(k <= n);
    for i in 0..k {
        let j = i + below(rng, n - i);
        items.swap(i, j);
    }
    &mut items[..k]
}

/// `k` indices of `0..n`, uniformly without replacement, sorted.
pub fn uniform(rng: &mut impl RngCore, n: usize, k: usize) -> Vec<usize> {
    let mut all: Vec<usize> = (0..n).collect();
    let mut kept = choose(rng, &mut all, k).to_vec();
    kept.sort_unstable();
    kept
}

/// How many examples each class contributes to a balanced sample of `k` from classes that have
/// `available[c]` examples: as equal as possible ("water-filling": a class with fewer examples than
/// its share gives all it has and the others share the rest equally); the `r` examples left when
/// the share does not divide evenly go one each to the first `r` classes in `priority` order.
/// Needs `k ≤ Σ available`.
pub fn quotas(available: &[usize], k: usize, priority: &[usize]) -> Vec<usize> {
    assert!(k <= available.iter().sum());
    let mut quota = vec![0usize; available.len()];
    let mut open: Vec<usize> = (0..available.len()).filter(|&c| available[c] > 0).collect();
    let mut left = k;
    loop {
        if open.is_empty() {
            break;
        }
        let share = left / open.len();
        let (small, large): (Vec<usize>, Vec<usize>) =
            open.iter().partition(|&&c| available[c] <= share);
        if small.is_empty() {
            for &c in &open {
                quota[c] = share;
            }
            left -= share * open.len();
            for &c in priority.iter().filter(|c| open.contains(c)).take(left) {
                quota[c] += 1;
            }
            break;
        }
        for c in small {
            quota[c] = available[c];
            left -= available[c];
        }
        open = large;
    }
    quota
}

/// A class-balanced sample of `k` of the examples with `labels` (classes `0..classes`), sorted by
/// index. The remainder order is a seeded permutation of the classes, so no class is favoured
/// across seeds.
pub fn stratified(rng: &mut impl RngCore, labels: &[u16], classes: usize, k: usize) -> Vec<usize> {
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); classes];
    for (i, &l) in labels.iter().enumerate() {
        by_class[l as usize].push(i);
    }
    let mut priority: Vec<usize> = (0..classes).collect();
    choose(rng, &mut priority, classes);
    let available: Vec<usize> = by_class.iter().map(Vec::len).collect();
    let quota = quotas(&available, k, &priority);
    let mut kept = Vec::with_capacity(k);
    for (members, q) in by_class.iter_mut().zip(quota) {
        kept.extend_from_slice(choose(rng, members, q));
    }
    kept.sort_unstable();
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_are_even_with_the_remainder_in_priority_order() {
        assert_eq!(quotas(&[10, 10, 10], 7, &[2, 0, 1]), vec![2, 2, 3]);
        assert_eq!(quotas(&[10, 10, 10], 8, &[2, 0, 1]), vec![3, 2, 3]);
        assert_eq!(quotas(&[10, 10, 10], 30, &[0, 1, 2]), vec![10, 10, 10]);
    }

    #[test]
    fn a_small_class_gives_all_it_has_and_the_others_share_the_rest() {
        assert_eq!(quotas(&[1, 10, 10], 9, &[0, 1, 2]), vec![1, 4, 4]);
        assert_eq!(quotas(&[1, 10, 10], 10, &[0, 1, 2]), vec![1, 5, 4]);
        assert_eq!(quotas(&[0, 3, 10], 9, &[0, 1, 2]), vec![0, 3, 6]);
    }

    #[test]
    fn uniform_sample_is_sorted_distinct_and_in_range() {
        let mut rng = stream(1, "t");
        let s = uniform(&mut rng, 100, 30);
        assert_eq!(s.len(), 30);
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        assert!(*s.last().unwrap() < 100);
    }
}
