//! Streaming: a split whose images stay in memory-mapped files (one dataset file, or the shards
//! of a shard set) and come to the device a batch at a time, for data larger than memory.
//!
//! Each batch's rows are read from the files under the mappings (in parallel, `pread` through the
//! page cache: [`Bytes::copy_to`]), so no page of the mappings becomes resident and the resident
//! set stays at a few batches whatever the size of the data. Training batches are assembled ahead of the step on a
//! background thread ([`Prefetch`], `--prefetch` batches deep), in the order the in-memory path
//! uses (`rethink_rng::training::epoch_order` of (seed, epoch)); they reach the device
//! as uint8 rows and are cropped, flipped and whitened there by the same
//! [`Pipeline`](crate::data::Pipeline) code, so a streamed run gives the same metrics as one
//! with the data on the device.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use burn::tensor::{DType, Device, Int, Tensor, TensorData};
use rayon::prelude::*;
use rethink_dataset::{Bytes, Dtype, Images, Pixels};

use crate::data::DevicePixels;

/// One mapped part of a split: its first row's index in the split and its pixels.
#[derive(Clone)]
struct Part {
    start: usize,
    bytes: Bytes,
}

/// A split's image rows in memory-mapped files.
pub struct HostRows {
    parts: Vec<Part>,
    len: usize,
    /// Bytes per row.
    row_bytes: usize,
    dtype: Dtype,
    /// For a [`HostRows::subset`]: row `i` is row `rows[i]` of the parts.
    rows: Option<Arc<Vec<usize>>>,
}

impl std::fmt::Debug for HostRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostRows")
            .field("parts", &self.parts.len())
            .field("len", &self.len)
            .field("row_bytes", &self.row_bytes)
            .finish()
    }
}

impl HostRows {
    /// The rows of `images` end to end (all of one dtype and image shape, pixels held: as read
    /// from files, memory-mapped).
    pub fn new(images: &[&Images]) -> HostRows {
        let dtype = images.first().map_or(Dtype::U8, |i| i.dtype());
        let row_bytes = images.first().map_or(0, |i| i.image_len() * dtype.size());
        let mut parts = Vec::new();
        let mut start = 0;
        for im in images {
            assert_eq!(im.dtype(), dtype, "parts of one dtype");
            let bytes = match im.pixels() {
                Pixels::U8(b) => b.clone(),
                // float32 images read from a file are copied out of it on reading (alignment
                // and byte order); they are held in memory, which release leaves alone.
                Pixels::F32(v) => Bytes::new(bytemuck::cast_slice::<f32, u8>(v).to_vec()),
            };
            if !im.is_empty() {
                parts.push(Part { start, bytes });
            }
            start += im.len();
        }
        HostRows {
            parts,
            len: start,
            row_bytes,
            dtype,
            rows: None,
        }
    }

    /// Rows `indices` of these rows, as rows `0..indices.len()`, over the same mappings.
    pub fn subset(&self, indices: &[usize]) -> HostRows {
        let rows = indices.iter().map(|&i| self.row(i)).collect();
        HostRows {
            parts: self.parts.clone(),
            len: indices.len(),
            row_bytes: self.row_bytes,
            dtype: self.dtype,
            rows: Some(Arc::new(rows)),
        }
    }

    /// Row `i`'s index in the parts.
    fn row(&self, i: usize) -> usize {
        self.rows.as_ref().map_or(i, |rows| rows[i])
    }

    /// How many rows.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The part holding row `i` and the row's byte range in it.
    fn locate(&self, i: usize) -> (&Part, std::ops::Range<usize>) {
        let i = self.row(i);
        let k = self.parts.partition_point(|p| p.start <= i) - 1;
        let part = &self.parts[k];
        let at = (i - part.start) * self.row_bytes;
        (part, at..at + self.row_bytes)
    }

    /// Rows `indices` as bytes (row after row), read from the files (nothing stays resident).
    pub fn gather(&self, indices: &[usize]) -> Vec<u8> {
        let mut out = vec![0u8; indices.len() * self.row_bytes];
        if self.row_bytes == 0 {
            return out;
        }
        out.par_chunks_mut(self.row_bytes)
            .zip(indices)
            .for_each(|(o, &i)| {
                let (part, range) = self.locate(i);
                part.bytes.copy_to(range, o);
            });
        out
    }

    /// Starts reading rows `indices` from disk in the background (readahead into the page
    /// cache), for a batch gathered later: cold reads then overlap the current batch's.
    pub fn will_need(&self, indices: &[usize]) {
        for &i in indices {
            let (part, range) = self.locate(i);
            part.bytes.will_need(range);
        }
    }

    /// Rows `indices` on `device`, as the in-memory path holds them.
    pub fn upload(&self, indices: &[usize], device: &Device) -> DevicePixels {
        Batch::new(self, indices).upload(device)
    }
}

/// A batch's rows gathered on the host, ready to go to the device.
pub struct Batch {
    bytes: Vec<u8>,
    rows: usize,
    row_values: usize,
    dtype: Dtype,
}

impl Batch {
    /// Gathers rows `indices` of `rows`.
    pub fn new(rows: &HostRows, indices: &[usize]) -> Batch {
        Batch {
            bytes: rows.gather(indices),
            rows: indices.len(),
            row_values: rows.row_bytes / rows.dtype.size(),
            dtype: rows.dtype,
        }
    }

    /// The rows on `device`: uint8 (or float32) `[rows, H·W·C]`.
    pub fn upload(self, device: &Device) -> DevicePixels {
        let shape = [self.rows, self.row_values];
        match self.dtype {
            Dtype::U8 => DevicePixels::U8(Tensor::from_data(
                TensorData::new(self.bytes, shape),
                (device, DType::U8),
            )),
            _ => {
                let values: Vec<f32> = self
                    .bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                DevicePixels::F32(Tensor::from_data(TensorData::new(values, shape), device))
            }
        }
    }
}

/// Training batches assembled ahead of the steps on a background thread: the batch of step s
/// holds the rows the in-memory path would select at step s.
pub struct Prefetch {
    receive: Receiver<(u64, Batch)>,
    _thread: std::thread::JoinHandle<()>,
}

impl Prefetch {
    /// Batches for steps `first..`, `depth` of them ahead, each the rows `order(epoch)` gives
    /// to its step (`batch` rows per step, `steps_per_epoch` steps an epoch).
    pub fn start(
        rows: Arc<HostRows>,
        first: u64,
        batch: usize,
        steps_per_epoch: u64,
        depth: usize,
        order: impl Fn(u64) -> Vec<i64> + Send + 'static,
    ) -> Prefetch {
        keep_freed_batches();
        let (send, receive): (SyncSender<(u64, Batch)>, _) = sync_channel(depth.max(1));
        let thread = std::thread::Builder::new()
            .name("prefetch".into())
            .spawn(move || {
                let mut current: Option<(u64, Vec<i64>)> = None;
                for step in first.. {
                    let epoch = step / steps_per_epoch;
                    if current.as_ref().is_none_or(|(e, _)| *e != epoch) {
                        current = Some((epoch, order(epoch)));
                    }
                    let values = &current.as_ref().expect("order").1;
                    let rows_of = |step: u64| -> Vec<usize> {
                        let position = (step % steps_per_epoch) as usize * batch;
                        let end = (position + batch).min(values.len());
                        values[position..end].iter().map(|&i| i as usize).collect()
                    };
                    let indices = rows_of(step);
                    // The next batch of this epoch is read from disk while this one is gathered.
                    if (step + 1) / steps_per_epoch == epoch {
                        rows.will_need(&rows_of(step + 1));
                    }
                    if send.send((step, Batch::new(&rows, &indices))).is_err() {
                        return; // the training loop is done with us
                    }
                }
            })
            .expect("a prefetch thread starts");
        Prefetch {
            receive,
            _thread: thread,
        }
    }

    /// The batch of `step` (steps are taken in order).
    pub fn next(&self, step: u64) -> Batch {
        let (s, batch) = self.receive.recv().expect("the prefetch thread runs");
        assert_eq!(s, step, "prefetched batches come in step order");
        batch
    }
}

/// Makes glibc's malloc reuse the memory of freed batches. A batch of 128 ImageNet images
/// (34 MB) is above malloc's largest mmap threshold (32 MB), so by default every batch (and the
/// tensor made from it) is a fresh mapping whose pages are faulted in and zeroed by the kernel,
/// then unmapped: half the loader's time (`scripts/bench-loader`: 6,800 -> 8,300 img/s on one
/// worker). Served from the heap instead, with up to 512 MB of freed memory kept for reuse;
/// process-wide, set once a run streams.
fn keep_freed_batches() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called before the prefetch
    // thread starts and is safe to call at any time.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
    }
}

/// `0..b` on `device`: the indices of a prefetched batch's own rows.
pub fn own_rows(b: usize, device: &Device) -> Tensor<1, Int> {
    Tensor::<1, Int>::arange(0..b as i64, device)
}
