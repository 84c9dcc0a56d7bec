//! What the data-preparation tools (`cifar-fetch`, `mnist-fetch`, `imagenet-pack`) share: an HTTP
//! download that is verified against a published MD5 and cached so a verified file is never
//! fetched twice, checksums of input files, and reading of gzip and tar inputs.

#![warn(missing_docs)]

mod archive;
mod download;

pub use archive::{Capped, is_gzip, maybe_gunzip, open_maybe_gz, read_maybe_gz, visit_tar};
pub use download::{
    ChannelReader, FetchError, Fetched, Md5Reader, fetch_cached, md5_file, md5_hex, read_hashing,
};
