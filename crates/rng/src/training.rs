//! The seeds `train` draws from: its weights, each epoch's example order and each step's device
//! generator all derive from the run's `--seed` through [`mix_seed`], so a resumed run replays an
//! uninterrupted one. (The data tools' streams are [`crate::stream`]; these are older and kept
//! bit for bit, since changing them would change every training run.)

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// Salt of the seed that initializes the weights.
pub const WEIGHTS_SALT: u64 = 0x1417;
/// Salt base of the epoch orders (plus the epoch number).
pub const EPOCH_SALT: u64 = 0x5EED_0000_0000;

/// Salt of the training examples `train --eval-train-subset` scores.
pub const EVAL_SUBSET_SALT: u64 = 0xE7A1_5B5E;

/// The `size` training examples (of `n`) that `train --eval-train-subset size` scores, ascending:
/// drawn from `n` alone, so every seed and model trained on the same data is scored on the same
/// examples.
pub fn eval_train_subset(n: usize, size: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(mix_seed(n as u64, EVAL_SUBSET_SALT));
    order.shuffle(&mut rng);
    order.truncate(size.min(n));
    order.sort_unstable();
    order
}

/// A mix of two numbers into a well-spread 64-bit seed (SplitMix64 finalizer). Step `s` of a run
/// seeds the device generator (crops, flips, dropout) with `mix_seed(seed, s)`.
pub fn mix_seed(seed: u64, salt: u64) -> u64 {
    let mut z = seed
        ^ salt
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(0x632B_E59B_D9B4_E019);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The order in which `epoch` visits the `n` training examples of a run seeded with `seed`.
pub fn epoch_order(n: usize, seed: u64, epoch: u64) -> Vec<i64> {
    let mut order: Vec<i64> = (0..n as i64).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(mix_seed(seed, EPOCH_SALT + epoch));
    order.shuffle(&mut rng);
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pinned values: these seeds are part of every training run's identity.
    #[test]
    fn seeds_and_orders_are_pinned() {
        assert_eq!(mix_seed(1, 0), 0x9AC9_032E_2439_7F11);
        assert_eq!(epoch_order(10, 1, 0), vec![7, 1, 6, 5, 8, 4, 2, 9, 3, 0]);
        let order = epoch_order(10, 1, 0);
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, (0..10).collect::<Vec<i64>>());
        assert_ne!(order, epoch_order(10, 1, 1));
        assert_eq!(order, epoch_order(10, 1, 0));
    }

    #[test]
    fn the_scored_subset_is_fixed_by_the_data_size_and_sorted() {
        let s = eval_train_subset(1000, 10);
        assert_eq!(s.len(), 10);
        assert!(
            s.windows(2).all(|w| w[0] < w[1]),
            "ascending, distinct: {s:?}"
        );
        assert!(s.iter().all(|&i| i < 1000));
        assert_eq!(s, eval_train_subset(1000, 10));
        assert_ne!(
            s,
            (0..10).collect::<Vec<_>>(),
            "a draw, not the first examples"
        );
        let larger = eval_train_subset(1000, 20);
        assert!(
            s.iter().all(|i| larger.contains(i)),
            "a larger subset contains a smaller one"
        );
        assert_eq!(eval_train_subset(5, 10), vec![0, 1, 2, 3, 4], "capped at n");
    }
}
