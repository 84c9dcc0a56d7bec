//! The numbers `inspect` shows: entries, history, label histograms, label noise, pixel moments.

use rethink_dataset::{Dataset, Images, PixelChunk};
use serde_json::{Value, json};

/// Everything `inspect` reports, as one JSON value (the text view is rendered from it).
pub fn describe(dataset: &Dataset, file: &str) -> Value {
    let classes = dataset.num_classes();
    let entries: Vec<Value> = dataset
        .file_entries()
        .iter()
        .map(|e| json!({"name": e.name, "dtype": e.dtype_name(), "shape": e.shape}))
        .collect();
    let histogram = |labels: &[u16]| {
        let mut h = vec![0u64; classes];
        for &l in labels {
            h[l as usize] += 1;
        }
        h
    };
    let mut labels = json!({});
    let mut pixels = json!({});
    for (name, split) in [("train", &dataset.train), ("test", &dataset.test)] {
        if let Some(split) = split {
            labels[name] = json!(histogram(&split.labels));
            pixels[name] = pixel_moments(&split.images);
        }
    }
    if let Some(clean) = &dataset.train_clean_labels {
        labels["train_clean"] = json!(histogram(clean));
    }
    let label_noise = match (&dataset.train, &dataset.train_clean_labels) {
        (Some(train), Some(clean)) => {
            let n = train.len();
            let differ = train
                .labels
                .iter()
                .zip(clean)
                .filter(|(a, b)| a != b)
                .count();
            let flagged = dataset
                .train_corrupted
                .as_ref()
                .map(|m| m.iter().filter(|&&x| x == 1).count());
            json!({
                "train_size": n,
                "differ_count": differ,
                "differ_fraction": if n == 0 { 0.0 } else { differ as f64 / n as f64 },
                "flagged_count": flagged,
                "flagged_fraction": flagged.map(|f| if n == 0 { 0.0 } else { f as f64 / n as f64 }),
            })
        }
        _ => Value::Null,
    };
    json!({
        "file": file,
        "digest": dataset.digest(),
        "name": dataset.meta.name,
        "classes": dataset.meta.classes,
        "entries": entries,
        "corruption": dataset.meta.corruption,
        "source": dataset.meta.source,
        "history": dataset.meta.history,
        "labels": labels,
        "label_noise": label_noise,
        "pixels": pixels,
    })
}

/// Per-channel mean and (population) standard deviation, and the value range.
fn pixel_moments(images: &Images) -> Value {
    let c = images.channels();
    let (mut mean, mut std) = (vec![0.0f64; c], vec![0.0f64; c]);
    let (min, max);
    // A shard set's images are visited a chunk at a time, never all in memory at once.
    const CHUNK: usize = 4096;
    match images.dtype() {
        rethink_dataset::Dtype::U8 => {
            // Exact moments from per-channel histograms: one pass, no float accumulation error.
            let mut hist = vec![[0u64; 256]; c];
            images.visit(CHUNK, |chunk| {
                if let PixelChunk::U8(bytes) = chunk {
                    for px in bytes.chunks_exact(c) {
                        for (h, &v) in hist.iter_mut().zip(px) {
                            h[v as usize] += 1;
                        }
                    }
                }
            });
            for (k, h) in hist.iter().enumerate() {
                let n: u64 = h.iter().sum();
                let s: f64 = h
                    .iter()
                    .enumerate()
                    .map(|(v, &cnt)| v as f64 * cnt as f64)
                    .sum();
                let ss: f64 = h
                    .iter()
                    .enumerate()
                    .map(|(v, &cnt)| (v * v) as f64 * cnt as f64)
                    .sum();
                if n > 0 {
                    mean[k] = s / n as f64;
                    std[k] = (ss / n as f64 - mean[k] * mean[k]).max(0.0).sqrt();
                }
            }
            let any = |pick: fn(&[u64; 256]) -> Option<usize>| {
                hist.iter().filter_map(pick).collect::<Vec<_>>()
            };
            min = any(|h| h.iter().position(|&n| n > 0))
                .into_iter()
                .min()
                .map_or(json!(null), |v| json!(v));
            max = any(|h| h.iter().rposition(|&n| n > 0))
                .into_iter()
                .max()
                .map_or(json!(null), |v| json!(v));
        }
        _ => {
            let mut n = vec![0u64; c];
            let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
            images.visit(CHUNK, |chunk| {
                if let PixelChunk::F32(values) = chunk {
                    for px in values.chunks_exact(c) {
                        for (k, &v) in px.iter().enumerate() {
                            let d = v as f64 - mean[k];
                            n[k] += 1;
                            mean[k] += d / n[k] as f64;
                            std[k] += d * (v as f64 - mean[k]);
                            lo = lo.min(v);
                            hi = hi.max(v);
                        }
                    }
                }
            });
            for k in 0..c {
                std[k] = if n[k] > 0 {
                    (std[k] / n[k] as f64).sqrt()
                } else {
                    0.0
                };
            }
            min = if lo.is_finite() {
                json!(lo)
            } else {
                json!(null)
            };
            max = if hi.is_finite() {
                json!(hi)
            } else {
                json!(null)
            };
        }
    }
    json!({
        "dtype": images.dtype().numpy_name(),
        "shape": images.shape(),
        "mean": mean,
        "std": std,
        "min": min,
        "max": max,
    })
}
