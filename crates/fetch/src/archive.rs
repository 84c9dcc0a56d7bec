//! Reading the compressed inputs the official datasets come in: gzip detected by its magic bytes
//! (so `x.gz` and an already gunzipped `x` both work) and tar archives visited entry by entry
//! without extracting anything to disk.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use flate2::bufread::MultiGzDecoder;

/// True when `bytes` start with the gzip magic number.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// Opens a file for reading, decompressing it on the fly if it is gzip.
pub fn open_maybe_gz(path: &Path) -> io::Result<Box<dyn Read + Send>> {
    maybe_gunzip(BufReader::with_capacity(1 << 20, File::open(path)?))
}

/// Wraps a buffered reader in a gzip decoder when its first bytes are the gzip magic number.
pub fn maybe_gunzip<'a, R: BufRead + Send + 'a>(
    mut reader: R,
) -> io::Result<Box<dyn Read + Send + 'a>> {
    let gz = is_gzip(reader.fill_buf()?);
    Ok(if gz {
        Box::new(MultiGzDecoder::new(reader))
    } else {
        Box::new(reader)
    })
}

/// The whole content of a file, gunzipped if it is gzip.
pub fn read_maybe_gz(path: &Path) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    open_maybe_gz(path)?.read_to_end(&mut out)?;
    Ok(out)
}

/// A reader that yields at most `cap` bytes of `inner` and then fails, remembering that it did:
/// what a compressed input may expand to is bounded, and the caller can tell that bound apart
/// from other read errors (a tar or gzip reader may rewrap the error it sees).
pub struct Capped<R> {
    inner: R,
    left: u64,
    exceeded: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl<R: Read> Capped<R> {
    /// `inner`, cut off after `cap` bytes.
    pub fn new(inner: R, cap: u64) -> Capped<R> {
        Capped {
            inner,
            left: cap,
            exceeded: Default::default(),
        }
    }

    /// A flag that turns true when the input went past the cap.
    pub fn exceeded(&self) -> std::sync::Arc<std::sync::atomic::AtomicBool> {
        std::sync::Arc::clone(&self.exceeded)
    }
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            // Past the cap only if there is more to read.
            let mut probe = [0u8; 1];
            if self.inner.read(&mut probe)? == 0 {
                return Ok(0);
            }
            self.exceeded
                .store(true, std::sync::atomic::Ordering::Relaxed);
            return Err(io::Error::other("the input expands past its cap"));
        }
        let want = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// Calls `visit(path_in_archive, size, reader)` for every regular file of a tar stream, in
/// archive order; stops at the first error `visit` returns.
pub fn visit_tar<E: From<io::Error>>(
    reader: impl Read,
    mut visit: impl FnMut(&str, u64, &mut dyn Read) -> Result<(), E>,
) -> Result<(), E> {
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries()? {
        let mut entry = entry?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path()?.to_string_lossy().into_owned();
        let size = entry.size();
        visit(&path, size, &mut entry)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reads_gzip_and_plain_files_alike() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..5000u32).map(|i| (i % 256) as u8).collect();
        let plain = dir.path().join("x");
        std::fs::write(&plain, &data).unwrap();
        let gz = dir.path().join("x.gz");
        let mut enc = flate2::write::GzEncoder::new(File::create(&gz).unwrap(), Default::default());
        enc.write_all(&data).unwrap();
        enc.finish().unwrap();
        assert_eq!(read_maybe_gz(&plain).unwrap(), data);
        assert_eq!(read_maybe_gz(&gz).unwrap(), data);
    }

    #[test]
    fn a_capped_reader_stops_at_its_cap_and_says_so() {
        let data = [7u8; 100];
        let mut exact = Capped::new(&data[..], 100);
        let mut out = Vec::new();
        exact.read_to_end(&mut out).unwrap();
        assert_eq!(out.len(), 100);
        assert!(!exact.exceeded().load(std::sync::atomic::Ordering::Relaxed));

        let mut short = Capped::new(&data[..], 99);
        let flag = short.exceeded();
        let mut out = Vec::new();
        assert!(short.read_to_end(&mut out).is_err());
        assert_eq!(out.len(), 99);
        assert!(flag.load(std::sync::atomic::Ordering::Relaxed));
    }

    #[test]
    fn visits_regular_files_in_order() {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, body) in [("d/a.txt", &b"one"[..]), ("d/b.bin", &b"second"[..])] {
            let mut header = tar::Header::new_gnu();
            header.set_size(body.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, name, body).unwrap();
        }
        let bytes = builder.into_inner().unwrap();
        let mut seen = Vec::new();
        visit_tar::<io::Error>(&bytes[..], |path, size, r| {
            let mut s = String::new();
            r.read_to_string(&mut s)?;
            seen.push((path.to_string(), size, s));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            seen,
            vec![
                ("d/a.txt".into(), 3, "one".into()),
                ("d/b.bin".into(), 6, "second".into())
            ]
        );
    }
}
