//! Round trips and layout guarantees of the dataset file.

use proptest::prelude::*;
use rethink_dataset::{Dataset, Images, Meta, Split, read_bytes, read_path, write_to};
use rethink_testkit as testkit;

fn arb_dataset() -> impl Strategy<Value = Dataset> {
    (
        0usize..6,
        0usize..5,
        1usize..5,
        1usize..5,
        prop_oneof![Just(1usize), Just(3usize)],
        prop_oneof![Just(1usize), Just(10usize), Just(300usize)],
        any::<bool>(),
        any::<bool>(),
        any::<u64>(),
    )
        .prop_filter("at least one split", |t| t.0 + t.1 > 0)
        .prop_map(|(ntr, nte, h, w, c, classes, float, corrupted, seed)| {
            let mut g = testkit::Gen(seed);
            let mut split = |n: usize| {
                let len = n * h * w * c;
                let images = if float {
                    Images::from_f32(
                        [n, h, w, c],
                        (0..len).map(|_| g.next() as f32 / 1e9 - 9e9).collect(),
                    )
                } else {
                    Images::from_u8(
                        [n, h, w, c],
                        (0..len).map(|_| g.below(256) as u8).collect::<Vec<u8>>(),
                    )
                };
                Split {
                    images,
                    labels: (0..n).map(|_| g.below(classes as u64) as u16).collect(),
                }
            };
            let train = (ntr > 0).then(|| split(ntr));
            let test = (nte > 0).then(|| split(nte));
            let mut meta = Meta::new("prop", (0..classes).map(|k| format!("c{k}")).collect());
            meta.history.push(rethink_dataset::HistoryRecord {
                tool: "test".into(),
                version: "0".into(),
                args: vec!["--x".into(), "é".into()],
                seed: Some(seed),
                ..Default::default()
            });
            let mut d = Dataset::new(meta, train, test);
            if corrupted && ntr > 0 {
                let mut g = testkit::Gen(seed ^ 1);
                d.train_clean_labels =
                    Some((0..ntr).map(|_| g.below(classes as u64) as u16).collect());
                d.train_corrupted = Some((0..ntr).map(|_| g.below(2) as u8).collect());
            }
            d
        })
}

/// Walks the local headers: (name, flags, offset of the array data) per entry.
fn layout(bytes: &[u8]) -> Vec<(String, u16, usize)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap()) == 0x0403_4b50 {
        let u16_at = |a: usize| u16::from_le_bytes([bytes[a], bytes[a + 1]]) as usize;
        let flags = u16_at(pos + 6) as u16;
        let size = u32::from_le_bytes(bytes[pos + 18..pos + 22].try_into().unwrap()) as usize;
        let (n, e) = (u16_at(pos + 26), u16_at(pos + 28));
        let name = String::from_utf8(bytes[pos + 30..pos + 30 + n].to_vec()).unwrap();
        let data = pos + 30 + n + e;
        let header_len = u16_at(data + 8) + 10; // npy v1: magic(6) + version(2) + len(2)
        out.push((name, flags, data + header_len));
        pos = data + size;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn round_trip_through_bytes_and_mmap(d in arb_dataset()) {
        let bytes = testkit::encode(&d);
        let back = read_bytes(bytes.clone().into(), "mem").unwrap();
        prop_assert_eq!(&back, &d);
        let dir = testkit::Dir::new();
        let path = dir.write("d.npz", &bytes);
        prop_assert_eq!(&read_path(&path).unwrap(), &d);
        // Writing what we read gives the same bytes: the layout is canonical.
        let mut again = Vec::new();
        write_to(&back, &mut again, "again").unwrap();
        prop_assert!(again == bytes);
    }

    #[test]
    fn entries_are_ordered_aligned_and_streamable(d in arb_dataset()) {
        let bytes = testkit::encode(&d);
        let entries = layout(&bytes);
        let names: Vec<&str> = entries.iter().map(|e| e.0.trim_end_matches(".npy")).collect();
        let expected: Vec<&str> = rethink_dataset::ENTRIES.iter().copied().filter(|n| names.contains(n)).collect();
        prop_assert_eq!(&names, &expected);
        for (name, flags, data) in entries {
            prop_assert_eq!(flags & 0x8, 0, "{} uses a data descriptor", name);
            prop_assert_eq!(data % 64, 0, "{} data at offset {}", name, data);
        }
    }
}

#[test]
fn labels_are_uint8_up_to_256_classes_and_uint16_above() {
    for (classes, expect) in [(256usize, "uint8"), (257, "uint16")] {
        let mut d = testkit::tiny_dataset(3, 0, [2, 2, 1], 10, 1);
        d.meta.classes = (0..classes).map(|c| c.to_string()).collect();
        d.train.as_mut().unwrap().labels = vec![0, (classes - 1) as u16, 7];
        let back = testkit::decode(&testkit::encode(&d));
        let entry = back
            .file_entries()
            .iter()
            .find(|e| e.name == "train_labels")
            .unwrap();
        assert_eq!(entry.dtype_name(), expect);
        assert_eq!(back.train.unwrap().labels, vec![0, (classes - 1) as u16, 7]);
    }
}

#[test]
fn an_invalid_dataset_is_not_written() {
    let mut d = testkit::tiny_dataset(4, 2, [2, 2, 1], 3, 1);
    d.train.as_mut().unwrap().labels[2] = 3;
    let mut out = Vec::new();
    let err = write_to(&d, &mut out, "out.npz").unwrap_err().to_string();
    assert_eq!(
        err,
        "out.npz: train_labels: label 3 at index 2 is out of range: the dataset has 3 classes"
    );
    assert!(out.is_empty());
}

#[test]
fn truncation_anywhere_is_an_error_naming_the_file() {
    let bytes = testkit::encode(&testkit::tiny_dataset(5, 3, [4, 4, 3], 10, 7));
    for cut in [1, 10, 29, 100, bytes.len() / 2, bytes.len() - 23] {
        let err = read_bytes(bytes[..cut].to_vec().into(), "cut.npz")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("cut.npz: "), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }
}

#[test]
fn a_flipped_byte_fails_the_crc() {
    let mut bytes = testkit::encode(&testkit::tiny_dataset(5, 3, [4, 4, 3], 10, 7));
    let entries = layout(&bytes);
    let images = entries
        .iter()
        .find(|e| e.0 == "train_images.npy")
        .unwrap()
        .2;
    bytes[images + 5] ^= 0xff;
    let err = read_bytes(bytes.into(), "flip.npz")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "flip.npz: corrupt zip entry 'train_images.npy': CRC mismatch"
    );
}

/// The encoded bytes of `d`, and `d` read back from a file of them and from a stream of them.
fn file_and_stream(d: &Dataset) -> (Vec<u8>, [Dataset; 2]) {
    let bytes = testkit::encode(d);
    let dir = testkit::Dir::new();
    let path = dir.write("d.npz", &bytes);
    let from_file = read_path(&path).unwrap();
    let from_stream = rethink_dataset::read_from(&bytes[..], "<stdin>").unwrap();
    (bytes, [from_file, from_stream])
}

#[test]
fn a_stream_reads_like_a_file_with_the_same_digest() {
    let (bytes, [from_file, from_stream]) =
        file_and_stream(&testkit::tiny_dataset(9, 4, [3, 5, 3], 10, 21));
    assert_eq!(from_file, from_stream);
    let digest = from_file.digest().unwrap();
    assert_eq!(Some(digest.clone()), from_stream.digest());
    assert_eq!(digest, format!("blake3:{}", blake3_hex(&bytes)));
    for cut in [0, 3, 10, 29, 100, bytes.len() / 2, bytes.len() - 23] {
        let err = rethink_dataset::read_from(&bytes[..cut], "<stdin>")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("<stdin>: "), "{err}");
    }
}

fn blake3_hex(bytes: &[u8]) -> String {
    // The digest is blake3 of the file bytes; checked against the reference crate.
    blake3::hash(bytes).to_hex().to_string()
}

#[test]
fn large_entries_stream_through_their_own_mapping() {
    // 6 MB of training images: above the size at which a stream reads into anonymous memory.
    let d = testkit::tiny_dataset(2000, 10, [32, 32, 3], 10, 5);
    let bytes = testkit::encode(&d);
    let back = rethink_dataset::read_from(&bytes[..], "<stdin>").unwrap();
    assert_eq!(back, d);
    let cut = bytes.len() / 2;
    let err = rethink_dataset::read_from(&bytes[..cut], "<stdin>")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("<stdin>: truncated file: entry 'train_images.npy'"),
        "{err}"
    );
}

#[test]
fn arrays_read_keep_their_verified_crc_so_rewriting_them_does_not_hash_again() {
    // 6 MB of images: a stream reads them into a huge-page buffer, hashing as they arrive.
    let (bytes, reads) = file_and_stream(&testkit::tiny_dataset(2000, 10, [32, 32, 3], 10, 5));
    for read in reads {
        for split in [read.train.as_ref().unwrap(), read.test.as_ref().unwrap()] {
            let rethink_dataset::Pixels::U8(px) = split.images.pixels() else {
                panic!("uint8 images")
            };
            assert_eq!(px.known_crc32(), Some(crc32fast::hash(px)));
        }
        // Written with the remembered CRCs, the file is byte-identical (and numpy-valid: the
        // interop tests read such files).
        assert_eq!(testkit::encode(&read), bytes);
    }
}

/// Float images whose value k of image i is i + k/1000.
struct Ramp(usize);
impl rethink_dataset::Generate for Ramp {
    fn fill(&self, first: usize, out: &mut [u8]) {
        for (k, v) in out.chunks_exact_mut(4).enumerate() {
            let (i, j) = (first + k / self.0, k % self.0);
            v.copy_from_slice(&(i as f32 + j as f32 / 1000.0).to_le_bytes());
        }
    }
}

#[test]
fn deferred_images_written_to_a_file_are_streamed_to_the_same_bytes() {
    use rethink_dataset::{Dtype, write_file};
    // 70,000 float images of 4×4×1: 4.5 MB, more than one streamed chunk.
    let (n, d) = (70_000, 16);
    let deferred = Images::deferred([n, 4, 4, 1], Dtype::F32, Ramp(d));
    let held = Images::from_f32(deferred.shape(), deferred.as_f32().unwrap().to_vec());
    assert_eq!(held.value(17 * d + 5), 17.005);
    let dataset = |images: Images| {
        let train = Split {
            images,
            labels: (0..n).map(|i| (i % 3) as u16).collect(),
        };
        Dataset::new(
            Meta::new("ramp", vec!["a".into(), "b".into(), "c".into()]),
            Some(train),
            None,
        )
    };
    let mut expected = Vec::new();
    write_to(&dataset(held), &mut expected, "held").unwrap();
    let dir = testkit::Dir::new();
    let path = dir.path("streamed.npz");
    let mut file = std::fs::File::create(&path).unwrap();
    let fresh = Images::deferred([n, 4, 4, 1], Dtype::F32, Ramp(d));
    write_file(&dataset(fresh), &mut file, "streamed").unwrap();
    drop(file);
    assert!(
        std::fs::read(&path).unwrap() == expected,
        "streamed file differs"
    );
    read_path(&path).unwrap(); // and it reads back, CRCs checked
}
