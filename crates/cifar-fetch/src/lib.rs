//! `cifar-fetch`: the official CIFAR-10 / CIFAR-100 *binary version* archives as a rethink dataset
//! file. It reads the archive (or its extracted directory) as published, or downloads it with a
//! published-MD5 check into a cache it never re-downloads from, and turns the planar records
//! (label byte(s), then the R, G and B planes of 32×32) into channels-last images.
//!
//! One file (≈540 lines) because it is one pipeline, archive or directory → members → records →
//! dataset; downloading, caching and tar reading live in `rethink-fetch`.

#![warn(missing_docs)]

use std::collections::HashMap;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};
use rethink_cli::{Output, history_record, usage};
use rethink_dataset::{Dataset, Images, MAX_EXPAND_VAR, Meta, ReadLimits, Split, printable};
use rethink_fetch::{Capped, fetch_cached, maybe_gunzip, md5_hex, read_hashing, visit_tar};
use serde_json::json;

/// Convert the official CIFAR-10 or CIFAR-100 binary archive into a dataset file.
///
/// Reads `cifar-10-binary.tar.gz` (data_batch_1..5.bin, test_batch.bin, batches.meta.txt) or
/// `cifar-100-binary.tar.gz` (train.bin, test.bin, fine/coarse_label_names.txt), or the directory
/// they extract to. Without --archive it downloads the archive from --url (default: the official
/// address), checks its MD5 against the published one, and keeps it in --cache; a cached archive
/// with the right MD5 is never downloaded again.
///
/// Output: train_images uint8 [50000,32,32,3], train_labels, test_images [10000,32,32,3],
/// test_labels; meta holds the class names, the archive and its MD5.
#[derive(Debug, Parser)]
#[command(name = "cifar-fetch", version)]
pub struct Args {
    /// Which dataset.
    #[arg(long, value_enum, default_value = "cifar10")]
    pub dataset: Which,
    /// A local copy: the .tar.gz archive (or .tar) or the directory it extracts to.
    #[arg(long, value_name = "PATH", conflicts_with = "url")]
    pub archive: Option<PathBuf>,
    /// Download from this URL instead of the official one.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Expected MD5 of the archive (default: the published one). With --archive, a mismatch is
    /// an error; without --md5 a local archive that differs from the published one gives a note.
    #[arg(long, value_name = "HEX")]
    pub md5: Option<String>,
    /// Where downloaded archives are kept.
    #[arg(long, value_name = "DIR", default_value = "data")]
    pub cache: PathBuf,
    /// CIFAR-100 only: train and score on the 100 fine or the 20 coarse classes.
    #[arg(long, value_enum, value_name = "KIND")]
    pub labels: Option<LabelKind>,
    /// Output file (default: stdout, which must not be a terminal).
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
/// The dataset to convert.
pub enum Which {
    /// 10 classes.
    Cifar10,
    /// 100 fine classes in 20 coarse ones.
    Cifar100,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
/// Which CIFAR-100 labels become the dataset's labels.
pub enum LabelKind {
    /// The 100 classes.
    Fine,
    /// The 20 superclasses.
    Coarse,
}

/// What the official archive of one dataset looks like.
struct Layout {
    name: &'static str,
    archive: &'static str,
    url: &'static str,
    md5: &'static str,
    /// The directory the archive extracts to.
    dir: &'static str,
    train: &'static [&'static str],
    test: &'static str,
    /// Label bytes before the pixels of each record.
    label_bytes: usize,
}

const CIFAR10: Layout = Layout {
    name: "cifar10",
    archive: "cifar-10-binary.tar.gz",
    url: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
    md5: "c32a1d4ab5d03f1284b67883e8d87530",
    dir: "cifar-10-batches-bin",
    train: &[
        "data_batch_1.bin",
        "data_batch_2.bin",
        "data_batch_3.bin",
        "data_batch_4.bin",
        "data_batch_5.bin",
    ],
    test: "test_batch.bin",
    label_bytes: 1,
};

const CIFAR100: Layout = Layout {
    name: "cifar100",
    archive: "cifar-100-binary.tar.gz",
    url: "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
    md5: "03b5dce01913d631647c71ecec9e9cb8",
    dir: "cifar-100-binary",
    train: &["train.bin"],
    test: "test.bin",
    label_bytes: 2,
};

/// Pixels per image: 32×32×3.
const PIXELS: usize = 3072;

/// One checked record file: its labels and its raw records (converted once, in `concat`).
struct Converted {
    labels: Vec<u16>,
    records: Vec<u8>,
    label_bytes: usize,
}

/// The settings of one run, validated.
struct Config {
    layout: &'static Layout,
    /// Which label byte of a record is used (CIFAR-100: 0 coarse, 1 fine).
    label_index: usize,
    names_file: &'static str,
    classes: usize,
}

/// The settings for a dataset and label choice; `--labels` with CIFAR-10 is a usage error.
fn config(dataset: Which, labels: Option<LabelKind>) -> Result<Config> {
    Ok(match (dataset, labels) {
        (Which::Cifar10, Some(_)) => usage!("--labels applies to --dataset cifar100 only"),
        (Which::Cifar10, None) => Config {
            layout: &CIFAR10,
            label_index: 0,
            names_file: "batches.meta.txt",
            classes: 10,
        },
        (Which::Cifar100, None | Some(LabelKind::Fine)) => Config {
            layout: &CIFAR100,
            label_index: 1,
            names_file: "fine_label_names.txt",
            classes: 100,
        },
        (Which::Cifar100, Some(LabelKind::Coarse)) => Config {
            layout: &CIFAR100,
            label_index: 0,
            names_file: "coarse_label_names.txt",
            classes: 20,
        },
    })
}

/// Runs `cifar-fetch` on parsed arguments: finds or downloads the archive, converts, writes.
pub fn run(args: Args) -> Result<()> {
    let config = config(args.dataset, args.labels)?;
    if let Some(md5) = &args.md5
        && (md5.len() != 32 || !md5.chars().all(|c| c.is_ascii_hexdigit()))
    {
        usage!("--md5 {md5}: expected 32 hexadecimal digits");
    }
    let output = Output::new(args.output.as_deref());
    output.check_binary()?;
    let layout = config.layout;

    let (path, source) = match &args.archive {
        Some(path) => (path.clone(), json!({})),
        None => {
            let url = args.url.clone().unwrap_or_else(|| layout.url.to_string());
            let file_name = url
                .rsplit('/')
                .next()
                .filter(|n| !n.is_empty())
                .unwrap_or(layout.archive);
            let cache = args.cache.join(file_name);
            let expected = args.md5.as_deref().unwrap_or(layout.md5);
            let fetched = fetch_cached(&url, &cache, expected).map_err(|e| {
                if e.is_network() {
                    anyhow::anyhow!(
                        "{e}; without network, get {} elsewhere and pass --archive PATH (the archive or its extracted directory)",
                        layout.archive
                    )
                } else {
                    e.into()
                }
            })?;
            if fetched.downloaded {
                eprintln!("cifar-fetch: downloaded {url} to {}", cache.display());
            }
            (fetched.path, json!({ "url": url }))
        }
    };
    let limits = ReadLimits::from_env().map_err(anyhow::Error::msg)?;
    let dataset = convert_input(&path, &config, source, args.md5.as_deref(), limits)?;
    if args.md5.is_none()
        && args.archive.is_some()
        && let Some(md5) = dataset.meta.source.as_ref().and_then(|s| s["md5"].as_str())
        && md5 != layout.md5
    {
        eprintln!(
            "cifar-fetch: note: {} has MD5 {md5}, not the published {} of {}",
            path.display(),
            layout.md5,
            layout.archive
        );
    }
    output.write_dataset(&dataset)
}

/// Reads an archive (or an extracted directory) as `cifar-fetch --archive PATH` does, without
/// writing anything: the parser the fuzz harness drives.
pub fn read_archive_path(
    path: &Path,
    dataset: Which,
    labels: Option<LabelKind>,
    limits: ReadLimits,
) -> Result<Dataset> {
    convert_input(path, &config(dataset, labels)?, json!({}), None, limits)
}

/// The dataset in `path` (an archive or its extracted directory), with `source` completed.
fn convert_input(
    path: &Path,
    config: &Config,
    mut source: serde_json::Value,
    expected_md5: Option<&str>,
    limits: ReadLimits,
) -> Result<Dataset> {
    let layout = config.layout;
    let wanted: Vec<&str> = layout
        .train
        .iter()
        .copied()
        .chain([layout.test, config.names_file])
        .collect();
    let input = if path.is_dir() {
        read_dir(path, layout, &wanted, config, &mut source)?
    } else {
        read_archive(path, &wanted, config, &mut source, expected_md5, limits)?
    };

    let missing = |file: &str| {
        anyhow::anyhow!(
            "{}: {}/{file} is missing (the official archive has {})",
            path.display(),
            layout.dir,
            wanted.join(", ")
        )
    };
    let Input {
        mut converted,
        names,
    } = input;
    let names = names.ok_or_else(|| missing(config.names_file))?;
    let mut take = |file: &str| converted.remove(file).ok_or_else(|| missing(file));
    let mut train_parts = Vec::new();
    for file in layout.train {
        train_parts.push(take(file)?);
    }
    let train = concat(train_parts);
    let test = concat(vec![take(layout.test)?]);

    let classes: Vec<String> = names
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if classes.len() != config.classes {
        bail!(
            "{}: {}: lists {} class names, expected {}",
            path.display(),
            config.names_file,
            classes.len(),
            config.classes
        );
    }
    let mut meta = Meta::new(layout.name, classes);
    if layout.label_bytes == 2 {
        source["labels"] = json!(if config.label_index == 0 {
            "coarse"
        } else {
            "fine"
        });
    }
    meta.source = Some(source);
    meta.history.push(history_record(
        "cifar-fetch",
        env!("CARGO_PKG_VERSION"),
        None,
        None,
    ));
    Ok(Dataset::new(meta, Some(train), Some(test)))
}

/// The record files converted, by file name, and the class-names text.
struct Input {
    converted: HashMap<String, Converted>,
    names: Option<String>,
}

/// Reads the wanted members of a (gzipped) tar archive, hashing the archive as it goes.
fn read_archive(
    path: &Path,
    wanted: &[&str],
    config: &Config,
    source: &mut serde_json::Value,
    expected_md5: Option<&str>,
    limits: ReadLimits,
) -> Result<Input> {
    let name = path.display().to_string();
    // Three stages on their own threads: read + MD5, gunzip + untar, convert.
    let (raw, md5) = read_hashing(path).with_context(|| format!("{name}: cannot open"))?;
    let mut input = Input {
        converted: HashMap::new(),
        names: None,
    };
    let (send, receive) = mpsc::sync_channel::<(String, String, Vec<u8>)>(1);
    std::thread::scope(|scope| -> Result<()> {
        let name = &name;
        // Moves the sender in: the converter's loop ends when this thread is done.
        let unpack = scope.spawn(move || -> Result<()> {
            let reader = maybe_gunzip(BufReader::with_capacity(1 << 20, raw))
                .with_context(|| format!("{name}: cannot read"))?;
            // Members are held in memory until converted: what they declare is checked against
            // the cap before anything is allocated, and the archive as a whole (a gzip bomb's
            // skipped members included) may not expand past it either.
            let cap = limits.max_expand;
            let reader = Capped::new(reader, cap);
            let exceeded = reader.exceeded();
            let mut held = 0u64;
            visit_tar::<anyhow::Error>(reader, |member, size, r| {
                let base = member.rsplit('/').next().unwrap_or(member);
                if !wanted.contains(&base) {
                    return Ok(());
                }
                let shown = printable(member, 80);
                held = held.saturating_add(size);
                if held > cap {
                    return Err(DataError(format!(
                        "{name}: {shown}: declares {size} bytes, more than the {cap} bytes an archive may expand to (set by {MAX_EXPAND_VAR})"
                    ))
                    .into());
                }
                // Reserve what the header declares only up to a bound: the bytes may not come.
                let mut bytes = Vec::with_capacity(size.min(1 << 26) as usize);
                r.read_to_end(&mut bytes)
                    .with_context(|| format!("{name}: {shown}: cannot read"))?;
                if bytes.len() as u64 != size {
                    return Err(DataError(format!(
                        "{name}: {shown}: the archive ends after {} of its {size} bytes",
                        bytes.len()
                    ))
                    .into());
                }
                // A closed channel means the converter failed; its error is the one reported.
                let _ = send.send((base.to_string(), member.to_string(), bytes));
                Ok(())
            })
            .map_err(|e| {
                if exceeded.load(std::sync::atomic::Ordering::Relaxed) {
                    anyhow::anyhow!(
                        "{name}: expands to more than {cap} bytes, the cap set by {MAX_EXPAND_VAR}"
                    )
                } else if e.chain().any(|c| c.is::<DataError>()) {
                    e
                } else {
                    let cause = printable(&format!("{e:#}"), 80);
                    anyhow::anyhow!("{name}: not a readable tar or tar.gz archive ({cause})")
                }
            })
        });
        let converted = receive.iter().try_for_each(|(base, member, bytes)| {
            add_member(&mut input, &base, &member, bytes, config, name).map_err(flatten)
        });
        drop(receive);
        let unpacked = unpack.join().expect("the unpacking thread does not panic");
        converted.and(unpacked)
    })?;
    let md5 = md5
        .join()
        .expect("the hashing thread does not panic")
        .with_context(|| format!("{name}: cannot read"))?;
    match expected_md5 {
        Some(expected) if !expected.eq_ignore_ascii_case(&md5) => {
            bail!("{name}: MD5 is {md5}, expected {expected}")
        }
        _ => {}
    }
    source["archive"] = json!(name);
    source["md5"] = json!(md5);
    Ok(input)
}

/// Keeps the innermost message of errors we made ourselves (they already name the file).
fn flatten(err: anyhow::Error) -> anyhow::Error {
    match err.chain().find_map(|e| e.downcast_ref::<DataError>()) {
        Some(data) => anyhow::anyhow!("{}", data.0),
        None => err,
    }
}

/// A data error found inside the archive, already worded for the user.
#[derive(Debug)]
struct DataError(String);

impl std::fmt::Display for DataError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DataError {}

/// Reads the wanted files of an extracted archive: `DIR/<file>` or `DIR/<official dir>/<file>`.
fn read_dir(
    dir: &Path,
    layout: &Layout,
    wanted: &[&str],
    config: &Config,
    source: &mut serde_json::Value,
) -> Result<Input> {
    let base = if dir.join(layout.dir).is_dir() {
        dir.join(layout.dir)
    } else {
        dir.to_path_buf()
    };
    let name = base.display().to_string();
    let mut input = Input {
        converted: HashMap::new(),
        names: None,
    };
    let mut md5s = serde_json::Map::new();
    for file in wanted {
        let path = base.join(file);
        if !path.exists() {
            continue;
        }
        let bytes =
            std::fs::read(&path).with_context(|| format!("{}: cannot read", path.display()))?;
        md5s.insert(file.to_string(), json!(md5_hex(&bytes)));
        add_member(&mut input, file, file, bytes, config, &name).map_err(flatten)?;
    }
    source["dir"] = json!(name);
    source["md5"] = json!(md5s);
    Ok(input)
}

fn add_member(
    input: &mut Input,
    base: &str,
    member: &str,
    bytes: Vec<u8>,
    config: &Config,
    name: &str,
) -> Result<()> {
    if base == config.names_file {
        let text = String::from_utf8(bytes).map_err(|_| {
            DataError(format!(
                "{name}: {}: class names are not UTF-8 text",
                printable(member, 80)
            ))
        })?;
        input.names = Some(text);
    } else {
        let converted = convert(bytes, config).map_err(|message| {
            DataError(format!("{name}: {}: {message}", printable(member, 80)))
        })?;
        input.converted.insert(base.to_string(), converted);
    }
    Ok(())
}

/// Checks one record file (label bytes then planar R, G, B of 32×32) and extracts its labels.
fn convert(bytes: Vec<u8>, config: &Config) -> Result<Converted, String> {
    let record = config.layout.label_bytes + PIXELS;
    if !bytes.len().is_multiple_of(record) {
        return Err(format!(
            "{} bytes is not a whole number of {record}-byte records",
            bytes.len()
        ));
    }
    let mut labels = Vec::with_capacity(bytes.len() / record);
    for (i, rec) in bytes.chunks_exact(record).enumerate() {
        let label = rec[config.label_index];
        if label as usize >= config.classes {
            return Err(format!(
                "record {i} has label {label}, but there are {} classes",
                config.classes
            ));
        }
        labels.push(label as u16);
    }
    Ok(Converted {
        labels,
        records: bytes,
        label_bytes: config.layout.label_bytes,
    })
}

/// [R plane | G plane | B plane] → [R G B, R G B, ...].
fn planar_to_hwc(planar: &[u8], out: &mut [u8]) {
    let (r, rest) = planar.split_at(1024);
    let (g, b) = rest.split_at(1024);
    for (((px, &r), &g), &b) in out.chunks_exact_mut(3).zip(r).zip(g).zip(b) {
        px[0] = r;
        px[1] = g;
        px[2] = b;
    }
}

/// The record files, in order, as one split of channels-last images (one pass, one buffer).
fn concat(parts: Vec<Converted>) -> Split {
    let n: usize = parts.iter().map(|p| p.labels.len()).sum();
    let mut labels = Vec::with_capacity(n);
    let mut pixels = vec![0u8; n * PIXELS];
    let mut out = pixels.chunks_exact_mut(PIXELS);
    for part in parts {
        labels.extend_from_slice(&part.labels);
        for rec in part.records.chunks_exact(part.label_bytes + PIXELS) {
            planar_to_hwc(
                &rec[part.label_bytes..],
                out.next().expect("sized for all records"),
            );
        }
    }
    Split {
        images: Images::from_u8([n, 32, 32, 3], pixels),
        labels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planar_becomes_channels_last() {
        let planar: Vec<u8> = (0..3072).map(|i| (i / 1024 * 100 + i % 7) as u8).collect();
        let mut out = vec![0; 3072];
        planar_to_hwc(&planar, &mut out);
        // pixel (row 2, col 5) = index 69: R at 69, G at 1024+69, B at 2048+69
        let expected =
            [69 % 7, 100 + (1024 + 69) % 7, 200 + (2048 + 69) % 7].map(|v: usize| v as u8);
        assert_eq!(&out[69 * 3..69 * 3 + 3], &expected);
    }
}
