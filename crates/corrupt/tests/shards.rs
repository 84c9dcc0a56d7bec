//! `corrupt` on a shard set (a directory of shards with index.json) gives exactly the arrays it
//! gives on the concatenated file, for every mode and seed, written as a new shard set.

use rethink_dataset::{Dataset, Images, Meta, Split, read_path};
use rethink_testkit::{Dir, TestCommand, assert_one_line_error, cut, tiny_dataset};

fn corrupt() -> TestCommand {
    TestCommand::new(env!("CARGO_BIN_EXE_corrupt"))
}

/// Float32 images (a Gaussian-noise file) with a corrupted-label history, to cover the other
/// dtype and a second corruption round.
fn float_dataset() -> Dataset {
    let tiny = tiny_dataset(150, 20, [3, 3, 2], 4, 9);
    let to_f32 = |s: &Split| Split {
        images: Images::from_f32(
            s.images.shape(),
            s.images
                .as_u8()
                .unwrap()
                .iter()
                .map(|&v| f32::from(v) * 0.37 - 11.0)
                .collect(),
        ),
        labels: s.labels.clone(),
    };
    Dataset::new(
        Meta::new("floats", (0..4).map(|k| format!("c{k}")).collect()),
        tiny.train.as_ref().map(to_f32),
        tiny.test.as_ref().map(to_f32),
    )
}

fn assert_same_arrays(a: &Dataset, b: &Dataset, what: &str) {
    assert_eq!(a.train, b.train, "{what}: train");
    assert_eq!(a.test, b.test, "{what}: test");
    assert_eq!(
        a.train_clean_labels, b.train_clean_labels,
        "{what}: clean labels"
    );
    assert_eq!(a.train_corrupted, b.train_corrupted, "{what}: mask");
    assert_eq!(
        a.meta.corruption, b.meta.corruption,
        "{what}: meta.corruption"
    );
}

#[test]
fn shards_corrupt_exactly_like_the_concatenated_file_in_every_mode() {
    let dir = Dir::new();
    // 300 training images in uneven shards, one of them empty, one past a 64-image block edge.
    let bytes = tiny_dataset(300, 40, [4, 4, 3], 5, 7);
    let floats = float_dataset();
    let cases: [(&str, &Dataset, &[usize]); 2] = [
        ("u8", &bytes, &[70, 0, 129, 101]),
        ("f32", &floats, &[64, 1, 85]),
    ];
    let modes: [&[&str]; 6] = [
        &["--labels", "0.5"],
        &["--shuffle-pixels"],
        &["--random-pixels"],
        &["--gaussian"],
        &["--gaussian", "--quantize"],
        &["--labels", "1", "--random-pixels"],
    ];
    for (kind, whole, sizes) in cases {
        let file = dir.dataset(&format!("{kind}.npz"), whole);
        let set = dir.shards(&format!("{kind}-set"), &cut(whole, sizes));
        for mode in modes {
            for seed in ["1", "2"] {
                let what = format!("{kind} {mode:?} seed {seed}");
                let tag = format!("{kind}-{}-{seed}", mode.join("").replace("--", "_"));
                let one = dir.path(&format!("{tag}.npz"));
                let many = dir.path(&format!("{tag}-set"));
                let args = [mode, &["--seed", seed]].concat();
                corrupt()
                    .args(&args)
                    .arg(&file)
                    .arg("-o")
                    .arg(&one)
                    .stdout();
                corrupt()
                    .args(&args)
                    .arg(&set)
                    .arg("-o")
                    .arg(&many)
                    .stdout();
                let (one, many) = (read_path(&one).unwrap(), read_path(&many).unwrap());
                assert_same_arrays(&one, &many, &what);
                // The output is a shard set with the input's shard names and sizes.
                let shards =
                    rethink_dataset::ShardSet::open(&dir.path(&format!("{tag}-set"))).unwrap();
                let counts: Vec<u64> = shards.index.shards.iter().map(|s| s.train).collect();
                assert_eq!(
                    counts,
                    sizes.iter().map(|&n| n as u64).collect::<Vec<_>>(),
                    "{what}"
                );
                shards.verify().unwrap();
            }
        }
        // A second round on the corrupted shards matches a second round on the file.
        let one2 = dir.path(&format!("{kind}-again.npz"));
        let many2 = dir.path(&format!("{kind}-again-set"));
        let first_one = dir.path(&format!("{kind}-_labels0.5-1.npz"));
        let first_many = dir.path(&format!("{kind}-_labels0.5-1-set"));
        corrupt()
            .args(["--labels", "0.3", "--seed", "4"])
            .arg(&first_one)
            .arg("-o")
            .arg(&one2)
            .stdout();
        corrupt()
            .args(["--labels", "0.3", "--seed", "4"])
            .arg(&first_many)
            .arg("-o")
            .arg(&many2)
            .stdout();
        assert_same_arrays(
            &read_path(&one2).unwrap(),
            &read_path(&many2).unwrap(),
            "second round",
        );
    }
}

#[test]
fn a_shard_set_needs_an_output_directory_and_whole_shards() {
    let dir = Dir::new();
    let whole = tiny_dataset(6, 0, [2, 2, 1], 2, 3);
    let set = dir.shards("set", &cut(&whole, &[3, 3]));
    let stderr = corrupt()
        .args(["--labels", "1"])
        .arg(&set)
        .assert_exit_code(2);
    assert_one_line_error(&stderr, &["set", "-o DIR"]);
    let shard = set.join("shard-00000.npz");
    let bytes = std::fs::read(&shard).unwrap();
    std::fs::write(&shard, &bytes[..100]).unwrap();
    let stderr = corrupt()
        .args(["--labels", "1"])
        .arg(&set)
        .arg("-o")
        .arg(dir.path("out"))
        .assert_exit_code(1);
    assert_one_line_error(&stderr, &["shard-00000.npz", "truncated"]);
    assert!(!dir.path("out").exists(), "no half-written output");
}
