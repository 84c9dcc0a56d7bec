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
mod meta;
pub mod npy;
mod zipfile;

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

pub use bytes::{Buffer, Bytes};
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

/// An error that names the file it is about.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
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

/// A stack of images, channels last: shape [N, H, W, C].
#[derive(Clone, Debug, PartialEq)]
pub struct Images {
    shape: [usize; 4],
    pixels: Pixels,
}

impl Images {
    /// Panics if the pixel count does not match the shape.
    pub fn from_u8(shape: [usize; 4], pixels: impl Into<Bytes>) -> Images {
        let pixels = pixels.into();
        assert_eq!(
            pixels.len(),
            shape.iter().product::<usize>(),
            "pixel count vs shape {shape:?}"
        );
        Images {
            shape,
            pixels: Pixels::U8(pixels),
        }
    }

    /// Panics if the pixel count does not match the shape.
    pub fn from_f32(shape: [usize; 4], pixels: Vec<f32>) -> Images {
        assert_eq!(
            pixels.len(),
            shape.iter().product::<usize>(),
            "pixel count vs shape {shape:?}"
        );
        Images {
            shape,
            pixels: Pixels::F32(pixels),
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
        match self.pixels {
            Pixels::U8(_) => Dtype::U8,
            Pixels::F32(_) => Dtype::F32,
        }
    }
    pub fn pixels(&self) -> &Pixels {
        &self.pixels
    }
    pub fn into_pixels(self) -> Pixels {
        self.pixels
    }
    pub fn as_u8(&self) -> Option<&[u8]> {
        match &self.pixels {
            Pixels::U8(b) => Some(b),
            Pixels::F32(_) => None,
        }
    }
    pub fn as_f32(&self) -> Option<&[f32]> {
        match &self.pixels {
            Pixels::U8(_) => None,
            Pixels::F32(v) => Some(v),
        }
    }
    /// Pixel `i` as f32, whatever the storage.
    pub fn value(&self, i: usize) -> f32 {
        match &self.pixels {
            Pixels::U8(b) => b[i] as f32,
            Pixels::F32(v) => v[i],
        }
    }

    /// The images at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Images {
        let d = self.image_len();
        let shape = [indices.len(), self.shape[1], self.shape[2], self.shape[3]];
        match &self.pixels {
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
            if let Some(v) = split.images.as_f32()
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

/// Reads a dataset from an open file: memory-mapped when it is a regular file (also when it is
/// stdin redirected from a file), streamed otherwise.
pub fn read_file(file: File, name: &str) -> Result<Dataset> {
    let io_err = |e: io::Error| Error::new(name, format!("cannot read: {e}"));
    let meta = file.metadata().map_err(io_err)?;
    if !meta.is_file() {
        return read_from(file, name);
    }
    if meta.len() == 0 {
        return Err(Error::new(name, zipfile::ZipError::Empty.to_string()));
    }
    // SAFETY: the map is read-only; like every mmap reader we assume nobody truncates the file
    // while we hold it (our writers replace files by rename, which leaves the mapping intact).
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io_err)?;
    read_bytes(Bytes::new(map), name)
}

/// Reads a dataset from a stream (a pipe, stdin), front to back; `name` is used in errors.
pub fn read_from(reader: impl Read, name: &str) -> Result<Dataset> {
    let mut hashing = HashingReader {
        inner: reader,
        hasher: blake3::Hasher::new(),
    };
    let entries =
        zipfile::read_stream(&mut hashing).map_err(|e| Error::new(name, e.to_string()))?;
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
    let entries = zipfile::read_entries(&bytes).map_err(|e| Error::new(name, e.to_string()))?;
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
                &key,
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
                        a.descr, a.shape
                    ),
                ));
            }
            let text =
                std::str::from_utf8(&a.data).map_err(|e| err("meta", format!("not UTF-8: {e}")))?;
            serde_json::from_str::<Meta>(text)
                .map_err(|e| err("meta", format!("invalid JSON: {e}")))?
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
        Some(Dtype::U8) => Ok(Images {
            shape,
            pixels: Pixels::U8(a.data),
        }),
        Some(Dtype::F32) => {
            let v: Vec<f32> = if cfg!(target_endian = "little") {
                bytemuck::pod_collect_to_vec(&a.data)
            } else {
                a.data
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                    .collect()
            };
            Ok(Images {
                shape,
                pixels: Pixels::F32(v),
            })
        }
        _ => Err(format!(
            "expected dtype uint8 or float32, got '{}'",
            a.descr
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
            a.descr
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
        _ => Err(format!("expected dtype uint8 (0/1), got '{}'", a.descr)),
    }
}

/// Writes `dataset` in the canonical layout. Validates first, so an invalid dataset writes nothing.
pub fn write_to(dataset: &Dataset, out: impl Write, file: &str) -> Result<()> {
    dataset.validate(file)?;
    let io_err = |e: io::Error| Error::new(file, format!("cannot write: {e}"));
    let mut zip = zipfile::ZipWriter::new(out);
    let meta = serde_json::to_vec(&dataset.meta).expect("meta serializes");
    let label_dtype = if dataset.num_classes() <= 256 {
        Dtype::U8
    } else {
        Dtype::U16
    };
    let mut add = |name: &str, dtype: Dtype, shape: &[usize], data: &[u8], crc: Option<u32>| {
        let header = npy::header(dtype, shape);
        zip.add(&format!("{name}.npy"), &[(&header, None), (data, crc)])
            .map_err(io_err)
    };
    add("meta", Dtype::U8, &[meta.len()], &meta, None)?;
    let labels = |l: &[u16]| -> Vec<u8> {
        match label_dtype {
            Dtype::U8 => l.iter().map(|&x| x as u8).collect(),
            _ => l.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    };
    let mut add_split = |prefix: &str, split: &Split, extra: bool| -> Result<()> {
        let images = &split.images;
        match images.pixels() {
            Pixels::U8(b) => add(
                &format!("{prefix}_images"),
                Dtype::U8,
                &images.shape(),
                b,
                Some(b.crc32()),
            )?,
            Pixels::F32(v) => {
                // .npy float32 is little-endian: on such a machine the floats are the bytes.
                let bytes: std::borrow::Cow<[u8]> = if cfg!(target_endian = "little") {
                    std::borrow::Cow::Borrowed(bytemuck::cast_slice(v))
                } else {
                    std::borrow::Cow::Owned(v.iter().flat_map(|x| x.to_le_bytes()).collect())
                };
                add(
                    &format!("{prefix}_images"),
                    Dtype::F32,
                    &images.shape(),
                    &bytes,
                    None,
                )?
            }
        }
        add(
            &format!("{prefix}_labels"),
            label_dtype,
            &[split.len()],
            &labels(&split.labels),
            None,
        )?;
        if extra {
            if let Some(clean) = &dataset.train_clean_labels {
                add(
                    "train_clean_labels",
                    label_dtype,
                    &[clean.len()],
                    &labels(clean),
                    None,
                )?;
            }
            if let Some(mask) = &dataset.train_corrupted {
                add("train_corrupted", Dtype::U8, &[mask.len()], mask, None)?;
            }
        }
        Ok(())
    };
    if let Some(train) = &dataset.train {
        add_split("train", train, true)?;
    }
    if let Some(test) = &dataset.test {
        add_split("test", test, false)?;
    }
    zip.finish().map_err(io_err)?;
    Ok(())
}
