//! Shared, immutable byte storage so arrays read from a file are views into one mapping (or one
//! buffer read from a pipe) instead of copies, plus the two things every large array needs on
//! its way through a pipeline: fresh memory that is cheap to fault in, and a CRC-32 computed once.

use std::fmt;
use std::ops::{Deref, DerefMut, Range};
use std::sync::{Arc, OnceLock};

use rayon::prelude::*;

/// A cheaply clonable view into bytes owned by a memory map or a `Vec<u8>`.
///
/// A view remembers the CRC-32 of its bytes once it is known (verified on read, or computed for
/// a write), and its clones share it: writing a dataset that was read and left unchanged does not
/// hash its arrays again.
#[derive(Clone)]
pub struct Bytes {
    owner: Arc<dyn AsRef<[u8]> + Send + Sync>,
    /// The owner again when it is a read-only file mapping, whose pages can be given back.
    map: Option<Arc<memmap2::Mmap>>,
    /// The file under that mapping (mapped from offset 0), for [`Bytes::copy_to`]'s reads.
    file: Option<Arc<std::fs::File>>,
    range: Range<usize>,
    crc: Arc<OnceLock<u32>>,
}

impl Bytes {
    /// Wraps any owner of bytes (a `Vec<u8>`, a `memmap2::Mmap`, a [`Buffer`], ...).
    pub fn new(owner: impl AsRef<[u8]> + Send + Sync + 'static) -> Bytes {
        let len = owner.as_ref().len();
        Bytes {
            owner: Arc::new(owner),
            map: None,
            file: None,
            range: 0..len,
            crc: Arc::default(),
        }
    }

    /// Wraps a read-only memory map of all of `file` (from offset 0), so that [`Bytes::release`]
    /// can give its pages back and [`Bytes::copy_to`] can read instead of faulting pages in.
    pub fn mapped(map: memmap2::Mmap, file: std::fs::File) -> Bytes {
        let len = map.len();
        let map = Arc::new(map);
        Bytes {
            owner: map.clone(),
            map: Some(map),
            file: Some(Arc::new(file)),
            range: 0..len,
            crc: Arc::default(),
        }
    }

    /// Gives the pages under `range` (relative to this view, widened to whole pages) back to the
    /// kernel when the bytes are a file mapping: they leave the process's resident set and are
    /// read again from the page cache or the disk if touched later, with the same contents (the
    /// mapping is read-only). Bytes held in memory are left alone. For streaming a file larger
    /// than memory: release what was consumed.
    pub fn release(&self, range: Range<usize>) {
        assert!(
            range.start <= range.end && range.end <= self.len(),
            "release out of bounds"
        );
        if let Some(map) = &self.map
            && !range.is_empty()
        {
            // SAFETY: MADV_DONTNEED on a read-only (never written) file mapping only drops page
            // table entries; later reads fault the same file contents back in, so every slice
            // into the mapping keeps reading the bytes it read before.
            #[cfg(unix)]
            unsafe {
                let _ = map.unchecked_advise_range(
                    memmap2::UncheckedAdvice::DontNeed,
                    self.range.start + range.start,
                    range.len(),
                );
            }
        }
    }

    /// Copies the bytes under `range` (relative to this view) into `out`, leaving nothing
    /// resident: from a file mapping they are read from the file (`pread`, through the page
    /// cache, no page of the mapping faulted in, nothing to release, no TLB flush on other
    /// threads), otherwise copied from memory. What streaming uses to gather rows.
    pub fn copy_to(&self, range: Range<usize>, out: &mut [u8]) {
        assert!(
            range.start <= range.end && range.end <= self.len() && out.len() == range.len(),
            "copy_to out of bounds"
        );
        #[cfg(unix)]
        if let Some(file) = &self.file {
            use std::os::unix::fs::FileExt;
            let at = (self.range.start + range.start) as u64;
            if file.read_exact_at(out, at).is_ok() {
                return;
            }
            // A read error: copy through the mapping instead, which faults the same pages.
        }
        out.copy_from_slice(&self[range.clone()]);
        self.release(range);
    }

    /// Asks the kernel to start reading the file pages under `range` into the page cache
    /// (`madvise` WILLNEED on a file mapping: readahead, nothing mapped in), so a later
    /// [`Bytes::copy_to`] of a cold range finds it read or on its way. Bytes in memory: nothing.
    pub fn will_need(&self, range: Range<usize>) {
        assert!(
            range.start <= range.end && range.end <= self.len(),
            "will_need out of bounds"
        );
        if let Some(map) = &self.map
            && !range.is_empty()
        {
            let _ = map.advise_range(
                memmap2::Advice::WillNeed,
                self.range.start + range.start,
                range.len(),
            );
        }
    }

    /// A sub-view; `range` is relative to this view.
    pub fn slice(&self, range: Range<usize>) -> Bytes {
        assert!(
            range.start <= range.end && range.end <= self.len(),
            "slice out of bounds"
        );
        let crc = if range == (0..self.len()) {
            Arc::clone(&self.crc)
        } else {
            Arc::default()
        };
        Bytes {
            owner: Arc::clone(&self.owner),
            map: self.map.clone(),
            file: self.file.clone(),
            range: self.range.start + range.start..self.range.start + range.end,
            crc,
        }
    }

    /// The bytes as an owned vector (copies: views share their owner).
    pub fn to_vec(&self) -> Vec<u8> {
        self.deref().to_vec()
    }

    /// The CRC-32 (zip's, IEEE) of these bytes: remembered, or computed in parallel and then
    /// remembered.
    ///
    /// The bytes of a file mapping are hashed chunk by chunk and each chunk's pages given back
    /// after it ([`Bytes::release`]): a file is verified when it is read, long before its images
    /// are used, and verifying one larger than memory must not make it resident.
    pub fn crc32(&self) -> u32 {
        *self.crc.get_or_init(|| {
            if self.map.is_none() {
                return crc32(self);
            }
            let n = self.len();
            (0..n.div_ceil(CRC_CHUNK))
                .into_par_iter()
                .map(|i| {
                    let range = i * CRC_CHUNK..((i + 1) * CRC_CHUNK).min(n);
                    let mut h = crc32fast::Hasher::new();
                    h.update(&self[range.clone()]);
                    self.release(range);
                    h
                })
                .reduce_with(|mut a, b| {
                    a.combine(&b);
                    a
                })
                .map_or(crc32fast::hash(&[]), |h| h.finalize())
        })
    }

    /// Records a CRC-32 the caller has established for exactly these bytes.
    pub(crate) fn know_crc32(&self, crc: u32) {
        debug_assert_eq!(crc, crc32(self), "a wrong CRC-32 was recorded");
        let _ = self.crc.set(crc);
    }

    /// The remembered CRC-32, if any (for tests).
    pub fn known_crc32(&self) -> Option<u32> {
        self.crc.get().copied()
    }
}

impl Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &(*self.owner).as_ref()[self.range.clone()]
    }
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Bytes {
        Bytes::new(v)
    }
}

impl From<Buffer> for Bytes {
    fn from(b: Buffer) -> Bytes {
        b.freeze()
    }
}

impl PartialEq for Bytes {
    fn eq(&self, other: &Bytes) -> bool {
        self.deref() == other.deref()
    }
}

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bytes({} bytes)", self.len())
    }
}

/// Buffers at least this large live in anonymous memory advised for transparent huge pages.
const HUGE: usize = 4 << 20;

/// A zero-filled, writable byte buffer for a new array, to be frozen into [`Bytes`].
///
/// Large buffers are anonymous mappings advised for transparent huge pages and populated in one
/// call: faulting 184 MB in 4 KiB pages one by one (45,000 faults) cost more than copying the
/// bytes, and each pipeline stage makes its arrays fresh.
pub struct Buffer(BufferInner);

enum BufferInner {
    Small(Vec<u8>),
    Mapped(memmap2::MmapMut),
}

impl Buffer {
    /// `len` zero bytes.
    pub fn zeroed(len: usize) -> Buffer {
        if len >= HUGE
            && let Ok(mut map) = memmap2::MmapOptions::new().len(len).map_anon()
        {
            // Advice is best effort: without huge pages the memory is still correct.
            let _ = map.advise(memmap2::Advice::HugePage);
            if map.advise(memmap2::Advice::PopulateWrite).is_err() {
                // Kernels before 5.14: touch one byte per page instead.
                for at in (0..len).step_by(4096) {
                    map[at] = 0;
                }
            }
            return Buffer(BufferInner::Mapped(map));
        }
        Buffer(BufferInner::Small(vec![0; len]))
    }

    /// Room for up to `len` bytes that a stream declares but may not deliver: the memory is
    /// reserved, not touched ([`Buffer::populate`] faults it in window by window as data comes),
    /// so a lying size costs address space only, and an impossible one is an error, not an abort.
    pub(crate) fn reserve(len: usize) -> std::io::Result<Buffer> {
        if len < HUGE {
            return Ok(Buffer(BufferInner::Small(vec![0; len])));
        }
        if len > isize::MAX as usize {
            return Err(std::io::Error::other(format!(
                "cannot allocate {len} bytes"
            )));
        }
        let map = memmap2::MmapOptions::new()
            .len(len)
            .map_anon()
            .map_err(|e| std::io::Error::other(format!("cannot allocate {len} bytes: {e}")))?;
        let _ = map.advise(memmap2::Advice::HugePage);
        Ok(Buffer(BufferInner::Mapped(map)))
    }

    /// Faults in `range` of a [`Buffer::reserve`]d buffer in one call (best effort: pages fault
    /// in one by one otherwise).
    pub(crate) fn populate(&mut self, range: Range<usize>) {
        if let BufferInner::Mapped(map) = &self.0
            && range.start < range.end
        {
            let _ = map.advise_range(
                memmap2::Advice::PopulateWrite,
                range.start,
                range.end - range.start,
            );
        }
    }

    /// The buffer as immutable shared bytes.
    pub fn freeze(self) -> Bytes {
        match self.0 {
            BufferInner::Small(v) => Bytes::new(v),
            // Shared immutably from here on: no need to mprotect it.
            BufferInner::Mapped(m) => Bytes::new(m),
        }
    }
}

impl Deref for Buffer {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.0 {
            BufferInner::Small(v) => v,
            BufferInner::Mapped(m) => m,
        }
    }
}

impl DerefMut for Buffer {
    fn deref_mut(&mut self) -> &mut [u8] {
        match &mut self.0 {
            BufferInner::Small(v) => v,
            BufferInner::Mapped(m) => m,
        }
    }
}

/// Chunk of the parallel CRC: large enough that combining is free, small enough to split work.
const CRC_CHUNK: usize = 4 << 20;

/// The CRC-32 (IEEE) of `data`, computed over chunks in parallel for large inputs.
pub fn crc32(data: &[u8]) -> u32 {
    if data.len() < 2 * CRC_CHUNK {
        return crc32fast::hash(data);
    }
    data.par_chunks(CRC_CHUNK)
        .map(|chunk| {
            let mut h = crc32fast::Hasher::new();
            h.update(chunk);
            h
        })
        .reduce_with(|mut a, b| {
            a.combine(&b);
            a
        })
        .expect("at least two chunks")
        .finalize()
}

/// The CRC-32 of the tail of `whole = head ++ tail`, from the CRC of `whole` and of `head`: CRC is
/// linear, `crc(head ++ tail) = shift(crc(head), |tail|) ^ crc(tail)`.
pub fn crc32_of_tail(whole_crc: u32, head: &[u8], tail_len: u64) -> u32 {
    let mut shifted =
        crc32fast::Hasher::new_with_initial_len(crc32fast::hash(head), head.len() as u64);
    shifted.combine(&crc32fast::Hasher::new_with_initial_len(0, tail_len));
    shifted.finalize() ^ whole_crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_crc_equals_serial_crc() {
        let data: Vec<u8> = (0..(9 << 20) + 123)
            .map(|i| (i * 7 + i / 13) as u8)
            .collect();
        assert_eq!(crc32(&data), crc32fast::hash(&data));
    }

    #[test]
    fn crc_of_tail_from_the_whole_and_the_head() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 31 % 251) as u8).collect();
        for split in [0, 1, 64, 128, 5000, 10_000] {
            let (head, tail) = data.split_at(split);
            assert_eq!(
                crc32_of_tail(crc32fast::hash(&data), head, tail.len() as u64),
                crc32fast::hash(tail),
                "split at {split}"
            );
        }
    }

    #[test]
    fn a_whole_view_shares_its_crc_and_a_part_does_not() {
        let bytes = Bytes::from(vec![1u8, 2, 3, 4]);
        let crc = bytes.crc32();
        assert_eq!(bytes.slice(0..4).known_crc32(), Some(crc));
        assert_eq!(bytes.slice(1..4).known_crc32(), None);
        assert_eq!(bytes.clone().known_crc32(), Some(crc));
    }

    #[test]
    fn buffers_of_any_size_are_zeroed_and_freeze_to_their_bytes() {
        for len in [0, 10, HUGE + 4097] {
            let mut b = Buffer::zeroed(len);
            assert!(b.iter().all(|&x| x == 0));
            if len > 0 {
                b[len - 1] = 7;
            }
            let frozen = b.freeze();
            assert_eq!(frozen.len(), len);
            if len > 0 {
                assert_eq!(frozen[len - 1], 7);
            }
        }
    }
}
