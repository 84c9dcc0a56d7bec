//! Per-example learning dynamics (`train --per-example`): at every evaluation, each training
//! example's correctness, loss and margin, kept on the host and written to `per_example.npz` in
//! the run folder with every checkpoint and at the end (numpy-readable, one row per evaluation):
//!
//! | array | dtype, shape | content |
//! |---|---|---|
//! | `steps` | uint64 [E] | the step of each evaluation (row) |
//! | `correct` | uint8 [E, ⌈n/8⌉] | top-1 correct against the trained-on label, `numpy.packbits(.., axis=1)` (example 0 is the high bit of byte 0) |
//! | `loss` | float16 [E, n] | cross-entropy against the trained-on label |
//! | `margin` | float16 [E, n] | logit of the label minus the largest other logit |
//! | `labels` | uint16 [n] | the trained-on labels |
//! | `corrupted` | uint8 [n] | 1 where the label differs from the clean label (files with clean labels only) |
//! | `el2n`, `el2n_step` | float32 [n], uint64 [1] | ‖softmax − onehot‖₂ at that step (once reached) |
//!
//! The numbers come from the evaluation's own logits: no second forward pass.

use std::io::{Read, Seek, Write};
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use half::f16;
use npyz::WriterBuilder;

/// Each training example's numbers at one evaluation, from its log-probabilities.
pub struct ExampleStats {
    /// Top-1 correct against the trained-on label (ties go to the lowest class, as argmax).
    pub correct: Vec<bool>,
    /// Cross-entropy against the label.
    pub loss: Vec<f32>,
    /// Log-probability (equivalently logit) of the label minus the largest other one.
    pub margin: Vec<f32>,
    /// ‖softmax − onehot(label)‖₂.
    pub el2n: Vec<f32>,
}

impl ExampleStats {
    /// From the row-major `[n, classes]` log-probabilities of the examples and their labels.
    pub fn from_log_probs(log_probs: &[f32], classes: usize, labels: &[u16]) -> ExampleStats {
        let n = labels.len();
        assert_eq!(
            log_probs.len(),
            n * classes,
            "log-probabilities of every example"
        );
        let mut stats = ExampleStats {
            correct: Vec::with_capacity(n),
            loss: Vec::with_capacity(n),
            margin: Vec::with_capacity(n),
            el2n: Vec::with_capacity(n),
        };
        for (row, &label) in log_probs.chunks_exact(classes).zip(labels) {
            let label = label as usize;
            let own = row[label];
            let other = row
                .iter()
                .enumerate()
                .filter(|&(k, _)| k != label)
                .map(|(_, &v)| v)
                .fold(f32::NEG_INFINITY, f32::max);
            // argmax takes the first maximum: the label wins a tie only against higher classes.
            let first_max = row
                .iter()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |best, (k, &v)| {
                    if v > best.1 { (k, v) } else { best }
                })
                .0;
            stats.correct.push(first_max == label);
            stats.loss.push(-own);
            stats.margin.push(own - other);
            let squared: f64 = row
                .iter()
                .enumerate()
                .map(|(k, &v)| {
                    let p = (v as f64).exp() - f64::from(k == label);
                    p * p
                })
                .sum();
            stats.el2n.push(squared.sqrt() as f32);
        }
        stats
    }
}

/// The records of a run, one row per evaluation.
pub struct PerExample {
    n: usize,
    steps: Vec<u64>,
    correct: Vec<u8>,
    loss: Vec<f16>,
    margin: Vec<f16>,
    labels: Vec<u16>,
    corrupted: Option<Vec<u8>>,
    el2n: Option<(u64, Vec<f32>)>,
}

impl PerExample {
    /// No records yet, for the training examples with `labels` (and the corrupted mask, when
    /// the data carries clean labels).
    pub fn new(labels: &[u16], corrupted: Option<&[u8]>) -> PerExample {
        PerExample {
            n: labels.len(),
            steps: Vec::new(),
            correct: Vec::new(),
            loss: Vec::new(),
            margin: Vec::new(),
            labels: labels.to_vec(),
            corrupted: corrupted.map(<[u8]>::to_vec),
            el2n: None,
        }
    }

    /// Bytes per packed row of correctness bits.
    fn packed(&self) -> usize {
        self.n.div_ceil(8)
    }

    /// Evaluations recorded.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether nothing was recorded yet.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Appends the evaluation at `step`.
    pub fn record(&mut self, step: u64, stats: &ExampleStats) {
        assert_eq!(stats.correct.len(), self.n);
        self.steps.push(step);
        let mut row = vec![0u8; self.packed()];
        for (i, &c) in stats.correct.iter().enumerate() {
            if c {
                row[i / 8] |= 0x80 >> (i % 8);
            }
        }
        self.correct.extend(row);
        self.loss
            .extend(stats.loss.iter().map(|&v| f16::from_f32(v)));
        self.margin
            .extend(stats.margin.iter().map(|&v| f16::from_f32(v)));
    }

    /// Records the EL2N scores reached at `step`.
    pub fn record_el2n(&mut self, step: u64, stats: &ExampleStats) {
        self.el2n = Some((step, stats.el2n.clone()));
    }

    /// Whether the EL2N scores are recorded.
    pub fn has_el2n(&self) -> bool {
        self.el2n.is_some()
    }

    /// Writes `per_example.npz` (atomically: a reader sees the previous or the new file).
    pub fn write(&self, path: &Path) -> Result<()> {
        rethink_cli::atomic_write_file(path, |out| {
            self.write_to(out)
                .map_err(|e| anyhow!("{}: {e}", path.display()))
        })
    }

    fn write_to<W: Write + Seek>(&self, out: W) -> std::io::Result<()> {
        let (e, n) = (self.steps.len() as u64, self.n as u64);
        let mut zip = zip::ZipWriter::new(out);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(self.loss.len() * 2 > u32::MAX as usize / 2);
        fn entry<T: npyz::AutoSerialize, W: Write + Seek>(
            zip: &mut zip::ZipWriter<W>,
            options: zip::write::SimpleFileOptions,
            name: &str,
            shape: &[u64],
            data: impl IntoIterator<Item = T>,
        ) -> std::io::Result<()> {
            zip.start_file(name, options)?;
            let mut writer = npyz::WriteOptions::<T>::new()
                .default_dtype()
                .shape(shape)
                .writer(&mut *zip)
                .begin_nd()?;
            writer.extend(data)?;
            writer.finish()
        }
        entry(
            &mut zip,
            options,
            "steps.npy",
            &[e],
            self.steps.iter().copied(),
        )?;
        entry(
            &mut zip,
            options,
            "correct.npy",
            &[e, self.packed() as u64],
            self.correct.iter().copied(),
        )?;
        entry(
            &mut zip,
            options,
            "loss.npy",
            &[e, n],
            self.loss.iter().copied(),
        )?;
        entry(
            &mut zip,
            options,
            "margin.npy",
            &[e, n],
            self.margin.iter().copied(),
        )?;
        entry(
            &mut zip,
            options,
            "labels.npy",
            &[n],
            self.labels.iter().copied(),
        )?;
        if let Some(mask) = &self.corrupted {
            entry(
                &mut zip,
                options,
                "corrupted.npy",
                &[n],
                mask.iter().copied(),
            )?;
        }
        if let Some((step, el2n)) = &self.el2n {
            entry(&mut zip, options, "el2n.npy", &[n], el2n.iter().copied())?;
            entry(&mut zip, options, "el2n_step.npy", &[1], [*step])?;
        }
        zip.finish()?;
        Ok(())
    }

    /// Continues the records of `path` at a checkpoint at `step`: keeps the evaluations at or
    /// before it that an uninterrupted run would have made (`on_schedule`), drops the rest, and
    /// keeps EL2N only if it was recorded by then. A missing file (a killed run that never
    /// checkpointed with records) starts empty.
    pub fn resume(
        path: &Path,
        labels: &[u16],
        corrupted: Option<&[u8]>,
        step: u64,
        on_schedule: impl Fn(u64) -> bool,
    ) -> Result<PerExample> {
        let mut records = PerExample::new(labels, corrupted);
        if !path.exists() {
            return Ok(records);
        }
        let name = path.display().to_string();
        let file = std::fs::File::open(path).with_context(|| format!("{name}: cannot open"))?;
        let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file))
            .with_context(|| format!("{name}: not an npz file"))?;
        let steps: Vec<u64> = read_array(&mut zip, "steps", &name)?;
        let correct: Vec<u8> = read_array(&mut zip, "correct", &name)?;
        let loss: Vec<f16> = read_array(&mut zip, "loss", &name)?;
        let margin: Vec<f16> = read_array(&mut zip, "margin", &name)?;
        let (n, packed, e) = (records.n, records.packed(), steps.len());
        if correct.len() != e * packed || loss.len() != e * n || margin.len() != e * n {
            bail!("{name}: arrays do not hold {e} evaluations of {n} examples");
        }
        for (row, &s) in steps.iter().enumerate() {
            if s > step || !on_schedule(s) {
                continue;
            }
            records.steps.push(s);
            records
                .correct
                .extend_from_slice(&correct[row * packed..(row + 1) * packed]);
            records
                .loss
                .extend_from_slice(&loss[row * n..(row + 1) * n]);
            records
                .margin
                .extend_from_slice(&margin[row * n..(row + 1) * n]);
        }
        if zip.by_name("el2n_step.npy").is_ok() {
            let at: Vec<u64> = read_array(&mut zip, "el2n_step", &name)?;
            if at.first().is_some_and(|&s| s <= step) {
                let el2n: Vec<f32> = read_array(&mut zip, "el2n", &name)?;
                if el2n.len() != n {
                    bail!("{name}: el2n holds {} examples, not {n}", el2n.len());
                }
                records.el2n = Some((at[0], el2n));
            }
        }
        Ok(records)
    }
}

fn read_array<T: npyz::Deserialize, R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    array: &str,
    name: &str,
) -> Result<Vec<T>> {
    let entry = zip
        .by_name(&format!("{array}.npy"))
        .with_context(|| format!("{name}: no {array}"))?;
    npyz::NpyFile::new(entry)
        .and_then(|f| f.into_vec::<T>())
        .with_context(|| format!("{name}: {array}: not a readable array of the expected type"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_from_log_probabilities() {
        // Two examples of three classes: the first right with margin ln(0.6/0.3), the second
        // wrong (label 0 scored below class 2).
        let lp: Vec<f32> = [0.6f32, 0.3, 0.1, 0.2, 0.1, 0.7]
            .iter()
            .map(|p| p.ln())
            .collect();
        let s = ExampleStats::from_log_probs(&lp, 3, &[0, 0]);
        assert_eq!(s.correct, [true, false]);
        assert!((s.loss[0] - 0.6f32.ln().abs()).abs() < 1e-6);
        assert!((s.margin[0] - 2f32.ln()).abs() < 1e-6);
        assert!((s.margin[1] - (0.2f32 / 0.7).ln()).abs() < 1e-6);
        let el2n = (0.4f64 * 0.4 + 0.09 + 0.01).sqrt() as f32;
        assert!((s.el2n[0] - el2n).abs() < 1e-6);
    }

    #[test]
    fn bits_are_packed_high_bit_first() {
        let mut r = PerExample::new(&[0; 10], None);
        let mut correct = vec![false; 10];
        correct[0] = true;
        correct[9] = true;
        let stats = ExampleStats {
            correct,
            loss: vec![0.0; 10],
            margin: vec![0.0; 10],
            el2n: vec![0.0; 10],
        };
        r.record(0, &stats);
        assert_eq!(r.correct, [0x80, 0x40]);
    }
}
