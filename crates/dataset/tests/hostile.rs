//! Hostile input: a seeded mutation fuzzer over the reader (from a buffer, a stream and a file)
//! and zip bombs. Whatever the bytes, reading returns (never panics, aborts or allocates from a
//! size the file merely declares), and an error is one printable line naming the file.
//!
//! The seeds are numpy-written files (`tests/data/`: `savez_compressed` to a file, and to a pipe,
//! which takes the central-directory path), a file our writer made, and numpy-style archives built
//! here (deflated with zip64 sizes, as numpy writes them, or stored) whose `.npy` headers are
//! corrupted before compression. `FUZZ_ITERATIONS` and `FUZZ_SEED` run it longer or elsewhere.

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};

use rethink_dataset::{Bytes, ReadLimits, read_bytes_limited, read_from_limited, read_path};
use rethink_testkit as testkit;
use testkit::Gen;

const NUMPY_COMPRESSED: &[u8] = include_bytes!("data/numpy-compressed.npz");
const NUMPY_COMPRESSED_STREAMED: &[u8] = include_bytes!("data/numpy-compressed-streamed.npz");

/// A small cap, so a mutation that makes something expand is refused quickly.
const LIMITS: ReadLimits = ReadLimits {
    max_expand: 1 << 20,
};

/// A zip of `.npy` entries as numpy writes it: deflated with zip64 sizes in the local header
/// (`compressed`), or stored without them.
fn zip(entries: &[(&str, Vec<u8>)], compressed: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let crc = crc32fast::hash(data);
        let body = if compressed {
            let mut enc =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(data).unwrap();
            enc.finish().unwrap()
        } else {
            data.clone()
        };
        let offset = out.len() as u32;
        let mut extra = Vec::new();
        if compressed {
            extra.extend_from_slice(&1u16.to_le_bytes());
            extra.extend_from_slice(&16u16.to_le_bytes());
            extra.extend_from_slice(&(data.len() as u64).to_le_bytes());
            extra.extend_from_slice(&(body.len() as u64).to_le_bytes());
        }
        let (small_c, small_u) = if compressed {
            (u32::MAX, u32::MAX)
        } else {
            (body.len() as u32, data.len() as u32)
        };
        let mut header = Vec::new();
        header.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        for v in [45u16, 0, if compressed { 8 } else { 0 }, 0, 0x21] {
            header.extend_from_slice(&v.to_le_bytes());
        }
        for v in [crc, small_c, small_u] {
            header.extend_from_slice(&v.to_le_bytes());
        }
        for v in [name.len() as u16, extra.len() as u16] {
            header.extend_from_slice(&v.to_le_bytes());
        }
        header.extend_from_slice(name.as_bytes());
        header.extend_from_slice(&extra);
        out.extend_from_slice(&header);
        out.extend_from_slice(&body);

        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        for v in [45u16, 20, 0, if compressed { 8 } else { 0 }, 0, 0x21] {
            central.extend_from_slice(&v.to_le_bytes());
        }
        for v in [crc, body.len() as u32, data.len() as u32] {
            central.extend_from_slice(&v.to_le_bytes());
        }
        for v in [name.len() as u16, 0, 0, 0, 0] {
            central.extend_from_slice(&v.to_le_bytes());
        }
        central.extend_from_slice(&0u32.to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    for v in [0u16, 0, entries.len() as u16, entries.len() as u16] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// A version-1 `.npy` entry with this header text (padded as numpy pads it) and data.
fn npy(header_text: &str, data: &[u8]) -> Vec<u8> {
    let mut text = header_text.to_string();
    while !(10 + text.len() + 1).is_multiple_of(64) {
        text.push(' ');
    }
    text.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(text.len() as u16).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(data);
    out
}

fn dict(descr: &str, shape: &str) -> String {
    format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}")
}

/// The entries of a valid 3-class dataset, with the `.npy` header text of `train_images` given.
fn entries_with_images_header(images_header: &str) -> Vec<(&'static str, Vec<u8>)> {
    let meta = br#"{"name": "fuzz", "classes": ["a", "b", "c"], "history": []}"#;
    let pixels: Vec<u8> = (0..5 * 4 * 4 * 3).map(|i| (i * 37 % 251) as u8).collect();
    vec![
        (
            "meta.npy",
            npy(&dict("|u1", &format!("({},)", meta.len())), meta),
        ),
        ("train_images.npy", npy(images_header, &pixels)),
        (
            "train_labels.npy",
            npy(&dict("|u1", "(5,)"), &[0, 1, 2, 1, 0]),
        ),
        (
            "test_images.npy",
            npy(&dict("|u1", "(1, 4, 4, 3)"), &pixels[..48]),
        ),
        ("test_labels.npy", npy(&dict("<u2", "(1,)"), &[2, 0])),
    ]
}

/// Header texts numpy would not write (huge and overflowing shapes, odd dtypes, control
/// characters, deep nesting, garbage), each with what its error must say.
const BAD_HEADERS: &[(&str, &str)] = &[
    (
        "{'descr': '|u1', 'fortran_order': False, 'shape': (18446744073709551615, 4, 4, 3), }",
        "more than 2^64 elements",
    ),
    (
        "{'descr': '|u1', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4, 3), }",
        "more than 2^64 elements",
    ),
    (
        // Fits in 64 bits as a count, not once multiplied by the 4 bytes of a float32.
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 1, 1, 1), }",
        "needs 18446744073709551616 bytes",
    ),
    (
        "{'descr': '|u1', 'fortran_order': False, 'shape': (0, 4294967296, 4294967296, 4294967296), }",
        "more than 2^64 elements",
    ),
    (
        "{'descr': '|u1', 'fortran_order': False, 'shape': (99999999999999999999999, 4, 4, 3), }",
        "more than 2^64 elements",
    ),
    (
        "{'descr': '|u1', 'fortran_order': False, 'shape': (0x10, 4, 4, 3), }",
        "not a decimal integer",
    ),
    (
        "{'descr': '|u1', 'fortran_order': False, 'shape': (-5, 4, 4, 3), }",
        "not a decimal integer",
    ),
    (
        "{'descr': '|u1', 'fortran_order': False, 'shape': (5, 4, 4, 3), 'shape': (4294967296, 4294967296, 4294967296, 3), }",
        "more than 2^64 elements",
    ),
    (
        "{'descr': '<U99999999999999', 'fortran_order': False, 'shape': (5,), }",
        "train_images",
    ),
    (
        "{'descr': '<V18446744073709551615', 'fortran_order': False, 'shape': (5,), }",
        "train_images",
    ),
    (
        "{'descr': [('a', '<u8', (4294967296, 4294967296))], 'fortran_order': False, 'shape': (5,), }",
        "train_images",
    ),
    (
        "{'descr': '|u1\n\u{1b}[31mred', 'fortran_order': False, 'shape': (5, 4, 4, 3), }",
        "train_images",
    ),
    (
        "{'descr': '|u1', 'fortran_order': True, 'shape': (5, 4, 4, 3), }",
        "Fortran",
    ),
    (
        "{'descr': '|u1', 'fortran_order': False, 'shape': (5, 4, 4, 3)",
        "train_images",
    ),
    (
        "{'descr': '|u1', 'fortran_order': False, 'shape': ((((((((((((((((((((((((((((((((((((((((1)))))))))))))))))))))))))))))))))))))))), }",
        "nested more than 32 levels",
    ),
    (
        "{'descr': '|u1', 'fortran_order': False, 'shape': [5, 4, 4, '\u{202e}\u{0}'], }",
        "is not a decimal integer",
    ),
    ("\u{0}\u{1}\u{2}\n\n\n", "train_images"),
];

/// The seeds the fuzzer mutates.
fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let valid = entries_with_images_header(&dict("|u1", "(5, 4, 4, 3)"));
    let ours = testkit::encode(&testkit::tiny_dataset(5, 2, [4, 4, 3], 3, 18));
    vec![
        ("numpy savez_compressed", NUMPY_COMPRESSED.to_vec()),
        (
            "numpy savez_compressed to a pipe",
            NUMPY_COMPRESSED_STREAMED.to_vec(),
        ),
        ("numpy-style deflated", zip(&valid, true)),
        ("numpy-style stored", zip(&valid, false)),
        ("our writer", ours),
    ]
}

/// Interesting values for a size field.
const SIZES: [u64; 10] = [
    0,
    1,
    0x7f,
    0xffff,
    0x7fff_ffff,
    0xffff_ffff,
    0x1_0000_0000,
    0x7fff_ffff_ffff_ffff,
    u64::MAX,
    1 << 40,
];

fn positions(bytes: &[u8], pattern: &[u8]) -> Vec<usize> {
    bytes
        .windows(pattern.len())
        .enumerate()
        .filter(|(_, w)| *w == pattern)
        .map(|(i, _)| i)
        .collect()
}

fn pick<T: Copy>(g: &mut Gen, items: &[T]) -> Option<T> {
    (!items.is_empty()).then(|| items[g.below(items.len() as u64) as usize])
}

/// One random mutation of `bytes`, and what it was.
fn mutate(g: &mut Gen, bytes: &mut Vec<u8>) -> String {
    let len = bytes.len().max(1) as u64;
    match g.below(8) {
        0 => {
            let flips = 1 + g.below(8);
            for _ in 0..flips {
                let at = g.below(len) as usize;
                if let Some(b) = bytes.get_mut(at) {
                    *b ^= 1 << g.below(8);
                }
            }
            format!("{flips} bit flips")
        }
        1 => {
            let keep = g.below(len) as usize;
            bytes.truncate(keep);
            format!("truncated to {keep}")
        }
        2 | 3 => {
            // A size, count or offset field of a zip record, or any 4/8 bytes.
            let headers = positions(bytes, b"PK\x03\x04");
            let central = positions(bytes, b"PK\x01\x02");
            let end = positions(bytes, b"PK\x05\x06");
            let value = SIZES[g.below(SIZES.len() as u64) as usize];
            let (at, width) = match g.below(5) {
                0 => match pick(g, &headers) {
                    Some(h) => (h + [18, 22, 26, 28][g.below(4) as usize], 4),
                    None => (g.below(len) as usize, 4),
                },
                // The zip64 sizes in a numpy-style local header's extra field.
                1 => match pick(g, &headers) {
                    Some(h) if bytes.get(h + 30).is_some() => {
                        let name_len = u16::from_le_bytes([bytes[h + 26], bytes[h + 27]]);
                        (h + 30 + name_len as usize + 4 + 8 * g.below(2) as usize, 8)
                    }
                    _ => (g.below(len) as usize, 8),
                },
                2 => match pick(g, &central) {
                    Some(c) => (c + [20, 24, 28, 30, 42][g.below(5) as usize], 4),
                    None => (g.below(len) as usize, 4),
                },
                3 => match pick(g, &end) {
                    Some(e) => (e + [8, 10, 12, 16][g.below(4) as usize], 4),
                    None => (g.below(len) as usize, 4),
                },
                _ => (g.below(len) as usize, if g.below(2) == 0 { 4 } else { 8 }),
            };
            let value = value.to_le_bytes();
            for (k, v) in value[..width].iter().enumerate() {
                if let Some(b) = bytes.get_mut(at + k) {
                    *b = *v;
                }
            }
            format!(
                "{width} bytes at {at} set to {:#x}",
                u64::from_le_bytes(value)
            )
        }
        4 => {
            // An entry name with control characters.
            match pick(g, &positions(bytes, b".npy")) {
                Some(at) => {
                    let bad: &[u8] = [
                        &b"\n"[..],
                        b"\r\x1b[2J",
                        b"\xff\xfe",
                        b"\x00",
                        b"\xe2\x80\xae",
                    ][g.below(5) as usize];
                    let start = at.saturating_sub(bad.len());
                    bytes[start..start + bad.len()].copy_from_slice(bad);
                    format!("entry name at {at} given {bad:?}")
                }
                None => "nothing (no name)".into(),
            }
        }
        5 => {
            // The .npy length field or header text of a stored entry.
            match pick(g, &positions(bytes, b"\x93NUMPY")) {
                Some(at) if at + 10 < bytes.len() => {
                    let field = at + [6, 8, 9][g.below(3) as usize];
                    bytes[field] = g.below(256) as u8;
                    format!("npy header byte {field} changed")
                }
                _ => "nothing (no stored npy)".into(),
            }
        }
        6 => {
            // A chunk duplicated or deleted.
            let start = g.below(len) as usize;
            let end = (start + 1 + g.below(200) as usize).min(bytes.len());
            if start >= end {
                return "nothing (empty chunk)".into();
            }
            if g.below(2) == 0 {
                bytes.drain(start..end);
                format!("deleted {start}..{end}")
            } else {
                let chunk = bytes[start..end].to_vec();
                let at = g.below(len) as usize;
                bytes.splice(at.min(bytes.len())..at.min(bytes.len()), chunk);
                format!("copied {start}..{end} to {at}")
            }
        }
        _ => {
            // Random bytes over a random stretch.
            let start = g.below(len) as usize;
            let end = (start + 1 + g.below(16) as usize).min(bytes.len());
            for b in bytes.get_mut(start..end).unwrap_or_default() {
                *b = g.next() as u8;
            }
            format!("randomized {start}..{end}")
        }
    }
}

/// The error is one printable line naming the file.
fn check_message(message: &str, what: &str) {
    assert!(
        !message.chars().any(|c| c.is_control()),
        "{what}: error with control characters: {message:?}"
    );
    assert!(
        message.starts_with("fuzz.npz: "),
        "{what}: error not naming the file: {message:?}"
    );
    assert!(
        message.len() < 1000,
        "{what}: error of {} bytes: {message:?}",
        message.len()
    );
}

/// Reads `bytes` from a buffer, a stream and (when `file` is given) a file: none may panic, and
/// every error must be one printable line.
fn read_every_way(bytes: &[u8], what: &str, file: Option<&std::path::Path>) {
    let from_buffer = catch_unwind(|| {
        read_bytes_limited(Bytes::from(bytes.to_vec()), "fuzz.npz", &LIMITS).map(|_| ())
    });
    let from_stream = catch_unwind(AssertUnwindSafe(|| {
        read_from_limited(std::io::Cursor::new(bytes), "fuzz.npz", &LIMITS).map(|_| ())
    }));
    for (how, outcome) in [("buffer", from_buffer), ("stream", from_stream)] {
        match outcome {
            Err(_) => panic!("{what}: reading from a {how} panicked"),
            Ok(Err(e)) => check_message(&e.to_string(), &format!("{what} ({how})")),
            Ok(Ok(())) => {}
        }
    }
    if let Some(path) = file {
        std::fs::write(path, bytes).unwrap();
        // The file path uses the environment's limits (the default cap).
        match catch_unwind(|| read_path(path).map(|_| ())) {
            Err(_) => panic!("{what}: reading from a file panicked"),
            Ok(Err(e)) => {
                let message = e.to_string();
                let message = message.replacen(&path.display().to_string(), "fuzz.npz", 1);
                check_message(&message, &format!("{what} (file)"));
            }
            Ok(Ok(())) => {}
        }
    }
}

#[test]
fn every_seed_reads_before_mutation() {
    for (name, bytes) in seeds() {
        read_bytes_limited(Bytes::from(bytes.clone()), "fuzz.npz", &LIMITS)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        read_from_limited(&bytes[..], "fuzz.npz", &LIMITS)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn mutated_files_give_one_line_errors_and_never_panic() {
    let iterations: u64 = std::env::var("FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let seed: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(18);
    let dir = testkit::Dir::new();
    let path = dir.path("fuzz.npz");
    let seeds = seeds();
    let started = std::time::Instant::now();
    // Silence the default hook: a panic is reported below with what caused it.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = catch_unwind(|| {
        let mut g = Gen(seed);
        for i in 0..iterations {
            for (name, original) in &seeds {
                let mut bytes = original.clone();
                let mut what = format!("seed {seed}, iteration {i}, {name}:");
                for _ in 0..1 + g.below(3) {
                    what += &format!(" {};", mutate(&mut g, &mut bytes));
                }
                let file = (i % 16 == 0).then_some(path.as_path());
                read_every_way(&bytes, &what, file);
            }
        }
    });
    std::panic::set_hook(hook);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
    eprintln!(
        "{} mutated files, each read 2-3 ways, in {:.2?}",
        iterations * seeds.len() as u64,
        started.elapsed()
    );
}

#[test]
fn corrupt_npy_headers_give_one_line_errors() {
    for (i, (header, says)) in BAD_HEADERS.iter().enumerate() {
        let entries = entries_with_images_header(header);
        for compressed in [false, true] {
            let bytes = zip(&entries, compressed);
            let what = format!("bad header {i} (compressed: {compressed})");
            read_every_way(&bytes, &what, None);
            let err = read_bytes_limited(Bytes::from(bytes), "fuzz.npz", &LIMITS)
                .err()
                .unwrap_or_else(|| panic!("{what}: was accepted"));
            let message = err.to_string();
            assert!(
                message.contains("train_images") && message.contains(says),
                "{what}: the error should name the entry and say {says:?}: {message}"
            );
        }
    }
}

#[test]
fn an_npy_header_length_beyond_the_entry_is_refused_before_reading() {
    for (version, field) in [(1u8, &[0xff, 0xff][..]), (2, &[0xff, 0xff, 0xff, 0xff][..])] {
        let mut entries = entries_with_images_header(&dict("|u1", "(5, 4, 4, 3)"));
        let images = &mut entries[1].1;
        images[6] = version;
        if version == 2 {
            images.insert(10, 0);
            images.insert(10, 0);
        }
        images[8..8 + field.len()].copy_from_slice(field);
        for compressed in [false, true] {
            let bytes = zip(&entries, compressed);
            let message = read_bytes_limited(Bytes::from(bytes), "fuzz.npz", &LIMITS)
                .expect_err("refused")
                .to_string();
            assert!(
                message.contains("train_images") && message.contains("bytes declared"),
                "version {version}: {message}"
            );
        }
    }
}

#[test]
fn an_entry_name_with_control_characters_is_shown_escaped() {
    let mut entries = entries_with_images_header(&dict("|u1", "(5, 4, 4, 3)"));
    entries[2].0 = "train\n\u{1b}[2Jlabels.npy";
    for compressed in [false, true] {
        let err = read_bytes_limited(Bytes::from(zip(&entries, compressed)), "fuzz.npz", &LIMITS)
            .expect_err("an unknown entry");
        let message = err.to_string();
        assert!(
            message.contains("train\\n\\u{1b}[2Jlabels"),
            "escaped name: {message}"
        );
        check_message(&message, "control characters in a name");
    }
}

/// `n` zero bytes of `train_images` (a [n, 1, 1, 1] uint8 array) with valid labels: deflate turns
/// them into about n/1000 bytes.
fn zeros_dataset(n: usize) -> Vec<(&'static str, Vec<u8>)> {
    let meta = br#"{"name": "bomb", "classes": ["a"], "history": []}"#;
    vec![
        (
            "meta.npy",
            npy(&dict("|u1", &format!("({},)", meta.len())), meta),
        ),
        (
            "train_images.npy",
            npy(&dict("|u1", &format!("({n}, 1, 1, 1)")), &vec![0; n]),
        ),
        (
            "train_labels.npy",
            npy(&dict("|u1", &format!("({n},)")), &vec![0; n]),
        ),
    ]
}

#[test]
fn a_zip_bomb_is_refused_under_the_cap() {
    let n = 64 << 20;
    let bomb = zip(&zeros_dataset(n), true);
    assert!(bomb.len() < n / 500, "{} bytes expand to {n}", bomb.len());
    let limits = ReadLimits {
        max_expand: 16 << 20,
    };
    for (how, result) in [
        (
            "buffer",
            read_bytes_limited(Bytes::from(bomb.clone()), "bomb.npz", &limits),
        ),
        ("stream", read_from_limited(&bomb[..], "bomb.npz", &limits)),
    ] {
        let message = result.expect_err("a bomb is refused").to_string();
        for needle in [
            "bomb.npz",
            "train_images.npy",
            "RETHINK_MAX_EXPAND",
            &(16u64 << 20).to_string(),
        ] {
            assert!(
                message.contains(needle),
                "{how}: {message} should name {needle}"
            );
        }
        check_message(&message.replacen("bomb.npz", "fuzz.npz", 1), how);
    }
    // Under a cap that allows it, the same file reads.
    let roomy = ReadLimits {
        max_expand: 256 << 20,
    };
    let d = read_bytes_limited(Bytes::from(bomb), "bomb.npz", &roomy).unwrap();
    assert_eq!(d.train.unwrap().len(), n);
}

/// Sets the sizes of the first deflated entry after `meta` (`train_images`): the 32-bit fields
/// say "see zip64", the zip64 extra says `size`.
fn declare_size(bytes: &mut [u8], size: u64) {
    let h = positions(bytes, b"PK\x03\x04")[1];
    let name_len = u16::from_le_bytes([bytes[h + 26], bytes[h + 27]]) as usize;
    let at = h + 30 + name_len + 4;
    bytes[at..at + 8].copy_from_slice(&size.to_le_bytes());
}

#[test]
fn a_lying_declared_size_is_neither_trusted_nor_exceeded() {
    let n = 4 << 20;
    let honest = zip(&zeros_dataset(n), true);
    let roomy = ReadLimits {
        max_expand: 1 << 40,
    };
    // Declared far beyond what the compressed bytes can hold: refused before allocating (this
    // used to be `Vec::with_capacity(declared)`: a capacity overflow or a failed allocation).
    for declared in [u64::MAX, 1 << 62, 9_007_199_263_131_456, 1 << 40] {
        let mut bytes = honest.clone();
        declare_size(&mut bytes, declared);
        for (how, result) in [
            (
                "buffer",
                read_bytes_limited(Bytes::from(bytes.clone()), "lie.npz", &roomy),
            ),
            ("stream", read_from_limited(&bytes[..], "lie.npz", &roomy)),
        ] {
            let message = result.expect_err("refused").to_string();
            assert!(
                message.contains("train_images.npy") && message.contains("deflated bytes can hold"),
                "{how}, declared {declared}: {message}"
            );
        }
    }
    // Declared smaller than the data: decoding stops one byte past the declared size.
    let mut bytes = honest.clone();
    declare_size(&mut bytes, 1000);
    let message = read_bytes_limited(Bytes::from(bytes), "lie.npz", &roomy)
        .expect_err("refused")
        .to_string();
    assert!(
        message.contains("expands past the 1000 bytes its header declares"),
        "{message}"
    );
}

#[test]
fn a_huge_stored_size_on_a_stream_is_an_error_not_an_abort() {
    // Our own stored layout, with train_images claiming 2^60 bytes: a pipe cannot tell how much
    // is coming, so the reader must not commit memory for the claim.
    let mut bytes = testkit::encode(&testkit::tiny_dataset(5, 2, [4, 4, 3], 3, 1));
    let h = positions(&bytes, b"PK\x03\x04")[1];
    for (at, v) in [(18, u32::MAX), (22, u32::MAX)] {
        bytes[h + at..h + at + 4].copy_from_slice(&v.to_le_bytes());
    }
    let name_len = u16::from_le_bytes([bytes[h + 26], bytes[h + 27]]) as usize;
    let extra = h + 30 + name_len;
    // Make the first extra field a zip64 one with both sizes 2^60 (it replaces the padding id).
    bytes[extra..extra + 4].copy_from_slice(&[1, 0, 16, 0]);
    bytes[extra + 4..extra + 12].copy_from_slice(&(1u64 << 60).to_le_bytes());
    bytes[extra + 12..extra + 20].copy_from_slice(&(1u64 << 60).to_le_bytes());
    for (how, result) in [
        (
            "buffer",
            read_bytes_limited(Bytes::from(bytes.clone()), "big.npz", &LIMITS),
        ),
        ("stream", read_from_limited(&bytes[..], "big.npz", &LIMITS)),
    ] {
        let message = result.expect_err("refused").to_string();
        assert!(message.contains("train_images.npy"), "{how}: {message}");
    }
}
