//! Reading an archive from bytes or a stream, front to back by local headers (central directory
//! only as a fallback), checking every size it claims before anything is allocated from it.

use std::io::{self, Read};

use super::*;
use crate::bytes::{Buffer, Bytes};
use crate::limits::{MAX_EXPAND_VAR, ReadLimits, printable};

/// One member of an archive, decompressed (or a view, when stored).
pub struct Entry {
    pub name: String,
    pub data: Bytes,
}

/// Why an archive could not be read; the caller adds the file name. Entry names are kept as
/// found and shown escaped ([`printable`]).
#[derive(Debug)]
pub enum ZipError {
    Empty,
    NotZip,
    Truncated {
        entry: String,
        need: u64,
        have: u64,
    },
    Corrupt {
        entry: String,
        what: String,
    },
    /// The deflated entries would expand past [`ReadLimits::max_expand`].
    TooLarge {
        entry: String,
        total: u64,
        cap: u64,
    },
}

/// Characters of an entry name shown in a message.
const NAME_CHARS: usize = 80;

impl std::fmt::Display for ZipError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ZipError::Empty => write!(f, "empty input (0 bytes), expected an .npz file"),
            ZipError::NotZip => write!(f, "not an .npz file (no zip signature at the start)"),
            ZipError::Truncated { entry, need, have } => write!(
                f,
                "truncated file: entry '{}' needs {need} more bytes but only {have} remain",
                printable(entry, NAME_CHARS)
            ),
            ZipError::Corrupt { entry, what } => write!(
                f,
                "corrupt zip entry '{}': {what}",
                printable(entry, NAME_CHARS)
            ),
            ZipError::TooLarge { entry, total, cap } => write!(
                f,
                "entry '{}': compressed entries expand to at least {total} bytes, more than the \
                 {cap} allowed ({MAX_EXPAND_VAR})",
                printable(entry, NAME_CHARS)
            ),
        }
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// Where the parser gets its bytes: a buffer (views, no copies) or a stream (one exact-size
/// buffer per entry, so a pipe is consumed front to back without reallocation).
trait Source {
    /// The next `n` bytes, or fewer at the end of the input.
    fn take(&mut self, n: u64) -> io::Result<Bytes>;
    /// Everything not yet taken.
    fn rest(&mut self) -> io::Result<Bytes>;
    /// The whole input, when only the central directory can describe it.
    fn whole(&mut self, taken: &[u8]) -> io::Result<Option<Bytes>>;
}

struct BufferSource<'a> {
    bytes: &'a Bytes,
    pos: usize,
}

impl Source for BufferSource<'_> {
    fn take(&mut self, n: u64) -> io::Result<Bytes> {
        let end = self
            .pos
            .saturating_add(n.min(usize::MAX as u64) as usize)
            .min(self.bytes.len());
        let out = self.bytes.slice(self.pos..end);
        self.pos = end;
        Ok(out)
    }
    fn rest(&mut self) -> io::Result<Bytes> {
        self.take(u64::MAX)
    }
    fn whole(&mut self, _taken: &[u8]) -> io::Result<Option<Bytes>> {
        Ok(Some(self.bytes.clone()))
    }
}

struct StreamSource<R> {
    reader: R,
    started: bool,
}

impl<R: Read> Source for StreamSource<R> {
    fn take(&mut self, n: u64) -> io::Result<Bytes> {
        self.started = true;
        if n >= HUGE_ENTRY {
            let n = usize::try_from(n).map_err(|_| io::Error::other("size exceeds memory"))?;
            return read_into_buffer(&mut self.reader, n);
        }
        let mut buf = Vec::with_capacity(n as usize);
        (&mut self.reader).take(n).read_to_end(&mut buf)?;
        Ok(Bytes::from(buf))
    }
    fn rest(&mut self) -> io::Result<Bytes> {
        let mut buf = Vec::new();
        self.reader.read_to_end(&mut buf)?;
        Ok(Bytes::from(buf))
    }
    fn whole(&mut self, taken: &[u8]) -> io::Result<Option<Bytes>> {
        let mut buf = taken.to_vec();
        self.reader.read_to_end(&mut buf)?;
        Ok(Some(Bytes::from(buf)))
    }
}

/// Entries at least this large are read into a [`Buffer`] (huge-page memory), hashed as they come.
const HUGE_ENTRY: u64 = 4 << 20;

/// Memory faulted in at a time while a stream fills a [`Buffer`] (at first; then as much as has
/// arrived, up to [`POPULATE_WINDOW_MAX`]): `n` is only what the stream declares, so memory is
/// committed as bytes arrive, never for the whole declared size at once.
const POPULATE_WINDOW: usize = 4 << 20;
const POPULATE_WINDOW_MAX: usize = 64 << 20;

/// Reads up to `n` bytes into a fresh [`Buffer`], computing their CRC-32 piece by piece while each
/// piece is still in cache; the returned bytes know their CRC.
fn read_into_buffer(reader: &mut impl Read, n: usize) -> io::Result<Bytes> {
    let mut buf = Buffer::reserve(n)?;
    let mut crc = crc32fast::Hasher::new();
    let mut len = 0;
    let mut populated = 0;
    while len < n {
        if len == populated {
            populated = n.min(populated + len.clamp(POPULATE_WINDOW, POPULATE_WINDOW_MAX));
            buf.populate(len..populated);
        }
        match reader.read(&mut buf[len..populated]) {
            Ok(0) => break,
            Ok(k) => {
                crc.update(&buf[len..len + k]);
                len += k;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let bytes = buf.freeze().slice(0..len);
    bytes.know_crc32(crc.finalize());
    Ok(bytes)
}

/// Reads all entries of a zip archive held in `bytes`, in file order; stored entries are views.
pub fn read_entries(bytes: &Bytes, limits: &ReadLimits) -> Result<Vec<Entry>, ZipError> {
    parse(&mut BufferSource { bytes, pos: 0 }, limits)
}

/// Reads all entries of a zip archive from a stream, front to back.
pub fn read_stream(reader: impl Read, limits: &ReadLimits) -> Result<Vec<Entry>, ZipError> {
    parse(
        &mut StreamSource {
            reader,
            started: false,
        },
        limits,
    )
}

/// What deflated entries may still expand to, across one file.
struct Budget {
    cap: u64,
    used: u64,
}

impl Budget {
    /// Accounts for an entry that declares `size` bytes, or refuses it.
    fn spend(&mut self, entry: &str, size: u64) -> Result<(), ZipError> {
        let total = self.used.saturating_add(size);
        if total > self.cap {
            return Err(ZipError::TooLarge {
                entry: entry.to_string(),
                total,
                cap: self.cap,
            });
        }
        self.used = total;
        Ok(())
    }
}

/// Deflate's best ratio is 1032:1 (a 258-byte match in 2 bits); a larger declared size is a lie.
fn deflate_can_produce(compressed: u64) -> u64 {
    compressed.saturating_mul(1032).saturating_add(1024)
}

/// Decompresses `reader` into exactly `size` bytes: the size is checked against what `compressed`
/// bytes can produce and against the budget before anything is allocated, the buffer is reserved
/// fallibly, and decoding stops one byte past `size`, so a lying header cannot make it expand.
fn inflate(
    mut reader: impl Read,
    entry: &str,
    size: u64,
    compressed: u64,
    budget: &mut Budget,
) -> Result<Vec<u8>, ZipError> {
    let corrupt = |what: String| ZipError::Corrupt {
        entry: entry.to_string(),
        what,
    };
    if size > deflate_can_produce(compressed) {
        return Err(corrupt(format!(
            "declares {size} bytes, more than {compressed} deflated bytes can hold"
        )));
    }
    budget.spend(entry, size)?;
    let mut out = Vec::new();
    usize::try_from(size)
        .ok()
        .and_then(|n| out.try_reserve_exact(n).ok())
        .ok_or_else(|| corrupt(format!("cannot allocate {size} bytes")))?;
    (&mut reader)
        .take(size.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| corrupt(format!("deflate: {}", printable(&e.to_string(), 200))))?;
    if out.len() as u64 != size {
        return Err(corrupt(if out.len() as u64 > size {
            format!("expands past the {size} bytes its header declares")
        } else {
            format!("size {} does not match the header's {size}", out.len())
        }));
    }
    Ok(out)
}

fn parse(src: &mut impl Source, limits: &ReadLimits) -> Result<Vec<Entry>, ZipError> {
    let mut budget = Budget {
        cap: limits.max_expand,
        used: 0,
    };
    let io_err = |entry: &str, e: io::Error| ZipError::Corrupt {
        entry: entry.to_string(),
        what: format!("read error: {e}"),
    };
    let mut entries: Vec<Entry> = Vec::new();
    loop {
        let last = entries.last().map(|e| e.name.clone()).unwrap_or_default();
        let sig = src.take(4).map_err(|e| io_err(&last, e))?;
        if entries.is_empty() && sig.is_empty() {
            return Err(ZipError::Empty);
        }
        if sig.len() < 4 {
            if entries.is_empty() {
                return Err(ZipError::NotZip);
            }
            return Err(ZipError::Truncated {
                entry: "(central directory)".into(),
                need: 4,
                have: sig.len() as u64,
            });
        }
        match u32_at(&sig, 0) {
            LOCAL_SIG => {}
            CENTRAL_SIG | EOCD_SIG if !entries.is_empty() => {
                // Every entry is read; still insist on a complete archive, as numpy would.
                let rest = src.rest().map_err(|e| io_err("(central directory)", e))?;
                let mut tail = sig.to_vec();
                tail.extend_from_slice(&rest);
                let window = tail.len().saturating_sub(22 + 0xffff);
                let has_end = tail.len() >= 22
                    && (window..=tail.len() - 22)
                        .rev()
                        .any(|at| u32_at(&tail, at) == EOCD_SIG);
                if !has_end {
                    return Err(ZipError::Truncated {
                        entry: "(central directory)".into(),
                        need: 22,
                        have: tail.len() as u64,
                    });
                }
                return Ok(entries);
            }
            _ if entries.is_empty() => return Err(ZipError::NotZip),
            _ => {
                return Err(ZipError::Corrupt {
                    entry: last,
                    what: "unexpected bytes after it".into(),
                });
            }
        }
        let fixed = src.take(26).map_err(|e| io_err("(local header)", e))?;
        if fixed.len() < 26 {
            return Err(ZipError::Truncated {
                entry: "(local header)".into(),
                need: 30,
                have: 4 + fixed.len() as u64,
            });
        }
        let flags = u16_at(&fixed, 2);
        let method = u16_at(&fixed, 4);
        let crc = u32_at(&fixed, 10);
        let mut csize = u32_at(&fixed, 14) as u64;
        let mut usize_ = u32_at(&fixed, 18) as u64;
        let name_len = u16_at(&fixed, 22) as usize;
        let extra_len = u16_at(&fixed, 24) as usize;
        let var = src
            .take((name_len + extra_len) as u64)
            .map_err(|e| io_err("(local header)", e))?;
        if var.len() < name_len + extra_len {
            return Err(ZipError::Truncated {
                entry: "(local header)".into(),
                need: (name_len + extra_len) as u64,
                have: var.len() as u64,
            });
        }
        let name = String::from_utf8_lossy(&var[..name_len]).into_owned();
        if flags & 0x8 != 0 {
            // Sizes live after the data: only the central directory can tell them.
            if !entries.is_empty() {
                return Err(ZipError::Corrupt {
                    entry: name,
                    what: "data descriptor after stored entries".into(),
                });
            }
            let taken: Vec<u8> = [&sig[..], &fixed[..], &var[..]].concat();
            let whole = src.whole(&taken).map_err(|e| io_err(&name, e))?;
            return read_with_central_directory(
                &whole.expect("sources return the whole input"),
                limits,
            );
        }
        if flags & 0x1 != 0 {
            return Err(ZipError::Corrupt {
                entry: name,
                what: "encrypted entries are not supported".into(),
            });
        }
        let extra = &var[name_len..];
        if csize == U32_MAX || usize_ == U32_MAX {
            let mut at = 0;
            while at + 4 <= extra.len() {
                let id = u16_at(extra, at);
                let len = u16_at(extra, at + 2) as usize;
                if id == ZIP64_EXTRA && at + 4 + len <= extra.len() {
                    let mut field = at + 4;
                    if usize_ == U32_MAX && field + 8 <= at + 4 + len {
                        usize_ = u64_at(extra, field);
                        field += 8;
                    }
                    if csize == U32_MAX && field + 8 <= at + 4 + len {
                        csize = u64_at(extra, field);
                    }
                }
                at += 4 + len;
            }
        }
        let raw = src.take(csize).map_err(|e| io_err(&name, e))?;
        if (raw.len() as u64) < csize {
            return Err(ZipError::Truncated {
                entry: name,
                need: csize,
                have: raw.len() as u64,
            });
        }
        let data = match method {
            0 => raw,
            8 => Bytes::from(inflate(
                flate2::read::DeflateDecoder::new(&raw[..]),
                &name,
                usize_,
                csize,
                &mut budget,
            )?),
            m => {
                return Err(ZipError::Corrupt {
                    entry: name,
                    what: format!(
                        "compression method {m} is not supported (only stored and deflate)"
                    ),
                });
            }
        };
        if data.len() as u64 != usize_ {
            return Err(ZipError::Corrupt {
                entry: name,
                what: format!("size {} does not match the header's {usize_}", data.len()),
            });
        }
        if data.crc32() != crc {
            return Err(ZipError::Corrupt {
                entry: name,
                what: "CRC mismatch".into(),
            });
        }
        entries.push(Entry { name, data });
    }
}

fn read_with_central_directory(bytes: &Bytes, limits: &ReadLimits) -> Result<Vec<Entry>, ZipError> {
    let corrupt = |what: String| ZipError::Corrupt {
        entry: "(central directory)".into(),
        what: printable(&what, 200),
    };
    let mut archive =
        zip::ZipArchive::new(io::Cursor::new(&bytes[..])).map_err(|e| corrupt(e.to_string()))?;
    let mut budget = Budget {
        cap: limits.max_expand,
        used: 0,
    };
    // Each entry takes at least a 46-byte central record: a larger count is not in this file.
    let mut entries = Vec::with_capacity(archive.len().min(bytes.len() / 46));
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).map_err(|e| corrupt(e.to_string()))?;
        let name = file
            .name()
            .map_err(|e| corrupt(e.to_string()))?
            .into_owned();
        let (size, compressed) = (file.size(), file.compressed_size());
        let data = match file.compression() {
            zip::CompressionMethod::Stored => {
                if size != compressed || size > bytes.len() as u64 {
                    return Err(ZipError::Corrupt {
                        entry: name,
                        what: format!("stored entry of {size} bytes in a {compressed}-byte space"),
                    });
                }
                let mut out = Vec::with_capacity(size as usize);
                (&mut file)
                    .take(size + 1)
                    .read_to_end(&mut out)
                    .map_err(|e| ZipError::Corrupt {
                        entry: name.clone(),
                        what: printable(&e.to_string(), 200),
                    })?;
                if out.len() as u64 != size {
                    return Err(ZipError::Corrupt {
                        entry: name,
                        what: format!("size {} does not match the header's {size}", out.len()),
                    });
                }
                out
            }
            zip::CompressionMethod::Deflated => {
                inflate(&mut file, &name, size, compressed, &mut budget)?
            }
            m => {
                return Err(ZipError::Corrupt {
                    entry: name,
                    what: format!(
                        "compression method {m:?} is not supported (only stored and deflate)"
                    ),
                });
            }
        };
        entries.push(Entry {
            name,
            data: Bytes::from(data),
        });
    }
    Ok(entries)
}
