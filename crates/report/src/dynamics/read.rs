//! Reading `per_example.npz`, the per-example record `train --per-example` writes beside
//! `metrics.jsonl`: one row per evaluation of every training example's correctness (bit-packed
//! as `numpy.packbits`), loss and margin, plus the labels, the corruption mask and the EL2N
//! scores. Arrays are read with `npyz` from the `zip` archive; every mismatch is an error naming
//! the file and the entry.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{Context as _, Result, anyhow, bail};
use zip::ZipArchive;
use zip::result::ZipError;

/// The file's name inside a run folder.
pub const PER_EXAMPLE_FILE: &str = "per_example.npz";

/// One run's per-example record, unpacked.
#[derive(Debug, Clone)]
pub struct PerExample {
    /// The training step of each evaluation, ascending.
    pub steps: Vec<u64>,
    /// Training examples.
    pub n: usize,
    /// Correctness, evaluation-major: `correct[e * n + i]` is example `i` at evaluation `e`.
    pub correct: Vec<bool>,
    /// The labels trained on.
    pub labels: Vec<u16>,
    /// Whether each training label differs from the clean label; `None` when the data file
    /// carried no clean labels.
    pub corrupted: Option<Vec<bool>>,
    /// The EL2N score of each example and the step it was taken at, when the run reached it.
    pub el2n: Option<(u64, Vec<f32>)>,
}

impl PerExample {
    /// Example `i`'s correctness at each evaluation, oldest first.
    pub fn history(&self, i: usize) -> Vec<bool> {
        (0..self.steps.len())
            .map(|e| self.correct[e * self.n + i])
            .collect()
    }
}

/// One array of the archive: its shape and its values in C order.
struct Array<T> {
    shape: Vec<u64>,
    values: Vec<T>,
}

/// The bytes of entry `name` (`name.npy` in the archive); `None` when the archive lacks it.
fn entry(
    zip: &mut ZipArchive<BufReader<File>>,
    file: &Path,
    name: &str,
) -> Result<Option<Vec<u8>>> {
    let mut entry = match zip.by_name(&format!("{name}.npy")) {
        Ok(entry) => entry,
        Err(ZipError::FileNotFound) => return Ok(None),
        Err(e) => bail!("{}: {name}: cannot open the entry: {e}", file.display()),
    };
    let mut bytes = Vec::new();
    entry
        .read_to_end(&mut bytes)
        .map_err(|e| anyhow!("{}: {name}: cannot read the entry: {e}", file.display()))?;
    Ok(Some(bytes))
}

/// The header of `bytes` (a .npy file), refusing Fortran order.
fn npy<'a>(bytes: &'a [u8], file: &Path, name: &str) -> Result<npyz::NpyFile<&'a [u8]>> {
    let npy = npyz::NpyFile::new(bytes)
        .map_err(|e| anyhow!("{}: {name}: not a .npy array: {e}", file.display()))?;
    if npy.shape().len() > 1 && npy.order() == npyz::Order::Fortran {
        bail!(
            "{}: {name}: stored in Fortran order; expected C order",
            file.display()
        );
    }
    Ok(npy)
}

/// Reads entry `name` as `T` (described as `dtype` in errors); `None` when the archive lacks it.
fn array<T: npyz::Deserialize>(
    zip: &mut ZipArchive<BufReader<File>>,
    file: &Path,
    name: &str,
    dtype: &str,
) -> Result<Option<Array<T>>> {
    let Some(bytes) = entry(zip, file, name)? else {
        return Ok(None);
    };
    let npy = npy(&bytes, file, name)?;
    let shape = npy.shape().to_vec();
    let found = npy.dtype().descr();
    let values = npy.into_vec::<T>().map_err(|e| {
        anyhow!(
            "{}: {name}: expected {dtype}, got dtype {found} ({e})",
            file.display()
        )
    })?;
    Ok(Some(Array { shape, values }))
}

/// Reads `name`, which the format requires.
fn required<T: npyz::Deserialize>(
    zip: &mut ZipArchive<BufReader<File>>,
    file: &Path,
    name: &str,
    dtype: &str,
) -> Result<Array<T>> {
    array(zip, file, name, dtype)?
        .ok_or_else(|| anyhow!("{}: no entry {name:?} ({dtype})", file.display()))
}

fn check_shape(file: &Path, name: &str, shape: &[u64], expected: &[u64], what: &str) -> Result<()> {
    if shape != expected {
        bail!(
            "{}: {name}: expected shape {expected:?} ({what}), got {shape:?}",
            file.display()
        );
    }
    Ok(())
}

/// Reads and validates `file` (a `per_example.npz`).
pub fn read(file: &Path) -> Result<PerExample> {
    let f = File::open(file).with_context(|| format!("{}: cannot open", file.display()))?;
    let mut zip = ZipArchive::new(BufReader::new(f))
        .map_err(|e| anyhow!("{}: not an npz (zip) archive: {e}", file.display()))?;

    let steps = required::<u64>(&mut zip, file, "steps", "uint64 [evaluations]")?;
    if steps.shape.len() != 1 || steps.values.is_empty() {
        bail!(
            "{}: steps: expected one or more evaluations in one dimension, got shape {:?}",
            file.display(),
            steps.shape
        );
    }
    if let Some(w) = steps.values.windows(2).find(|w| w[1] <= w[0]) {
        bail!(
            "{}: steps: expected ascending steps, got {} after {}",
            file.display(),
            w[1],
            w[0]
        );
    }
    let evals = steps.values.len() as u64;

    let labels = required::<u16>(&mut zip, file, "labels", "uint16 [examples]")?;
    if labels.shape.len() != 1 {
        bail!(
            "{}: labels: expected one dimension, got shape {:?}",
            file.display(),
            labels.shape
        );
    }
    let n = labels.values.len();
    let row_bytes = n.div_ceil(8) as u64;

    let packed = required::<u8>(&mut zip, file, "correct", "uint8 [evaluations, ceil(n/8)]")?;
    check_shape(
        file,
        "correct",
        &packed.shape,
        &[evals, row_bytes],
        "one bit-packed row per step, one bit per label",
    )?;
    let correct = unpack_rows(&packed.values, evals as usize, n);

    for name in ["loss", "margin"] {
        // Checked, not read: the report needs correctness only; a writer's slip in these shows.
        if let Some(bytes) = entry(&mut zip, file, name)? {
            let npy = npy(&bytes, file, name)?;
            let dtype = match npy.dtype() {
                npyz::DType::Plain(ty) => ty.to_string(),
                other => other.descr(),
            };
            if !matches!(dtype.as_str(), "<f2" | ">f2") {
                bail!(
                    "{}: {name}: expected float16, got dtype {dtype}",
                    file.display()
                );
            }
            check_shape(
                file,
                name,
                npy.shape(),
                &[evals, n as u64],
                "evaluations × examples",
            )?;
        }
    }

    let corrupted = match array::<u8>(&mut zip, file, "corrupted", "uint8 [examples]")? {
        None => None,
        Some(a) => {
            check_shape(
                file,
                "corrupted",
                &a.shape,
                &[n as u64],
                "one flag per label",
            )?;
            if let Some(v) = a.values.iter().find(|&&v| v > 1) {
                bail!("{}: corrupted: expected 0 or 1, got {v}", file.display());
            }
            Some(a.values.iter().map(|&v| v == 1).collect())
        }
    };

    let el2n = array::<f32>(&mut zip, file, "el2n", "float32 [examples]")?;
    let el2n_step = array::<u64>(&mut zip, file, "el2n_step", "uint64 [1]")?;
    let el2n = match (el2n, el2n_step) {
        (None, None) => None,
        (Some(scores), Some(step)) => {
            check_shape(
                file,
                "el2n",
                &scores.shape,
                &[n as u64],
                "one score per label",
            )?;
            check_shape(file, "el2n_step", &step.shape, &[1], "one step")?;
            Some((step.values[0], scores.values))
        }
        (Some(_), None) => bail!("{}: el2n without el2n_step", file.display()),
        (None, Some(_)) => bail!("{}: el2n_step without el2n", file.display()),
    };

    Ok(PerExample {
        steps: steps.values,
        n,
        correct,
        labels: labels.values,
        corrupted,
        el2n,
    })
}

/// Unpacks `rows` rows of `numpy.packbits(x, axis=1)` (bit order 'big': example 0 is the most
/// significant bit of byte 0) into `rows × n` booleans.
pub fn unpack_rows(packed: &[u8], rows: usize, n: usize) -> Vec<bool> {
    let row_bytes = n.div_ceil(8);
    let mut out = Vec::with_capacity(rows * n);
    for r in 0..rows {
        let row = &packed[r * row_bytes..(r + 1) * row_bytes];
        out.extend((0..n).map(|i| row[i / 8] >> (7 - i % 8) & 1 == 1));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packbits_big_endian_rows() {
        // numpy.packbits([[1,0,0,0,0,0,0,1, 1,1,0]], axis=1) == [[0x81, 0xC0]]
        let bits = unpack_rows(&[0x81, 0xC0], 1, 11);
        let expected = [1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0].map(|b| b == 1);
        assert_eq!(bits, expected);
        // Two rows of 3 examples, one byte each.
        assert_eq!(
            unpack_rows(&[0b1010_0000, 0b0110_0000], 2, 3),
            [true, false, true, false, true, true]
        );
    }
}
