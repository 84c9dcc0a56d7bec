//! Which images a split holds and their classes, decided before any decoding so the output
//! order is fixed: class directories sorted by name (the class index is the position of the
//! wnid), files sorted within each; or flat validation files with a label file. The training
//! tree's class list is reused for validation, so both splits number the classes alike.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

use crate::SplitName;

/// The images of one split, in output order, and the class list.
pub struct Listing {
    /// (file, class index), in output order.
    pub items: Vec<(PathBuf, u16)>,
    /// Sorted class directory names (wnids).
    pub wnids: Vec<String>,
    /// Human names from --synsets, else the wnids.
    pub class_names: Vec<String>,
    /// The label file and its MD5, for a flat validation directory.
    pub val_labels: Option<(String, String)>,
    /// The synsets file and its MD5.
    pub synsets: Option<(String, String)>,
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut entries = Vec::new();
    for entry in
        std::fs::read_dir(dir).with_context(|| format!("{}: cannot list", dir.display()))?
    {
        let entry = entry.with_context(|| format!("{}: cannot list", dir.display()))?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        entries.push(entry.path());
    }
    entries.sort();
    Ok(entries)
}

fn subdirs(dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(sorted_entries(dir)?
        .into_iter()
        .filter(|p| p.is_dir())
        .collect())
}

fn name_of(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn md5_of(path: &Path) -> Result<String> {
    rethink_fetch::md5_file(path).with_context(|| format!("{}: cannot read", path.display()))
}

/// Lists `root/<split>`.
pub fn list(
    root: &Path,
    split: SplitName,
    val_labels: Option<&Path>,
    synsets: Option<&Path>,
) -> Result<Listing> {
    let split_dir = root.join(split.name());
    if !split_dir.is_dir() {
        bail!(
            "{}: no such directory (expected ROOT/train/<wnid>/*.JPEG or ROOT/val/)",
            split_dir.display()
        );
    }
    let class_dirs = subdirs(&split_dir)?;
    let train_dir = root.join("train");
    // Validation numbers its classes like the training tree when there is one.
    let train_wnids: Option<Vec<String>> = if split == SplitName::Val && train_dir.is_dir() {
        let dirs = subdirs(&train_dir)?;
        (!dirs.is_empty()).then(|| dirs.iter().map(|d| name_of(d)).collect())
    } else {
        None
    };

    let (items, wnids, labels_source) = if !class_dirs.is_empty() {
        if val_labels.is_some() {
            bail!(
                "{}: holds class directories; --val-labels is for a flat directory of images",
                split_dir.display()
            );
        }
        let wnids: Vec<String> =
            train_wnids.unwrap_or_else(|| class_dirs.iter().map(|d| name_of(d)).collect());
        let index: HashMap<&str, u16> = wnids
            .iter()
            .enumerate()
            .map(|(i, w)| (w.as_str(), i as u16))
            .collect();
        let mut items = Vec::new();
        for dir in &class_dirs {
            let wnid = name_of(dir);
            let Some(&label) = index.get(wnid.as_str()) else {
                bail!(
                    "{}: class {wnid} is not among the {} classes of {}",
                    dir.display(),
                    wnids.len(),
                    train_dir.display()
                );
            };
            let files: Vec<PathBuf> = sorted_entries(dir)?
                .into_iter()
                .filter(|p| p.is_file())
                .collect();
            if files.is_empty() {
                bail!("{}: empty class directory", dir.display());
            }
            items.extend(files.into_iter().map(|f| (f, label)));
        }
        (items, wnids, None)
    } else {
        let Some(labels_path) = val_labels else {
            bail!(
                "{}: no class directories; for flat validation images pass --val-labels FILE",
                split_dir.display()
            );
        };
        let labels = read_val_labels(labels_path)?;
        let wnids: Vec<String> = match (train_wnids, synsets) {
            (Some(w), _) => w,
            (None, Some(s)) => read_synsets(s)?
                .into_iter()
                .map(|(w, _)| w)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
            (None, None) => labels
                .values()
                .cloned()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
        };
        let index: HashMap<&str, u16> = wnids
            .iter()
            .enumerate()
            .map(|(i, w)| (w.as_str(), i as u16))
            .collect();
        let mut items = Vec::new();
        for file in sorted_entries(&split_dir)?
            .into_iter()
            .filter(|p| p.is_file())
        {
            let name = name_of(&file);
            let stem = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let wnid = labels
                .get(&name)
                .or_else(|| labels.get(&stem))
                .ok_or_else(|| {
                    anyhow!(
                        "{}: no label for {name} in {}",
                        split_dir.display(),
                        labels_path.display()
                    )
                })?;
            let &label = index.get(wnid.as_str()).ok_or_else(|| {
                anyhow!(
                    "{}: {name} has class {wnid}, which is not among the {} known classes",
                    labels_path.display(),
                    wnids.len()
                )
            })?;
            items.push((file, label));
        }
        let source = (labels_path.display().to_string(), md5_of(labels_path)?);
        (items, wnids, Some(source))
    };
    if wnids.len() > 65536 {
        bail!(
            "{}: {} classes, at most 65536 are supported",
            split_dir.display(),
            wnids.len()
        );
    }

    let (class_names, synsets_source) = match synsets {
        None => (wnids.clone(), None),
        Some(path) => {
            let names: HashMap<String, String> = read_synsets(path)?.into_iter().collect();
            let class_names = wnids
                .iter()
                .map(|w| {
                    names
                        .get(w)
                        .cloned()
                        .ok_or_else(|| anyhow!("{}: no name for class {w}", path.display()))
                })
                .collect::<Result<Vec<_>>>()?;
            (
                class_names,
                Some((path.display().to_string(), md5_of(path)?)),
            )
        }
    };
    Ok(Listing {
        items,
        wnids,
        class_names,
        val_labels: labels_source,
        synsets: synsets_source,
    })
}

/// `WNID name...` lines (LOC_synset_mapping.txt uses a space, words.txt a tab).
fn read_synsets(path: &Path) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (wnid, name) = line.split_once(char::is_whitespace).ok_or_else(|| {
            anyhow!(
                "{}: line {}: expected 'WNID name', got {line:?}",
                path.display(),
                i + 1
            )
        })?;
        out.push((wnid.to_string(), name.trim().to_string()));
    }
    Ok(out)
}

/// `FILE WNID` or `FILE,WNID ...` lines; a `ImageId,PredictionString` header is skipped.
fn read_val_labels(path: &Path) -> Result<HashMap<String, String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let mut out = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let mut fields = line
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|f| !f.is_empty());
        let (Some(file), Some(wnid)) = (fields.next(), fields.next()) else {
            if line.trim().is_empty() {
                continue;
            }
            bail!(
                "{}: line {}: expected 'FILE WNID', got {line:?}",
                path.display(),
                i + 1
            );
        };
        if i == 0 && file == "ImageId" {
            continue;
        }
        if wnid.chars().all(|c| c.is_ascii_digit()) {
            bail!(
                "{}: line {}: class {wnid} is a number; give wnids (e.g. LOC_val_solution.csv), not ILSVRC class ids",
                path.display(),
                i + 1
            );
        }
        out.insert(file.to_string(), wnid.to_string());
    }
    Ok(out)
}
