//! The resolved configuration of a run: every default filled in, validated against the data,
//! and saved as `config.json` before training starts (so a run folder says what produced it).

use anyhow::Result;
use rethink_cli::usage;

use crate::Args;
use crate::data::Augment;
use crate::models::{self, ModelName};

/// `config.json`: its schema is owned by the run-folder crate (crates/runs).
pub use rethink_runs::Config;

/// Options that do not depend on the data, checked before reading it.
#[derive(Clone, Debug)]
pub struct Options {
    /// The model to train (`--model`).
    pub model: ModelName,
    /// The data augmentation (`--augment`).
    pub augment: Augment,
    /// The learning rate: `--lr`, else the model's default.
    pub lr: f64,
    /// Where to train (`--device`).
    pub device: Device,
    /// CPU threads for libtorch: `--threads`, else all cores.
    pub threads: usize,
}

/// Where to train.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    /// The CPU.
    Cpu,
    /// The CUDA GPU of this index.
    Cuda(usize),
}

impl Device {
    /// Parses `cpu`, `cuda` (GPU 0) or `cuda:N`; `None` for anything else.
    pub fn parse(s: &str) -> Option<Device> {
        match s {
            "cpu" => Some(Device::Cpu),
            "cuda" => Some(Device::Cuda(0)),
            _ => s.strip_prefix("cuda:")?.parse().ok().map(Device::Cuda),
        }
    }
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

/// Parses an input shape `HxWxC` (also `x`, `X` or `,` separated), each side positive.
pub fn parse_shape(s: &str) -> Result<[usize; 3]> {
    let parts: Vec<_> = s
        .split(['x', 'X', ','])
        .map(|p| p.trim().parse::<usize>())
        .collect();
    match parts.as_slice() {
        [Ok(h), Ok(w), Ok(c)] if *h > 0 && *w > 0 && *c > 0 => Ok([*h, *w, *c]),
        _ => usage!("--input-shape '{s}': expected HxWxC with positive integers, e.g. 28x28x3"),
    }
}

/// Checks the command line (exit code 2 on misuse).
pub fn check_args(args: &Args) -> Result<Options> {
    let model_arg = args.model.as_deref().unwrap_or_default();
    let model: ModelName = match model_arg.parse() {
        Ok(m) => m,
        Err(msg) => usage!("--model: {msg}"),
    };
    let augment = match Augment::parse(&args.augment) {
        Ok(a) => a,
        Err(e) => usage!("{e}"),
    };
    if args.batch_size == 0 {
        usage!("--batch-size must be at least 1");
    }
    if args.eval_batch_size == 0 {
        usage!("--eval-batch-size must be at least 1");
    }
    let lr = args.lr.unwrap_or(model.default_lr());
    if !(lr.is_finite() && lr > 0.0) {
        usage!("--lr must be a positive number, got {lr}");
    }
    if !(args.lr_decay.is_finite() && args.lr_decay > 0.0 && args.lr_decay <= 1.0) {
        usage!("--lr-decay must be in (0, 1], got {}", args.lr_decay);
    }
    if !(0.0..1.0).contains(&args.momentum) {
        usage!("--momentum must be in [0, 1), got {}", args.momentum);
    }
    if !(args.weight_decay.is_finite() && args.weight_decay >= 0.0) {
        usage!("--weight-decay must be ≥ 0, got {}", args.weight_decay);
    }
    if !(0.0..1.0).contains(&args.dropout) {
        usage!("--dropout must be in [0, 1), got {}", args.dropout);
    }
    if let Some(a) = args.until_train_acc
        && !(a > 0.0 && a <= 1.0)
    {
        usage!("--until-train-acc must be in (0, 1], got {a}");
    }
    if args.epochs == Some(0) || args.max_steps == Some(0) {
        usage!("--epochs and --max-steps must be at least 1");
    }
    if !(args.eval_every.is_finite() && args.eval_every > 0.0) {
        usage!(
            "--eval-every must be a positive number of epochs, got {}",
            args.eval_every
        );
    }
    if args.log_every == 0 {
        usage!("--log-every must be at least 1");
    }
    if args.crop == Some(0) {
        usage!("--crop must be at least 1");
    }
    if args.no_batchnorm && matches!(model, ModelName::Mlp { .. } | ModelName::AlexNetSmall) {
        usage!("--no-batchnorm: {model} has no BatchNorm to leave out");
    }
    if args.pad.is_some_and(|p| p > 0) && !augment.crop {
        usage!("--pad pads images for random crops: it needs --augment crop");
    }
    let Some(device) = Device::parse(&args.device) else {
        usage!("--device '{}': expected cpu, cuda or cuda:N", args.device);
    };
    let threads = match args.threads {
        Some(0) => usage!("--threads must be at least 1"),
        Some(n) => n,
        None => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
    };
    Ok(Options {
        model,
        augment,
        lr,
        device,
        threads,
    })
}

/// The crop size for stored images `[h, w, _]`: `--crop`, else 28 for 32×32 (the paper's
/// CIFAR-10 protocol), else none.
pub fn resolve_crop(args: &Args, [h, w, _]: [usize; 3]) -> Result<Option<usize>> {
    match args.crop {
        Some(c) if c > h || c > w => usage!("--crop {c} is larger than the {h}x{w} images"),
        Some(c) if c == h && c == w => Ok(None),
        Some(c) => Ok(Some(c)),
        None if h == 32 && w == 32 => Ok(Some(28)),
        None => Ok(None),
    }
}

/// The zero padding around training images before random crops: `--pad`, else 4 (the CIFAR
/// convention) when the crop is as large as the image and could not move otherwise, else 0. A
/// random crop that cannot move is a usage error, never a silent no-op.
pub fn resolve_pad(
    args: &Args,
    augment: Augment,
    image: [usize; 3],
    input: [usize; 3],
) -> Result<usize> {
    if !augment.crop {
        return Ok(0);
    }
    let fixed = input[0] >= image[0] && input[1] >= image[1];
    let pad = args.pad.unwrap_or(if fixed { 4 } else { 0 });
    if fixed && pad == 0 {
        usage!(
            "--augment crop: a {}x{} crop of {}x{} images cannot move; pad them (--pad N, default 4) or crop smaller (--crop)",
            input[0],
            input[1],
            image[0],
            image[1]
        );
    }
    Ok(pad)
}

/// Checks that `model` accepts inputs of this size (usage error, exit code 2, if too small).
pub fn check_input(model: ModelName, input: [usize; 3]) -> Result<()> {
    let min = models::min_side(model);
    if input[0].min(input[1]) < min {
        usage!(
            "--model {model} needs inputs of at least {min}x{min}, the data gives {}x{}",
            input[0],
            input[1]
        );
    }
    Ok(())
}
