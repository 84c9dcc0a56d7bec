//! Reading a memory-mapped dataset verifies every entry's CRC-32, which touches every page of
//! the file: the pages must leave the process's resident set once hashed, or reading a dataset
//! larger than memory (a shard set of ImageNet) makes it all resident before training starts.
//! Its own test binary: the resident set is per process, and no other test may map files
//! meanwhile.

use rethink_dataset::{Dataset, Images, Meta, Split, read_path};
use rethink_testkit::Dir;

/// File-backed resident bytes of this process (`shared` of /proc/self/statm: RssFile + RssShmem).
fn resident_file_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(2).unwrap().parse().unwrap();
    pages * 4096
}

#[test]
fn reading_a_mapped_file_leaves_its_pages_out_of_the_resident_set() {
    const N: usize = 1024;
    const HWC: [usize; 3] = [128, 128, 4]; // 64 KiB per image, 64 MiB in all
    let len = N * HWC.iter().product::<usize>();
    let pixels: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    let labels = (0..N).map(|i| (i % 10) as u16).collect();
    let images = Images::from_u8([N, HWC[0], HWC[1], HWC[2]], pixels);
    let meta = Meta::new("resident", (0..10).map(|k| k.to_string()).collect());
    let dataset = Dataset::new(meta, Some(Split { images, labels }), None);
    let dir = Dir::new();
    let path = dir.dataset("big.npz", &dataset);
    drop(dataset);

    let before = resident_file_bytes();
    let read = read_path(&path).unwrap();
    let after = resident_file_bytes();
    // The CRC was checked (a flipped byte fails the read, tests/hostile.rs): every page was
    // touched, and at most a few chunks' worth may still be mapped in.
    assert!(
        after < before + (16 << 20),
        "reading a 64 MiB file left {} MiB resident",
        (after.saturating_sub(before)) >> 20
    );
    let train = read.train.as_ref().unwrap();
    let rethink_dataset::Pixels::U8(pixels) = train.images.pixels() else {
        panic!("uint8 images expected")
    };
    // Streaming reads rows with copy_to: the bytes of the file, and still nothing resident.
    let row = HWC.iter().product::<usize>();
    let mut out = vec![0u8; row];
    for i in (0..N).step_by(7) {
        pixels.copy_to(i * row..(i + 1) * row, &mut out);
        assert!(
            out.iter()
                .enumerate()
                .all(|(j, &v)| v == ((i * row + j) % 251) as u8),
            "row {i}"
        );
    }
    assert!(
        resident_file_bytes() < before + (16 << 20),
        "copy_to left {} MiB resident",
        (resident_file_bytes().saturating_sub(before)) >> 20
    );
    // Through the mapping, the images read the same bytes again from the page cache.
    assert!(
        pixels
            .iter()
            .enumerate()
            .all(|(i, &v)| v == (i % 251) as u8)
    );
}
