//! `subset`: keep N training and M test examples of a dataset file (optionally class-balanced),
//! carrying the clean labels and the corruption mask along. This is how the CPU-sized experiments
//! are cut from full datasets.

#![warn(missing_docs)]

pub mod indices;
pub mod sample;

use std::path::PathBuf;

use anyhow::anyhow;
use clap::Parser;
use rethink_cli::{Input, Output, usage};
use rethink_dataset::{Dataset, Split};

/// Keep N training and M test examples of a dataset file.
///
/// The kept examples are drawn uniformly without replacement, or with --stratified per class as
/// evenly as possible: each class gets ⌊N/K⌋ and the remainder goes one each to classes in a
/// seeded random order; a class with fewer examples than its share gives all it has and the
/// other classes share the rest. Training examples are stratified by their true class
/// (train_clean_labels when the file is corrupted). The kept examples stay in their original
/// order; train_clean_labels and train_corrupted follow the training examples.
///
/// --indices FILE keeps exactly the training examples listed in FILE, one index per line (from
/// 0, in the file's order; '#' starts a comment), as `report` writes the hardest and easiest
/// examples of a run; a malformed, out-of-range or repeated index is an error naming the line.
///
/// A split without --train/--test/--indices is kept whole; --train 0 (or --test 0) drops that split.
/// Asking for more examples than a split holds is an error.
///
/// Examples:
///   subset --train 5000 --test 1000 --stratified --seed 1 data/fashion-mnist.npz -o data/fmnist-5k.npz
///   corrupt --labels 0.5 < data/cifar10.npz | subset --train 1000 > small.npz
///   subset --indices report/dynamics/mlp-1x512--true-hardest.txt data/fmnist.npz | inspect - --grid hard.png --first 64
#[derive(Parser, Debug)]
#[command(name = "subset", version, verbatim_doc_comment)]
pub struct Args {
    /// The dataset file, or '-' for standard input.
    #[arg(value_name = "FILE", default_value = "-")]
    pub input: Input,
    /// Write the result here (atomically) instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// Training examples to keep (default: all).
    #[arg(long, value_name = "N", conflicts_with = "indices")]
    pub train: Option<usize>,
    /// Keep exactly the training examples listed in FILE (one index per line, '#' comments), in
    /// that order.
    #[arg(long, value_name = "FILE", conflicts_with = "stratified")]
    pub indices: Option<PathBuf>,
    /// Test examples to keep (default: all).
    #[arg(long, value_name = "M")]
    pub test: Option<usize>,
    /// Balance the kept examples over the classes.
    #[arg(long)]
    pub stratified: bool,
    /// Seed of the draw; recorded in meta.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
}

/// Runs `subset` on parsed arguments: reads the input, draws the subsets, writes the output.
pub fn run(args: Args) -> anyhow::Result<()> {
    if args.train.is_none() && args.test.is_none() && args.indices.is_none() {
        usage!("nothing to do: give --train N, --indices FILE and/or --test M");
    }
    let output = Output::new(args.output.as_deref());
    output.check_binary()?;
    let mut dataset = args.input.read_dataset()?;
    let digest = dataset.digest();
    apply(&mut dataset, &args, &args.input.to_string())?;
    dataset.meta.history.push(rethink_cli::history_record(
        "subset",
        env!("CARGO_PKG_VERSION"),
        // A list draws nothing: the seed matters only to --train and --test.
        (args.train.is_some() || args.test.is_some()).then_some(args.seed),
        digest,
    ));
    output.write_dataset(&dataset)
}

/// Cuts `dataset` down as `args` asks; `name` names the file in errors.
pub fn apply(dataset: &mut Dataset, args: &Args, name: &str) -> anyhow::Result<()> {
    let classes = dataset.num_classes();
    let pick = |split: &Option<Split>, strata: Option<&[u16]>, k: usize, what: &str| {
        let split = split
            .as_ref()
            .ok_or_else(|| anyhow!("{name}: --{what} {k}: the file holds no {what} split"))?;
        if k > split.len() {
            return Err(anyhow!(
                "{name}: --{what} {k}: the file holds only {} {what} examples",
                split.len()
            ));
        }
        let mut rng = sample::stream(args.seed, &format!("subset/{what}"));
        Ok(if args.stratified {
            sample::stratified(&mut rng, strata.unwrap_or(&split.labels), classes, k)
        } else {
            sample::uniform(&mut rng, split.len(), k)
        })
    };

    if let Some(path) = &args.indices {
        let train = dataset.train.as_ref().ok_or_else(|| {
            anyhow!(
                "{name}: --indices {}: the file holds no train split",
                path.display()
            )
        })?;
        let kept = indices::read(path, train.len())?;
        keep_train(dataset, &kept);
    }
    if let Some(k) = args.train {
        let kept = pick(
            &dataset.train,
            dataset.train_clean_labels.as_deref(),
            k,
            "train",
        )?;
        if k == 0 {
            dataset.train = None;
            dataset.train_clean_labels = None;
            dataset.train_corrupted = None;
        } else {
            keep_train(dataset, &kept);
        }
    }
    if let Some(k) = args.test {
        let kept = pick(&dataset.test, None, k, "test")?;
        dataset.test = if k == 0 {
            None
        } else {
            dataset.test.as_ref().map(|s| select(s, &kept))
        };
    }
    if dataset.train.is_none() && dataset.test.is_none() {
        return Err(anyhow!(
            "{name}: nothing would be left: the output needs at least one example"
        ));
    }
    Ok(())
}

/// Keeps the training examples at `kept` (in that order), with their clean labels and
/// corruption flags.
fn keep_train(dataset: &mut Dataset, kept: &[usize]) {
    let train = dataset.train.as_mut().expect("picked from it");
    *train = select(train, kept);
    let take = |v: &[u8]| kept.iter().map(|&i| v[i]).collect::<Vec<u8>>();
    dataset.train_corrupted = dataset.train_corrupted.as_deref().map(take);
    dataset.train_clean_labels = dataset
        .train_clean_labels
        .as_deref()
        .map(|v| kept.iter().map(|&i| v[i]).collect());
}

fn select(split: &Split, kept: &[usize]) -> Split {
    Split {
        images: split.images.select(kept),
        labels: kept.iter().map(|&i| split.labels[i]).collect(),
    }
}
