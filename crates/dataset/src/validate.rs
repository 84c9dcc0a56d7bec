//! The format's invariants, checked on everything read and before anything is written, so no tool
//! sees or emits a file that breaks them.

use crate::dataset::Dataset;
use crate::images::Pixels;
use crate::{Error, Result};

impl Dataset {
    /// Checks every invariant of the format; `file` names the dataset in the error.
    pub fn validate(&self, file: &str) -> Result<()> {
        let err = |entry: &str, msg: String| Err(Error::new(file, format!("{entry}: {msg}")));
        let classes = self.num_classes();
        if classes == 0 {
            return err("meta", "no classes listed".into());
        }
        if classes > 65536 {
            return err(
                "meta",
                format!("{classes} classes, at most 65536 are supported"),
            );
        }
        if self.train.is_none() && self.test.is_none() {
            return Err(Error::new(
                file,
                "holds no split (needs train_images/train_labels or test_images/test_labels)",
            ));
        }
        let mut hwc: Option<(&str, [usize; 3])> = None;
        for (name, split) in [("train", &self.train), ("test", &self.test)] {
            let Some(split) = split else { continue };
            let images = format!("{name}_images");
            let labels = format!("{name}_labels");
            let [n, h, w, c] = split.images.shape();
            if split.labels.len() != n {
                return err(
                    &labels,
                    format!(
                        "expected {n} entries like {images}, got {}",
                        split.labels.len()
                    ),
                );
            }
            if h == 0 || w == 0 || c == 0 {
                return err(
                    &images,
                    format!("empty image shape {:?}", split.images.shape()),
                );
            }
            match hwc {
                Some((other, dims)) if dims != [h, w, c] => {
                    return err(
                        &images,
                        format!(
                            "image shape {h}x{w}x{c} differs from {other}'s {}x{}x{}",
                            dims[0], dims[1], dims[2]
                        ),
                    );
                }
                _ => {
                    hwc = Some((
                        if name == "train" {
                            "train_images"
                        } else {
                            "test_images"
                        },
                        [h, w, c],
                    ))
                }
            }
            check_labels(&labels, &split.labels, classes).or_else(|m| err(&labels, m))?;
            // Deferred pixels come from our own transforms, not from a file: not checked here.
            if let Some(Pixels::F32(v)) = split.images.pixels.get()
                && let Some(i) = v.iter().position(|x| !x.is_finite())
            {
                return err(&images, format!("pixel {i} is {} (not finite)", v[i]));
            }
        }
        let train_n = self.train.as_ref().map(|s| s.len());
        if let Some(clean) = &self.train_clean_labels {
            let Some(n) = train_n else {
                return err("train_clean_labels", "present without training data".into());
            };
            if clean.len() != n {
                return err(
                    "train_clean_labels",
                    format!(
                        "expected {n} entries like train_labels, got {}",
                        clean.len()
                    ),
                );
            }
            check_labels("train_clean_labels", clean, classes)
                .or_else(|m| err("train_clean_labels", m))?;
        }
        if let Some(mask) = &self.train_corrupted {
            let Some(n) = train_n else {
                return err("train_corrupted", "present without training data".into());
            };
            if mask.len() != n {
                return err(
                    "train_corrupted",
                    format!("expected {n} entries like train_labels, got {}", mask.len()),
                );
            }
            if let Some(i) = mask.iter().position(|&m| m > 1) {
                return err(
                    "train_corrupted",
                    format!("entry {i} is {}, expected 0 or 1", mask[i]),
                );
            }
        }
        Ok(())
    }
}

fn check_labels(_name: &str, labels: &[u16], classes: usize) -> Result<(), String> {
    match labels
        .iter()
        .enumerate()
        .find(|&(_, &l)| l as usize >= classes)
    {
        Some((i, &l)) => Err(format!(
            "label {l} at index {i} is out of range: the dataset has {classes} classes"
        )),
        None => Ok(()),
    }
}
