//! mnist-fetch on tiny IDX files (plain and gzipped) in the official layout: pixel-exact
//! [N,28,28,1] images, labels, class names and checksums; the download path against a local
//! server; bad files failing in one line; and the real Fashion-MNIST from Debian's package.

use std::io::Write;
use std::path::Path;

use rethink_fetch::md5_hex;
use rethink_testkit::{Run, TestServer};

const BIN: &str = env!("CARGO_BIN_EXE_mnist-fetch");

fn pixel(i: usize, r: usize, c: usize) -> u8 {
    ((i * 13 + r * 7 + c) % 256) as u8
}

/// IDX images for records `first..first + n`: magic 0x803, then n, 28, 28 big-endian.
fn idx_images(first: usize, n: usize) -> Vec<u8> {
    let mut out = vec![0, 0, 8, 3];
    for d in [n as u32, 28, 28] {
        out.extend(d.to_be_bytes());
    }
    for i in first..first + n {
        for r in 0..28 {
            for c in 0..28 {
                out.push(pixel(i, r, c));
            }
        }
    }
    out
}

/// IDX labels: magic 0x801, then n; record i has label i % 10.
fn idx_labels(first: usize, n: usize) -> Vec<u8> {
    let mut out = vec![0, 0, 8, 1];
    out.extend((n as u32).to_be_bytes());
    out.extend((first..first + n).map(|i| (i % 10) as u8));
    out
}

/// The four files: 12 training records (0..12), 5 test records (100..105).
fn idx_files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("train-images-idx3-ubyte", idx_images(0, 12)),
        ("train-labels-idx1-ubyte", idx_labels(0, 12)),
        ("t10k-images-idx3-ubyte", idx_images(100, 5)),
        ("t10k-labels-idx1-ubyte", idx_labels(100, 5)),
    ]
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn write_dir(dir: &Path, files: &[(&str, Vec<u8>)], gz: bool) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, body) in files {
        if gz {
            std::fs::write(dir.join(format!("{name}.gz")), gzip(body)).unwrap();
        } else {
            std::fs::write(dir.join(name), body).unwrap();
        }
    }
}

fn assert_split(split: &rethink_dataset::Split, first: usize, n: usize) {
    assert_eq!(split.images.shape(), [n, 28, 28, 1]);
    let px = split.images.as_u8().unwrap();
    for k in 0..n {
        for (r, c) in [(0, 0), (0, 27), (13, 9), (27, 0), (27, 27)] {
            assert_eq!(
                px[(k * 28 + r) * 28 + c],
                pixel(first + k, r, c),
                "image {k} ({r},{c})"
            );
        }
    }
    let labels: Vec<u16> = (first..first + n).map(|i| (i % 10) as u16).collect();
    assert_eq!(split.labels, labels);
}

fn read(path: &Path) -> rethink_dataset::Dataset {
    rethink_dataset::read_path(path).expect("a valid dataset file")
}

#[test]
fn plain_idx_files_become_single_channel_images() {
    let dir = tempfile::tempdir().unwrap();
    let files = idx_files();
    write_dir(&dir.path().join("raw"), &files, false);
    Run::new(BIN, dir.path(), &["--dir", "raw", "-o", "m.npz"]).success();
    let ds = read(&dir.path().join("m.npz"));
    assert_split(ds.train.as_ref().unwrap(), 0, 12);
    assert_split(ds.test.as_ref().unwrap(), 100, 5);
    assert_eq!(ds.meta.name, "mnist");
    assert_eq!(
        ds.meta.classes,
        ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
    );
    let source = ds.meta.source.as_ref().unwrap();
    assert_eq!(source["dir"], "raw");
    assert_eq!(
        source["md5"]["t10k-labels-idx1-ubyte"],
        md5_hex(&files[3].1)
    );
    assert_eq!(ds.meta.history[0].tool, "mnist-fetch");
}

#[test]
fn gzipped_files_give_the_same_data_and_fashion_names() {
    let dir = tempfile::tempdir().unwrap();
    write_dir(&dir.path().join("gz"), &idx_files(), true);
    write_dir(&dir.path().join("plain"), &idx_files(), false);
    Run::new(
        BIN,
        dir.path(),
        &["--dataset", "fashion-mnist", "--dir", "gz", "-o", "f.npz"],
    )
    .success();
    Run::new(BIN, dir.path(), &["--dir", "plain", "-o", "p.npz"]).success();
    let (f, p) = (
        read(&dir.path().join("f.npz")),
        read(&dir.path().join("p.npz")),
    );
    assert_eq!(f.train, p.train);
    assert_eq!(f.test, p.test);
    assert_eq!(f.meta.name, "fashion-mnist");
    assert_eq!(f.meta.classes[0], "T-shirt/top");
    assert_eq!(f.meta.classes[9], "Ankle boot");
    let md5s = &f.meta.source.as_ref().unwrap()["md5"];
    assert!(md5s.get("train-images-idx3-ubyte.gz").is_some(), "{md5s}");
}

fn served_files() -> Vec<(String, Vec<u8>)> {
    idx_files()
        .into_iter()
        .map(|(name, body)| (format!("/mnist/{name}.gz"), gzip(&body)))
        .collect()
}

#[test]
fn downloads_verify_against_md5sums_and_are_cached() {
    let dir = tempfile::tempdir().unwrap();
    let files = served_files();
    let sums: String = files
        .iter()
        .map(|(path, body)| format!("{}  {}\n", md5_hex(body), &path[7..]))
        .collect();
    std::fs::write(dir.path().join("MD5SUMS"), sums).unwrap();
    let server = TestServer::serve(files.clone());
    let base = server.url("/mnist/");
    let args = ["--url", &base, "--md5sums", "MD5SUMS", "--cache", "c"];
    Run::new(BIN, dir.path(), &[&args[..], &["-o", "a.npz"]].concat()).success();
    assert_eq!(server.requests(), 4);
    assert_eq!(
        std::fs::read(dir.path().join("c/mnist/train-images-idx3-ubyte.gz")).unwrap(),
        files[0].1
    );
    drop(server);
    Run::new(BIN, dir.path(), &[&args[..], &["-o", "b.npz"]].concat()).success();
    let (a, b) = (
        read(&dir.path().join("a.npz")),
        read(&dir.path().join("b.npz")),
    );
    assert_split(a.train.as_ref().unwrap(), 0, 12);
    assert_eq!(a.test, b.test);
    assert_eq!(a.meta.source.as_ref().unwrap()["url"], base.as_str());
}

#[test]
fn a_download_that_is_not_the_published_file_fails_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::serve(served_files());
    let base = server.url("/mnist/");
    Run::new(
        BIN,
        dir.path(),
        &["--url", &base, "--cache", "c", "-o", "o.npz"],
    )
    .fails(
        1,
        &[
            "train-images-idx3-ubyte.gz",
            "expected f68b3c2dcbeaaa9fbdd348bbdeb94873",
        ],
    );
    assert!(!dir.path().join("o.npz").exists());
    assert_eq!(
        std::fs::read_dir(dir.path().join("c/mnist"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn offline_it_says_how_to_pass_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::serve(vec![]);
    let base = server.url("/");
    drop(server);
    Run::new(
        BIN,
        dir.path(),
        &["--dataset", "fashion-mnist", "--url", &base, "-o", "o.npz"],
    )
    .fails(
        1,
        &["cannot download", "--dir DIR", "dataset-fashion-mnist"],
    );
    assert!(!dir.path().join("o.npz").exists());
}

/// Writes `files` to a directory and expects mnist-fetch to fail on it in one line.
fn fails_on(files: &[(&str, Vec<u8>)], needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    write_dir(&dir.path().join("raw"), files, false);
    Run::new(BIN, dir.path(), &["--dir", "raw", "-o", "o.npz"]).fails(1, needles);
    assert!(!dir.path().join("o.npz").exists());
}

#[test]
fn bad_idx_files_fail_in_one_line_without_output() {
    let mut swapped = idx_files();
    swapped[0].1[3] = 1;
    fails_on(
        &swapped,
        &[
            "train-images-idx3-ubyte",
            "magic number 0x00000801 is not that of IDX images",
        ],
    );

    let mut short = idx_files();
    short[2].1.pop();
    fails_on(
        &short,
        &[
            "t10k-images-idx3-ubyte",
            "announces 5 images of 28x28 (3936 bytes), the file has 3935",
        ],
    );

    let mut fewer = idx_files();
    fewer[1].1 = idx_labels(0, 11);
    fails_on(
        &fewer,
        &["train-labels-idx1-ubyte", "11 labels for the 12 images"],
    );

    let mut bad_label = idx_files();
    bad_label[3].1[8 + 2] = 10;
    fails_on(
        &bad_label,
        &["t10k-labels-idx1-ubyte", "label 10 at index 2"],
    );

    let mut missing = idx_files();
    missing.remove(1);
    fails_on(
        &missing,
        &["train-labels-idx1-ubyte (or train-labels-idx1-ubyte.gz) is missing"],
    );
}

#[test]
#[ignore = "needs Debian's dataset-fashion-mnist (the Makefile's data/fashion-mnist.npz installs it)"]
fn the_real_fashion_mnist_from_the_debian_package() {
    assert!(
        Path::new(mnist_fetch::FASHION_MNIST_DIR).is_dir(),
        "apt-get install dataset-fashion-mnist"
    );
    let dir = tempfile::tempdir().unwrap();
    Run::new(
        BIN,
        dir.path(),
        &["--dataset", "fashion-mnist", "-o", "f.npz"],
    )
    .success();
    let ds = read(&dir.path().join("f.npz"));
    let train = ds.train.as_ref().unwrap();
    let test = ds.test.as_ref().unwrap();
    assert_eq!(train.images.shape(), [60000, 28, 28, 1]);
    assert_eq!(test.images.shape(), [10000, 28, 28, 1]);
    let mut histogram = [0usize; 10];
    for &l in &train.labels {
        histogram[l as usize] += 1;
    }
    assert_eq!(histogram, [6000; 10]);
    let mut histogram = [0usize; 10];
    for &l in &test.labels {
        histogram[l as usize] += 1;
    }
    assert_eq!(histogram, [1000; 10]);
    // The first training image is an ankle boot (class 9), as in the dataset's documentation.
    assert_eq!(train.labels[0], 9);
    assert_eq!(
        ds.meta.source.as_ref().unwrap()["dir"],
        mnist_fetch::FASHION_MNIST_DIR
    );
}

/// Runs mnist-fetch on `files` (written plain, or gzipped when the name ends in .gz) in a shell
/// that limits the address space to 1 GiB, with `env` set.
fn run_bounded(files: &[(&str, Vec<u8>)], env: &[(&str, &str)]) -> (Run, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw");
    std::fs::create_dir_all(&raw).unwrap();
    for (name, body) in files {
        std::fs::write(raw.join(name), body).unwrap();
    }
    let run = Run::with_memory_limit(
        BIN,
        dir.path(),
        &["--dir", "raw", "-o", "o.npz"],
        env,
        1 << 20,
    );
    (run, dir)
}

/// A gzip stream that expands to `gib` GiB of zeros after `head`, made of repeated members
/// (MultiGzDecoder reads them as one stream): a few MB on disk.
fn gzip_bomb(head: &[u8], gib: usize) -> Vec<u8> {
    let zeros = gzip(&vec![0; 16 << 20]);
    let mut out = gzip(head);
    for _ in 0..gib * 64 {
        out.extend_from_slice(&zeros);
    }
    out
}

#[test]
fn a_gzip_bomb_is_read_no_further_than_its_header_declares() {
    // Valid headers for 12 images, then 4 GiB of zeros: read through a limit of what the header
    // declares, not into memory (the old reader held it all and died under a 1 GiB limit).
    let mut files: Vec<(&str, Vec<u8>)> = idx_files();
    let bomb = gzip_bomb(&files[0].1, 4);
    files[0] = ("train-images-idx3-ubyte.gz", bomb);
    let (run, dir) = run_bounded(&files, &[]);
    run.fails(
        1,
        &[
            "train-images-idx3-ubyte.gz",
            "announces 12 images of 28x28 (9424 bytes), the file has more",
        ],
    );
    assert!(!dir.path().join("o.npz").exists());
}

#[test]
fn a_header_declaring_more_than_the_expansion_cap_is_refused_before_reading() {
    // 2^31 x 2^31 x 4 bytes wraps a 64-bit size to 0: it must be refused, not trusted.
    let mut huge = vec![0, 0, 8, 3];
    for d in [1u32 << 31, 1 << 31, 4] {
        huge.extend(d.to_be_bytes());
    }
    let mut files = idx_files();
    files[0].1 = huge;
    let (run, _dir) = run_bounded(&files, &[]);
    run.fails(
        1,
        &[
            "train-images-idx3-ubyte",
            "announces 2147483648 images of 2147483648x4, more than the",
            "RETHINK_MAX_EXPAND",
        ],
    );

    // The cap every tool shares: 12 images of 28x28 need 9424 bytes.
    let (run, dir) = run_bounded(&idx_files(), &[("RETHINK_MAX_EXPAND", "8K")]);
    run.fails(
        1,
        &[
            "train-images-idx3-ubyte",
            "announces 12 images of 28x28, more than the 8192 bytes a file may expand to (set by RETHINK_MAX_EXPAND)",
        ],
    );
    assert!(!dir.path().join("o.npz").exists());
    let (run, _dir) = run_bounded(&idx_files(), &[("RETHINK_MAX_EXPAND", "16K")]);
    run.success();
}
