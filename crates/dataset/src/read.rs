//! Reading a dataset file: from a path or open file (memory-mapped when it is a regular file),
//! from a stream (a pipe, front to back, hashed as it passes), or from bytes in memory; then
//! turning the `.npy` entries into a validated [`Dataset`].

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use crate::bytes::Bytes;
use crate::dataset::{Dataset, EntryInfo, Split};
use crate::images::{Images, Pixels};
use crate::limits::{ReadLimits, printable};
use crate::meta::Meta;
use crate::npy::{self, Dtype};
use crate::zipfile;
use crate::{ENTRIES, Error, Result};

/// Reads a dataset from a path, memory-mapping it (or reading it, for pipes and devices). A
/// directory is a shard set ([`ShardSet`](crate::ShardSet)): its shards end to end.
pub fn read_path(path: impl AsRef<Path>) -> Result<Dataset> {
    let path = path.as_ref();
    if crate::shards::is_shard_dir(path) {
        return crate::shards::ShardSet::open(path)?.concat();
    }
    let name = path.display().to_string();
    let file = File::open(path).map_err(|e| Error::new(&name, format!("cannot read: {e}")))?;
    read_file(file, &name)
}

/// The limits the environment sets ([`MAX_EXPAND_VAR`](crate::MAX_EXPAND_VAR)); a malformed value
/// is an error about the file being read, so every tool reports it the same way.
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
    read_bytes_limited(Bytes::mapped(map, file), name, &limits)
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
            let invalid = |e: serde_json::Error| {
                err(
                    "meta",
                    format!("invalid JSON: {}", printable(&e.to_string(), 200)),
                )
            };
            let mut fields = match serde_json::from_str::<serde_json::Value>(text) {
                Ok(serde_json::Value::Object(fields)) => fields,
                Ok(other) => {
                    let kind = match other {
                        serde_json::Value::Array(_) => "an array",
                        serde_json::Value::String(_) => "a string",
                        serde_json::Value::Number(_) => "a number",
                        serde_json::Value::Bool(_) => "a boolean",
                        _ => "null",
                    };
                    return Err(err("meta", format!("expected a JSON object, got {kind}")));
                }
                Err(e) => return Err(invalid(e)),
            };
            // Another program's meta may lack our fields: those get what a file without meta
            // gets (the name of the file, numbered classes); fields we do not know are kept.
            let missing = |v: Option<&serde_json::Value>| v.is_none_or(|v| v.is_null());
            if missing(fields.get("name")) || missing(fields.get("classes")) {
                let inferred = inferred_meta(name, [&train, &test]);
                if missing(fields.get("name")) {
                    fields.insert("name".into(), inferred.name.into());
                }
                if missing(fields.get("classes")) {
                    fields.insert("classes".into(), inferred.classes.into());
                }
            }
            serde_json::from_value::<Meta>(serde_json::Value::Object(fields)).map_err(invalid)?
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
