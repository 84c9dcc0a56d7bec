//! The dataset file shared by every rethink tool: an uncompressed `.npz` that `numpy.load` opens.
//!
//! | entry | dtype, shape |
//! |---|---|
//! | `meta` | uint8 [bytes]: UTF-8 JSON ([`Meta`]) |
//! | `train_images`, `test_images` | uint8 or float32 [N, H, W, C] |
//! | `train_labels`, `test_labels` | uint8 (≤ 256 classes) or uint16 [N] |
//! | `train_clean_labels` | like the labels, optional: the true labels of a corrupted file |
//! | `train_corrupted` | uint8 0/1 [N], optional: which training labels were redrawn |
//!
//! [`write_to`] emits the entries in that order, stored, with sizes in the local headers and array
//! data on 64-byte boundaries, so [`read_from`] can consume a pipe front to back and [`read_path`]
//! can use a memory map in place. Both also accept what `numpy.savez`/`savez_compressed` write.
//! Everything read is validated; errors name the file, the entry and the mismatch.

mod bytes;
mod limits;
mod meta;
pub mod npy;
mod zipfile;

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::path::Path;

use rayon::prelude::*;

pub use bytes::{Buffer, Bytes};
pub use limits::{
    DEFAULT_MAX_EXPAND, MAX_EXPAND_VAR, ReadLimits, escape_controls, parse_size, printable,
};
pub use meta::{Corruption, HistoryRecord, Meta};
pub use npy::Dtype;

/// The entry names, in the order they are written.
pub const ENTRIES: [&str; 7] = [
    "meta",
    "train_images",
    "train_labels",
    "train_clean_labels",
    "train_corrupted",
    "test_images",
    "test_labels",
];

/// An error that names the file it is about. It prints as one line: control characters in the
/// file name or the message (which may quote the file) are escaped.
#[derive(Debug, thiserror::Error)]
#[error("{}: {}", escape_controls(file), escape_controls(message))]
pub struct Error {
    pub file: String,
    pub message: String,
}

impl Error {
    pub fn new(file: impl Into<String>, message: impl Into<String>) -> Error {
        Error {
            file: file.into(),
            message: message.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Pixel storage: bytes (usually a view into the input file) or floats (after `corrupt --gaussian`).
#[derive(Clone, Debug, PartialEq)]
pub enum Pixels {
    U8(Bytes),
    F32(Vec<f32>),
}

/// Writes the pixels of images `first..first + out.len() / image bytes` into `out`, as the
/// little-endian bytes of the images' dtype. Implemented by transforms whose output is cheaper to
/// compute again than to keep (`corrupt`'s pixel modes): see [`Images::deferred`].
pub trait Generate: Send + Sync {
    fn fill(&self, first: usize, out: &mut [u8]);
}

/// A stack of images, channels last: shape [N, H, W, C].
///
/// The pixels are either held (read from a file or computed) or *deferred*: produced by a
/// [`Generate`] on first access, or streamed straight into a seekable output by [`write_file`]
/// without ever holding the whole array (a CIFAR-sized array is 184 MB of fresh memory
/// otherwise).
#[derive(Clone)]
pub struct Images {
    shape: [usize; 4],
    dtype: Dtype,
    pixels: std::sync::OnceLock<Pixels>,
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
fn fill_parallel(generate: &dyn Generate, first: usize, image_bytes: usize, out: &mut [u8]) {
    if image_bytes > 0 {
        out.par_chunks_mut(image_bytes * IMAGES_PER_TASK)
            .enumerate()
            .for_each(|(task, out)| generate.fill(first + task * IMAGES_PER_TASK, out));
    }
}

impl Images {
    fn held(shape: [usize; 4], pixels: Pixels) -> Images {
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
    fn pending(&self) -> Option<&dyn Generate> {
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

    pub fn shape(&self) -> [usize; 4] {
        self.shape
    }
    pub fn len(&self) -> usize {
        self.shape[0]
    }
    pub fn is_empty(&self) -> bool {
        self.shape[0] == 0
    }
    pub fn height(&self) -> usize {
        self.shape[1]
    }
    pub fn width(&self) -> usize {
        self.shape[2]
    }
    pub fn channels(&self) -> usize {
        self.shape[3]
    }
    /// Values per image, H·W·C.
    pub fn image_len(&self) -> usize {
        self.shape[1] * self.shape[2] * self.shape[3]
    }
    pub fn dtype(&self) -> Dtype {
        self.dtype
    }
    /// The pixels (made now if they were deferred).
    pub fn pixels(&self) -> &Pixels {
        self.pixels.get_or_init(|| self.generate())
    }
    pub fn into_pixels(mut self) -> Pixels {
        match self.pixels.take() {
            Some(p) => p,
            None => self.generate(),
        }
    }
    pub fn as_u8(&self) -> Option<&[u8]> {
        match self.pixels() {
            Pixels::U8(b) => Some(b),
            Pixels::F32(_) => None,
        }
    }
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

    /// The images at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Images {
        let d = self.image_len();
        let shape = [indices.len(), self.shape[1], self.shape[2], self.shape[3]];
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

/// Images with the labels a model is trained or scored on.
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    pub images: Images,
    pub labels: Vec<u16>,
}

impl Split {
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// A whole dataset file in memory.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub meta: Meta,
    pub train: Option<Split>,
    pub test: Option<Split>,
    /// True training labels, kept when the labels were corrupted.
    pub train_clean_labels: Option<Vec<u16>>,
    /// 1 for the training examples whose label was redrawn.
    pub train_corrupted: Option<Vec<u8>>,
    /// The bytes this dataset was read from (for its digest), when read from a buffer.
    source: Option<Bytes>,
    /// `blake3:<hex>` of the input: hashed while streaming, or lazily from `source`.
    digest: std::sync::OnceLock<String>,
    /// The entries as found in the file read (name, numpy type string, shape).
    file_entries: Vec<EntryInfo>,
}

/// An entry of a file as it was read: name, numpy type string, shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryInfo {
    pub name: String,
    pub descr: String,
    pub shape: Vec<usize>,
}

impl EntryInfo {
    /// The numpy dtype name ("uint8", "float32", ...) for the type string.
    pub fn dtype_name(&self) -> String {
        match self.descr.as_str() {
            "|u1" | "<u1" => "uint8".into(),
            "<u2" => "uint16".into(),
            "<f4" => "float32".into(),
            "|b1" => "bool".into(),
            other => other.into(),
        }
    }
}

impl PartialEq for Dataset {
    fn eq(&self, other: &Dataset) -> bool {
        self.meta == other.meta
            && self.train == other.train
            && self.test == other.test
            && self.train_clean_labels == other.train_clean_labels
            && self.train_corrupted == other.train_corrupted
    }
}

impl Dataset {
    pub fn new(meta: Meta, train: Option<Split>, test: Option<Split>) -> Dataset {
        Dataset {
            meta,
            train,
            test,
            train_clean_labels: None,
            train_corrupted: None,
            source: None,
            digest: std::sync::OnceLock::new(),
            file_entries: Vec::new(),
        }
    }

    /// The entries of the file this dataset was read from, in file order (empty if not read).
    pub fn file_entries(&self) -> &[EntryInfo] {
        &self.file_entries
    }

    pub fn num_classes(&self) -> usize {
        self.meta.num_classes()
    }

    /// `blake3:<hex>` of the file this dataset was read from, if it was read.
    pub fn digest(&self) -> Option<String> {
        if let Some(d) = self.digest.get() {
            return Some(d.clone());
        }
        let source = self.source.as_ref()?;
        Some(
            self.digest
                .get_or_init(|| {
                    format!(
                        "blake3:{}",
                        blake3::Hasher::new()
                            .update_rayon(source)
                            .finalize()
                            .to_hex()
                    )
                })
                .clone(),
        )
    }

    /// Checks every invariant of the format; `file` names the dataset in the error.
    pub fn validate(&self, file: &str) -> Result<()> {
        let err = |entry: &str, msg: String| Err(Error::new(file, format!("{entry}: {msg}")));
        let classes = self.num_classes();
        if classes == 0 {
            return err("meta", "no classes listed".into());
        }
        if classes > 65536 {
            return err(
                "meta",
                format!("{classes} classes, at most 65536 are supported"),
            );
        }
        if self.train.is_none() && self.test.is_none() {
            return Err(Error::new(
                file,
                "holds no split (needs train_images/train_labels or test_images/test_labels)",
            ));
        }
        let mut hwc: Option<(&str, [usize; 3])> = None;
        for (name, split) in [("train", &self.train), ("test", &self.test)] {
            let Some(split) = split else { continue };
            let images = format!("{name}_images");
            let labels = format!("{name}_labels");
            let [n, h, w, c] = split.images.shape();
            if split.labels.len() != n {
                return err(
                    &labels,
                    format!(
                        "expected {n} entries like {images}, got {}",
                        split.labels.len()
                    ),
                );
            }
            if h == 0 || w == 0 || c == 0 {
                return err(
                    &images,
                    format!("empty image shape {:?}", split.images.shape()),
                );
            }
            match hwc {
                Some((other, dims)) if dims != [h, w, c] => {
                    return err(
                        &images,
                        format!(
                            "image shape {h}x{w}x{c} differs from {other}'s {}x{}x{}",
                            dims[0], dims[1], dims[2]
                        ),
                    );
                }
                _ => {
                    hwc = Some((
                        if name == "train" {
                            "train_images"
                        } else {
                            "test_images"
                        },
                        [h, w, c],
                    ))
                }
            }
            check_labels(&labels, &split.labels, classes).or_else(|m| err(&labels, m))?;
            // Deferred pixels come from our own transforms, not from a file: not checked here.
            if let Some(Pixels::F32(v)) = split.images.pixels.get()
                && let Some(i) = v.iter().position(|x| !x.is_finite())
            {
                return err(&images, format!("pixel {i} is {} (not finite)", v[i]));
            }
        }
        let train_n = self.train.as_ref().map(|s| s.len());
        if let Some(clean) = &self.train_clean_labels {
            let Some(n) = train_n else {
                return err("train_clean_labels", "present without training data".into());
            };
            if clean.len() != n {
                return err(
                    "train_clean_labels",
                    format!(
                        "expected {n} entries like train_labels, got {}",
                        clean.len()
                    ),
                );
            }
            check_labels("train_clean_labels", clean, classes)
                .or_else(|m| err("train_clean_labels", m))?;
        }
        if let Some(mask) = &self.train_corrupted {
            let Some(n) = train_n else {
                return err("train_corrupted", "present without training data".into());
            };
            if mask.len() != n {
                return err(
                    "train_corrupted",
                    format!("expected {n} entries like train_labels, got {}", mask.len()),
                );
            }
            if let Some(i) = mask.iter().position(|&m| m > 1) {
                return err(
                    "train_corrupted",
                    format!("entry {i} is {}, expected 0 or 1", mask[i]),
                );
            }
        }
        Ok(())
    }
}

fn check_labels(_name: &str, labels: &[u16], classes: usize) -> Result<(), String> {
    match labels
        .iter()
        .enumerate()
        .find(|&(_, &l)| l as usize >= classes)
    {
        Some((i, &l)) => Err(format!(
            "label {l} at index {i} is out of range: the dataset has {classes} classes"
        )),
        None => Ok(()),
    }
}

/// Reads a dataset from a path, memory-mapping it (or reading it, for pipes and devices).
pub fn read_path(path: impl AsRef<Path>) -> Result<Dataset> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let file = File::open(path).map_err(|e| Error::new(&name, format!("cannot read: {e}")))?;
    read_file(file, &name)
}

/// The limits the environment sets ([`MAX_EXPAND_VAR`]); a malformed value is an error about
/// the file being read, so every tool reports it the same way.
fn env_limits(name: &str) -> Result<ReadLimits> {
    ReadLimits::from_env().map_err(|m| Error::new(name, m))
}

/// Reads a dataset from an open file: memory-mapped when it is a regular file (also when it is
/// stdin redirected from a file), streamed otherwise.
pub fn read_file(file: File, name: &str) -> Result<Dataset> {
    let limits = env_limits(name)?;
    let io_err = |e: io::Error| Error::new(name, format!("cannot read: {e}"));
    let meta = file.metadata().map_err(io_err)?;
    if !meta.is_file() {
        return read_from_limited(file, name, &limits);
    }
    if meta.len() == 0 {
        return Err(Error::new(name, zipfile::ZipError::Empty.to_string()));
    }
    // SAFETY: the map is read-only; like every mmap reader we assume nobody truncates the file
    // while we hold it (our writers replace files by rename, which leaves the mapping intact).
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io_err)?;
    read_bytes_limited(Bytes::new(map), name, &limits)
}

/// Reads a dataset from a stream (a pipe, stdin), front to back; `name` is used in errors.
pub fn read_from(reader: impl Read, name: &str) -> Result<Dataset> {
    read_from_limited(reader, name, &env_limits(name)?)
}

/// [`read_from`] under explicit limits instead of the environment's.
pub fn read_from_limited(reader: impl Read, name: &str, limits: &ReadLimits) -> Result<Dataset> {
    let mut hashing = HashingReader {
        inner: reader,
        hasher: blake3::Hasher::new(),
    };
    let entries =
        zipfile::read_stream(&mut hashing, limits).map_err(|e| Error::new(name, e.to_string()))?;
    let dataset = parse_entries(entries, None, name)?;
    let _ = dataset
        .digest
        .set(format!("blake3:{}", hashing.hasher.finalize().to_hex()));
    Ok(dataset)
}

/// Hashes what passes through, so a streamed input gets the digest a file of it would.
struct HashingReader<R> {
    inner: R,
    hasher: blake3::Hasher,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Parses and validates a whole dataset file held in memory.
pub fn read_bytes(bytes: Bytes, name: &str) -> Result<Dataset> {
    read_bytes_limited(bytes, name, &env_limits(name)?)
}

/// [`read_bytes`] under explicit limits instead of the environment's.
pub fn read_bytes_limited(bytes: Bytes, name: &str, limits: &ReadLimits) -> Result<Dataset> {
    let entries =
        zipfile::read_entries(&bytes, limits).map_err(|e| Error::new(name, e.to_string()))?;
    parse_entries(entries, Some(bytes), name)
}

fn parse_entries(
    entries: Vec<zipfile::Entry>,
    source: Option<Bytes>,
    name: &str,
) -> Result<Dataset> {
    let err = |entry: &str, msg: String| Error::new(name, format!("{entry}: {msg}"));
    let mut arrays: Vec<(String, npy::RawArray)> = Vec::with_capacity(entries.len());
    let mut file_entries = Vec::with_capacity(entries.len());
    for entry in entries {
        let key = entry
            .name
            .strip_suffix(".npy")
            .unwrap_or(&entry.name)
            .to_string();
        if !ENTRIES.contains(&key.as_str()) {
            return Err(err(
                &printable(&key, 80),
                format!(
                    "unknown entry (a dataset file holds {})",
                    ENTRIES.join(", ")
                ),
            ));
        }
        if arrays.iter().any(|(k, _)| *k == key) {
            return Err(err(&key, "appears twice".into()));
        }
        let array = npy::parse(&entry.data).map_err(|m| err(&key, m))?;
        file_entries.push(EntryInfo {
            name: key.clone(),
            descr: array.descr.clone(),
            shape: array.shape.clone(),
        });
        arrays.push((key, array));
    }
    let mut take = |key: &str| {
        arrays
            .iter()
            .position(|(k, _)| k == key)
            .map(|i| arrays.swap_remove(i).1)
    };

    let meta_array = take("meta");
    let mut entry_arrays = |images_key: &str, labels_key: &str| -> Result<Option<Split>> {
        match (take(images_key), take(labels_key)) {
            (None, None) => Ok(None),
            (Some(_), None) => Err(err(
                labels_key,
                format!("missing: {images_key} is present without it"),
            )),
            (None, Some(_)) => Err(err(
                images_key,
                format!("missing: {labels_key} is present without it"),
            )),
            (Some(images), Some(labels)) => {
                let images = to_images(images).map_err(|m| err(images_key, m))?;
                let labels = to_labels(labels).map_err(|m| err(labels_key, m))?;
                Ok(Some(Split { images, labels }))
            }
        }
    };
    let train = entry_arrays("train_images", "train_labels")?;
    let test = entry_arrays("test_images", "test_labels")?;
    let train_clean_labels = take("train_clean_labels")
        .map(|a| to_labels(a).map_err(|m| err("train_clean_labels", m)))
        .transpose()?;
    let train_corrupted = take("train_corrupted")
        .map(|a| to_mask(a).map_err(|m| err("train_corrupted", m)))
        .transpose()?;

    let meta = match meta_array {
        Some(a) => {
            if a.dtype != Some(Dtype::U8) || a.shape.len() != 1 {
                return Err(err(
                    "meta",
                    format!(
                        "expected uint8 bytes of JSON, got {} {:?}",
                        printable(&a.descr, 40),
                        a.shape
                    ),
                ));
            }
            let text =
                std::str::from_utf8(&a.data).map_err(|e| err("meta", format!("not UTF-8: {e}")))?;
            serde_json::from_str::<Meta>(text).map_err(|e| {
                err(
                    "meta",
                    format!("invalid JSON: {}", printable(&e.to_string(), 200)),
                )
            })?
        }
        None => inferred_meta(name, [&train, &test]),
    };
    let dataset = Dataset {
        meta,
        train,
        test,
        train_clean_labels,
        train_corrupted,
        source,
        digest: std::sync::OnceLock::new(),
        file_entries,
    };
    dataset.validate(name)?;
    Ok(dataset)
}

/// A plain `numpy.savez` file has no `meta`: name it after the file, number the classes.
fn inferred_meta(file: &str, splits: [&Option<Split>; 2]) -> Meta {
    let max = splits
        .iter()
        .filter_map(|s| s.as_ref())
        .flat_map(|s| s.labels.iter().copied())
        .max();
    let classes = max.map_or(0, |m| m as usize + 1);
    let stem = Path::new(file)
        .file_stem()
        .map_or("dataset".into(), |s| s.to_string_lossy().into_owned());
    Meta::new(stem, (0..classes).map(|c| c.to_string()).collect())
}

fn to_images(a: npy::RawArray) -> Result<Images, String> {
    let shape: [usize; 4] = a
        .shape
        .as_slice()
        .try_into()
        .map_err(|_| format!("expected rank 4 [N, H, W, C], got shape {:?}", a.shape))?;
    match a.dtype {
        Some(Dtype::U8) => Ok(Images::held(shape, Pixels::U8(a.data))),
        Some(Dtype::F32) => {
            let v: Vec<f32> = if cfg!(target_endian = "little") {
                bytemuck::pod_collect_to_vec(&a.data)
            } else {
                a.data
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                    .collect()
            };
            Ok(Images::held(shape, Pixels::F32(v)))
        }
        _ => Err(format!(
            "expected dtype uint8 or float32, got '{}'",
            printable(&a.descr, 40)
        )),
    }
}

fn to_labels(a: npy::RawArray) -> Result<Vec<u16>, String> {
    if a.shape.len() != 1 {
        return Err(format!("expected rank 1 [N], got shape {:?}", a.shape));
    }
    match a.dtype {
        Some(Dtype::U8) => Ok(a.data.iter().map(|&l| l as u16).collect()),
        Some(Dtype::U16) => Ok(a
            .data
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect()),
        _ => Err(format!(
            "expected dtype uint8 or uint16, got '{}' (use .astype(np.uint8))",
            printable(&a.descr, 40)
        )),
    }
}

fn to_mask(a: npy::RawArray) -> Result<Vec<u8>, String> {
    if a.shape.len() != 1 {
        return Err(format!("expected rank 1 [N], got shape {:?}", a.shape));
    }
    match (a.dtype, a.descr.as_str()) {
        (Some(Dtype::U8), _) => Ok(a.data.to_vec()),
        (None, "|b1") => Ok(a.data[..a.shape[0].min(a.data.len())].to_vec()),
        _ => Err(format!(
            "expected dtype uint8 (0/1), got '{}'",
            printable(&a.descr, 40)
        )),
    }
}

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

    /// Image i, value k: a byte that depends on both.
    struct Pattern;
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
