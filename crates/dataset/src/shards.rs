//! A sharded dataset: a directory of dataset files (the shards) and an `index.json` that names
//! them in order with their sizes, digests and example counts. It is one dataset: its training
//! split is the shards' training splits end to end, its test split likewise, and every tool
//! accepts the directory wherever it accepts a dataset file ([`read_path`](crate::read_path)
//! concatenates it; tools that can work shard by shard open it with [`ShardSet::open`]).
//!
//! `index.json`:
//!
//! ```json
//! {"format": "rethink-shards", "version": 1, "train": 2500, "test": 0,
//!  "shards": [{"file": "train-00000.npz", "bytes": 1234567, "blake3": "blake3:…",
//!              "train": 1000, "test": 0}, …]}
//! ```
//!
//! Opening a set checks that every listed shard exists with the listed size, so a missing or
//! truncated shard is a one-line error naming it before anything is read; reading a shard checks
//! its counts against the index and its shape, dtype and classes against the first shard.
//! [`ShardSet::verify`] also compares every shard's blake3 digest (a full read).

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::dataset::{Dataset, EntryInfo, Split};
use crate::images::{Generate, Images, Pixels};
use crate::npy::Dtype;
use crate::{Error, Result};

/// The name of the index file in a shard directory.
pub const INDEX: &str = "index.json";
/// The `format` of the index file.
pub const FORMAT: &str = "rethink-shards";

/// The index of a shard directory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Index {
    /// Always [`FORMAT`].
    pub format: String,
    /// Version of the index layout (1).
    pub version: u32,
    /// Training examples in all shards.
    pub train: u64,
    /// Test examples in all shards.
    pub test: u64,
    /// The shards, in dataset order.
    pub shards: Vec<ShardEntry>,
}

/// One shard as the index records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardEntry {
    /// The file name, relative to the directory (no path separators).
    pub file: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// `blake3:<hex>` of the whole file.
    pub blake3: String,
    /// Training examples in it.
    pub train: u64,
    /// Test examples in it.
    pub test: u64,
}

impl Index {
    /// The index of `shards` (totals summed).
    pub fn new(shards: Vec<ShardEntry>) -> Index {
        Index {
            format: FORMAT.into(),
            version: 1,
            train: shards.iter().map(|s| s.train).sum(),
            test: shards.iter().map(|s| s.test).sum(),
            shards,
        }
    }

    /// The index as written to `index.json` (pretty, newline-terminated).
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("an index serializes");
        s.push('\n');
        s
    }
}

impl ShardEntry {
    /// The entry of `dataset` written to `file` (`bytes` long, digest `blake3`).
    pub fn of(file: &str, bytes: u64, blake3: String, dataset: &Dataset) -> ShardEntry {
        ShardEntry {
            file: file.into(),
            bytes,
            blake3,
            train: dataset.train.as_ref().map_or(0, |s| s.len() as u64),
            test: dataset.test.as_ref().map_or(0, |s| s.len() as u64),
        }
    }
}

/// Size and `blake3:<hex>` of an open file (read through a memory map, hashed in parallel).
pub fn file_digest(file: &File) -> std::io::Result<(u64, String)> {
    let len = file.metadata()?.len();
    let mut hasher = blake3::Hasher::new();
    if len > 0 {
        // SAFETY: read-only map of a file this process has just written and still holds.
        let map = unsafe { memmap2::Mmap::map(file) }?;
        hasher.update_rayon(&map);
    }
    Ok((len, format!("blake3:{}", hasher.finalize().to_hex())))
}

/// Whether `path` is a shard directory (a directory; whether its index is valid is for
/// [`ShardSet::open`] to say).
pub fn is_shard_dir(path: &Path) -> bool {
    path.is_dir()
}

/// An opened shard directory: its index checked against the files present.
#[derive(Clone, Debug)]
pub struct ShardSet {
    /// The directory.
    pub dir: PathBuf,
    /// Its index.
    pub index: Index,
    /// `blake3:<hex>` of `index.json` (which holds every shard's digest): the set's identity
    /// in history records.
    pub digest: String,
}

impl ShardSet {
    /// Opens `dir`: reads and checks `index.json`, and checks that every shard exists with the
    /// size the index gives.
    pub fn open(dir: &Path) -> Result<ShardSet> {
        let index_path = dir.join(INDEX);
        let shown = index_path.display().to_string();
        let text = std::fs::read(&index_path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::new(
                    dir.display().to_string(),
                    format!("a directory, but not a shard set: no {INDEX} in it"),
                )
            } else {
                Error::new(&shown, format!("cannot read: {e}"))
            }
        })?;
        let index: Index = serde_json::from_slice(&text)
            .map_err(|e| Error::new(&shown, format!("not a shard index: {e}")))?;
        if index.format != FORMAT || index.version != 1 {
            return Err(Error::new(
                &shown,
                format!(
                    "format {:?} version {}: expected {FORMAT:?} version 1",
                    index.format, index.version
                ),
            ));
        }
        if index.shards.is_empty() {
            return Err(Error::new(&shown, "lists no shards"));
        }
        let (train, test) = index
            .shards
            .iter()
            .fold((0, 0), |(a, b), s| (a + s.train, b + s.test));
        if (train, test) != (index.train, index.test) {
            return Err(Error::new(
                &shown,
                format!(
                    "totals train {} test {} but the shards add up to train {train} test {test}",
                    index.train, index.test
                ),
            ));
        }
        for s in &index.shards {
            if s.file.is_empty() || s.file.contains('/') || s.file == ".." || s.file == "." {
                return Err(Error::new(
                    &shown,
                    format!("shard file name {:?} is not a plain file name", s.file),
                ));
            }
            let path = dir.join(&s.file);
            let name = path.display().to_string();
            match std::fs::metadata(&path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(Error::new(name, format!("missing (listed in {shown})")));
                }
                Err(e) => return Err(Error::new(name, format!("cannot read: {e}"))),
                Ok(m) if m.len() != s.bytes => {
                    return Err(Error::new(
                        name,
                        format!(
                            "{} bytes, but {shown} lists {} (truncated or replaced)",
                            m.len(),
                            s.bytes
                        ),
                    ));
                }
                Ok(_) => {}
            }
        }
        let digest = format!("blake3:{}", blake3::hash(&text).to_hex());
        Ok(ShardSet {
            dir: dir.to_path_buf(),
            index,
            digest,
        })
    }

    /// The path of shard `k`.
    pub fn path(&self, k: usize) -> PathBuf {
        self.dir.join(&self.index.shards[k].file)
    }

    /// Index of the first training and test example of shard `k` in the whole set.
    pub fn offsets(&self, k: usize) -> (u64, u64) {
        self.index.shards[..k]
            .iter()
            .fold((0, 0), |(a, b), s| (a + s.train, b + s.test))
    }

    /// Reads shard `k` (memory-mapped) and checks its counts against the index.
    pub fn read(&self, k: usize) -> Result<Dataset> {
        let path = self.path(k);
        let d = crate::read::read_path(&path)?;
        let entry = &self.index.shards[k];
        let counts = (
            d.train.as_ref().map_or(0, |s| s.len() as u64),
            d.test.as_ref().map_or(0, |s| s.len() as u64),
        );
        if counts != (entry.train, entry.test) {
            return Err(Error::new(
                path.display().to_string(),
                format!(
                    "holds train {} test {} examples, but {INDEX} lists train {} test {}",
                    counts.0, counts.1, entry.train, entry.test
                ),
            ));
        }
        Ok(d)
    }

    /// Reads every shard and checks that they agree (classes, image shape and dtype of each
    /// split, the corruption entries present or absent in all).
    pub fn read_all(&self) -> Result<Vec<Dataset>> {
        let parts: Vec<Dataset> = (0..self.index.shards.len())
            .map(|k| self.read(k))
            .collect::<Result<_>>()?;
        for (k, part) in parts.iter().enumerate().skip(1) {
            check_agrees(&parts[0], part, &self.path(k).display().to_string())?;
        }
        Ok(parts)
    }

    /// Compares every shard's blake3 digest with the index (reads every byte).
    pub fn verify(&self) -> Result<()> {
        for (k, s) in self.index.shards.iter().enumerate() {
            let path = self.path(k);
            let name = path.display().to_string();
            let file =
                File::open(&path).map_err(|e| Error::new(&name, format!("cannot read: {e}")))?;
            let (_, digest) =
                file_digest(&file).map_err(|e| Error::new(&name, format!("cannot read: {e}")))?;
            if digest != s.blake3 {
                return Err(Error::new(
                    name,
                    format!(
                        "digest {digest}, but {INDEX} lists {} (the shard changed)",
                        s.blake3
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The whole set as one dataset: the splits end to end, images made on first access from
    /// the memory-mapped shards.
    pub fn concat(&self) -> Result<Dataset> {
        let parts = self.read_all()?;
        let d = concat(parts);
        let _ = d.digest.set(self.digest.clone());
        Ok(d)
    }
}

/// The parts of the dataset at `path`, each read in place (memory-mapped): the shards of a shard
/// set, or the one file. What streams a dataset larger than memory reads, instead of the
/// concatenation [`read_path`](crate::read_path) gives.
pub fn read_parts(path: &Path) -> Result<Vec<Dataset>> {
    if is_shard_dir(path) {
        ShardSet::open(path)?.read_all()
    } else {
        Ok(vec![crate::read::read_path(path)?])
    }
}

/// The dataset at `path` and its parts, from one read: what [`read_path`](crate::read_path) and
/// [`read_parts`] give, without mapping and verifying every file twice.
pub fn read_with_parts(path: &Path) -> Result<(Dataset, Vec<Dataset>)> {
    if is_shard_dir(path) {
        let set = ShardSet::open(path)?;
        let parts = set.read_all()?;
        let whole = concat(parts.clone());
        let _ = whole.digest.set(set.digest.clone());
        Ok((whole, parts))
    } else {
        let whole = crate::read::read_path(path)?;
        Ok((whole.clone(), vec![whole]))
    }
}

/// Shard `part` must match `first` in what makes them one dataset.
fn check_agrees(first: &Dataset, part: &Dataset, name: &str) -> Result<()> {
    let err = |what: String| Err(Error::new(name, what));
    if part.meta.classes != first.meta.classes {
        return err("its classes differ from the first shard's".into());
    }
    for (what, a, b) in [
        ("train_images", &first.train, &part.train),
        ("test_images", &first.test, &part.test),
    ] {
        if let (Some(a), Some(b)) = (a, b) {
            let (sa, sb) = (a.images.shape(), b.images.shape());
            if sa[1..] != sb[1..] || a.images.dtype() != b.images.dtype() {
                return err(format!(
                    "{what}: {} {:?} per image, but the first shard has {} {:?}",
                    b.images.dtype().numpy_name(),
                    &sb[1..],
                    a.images.dtype().numpy_name(),
                    &sa[1..]
                ));
            }
        }
    }
    if first.train_clean_labels.is_some() != part.train_clean_labels.is_some()
        || first.train_corrupted.is_some() != part.train_corrupted.is_some()
    {
        return err("train_clean_labels/train_corrupted present in some shards only".into());
    }
    Ok(())
}

/// The images of `parts` end to end (all of one dtype and image shape).
struct Concat {
    /// (first image index, images) of every non-empty part.
    parts: Vec<(usize, Images)>,
    image_bytes: usize,
}

impl Generate for Concat {
    fn fill(&self, first: usize, out: &mut [u8]) {
        let b = self.image_bytes;
        let mut at = first;
        let mut out = out;
        while !out.is_empty() {
            let k = self.parts.partition_point(|(start, _)| *start <= at) - 1;
            let (start, images) = &self.parts[k];
            let from = at - start;
            let take = (images.len() - from).min(out.len() / b);
            let (head, rest) = out.split_at_mut(take * b);
            let range = from * b..(from + take) * b;
            match images.pixels() {
                // Read from the shard's file (pread): a pass over a set larger than memory
                // (inspect's statistics) leaves none of its pages resident.
                Pixels::U8(p) => p.copy_to(range, head),
                Pixels::F32(v) => head.copy_from_slice(&bytemuck::cast_slice(v)[range]),
            }
            if cfg!(target_endian = "big") && images.dtype() == Dtype::F32 {
                for v in head.chunks_exact_mut(4) {
                    v.reverse();
                }
            }
            out = rest;
            at += take;
        }
    }
}

/// One split from the parts' splits end to end (`None` when no part has it).
fn concat_split(parts: Vec<Option<Split>>) -> Option<Split> {
    let present: Vec<Split> = parts.into_iter().flatten().collect();
    let first = present.first()?;
    let [_, h, w, c] = first.images.shape();
    let dtype = first.images.dtype();
    if present.len() == 1 {
        return present.into_iter().next();
    }
    let n: usize = present.iter().map(Split::len).sum();
    let mut labels = Vec::with_capacity(n);
    let mut images = Vec::new();
    let mut start = 0;
    for s in present {
        labels.extend_from_slice(&s.labels);
        if !s.is_empty() {
            images.push((start, s.images));
        }
        start += s.labels.len();
    }
    let generate = Concat {
        parts: images,
        image_bytes: h * w * c * dtype.size(),
    };
    Some(Split {
        images: Images::deferred([n, h, w, c], dtype, generate),
        labels,
    })
}

/// `parts` (checked to agree) as one dataset: meta of the first without its `source.shard`,
/// with the `skipped` images of every part (imagenet-pack --skip-bad).
pub(crate) fn concat(parts: Vec<Dataset>) -> Dataset {
    let mut meta = parts[0].meta.clone();
    if let Some(source) = meta.source.as_mut().and_then(|s| s.as_object_mut()) {
        source.remove("shard");
    }
    // imagenet-pack --skip-bad lists each shard's skipped images: the set's are all of them.
    if meta.extra.contains_key("skipped") {
        let all: Vec<serde_json::Value> = parts
            .iter()
            .filter_map(|p| p.meta.extra.get("skipped")?.as_array().cloned())
            .flatten()
            .collect();
        meta.extra.insert("skipped_count".into(), all.len().into());
        meta.extra.insert("skipped".into(), all.into());
    }
    // Each entry as the first shard that has it records it (the meta entry: the first shard's).
    let entries: Vec<EntryInfo> = crate::ENTRIES
        .iter()
        .filter_map(|name| {
            parts
                .iter()
                .flat_map(|p| &p.file_entries)
                .find(|e| e.name == *name)
                .cloned()
        })
        .collect();
    let mut trains = Vec::new();
    let mut tests = Vec::new();
    let mut clean: Option<Vec<u16>> = parts[0].train_clean_labels.as_ref().map(|_| Vec::new());
    let mut corrupted: Option<Vec<u8>> = parts[0].train_corrupted.as_ref().map(|_| Vec::new());
    for p in parts {
        if let (Some(all), Some(c)) = (clean.as_mut(), &p.train_clean_labels) {
            all.extend_from_slice(c);
        }
        if let (Some(all), Some(c)) = (corrupted.as_mut(), &p.train_corrupted) {
            all.extend_from_slice(c);
        }
        trains.push(p.train);
        tests.push(p.test);
    }
    let mut d = Dataset::new(meta, concat_split(trains), concat_split(tests));
    d.train_clean_labels = clean;
    d.train_corrupted = corrupted;
    let len = |name: &str| match name {
        "train_images" | "train_labels" | "train_clean_labels" | "train_corrupted" => {
            d.train.as_ref().map(Split::len)
        }
        "test_images" | "test_labels" => d.test.as_ref().map(Split::len),
        _ => None,
    };
    d.file_entries = entries
        .into_iter()
        .map(|mut e| {
            if let (Some(n), Some(first)) = (len(&e.name), e.shape.first_mut()) {
                *first = n;
            }
            e
        })
        .collect();
    d
}
