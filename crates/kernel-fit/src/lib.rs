//! `kernel-fit`: the paper's Section 5 ("Implicit regularization: an appeal to linear models").
//! Solving K α = Y exactly with a Gaussian kernel gives the minimum-norm interpolant, which fits
//! any labels with zero training error; random features with the minimum-norm least-squares
//! weights show model-wise double descent. Both write a run folder (`config.json`,
//! `summary.json`, schema owned by `rethink-runs`) that `report` reads.

#![warn(missing_docs)]

pub mod data;
pub mod features;
pub mod gaussian;
pub mod memory;
mod outcome;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{ArgGroup, Parser, ValueEnum};
use faer::Par;
use rethink_cli::{Input, usage};
use rethink_runs::{FeatureMap, KERNEL_KIND, KernelConfig, Method};

/// Fit the paper's linear models (Section 5) to a dataset file: the Gaussian kernel's
/// minimum-norm interpolant, or least squares on N random features.
///
/// Inputs: each image's pixels divided by 255 and flattened (uint8 files and float32 Gaussian-
/// noise files alike), one-hot targets. The test split comes from --test FILE, else from the
/// data file itself (a file with one split only needs --test).
///
///   --kernel gaussian --gamma G   K_ij = exp(−G‖x_i − x_j‖²) in float64 and α = (K + λI)⁻¹ Y
///                                 by Cholesky (λ = --ridge, 0 by default: interpolation). If the
///                                 factorization fails, a jitter from 1e-10 up is added to the
///                                 diagonal and recorded in summary.json.
///   --random-features N           N seeded features, ReLU max(0, w·(x − x̄))/√N with
///                                 w ~ N(0, I/D) and x̄ the mean training input, or
///                                 --feature-map fourier √(2/N) cos(w·x + b), w ~ N(0, 2G·I);
///                                 weights W = Φ⁺ Y by SVD (minimum-norm least squares, for
///                                 N < n and N > n alike, no jitter).
///
/// K (n × n float64) needs 8n² bytes: its size is stated before it is allocated, and a fit that
/// would not fit in the available memory (or --max-memory) is refused; --max-train N fits a
/// seeded subset of N training examples.
///
/// Writes --out DIR/config.json and DIR/summary.json (train and test accuracy, the solution's
/// norm, a condition estimate, ‖Kα − Y‖, timings, the blake3 of the input, the accuracy against
/// the clean labels of a corrupted file); `report DIR` shows them.
///
/// Examples:
///   kernel-fit --data data/fmnist-10k.npz --kernel gaussian --gamma 0.02 --out runs/kernel/true
///   corrupt --labels 1 --seed 1 data/fmnist-10k.npz | kernel-fit --data - --kernel gaussian --gamma 0.02 --out runs/kernel/random
///   kernel-fit --data data/fmnist-2k.npz --random-features 2000 --seed 1 --out runs/dd/n2000
///   kernel-fit --data train-shard.npz --test val.npz --kernel gaussian --gamma 0.02 --max-train 20000 --out runs/k20k
#[derive(Parser, Debug)]
#[command(
    name = "kernel-fit",
    version,
    verbatim_doc_comment,
    group(ArgGroup::new("model").required(true).args(["kernel", "random_features"]))
)]
pub struct Args {
    /// The dataset file to fit, or '-' for standard input.
    #[arg(long, value_name = "FILE")]
    pub data: Input,
    /// A file whose test split is the test set (default: the test split of --data).
    #[arg(long, value_name = "FILE")]
    pub test: Option<Input>,
    /// The kernel: gaussian, k(x, y) = exp(−γ‖x − y‖²).
    #[arg(long, value_enum, value_name = "KERNEL")]
    pub kernel: Option<KernelName>,
    /// γ of the Gaussian kernel (and of Fourier features), for pixels in [0, 1].
    #[arg(long, value_name = "G")]
    pub gamma: Option<f64>,
    /// Fit N random features instead of a kernel.
    #[arg(long, value_name = "N")]
    pub random_features: Option<usize>,
    /// The random features' map.
    #[arg(long, value_enum, default_value = "relu", value_name = "MAP")]
    pub feature_map: MapName,
    /// λ ≥ 0 added to K's diagonal (or the ridge of random features); 0 interpolates.
    #[arg(long, default_value_t = 0.0, value_name = "L")]
    pub ridge: f64,
    /// Fit a seeded uniform subset of N training examples.
    #[arg(long, value_name = "N")]
    pub max_train: Option<usize>,
    /// Seed of the random features and of the --max-train subset; recorded.
    #[arg(long, default_value_t = 0, value_name = "S")]
    pub seed: u64,
    /// CPU threads (default: one per core).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub threads: usize,
    /// Refuse a fit that needs more than SIZE bytes (e.g. 8G; default: the memory available).
    #[arg(long, value_name = "SIZE")]
    pub max_memory: Option<String>,
    /// The run folder to write (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// `--kernel` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum KernelName {
    /// exp(−γ‖x − y‖²).
    Gaussian,
}

/// `--feature-map` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MapName {
    /// max(0, w·x) / √N.
    Relu,
    /// √(2/N) cos(w·x + b): random Fourier features of the Gaussian kernel.
    Fourier,
}

/// The model to fit, validated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Model {
    /// The Gaussian kernel with this γ.
    Gaussian {
        /// γ.
        gamma: f64,
    },
    /// N random features.
    RandomFeatures {
        /// N.
        features: usize,
        /// The feature map.
        map: FeatureMap,
        /// γ of Fourier features (0 for ReLU).
        gamma: f64,
    },
}

/// A validated request.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// What to fit.
    pub model: Model,
    /// λ.
    pub ridge: f64,
    /// `--max-train`.
    pub max_train: Option<usize>,
    /// `--seed`.
    pub seed: u64,
    /// Threads (resolved: ≥ 1).
    pub threads: usize,
    /// The memory limit and what it is ("available", "--max-memory"); `None` when unknown.
    pub memory_limit: Option<(u64, &'static str)>,
}

impl Config {
    /// Checks the arguments (usage errors for conflicts and values out of range).
    pub fn from_args(args: &Args) -> Result<Config> {
        let gamma = match args.gamma {
            Some(g) if !(g.is_finite() && g > 0.0) => {
                usage!("--gamma {g}: expected a positive number")
            }
            g => g,
        };
        let model = match (args.kernel, args.random_features) {
            (Some(KernelName::Gaussian), _) => Model::Gaussian {
                gamma: gamma.ok_or_else(|| {
                    anyhow::Error::new(rethink_cli::UsageError(
                        "--kernel gaussian needs --gamma G (k(x, y) = exp(−G‖x − y‖²), pixels in [0, 1])".into(),
                    ))
                })?,
            },
            (None, Some(0)) => usage!("--random-features 0: expected at least one feature"),
            (None, Some(features)) => {
                let map = match args.feature_map {
                    MapName::Relu => FeatureMap::Relu,
                    MapName::Fourier => FeatureMap::Fourier,
                };
                let gamma = match (map, gamma) {
                    (FeatureMap::Fourier, None) => usage!(
                        "--feature-map fourier needs --gamma G (the Gaussian kernel the features approximate)"
                    ),
                    (FeatureMap::Relu, Some(_)) => {
                        usage!("--gamma is for --kernel gaussian and --feature-map fourier, not relu features")
                    }
                    (_, g) => g.unwrap_or(0.0),
                };
                Model::RandomFeatures {
                    features,
                    map,
                    gamma,
                }
            }
            (None, None) => usage!("give --kernel gaussian --gamma G or --random-features N"),
        };
        if !(args.ridge.is_finite() && args.ridge >= 0.0) {
            usage!("--ridge {}: expected a number ≥ 0", args.ridge);
        }
        if args.max_train == Some(0) {
            usage!("--max-train 0: expected at least one training example");
        }
        if args.data == Input::Stdin && args.test == Some(Input::Stdin) {
            usage!("--data and --test cannot both read standard input");
        }
        let memory_limit = match &args.max_memory {
            Some(text) => match rethink_dataset::parse_size(text) {
                Some(bytes) => Some((bytes, "--max-memory")),
                None => usage!("--max-memory {text:?}: expected a size such as 512M, 8G"),
            },
            None => memory::available().map(|b| (b, "available")),
        };
        let threads = if args.threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            args.threads
        };
        Ok(Config {
            model,
            ridge: args.ridge,
            max_train: args.max_train,
            seed: args.seed,
            threads,
            memory_limit,
        })
    }
}

/// Runs `kernel-fit` on parsed arguments.
pub fn run(args: Args) -> Result<()> {
    let started = Instant::now();
    let cfg = Config::from_args(&args)?;
    // The global pool may exist already (tests call run twice): then it is used as it is.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.threads)
        .build_global();
    let par = if cfg.threads == 1 {
        Par::Seq
    } else {
        Par::rayon(cfg.threads)
    };

    let data_name = args.data.to_string();
    let dataset = args.data.read_dataset()?;
    let test_dataset = match &args.test {
        Some(t) => Some(t.read_dataset()?),
        None => None,
    };
    let test_name = args.test.as_ref().map(|t| t.to_string());
    let train = data::train_split(&dataset, &data_name)?;
    let test = data::test_split(
        &dataset,
        &data_name,
        test_dataset.as_ref().zip(test_name.as_deref()),
    )?;
    let classes = dataset.num_classes();
    if let Some(t) = &test_dataset {
        data::check_compatible(
            train,
            test,
            classes,
            t.num_classes(),
            test_name.as_deref().unwrap_or(""),
        )?;
    }
    let keep = cfg
        .max_train
        .and_then(|k| data::max_train_subset(train.len(), k, cfg.seed));
    let n = keep.as_ref().map_or(train.len(), Vec::len);
    let d = train.images.image_len();

    let plan = match cfg.model {
        Model::Gaussian { .. } => {
            memory::gaussian(n, d, test.len(), classes, gaussian::PREDICT_BLOCK)
        }
        Model::RandomFeatures { features, .. } => {
            memory::features(n, d, test.len(), features, features::PREDICT_BLOCK)
        }
    };
    let (limit, limit_name) = cfg.memory_limit.unzip();
    memory::check(&plan, limit, limit_name.unwrap_or("available"), n)
        .with_context(|| format!("{data_name}: {n} training examples"))?;
    eprintln!(
        "kernel-fit: {} = {} (peak about {}{})",
        plan.what,
        memory::human(plan.matrix),
        memory::human(plan.total),
        limit.map_or(String::new(), |l| format!(
            " of {} {}",
            memory::human(l),
            limit_name.unwrap_or("")
        ))
    );

    let x = data::flatten(train, keep.as_deref(), &data_name, "train_images")?;
    let xt = data::flatten(
        test,
        None,
        test_name.as_deref().unwrap_or(&data_name),
        "test_images",
    )?;
    let clean: Option<Vec<u16>> = dataset.train_clean_labels.as_ref().map(|c| match &keep {
        Some(k) => k.iter().map(|&i| c[i]).collect(),
        None => c.clone(),
    });
    let y = data::one_hot(&x.labels, classes);
    let read_s = started.elapsed().as_secs_f64();

    let fitted = outcome::fit(&cfg, &x, &xt, &y, par)?;

    let mut dataset_meta = serde_json::to_value(&dataset.meta)?;
    if let Some(map) = dataset_meta.as_object_mut() {
        map.remove("source");
    }
    let (method, gamma, features, feature_map) = match cfg.model {
        Model::Gaussian { gamma } => (Method::Gaussian, Some(gamma), None, None),
        Model::RandomFeatures {
            features,
            map,
            gamma,
        } => (
            Method::RandomFeatures,
            (map == FeatureMap::Fourier).then_some(gamma),
            Some(features),
            Some(map),
        ),
    };
    let [_, h, w, c] = train.images.shape();
    let config = KernelConfig {
        schema_version: rethink_runs::SCHEMA_VERSION,
        kind: KERNEL_KIND.to_string(),
        method,
        gamma,
        features,
        feature_map,
        ridge: cfg.ridge,
        seed: cfg.seed,
        max_train: cfg.max_train,
        data: data_name.clone(),
        data_digest: dataset.digest(),
        test_data: test_name.clone(),
        test_data_digest: test_dataset.as_ref().and_then(|t| t.digest()),
        dataset: dataset_meta,
        image_shape: [h, w, c],
        input_dim: d,
        scaling: if feature_map == Some(FeatureMap::Relu) {
            data::SCALING_CENTERED
        } else {
            data::SCALING
        }
        .to_string(),
        num_classes: classes,
        train_size: n,
        test_size: xt.len(),
        threads: cfg.threads,
        version: env!("CARGO_PKG_VERSION").to_string(),
    };
    let corruption = config
        .corruption()
        .with_context(|| format!("{data_name}: meta.corruption"))?;
    let summary = outcome::summary(
        &config,
        corruption,
        &fitted,
        &x,
        &xt,
        &y,
        clean.as_deref(),
        read_s,
        started,
    );

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create the run folder", args.out.display()))?;
    config.write(&args.out.join(rethink_runs::CONFIG_FILE))?;
    summary.write(&args.out.join(rethink_runs::SUMMARY_FILE))?;
    eprintln!(
        "kernel-fit: n = {n}{}: train accuracy {:.2}%, test accuracy {}, ‖f‖ = {:.4e}, ‖Kα − Y‖/‖Y‖ = {:.1e}{}; {:.1} s; written to {}",
        features.map_or(String::new(), |f| format!(", N = {f}")),
        100.0 * summary.train_acc,
        summary
            .test_acc
            .map_or("-".into(), |a| format!("{:.2}%", 100.0 * a)),
        summary.norm,
        summary.relative_residual,
        summary
            .jitter
            .map_or(String::new(), |j| format!(", jitter {j:e}")),
        summary.wall_s,
        args.out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Args::command().debug_assert();
        let args = Args::try_parse_from([
            "kernel-fit",
            "--data",
            "d.npz",
            "--random-features",
            "10",
            "--out",
            "o",
        ])
        .unwrap();
        let cfg = Config::from_args(&args).unwrap();
        assert!(matches!(
            cfg.model,
            Model::RandomFeatures {
                features: 10,
                map: FeatureMap::Relu,
                ..
            }
        ));
        assert!(
            Args::try_parse_from([
                "kernel-fit",
                "--data",
                "d",
                "--kernel",
                "gaussian",
                "--random-features",
                "3",
                "--out",
                "o"
            ])
            .is_err()
        );
    }
}
