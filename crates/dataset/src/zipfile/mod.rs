//! The zip container of an `.npz`.
//!
//! Writing is done by hand because the layout is part of our contract and the `zip` crate cannot
//! produce it on a non-seekable stream: every entry is stored (uncompressed) with its CRC and sizes
//! in the local header (no data descriptors, so a pipe can be read front to back), and its data
//! starts on a 64-byte boundary (padding in an extra field, as Android's zipalign does), so the
//! arrays of a memory-mapped file can be used in place. Zip64 records are added only when needed.
//!
//! Reading walks the local headers of the bytes in order, which covers our files and the files
//! `numpy.savez`/`savez_compressed` write to a seekable file. Archives whose local headers lack the
//! sizes (written to a stream, with data descriptors) fall back to the `zip` crate's central
//! directory reader.
//!
//! Sizes in headers are claims: nothing is allocated from one before it is checked against the
//! bytes present (stored entries), what the compressed bytes can produce and the file's
//! expansion budget ([`ReadLimits`]); a stream's declared size reserves address space, and memory
//! is committed as bytes arrive.

mod reader;
mod writer;

pub use reader::{Entry, ZipError, read_entries, read_stream};
pub use writer::ZipWriter;

const LOCAL_SIG: u32 = 0x0403_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const EOCD_SIG: u32 = 0x0605_4b50;
const EOCD64_SIG: u32 = 0x0606_4b50;
const EOCD64_LOCATOR_SIG: u32 = 0x0706_4b50;
const ZIP64_EXTRA: u16 = 0x0001;
/// The extra-field id zipalign uses for alignment padding; readers skip unknown ids.
const PADDING_EXTRA: u16 = 0xd935;
/// Data alignment in the file: a cache line, and what numpy aligns `.npy` data to.
pub const ALIGN: u64 = 64;
/// DOS date 1980-01-01, 00:00: a fixed timestamp keeps outputs bit-reproducible.
const DOS_DATE: u16 = (1 << 5) | 1;
const U32_MAX: u64 = 0xffff_ffff;
