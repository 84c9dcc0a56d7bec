//! zip64: an entry over 4 GiB, as any real ImageNet pack has. Our writer streams it into a sparse
//! file (blocks of zeros become holes, so the test writes ~70 MB, not 4 GiB); our reader and
//! Python's `zipfile` (which checks the CRC-32) read it back with the same values. Takes tens of
//! seconds: it is `#[ignore]`d in `make test` and run by `make test-slow` (which CI runs too).

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};

use rethink_dataset::{Dataset, Dtype, Generate, Images, Meta, Split};
use rethink_testkit as testkit;

/// Images of 512×512×1: 16,385 of them are 4,295,229,440 bytes, just over 4 GiB.
const N: usize = 16_385;
const SIDE: usize = 512;
const IMAGE: usize = SIDE * SIDE;

/// Zero except the first and last pixel of each image.
struct Corners;

fn first_pixel(i: usize) -> u8 {
    (i % 251) as u8 + 1
}
fn last_pixel(i: usize) -> u8 {
    (i % 7) as u8
}

impl Generate for Corners {
    fn fill(&self, first: usize, out: &mut [u8]) {
        out.fill(0);
        for (k, image) in out.chunks_exact_mut(IMAGE).enumerate() {
            image[0] = first_pixel(first + k);
            image[IMAGE - 1] = last_pixel(first + k);
        }
    }
}

/// A file written with holes: 4 KiB blocks of zeros are skipped over, not written.
struct Sparse {
    file: File,
    at: u64,
    end: u64,
}

impl Write for Sparse {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for block in buf.chunks(4096) {
            if block.iter().any(|&b| b != 0) {
                self.file.seek(SeekFrom::Start(self.at))?;
                self.file.write_all(block)?;
            }
            self.at += block.len() as u64;
            self.end = self.end.max(self.at);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.set_len(self.end)?;
        self.file.flush()
    }
}

impl Seek for Sparse {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.at = match pos {
            SeekFrom::Start(p) => p,
            SeekFrom::Current(d) => self.at.checked_add_signed(d).expect("in range"),
            SeekFrom::End(d) => self.end.checked_add_signed(d).expect("in range"),
        };
        Ok(self.at)
    }
}

#[test]
#[ignore = "slow (writes and reads a 4 GiB entry): make test-slow"]
fn an_entry_over_4_gib_is_written_and_read_back_by_us_and_by_python() {
    let started = std::time::Instant::now();
    let dir = testkit::Dir::new();
    let path = dir.path("big.npz");
    let labels: Vec<u16> = (0..N).map(|i| (i % 3) as u16).collect();
    let dataset = Dataset::new(
        Meta::new("zip64", vec!["a".into(), "b".into(), "c".into()]),
        Some(Split {
            images: Images::deferred([N, SIDE, SIDE, 1], Dtype::U8, Corners),
            labels: labels.clone(),
        }),
        Some(Split {
            images: Images::from_u8([1, SIDE, SIDE, 1], {
                let mut px = vec![0u8; IMAGE];
                px[..4].copy_from_slice(&[1, 2, 3, 4]);
                px
            }),
            labels: vec![2],
        }),
    );
    let mut sparse = Sparse {
        file: File::create(&path).unwrap(),
        at: 0,
        end: 0,
    };
    rethink_dataset::write_file(&dataset, &mut sparse, "big.npz").unwrap();
    sparse.flush().unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size > 1 << 32, "{size} bytes");
    eprintln!("written in {:.1?}", started.elapsed());

    // Our reader (a memory map; the CRC-32 of every entry is checked).
    let read = rethink_dataset::read_path(&path).unwrap();
    let train = read.train.as_ref().unwrap();
    assert_eq!(train.images.shape(), [N, SIDE, SIDE, 1]);
    assert_eq!(train.labels, labels);
    let px = train.images.as_u8().unwrap();
    for i in [0, 1, 250, 251, N / 2, N - 1] {
        assert_eq!(px[i * IMAGE], first_pixel(i), "image {i}");
        assert_eq!(px[i * IMAGE + IMAGE - 1], last_pixel(i), "image {i}");
        assert_eq!(px[i * IMAGE + 1], 0, "image {i}");
    }
    let sum: u64 = px.iter().map(|&v| v as u64).sum();
    let want: u64 = (0..N)
        .map(|i| first_pixel(i) as u64 + last_pixel(i) as u64)
        .sum();
    assert_eq!(sum, want);
    assert_eq!(read.test.as_ref().unwrap().labels, [2]);
    eprintln!("read by us in {:.1?}", started.elapsed());

    // Python's zipfile: the sizes, every byte (its CRC-32 check runs at the end of the entry).
    let out = std::process::Command::new(testkit::python())
        .arg("-c")
        .arg(
            r#"
import sys, zipfile, numpy as np
z = zipfile.ZipFile(sys.argv[1])
info = z.getinfo("train_images.npy")
with z.open(info) as f:
    version = np.lib.format.read_magic(f)
    read_header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}[version]
    shape, fortran, dtype = read_header(f)
    total = count = 0
    while chunk := f.read(1 << 24):
        total += int(np.frombuffer(chunk, np.uint8).sum(dtype=np.uint64))
        count += len(chunk)
print(info.file_size - count, info.compress_type, list(shape), dtype, total, count, np.load(sys.argv[1])["test_images"].ravel()[:4].tolist())
"#,
        )
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    let (header, rest) = printed.trim().split_once(' ').unwrap();
    let header: usize = header.parse().unwrap();
    assert!(
        header > 10 && header.is_multiple_of(64),
        "npy header of {header} bytes"
    );
    assert_eq!(
        rest,
        format!(
            "0 [{N}, {SIDE}, {SIDE}, 1] uint8 {want} {} [1, 2, 3, 4]",
            N * IMAGE
        )
    );
    eprintln!("read by Python in {:.1?}", started.elapsed());
}
