//! `imagenet-pack`: an ImageNet-style image tree as rethink dataset files. Each image is decoded
//! (JPEG or PNG; grayscale and CMYK become RGB), its shorter side resized to `--size` and the
//! center `--size`×`--size` kept. Images are decoded in parallel but written in listing order,
//! so the output does not depend on `--jobs`; with `--shard-size` the output is a directory of
//! shard files (with an `index.json`: a shard set, one dataset to every tool) and memory stays
//! bounded by a shard or two, whatever the size of the tree.

#![warn(missing_docs)]

pub mod decode;
pub mod listing;
pub mod resize;

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};
use rayon::prelude::*;
use rethink_cli::{Output, ShardWriter, history_record, usage};
use rethink_dataset::{Dataset, Images, Meta, ReadLimits, Split};
use serde_json::json;

use listing::Listing;
use resize::Filter;

/// Pack an ImageNet-style image tree into dataset files.
///
/// The training split is `ROOT/train/<wnid>/*.JPEG`: the class of an image is the position of its
/// directory's name in the sorted list of class directories. The validation split is either
/// `ROOT/val/<wnid>/*` or flat files `ROOT/val/*` with --val-labels (lines `FILE WNID` or
/// `FILE,WNID ...` as in LOC_val_solution.csv); it uses the class list of `ROOT/train` when there
/// is one. Every image is resized (shorter side to --size) and center-cropped to --size×--size.
///
/// Without --shard-size the output is one dataset file (-o or stdout); the training split is
/// stored as train_images/train_labels, the validation split as test_images/test_labels. With
/// --shard-size N, -o names a directory that receives `<split>-00000.npz`, ... of N images each,
/// every one a valid dataset file, and an index.json naming them with their sizes and blake3
/// digests: the directory is one dataset that every rethink tool accepts in place of a file
/// (`inspect DIR`, `corrupt DIR -o DIR2`, `train --data DIR`). Undecodable or truncated images stop the run with an error
/// naming the file, unless --skip-bad: then they are left out, counted and listed in `meta`.
#[derive(Debug, Parser)]
#[command(name = "imagenet-pack", version)]
pub struct Args {
    /// The dataset root, holding train/ and/or val/.
    #[arg(value_name = "ROOT")]
    pub root: PathBuf,
    /// Output side length in pixels.
    #[arg(long, default_value_t = 299, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub size: u32,
    /// Which split to pack.
    #[arg(long, value_enum, default_value = "train")]
    pub split: SplitName,
    /// Labels of a flat validation directory: one `FILE WNID` (or `FILE,WNID ...`) per line.
    #[arg(long, value_name = "FILE")]
    pub val_labels: Option<PathBuf>,
    /// Human-readable class names: lines `WNID name` (LOC_synset_mapping.txt, words.txt).
    #[arg(long, value_name = "FILE")]
    pub synsets: Option<PathBuf>,
    /// Write shards of N images into the directory given by -o.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub shard_size: Option<u64>,
    /// Decoding threads (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub jobs: Option<u64>,
    /// Resampling filter.
    #[arg(long, value_enum, default_value = "bilinear")]
    pub filter: Filter,
    /// Leave out images that cannot be decoded (listed in meta) instead of failing.
    #[arg(long)]
    pub skip_bad: bool,
    /// Output file, or directory with --shard-size (default: stdout, which must not be a
    /// terminal).
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
/// The ImageNet split being packed.
pub enum SplitName {
    /// The training images (written as the file's train split).
    Train,
    /// The validation images (written as the file's test split).
    Val,
}

impl SplitName {
    fn name(self) -> &'static str {
        match self {
            SplitName::Train => "train",
            SplitName::Val => "val",
        }
    }
}

/// Images decoded between two progress/ordering barriers when writing a single file.
const CHUNK: usize = 512;

/// An image that could not be used.
struct Bad {
    file: String,
    error: String,
}

/// One packed group of images, in listing order.
struct Packed {
    pixels: Vec<u8>,
    labels: Vec<u16>,
    bad: Vec<Bad>,
}

/// Runs `imagenet-pack` on parsed arguments: decodes, resizes and crops the listed images, writes.
pub fn run(args: Args) -> Result<()> {
    let shards_dir = match (args.shard_size, &args.output) {
        (Some(_), None) => usage!("--shard-size needs -o DIR (the directory for the shards)"),
        (Some(_), Some(p)) if p == Path::new("-") => {
            usage!("--shard-size writes files into a directory: -o DIR, not stdout")
        }
        (Some(_), Some(p)) => Some(p.clone()),
        (None, _) => None,
    };
    let output = Output::new(args.output.as_deref());
    if shards_dir.is_none() {
        output.check_binary()?;
    }
    let listing = listing::list(
        &args.root,
        args.split,
        args.val_labels.as_deref(),
        args.synsets.as_deref(),
    )?;
    if listing.items.is_empty() {
        bail!(
            "{}: no images found",
            args.root.join(args.split.name()).display()
        );
    }
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(jobs) = args.jobs {
        builder = builder.num_threads(jobs as usize);
    }
    let pool = builder
        .build()
        .context("cannot start the decoding threads")?;
    let total = listing.items.len();
    let max_decoded = ReadLimits::from_env()
        .map_err(anyhow::Error::msg)?
        .max_expand
        .min(decode::MAX_DECODED);
    let bar = rethink_cli::progress(total as u64, "packing");

    let pack = |items: &[(PathBuf, u16)]| -> Result<Packed> {
        let results: Vec<Result<Vec<u8>, String>> = pool.install(|| {
            items
                .par_iter()
                .map(|(path, _)| {
                    let out = load(path, args.size, args.filter, max_decoded);
                    bar.inc(1);
                    out
                })
                .collect()
        });
        let image_len = (args.size * args.size * 3) as usize;
        let mut packed = Packed {
            pixels: Vec::with_capacity(items.len() * image_len),
            labels: Vec::with_capacity(items.len()),
            bad: Vec::new(),
        };
        for ((path, label), result) in items.iter().zip(results) {
            match result {
                Ok(pixels) => {
                    packed.pixels.extend_from_slice(&pixels);
                    packed.labels.push(*label);
                }
                Err(error) if args.skip_bad => packed.bad.push(Bad {
                    file: path.display().to_string(),
                    error,
                }),
                Err(error) => {
                    bar.finish_and_clear();
                    bail!(
                        "{}: {error} (--skip-bad leaves such images out)",
                        path.display()
                    )
                }
            }
        }
        Ok(packed)
    };

    match (shards_dir, args.shard_size) {
        (Some(dir), Some(n)) => {
            // The shards appear together when the last is written: a killed run leaves no
            // directory, not a directory that looks like a smaller dataset.
            let mut files = ShardWriter::new(&dir)?;
            let shards = total.div_ceil(n as usize);
            // The writer runs beside the decoders; the channel holds one shard, so at most
            // three shards are in memory (being decoded, waiting, being written).
            let (send, receive) = mpsc::sync_channel::<(usize, Packed)>(1);
            let mut skipped = 0;
            std::thread::scope(|scope| -> Result<()> {
                let writer = scope.spawn(|| -> Result<usize> {
                    let mut skipped = 0;
                    for (k, packed) in receive {
                        skipped += packed.bad.len();
                        let name = format!("{}-{k:05}.npz", args.split.name());
                        let shard = json!({ "index": k, "count": shards, "first": k * n as usize });
                        let ds = dataset(&args, &listing, packed, Some(shard));
                        files.write(&name, &ds)?;
                        rethink_dataset::fault::abort_point(&format!("shard:{k}"));
                    }
                    files.finish()?;
                    Ok(skipped)
                });
                for (k, items) in listing.items.chunks(n as usize).enumerate() {
                    let packed = pack(items)?;
                    if send.send((k, packed)).is_err() {
                        break;
                    }
                }
                drop(send);
                skipped = writer.join().expect("the shard writer does not panic")?;
                Ok(())
            })?;
            bar.finish_and_clear();
            eprintln!(
                "imagenet-pack: {} images in {shards} shards under {}{}",
                total - skipped,
                dir.display(),
                skipped_note(skipped)
            );
        }
        _ => {
            let mut all = Packed {
                pixels: Vec::new(),
                labels: Vec::new(),
                bad: Vec::new(),
            };
            for items in listing.items.chunks(CHUNK) {
                let packed = pack(items)?;
                all.pixels.extend_from_slice(&packed.pixels);
                all.labels.extend_from_slice(&packed.labels);
                all.bad.extend(packed.bad);
            }
            bar.finish_and_clear();
            let skipped = all.bad.len();
            output.write_dataset(&dataset(&args, &listing, all, None))?;
            if skipped > 0 {
                eprintln!(
                    "imagenet-pack: {}",
                    skipped_note(skipped).trim_start_matches("; ")
                );
            }
        }
    }
    Ok(())
}

fn skipped_note(skipped: usize) -> String {
    if skipped == 0 {
        String::new()
    } else {
        format!("; {skipped} undecodable images skipped (listed in meta.skipped)")
    }
}

/// Reads, decodes, resizes and crops one image.
fn load(path: &Path, size: u32, filter: Filter, max_decoded: u64) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let rgb = decode::decode(&bytes, max_decoded)?;
    resize::resize_crop(&rgb, size, filter)
}

fn dataset(
    args: &Args,
    listing: &Listing,
    packed: Packed,
    shard: Option<serde_json::Value>,
) -> Dataset {
    let n = packed.labels.len();
    let s = args.size as usize;
    let split = Split {
        images: Images::from_u8([n, s, s, 3], packed.pixels),
        labels: packed.labels,
    };
    let mut meta = Meta::new("imagenet", listing.class_names.clone());
    let mut source = json!({
        "root": args.root.display().to_string(),
        "split": args.split.name(),
        "size": args.size,
        "filter": args.filter.name(),
        "resize": "shorter side to size, center crop",
    });
    if let Some(labels) = &listing.val_labels {
        source["val_labels"] = json!({ "file": labels.0, "md5": labels.1 });
    }
    if let Some(synsets) = &listing.synsets {
        source["synsets"] = json!({ "file": synsets.0, "md5": synsets.1 });
    }
    if let Some(shard) = shard {
        source["shard"] = shard;
    }
    meta.source = Some(source);
    meta.extra.insert("wnids".into(), json!(listing.wnids));
    if args.skip_bad {
        meta.extra
            .insert("skipped_count".into(), json!(packed.bad.len()));
        meta.extra.insert(
            "skipped".into(),
            json!(
                packed
                    .bad
                    .iter()
                    .map(|b| json!({ "file": b.file, "error": b.error }))
                    .collect::<Vec<_>>()
            ),
        );
    }
    meta.history.push(history_record(
        "imagenet-pack",
        env!("CARGO_PKG_VERSION"),
        None,
        None,
    ));
    match args.split {
        SplitName::Train => Dataset::new(meta, Some(split), None),
        SplitName::Val => Dataset::new(meta, None, Some(split)),
    }
}
