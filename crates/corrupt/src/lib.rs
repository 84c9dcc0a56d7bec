//! `corrupt`: the randomization tests of Zhang et al. (2017) applied to a dataset file: noisy or
//! random labels, shuffled pixels, random pixels, Gaussian images.

#![warn(missing_docs)]

pub mod labels;
pub mod pixels;
pub use rethink_rng as streams;

use std::path::PathBuf;

use anyhow::anyhow;
use clap::Parser;
use rethink_cli::{Input, Output, ShardWriter, usage};
use rethink_dataset::{Corruption, Dataset, Images, ShardSet, Split};
use serde_json::{Value, json};

/// Apply the paper's randomization tests to a dataset file.
///
/// Label mode (training labels only; test labels stay true so test error is generalization error):
///   --labels P        each training label, independently with probability P, is replaced by a
///                     class drawn uniformly from all K classes (it may stay the same, so about
///                     (1-1/K)·P change). P = 1 gives random labels. The true labels are kept in
///                     train_clean_labels and the redrawn examples are flagged in train_corrupted.
///
/// Pixel modes (at most one; applied to train AND test images; a pixel keeps its channels):
///   --shuffle-pixels  one random permutation of the H×W pixel positions, the same for every image
///   --random-pixels   an independent random permutation for each image
///   --gaussian        every image replaced by i.i.d. Gaussian pixels whose per-channel mean and
///                     variance are those of the training images (the same moments for test);
///                     float32 output unless --quantize
///
/// A label mode and a pixel mode can be combined. Corrupting a corrupted file keeps the original
/// train_clean_labels; meta.corruption then describes the combined state (labels: the overall
/// redraw probability 1-(1-p1)(1-p2); pixels: the strongest mode, gaussian > random > shuffle).
///
/// The output is the same for a seed whatever the number of threads (RAYON_NUM_THREADS), and each
/// mode and split draws from its own stream, so adding a flag never changes the others' draws.
///
/// A directory of shards (imagenet-pack --shard-size) is corrupted as the one dataset it is:
/// labels drawn by global example index, one pixel permutation for all shards, the Gaussian
/// moments of the whole training split. It is written shard by shard as a new shard set
/// (-o DIR), holding exactly the arrays that the concatenated file would give.
///
/// Examples:
///   corrupt --labels 0.4 --seed 1 < data/cifar10.npz > data/cifar10-labels0.4-s1.npz
///   corrupt --shuffle-pixels --seed 1 data/cifar10.npz -o data/cifar10-shuffled.npz
///   corrupt --gaussian --quantize data/fmnist.npz -o data/fmnist-gaussian.npz
///   corrupt --labels 1 --seed 1 data/imagenet-train -o data/imagenet-train-random
#[derive(Parser, Debug)]
#[command(name = "corrupt", version, verbatim_doc_comment)]
pub struct Args {
    /// The dataset file, or '-' for standard input.
    #[arg(value_name = "FILE", default_value = "-")]
    pub input: Input,
    /// Write the result here (atomically) instead of standard output; for a shard directory
    /// input, the directory of the output shards (required).
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// Redraw each training label with probability P (0 ≤ P ≤ 1) uniformly from all classes.
    #[arg(long, value_name = "P")]
    pub labels: Option<f64>,
    /// One permutation of the pixel positions for every train and test image.
    #[arg(long, group = "pixel_mode")]
    pub shuffle_pixels: bool,
    /// An independent permutation of the pixel positions for each image.
    #[arg(long, group = "pixel_mode")]
    pub random_pixels: bool,
    /// Replace every image by Gaussian noise with the training images' per-channel mean and variance.
    #[arg(long, group = "pixel_mode")]
    pub gaussian: bool,
    /// With --gaussian: round to the nearest integer and clamp to 0..=255, writing uint8 images
    /// (the clamping makes the variance slightly smaller than the target).
    #[arg(long, requires = "gaussian")]
    pub quantize: bool,
    /// Seed of every random draw; recorded in meta.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
}

/// How pixels are randomized.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PixelMode {
    /// One random permutation of the H×W pixel positions, the same for every image.
    Shuffle,
    /// An independent random permutation of the pixel positions for each image.
    Random,
    /// Every image replaced by i.i.d. Gaussian pixels with the training images' per-channel moments.
    Gaussian,
}

impl PixelMode {
    /// The name in `meta.corruption.pixels`.
    pub fn name(self) -> &'static str {
        match self {
            PixelMode::Shuffle => "shuffle",
            PixelMode::Random => "random",
            PixelMode::Gaussian => "gaussian",
        }
    }

    fn from_name(name: &str) -> Option<PixelMode> {
        [PixelMode::Shuffle, PixelMode::Random, PixelMode::Gaussian]
            .into_iter()
            .find(|m| m.name() == name)
    }
}

/// A validated request.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The probability of redrawing each training label uniformly, if labels are corrupted.
    pub labels: Option<f64>,
    /// The pixel randomization, if any.
    pub pixels: Option<PixelMode>,
    /// Round Gaussian pixels to uint8 instead of keeping float32.
    pub quantize: bool,
    /// The seed of every draw (streams per mode come from it through `rethink_rng`).
    pub seed: u64,
}

impl Config {
    /// Checks the arguments (a usage error when they conflict or ask for nothing).
    pub fn from_args(args: &Args) -> anyhow::Result<Config> {
        if let Some(p) = args.labels
            && !(0.0..=1.0).contains(&p)
        {
            usage!("--labels {p}: the probability must be between 0 and 1");
        }
        let pixels = if args.shuffle_pixels {
            Some(PixelMode::Shuffle)
        } else if args.random_pixels {
            Some(PixelMode::Random)
        } else if args.gaussian {
            Some(PixelMode::Gaussian)
        } else {
            None
        };
        // clap's `requires` is met by any member of the pixel_mode group, so check it here.
        if args.quantize && pixels != Some(PixelMode::Gaussian) {
            usage!("--quantize goes with --gaussian only");
        }
        if args.labels.is_none() && pixels.is_none() {
            usage!(
                "nothing to do: give --labels P and/or one of --shuffle-pixels, --random-pixels, --gaussian"
            );
        }
        Ok(Config {
            labels: args.labels,
            pixels,
            quantize: args.quantize,
            seed: args.seed,
        })
    }
}

/// What [`apply`] did, for the log line.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Training examples in the output.
    pub train: usize,
    /// Training labels redrawn this time; `None` when labels were not corrupted.
    pub redrawn: Option<usize>,
    /// Training labels that now differ from the clean labels.
    pub changed: usize,
}

/// Runs `corrupt` on parsed arguments: reads the input, applies the corruption, writes the output.
pub fn run(args: Args) -> anyhow::Result<()> {
    let config = Config::from_args(&args)?;
    if let Some(set) = args.input.shard_set()? {
        return run_shards(&args, &config, &set);
    }
    let output = Output::new(args.output.as_deref());
    output.check_binary()?;
    let mut dataset = args.input.read_dataset()?;
    let name = args.input.to_string();
    // Hash the input (for the history record) on another thread while the transform runs; the
    // clone shares the file's bytes.
    let source = dataset.clone();
    let (digest, summary) = std::thread::scope(|scope| {
        let digest = scope.spawn(move || source.digest());
        let summary = apply(&mut dataset, &config, &name);
        (digest.join().expect("digest thread"), summary)
    });
    let summary = summary?;
    dataset.meta.history.push(rethink_cli::history_record(
        "corrupt",
        env!("CARGO_PKG_VERSION"),
        Some(config.seed),
        digest,
    ));
    if let (Some(p), Some(redrawn)) = (config.labels, summary.redrawn) {
        eprintln!(
            "corrupt: labels p={p}: {redrawn} of {} training labels redrawn, {} now differ from the clean labels",
            summary.train, summary.changed
        );
    }
    output.write_dataset(&dataset)
}

/// `corrupt` on a shard set: the labels and the Gaussian moments are worked out on the whole set
/// (its labels in memory, its images visited a chunk at a time), then each shard is transformed
/// with its images' indices in the whole split and written as a shard of the output set, one
/// shard at a time: the result is the shards of what `corrupt` gives on the concatenated file.
fn run_shards(args: &Args, config: &Config, set: &ShardSet) -> anyhow::Result<()> {
    let dir = match args.output.as_deref() {
        Some(dir) if dir != std::path::Path::new("-") => dir,
        _ => usage!(
            "{}: a shard set is written as a shard set: give -o DIR",
            set.dir.display()
        ),
    };
    let name = set.dir.display().to_string();
    let mut whole = set.concat()?;
    let plan = Plan::new(&mut whole, config, &name)?;
    let record = rethink_cli::history_record(
        "corrupt",
        env!("CARGO_PKG_VERSION"),
        Some(config.seed),
        Some(set.digest.clone()),
    );
    let mut out = ShardWriter::new(dir)?;
    let bar = rethink_cli::progress(set.index.shards.len() as u64, "shards");
    let (mut train_at, mut test_at) = (0usize, 0usize);
    for k in 0..set.index.shards.len() {
        let mut part = set.read(k)?;
        let n = part.train.as_ref().map_or(0, |s| s.len());
        if let Some(train) = part.train.as_mut() {
            let labels = &whole
                .train
                .as_ref()
                .expect("the set's training split")
                .labels;
            train.labels = labels[train_at..train_at + n].to_vec();
        }
        if part.train.is_some() {
            part.train_clean_labels = whole
                .train_clean_labels
                .as_ref()
                .map(|c| c[train_at..train_at + n].to_vec());
            part.train_corrupted = whole
                .train_corrupted
                .as_ref()
                .map(|c| c[train_at..train_at + n].to_vec());
        }
        map_images(&mut part.train, |images| {
            plan.pixels(images, SplitName::Train, train_at as u64)
        });
        let m = part.test.as_ref().map_or(0, |s| s.len());
        map_images(&mut part.test, |images| {
            plan.pixels(images, SplitName::Test, test_at as u64)
        });
        part.meta.corruption = whole.meta.corruption.clone();
        part.meta.history.push(record.clone());
        let file = &set.index.shards[k].file;
        out.write(file, &part)?;
        train_at += n;
        test_at += m;
        bar.inc(1);
    }
    bar.finish_and_clear();
    let index = out.finish()?;
    let summary = &plan.summary;
    if let (Some(p), Some(redrawn)) = (config.labels, summary.redrawn) {
        eprintln!(
            "corrupt: labels p={p}: {redrawn} of {} training labels redrawn, {} now differ from the clean labels",
            summary.train, summary.changed
        );
    }
    eprintln!(
        "corrupt: wrote {} shards ({} train, {} test examples) under {}",
        index.shards.len(),
        index.train,
        index.test,
        dir.display()
    );
    Ok(())
}

/// Applies `config` to `dataset` and updates `meta.corruption`; `name` names the file in errors.
pub fn apply(dataset: &mut Dataset, config: &Config, name: &str) -> anyhow::Result<Summary> {
    let plan = Plan::new(dataset, config, name)?;
    for (split, images) in [
        (SplitName::Train, &mut dataset.train),
        (SplitName::Test, &mut dataset.test),
    ] {
        map_images(images, |images| plan.pixels(images, split, 0));
    }
    Ok(plan.summary)
}

/// Which split a pixel transform is for (each draws from its own streams).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SplitName {
    /// The training split.
    Train,
    /// The test split.
    Test,
}

/// A corruption worked out on a whole dataset: its labels corrupted and its meta updated (the
/// dataset given to [`Plan::new`]), and the pixel transform, which [`Plan::pixels`] applies to
/// the whole split or to one shard of it at a time.
pub struct Plan {
    pixels: Option<PixelMode>,
    seed: u64,
    round: u32,
    quantize: bool,
    /// The shuffle permutation.
    perm: Option<Vec<u32>>,
    /// The Gaussian moments of the training images.
    moments: Option<pixels::Moments>,
    /// What was done, for the log line.
    pub summary: Summary,
}

impl Plan {
    /// Corrupts the labels of `dataset`, computes what the pixel transform needs from the whole
    /// dataset (the Gaussian moments of all training images, visited a chunk at a time), and
    /// updates `meta.corruption`. The images are left alone.
    pub fn new(dataset: &mut Dataset, config: &Config, name: &str) -> anyhow::Result<Plan> {
        let round = dataset
            .meta
            .history
            .iter()
            .filter(|h| h.tool == "corrupt")
            .count() as u32;
        let seed = config.seed;
        let classes = dataset.num_classes();
        let needs_train = |what: &str| {
            anyhow!(
                "{name}: {what} needs training data, but the file holds only test_images/test_labels"
            )
        };

        let mut redrawn = None;
        if let Some(p) = config.labels {
            let train = dataset
                .train
                .as_mut()
                .ok_or_else(|| needs_train("--labels"))?;
            let clean = dataset
                .train_clean_labels
                .take()
                .unwrap_or_else(|| train.labels.clone());
            let mut mask = dataset.train_corrupted.take().unwrap_or_else(|| {
                clean
                    .iter()
                    .zip(&train.labels)
                    .map(|(c, l)| u8::from(c != l))
                    .collect()
            });
            let pass = labels::corrupt(&mut train.labels, &mut mask, p, classes, seed, round);
            redrawn = Some(pass.redrawn);
            dataset.train_clean_labels = Some(clean);
            dataset.train_corrupted = Some(mask);
        }

        let mut perm = None;
        let mut moments = None;
        match config.pixels {
            None | Some(PixelMode::Random) => {}
            Some(PixelMode::Shuffle) => {
                let images = dataset
                    .train
                    .as_ref()
                    .or(dataset.test.as_ref())
                    .map(|s| &s.images)
                    .expect("a valid dataset has a split");
                let positions = images.height() * images.width();
                perm = Some(streams::permutation(
                    &mut streams::stream(seed, round, "shuffle", 0),
                    positions,
                ));
            }
            Some(PixelMode::Gaussian) => {
                let train = dataset
                    .train
                    .as_ref()
                    .ok_or_else(|| needs_train("--gaussian"))?;
                moments = Some(pixels::moments(&train.images));
            }
        }

        let train = dataset.train.as_ref().map_or(0, |s| s.len());
        let changed = match (&dataset.train, &dataset.train_clean_labels) {
            (Some(t), Some(clean)) => t.labels.iter().zip(clean).filter(|(a, b)| a != b).count(),
            _ => 0,
        };
        let flagged = dataset
            .train_corrupted
            .as_ref()
            .map_or(0, |m| m.iter().filter(|&&x| x == 1).count());
        let fraction = |k: usize| {
            if train == 0 {
                0.0
            } else {
                k as f64 / train as f64
            }
        };

        let prev = dataset.meta.corruption.take().unwrap_or_default();
        let mut corruption = Corruption {
            labels: match config.labels {
                Some(p) => labels::combined(prev.labels, p),
                None => prev.labels,
            },
            pixels: combined_pixels(prev.pixels.as_deref(), config.pixels),
            extra: prev.extra,
        };
        let quantize = if config.pixels == Some(PixelMode::Gaussian) {
            config.quantize
        } else {
            corruption
                .extra
                .get("quantize")
                .and_then(Value::as_bool)
                .unwrap_or(false)
        };
        let extra = &mut corruption.extra;
        extra.insert("seed".into(), json!(seed));
        extra.insert("labels_changed".into(), json!(fraction(changed)));
        extra.insert("labels_redrawn".into(), json!(fraction(flagged)));
        extra.insert("quantize".into(), json!(quantize));
        if let Some(m) = &moments {
            extra.insert("gaussian_mean".into(), json!(m.mean));
            extra.insert("gaussian_std".into(), json!(m.std));
        }
        let mut pass = json!({
            "labels": config.labels,
            "pixels": config.pixels.map(PixelMode::name),
            "seed": seed,
        });
        if config.pixels == Some(PixelMode::Gaussian) {
            pass["quantize"] = json!(config.quantize);
        }
        match extra.get_mut("passes").and_then(Value::as_array_mut) {
            Some(passes) => passes.push(pass),
            None => {
                extra.insert("passes".into(), json!([pass]));
            }
        }
        dataset.meta.corruption = Some(corruption);
        Ok(Plan {
            pixels: config.pixels,
            seed,
            round,
            quantize: config.quantize,
            perm,
            moments,
            summary: Summary {
                train,
                redrawn,
                changed,
            },
        })
    }

    /// The pixel transform applied to `images` of `split`, whose first image is image `first`
    /// of the whole split (0 unless the split is sharded).
    pub fn pixels(&self, images: Images, split: SplitName, first: u64) -> Images {
        let train = split == SplitName::Train;
        match self.pixels {
            None => images,
            Some(PixelMode::Shuffle) => {
                pixels::shuffle(images, self.perm.as_ref().expect("a shuffle permutation"))
            }
            Some(PixelMode::Random) => {
                let purpose = if train { "random/train" } else { "random/test" };
                pixels::randomize(images, self.seed, self.round, purpose, first)
            }
            Some(PixelMode::Gaussian) => {
                let purpose = if train {
                    "gaussian/train"
                } else {
                    "gaussian/test"
                };
                pixels::gaussian(
                    images.shape(),
                    self.moments.as_ref().expect("Gaussian moments"),
                    self.seed,
                    self.round,
                    purpose,
                    self.quantize,
                    first,
                )
            }
        }
    }
}

/// Replaces the images of `split` (if any) by `f(images)`; the images move, they are not copied.
fn map_images(split: &mut Option<Split>, f: impl FnOnce(Images) -> Images) {
    if let Some(Split { images, labels }) = split.take() {
        *split = Some(Split {
            images: f(images),
            labels,
        });
    }
}

/// The pixel state after applying `new` to pixels in state `prev`: shuffling a shuffled image is
/// still one fixed permutation, any permutation of random pixels is random pixels, and a
/// permutation of i.i.d. Gaussian pixels is still i.i.d. Gaussian, so the strongest mode wins.
fn combined_pixels(prev: Option<&str>, new: Option<PixelMode>) -> Option<String> {
    match (prev, new) {
        (None, None) => None,
        (Some(p), None) => Some(p.to_string()),
        (None, Some(n)) => Some(n.name().to_string()),
        (Some(p), Some(n)) => match PixelMode::from_name(p) {
            Some(p) => Some(p.max(n).name().to_string()),
            None => Some(n.name().to_string()),
        },
    }
}
