//! Writing a dataset file in the canonical layout (entries in [`ENTRIES`](crate::ENTRIES) order,
//! stored, aligned), from memory or, for a seekable output, streaming deferred images chunk by
//! chunk so they are never held whole.

use std::borrow::Cow;
use std::io::{self, Seek, Write};

use crate::dataset::{Dataset, Split};
use crate::images::{Generate, Images, Pixels, fill_parallel};
use crate::npy::{self, Dtype};
use crate::zipfile;
use crate::{Error, Result};

/// Writes `dataset` in the canonical layout. Validates first, so an invalid dataset writes nothing.
/// Deferred images ([`Images::deferred`]) are made in memory first; [`write_file`] streams them.
pub fn write_to(dataset: &Dataset, out: impl Write, file: &str) -> Result<()> {
    write_entries(dataset, zipfile::ZipWriter::new(out), file, |_, _, _, _| {
        Ok(false)
    })
}

/// [`write_to`] for a seekable output (a file): the pixels of deferred images are generated in
/// chunks and written as they come, never held whole, with the next chunk made while the last
/// one is written. The bytes are the same as [`write_to`]'s.
pub fn write_file(dataset: &Dataset, out: impl Write + Seek + Send, file: &str) -> Result<()> {
    write_entries(
        dataset,
        zipfile::ZipWriter::new(out),
        file,
        |zip, name, header, images| {
            let Some(generate) = images.pending() else {
                return Ok(false);
            };
            let image_bytes = images.image_len() * images.dtype().size();
            let len = (images.len() * image_bytes) as u64;
            zip.add_streamed(name, header, len, |out| {
                stream_images(generate, images.len(), image_bytes, STREAM_CHUNK, out)
            })?;
            Ok(true)
        },
    )
}

/// Bytes of deferred pixels made per streamed chunk: a few MB stay in the last-level cache
/// between being made and being written.
const STREAM_CHUNK: usize = 4 << 20;

/// Writes the pixels of `n` images of `image_bytes` from `generate` to `out`, chunk by chunk
/// (about `chunk` bytes each, whole images), making chunk k + 1 in parallel while chunk k is
/// written; returns the CRC-32 of what was written.
fn stream_images(
    generate: &dyn Generate,
    n: usize,
    image_bytes: usize,
    chunk: usize,
    out: &mut (impl Write + Send),
) -> io::Result<u32> {
    let mut hasher = crc32fast::Hasher::new();
    if image_bytes == 0 || n == 0 {
        return Ok(hasher.finalize());
    }
    let per_chunk = (chunk / image_bytes).clamp(1, n);
    let make = |first: usize, buf: &mut Vec<u8>| {
        let count = per_chunk.min(n - first);
        buf.resize(count * image_bytes, 0);
        fill_parallel(generate, first, image_bytes, buf);
    };
    let (mut ready, mut next) = (Vec::new(), Vec::new());
    make(0, &mut ready);
    let mut first = 0;
    while first < n {
        let after = first + ready.len() / image_bytes;
        let (_, written) = rayon::join(
            || {
                if after < n {
                    make(after, &mut next)
                }
            },
            || {
                hasher.update(&ready);
                out.write_all(&ready)
            },
        );
        written?;
        std::mem::swap(&mut ready, &mut next);
        first = after;
    }
    Ok(hasher.finalize())
}

/// Writes the entries in order; `stream(zip, name, npy header, images)` may write an images entry
/// itself (returning true) instead of it being written from the pixels in memory.
fn write_entries<W: Write>(
    dataset: &Dataset,
    mut zip: zipfile::ZipWriter<W>,
    file: &str,
    mut stream: impl FnMut(&mut zipfile::ZipWriter<W>, &str, &[u8], &Images) -> io::Result<bool>,
) -> Result<()> {
    dataset.validate(file)?;
    let io_err = |e: io::Error| Error::new(file, format!("cannot write: {e}"));
    let meta = serde_json::to_vec(&dataset.meta).expect("meta serializes");
    let label_dtype = if dataset.num_classes() <= 256 {
        Dtype::U8
    } else {
        Dtype::U16
    };
    let add = |zip: &mut zipfile::ZipWriter<W>,
               name: &str,
               dtype: Dtype,
               shape: &[usize],
               data: &[u8],
               crc: Option<u32>| {
        let header = npy::header(dtype, shape);
        zip.add(&format!("{name}.npy"), &[(&header, None), (data, crc)])
            .map_err(io_err)
    };
    add(&mut zip, "meta", Dtype::U8, &[meta.len()], &meta, None)?;
    let labels = |l: &[u16]| -> Vec<u8> {
        match label_dtype {
            Dtype::U8 => l.iter().map(|&x| x as u8).collect(),
            _ => l.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    };
    let mut add_split =
        |zip: &mut zipfile::ZipWriter<W>, prefix: &str, split: &Split, extra: bool| -> Result<()> {
            let images = &split.images;
            let name = format!("{prefix}_images");
            let header = npy::header(images.dtype(), &images.shape());
            if !stream(zip, &format!("{name}.npy"), &header, images).map_err(io_err)? {
                let (data, crc): (Cow<[u8]>, Option<u32>) = match images.pixels() {
                    Pixels::U8(b) => (Cow::Borrowed(b), Some(b.crc32())),
                    // .npy float32 is little-endian: on such a machine the floats are the bytes.
                    Pixels::F32(v) if cfg!(target_endian = "little") => {
                        (Cow::Borrowed(bytemuck::cast_slice(v)), None)
                    }
                    Pixels::F32(v) => (v.iter().flat_map(|x| x.to_le_bytes()).collect(), None),
                };
                add(zip, &name, images.dtype(), &images.shape(), &data, crc)?;
            }
            add(
                zip,
                &format!("{prefix}_labels"),
                label_dtype,
                &[split.len()],
                &labels(&split.labels),
                None,
            )?;
            if extra {
                if let Some(clean) = &dataset.train_clean_labels {
                    add(
                        zip,
                        "train_clean_labels",
                        label_dtype,
                        &[clean.len()],
                        &labels(clean),
                        None,
                    )?;
                }
                if let Some(mask) = &dataset.train_corrupted {
                    add(zip, "train_corrupted", Dtype::U8, &[mask.len()], mask, None)?;
                }
            }
            Ok(())
        };
    if let Some(train) = &dataset.train {
        add_split(&mut zip, "train", train, true)?;
    }
    if let Some(test) = &dataset.test {
        add_split(&mut zip, "test", test, false)?;
    }
    zip.finish().map_err(io_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::tests::Pattern;

    #[test]
    fn streamed_chunks_are_the_images_in_order_with_their_crc() {
        let n = 1000;
        let whole: Vec<u8> = {
            let mut v = vec![0; n * 30];
            Pattern.fill(0, &mut v);
            v
        };
        // One image per chunk, uneven chunks, a chunk larger than everything.
        for chunk in [1, 30, 31, 70, 64 * 30 + 1, 1 << 20] {
            let mut out = Vec::new();
            let crc = stream_images(&Pattern, n, 30, chunk, &mut out).unwrap();
            assert!(out == whole, "chunk {chunk}: bytes differ");
            assert_eq!(crc, crc32fast::hash(&whole), "chunk {chunk}");
        }
        let mut out = Vec::new();
        assert_eq!(stream_images(&Pattern, 0, 30, 64, &mut out).unwrap(), 0);
        assert!(out.is_empty());
    }
}
