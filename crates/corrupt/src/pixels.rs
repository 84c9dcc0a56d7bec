//! The paper's pixel randomizations: shuffled pixels (one permutation of the H×W positions for
//! every image), random pixels (a permutation per image) and Gaussian images (i.i.d. noise with the
//! per-channel mean and variance of the training images).
//!
//! A pixel keeps its C channels together. Every image draws from its own ChaCha stream (numbered
//! by its index in the whole split, also when the split is cut into shards: `first` is the index
//! of a shard's first image), so the output does not depend on how many threads there are, in
//! which order the images are made, or how the split is sharded. The results are deferred images ([`Images::deferred`]): written to a
//! file, they are generated chunk by chunk as they are written, never held whole.

use std::sync::Arc;

use rand::Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;
use rethink_dataset::{Dtype, Generate, Images, PixelChunk, Pixels};

use crate::streams;

/// Images per rayon task: large enough to amortise scheduling, small enough to balance 2–64 cores.
const IMAGES_PER_TASK: usize = 64;

/// The images with output pixel `j` taken from input pixel `perm[j]`, in every image.
pub fn shuffle(images: Images, perm: &[u32]) -> Images {
    assert_eq!(perm.len(), images.height() * images.width());
    permuted(images, Order::Fixed(perm.into()))
}

/// The images, each with its own uniformly random permutation of pixel positions: image i draws
/// from stream `first + i` of the key for `purpose` (e.g. "random/train").
pub fn randomize(images: Images, seed: u64, round: u32, purpose: &str, first: u64) -> Images {
    permuted(
        images,
        Order::PerImage {
            seed,
            round,
            purpose: purpose.to_string(),
            first,
        },
    )
}

fn permuted(source: Images, order: Order) -> Images {
    Images::deferred(source.shape(), source.dtype(), Permuted { source, order })
}

/// Which permutation each image gets.
enum Order {
    /// The same for every image.
    Fixed(Arc<[u32]>),
    /// Image i: the Fisher–Yates permutation drawn from stream first + i of (seed, round,
    /// purpose).
    PerImage {
        seed: u64,
        round: u32,
        purpose: String,
        first: u64,
    },
}

/// The pixels of `source`, permuted by `order`.
struct Permuted {
    source: Images,
    order: Order,
}

impl Generate for Permuted {
    fn fill(&self, first: usize, out: &mut [u8]) {
        // A pixel is C values; permuting pixels moves groups of C × (bytes per value) bytes, so
        // uint8 and float32 images are handled alike, as bytes.
        let (src, value_bytes): (&[u8], usize) = match self.source.pixels() {
            Pixels::U8(b) => (b, 1),
            Pixels::F32(v) => (bytemuck::cast_slice(v), 4),
        };
        let pixel = self.source.channels() * value_bytes;
        let d = self.source.image_len() * value_bytes;
        let mut perm = Vec::new();
        for (k, o) in out.chunks_exact_mut(d).enumerate() {
            let i = first + k;
            let s = &src[i * d..(i + 1) * d];
            match &self.order {
                Order::Fixed(perm) => gather(s, o, perm, pixel),
                Order::PerImage {
                    seed,
                    round,
                    purpose,
                    first,
                } => {
                    let mut rng = streams::stream(*seed, *round, purpose, first + i as u64);
                    streams::permutation_into(&mut rng, s.len() / pixel, &mut perm);
                    gather(s, o, &perm, pixel);
                }
            }
        }
        if value_bytes == 4 && cfg!(target_endian = "big") {
            for v in out.chunks_exact_mut(4) {
                v.reverse();
            }
        }
    }
}

/// `dst` pixel j = `src` pixel `perm[j]`, pixels of `pixel` bytes; common sizes get fixed-size
/// copies.
fn gather(src: &[u8], dst: &mut [u8], perm: &[u32], pixel: usize) {
    match pixel {
        1 => {
            for (d, &p) in dst.iter_mut().zip(perm) {
                *d = src[p as usize];
            }
        }
        3 => gather_fixed::<3>(src, dst, perm),
        4 => gather_fixed::<4>(src, dst, perm),
        12 => gather_fixed::<12>(src, dst, perm),
        _ => {
            for (d, &p) in dst.chunks_exact_mut(pixel).zip(perm) {
                let p = p as usize * pixel;
                d.copy_from_slice(&src[p..p + pixel]);
            }
        }
    }
}

fn gather_fixed<const P: usize>(src: &[u8], dst: &mut [u8], perm: &[u32]) {
    let (src, _) = src.as_chunks::<P>();
    let (dst, _) = dst.as_chunks_mut::<P>();
    for (d, &p) in dst.iter_mut().zip(perm) {
        *d = src[p as usize];
    }
}

/// Per-channel mean and standard deviation (population, over every pixel of every image).
#[derive(Clone, Debug, PartialEq)]
pub struct Moments {
    /// Mean of each channel.
    pub mean: Vec<f64>,
    /// Standard deviation of each channel.
    pub std: Vec<f64>,
}

/// The per-channel moments of `images`: exact for uint8 (channel histograms); for float32,
/// f64 sums over fixed blocks of images added in order, so the result is the same for any
/// number of threads. Deferred images (a shard set's) are visited a chunk of whole blocks at a
/// time, which gives the same blocks, so the same moments, as the whole array at once.
pub fn moments(images: &Images) -> Moments {
    let c = images.channels();
    let d = images.image_len();
    let block = d * IMAGES_PER_TASK;
    const CHUNK_IMAGES: usize = IMAGES_PER_TASK * 256;
    match images.dtype() {
        Dtype::U8 => {
            let mut hist = vec![0u64; 256 * c];
            images.visit(CHUNK_IMAGES, |chunk| {
                let PixelChunk::U8(px) = chunk else { return };
                let h = px
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
                hist.iter_mut().zip(&h).for_each(|(x, y)| *x += y);
            });
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
        _ => {
            // Per-block sums in block order; blocks never straddle chunks (CHUNK_IMAGES is a
            // whole number of blocks).
            let sums = |f: &(dyn Fn(usize, f32) -> f64 + Sync)| -> Vec<f64> {
                let mut blocks: Vec<Vec<f64>> = Vec::new();
                images.visit(CHUNK_IMAGES, |chunk| {
                    let PixelChunk::F32(px) = chunk else { return };
                    blocks.extend(
                        px.par_chunks(block.max(1))
                            .map(|chunk| {
                                let mut s = vec![0.0f64; c];
                                for pixel in chunk.chunks_exact(c) {
                                    for (k, &v) in pixel.iter().enumerate() {
                                        s[k] += f(k, v);
                                    }
                                }
                                s
                            })
                            .collect::<Vec<_>>(),
                    );
                });
                let mut total = vec![0.0f64; c];
                for b in blocks {
                    total.iter_mut().zip(&b).for_each(|(t, x)| *t += x);
                }
                total
            };
            let n = (images.len() * d / c.max(1)) as f64;
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
/// i draws from stream `first + i` of the key for `purpose` (e.g. "gaussian/train"). With `quantize`, values
/// are rounded to the nearest integer and clamped to 0..=255 (uint8 output), else float32.
pub fn gaussian(
    shape: [usize; 4],
    moments: &Moments,
    seed: u64,
    round: u32,
    purpose: &str,
    quantize: bool,
    first: u64,
) -> Images {
    let dtype = if quantize { Dtype::U8 } else { Dtype::F32 };
    Images::deferred(
        shape,
        dtype,
        Gaussian {
            channels: shape[3],
            image_len: shape[1] * shape[2] * shape[3],
            moments: moments.clone(),
            seed,
            round,
            purpose: purpose.to_string(),
            quantize,
            first,
        },
    )
}

/// Gaussian images: value = mean[k] + std[k]·z, z ~ N(0, 1) from the image's own stream.
struct Gaussian {
    channels: usize,
    image_len: usize,
    moments: Moments,
    seed: u64,
    round: u32,
    purpose: String,
    quantize: bool,
    /// Stream index of image 0.
    first: u64,
}

impl Gaussian {
    fn image(&self, i: usize, mut put: impl FnMut(usize, f64)) {
        let mut rng = streams::stream(self.seed, self.round, &self.purpose, self.first + i as u64);
        let m = &self.moments;
        for pixel in (0..self.image_len).step_by(self.channels) {
            for (k, (mean, std)) in m.mean.iter().zip(&m.std).enumerate() {
                let z: f64 = rng.sample(StandardNormal);
                put(pixel + k, mean + std * z);
            }
        }
    }
}

impl Generate for Gaussian {
    fn fill(&self, first: usize, out: &mut [u8]) {
        if self.quantize {
            for (k, o) in out.chunks_exact_mut(self.image_len).enumerate() {
                // Clamped first, so adding ½ and truncating rounds half away from zero like
                // f64::round (which is a libm call on baseline x86-64, and the hot spot here).
                self.image(first + k, |at, v| o[at] = (v.clamp(0.0, 255.0) + 0.5) as u8);
            }
        } else {
            for (k, o) in out.chunks_exact_mut(self.image_len * 4).enumerate() {
                self.image(first + k, |at, v| {
                    o[4 * at..4 * at + 4].copy_from_slice(&(v as f32).to_le_bytes())
                });
            }
        }
    }
}
