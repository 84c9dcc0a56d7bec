//! `inspect`: what is inside a dataset file, for people (`--json` for programs, `--grid` for eyes).

#![warn(missing_docs)]

mod grid;
mod stats;

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use rethink_cli::Input;
use serde_json::{Value, json};

/// Show what is inside a rethink dataset file (.npz).
///
/// Prints each entry's dtype and shape, the dataset name and classes, the history of tools that
/// made the file (with their arguments and seeds), per-split label histograms, how many training
/// labels differ from the clean labels when the file was corrupted, and the pixel mean and
/// standard deviation per channel. A directory of shards (with index.json, as imagenet-pack
/// --shard-size writes) is shown as the one dataset it is, with a line per shard; --verify also
/// checks every shard's blake3 digest against the index.
///
/// Examples:
///   inspect data/fashion-mnist.npz
///   corrupt --labels 0.5 data/fmnist.npz | inspect - --json
///   inspect data/cifar10-labels0.4.npz --grid grid.png --per-class 8
///   inspect data/imagenet-train --verify
#[derive(Parser, Debug)]
#[command(name = "inspect", version)]
pub struct Args {
    /// The dataset file, or '-' for standard input.
    #[arg(value_name = "FILE", default_value = "-")]
    pub input: Input,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Write a PNG grid of images with their labels (red frame and two-colored caption when the
    /// label differs from the clean label).
    #[arg(long, value_name = "PNG")]
    pub grid: Option<PathBuf>,
    /// Images per class in the grid (one row per class).
    #[arg(long, value_name = "K", default_value_t = 8, conflicts_with = "first")]
    pub per_class: usize,
    /// Instead of K per class, show the first K images in file order.
    #[arg(long, value_name = "K")]
    pub first: Option<usize>,
    /// Which split the grid shows.
    #[arg(long, value_name = "SPLIT", default_value = "train", value_parser = ["train", "test"])]
    pub split: String,
    /// Pixel magnification in the grid (default: so images are at least 56 pixels wide).
    #[arg(long, value_name = "N")]
    pub scale: Option<u32>,
    /// For a shard directory: check every shard's blake3 digest against index.json (reads
    /// every byte).
    #[arg(long)]
    pub verify: bool,
}

/// Runs `inspect` on parsed arguments: prints the summary or writes the grid image.
pub fn run(args: Args) -> anyhow::Result<()> {
    let shards = args.input.shard_set()?;
    if args.verify {
        match &shards {
            Some(set) => {
                set.verify()?;
                eprintln!(
                    "inspect: {} shards match the digests in {}",
                    set.index.shards.len(),
                    set.dir.join(rethink_dataset::shards::INDEX).display()
                );
            }
            None => rethink_cli::usage!("--verify checks the shards of a directory: give one"),
        }
    }
    let dataset = args.input.read_dataset()?;
    let name = args.input.to_string();
    let mut report = stats::describe(&dataset, &name);
    if let Some(set) = &shards {
        report["shards"] = json!(set.index.shards);
    }
    if let Some(path) = &args.grid {
        let selection = match args.first {
            Some(k) => grid::Selection::First(k),
            None => grid::Selection::PerClass(args.per_class),
        };
        let img = grid::draw(&dataset, &args.split, selection, args.scale)
            .with_context(|| name.clone())?;
        rethink_cli::atomic_write(path, |out| {
            let mut buf = std::io::Cursor::new(Vec::new());
            img.write_to(&mut buf, image::ImageFormat::Png)?;
            out.write_all(buf.get_ref())?;
            Ok(())
        })?;
        eprintln!("inspect: wrote {}", path.display());
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        write_text(&mut out, &report)?;
    }
    out.flush()?;
    Ok(())
}

fn write_text(out: &mut impl Write, r: &Value) -> std::io::Result<()> {
    writeln!(out, "file       {}", r["file"].as_str().unwrap_or(""))?;
    if let Some(d) = r["digest"].as_str() {
        writeln!(out, "digest     {d}")?;
    }
    let classes: Vec<&str> = r["classes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.as_str())
        .collect();
    writeln!(
        out,
        "dataset    {} ({} classes)",
        r["name"].as_str().unwrap_or(""),
        classes.len()
    )?;
    if let Some(c) = r["corruption"].as_object() {
        let pixels = c.get("pixels").and_then(|p| p.as_str()).unwrap_or("true");
        writeln!(
            out,
            "corruption labels p={}, pixels {pixels}",
            c.get("labels").unwrap_or(&json!(0))
        )?;
    }
    if let Some(shards) = r["shards"].as_array() {
        let bytes: u64 = shards.iter().filter_map(|s| s["bytes"].as_u64()).sum();
        writeln!(out, "shards     {} files, {bytes} bytes", shards.len())?;
        for s in shards {
            writeln!(
                out,
                "  {:<24} train {:>9} test {:>9} {:>14} bytes",
                s["file"].as_str().unwrap_or(""),
                s["train"],
                s["test"],
                s["bytes"]
            )?;
        }
    }
    writeln!(out, "\nentries")?;
    for e in r["entries"].as_array().into_iter().flatten() {
        let shape: Vec<String> = e["shape"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| d.to_string())
            .collect();
        writeln!(
            out,
            "  {:<20} {:<8} [{}]",
            e["name"].as_str().unwrap_or(""),
            e["dtype"].as_str().unwrap_or(""),
            shape.join(", ")
        )?;
    }
    writeln!(out, "\nhistory")?;
    let history = r["history"].as_array().cloned().unwrap_or_default();
    if history.is_empty() {
        writeln!(out, "  (none: not made by a rethink tool)")?;
    }
    for (i, h) in history.iter().enumerate() {
        let args: Vec<&str> = h["args"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str())
            .collect();
        let seed = h
            .get("seed")
            .and_then(|s| s.as_u64())
            .map(|s| format!("  seed {s}"))
            .unwrap_or_default();
        writeln!(
            out,
            "  {}. {} {} {}{seed}",
            i + 1,
            h["tool"].as_str().unwrap_or("?"),
            h["version"].as_str().unwrap_or(""),
            args.join(" ")
        )?;
    }
    writeln!(out, "\nlabels")?;
    let train = r["labels"]["train"].as_array();
    let test = r["labels"]["test"].as_array();
    let width = classes
        .iter()
        .map(|c| c.len())
        .max()
        .unwrap_or(5)
        .clamp(5, 24);
    writeln!(
        out,
        "  {:>5} {:<width$} {:>9} {:>9}",
        "class", "name", "train", "test"
    )?;
    for (i, c) in classes.iter().enumerate() {
        let count = |a: Option<&Vec<Value>>| a.map_or("-".to_string(), |a| a[i].to_string());
        writeln!(
            out,
            "  {i:>5} {c:<width$} {:>9} {:>9}",
            count(train),
            count(test)
        )?;
    }
    if let Some(noise) = r["label_noise"].as_object() {
        writeln!(
            out,
            "\n  train labels differing from clean labels: {:.2}% ({} of {}); flagged corrupted: {:.2}%",
            100.0 * noise["differ_fraction"].as_f64().unwrap_or(0.0),
            noise["differ_count"],
            noise["train_size"],
            100.0 * noise["flagged_fraction"].as_f64().unwrap_or(f64::NAN),
        )?;
    }
    writeln!(out, "\npixels")?;
    for split in ["train", "test"] {
        let Some(p) = r["pixels"][split].as_object() else {
            continue;
        };
        let fmt = |k: &str| -> String {
            p[k].as_array()
                .into_iter()
                .flatten()
                .map(|x| format!("{:.3}", x.as_f64().unwrap_or(f64::NAN)))
                .collect::<Vec<_>>()
                .join(" ")
        };
        writeln!(
            out,
            "  {split:<5} {}  mean [{}]  std [{}]  range [{}, {}]",
            p["dtype"].as_str().unwrap_or(""),
            fmt("mean"),
            fmt("std"),
            p["min"],
            p["max"]
        )?;
    }
    Ok(())
}
