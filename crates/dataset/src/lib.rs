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
//!
//! A directory of such files with an `index.json` ([`shards`]) is one dataset too:
//! [`read_path`] reads it as the shards end to end.

#![warn(missing_docs)]

mod bytes;
mod dataset;
pub mod fault;
mod images;
mod limits;
mod meta;
pub mod npy;
mod read;
pub mod shards;
mod validate;
mod write;
mod zipfile;

pub use bytes::{Buffer, Bytes};
pub use dataset::{Dataset, EntryInfo, Split};
pub use images::{Generate, Images, PixelChunk, Pixels};
pub use limits::{
    DEFAULT_MAX_EXPAND, MAX_EXPAND_VAR, ReadLimits, escape_controls, meminfo, parse_size, printable,
};
pub use meta::{Corruption, HistoryRecord, Meta};
pub use npy::Dtype;
pub use read::{
    read_bytes, read_bytes_limited, read_file, read_from, read_from_limited, read_path,
};
pub use shards::{Index, ShardEntry, ShardSet};
pub use write::{write_file, write_to};

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
    /// The file (or stream) the error is about, as named to the user.
    pub file: String,
    /// What is wrong, starting with the entry concerned when there is one.
    pub message: String,
}

impl Error {
    /// An error about `file`.
    pub fn new(file: impl Into<String>, message: impl Into<String>) -> Error {
        Error {
            file: file.into(),
            message: message.into(),
        }
    }
}

/// The result of the dataset functions: an [`Error`] names the file.
pub type Result<T, E = Error> = std::result::Result<T, E>;
