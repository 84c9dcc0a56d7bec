//! The one way a rethink tool downloads: stream to a temporary file beside the cache entry while
//! hashing, compare with the published MD5, and only then rename into place. A cache entry whose
//! MD5 matches is used as is, so a verified file is never downloaded again and a failed or
//! corrupted download never leaves anything behind.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use md5::{Digest, Md5};

/// Why a download did not produce a verified file.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The server could not be reached or the transfer broke off.
    #[error("cannot download {url}: {message}")]
    Network {
        /// The address asked for.
        url: String,
        /// What went wrong, as the HTTP client said it.
        message: String,
    },
    /// The bytes arrived but are not the published file.
    #[error("{url}: MD5 is {actual}, expected {expected} (download discarded)")]
    Md5Mismatch {
        /// The address downloaded.
        url: String,
        /// The published MD5 (lowercase hex).
        expected: String,
        /// The MD5 of the bytes received.
        actual: String,
    },
    /// The cache or a temporary file beside it could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The local file concerned.
        path: String,
        /// The operating system's error.
        source: io::Error,
    },
}

impl FetchError {
    /// True when the failure is the network's (the case where `--archive`/`--dir` helps).
    pub fn is_network(&self) -> bool {
        matches!(self, FetchError::Network { .. })
    }
}

/// A verified local file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    /// Where the verified file lies (in the cache).
    pub path: PathBuf,
    /// Lowercase hex MD5 of the file.
    pub md5: String,
    /// False when a verified cached copy was used.
    pub downloaded: bool,
}

/// Lowercase hex MD5 of `bytes`.
pub fn md5_hex(bytes: &[u8]) -> String {
    hex(&Md5::digest(bytes))
}

/// Lowercase hex MD5 of a file, read in 1 MiB blocks.
pub fn md5_file(path: &Path) -> io::Result<String> {
    let mut reader = BufReader::with_capacity(1 << 20, File::open(path)?);
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// A reader that computes the MD5 of everything read through it.
pub struct Md5Reader<R> {
    inner: R,
    hasher: Md5,
}

impl<R: Read> Md5Reader<R> {
    /// Reads from `inner`, hashing from here on.
    pub fn new(inner: R) -> Md5Reader<R> {
        Md5Reader {
            inner,
            hasher: Md5::new(),
        }
    }

    /// Reads what is left of the input and returns the lowercase hex MD5 of all of it.
    pub fn finish(mut self) -> io::Result<String> {
        io::copy(&mut self, &mut io::sink())?;
        Ok(hex(&self.hasher.finalize()))
    }
}

impl<R: Read> Read for Md5Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Reads a file on a background thread that computes its MD5 meanwhile, so hashing overlaps
/// with whatever consumes the bytes (decompression, parsing). The returned handle yields the
/// MD5 of the whole file once the reader has been dropped or read to the end.
pub fn read_hashing(
    path: &Path,
) -> io::Result<(ChannelReader, std::thread::JoinHandle<io::Result<String>>)> {
    let mut file = File::open(path)?;
    let (send, receive) = std::sync::mpsc::sync_channel::<Vec<u8>>(8);
    let handle = std::thread::spawn(move || -> io::Result<String> {
        let mut hasher = Md5::new();
        let mut consumer_gone = false;
        loop {
            let mut buf = vec![0u8; 1 << 20];
            let n = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            buf.truncate(n);
            hasher.update(&buf);
            if !consumer_gone && send.send(buf).is_err() {
                // The consumer stopped early: keep hashing to the end of the file.
                consumer_gone = true;
            }
        }
        Ok(hex(&hasher.finalize()))
    });
    Ok((
        ChannelReader {
            receive,
            chunk: Vec::new(),
            at: 0,
        },
        handle,
    ))
}

/// The reading end of [`read_hashing`].
pub struct ChannelReader {
    receive: std::sync::mpsc::Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.chunk.len() {
            match self.receive.recv() {
                Ok(chunk) => {
                    self.chunk = chunk;
                    self.at = 0;
                }
                // The sender is gone: end of file (or a read error, reported by the handle).
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Returns `cache` if it holds a file with MD5 `md5`, else downloads `url` into it.
///
/// The download goes to a temporary file in the cache's directory and is renamed over `cache`
/// only when its MD5 matches; on any error nothing is left behind. Progress is drawn on stderr
/// when stderr is a terminal.
pub fn fetch_cached(url: &str, cache: &Path, md5: &str) -> Result<Fetched, FetchError> {
    let expected = md5.to_ascii_lowercase();
    let io_err = |path: &Path| {
        let path = path.display().to_string();
        move |source| FetchError::Io { path, source }
    };
    if cache.is_file() {
        let actual = md5_file(cache).map_err(io_err(cache))?;
        if actual == expected {
            return Ok(Fetched {
                path: cache.to_path_buf(),
                md5: actual,
                downloaded: false,
            });
        }
        eprintln!(
            "note: {} has MD5 {actual}, expected {expected}: downloading it again",
            cache.display()
        );
    }
    let dir = match cache.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;

    let network = |message: String| FetchError::Network {
        url: url.to_string(),
        message,
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(20)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .build()
        .into();
    let response = agent.get(url).call().map_err(|e| network(e.to_string()))?;
    let body = response.into_body();
    let len = body.content_length();
    let mut reader = body.into_reader();

    let file_name = cache
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{file_name}."))
        .suffix(".part")
        .tempfile_in(dir)
        .map_err(io_err(dir))?;
    let bar = byte_progress(len, &file_name);
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(network(e.to_string())),
        };
        hasher.update(&buf[..n]);
        tmp.write_all(&buf[..n]).map_err(io_err(tmp.path()))?;
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    let actual = hex(&hasher.finalize());
    if actual != expected {
        return Err(FetchError::Md5Mismatch {
            url: url.to_string(),
            expected,
            actual,
        });
    }
    tmp.as_file().sync_all().map_err(io_err(tmp.path()))?;
    tmp.persist(cache).map_err(|e| FetchError::Io {
        path: cache.display().to_string(),
        source: e.error,
    })?;
    Ok(Fetched {
        path: cache.to_path_buf(),
        md5: actual,
        downloaded: true,
    })
}

fn byte_progress(len: Option<u64>, name: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = match len {
        Some(n) => indicatif::ProgressBar::new(n),
        None => indicatif::ProgressBar::no_length(),
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_message(format!("downloading {name}"));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_while_hashing_gives_the_bytes_and_their_md5() {
        let dir = tempfile::tempdir().unwrap();
        let body: Vec<u8> = (0..3_000_000u32).map(|i| (i * 13 % 255) as u8).collect();
        let path = dir.path().join("f");
        std::fs::write(&path, &body).unwrap();
        let (mut reader, handle) = read_hashing(&path).unwrap();
        let mut got = Vec::new();
        reader.read_to_end(&mut got).unwrap();
        assert_eq!(got, body);
        assert_eq!(handle.join().unwrap().unwrap(), md5_hex(&body));
        // Stopping early still hashes the whole file.
        let (mut reader, handle) = read_hashing(&path).unwrap();
        reader.read_exact(&mut [0u8; 10]).unwrap();
        drop(reader);
        assert_eq!(handle.join().unwrap().unwrap(), md5_hex(&body));
    }

    #[test]
    fn md5_of_known_strings() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
    }
}
