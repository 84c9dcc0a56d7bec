//! `train --stream`'s loader alone, for `scripts/bench-loader`: reads a dataset file or shard set
//! as `train` does (memory-mapped), draws each epoch's order from (seed, epoch), assembles
//! `--batch`-image batches of uint8 rows on the prefetch thread (rows gathered on the rayon pool:
//! `RAYON_NUM_THREADS` workers; pages released after the copy) and makes each batch a libtorch
//! CPU tensor, as the training loop does before moving it to the device. Prints one JSON line:
//! the seconds to open the data (every entry's CRC-32 verified, as `train` does), then the
//! images, seconds and images per second of the loader. `--drop-cache` evicts the files from
//! the page cache after opening them (`posix_fadvise` DONTNEED), so the loader reads them cold.
//!
//!   cargo run --release -p train --example loader -- DATA [--batch 128] [--epochs 1] [--prefetch 4] [--drop-cache]

#![allow(deprecated)] // burn's LibTorch device, as in the train crate

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use train::stream::{HostRows, Prefetch};

fn main() {
    if let Err(e) = run() {
        eprintln!("loader: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let mut data = None;
    let (mut batch, mut epochs, mut prefetch, mut seed) = (128usize, 1u64, 4usize, 1u64);
    let mut drop_cache = false;
    while let Some(a) = args.next() {
        if a == "--drop-cache" {
            drop_cache = true;
            continue;
        }
        let mut value = |name: &str| -> Result<u64> {
            args.next()
                .with_context(|| format!("{name} needs a value"))?
                .parse()
                .with_context(|| format!("{name}: not a whole number"))
        };
        match a.as_str() {
            "--batch" => batch = value("--batch")? as usize,
            "--epochs" => epochs = value("--epochs")?,
            "--prefetch" => prefetch = value("--prefetch")? as usize,
            "--seed" => seed = value("--seed")?,
            _ if data.is_none() && !a.starts_with("--") => data = Some(a),
            _ => bail!(
                "unknown argument {a} (usage: loader DATA [--batch N] [--epochs N] [--prefetch N] [--seed N])"
            ),
        }
    }
    let data = data.context("usage: loader DATA [--batch N] [--epochs N] [--prefetch N]")?;
    tch::set_num_threads(1);
    let device = Device::libtorch();
    let path = std::path::Path::new(&data);
    let opening = Instant::now();
    let (_, parts) = rethink_dataset::shards::read_with_parts(path)?;
    let open_s = opening.elapsed().as_secs_f64();
    if drop_cache {
        let files = if rethink_dataset::shards::is_shard_dir(path) {
            let set = rethink_dataset::ShardSet::open(path)?;
            (0..set.index.shards.len()).map(|k| set.path(k)).collect()
        } else {
            vec![path.to_path_buf()]
        };
        for f in files {
            let file = std::fs::File::open(&f).with_context(|| f.display().to_string())?;
            // SAFETY: a valid open descriptor; the call only advises the kernel.
            unsafe {
                use std::os::fd::AsRawFd;
                libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED);
            }
        }
    }
    let images: Vec<&rethink_dataset::Images> = parts
        .iter()
        .filter_map(|p| p.train.as_ref().map(|s| &s.images))
        .collect();
    let rows = Arc::new(HostRows::new(&images));
    let n = rows.len();
    if n == 0 || batch == 0 {
        bail!("{data}: no training images (or --batch 0)");
    }
    let steps_per_epoch = n.div_ceil(batch) as u64;
    let start = Instant::now();
    let loader = Prefetch::start(rows, 0, batch, steps_per_epoch, prefetch, move |epoch| {
        rethink_rng::training::epoch_order(n, seed, epoch)
    });
    let mut seen = 0usize;
    for step in 0..steps_per_epoch * epochs {
        let pixels = loader.next(step).upload(&device);
        seen += match &pixels {
            train::data::DevicePixels::U8(t) => t.dims()[0],
            train::data::DevicePixels::F32(t) => t.dims()[0],
            _ => bail!("the loader gave host rows"),
        };
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{{\"open_s\": {open_s:.4}, \"images\": {seen}, \"seconds\": {seconds:.4}, \"images_per_s\": {:.1}}}",
        seen as f64 / seconds
    );
    Ok(())
}
