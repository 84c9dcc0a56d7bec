//! Independent, reproducible random streams for the tools that draw (`corrupt`, `subset`): one
//! ChaCha8 key per (seed, round, purpose) and one ChaCha stream per image, so a result depends only on the seed, never on the thread count, and
//! adding a mode to a call never changes what the other modes draw.
//!
//! The 32-byte ChaCha8 key is `seed` (u64 LE) ‖ `round` (u32 LE) ‖ `purpose` (ASCII, zero-padded
//! to 20 bytes); the 64-bit ChaCha stream number is the image index (0 for whole-split draws).
//! Bounded integers and uniform floats are derived here from raw ChaCha words (not through
//! `rand`'s samplers) so the draws are pinned down by this file and the ChaCha specification.

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
    below_from(|| rng.next_u32(), n)
}

/// [`below`] on words from `next`.
#[inline]
fn below_from(mut next: impl FnMut() -> u32, n: u32) -> u32 {
    assert!(n > 0, "empty range");
    let mut m = u64::from(next()) * u64::from(n);
    if (m as u32) < n {
        let threshold = n.wrapping_neg() % n;
        while (m as u32) < threshold {
            m = u64::from(next()) * u64::from(n);
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
/// The words are fetched up to 1,024 at a time into a local array and the draws made from it
/// (the same words in the same order as `below` takes them one by one): per-word calls into the
/// generator cost more than the shuffle itself, and 60,000 shuffles of 1,024 pixels are the
/// largest part of `corrupt --random-pixels`.
pub fn shuffle<R: RngCore, T>(rng: &mut R, items: &mut [T]) {
    const BLOCK: usize = 1024;
    let mut words = [0u32; BLOCK];
    let (mut at, mut len) = (0, 0);
    // Fetches the words the remaining `want` draws need when none is rejected (at most BLOCK):
    // the generator's bytes, read as little-endian words (a no-op on little-endian machines).
    let refill = |rng: &mut R, words: &mut [u32; BLOCK], want: usize| -> usize {
        let len = want.clamp(1, BLOCK);
        rng.fill_bytes(bytemuck::cast_slice_mut(&mut words[..len]));
        for w in &mut words[..len] {
            *w = u32::from_le(*w);
        }
        len
    };
    for i in (1..items.len()).rev() {
        if at == len {
            len = refill(rng, &mut words, i);
            at = 0;
        }
        let bound = i as u32 + 1;
        let mut m = u64::from(words[at]) * u64::from(bound);
        at += 1;
        if (m as u32) < bound {
            // `below`'s rejection step, on the words that follow.
            let threshold = bound.wrapping_neg() % bound;
            while (m as u32) < threshold {
                if at == len {
                    len = refill(rng, &mut words, i);
                    at = 0;
                }
                m = u64::from(words[at]) * u64::from(bound);
                at += 1;
            }
        }
        items.swap(i, (m >> 32) as usize);
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

    #[test]
    fn permutation_draws_as_below_does() {
        // The plain Fisher–Yates loop on `below`, which fixes what a seed gives.
        let reference = |rng: &mut ChaCha8Rng, n: usize| {
            let mut p: Vec<u32> = (0..n as u32).collect();
            for i in (1..n).rev() {
                p.swap(i, below(rng, i as u32 + 1) as usize);
            }
            p
        };
        for (index, n) in [(0, 0), (1, 1), (2, 2), (3, 65), (4, 1024), (5, 100_000)] {
            let mut a = stream(9, 1, "test", index);
            let mut b = a.clone();
            assert_eq!(permutation(&mut a, n), reference(&mut b, n), "n = {n}");
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
