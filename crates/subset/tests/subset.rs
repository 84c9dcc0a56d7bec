//! `subset` as a user runs it: sizes, class balance, carried masks, determinism and bad input.

use proptest::prelude::*;
use rethink_dataset::{Dataset, Images, Meta, Split};
use rethink_testkit as testkit;
use rethink_testkit::{Dir, TestCommand, assert_one_line_error, decode, encode};

fn subset() -> TestCommand {
    TestCommand::new(env!("CARGO_BIN_EXE_subset"))
}

fn run(d: &Dataset, args: &[&str]) -> Dataset {
    decode(&subset().args(args).pipe(encode(d)).stdout())
}

/// Images whose first byte is the example's index (mod 256) and second byte index / 256, so the
/// kept examples can be traced back; labels from `label(i)`; clean labels and a mask attached.
fn traceable(train: usize, test: usize, classes: usize, label: impl Fn(usize) -> u16) -> Dataset {
    let split = |n: usize| Split {
        images: Images::from_u8(
            [n, 1, 1, 2],
            (0..n)
                .flat_map(|i| [(i % 256) as u8, (i / 256) as u8])
                .collect::<Vec<u8>>(),
        ),
        labels: (0..n).map(&label).collect(),
    };
    let mut d = Dataset::new(
        Meta::new("trace", (0..classes).map(|k| k.to_string()).collect()),
        Some(split(train)),
        Some(split(test)),
    );
    // Corrupted labels: every third example's label is shifted; the clean labels are `label(i)`.
    let clean: Vec<u16> = (0..train).map(&label).collect();
    d.train.as_mut().unwrap().labels = clean
        .iter()
        .enumerate()
        .map(|(i, &l)| {
            if i % 3 == 0 {
                (l + 1) % classes as u16
            } else {
                l
            }
        })
        .collect();
    d.train_corrupted = Some((0..train).map(|i| u8::from(i % 3 == 0)).collect());
    d.train_clean_labels = Some(clean);
    d
}

/// The original index of each kept example.
fn origin(split: &Split) -> Vec<usize> {
    split
        .images
        .as_u8()
        .unwrap()
        .chunks(2)
        .map(|p| p[0] as usize + 256 * p[1] as usize)
        .collect()
}

fn histogram(labels: &[u16], classes: usize) -> Vec<usize> {
    let mut h = vec![0; classes];
    for &l in labels {
        h[l as usize] += 1;
    }
    h
}

#[test]
fn keeps_n_and_m_examples_in_original_order_with_masks_aligned() {
    let d = traceable(1000, 300, 10, |i| (i * 7 % 10) as u16);
    let out = run(&d, &["--train", "120", "--test", "40", "--seed", "5"]);
    let (train, test) = (out.train.as_ref().unwrap(), out.test.as_ref().unwrap());
    assert_eq!((train.len(), test.len()), (120, 40));
    let kept = origin(train);
    assert!(
        kept.windows(2).all(|w| w[0] < w[1]),
        "sorted by original index, no repeats"
    );
    let (src, clean, mask) = (
        d.train.as_ref().unwrap(),
        d.train_clean_labels.as_ref().unwrap(),
        d.train_corrupted.as_ref().unwrap(),
    );
    for (k, &i) in kept.iter().enumerate() {
        assert_eq!(train.labels[k], src.labels[i]);
        assert_eq!(out.train_clean_labels.as_ref().unwrap()[k], clean[i]);
        assert_eq!(out.train_corrupted.as_ref().unwrap()[k], mask[i]);
    }
    for (k, &i) in origin(test).iter().enumerate() {
        assert_eq!(test.labels[k], d.test.as_ref().unwrap().labels[i]);
    }
    let h = out.meta.history.last().unwrap();
    assert_eq!((h.tool.as_str(), h.seed), ("subset", Some(5)));
    assert!(h.input_digest.as_deref().unwrap().starts_with("blake3:"));
}

#[test]
fn stratified_is_balanced_by_true_class_even_when_the_input_is_not() {
    // Class k has 40 + 30·k examples: very unbalanced.
    let labels: Vec<u16> = (0..10u16)
        .flat_map(|k| std::iter::repeat_n(k, 40 + 30 * k as usize))
        .collect();
    let n = labels.len();
    let d = traceable(n, n, 10, |i| labels[i]);
    let out = run(
        &d,
        &[
            "--train",
            "205",
            "--test",
            "300",
            "--stratified",
            "--seed",
            "1",
        ],
    );
    // By clean label: 20 each, and the 5 left over go to 5 different classes.
    let h = histogram(out.train_clean_labels.as_ref().unwrap(), 10);
    assert_eq!(h.iter().sum::<usize>(), 205);
    assert!(h.iter().all(|&c| c == 20 || c == 21), "{h:?}");
    assert_eq!(
        histogram(&out.test.as_ref().unwrap().labels, 10),
        vec![30; 10]
    );
    // Another seed gives the remainder to other classes, not always the first ones.
    let remainders: std::collections::HashSet<Vec<usize>> = (0..6)
        .map(|s| {
            let o = run(
                &d,
                &["--train", "205", "--stratified", "--seed", &s.to_string()],
            );
            histogram(o.train_clean_labels.as_ref().unwrap(), 10)
        })
        .collect();
    assert!(remainders.len() > 1);
}

#[test]
fn stratified_takes_all_of_a_small_class_and_shares_the_rest() {
    // Class 0 has 5 examples, classes 1 and 2 have 100 each.
    let d = traceable(205, 205, 3, |i| if i < 5 { 0 } else { 1 + (i % 2) as u16 });
    let out = run(&d, &["--train", "65", "--stratified"]);
    assert_eq!(
        histogram(out.train_clean_labels.as_ref().unwrap(), 3),
        vec![5, 30, 30]
    );
}

#[test]
fn same_seed_same_subset_other_seed_other_subset() {
    let d = traceable(500, 100, 5, |i| (i % 5) as u16);
    let input = encode(&d);
    let with = |seed: &str, threads: &str| {
        subset()
            .args(["--train", "50", "--stratified", "--seed", seed])
            .env("RAYON_NUM_THREADS", threads)
            .pipe(input.clone())
            .stdout()
    };
    assert!(with("3", "1") == with("3", "2"));
    assert!(with("3", "1") != with("4", "1"));
}

#[test]
fn zero_drops_a_split_and_unset_keeps_it_whole() {
    let d = traceable(50, 20, 5, |i| (i % 5) as u16);
    let out = run(&d, &["--train", "0"]);
    assert!(
        out.train.is_none() && out.train_clean_labels.is_none() && out.train_corrupted.is_none()
    );
    assert_eq!(out.test, d.test);
    let out = run(&d, &["--test", "10"]);
    assert_eq!(out.train, d.train);
    assert_eq!(out.test.unwrap().len(), 10);
}

#[test]
fn bad_input_gives_one_line_and_the_right_exit_code() {
    let dir = Dir::new();
    let path = dir.dataset("small.npz", &traceable(50, 20, 5, |i| (i % 5) as u16));
    let out = dir.path("out.npz");
    let err = subset()
        .arg(&path)
        .args(["--train", "51", "-o"])
        .arg(&out)
        .assert_exit_code(1);
    assert_one_line_error(&err, &["small.npz", "--train 51", "only 50 train examples"]);
    let err = subset()
        .arg(&path)
        .args(["--test", "21", "--stratified", "-o"])
        .arg(&out)
        .assert_exit_code(1);
    assert_one_line_error(&err, &["small.npz", "only 20 test examples"]);
    let err = subset()
        .arg(&path)
        .args(["--train", "0", "--test", "0", "-o"])
        .arg(&out)
        .assert_exit_code(1);
    assert_one_line_error(&err, &["small.npz", "nothing would be left"]);
    let err = subset().arg(&path).assert_exit_code(2);
    assert_one_line_error(&err, &["nothing to do"]);
    subset()
        .arg(&path)
        .args(["--train", "-3"])
        .assert_exit_code(2);
    let test_only = dir.dataset("shard.npz", &testkit::tiny_dataset(0, 5, [2, 2, 1], 3, 1));
    let err = subset()
        .arg(&test_only)
        .args(["--train", "1", "-o"])
        .arg(&out)
        .assert_exit_code(1);
    assert_one_line_error(&err, &["shard.npz", "no train split"]);
    assert!(!out.exists(), "no output on failure");
}

/// `--indices FILE`: exactly the listed training examples, in the file's order, with their
/// clean labels and corruption flags; the test split untouched (or cut by --test).
#[test]
fn indices_keep_exactly_the_listed_examples_in_file_order() {
    let dir = Dir::new();
    let d = traceable(300, 40, 10, |i| (i * 7 % 10) as u16);
    let list = dir.write(
        "hardest.txt",
        b"# the hardest first, as report writes them\n299  # never fitted\n\n3\n150  # label 0 (corrupted)\n0\r\n",
    );
    let out = run(&d, &["--indices", list.to_str().unwrap()]);
    let train = out.train.as_ref().unwrap();
    assert_eq!(
        origin(train),
        [299, 3, 150, 0],
        "the listed examples, in the list's order"
    );
    let (src, clean, mask) = (
        d.train.as_ref().unwrap(),
        d.train_clean_labels.as_ref().unwrap(),
        d.train_corrupted.as_ref().unwrap(),
    );
    for (k, i) in [299, 3, 150, 0].into_iter().enumerate() {
        assert_eq!(train.labels[k], src.labels[i]);
        assert_eq!(out.train_clean_labels.as_ref().unwrap()[k], clean[i]);
        assert_eq!(out.train_corrupted.as_ref().unwrap()[k], mask[i]);
    }
    assert_eq!(
        out.test.as_ref().unwrap().len(),
        40,
        "the test split kept whole"
    );
    assert_eq!(
        out.meta.history.last().unwrap().seed,
        None,
        "a list draws nothing"
    );

    let out = run(&d, &["--indices", list.to_str().unwrap(), "--test", "0"]);
    assert!(out.test.is_none());
    assert_eq!(out.train.as_ref().unwrap().len(), 4);
}

#[test]
fn bad_index_lists_name_the_file_and_line() {
    let dir = Dir::new();
    let path = dir.dataset("small.npz", &traceable(50, 20, 5, |i| (i % 5) as u16));
    let out = dir.path("out.npz");
    for (name, text, needles) in [
        (
            "range.txt",
            "# c\n3\n50\n",
            &["range.txt:3", "index 50 is out of range", "50 examples"][..],
        ),
        (
            "word.txt",
            "3\nseven\n",
            &["word.txt:2", "\"seven\" is not an index"][..],
        ),
        (
            "minus.txt",
            "-1\n",
            &["minus.txt:1", "\"-1\" is not an index"][..],
        ),
        ("two.txt", "1 2\n", &["two.txt:1", "one index per line"][..]),
        (
            "again.txt",
            "4\n9\n4\n",
            &["again.txt:3", "index 4 repeats line 1"][..],
        ),
        (
            "empty.txt",
            "# nothing\n\n",
            &["empty.txt", "no indices"][..],
        ),
    ] {
        let list = dir.write(name, text.as_bytes());
        let err = subset()
            .arg(&path)
            .arg("--indices")
            .arg(&list)
            .arg("-o")
            .arg(&out)
            .assert_exit_code(1);
        assert_one_line_error(&err, needles);
    }
    let err = subset()
        .arg(&path)
        .arg("--indices")
        .arg(dir.path("missing.txt"))
        .arg("-o")
        .arg(&out)
        .assert_exit_code(1);
    assert_one_line_error(&err, &["missing.txt", "cannot read the index list"]);
    let list = dir.write("ok.txt", b"1\n");
    for clash in [&["--train", "3"][..], &["--stratified"][..]] {
        subset()
            .arg(&path)
            .arg("--indices")
            .arg(&list)
            .args(clash)
            .arg("-o")
            .arg(&out)
            .assert_exit_code(2);
    }
    assert!(!out.exists(), "no output on failure");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    /// Per-class counts differ by at most one unless a class ran out of examples.
    #[test]
    fn stratified_counts_are_as_even_as_the_classes_allow(
        labels in prop::collection::vec(0u16..6, 1..300), frac in 0.0f64..=1.0, seed in 0u64..1000
    ) {
        let n = labels.len();
        let k = ((n as f64) * frac) as usize;
        let d = traceable(n, 1, 6, |i| labels[i]);
        let out = run(&d, &["--train", &k.to_string(), "--stratified", "--seed", &seed.to_string()]);
        let available = histogram(&labels, 6);
        let got = out.train.as_ref().map_or(vec![0; 6], |t| histogram(&origin(t).iter().map(|&i| labels[i]).collect::<Vec<_>>(), 6));
        prop_assert_eq!(got.iter().sum::<usize>(), k);
        let unsaturated: Vec<usize> = (0..6).filter(|&c| got[c] < available[c]).map(|c| got[c]).collect();
        if let (Some(lo), Some(hi)) = (unsaturated.iter().min(), unsaturated.iter().max()) {
            prop_assert!(hi - lo <= 1, "{:?} of {:?}", got, available);
            // A class that gave all it has never got more than an unsaturated one could.
            for c in 0..6 { if got[c] == available[c] { prop_assert!(got[c] <= *hi + 1); } }
        }
    }
}

#[test]
fn a_shard_set_gives_the_subset_of_the_concatenated_file() {
    let dir = Dir::new();
    let whole = traceable(500, 60, 5, |i| (i * 7 % 5) as u16);
    let file = dir.dataset("whole.npz", &whole);
    let set = dir.shards("set", &testkit::cut(&whole, &[128, 1, 300, 71]));
    for args in [
        &["--train", "100", "--test", "20", "--seed", "3"][..],
        &["--train", "50", "--stratified", "--seed", "1"][..],
    ] {
        let one = decode(&subset().args(args).arg(&file).stdout());
        let many = decode(&subset().args(args).arg(&set).stdout());
        assert_eq!(one.train, many.train, "{args:?}");
        assert_eq!(one.test, many.test, "{args:?}");
        assert_eq!(one.train_clean_labels, many.train_clean_labels, "{args:?}");
        assert_eq!(one.train_corrupted, many.train_corrupted, "{args:?}");
    }
}
