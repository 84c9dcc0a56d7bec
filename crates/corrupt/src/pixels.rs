//! The paper's pixel randomizations: shuffled pixels (one permutation of the H×W positions for
//! every image), random pixels (a permutation per image) and Gaussian images (i.i.d. noise with the
//! per-channel mean and variance of the training images).
//!
//! A pixel keeps its C channels together. Work is split over images with rayon; every image draws
//! from its own ChaCha stream (numbered by its index), so the output does not depend on how many
//! threads there are.

use std::borrow::Cow;

use rand::Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;
use rethink_dataset::{Buffer, Images, Pixels};

use crate::streams;

/// Images per rayon task: large enough to amortise scheduling, small enough to balance 2–64 cores.
const IMAGES_PER_TASK: usize = 64;

/// The images with output pixel `j` taken from input pixel `perm[j]`, in every image.
pub fn shuffle(images: &Images, perm: &[u32]) -> Images {
    assert_eq!(perm.len(), images.height() * images.width());
    permute_images(images, |_| Cow::Borrowed(perm))
}

/// The images, each with its own uniformly random permutation of pixel positions, drawn from
/// stream `index` of the key for `purpose` (e.g. "random/train").
pub fn randomize(images: &Images, seed: u64, round: u32, purpose: &str) -> Images {
    let positions = images.height() * images.width();
    permute_images(images, |i| {
        let mut rng = streams::stream(seed, round, purpose, i as u64);
        Cow::Owned(streams::permutation(&mut rng, positions))
    })
}

/// Permutes the pixels of image i by `perm_of(i)`, in parallel, keeping the element type.
fn permute_images<'a>(images: &Images, perm_of: impl Fn(usize) -> Cow<'a, [u32]> + Sync) -> Images {
    let d = images.image_len();
    let c = images.channels();
    let shape = images.shape();
    match images.pixels() {
        Pixels::U8(src) => {
            let mut out = Buffer::zeroed(src.len());
            par_images(src, &mut out, d, |i, s, o| gather(s, o, &perm_of(i), c));
            Images::from_u8(shape, out)
        }
        Pixels::F32(src) => {
            let mut out = vec![0f32; src.len()];
            par_images(src, &mut out, d, |i, s, o| gather(s, o, &perm_of(i), c));
            Images::from_f32(shape, out)
        }
    }
}

/// Runs `f(index, src_image, dst_image)` for every image, in tasks of [`IMAGES_PER_TASK`].
fn par_images<T: Copy + Send + Sync>(
    src: &[T],
    out: &mut [T],
    d: usize,
    f: impl Fn(usize, &[T], &mut [T]) + Sync,
) {
    if d == 0 {
        return;
    }
    out.par_chunks_mut(d * IMAGES_PER_TASK)
        .zip(src.par_chunks(d * IMAGES_PER_TASK))
        .enumerate()
        .for_each(|(task, (out, src))| {
            for (k, (o, s)) in out.chunks_mut(d).zip(src.chunks(d)).enumerate() {
                f(task * IMAGES_PER_TASK + k, s, o);
            }
        });
}

/// `dst` pixel j = `src` pixel `perm[j]`, pixels of `c` values; 1 and 3 channels get
/// fixed-size copies.
fn gather<T: Copy>(src: &[T], dst: &mut [T], perm: &[u32], c: usize) {
    match c {
        1 => {
            for (d, &p) in dst.iter_mut().zip(perm) {
                *d = src[p as usize];
            }
        }
        3 => gather_fixed::<T, 3>(src, dst, perm),
        4 => gather_fixed::<T, 4>(src, dst, perm),
        _ => {
            for (d, &p) in dst.chunks_exact_mut(c).zip(perm) {
                let p = p as usize * c;
                d.copy_from_slice(&src[p..p + c]);
            }
        }
    }
}

fn gather_fixed<T: Copy, const C: usize>(src: &[T], dst: &mut [T], perm: &[u32]) {
    let (src, _) = src.as_chunks::<C>();
    let (dst, _) = dst.as_chunks_mut::<C>();
    for (d, &p) in dst.iter_mut().zip(perm) {
        *d = src[p as usize];
    }
}

/// Per-channel mean and standard deviation (population, over every pixel of every image).
#[derive(Clone, Debug, PartialEq)]
pub struct Moments {
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
}

/// The per-channel moments of `images`: exact for uint8 (channel histograms); for float32,
/// f64 sums over fixed blocks of images added in order, so the result is the same for any
/// number of threads.
pub fn moments(images: &Images) -> Moments {
    let c = images.channels();
    let d = images.image_len();
    let block = d * IMAGES_PER_TASK;
    match images.pixels() {
        Pixels::U8(px) => {
            let hist = px
                .par_chunks(block.max(1))
                .map(|chunk| {
                    let mut h = vec![0u64; 256 * c];
                    for pixel in chunk.chunks_exact(c) {
                        for (k, &v) in pixel.iter().enumerate() {
                            h[k * 256 + v as usize] += 1;
                        }
                    }
                    h
                })
                .reduce(
                    || vec![0u64; 256 * c],
                    |mut a, b| {
                        a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                        a
                    },
                );
            let mut mean = vec![0.0; c];
            let mut std = vec![0.0; c];
            for k in 0..c {
                let h = &hist[k * 256..(k + 1) * 256];
                let n: u64 = h.iter().sum();
                let m = h
                    .iter()
                    .enumerate()
                    .map(|(v, &n)| v as f64 * n as f64)
                    .sum::<f64>()
                    / n as f64;
                let var = h
                    .iter()
                    .enumerate()
                    .map(|(v, &n)| (v as f64 - m).powi(2) * n as f64)
                    .sum::<f64>()
                    / n as f64;
                mean[k] = m;
                std[k] = var.sqrt();
            }
            Moments { mean, std }
        }
        Pixels::F32(px) => {
            let sums = |f: &(dyn Fn(usize, f32) -> f64 + Sync)| -> Vec<f64> {
                let blocks: Vec<Vec<f64>> = px
                    .par_chunks(block.max(1))
                    .map(|chunk| {
                        let mut s = vec![0.0f64; c];
                        for pixel in chunk.chunks_exact(c) {
                            for (k, &v) in pixel.iter().enumerate() {
                                s[k] += f(k, v);
                            }
                        }
                        s
                    })
                    .collect();
                let mut total = vec![0.0f64; c];
                for b in blocks {
                    total.iter_mut().zip(&b).for_each(|(t, x)| *t += x);
                }
                total
            };
            let n = (px.len() / c) as f64;
            let mean: Vec<f64> = sums(&|_, v| v as f64).iter().map(|s| s / n).collect();
            let std = sums(&|k, v| (v as f64 - mean[k]).powi(2))
                .iter()
                .map(|s| (s / n).sqrt())
                .collect();
            Moments { mean, std }
        }
    }
}

/// Images of `shape` filled with i.i.d. Gaussian pixels, channel k ~ N(mean[k], std[k]²); image
/// i draws from stream i of the key for `purpose` (e.g. "gaussian/train"). With `quantize`, values
/// are rounded to the nearest integer and clamped to 0..=255 (uint8 output), else float32.
pub fn gaussian(
    shape: [usize; 4],
    moments: &Moments,
    seed: u64,
    round: u32,
    purpose: &str,
    quantize: bool,
) -> Images {
    let c = shape[3];
    let d = shape[1] * shape[2] * c;
    let n = shape[0] * d;
    if quantize {
        let mut out = Buffer::zeroed(n);
        fill_gaussian(&mut out, d, c, moments, seed, round, purpose, |v| {
            // Clamped first, so adding ½ and truncating rounds half away from zero like
            // f64::round (which is a libm call on baseline x86-64, and the hot spot here).
            (v.clamp(0.0, 255.0) + 0.5) as u8
        });
        Images::from_u8(shape, out)
    } else {
        let mut out = vec![0f32; n];
        fill_gaussian(&mut out, d, c, moments, seed, round, purpose, |v| v as f32);
        Images::from_f32(shape, out)
    }
}

/// Fills images of `d` values (`c` channels) with `convert(mean[k] + std[k]·z)`, z ~ N(0, 1) drawn
/// from the image's own stream.
#[allow(clippy::too_many_arguments)]
fn fill_gaussian<T: Send>(
    out: &mut [T],
    d: usize,
    c: usize,
    moments: &Moments,
    seed: u64,
    round: u32,
    purpose: &str,
    convert: impl Fn(f64) -> T + Sync,
) {
    if d == 0 {
        return;
    }
    out.par_chunks_mut(d)
        .enumerate()
        .with_min_len(IMAGES_PER_TASK)
        .for_each(|(i, image)| {
            let mut rng = streams::stream(seed, round, purpose, i as u64);
            for pixel in image.chunks_exact_mut(c) {
                for ((v, &mean), &std) in pixel.iter_mut().zip(&moments.mean).zip(&moments.std) {
                    let z: f64 = rng.sample(StandardNormal);
                    *v = convert(mean + std * z);
                }
            }
        });
}
