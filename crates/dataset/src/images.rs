//! The pixel arrays of a dataset, held or deferred. Images are the one part of a dataset that is
//! large (a CIFAR-sized array is 184 MB), so how they are stored, made and copied lives here apart
//! from the reading and writing of the file.

use rayon::prelude::*;

use crate::bytes::{Buffer, Bytes};
use crate::npy::Dtype;

/// Pixel storage: bytes (usually a view into the input file) or floats (after `corrupt --gaussian`).
#[derive(Clone, Debug, PartialEq)]
pub enum Pixels {
    /// uint8 pixels, shared with the file they were read from when it is memory-mapped.
    U8(Bytes),
    /// float32 pixels (e.g. after `corrupt --gaussian`).
    F32(Vec<f32>),
}

/// A run of consecutive images' pixels, as [`Images::visit`] hands them out.
#[derive(Clone, Copy, Debug)]
pub enum PixelChunk<'a> {
    /// uint8 pixels.
    U8(&'a [u8]),
    /// float32 pixels.
    F32(&'a [f32]),
}

/// Writes the pixels of images `first..first + out.len() / image bytes` into `out`, as the
/// little-endian bytes of the images' dtype. Implemented by transforms whose output is cheaper to
/// compute again than to keep (`corrupt`'s pixel modes): see [`Images::deferred`].
pub trait Generate: Send + Sync {
    /// Writes images `first..` into `out`, whose length is a whole number of images.
    fn fill(&self, first: usize, out: &mut [u8]);
}

/// A stack of images, channels last: shape [N, H, W, C].
///
/// The pixels are either held (read from a file or computed) or *deferred*: produced by a
/// [`Generate`] on first access, or streamed straight into a seekable output by
/// [`write_file`](crate::write_file) without ever holding the whole array (a CIFAR-sized array is
/// 184 MB of fresh memory otherwise).
#[derive(Clone)]
pub struct Images {
    shape: [usize; 4],
    dtype: Dtype,
    pub(crate) pixels: std::sync::OnceLock<Pixels>,
    deferred: Option<std::sync::Arc<dyn Generate>>,
}

impl std::fmt::Debug for Images {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Images")
            .field("shape", &self.shape)
            .field("dtype", &self.dtype)
            .field("pixels", &self.pixels.get())
            .finish()
    }
}

impl PartialEq for Images {
    fn eq(&self, other: &Images) -> bool {
        self.shape == other.shape && self.dtype == other.dtype && self.pixels() == other.pixels()
    }
}

/// Images per parallel task when deferred pixels are made.
const IMAGES_PER_TASK: usize = 64;

/// Fills `out` with images `first..` of `image_bytes` each from `generate`, in parallel tasks of
/// [`IMAGES_PER_TASK`] images.
pub(crate) fn fill_parallel(
    generate: &dyn Generate,
    first: usize,
    image_bytes: usize,
    out: &mut [u8],
) {
    if image_bytes > 0 {
        out.par_chunks_mut(image_bytes * IMAGES_PER_TASK)
            .enumerate()
            .for_each(|(task, out)| generate.fill(first + task * IMAGES_PER_TASK, out));
    }
}

impl Images {
    pub(crate) fn held(shape: [usize; 4], pixels: Pixels) -> Images {
        let dtype = match pixels {
            Pixels::U8(_) => Dtype::U8,
            Pixels::F32(_) => Dtype::F32,
        };
        Images {
            shape,
            dtype,
            pixels: std::sync::OnceLock::from(pixels),
            deferred: None,
        }
    }

    /// Panics if the pixel count does not match the shape.
    pub fn from_u8(shape: [usize; 4], pixels: impl Into<Bytes>) -> Images {
        let pixels = pixels.into();
        assert_eq!(
            pixels.len(),
            shape.iter().product::<usize>(),
            "pixel count vs shape {shape:?}"
        );
        Images::held(shape, Pixels::U8(pixels))
    }

    /// Panics if the pixel count does not match the shape.
    pub fn from_f32(shape: [usize; 4], pixels: Vec<f32>) -> Images {
        assert_eq!(
            pixels.len(),
            shape.iter().product::<usize>(),
            "pixel count vs shape {shape:?}"
        );
        Images::held(shape, Pixels::F32(pixels))
    }

    /// Images of `shape` and `dtype` (uint8 or float32) whose pixels `generate` writes when they
    /// are first needed. `generate` must give the same bytes for an image whatever range it is
    /// asked for.
    pub fn deferred(shape: [usize; 4], dtype: Dtype, generate: impl Generate + 'static) -> Images {
        assert!(
            matches!(dtype, Dtype::U8 | Dtype::F32),
            "images are uint8 or float32"
        );
        Images {
            shape,
            dtype,
            pixels: std::sync::OnceLock::new(),
            deferred: Some(std::sync::Arc::new(generate)),
        }
    }

    /// The generator of pixels not made yet (see [`Images::deferred`]).
    pub(crate) fn pending(&self) -> Option<&dyn Generate> {
        match self.pixels.get() {
            Some(_) => None,
            None => self.deferred.as_deref(),
        }
    }

    /// Makes deferred pixels, in parallel.
    fn generate(&self) -> Pixels {
        let generate = self.deferred.as_deref().expect("images without pixels");
        let n: usize = self.shape.iter().product();
        let image_bytes = self.image_len() * self.dtype.size();
        let fill = |out: &mut [u8]| fill_parallel(generate, 0, image_bytes, out);
        match self.dtype {
            Dtype::U8 => {
                let mut out = Buffer::zeroed(n);
                fill(&mut out);
                Pixels::U8(out.freeze())
            }
            _ => {
                let mut out = vec![0f32; n];
                fill(bytemuck::cast_slice_mut(&mut out));
                if cfg!(target_endian = "big") {
                    out.iter_mut()
                        .for_each(|x| *x = f32::from_bits(x.to_bits().swap_bytes()));
                }
                Pixels::F32(out)
            }
        }
    }

    /// The shape [N, H, W, C].
    pub fn shape(&self) -> [usize; 4] {
        self.shape
    }
    /// The number of images, N.
    pub fn len(&self) -> usize {
        self.shape[0]
    }
    /// True when there is no image.
    pub fn is_empty(&self) -> bool {
        self.shape[0] == 0
    }
    /// Image height in pixels, H.
    pub fn height(&self) -> usize {
        self.shape[1]
    }
    /// Image width in pixels, W.
    pub fn width(&self) -> usize {
        self.shape[2]
    }
    /// Channels per pixel, C (1 grayscale, 3 RGB).
    pub fn channels(&self) -> usize {
        self.shape[3]
    }
    /// Values per image, H·W·C.
    pub fn image_len(&self) -> usize {
        self.shape[1] * self.shape[2] * self.shape[3]
    }
    /// The element type of the pixels (uint8 or float32).
    pub fn dtype(&self) -> Dtype {
        self.dtype
    }
    /// The pixels (made now if they were deferred).
    pub fn pixels(&self) -> &Pixels {
        self.pixels.get_or_init(|| self.generate())
    }
    /// The pixels, owned (made now if they were deferred).
    pub fn into_pixels(mut self) -> Pixels {
        match self.pixels.take() {
            Some(p) => p,
            None => self.generate(),
        }
    }
    /// The uint8 pixels, or `None` when they are float32.
    pub fn as_u8(&self) -> Option<&[u8]> {
        match self.pixels() {
            Pixels::U8(b) => Some(b),
            Pixels::F32(_) => None,
        }
    }
    /// The float32 pixels, or `None` when they are uint8.
    pub fn as_f32(&self) -> Option<&[f32]> {
        match self.pixels() {
            Pixels::U8(_) => None,
            Pixels::F32(v) => Some(v),
        }
    }
    /// Pixel `i` as f32, whatever the storage.
    pub fn value(&self, i: usize) -> f32 {
        match self.pixels() {
            Pixels::U8(b) => b[i] as f32,
            Pixels::F32(v) => v[i],
        }
    }

    /// Visits the pixels in order, `images_per_chunk` images at a time (at least one), without
    /// making deferred pixels all at once: a deferred array (a shard set's images, `corrupt`'s
    /// output) is made one chunk at a time into a reused buffer. Held pixels are visited as one
    /// chunk. `f` gets the pixels as uint8 or float32 values.
    pub fn visit(&self, images_per_chunk: usize, mut f: impl FnMut(PixelChunk<'_>)) {
        let Some(generate) = self.pending() else {
            match self.pixels() {
                Pixels::U8(b) => f(PixelChunk::U8(b)),
                Pixels::F32(v) => f(PixelChunk::F32(v)),
            }
            return;
        };
        let image_bytes = self.image_len() * self.dtype.size();
        let per = images_per_chunk.max(1);
        let mut buffer = vec![0u8; per.min(self.len()) * image_bytes];
        let mut floats: Vec<f32> = Vec::new();
        let mut first = 0;
        while first < self.len() {
            let k = per.min(self.len() - first);
            let out = &mut buffer[..k * image_bytes];
            fill_parallel(generate, first, image_bytes, out);
            match self.dtype {
                Dtype::U8 => f(PixelChunk::U8(out)),
                _ => {
                    floats.clear();
                    floats.extend(
                        out.chunks_exact(4)
                            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                    );
                    f(PixelChunk::F32(&floats));
                }
            }
            first += k;
        }
    }

    /// The images at `indices`, in that order. Deferred pixels are made for those images only.
    pub fn select(&self, indices: &[usize]) -> Images {
        let d = self.image_len();
        let shape = [indices.len(), self.shape[1], self.shape[2], self.shape[3]];
        if let Some(generate) = self.pending() {
            let image_bytes = d * self.dtype.size();
            let mut out = Buffer::zeroed(indices.len() * image_bytes);
            if image_bytes > 0 {
                out.par_chunks_mut(image_bytes)
                    .zip(indices)
                    .for_each(|(o, &i)| generate.fill(i, o));
            }
            return match self.dtype {
                Dtype::U8 => Images::from_u8(shape, out.freeze()),
                _ => Images::from_f32(
                    shape,
                    out.chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .collect(),
                ),
            };
        }
        match self.pixels() {
            Pixels::U8(b) => {
                let mut out = Buffer::zeroed(indices.len() * d);
                if d > 0 {
                    for (o, &i) in out.chunks_exact_mut(d).zip(indices) {
                        o.copy_from_slice(&b[i * d..(i + 1) * d]);
                    }
                }
                Images::from_u8(shape, out)
            }
            Pixels::F32(v) => {
                let mut out = Vec::with_capacity(indices.len() * d);
                for &i in indices {
                    out.extend_from_slice(&v[i * d..(i + 1) * d]);
                }
                Images::from_f32(shape, out)
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Image i, value k: a byte that depends on both.
    pub(crate) struct Pattern;
    impl Generate for Pattern {
        fn fill(&self, first: usize, out: &mut [u8]) {
            for (k, o) in out.chunks_exact_mut(30).enumerate() {
                for (j, v) in o.iter_mut().enumerate() {
                    *v = ((first + k) * 31 + j * 7) as u8;
                }
            }
        }
    }

    #[test]
    fn deferred_images_are_made_once_on_first_access() {
        let images = Images::deferred([100, 5, 3, 2], Dtype::U8, Pattern);
        assert!(images.pending().is_some());
        let copy = images.clone();
        let mut expected = vec![0; 3000];
        Pattern.fill(0, &mut expected);
        assert_eq!(images.as_u8().unwrap(), &expected[..]);
        assert!(images.pending().is_none(), "made now");
        assert!(
            copy.pending().is_some(),
            "a clone made before is still deferred"
        );
        assert_eq!(copy, images);
        assert_eq!(copy.into_pixels(), Pixels::U8(Bytes::new(expected)));
    }
}
