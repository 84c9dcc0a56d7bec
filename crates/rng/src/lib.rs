//! Independent, reproducible random streams for the tools that draw (`corrupt`, `subset`): one
//! ChaCha8 key per (seed, round, purpose) and one ChaCha stream per image, so a result depends only on the seed, never on the thread count, and
//! adding a mode to a call never changes what the other modes draw.
//!
//! The 32-byte ChaCha8 key is `seed` (u64 LE) ‖ `round` (u32 LE) ‖ `purpose` (ASCII, zero-padded
//! to 20 bytes); the 64-bit ChaCha stream number is the image index (0 for whole-split draws).
//! Bounded integers and uniform floats are derived here from raw ChaCha words (not through
//! `rand`'s samplers) so the draws are pinned down by this file and the ChaCha specification.

#![warn(missing_docs)]

pub mod training;

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The generator for `purpose` in `round` (the how-many-th `corrupt` call on the file), stream
/// `index`.
pub fn stream(seed: u64, round: u32, purpose: &str, index: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..12].copy_from_slice(&round.to_le_bytes());
    assert!(purpose.len() <= 20, "purpose tag too long: {purpose}");
    key[12..12 + purpose.len()].copy_from_slice(purpose.as_bytes());
    let mut rng = ChaCha8Rng::from_seed(key);
    rng.set_stream(index);
    rng
}

/// A uniform integer in `0..n` (Lemire's multiply-and-reject: exact, one word almost always).
pub fn below(rng: &mut impl RngCore, n: u32) -> u32 {
    assert!(n > 0, "empty range");
    let mut m = u64::from(rng.next_u32()) * u64::from(n);
    if (m as u32) < n {
        let threshold = n.wrapping_neg() % n;
        while (m as u32) < threshold {
            m = u64::from(rng.next_u32()) * u64::from(n);
        }
    }
    (m >> 32) as u32
}

/// A uniform float in [0, 1) with 53 random bits.
pub fn unit(rng: &mut impl RngCore) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniformly random permutation of `0..n` (Fisher–Yates).
pub fn permutation(rng: &mut impl RngCore, n: usize) -> Vec<u32> {
    let mut p = Vec::new();
    permutation_into(rng, n, &mut p);
    p
}

/// [`permutation`] into a reused vector.
pub fn permutation_into<R: RngCore>(rng: &mut R, n: usize, perm: &mut Vec<u32>) {
    perm.clear();
    perm.extend(0..n as u32);
    shuffle(rng, perm);
}

/// Fisher–Yates on `items`: for i = len−1 down to 1, swap i with [`below`]`(i + 1)`. Applied to
/// `0..n` it gives [`permutation`]; applied to anything else, the same reordering (item k ends up
/// where `permutation` puts k).
///
/// The words are fetched up to 1,024 at a time, as many as the remaining draws need, and the
/// draws made from them (the same words in the same order as `below` takes them one by one):
/// per-word calls into the generator cost more than the shuffle itself, and 60,000 shuffles of
/// 1,024 pixels are the largest part of `corrupt --random-pixels`.
pub fn shuffle<R: RngCore, T>(rng: &mut R, items: &mut [T]) {
    const BLOCK: usize = 1024;
    let mut words = [0u32; BLOCK];
    // Positions i down to 1 are still to be drawn for.
    let mut i = items.len().saturating_sub(1);
    while i > 0 {
        // The words the next draws take when none is rejected: the generator's bytes, read as
        // little-endian words (a no-op on little-endian machines).
        let block = &mut words[..i.min(BLOCK)];
        rng.fill_bytes(bytemuck::cast_slice_mut(block));
        block.iter_mut().for_each(|w| *w = u32::from_le(*w));
        let mut block = block.iter();
        while let Some(&word) = block.next() {
            let bound = i as u32 + 1;
            let mut m = u64::from(word) * u64::from(bound);
            if (m as u32) < bound {
                // `below`'s rejection step, on the words that follow.
                let threshold = bound.wrapping_neg() % bound;
                while (m as u32) < threshold {
                    let word = block.next().copied().unwrap_or_else(|| rng.next_u32());
                    m = u64::from(word) * u64::from(bound);
                }
            }
            items.swap(i, (m >> 32) as usize);
            i -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_is_in_range_and_hits_every_value() {
        let mut rng = stream(1, 0, "test", 0);
        let mut seen = [0u32; 7];
        for _ in 0..7000 {
            seen[below(&mut rng, 7) as usize] += 1;
        }
        assert!(seen.iter().all(|&c| (800..1200).contains(&c)), "{seen:?}");
    }

    #[test]
    fn streams_differ_by_seed_round_purpose_and_index() {
        let first = |s: u64, r: u32, p: &str, i: u64| stream(s, r, p, i).next_u64();
        let base = first(1, 0, "labels", 0);
        assert_eq!(base, first(1, 0, "labels", 0));
        for other in [
            first(2, 0, "labels", 0),
            first(1, 1, "labels", 0),
            first(1, 0, "shuffle", 0),
            first(1, 0, "labels", 1),
        ] {
            assert_ne!(base, other);
        }
    }

    /// The plain Fisher–Yates loop on `below`, which fixes what a seed gives.
    fn reference(rng: &mut impl RngCore, n: usize) -> Vec<u32> {
        let mut p: Vec<u32> = (0..n as u32).collect();
        for i in (1..n).rev() {
            p.swap(i, below(rng, i as u32 + 1) as usize);
        }
        p
    }

    #[test]
    fn permutation_draws_as_below_does() {
        for (index, n) in [
            (0, 0),
            (1, 1),
            (2, 2),
            (3, 65),
            (4, 1024),
            (5, 1025),
            (6, 100_000),
        ] {
            let mut a = stream(9, 1, "test", index);
            let mut b = a.clone();
            assert_eq!(permutation(&mut a, n), reference(&mut b, n), "n = {n}");
            assert_eq!(a.next_u32(), b.next_u32(), "n = {n}: words consumed");
        }
    }

    /// Words from a counter hash, with a 0 every `period` words: 0 is rejected for every bound
    /// that is not a power of two, so rejections happen often, inside and at the end of blocks.
    struct Zeros {
        count: u32,
        period: u32,
    }
    impl RngCore for Zeros {
        fn next_u32(&mut self) -> u32 {
            self.count += 1;
            if self.count.is_multiple_of(self.period) {
                0
            } else {
                self.count.wrapping_mul(0x9e37_79b9).rotate_left(13) ^ 0x5bd1_e995
            }
        }
        fn next_u64(&mut self) -> u64 {
            u64::from(self.next_u32()) | (u64::from(self.next_u32()) << 32)
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for chunk in dest.chunks_mut(4) {
                let word = self.next_u32().to_le_bytes();
                chunk.copy_from_slice(&word[..chunk.len()]);
            }
        }
    }

    #[test]
    fn rejected_words_are_replaced_by_the_next_ones_as_below_does() {
        // Periods that put zeros mid-block, at a block's last word (1,024 words, then as many as
        // the draws left) and at the first word after one.
        for period in [3, 7, 1023, 1024, 1025, 2047] {
            for n in [5, 1000, 1025, 3000] {
                let mut a = Zeros { count: 0, period };
                let mut b = Zeros { count: 0, period };
                assert_eq!(
                    permutation(&mut a, n),
                    reference(&mut b, n),
                    "period {period}, n = {n}"
                );
                assert_eq!(a.count, b.count, "period {period}, n = {n}: words consumed");
            }
        }
    }

    #[test]
    fn permutation_is_a_permutation() {
        let mut rng = stream(3, 0, "test", 0);
        let mut p = permutation(&mut rng, 1000);
        assert_ne!(p, (0..1000).collect::<Vec<u32>>());
        p.sort();
        assert_eq!(p, (0..1000).collect::<Vec<u32>>());
    }
}
