//! The training loop: SGD with momentum (no dampening) and per-epoch learning-rate decay, full
//! evaluations of the training and test sets, checkpoints every epoch and on Ctrl-C, and an exact
//! `--resume`: every step reseeds the device generator from (seed, step) and every epoch's order
//! comes from (seed, epoch), so a resumed run replays the uninterrupted one.
//!
//! This file is the run's setup and its loop (≈690 lines, one job): evaluation
//! ([`crate::evaluate`]), checkpoints ([`crate::checkpoint`]), weight decay
//! ([`crate::weight_decay`]) and seeds (`rethink_rng::training`) live in their own modules.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use burn::module::Module;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::activation::log_softmax;
use burn::tensor::{DType, Device, Int, Tensor, TensorData};
use rethink_cli::interrupt::{self, Interrupted};
use rethink_cli::{Input, usage};
use rethink_dataset::{Dataset, Split};
use rethink_rng::training::{WEIGHTS_SALT, epoch_order, mix_seed};
use serde_json::Value;

use crate::Args;
use crate::checkpoint::{self, CheckpointState};
use crate::config::{self, Config};
use crate::data::{DevicePixels, DeviceSplit, Pipeline};
use crate::evaluate::{Evaluation, Subsets, evaluate};
use crate::metrics::{self, EvalRecord, MetricsLog, StopReason, Summary, TrainRecord};
use crate::models::{Architecture, Network};
use crate::per_example::{ExampleStats, PerExample};
use crate::precision;
use crate::stream::{HostRows, Prefetch, own_rows};
use crate::weight_decay::{apply_weight_decay, decayed_parameters};

fn make_device(options: &config::Options) -> Result<Device> {
    tch::set_num_threads(options.threads as i32);
    match options.device {
        config::Device::Cpu => Ok(Device::libtorch()),
        config::Device::Cuda(index) => {
            if !tch::Cuda::is_available() {
                bail!(
                    "--device {}: libtorch sees no CUDA device (a CPU-only libtorch from scripts/setup-libtorch, \
                     no GPU, or no driver); build with TORCH=cuda on a GPU machine, see the README",
                    options.device
                );
            }
            let count = tch::Cuda::device_count() as usize;
            if index >= count {
                bail!(
                    "--device {}: only {count} CUDA device(s) visible",
                    options.device
                );
            }
            Ok(Device::libtorch_cuda(index))
        }
    }
}

/// The test split: from `--test FILE` (its test split, or its only split, and the file's parts
/// to stream from), else the data file's.
#[allow(clippy::type_complexity)]
fn test_split(
    args: &Args,
    dataset: &Dataset,
    data_name: &str,
) -> Result<(
    Option<Split>,
    Option<String>,
    Option<String>,
    Option<Vec<Dataset>>,
)> {
    let Some(path) = &args.test else {
        return Ok((dataset.test.clone(), None, None, None));
    };
    let name = path.display().to_string();
    let (test, parts) = rethink_dataset::shards::read_with_parts(path)?;
    if test.meta.classes.len() != dataset.meta.classes.len() {
        bail!(
            "{name}: {} classes, but {data_name} has {}",
            test.meta.classes.len(),
            dataset.meta.classes.len()
        );
    }
    let digest = test.digest();
    let split = match (test.test, test.train) {
        (Some(split), _) => split,
        (None, Some(split)) => split,
        (None, None) => bail!("{name}: holds no split"),
    };
    Ok((Some(split), Some(name), digest, Some(parts)))
}

fn lr_at(config: &Config, step: u64) -> f64 {
    learning_rate(config.lr, config.lr_decay, config.steps_per_epoch, step)
}

/// The learning rate of step `step` (counted from 0): `lr · lr_decay^epoch`, where
/// `epoch = step / steps_per_epoch` (the decay is applied once per epoch, as in the paper).
pub fn learning_rate(lr: f64, lr_decay: f64, steps_per_epoch: u64, step: u64) -> f64 {
    lr * lr_decay.powi((step / steps_per_epoch) as i32)
}

/// The optimizer `train` uses: SGD with PyTorch's momentum (the buffer starts at the first
/// gradient, then `v ← μ·v + g`, no dampening; `w ← w − lr·v`) and no weight decay of its own
/// (see [`sgd_step`]). `momentum` 0 is plain SGD.
pub fn sgd(momentum: f64) -> ModuleOptimizer {
    let momentum = (momentum > 0.0).then(|| {
        MomentumConfig::new()
            .with_momentum(momentum)
            .with_dampening(0.0)
    });
    SgdConfig::new().with_momentum(momentum).init()
}

/// One SGD step of `model` on the batch `x` (`[batch, h, w, c]`, preprocessed) with labels `y`
/// (`[batch, 1]`): the mean cross-entropy, its gradients, weight decay added to the gradients of
/// the decayed parameters ([`apply_weight_decay`]), then `optimizer` at learning rate `lr`.
/// Returns the updated model and the batch's loss (detached, on the inner device).
pub fn sgd_step(
    model: Network,
    optimizer: &mut ModuleOptimizer,
    x: Tensor<4>,
    y: Tensor<2, Int>,
    weight_decay: f64,
    lr: f64,
) -> (Network, Tensor<1>) {
    let logits = model.forward(x);
    let loss = log_softmax(logits, 1).gather(1, y).mean().neg();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let grads = apply_weight_decay(&model, grads, weight_decay);
    let model = optimizer.step(lr, model, grads);
    (model, loss.detach().inner())
}

/// Keeps freed memory in the process. glibc gives every freed block above its mmap threshold
/// back to the kernel and maps it afresh on the next allocation, so each training step paid for
/// tens of thousands of page faults on its activation tensors (a quarter of alexnet-small's
/// CPU time on a 2-core VM: 1,750 → 2,400 images/s without them). Served from the heap and
/// never trimmed below 2 GB, freed tensors are reused as they are; the process keeps its peak
/// size, as with the caching allocators PyTorch recommends (jemalloc, tcmalloc).
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called before any thread of ours
    // allocates tensors, and a failure leaves the defaults in place.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}

/// Trains a model as `args` asks and writes its run folder.
pub fn train(args: Args) -> Result<()> {
    keep_freed_memory();
    let options = config::check_args(&args)?;
    let out = args.out.clone().expect("clap requires --out");
    let data = args.data.clone().expect("clap requires --data");
    let config_path = out.join("config.json");
    if args.resume {
        if !checkpoint::exists(&out) {
            bail!("{}: no checkpoint to resume from", out.display());
        }
    } else if config_path.exists() {
        usage!(
            "{}: holds a run already; continue it with --resume or choose another --out",
            out.display()
        );
    }

    let device = make_device(&options)?;
    // The parts (the shards of a shard set, or the one file) are what streaming reads from.
    let (dataset, parts) = match &data {
        Input::Path(p) => rethink_dataset::shards::read_with_parts(p)?,
        Input::Stdin => {
            let dataset = data.read_dataset()?;
            (dataset.clone(), vec![dataset])
        }
    };
    let data_name = data.to_string();
    let train = dataset.train.as_ref().ok_or_else(|| {
        anyhow!("{data_name}: holds no training split (train_images, train_labels)")
    })?;
    if train.is_empty() {
        bail!("{data_name}: train_images: the training split is empty");
    }
    let (test, test_name, test_digest, test_parts) = test_split(&args, &dataset, &data_name)?;
    let [_, h, w, c] = train.images.shape();
    if let Some(t) = &test {
        let [_, th, tw, tc] = t.images.shape();
        if [th, tw, tc] != [h, w, c] {
            bail!(
                "{}: test images are {th}x{tw}x{tc}, training images {h}x{w}x{c}",
                test_name.as_deref().unwrap_or(&data_name)
            );
        }
    }
    let test = test.filter(|t| !t.is_empty());
    // Stream when asked, or when the images would fill more than half the available memory.
    let image_bytes = |s: &Split| (s.len() * s.images.image_len() * s.images.dtype().size()) as u64;
    let held = image_bytes(train) + test.as_ref().map_or(0, image_bytes);
    let available = rethink_dataset::meminfo("MemAvailable");
    let streaming = args.stream || available.is_some_and(|a| held > a / 2);
    if streaming && !args.stream {
        eprintln!(
            "train: the images take {} MB and {} MB of memory is available: streaming them (--stream)",
            held >> 20,
            available.unwrap_or(0) >> 20
        );
    }
    let crop = config::resolve_crop(&args, [h, w, c])?;
    let input = [crop.unwrap_or(h).min(h), crop.unwrap_or(w).min(w), c];
    config::check_input(options.model, input)?;
    let pad = config::resolve_pad(&args, options.augment, [h, w, c], input)?;
    let classes = dataset.num_classes();

    let arch = Architecture {
        name: options.model,
        input,
        classes,
        batchnorm: !args.no_batchnorm,
        dropout: args.dropout,
    };
    let training_device = device.clone().autodiff();
    training_device.seed(mix_seed(args.seed, WEIGHTS_SALT));
    let mut model = Network::new(&arch, &training_device);

    let n = train.len();
    let steps_per_epoch = n.div_ceil(args.batch_size) as u64;
    let epochs = args
        .epochs
        .or((args.max_steps.is_none() && args.until_train_acc.is_none()).then_some(100));
    let mut dataset_meta = serde_json::to_value(&dataset.meta)?;
    if let Some(map) = dataset_meta.as_object_mut() {
        map.remove("source");
    }
    let weight_decay_params = if args.weight_decay > 0.0 {
        decayed_parameters(&model)
    } else {
        Vec::new()
    };
    let config = Config {
        schema_version: rethink_runs::SCHEMA_VERSION,
        model: options.model.to_string(),
        data: data_name.clone(),
        data_digest: dataset.digest(),
        test_data: test_name,
        test_data_digest: test_digest,
        dataset: dataset_meta,
        input_shape: input,
        image_shape: [h, w, c],
        crop,
        num_classes: classes,
        train_size: n,
        test_size: test.as_ref().map_or(0, |t| t.len()),
        parameters: model.parameters(),
        epochs,
        max_steps: args.max_steps,
        until_train_acc: args.until_train_acc,
        batch_size: args.batch_size,
        steps_per_epoch,
        lr: options.lr,
        lr_decay: args.lr_decay,
        momentum: args.momentum,
        weight_decay: args.weight_decay,
        weight_decay_params,
        dropout: args.dropout,
        augment: options
            .augment
            .names()
            .into_iter()
            .map(String::from)
            .collect(),
        pad: (pad > 0).then_some(pad),
        batchnorm: !args.no_batchnorm,
        seed: args.seed,
        device: options.device.to_string(),
        threads: options.threads,
        precision: args.precision.name().into(),
        eval_every: args.eval_every,
        per_example: args.per_example,
        el2n_step: args
            .per_example
            .then(|| args.el2n_step.unwrap_or(steps_per_epoch)),
        eval_train_subset: args.eval_train_subset.map(|k| (k as usize).min(n)),
        log_every: args.log_every,
        backend: format!("burn {} + libtorch (tch {})", "0.22.1", "0.22.0"),
        version: env!("CARGO_PKG_VERSION").to_string(),
    };

    // summary.json copies the corruption record typed: refuse a file whose record is malformed
    // before training rather than drop it from the summary after.
    config
        .corruption()
        .map_err(|e| anyhow!("{data_name}: meta: corruption record: {e}"))?;
    // Weight decay is added to the gradients of the decayed parameters before the step (see
    // `apply_weight_decay`), not by burn's optimizer, which would decay every parameter.
    let mut optimizer = sgd(args.momentum);

    let (mut metrics, resume_state) = if args.resume {
        let old: Config = serde_json::from_str(
            &std::fs::read_to_string(&config_path)
                .with_context(|| format!("{}: cannot read", config_path.display()))?,
        )
        .with_context(|| format!("{}: not a train config", config_path.display()))?;
        if old.trajectory() != config.trajectory() {
            let differing = differing_keys(&old.trajectory(), &config.trajectory());
            usage!(
                "--resume: {} was made with different settings or data ({}); only the stopping criteria, device, threads and logging may change",
                config_path.display(),
                differing
            );
        }
        let state;
        (model, optimizer, state) = checkpoint::load(&out, model, optimizer)?;
        let _ = std::fs::remove_file(out.join("summary.json"));
        let interval = eval_interval(&config);
        let log = MetricsLog::resume(&out.join("metrics.jsonl"), state.step, |s| {
            s % interval == 0
        })?;
        (log, state)
    } else {
        std::fs::create_dir_all(&out)
            .with_context(|| format!("{}: cannot create", out.display()))?;
        (
            MetricsLog::create(&out.join("metrics.jsonl"))?,
            CheckpointState::start(),
        )
    };
    config.write(&config_path)?;

    let pipeline = Pipeline::new([h, w, c], crop.unwrap_or(usize::MAX), pad, &device);
    let (train_dev, test_dev) = if streaming {
        let rows = |parts: &[Dataset], test: bool| -> HostRows {
            let images: Vec<&rethink_dataset::Images> = parts
                .iter()
                .filter_map(|p| {
                    if test {
                        p.test.as_ref()
                    } else {
                        p.train.as_ref()
                    }
                })
                .map(|s| &s.images)
                .collect();
            HostRows::new(&images)
        };
        let train_dev = DeviceSplit::stream(rows(&parts, false), &train.labels, &device);
        let test_dev = match (&test, &test_parts) {
            (None, _) => None,
            (Some(t), Some(parts)) => {
                // The test file's test split, or its only split (as test_split chose).
                let any_test = parts.iter().any(|p| p.test.is_some());
                let rows = if any_test {
                    rows(parts, true)
                } else {
                    rows(parts, false)
                };
                Some(DeviceSplit::stream(rows, &t.labels, &device))
            }
            (Some(t), None) => Some(DeviceSplit::stream(rows(&parts, true), &t.labels, &device)),
        };
        (train_dev, test_dev)
    } else {
        (
            DeviceSplit::upload(train, &device),
            test.as_ref().map(|t| DeviceSplit::upload(t, &device)),
        )
    };
    let subsets = Subsets::new(
        &train.labels,
        dataset.train_clean_labels.as_deref(),
        dataset.train_corrupted.clone(),
        test.as_ref().map(|t| t.labels.clone()),
        classes,
    );
    drop(dataset);
    // --eval-train-subset: the training metrics score a fixed subset of the training examples.
    let scored = config
        .eval_train_subset
        .map(|k| rethink_rng::training::eval_train_subset(n, k));
    let eval_train = scored.as_ref().map(|ix| train_dev.subset(ix, &device));
    let eval_subsets = scored.as_ref().map(|ix| subsets.select(ix));
    let records = if !config.per_example {
        None
    } else if args.resume {
        let interval = eval_interval(&config);
        Some(PerExample::resume(
            &out.join(PER_EXAMPLE),
            &subsets.labels,
            subsets.corrupted.as_deref(),
            resume_state.step,
            |s| s % interval == 0,
        )?)
    } else {
        Some(PerExample::new(
            &subsets.labels,
            subsets.corrupted.as_deref(),
        ))
    };

    interrupt::install();
    let run = Run {
        config: &config,
        out: &out,
        pipeline: &pipeline,
        train: &train_dev,
        test: test_dev.as_ref(),
        subsets: &subsets,
        eval_train: eval_train.as_ref().unwrap_or(&train_dev),
        eval_subsets: eval_subsets.as_ref().unwrap_or(&subsets),
        eval_batch: args.eval_batch_size,
        augment: options.augment,
        prefetch: args.prefetch,
    };
    // Training steps and evaluations alike run in the chosen precision (as under torch.autocast).
    precision::autocast(args.precision, || {
        run.train_loop(model, optimizer, &mut metrics, resume_state, records)
    })
}

/// The per-example records in a run folder (`train --per-example`).
pub const PER_EXAMPLE: &str = "per_example.npz";

/// Steps between evaluations.
fn eval_interval(config: &Config) -> u64 {
    ((config.eval_every * config.steps_per_epoch as f64).round() as u64).max(1)
}

fn differing_keys(a: &Value, b: &Value) -> String {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return String::new();
    };
    let keys: Vec<&str> = a
        .keys()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(String::as_str)
        .collect();
    keys.join(", ")
}

/// One training run: what the loop reads (configuration, data on the device, label subsets).
struct Run<'a> {
    config: &'a Config,
    out: &'a PathBuf,
    pipeline: &'a Pipeline,
    train: &'a DeviceSplit,
    test: Option<&'a DeviceSplit>,
    subsets: &'a Subsets,
    /// The training examples the training metrics score: `train`, or its
    /// `--eval-train-subset`.
    eval_train: &'a DeviceSplit,
    /// `subsets` of the scored training examples.
    eval_subsets: &'a Subsets,
    eval_batch: usize,
    augment: crate::data::Augment,
    /// Training batches assembled ahead when streaming.
    prefetch: usize,
}

impl Run<'_> {
    /// Evaluates `model` at `step`; with `records`, also appends each training example's numbers
    /// (and EL2N at the first evaluation at or after the EL2N step).
    fn eval_record(
        &self,
        model: &Network,
        step: u64,
        images_per_sec: Option<f64>,
        wall_s: f64,
        records: Option<&mut PerExample>,
    ) -> EvalRecord {
        let model = model.valid();
        let Evaluation {
            loss: train_loss,
            predictions,
            ranks,
            log_probs,
        } = evaluate(
            &model,
            self.pipeline,
            self.eval_train,
            self.eval_batch,
            records.is_some(),
        );
        let s = self.eval_subsets;
        if let (Some(records), Some(log_probs)) = (records, log_probs) {
            let stats =
                ExampleStats::from_log_probs(&log_probs, self.config.num_classes, &s.labels);
            records.record(step, &stats);
            if !records.has_el2n() && self.config.el2n_step.is_some_and(|at| step >= at) {
                records.record_el2n(step, &stats);
            }
        }
        let top5 = |ranks: &[i64]| s.top5.then(|| metrics::top_k(ranks, 5, None)).flatten();
        let (test_loss, test_acc, test_top5) = match (self.test, &s.test_labels) {
            (Some(test), Some(labels)) => {
                let e = evaluate(&model, self.pipeline, test, self.eval_batch, false);
                (
                    Some(e.loss),
                    metrics::accuracy(&e.predictions, labels, None),
                    top5(&e.ranks),
                )
            }
            _ => (None, None, None),
        };
        let mask = s.corrupted.as_deref();
        EvalRecord {
            step,
            epoch: step as f64 / self.config.steps_per_epoch as f64,
            lr: lr_at(self.config, step.saturating_sub(1)),
            train_loss,
            train_acc: metrics::accuracy(&predictions, &s.labels, None).unwrap_or(0.0),
            test_loss,
            test_acc,
            train_top5: top5(&ranks),
            test_top5,
            train_acc_corrupted: mask
                .and_then(|m| metrics::accuracy(&predictions, &s.labels, Some((m, 1)))),
            train_acc_clean: mask
                .and_then(|m| metrics::accuracy(&predictions, &s.labels, Some((m, 0)))),
            train_acc_redrawn: s
                .redrawn
                .as_deref()
                .and_then(|m| metrics::accuracy(&predictions, &s.labels, Some((m, 1)))),
            train_acc_vs_clean_labels: s
                .clean
                .as_ref()
                .and_then(|c| metrics::accuracy(&predictions, c, None)),
            images_per_sec,
            wall_s,
        }
    }

    fn train_loop(
        &self,
        mut model: Network,
        mut optimizer: ModuleOptimizer,
        metrics: &mut MetricsLog,
        resume: CheckpointState,
        mut records: Option<PerExample>,
    ) -> Result<()> {
        // Per-example records are written with every checkpoint (a resume continues from there)
        // and at the end.
        let save = |model: &Network,
                    optimizer: &ModuleOptimizer,
                    state: CheckpointState,
                    records: &Option<PerExample>|
         -> Result<()> {
            checkpoint::save(self.out, model, optimizer, state)?;
            if let Some(records) = records {
                records.write(&self.out.join(PER_EXAMPLE))?;
            }
            Ok(())
        };
        let config = self.config;
        let spe = config.steps_per_epoch;
        let eval_interval = eval_interval(config);
        let (start_step, wall_offset) = (resume.step, resume.wall_s);
        let epoch_cap = config.epochs.map(|e| e * spe);
        let cap = match (epoch_cap, config.max_steps) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let stop_reason_at_cap = match (epoch_cap, config.max_steps) {
            (Some(a), Some(b)) if b < a => StopReason::MaxSteps,
            (None, Some(_)) => StopReason::MaxSteps,
            _ => StopReason::Epochs,
        };
        let started = Instant::now();
        let wall = || wall_offset + started.elapsed().as_secs_f64();
        let bar = rethink_cli::progress(cap.unwrap_or(spe), &format!("{} epoch 0", config.model));
        bar.set_position(cap.map_or(start_step % spe, |_| start_step));
        let log = |line: String| {
            if bar.is_hidden() {
                eprintln!("{line}");
            } else {
                bar.println(line);
            }
        };
        let device = self.train.labels.device();
        let training_device = device.clone().autodiff();

        let mut step = start_step;
        let mut train_time = 0.0f64;
        let mut trained_images = 0usize;
        let mut loss_sum: Option<Tensor<1>> = resume
            .loss_sum
            .map(|v| Tensor::from_data(TensorData::new(vec![v], [1]), &device));
        let mut loss_count = resume.loss_count;
        let mut last_acc: Option<f64> = metrics.evals.last().map(|e| e.train_acc);
        let mut order: Option<(u64, Tensor<1, Int>)> = None;
        // Streamed rows: the batches of the coming steps are gathered on another thread.
        let prefetch = match &self.train.pixels {
            DevicePixels::Host(rows) => {
                let (n, seed) = (self.train.len, config.seed);
                Some(Prefetch::start(
                    rows.clone(),
                    start_step,
                    config.batch_size,
                    spe,
                    self.prefetch,
                    move |epoch| epoch_order(n, seed, epoch),
                ))
            }
            _ => None,
        };
        let report_eval = |record: &EvalRecord| {
            format!(
                "step {} epoch {:.2}: train loss {:.4} acc {:.4}{}{}",
                record.step,
                record.epoch,
                record.train_loss,
                record.train_acc,
                record
                    .test_acc
                    .map(|a| format!(", test acc {a:.4}"))
                    .unwrap_or_default(),
                record
                    .images_per_sec
                    .map(|r| format!(", {r:.0} img/s"))
                    .unwrap_or_default()
            )
        };
        if step == 0 && metrics.evals.is_empty() {
            let record = self.eval_record(&model, 0, None, wall(), records.as_mut());
            log(report_eval(&record));
            metrics.eval(record)?;
        }
        let reached = |evals: &[EvalRecord]| {
            config
                .until_train_acc
                .is_some_and(|a| evals.last().is_some_and(|e| e.train_acc >= a))
        };
        let mut stopped = None;
        if reached(&metrics.evals) {
            stopped = Some(StopReason::UntilTrainAcc);
        }
        while stopped.is_none() {
            if cap.is_some_and(|c| step >= c) {
                stopped = Some(stop_reason_at_cap);
                break;
            }
            if interrupt::requested() {
                bar.abandon();
                let state = CheckpointState::at(step, wall(), &loss_sum, loss_count);
                save(&model, &optimizer, state, &records)?;
                return Err(Interrupted(format!(
                    "interrupted at step {step}; checkpoint saved in {}, continue with --resume",
                    self.out.join("checkpoint").display()
                ))
                .into());
            }
            let epoch = step / spe;
            if order.as_ref().is_none_or(|(e, _)| *e != epoch) {
                let values = epoch_order(self.train.len, config.seed, epoch);
                let n = values.len();
                order = Some((
                    epoch,
                    Tensor::from_data(TensorData::new(values, [n]), (&device, DType::I64)),
                ));
            }
            let position = (step % spe) as usize * config.batch_size;
            let end = (position + config.batch_size).min(self.train.len);
            let indices = order
                .as_ref()
                .expect("order")
                .1
                .clone()
                .slice([position..end]);

            let tick = Instant::now();
            training_device.seed(mix_seed(config.seed, step));
            let x = match &prefetch {
                Some(prefetch) => {
                    let batch = DeviceSplit {
                        pixels: prefetch.next(step).upload(&device),
                        labels: self.train.labels.clone(),
                        len: end - position,
                    };
                    let own = own_rows(end - position, &device);
                    self.pipeline.train_batch(&batch, own, self.augment)
                }
                None => self
                    .pipeline
                    .train_batch(self.train, indices.clone(), self.augment),
            }
            .autodiff();
            let y = self
                .train
                .labels
                .clone()
                .select(0, indices)
                .unsqueeze_dim::<2>(1)
                .autodiff();
            let loss;
            (model, loss) = sgd_step(
                model,
                &mut optimizer,
                x,
                y,
                config.weight_decay,
                lr_at(config, step),
            );
            loss_sum = Some(match loss_sum {
                Some(sum) => sum + loss,
                None => loss,
            });
            loss_count += 1;
            step += 1;
            trained_images += end - position;

            if step % config.log_every == 0 {
                let mean =
                    loss_sum.take().expect("loss").into_scalar::<f32>() as f64 / loss_count as f64;
                loss_count = 0;
                metrics.train(&TrainRecord {
                    step,
                    epoch: step as f64 / spe as f64,
                    lr: lr_at(config, step - 1),
                    loss: mean,
                    wall_s: wall(),
                })?;
                bar.set_message(format!(
                    "{} epoch {:.2} loss {mean:.4}{}",
                    config.model,
                    step as f64 / spe as f64,
                    last_acc
                        .map(|a| format!(" train acc {a:.3}"))
                        .unwrap_or_default()
                ));
            }
            train_time += tick.elapsed().as_secs_f64();
            if cap.is_some() {
                bar.set_position(step);
            } else {
                bar.set_position(step % spe);
            }

            let at_cap = cap.is_some_and(|c| step >= c);
            if step % eval_interval == 0 || at_cap {
                let rate = (train_time > 0.0).then(|| trained_images as f64 / train_time);
                let record = self.eval_record(&model, step, rate, wall(), records.as_mut());
                log(report_eval(&record));
                last_acc = Some(record.train_acc);
                metrics.eval(record)?;
                train_time = 0.0;
                trained_images = 0;
                if reached(&metrics.evals) {
                    stopped = Some(StopReason::UntilTrainAcc);
                }
            }
            if step % spe == 0 || stopped.is_some() || at_cap {
                let state = CheckpointState::at(step, wall(), &loss_sum, loss_count);
                save(&model, &optimizer, state, &records)?;
            }
        }
        bar.finish_and_clear();
        if metrics.evals.last().is_none_or(|e| e.step != step) {
            let record = self.eval_record(&model, step, None, wall(), records.as_mut());
            log(report_eval(&record));
            metrics.eval(record)?;
        }
        if let Some(records) = &records {
            records.write(&self.out.join(PER_EXAMPLE))?;
        }
        let weights = self.out.join("model.bpk");
        let tmp = self.out.join(".model.bpk.tmp");
        model
            .valid()
            .save_file(&tmp)
            .map_err(|e| anyhow!("{}: {e}", weights.display()))?;
        std::fs::rename(&tmp, &weights)?;
        let stopped = stopped.unwrap_or(StopReason::Epochs);
        let counts = self.subsets.counts();
        Summary::from_evals(
            config,
            &metrics.evals,
            stopped,
            wall(),
            counts.corrupted,
            counts.redrawn,
        )
        .write(&self.out.join("summary.json"))?;
        let last = metrics.evals.last().expect("an evaluation");
        log(format!(
            "done ({stopped}): {} steps, train acc {:.4}{}; wrote {}",
            last.step,
            last.train_acc,
            last.test_acc
                .map(|a| format!(", test acc {a:.4}"))
                .unwrap_or_default(),
            self.out.display()
        ));
        Ok(())
    }
}
