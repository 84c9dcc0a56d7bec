//! A directory of shards with an index.json is one dataset: read as the shards end to end, and a
//! missing, truncated or inconsistent shard is a one-line error naming it.

use rethink_dataset::{Dataset, ShardSet, read_path};
use rethink_testkit::{Dir, cut, encode, tiny_dataset};

fn corrupted(mut d: Dataset) -> Dataset {
    let n = d.train.as_ref().unwrap().len();
    d.train_clean_labels = Some((0..n).map(|i| (i % 3) as u16).collect());
    d.train_corrupted = Some((0..n).map(|i| (i % 2) as u8).collect());
    d
}

fn error(path: &std::path::Path) -> String {
    read_path(path).unwrap_err().to_string()
}

#[test]
fn a_shard_set_reads_as_the_concatenated_file() {
    let dir = Dir::new();
    let whole = corrupted(tiny_dataset(10, 4, [3, 2, 3], 3, 1));
    let set = dir.shards("set", &cut(&whole, &[4, 0, 5, 1]));
    let read = read_path(&set).unwrap();
    assert_eq!(read, whole);
    // Written back out, it is the very file the unsharded dataset makes.
    assert_eq!(encode(&read), encode(&whole));
    let opened = ShardSet::open(&set).unwrap();
    assert_eq!((opened.index.train, opened.index.test), (10, 4));
    assert_eq!(opened.offsets(2), (4, 0));
    assert_eq!(opened.offsets(3), (9, 0));
    opened.verify().unwrap();
    assert_eq!(read.digest().unwrap(), opened.digest);
}

#[test]
fn a_missing_or_truncated_shard_is_named_before_anything_is_read() {
    let dir = Dir::new();
    let whole = tiny_dataset(6, 0, [2, 2, 1], 2, 2);
    let set = dir.shards("set", &cut(&whole, &[3, 3]));
    let shard = set.join("shard-00001.npz");
    let bytes = std::fs::read(&shard).unwrap();
    std::fs::write(&shard, &bytes[..bytes.len() - 10]).unwrap();
    let e = error(&set);
    assert!(
        e.contains("shard-00001.npz")
            && e.contains("truncated")
            && e.contains("index.json")
            && !e.contains('\n'),
        "{e}"
    );
    std::fs::remove_file(&shard).unwrap();
    let e = error(&set);
    assert!(e.contains("shard-00001.npz: missing"), "{e}");
    // A shard replaced by another of the same size: only the digest tells.
    let other = encode(&tiny_dataset(3, 0, [2, 2, 1], 2, 9));
    assert_eq!(other.len(), bytes.len());
    std::fs::write(&shard, &other).unwrap();
    assert!(read_path(&set).is_ok());
    let e = ShardSet::open(&set)
        .unwrap()
        .verify()
        .unwrap_err()
        .to_string();
    assert!(e.contains("shard-00001.npz") && e.contains("digest"), "{e}");
}

#[test]
fn an_index_that_does_not_match_its_shards_is_an_error() {
    let dir = Dir::new();
    let whole = tiny_dataset(6, 0, [2, 2, 1], 2, 3);
    let set = dir.shards("set", &cut(&whole, &[2, 4]));
    let index = set.join("index.json");
    let text = std::fs::read_to_string(&index).unwrap();
    // Counts that lie about a shard.
    let lying = text.replacen("\"train\": 2,", "\"train\": 3,", 1).replacen(
        "\"train\": 6,",
        "\"train\": 7,",
        1,
    );
    assert_ne!(lying, text);
    std::fs::write(&index, &lying).unwrap();
    let e = error(&set);
    assert!(
        e.contains("shard-00000.npz") && e.contains("lists train 3"),
        "{e}"
    );
    // Totals that do not add up.
    std::fs::write(&index, text.replacen("\"train\": 6,", "\"train\": 5,", 1)).unwrap();
    assert!(error(&set).contains("add up"));
    // Not JSON, and no index at all.
    std::fs::write(&index, "{").unwrap();
    assert!(error(&set).contains("index.json: not a shard index"));
    std::fs::remove_file(&index).unwrap();
    assert!(error(&set).contains("no index.json"));
    // A path that escapes the directory.
    std::fs::write(&index, text.replace("shard-00000.npz", "../x.npz")).unwrap();
    assert!(error(&set).contains("not a plain file name"));
}

#[test]
fn shards_that_are_not_one_dataset_are_refused() {
    let dir = Dir::new();
    let a = tiny_dataset(2, 0, [2, 2, 1], 2, 4);
    let b = tiny_dataset(2, 0, [2, 3, 1], 2, 5);
    let set = dir.shards("shape", &[a.clone(), b]);
    let e = error(&set);
    assert!(
        e.contains("shard-00001.npz") && e.contains("train_images"),
        "{e}"
    );
    let c = tiny_dataset(2, 0, [2, 2, 1], 3, 6);
    let set = dir.shards("classes", &[a, c]);
    assert!(error(&set).contains("classes differ"));
}
