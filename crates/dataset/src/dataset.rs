//! The in-memory dataset: splits, the optional corruption entries and what is remembered of the
//! file it was read from (its entries and digest). Reading, validating and writing it each have
//! their own module.

use crate::bytes::Bytes;
use crate::images::Images;
use crate::meta::Meta;

/// Images with the labels a model is trained or scored on.
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    /// The images, one per label.
    pub images: Images,
    /// The label of each image, a class index below [`Meta::num_classes`].
    pub labels: Vec<u16>,
}

impl Split {
    /// The number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    /// True when the split holds no example.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// A whole dataset file in memory.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// What the dataset is and what was done to it (the `meta` entry).
    pub meta: Meta,
    /// The training split, if the file has one.
    pub train: Option<Split>,
    /// The test split, if the file has one.
    pub test: Option<Split>,
    /// True training labels, kept when the labels were corrupted.
    pub train_clean_labels: Option<Vec<u16>>,
    /// 1 for the training examples whose label was redrawn.
    pub train_corrupted: Option<Vec<u8>>,
    /// The bytes this dataset was read from (for its digest), when read from a buffer.
    pub(crate) source: Option<Bytes>,
    /// `blake3:<hex>` of the input: hashed while streaming, or lazily from `source`.
    pub(crate) digest: std::sync::OnceLock<String>,
    /// The entries as found in the file read (name, numpy type string, shape).
    pub(crate) file_entries: Vec<EntryInfo>,
}

/// An entry of a file as it was read: name, numpy type string, shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryInfo {
    /// The entry name without `.npy` (one of [`ENTRIES`](crate::ENTRIES)).
    pub name: String,
    /// The numpy type string as written in the header (`|u1`, `<f4`, ...).
    pub descr: String,
    /// The array shape.
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
    /// A dataset of `meta` and the splits, without corruption entries (set those fields after).
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

    /// The number of classes, from [`Meta::classes`].
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
}
