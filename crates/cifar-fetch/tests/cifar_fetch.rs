//! cifar-fetch on tiny archives in the exact official binary layouts: pixel-exact channels-last
//! images, labels, class names and source checksums; the download path against a local server;
//! and every kind of bad input failing in one line with no output file.

use std::io::Write;
use std::path::{Path, PathBuf};

use rethink_fetch::md5_hex;
use rethink_testkit::{Run, TestServer};

const BIN: &str = env!("CARGO_BIN_EXE_cifar-fetch");

const CIFAR10_NAMES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// The value the generated archives hold at channel `k`, row `r`, column `c` of record `i`.
fn pixel(i: usize, r: usize, c: usize, k: usize) -> u8 {
    ((i * 31 + k * 71 + r * 5 + c * 3) % 256) as u8
}

/// One record: the label bytes, then the R, G and B planes (row-major 32×32 each).
fn record(i: usize, labels: &[u8]) -> Vec<u8> {
    let mut rec = labels.to_vec();
    for k in 0..3 {
        for r in 0..32 {
            for c in 0..32 {
                rec.push(pixel(i, r, c, k));
            }
        }
    }
    rec
}

fn tar_gz(members: &[(String, Vec<u8>)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(gz);
    for (name, body) in members {
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, name, &body[..]).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

/// CIFAR-10 members: data_batch_k holds k records (global index 0..15), test_batch 3 records
/// (global index 100..103); record i has label i % 10.
fn cifar10_members() -> Vec<(String, Vec<u8>)> {
    let mut members = Vec::new();
    let mut i = 0;
    for k in 1..=5 {
        let mut body = Vec::new();
        for _ in 0..k {
            body.extend(record(i, &[(i % 10) as u8]));
            i += 1;
        }
        members.push((format!("cifar-10-batches-bin/data_batch_{k}.bin"), body));
    }
    let test: Vec<u8> = (100..103)
        .flat_map(|i| record(i, &[(i % 10) as u8]))
        .collect();
    members.push(("cifar-10-batches-bin/test_batch.bin".into(), test));
    // The official names file ends with blank lines.
    members.push((
        "cifar-10-batches-bin/batches.meta.txt".into(),
        format!("{}\n\n", CIFAR10_NAMES.join("\n")).into_bytes(),
    ));
    members
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
    path
}

fn read(path: &Path) -> rethink_dataset::Dataset {
    rethink_dataset::read_path(path).expect("a valid dataset file")
}

fn assert_pixels(split: &rethink_dataset::Split, first_record: usize) {
    let px = split.images.as_u8().unwrap();
    for n in 0..split.len() {
        for (r, c) in [(0, 0), (0, 31), (5, 17), (31, 0), (31, 31)] {
            for k in 0..3 {
                assert_eq!(
                    px[((n * 32 + r) * 32 + c) * 3 + k],
                    pixel(first_record + n, r, c, k),
                    "image {n} row {r} col {c} channel {k}"
                );
            }
        }
    }
}

#[test]
fn cifar10_archive_becomes_channels_last_images_with_labels_and_names() {
    let dir = tempfile::tempdir().unwrap();
    let archive = tar_gz(&cifar10_members());
    write(dir.path(), "cifar-10-binary.tar.gz", &archive);
    Run::new(
        BIN,
        dir.path(),
        &["--archive", "cifar-10-binary.tar.gz", "-o", "c10.npz"],
    )
    .success();
    let ds = read(&dir.path().join("c10.npz"));
    let train = ds.train.as_ref().unwrap();
    let test = ds.test.as_ref().unwrap();
    assert_eq!(train.images.shape(), [15, 32, 32, 3]);
    assert_eq!(test.images.shape(), [3, 32, 32, 3]);
    assert_pixels(train, 0);
    assert_pixels(test, 100);
    assert_eq!(train.labels, (0..15).map(|i| i % 10).collect::<Vec<u16>>());
    assert_eq!(test.labels, vec![0, 1, 2]);
    assert_eq!(ds.meta.name, "cifar10");
    assert_eq!(ds.meta.classes, CIFAR10_NAMES);
    let source = ds.meta.source.as_ref().unwrap();
    assert_eq!(source["md5"], md5_hex(&archive));
    assert_eq!(source["archive"], "cifar-10-binary.tar.gz");
    assert_eq!(ds.meta.history[0].tool, "cifar-fetch");
}

#[test]
fn an_extracted_directory_gives_the_same_data_as_the_archive() {
    let dir = tempfile::tempdir().unwrap();
    let members = cifar10_members();
    write(dir.path(), "c.tar.gz", &tar_gz(&members));
    std::fs::create_dir(dir.path().join("cifar-10-batches-bin")).unwrap();
    for (name, body) in &members {
        write(dir.path(), name, body);
    }
    Run::new(BIN, dir.path(), &["--archive", "c.tar.gz", "-o", "a.npz"]).success();
    Run::new(BIN, dir.path(), &["--archive", ".", "-o", "d.npz"]).success();
    let (a, d) = (
        read(&dir.path().join("a.npz")),
        read(&dir.path().join("d.npz")),
    );
    assert_eq!(a.train, d.train);
    assert_eq!(a.test, d.test);
    assert_eq!(a.meta.classes, d.meta.classes);
    let md5s = &d.meta.source.as_ref().unwrap()["md5"];
    assert_eq!(md5s["data_batch_3.bin"], md5_hex(&members[2].1));
}

fn cifar100_archive() -> Vec<u8> {
    // Record i: coarse label i % 20, fine label (7 * i) % 100.
    let train: Vec<u8> = (0..4)
        .flat_map(|i| record(i, &[(i % 20) as u8, (7 * i % 100) as u8]))
        .collect();
    let test: Vec<u8> = (50..52)
        .flat_map(|i| record(i, &[(i % 20) as u8, (7 * i % 100) as u8]))
        .collect();
    let fine: String = (0..100).map(|c| format!("fine{c}\n")).collect();
    let coarse: String = (0..20).map(|c| format!("coarse{c}\n")).collect();
    tar_gz(&[
        (
            "cifar-100-binary/coarse_label_names.txt".into(),
            coarse.into_bytes(),
        ),
        (
            "cifar-100-binary/fine_label_names.txt".into(),
            fine.into_bytes(),
        ),
        ("cifar-100-binary/test.bin".into(), test),
        ("cifar-100-binary/train.bin".into(), train),
    ])
}

#[test]
fn cifar100_uses_fine_labels_by_default_and_coarse_on_request() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "c100.tar.gz", &cifar100_archive());
    let args = ["--dataset", "cifar100", "--archive", "c100.tar.gz"];
    Run::new(BIN, dir.path(), &[&args[..], &["-o", "fine.npz"]].concat()).success();
    Run::new(
        BIN,
        dir.path(),
        &[&args[..], &["--labels", "coarse", "-o", "coarse.npz"]].concat(),
    )
    .success();
    let fine = read(&dir.path().join("fine.npz"));
    let coarse = read(&dir.path().join("coarse.npz"));
    assert_eq!(fine.meta.name, "cifar100");
    assert_eq!(fine.meta.classes.len(), 100);
    assert_eq!(fine.meta.classes[42], "fine42");
    assert_eq!(coarse.meta.classes.len(), 20);
    assert_eq!(fine.train.as_ref().unwrap().labels, vec![0, 7, 14, 21]);
    assert_eq!(coarse.train.as_ref().unwrap().labels, vec![0, 1, 2, 3]);
    assert_eq!(fine.test.as_ref().unwrap().labels, vec![50, 57]);
    assert_eq!(coarse.test.as_ref().unwrap().labels, vec![10, 11]);
    assert_pixels(fine.train.as_ref().unwrap(), 0);
    assert_pixels(coarse.test.as_ref().unwrap(), 50);
    assert_eq!(fine.meta.source.as_ref().unwrap()["labels"], "fine");
}

#[test]
fn downloads_verifies_and_caches_then_never_downloads_again() {
    let dir = tempfile::tempdir().unwrap();
    let archive = tar_gz(&cifar10_members());
    let md5 = md5_hex(&archive);
    let server = TestServer::serve(vec![("/x/cifar-10-binary.tar.gz".into(), archive.clone())]);
    let url = server.url("/x/cifar-10-binary.tar.gz");
    let args = ["--url", &url, "--md5", &md5, "--cache", "cache"];
    Run::new(BIN, dir.path(), &[&args[..], &["-o", "a.npz"]].concat()).success();
    assert_eq!(server.requests(), 1);
    let cached = dir.path().join("cache/cifar-10-binary.tar.gz");
    assert_eq!(std::fs::read(&cached).unwrap(), archive);
    drop(server);
    // The server is gone: the verified cache is used.
    Run::new(BIN, dir.path(), &[&args[..], &["-o", "b.npz"]].concat()).success();
    let (a, b) = (
        read(&dir.path().join("a.npz")),
        read(&dir.path().join("b.npz")),
    );
    assert_pixels(a.train.as_ref().unwrap(), 0);
    assert_eq!(a.train, b.train);
    let source = a.meta.source.as_ref().unwrap();
    assert_eq!(source["url"], url.as_str());
    assert_eq!(source["md5"], md5.as_str());
}

#[test]
fn a_download_with_the_wrong_md5_fails_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::serve(vec![(
        "/cifar-10-binary.tar.gz".into(),
        tar_gz(&cifar10_members()),
    )]);
    // Without --md5 the published MD5 of the real archive is expected.
    let url = server.url("/cifar-10-binary.tar.gz");
    let run = Run::new(
        BIN,
        dir.path(),
        &["--url", &url, "--cache", "cache", "-o", "out.npz"],
    );
    run.fails(1, &["MD5", "expected c32a1d4ab5d03f1284b67883e8d87530"]);
    assert!(!dir.path().join("out.npz").exists());
    let cache = dir.path().join("cache");
    assert_eq!(std::fs::read_dir(cache).unwrap().count(), 0);
}

#[test]
fn offline_it_says_how_to_pass_the_archive() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::serve(vec![]);
    let url = server.url("/cifar-10-binary.tar.gz");
    drop(server);
    let run = Run::new(BIN, dir.path(), &["--url", &url, "-o", "out.npz"]);
    run.fails(1, &["cannot download", "--archive PATH"]);
    assert!(!dir.path().join("out.npz").exists());
}

/// Runs cifar-fetch on an archive made of `members` and expects a one-line failure.
fn fails_on(members: &[(String, Vec<u8>)], needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "bad.tar.gz", &tar_gz(members));
    let run = Run::new(
        BIN,
        dir.path(),
        &["--archive", "bad.tar.gz", "-o", "out.npz"],
    );
    run.fails(1, needles);
    assert!(!dir.path().join("out.npz").exists());
}

#[test]
fn bad_archives_fail_in_one_line_without_output() {
    let mut truncated = cifar10_members();
    truncated[1].1.pop();
    fails_on(
        &truncated,
        &[
            "bad.tar.gz",
            "data_batch_2.bin",
            "6145 bytes is not a whole number of 3073-byte records",
        ],
    );

    let mut missing = cifar10_members();
    missing.remove(2);
    fails_on(
        &missing,
        &[
            "bad.tar.gz",
            "cifar-10-batches-bin/data_batch_3.bin is missing",
        ],
    );

    let mut bad_label = cifar10_members();
    bad_label[4].1[3 * 3073] = 10;
    fails_on(
        &bad_label,
        &[
            "data_batch_5.bin",
            "record 3 has label 10, but there are 10 classes",
        ],
    );
}

#[test]
fn a_wrong_md5_for_a_local_archive_and_misused_flags_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "c.tar.gz", &tar_gz(&cifar10_members()));
    Run::new(
        BIN,
        dir.path(),
        &[
            "--archive",
            "c.tar.gz",
            "--md5",
            &"0".repeat(32),
            "-o",
            "o.npz",
        ],
    )
    .fails(1, &["c.tar.gz", "MD5 is", "expected 000"]);
    assert!(!dir.path().join("o.npz").exists());
    Run::new(
        BIN,
        dir.path(),
        &["--archive", "c.tar.gz", "--labels", "fine", "-o", "o.npz"],
    )
    .fails(2, &["--labels applies to --dataset cifar100 only"]);
}

/// Runs cifar-fetch on `archive` with `env` set, in a shell that limits the address space to
/// 1 GiB (a reader that allocates what a header declares dies there).
fn run_bounded(archive: &[u8], env: &[(&str, &str)]) -> (Run, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.tar.gz", archive);
    let args = ["--archive", "a.tar.gz", "-o", "out.npz"];
    let run = Run::with_memory_limit(BIN, dir.path(), &args, env, 1 << 20);
    (run, dir)
}

#[test]
fn a_member_declaring_more_than_the_cap_is_refused_before_anything_is_allocated() {
    // A tar header may declare up to 2^63 bytes (base-256 size); the body is 512 bytes.
    let mut header = tar::Header::new_gnu();
    header
        .set_path("cifar-10-batches-bin/data_batch_1.bin")
        .unwrap();
    header.set_size(1 << 62);
    header.set_mode(0o644);
    header.set_cksum();
    let mut tar = header.as_bytes().to_vec();
    tar.extend_from_slice(&[0; 512]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let (run, dir) = run_bounded(&gz.finish().unwrap(), &[]);
    run.fails(
        1,
        &[
            "a.tar.gz",
            "cifar-10-batches-bin/data_batch_1.bin: declares 4611686018427387904 bytes, more than the",
            "RETHINK_MAX_EXPAND",
        ],
    );
    assert!(!dir.path().join("out.npz").exists());

    // A member that declares more than the archive holds.
    let members = cifar10_members();
    let whole = tar_gz(&members);
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&whole[..]), &mut plain).unwrap();
    let mut header = tar::Header::new_gnu();
    header
        .set_path("cifar-10-batches-bin/data_batch_1.bin")
        .unwrap();
    header.set_size(1 << 20);
    header.set_mode(0o644);
    header.set_cksum();
    let mut cut = header.as_bytes().to_vec();
    cut.extend_from_slice(&plain[512..512 + 3073]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&cut).unwrap();
    let (run, _dir) = run_bounded(&gz.finish().unwrap(), &[]);
    run.fails(
        1,
        &[
            "data_batch_1.bin",
            "the archive ends after 3073 of its 1048576 bytes",
        ],
    );
}

#[test]
fn an_archive_that_expands_past_the_cap_is_stopped() {
    // 64 MiB of zeros in a member nobody reads, before the real ones: the old reader skipped
    // through any amount of it; the cap bounds what the gzip stream may expand to.
    let mut members = vec![("junk.bin".to_string(), vec![0u8; 64 << 20])];
    members.extend(cifar10_members());
    let archive = tar_gz(&members);
    let (run, dir) = run_bounded(&archive, &[("RETHINK_MAX_EXPAND", "32M")]);
    run.fails(
        1,
        &[
            "a.tar.gz",
            "expands to more than 33554432 bytes, the cap set by RETHINK_MAX_EXPAND",
        ],
    );
    assert!(!dir.path().join("out.npz").exists());
    let (run, _dir) = run_bounded(&archive, &[("RETHINK_MAX_EXPAND", "128M")]);
    run.success();
}
