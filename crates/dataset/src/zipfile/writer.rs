//! Writing our layout: stored entries, sizes in the local headers, data on [`ALIGN`] boundaries,
//! a fixed timestamp; to any writer, or with a body streamed into a seekable one.

use std::io::{self, Seek, SeekFrom, Write};

use super::*;

struct CentralEntry {
    name: String,
    crc: u32,
    size: u64,
    offset: u64,
}

/// Streams stored, aligned entries to any writer.
pub struct ZipWriter<W: Write> {
    out: W,
    offset: u64,
    entries: Vec<CentralEntry>,
}

impl<W: Write> ZipWriter<W> {
    pub fn new(out: W) -> Self {
        ZipWriter {
            out,
            offset: 0,
            entries: Vec::new(),
        }
    }

    /// Writes one entry whose content is the concatenation of `parts`, each with its CRC-32 when
    /// the caller knows it (computed here otherwise, in parallel for large parts).
    pub fn add(&mut self, name: &str, parts: &[(&[u8], Option<u32>)]) -> io::Result<()> {
        let crc = combined_crc(parts.iter().map(|(part, crc)| {
            let crc = crc.unwrap_or_else(|| crate::bytes::crc32(part));
            (crc, part.len() as u64)
        }));
        let size: u64 = parts.iter().map(|(part, _)| part.len() as u64).sum();
        let header = self.local_header(name, crc, size);
        self.out.write_all(&header)?;
        for (i, (part, _)) in parts.iter().enumerate() {
            self.out.write_all(part)?;
            if i == 0 {
                self.test_abort_point(name)?;
            }
        }
        self.record(name, crc, header.len() as u64, size);
        Ok(())
    }

    /// The test hook `entry:NAME` ([`crate::fault`]): what was written so far reaches the file,
    /// then the process dies.
    fn test_abort_point(&mut self, name: &str) -> io::Result<()> {
        if crate::fault::reached(&format!("entry:{name}")) {
            self.out.flush()?;
            crate::fault::kill_self();
        }
        Ok(())
    }

    /// Adds a written entry to the central directory and moves the offset past it.
    fn record(&mut self, name: &str, crc: u32, header_len: u64, size: u64) {
        self.entries.push(CentralEntry {
            name: name.to_string(),
            crc,
            size,
            offset: self.offset,
        });
        self.offset += header_len + size;
    }

    /// The local header of an entry of `size` bytes starting at the current offset, padded so
    /// that the data starts on an [`ALIGN`] boundary.
    fn local_header(&self, name: &str, crc: u32, size: u64) -> Vec<u8> {
        let zip64 = size >= U32_MAX || self.offset >= U32_MAX;
        let mut extra = Vec::new();
        if zip64 {
            put16(&mut extra, ZIP64_EXTRA);
            put16(&mut extra, 16);
            put64(&mut extra, size);
            put64(&mut extra, size);
        }
        let unpadded = self.offset + 30 + name.len() as u64 + extra.len() as u64;
        let mut pad = (ALIGN - unpadded % ALIGN) % ALIGN;
        if pad != 0 && pad < 4 {
            pad += ALIGN;
        }
        if pad != 0 {
            put16(&mut extra, PADDING_EXTRA);
            put16(&mut extra, (pad - 4) as u16);
            extra.resize(extra.len() + pad as usize - 4, 0);
        }

        let mut header = Vec::with_capacity(30 + name.len() + extra.len());
        put32(&mut header, LOCAL_SIG);
        put16(&mut header, if zip64 { 45 } else { 20 });
        put16(&mut header, 0); // flags: sizes are known, no data descriptor
        put16(&mut header, 0); // method: stored
        put16(&mut header, 0); // time
        put16(&mut header, DOS_DATE);
        put32(&mut header, crc);
        let small = if zip64 { U32_MAX as u32 } else { size as u32 };
        put32(&mut header, small);
        put32(&mut header, small);
        put16(&mut header, name.len() as u16);
        put16(&mut header, extra.len() as u16);
        header.extend_from_slice(name.as_bytes());
        header.extend_from_slice(&extra);
        header
    }
    /// Writes the central directory and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        let cd_offset = self.offset;
        let mut cd = Vec::new();
        for e in &self.entries {
            let big_size = e.size >= U32_MAX;
            let big_offset = e.offset >= U32_MAX;
            let mut extra = Vec::new();
            if big_size || big_offset {
                put16(&mut extra, ZIP64_EXTRA);
                put16(
                    &mut extra,
                    (if big_size { 16 } else { 0 }) + if big_offset { 8 } else { 0 },
                );
                if big_size {
                    put64(&mut extra, e.size);
                    put64(&mut extra, e.size);
                }
                if big_offset {
                    put64(&mut extra, e.offset);
                }
            }
            let version = if extra.is_empty() { 20 } else { 45 };
            put32(&mut cd, CENTRAL_SIG);
            put16(&mut cd, (3 << 8) | 45); // made by: unix, spec 4.5
            put16(&mut cd, version);
            put16(&mut cd, 0);
            put16(&mut cd, 0);
            put16(&mut cd, 0);
            put16(&mut cd, DOS_DATE);
            put32(&mut cd, e.crc);
            let small = e.size.min(U32_MAX) as u32;
            put32(&mut cd, small);
            put32(&mut cd, small);
            put16(&mut cd, e.name.len() as u16);
            put16(&mut cd, extra.len() as u16);
            put16(&mut cd, 0); // comment
            put16(&mut cd, 0); // disk
            put16(&mut cd, 0); // internal attributes
            put32(&mut cd, 0o100644 << 16); // external attributes: a regular rw-r--r-- file
            put32(&mut cd, e.offset.min(U32_MAX) as u32);
            cd.extend_from_slice(e.name.as_bytes());
            cd.extend_from_slice(&extra);
        }
        let cd_size = cd.len() as u64;
        let count = self.entries.len() as u64;
        if cd_offset >= U32_MAX || count >= 0xffff {
            let eocd64_offset = cd_offset + cd_size;
            put32(&mut cd, EOCD64_SIG);
            put64(&mut cd, 44);
            put16(&mut cd, 45);
            put16(&mut cd, 45);
            put32(&mut cd, 0);
            put32(&mut cd, 0);
            put64(&mut cd, count);
            put64(&mut cd, count);
            put64(&mut cd, cd_size);
            put64(&mut cd, cd_offset);
            put32(&mut cd, EOCD64_LOCATOR_SIG);
            put32(&mut cd, 0);
            put64(&mut cd, eocd64_offset);
            put32(&mut cd, 1);
        }
        put32(&mut cd, EOCD_SIG);
        put16(&mut cd, 0);
        put16(&mut cd, 0);
        put16(&mut cd, count.min(0xffff) as u16);
        put16(&mut cd, count.min(0xffff) as u16);
        put32(&mut cd, cd_size.min(U32_MAX) as u32);
        put32(&mut cd, cd_offset.min(U32_MAX) as u32);
        put16(&mut cd, 0);
        self.out.write_all(&cd)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Offset of the CRC-32 in a local header.
const LOCAL_CRC_AT: u64 = 14;

impl<W: Write + Seek> ZipWriter<W> {
    /// Writes one entry of `head` followed by `body_len` bytes that `body` writes and returns the
    /// CRC-32 of. The entry's CRC is written into its local header afterwards, so the body is
    /// streamed once and never held whole; the bytes are those [`ZipWriter::add`] would write.
    pub fn add_streamed(
        &mut self,
        name: &str,
        head: &[u8],
        body_len: u64,
        body: impl FnOnce(&mut W) -> io::Result<u32>,
    ) -> io::Result<()> {
        let size = head.len() as u64 + body_len;
        let header = self.local_header(name, 0, size);
        let start = self.out.stream_position()?;
        self.out.write_all(&header)?;
        self.out.write_all(head)?;
        self.test_abort_point(name)?;
        let body_crc = body(&mut self.out)?;
        let end = self.out.stream_position()?;
        if end - start != header.len() as u64 + size {
            return Err(io::Error::other(format!(
                "entry '{name}': {} bytes written, {size} announced",
                end - start - header.len() as u64
            )));
        }
        let crc = combined_crc([
            (crate::bytes::crc32(head), head.len() as u64),
            (body_crc, body_len),
        ]);
        self.out.seek(SeekFrom::Start(start + LOCAL_CRC_AT))?;
        self.out.write_all(&crc.to_le_bytes())?;
        self.out.seek(SeekFrom::Start(end))?;
        self.record(name, crc, header.len() as u64, size);
        Ok(())
    }
}

/// The CRC-32 of consecutive parts, from each part's CRC-32 and length.
fn combined_crc(parts: impl IntoIterator<Item = (u32, u64)>) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    for (crc, len) in parts {
        hasher.combine(&crc32fast::Hasher::new_with_initial_len(crc, len));
    }
    hasher.finalize()
}

fn put16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn put32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn put64(v: &mut Vec<u8>, x: u64) {
    v.extend_from_slice(&x.to_le_bytes());
}
