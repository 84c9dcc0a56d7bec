//! `train`: trains one of the paper's models on a rethink dataset file and writes a run folder
//! (`config.json`, `metrics.jsonl`, checkpoints, `model.bpk`, `summary.json`) that `report` reads.
//! The models run on libtorch through burn's `tch` backend (CPU, or CUDA with `--device cuda`).

// burn 0.22 marks its LibTorch backend deprecated in favour of CubeCL backends; libtorch is the
// backend this project chose (DESIGN.md: fastest on CPU, same kernels as PyTorch), so the
// deprecation warnings are silenced crate-wide.
#![allow(deprecated)]
#![warn(missing_docs)]
// burn's `slice` takes an array of ranges, one per dimension: `[a..b]` on a 1-d tensor is that
// array, not a mistaken vector of one range.
#![allow(clippy::single_range_in_vec_init)]

pub mod checkpoint;
pub mod config;
pub mod data;
pub mod evaluate;
pub mod metrics;
pub mod models;
pub mod per_example;
pub mod precision;
pub mod stream;
pub mod training;
pub mod weight_decay;

use std::path::PathBuf;

use anyhow::Result;
use clap::Parser;
use rethink_cli::Input;

pub use config::Config;

/// Train a model of the paper on a dataset file and record everything a study needs.
///
/// Reads a dataset (`--data FILE`, or `-` for stdin), trains with SGD + momentum following the
/// paper's protocol (center crop 32→28, per-image whitening, learning rate ×0.95 per epoch, batch
/// 128), evaluates the full training set and the test set every `--eval-every` epochs, and writes
/// into `--out DIR`: `config.json` (before training), `metrics.jsonl`, `checkpoint/` (every epoch
/// and on Ctrl-C; `--resume` continues from it), `model.bpk` (final weights, burnpack) and
/// `summary.json` (written last: its presence means the run finished).
///
/// Training stops at the first of `--epochs`, `--max-steps` and `--until-train-acc`; with none of
/// them given it runs 100 epochs.
#[derive(Parser, Debug, Clone)]
#[command(name = "train", version)]
pub struct Args {
    /// Model: mlp-1x512, mlp-3x512 (any mlp-DxW), alexnet-small, inception-small, wrn-D-K, inception-v3
    #[arg(long, required_unless_present = "list_models")]
    pub model: Option<String>,

    /// Dataset file (`-` for stdin); its test split is used unless --test is given
    #[arg(long, required_unless_present = "list_models")]
    pub data: Option<Input>,

    /// A separate dataset file whose test split (or only split) is the test set
    #[arg(long)]
    pub test: Option<PathBuf>,

    /// Run folder to create (or continue, with --resume)
    #[arg(long, required_unless_present = "list_models")]
    pub out: Option<PathBuf>,

    /// Stop after this many epochs [default: 100 when neither --max-steps nor --until-train-acc]
    #[arg(long)]
    pub epochs: Option<u64>,

    /// Stop after this many SGD steps
    #[arg(long)]
    pub max_steps: Option<u64>,

    /// Stop once the accuracy on the full training set reaches this fraction (e.g. 1.0)
    #[arg(long)]
    pub until_train_acc: Option<f64>,

    /// Examples per SGD step
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,

    /// Initial learning rate [default: 0.1 for Inception and WRN, 0.01 for AlexNet and MLPs]
    #[arg(long)]
    pub lr: Option<f64>,

    /// Learning rate factor applied after each epoch (1 = constant)
    #[arg(long, default_value_t = 0.95)]
    pub lr_decay: f64,

    /// SGD momentum (PyTorch semantics, no dampening)
    #[arg(long, default_value_t = 0.9)]
    pub momentum: f64,

    /// L2 weight decay, added to the gradient as wd·w, on conv and linear weights only (not on
    /// biases or BatchNorm shifts: TensorFlow's convention); config.json lists the parameters
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f64,

    /// Dropout probability on the hidden/fully connected layers (0 = none)
    #[arg(long, default_value_t = 0.0)]
    pub dropout: f64,

    /// Data augmentation: crop (random crop instead of center crop), flip (random horizontal flip)
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub augment: Vec<String>,

    /// Zero padding on each side of a training image before its random crop [default: 4, the
    /// CIFAR convention, when the crop is as large as the image (e.g. 28×28 Fashion-MNIST), else 0]
    #[arg(long)]
    pub pad: Option<usize>,

    /// Leave BatchNorm out (inception-small, wrn, inception-v3; an error on models without it)
    #[arg(long)]
    pub no_batchnorm: bool,

    /// Crop size [default: 28 for 32×32 images (the paper's CIFAR-10 protocol), none otherwise]
    #[arg(long)]
    pub crop: Option<usize>,

    /// Seed for weights, shuffling, augmentation and dropout
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Device: cpu, cuda or cuda:N
    #[arg(long, default_value = "cpu")]
    pub device: String,

    /// CPU threads for libtorch [default: all cores]
    #[arg(long)]
    pub threads: Option<usize>,

    /// Arithmetic of convolutions and matrix products: f32 (the paper's), or bf16 (autocast:
    /// bfloat16 operands, float32 accumulation, float32 master weights, optimizer state,
    /// BatchNorm and loss; faster where the hardware has bf16 units: AVX512-BF16, AMX, GPUs)
    #[arg(long, default_value = "f32", value_name = "f32|bf16")]
    pub precision: precision::Precision,

    /// Evaluate every this many epochs (fractions allowed, e.g. 0.5)
    #[arg(long, default_value_t = 1.0)]
    pub eval_every: f64,

    /// At every evaluation, also record each training example's correctness, loss and margin in
    /// per_example.npz (per-example learning dynamics; read by report)
    #[arg(long)]
    pub per_example: bool,

    /// With --per-example: the step at which to record each example's EL2N score
    /// ‖softmax − onehot‖₂ [default: one epoch]
    #[arg(long, requires = "per_example")]
    pub el2n_step: Option<u64>,

    /// Score the training metrics on a fixed subset of N training examples instead of all of
    /// them, for huge training sets (e.g. ImageNet): drawn once from the training set's size, the
    /// same examples for every seed; recorded in config.json and marked in report's tables.
    /// Not with --per-example, which records every example
    #[arg(long, value_name = "N", conflicts_with = "per_example", value_parser = clap::value_parser!(u64).range(1..))]
    pub eval_train_subset: Option<u64>,

    /// Log the mean training loss every this many steps
    #[arg(long, default_value_t = 50)]
    pub log_every: u64,

    /// Examples per evaluation batch (does not change results)
    #[arg(long, default_value_t = 500)]
    pub eval_batch_size: usize,

    /// Keep the images in their memory-mapped files and bring them to the device a batch at a
    /// time (batches assembled ahead on a background thread), for data larger than memory; the
    /// default when the images would take more than half the available memory. Same results as
    /// holding them on the device. A shard directory (imagenet-pack --shard-size) streams
    /// shard by shard
    #[arg(long)]
    pub stream: bool,

    /// With streaming: training batches assembled ahead of the step
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub prefetch: usize,

    /// Continue the run in --out from its last checkpoint
    #[arg(long)]
    pub resume: bool,

    /// List the models with their parameter counts and exit
    #[arg(long)]
    pub list_models: bool,

    /// Input shape for --list-models, HxWxC
    #[arg(long, default_value = "28x28x3")]
    pub input_shape: String,

    /// Number of classes for --list-models
    #[arg(long, default_value_t = 10)]
    pub classes: usize,
}

/// Runs the command: lists the models with `--list-models`, else trains.
pub fn run(args: Args) -> Result<()> {
    if args.list_models {
        return list_models(&args);
    }
    training::train(args)
}

fn list_models(args: &Args) -> Result<()> {
    use std::io::Write;
    let input = config::parse_shape(&args.input_shape)?;
    if args.classes == 0 {
        rethink_cli::usage!("--classes must be at least 1");
    }
    let device = burn::tensor::Device::libtorch();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<16} {:>12}  input {}x{}x{}, {} classes",
        "model", "parameters", input[0], input[1], input[2], args.classes
    )?;
    for name in models::ModelName::LISTED {
        let count = if input[0].min(input[1]) >= models::min_side(name) {
            let arch = models::Architecture {
                name,
                input,
                classes: args.classes,
                batchnorm: true,
                dropout: 0.0,
            };
            models::Network::new(&arch, &device)
                .parameters()
                .to_string()
        } else {
            format!("(needs ≥{0}x{0})", models::min_side(name))
        };
        writeln!(
            out,
            "{:<16} {:>12}  {}",
            name.to_string(),
            count,
            name.description()
        )?;
    }
    Ok(())
}
