//! `mnist-fetch`: MNIST and Fashion-MNIST from their IDX files (plain or gzipped) as a rethink
//! dataset file. Fashion-MNIST is the dataset this project ships with: Debian's
//! `dataset-fashion-mnist` installs it under /usr/share/datasets/fashion-mnist, the default
//! directory for `--dataset fashion-mnist`. Otherwise the files are downloaded, checked against
//! their published MD5s and cached.

#![warn(missing_docs)]

use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use clap::{Parser, ValueEnum};
use rethink_cli::{Output, history_record, usage};
use rethink_dataset::{Dataset, Images, MAX_EXPAND_VAR, Meta, ReadLimits, Split};
use rethink_fetch::{Md5Reader, fetch_cached, maybe_gunzip};
use serde_json::json;

/// Convert MNIST or Fashion-MNIST IDX files into a dataset file.
///
/// Reads train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
/// t10k-labels-idx1-ubyte, each plain or with .gz, from --dir. Without --dir, Fashion-MNIST is
/// read from /usr/share/datasets/fashion-mnist (Debian package dataset-fashion-mnist) when it
/// exists; otherwise the four .gz files are downloaded from --url (default: the official
/// address), checked against the published MD5s (or --md5sums) and kept in --cache/<dataset>/,
/// where verified files are never downloaded again.
///
/// Output: train_images uint8 [60000,28,28,1], train_labels, test_images [10000,28,28,1],
/// test_labels; meta holds the class names, the source and the MD5 of every file read.
#[derive(Debug, Parser)]
#[command(name = "mnist-fetch", version)]
pub struct Args {
    /// Which dataset.
    #[arg(long, value_enum, default_value = "mnist")]
    pub dataset: Which,
    /// A directory holding the four IDX files (plain or .gz).
    #[arg(long, value_name = "DIR", conflicts_with = "url")]
    pub dir: Option<PathBuf>,
    /// Download the .gz files from this base URL (ending in /) instead of the official one.
    #[arg(long, value_name = "BASE")]
    pub url: Option<String>,
    /// Expected MD5s of the downloads, in `md5sum` format (default: the published ones).
    #[arg(long, value_name = "FILE", conflicts_with = "dir")]
    pub md5sums: Option<PathBuf>,
    /// Where downloaded files are kept (in a subdirectory named after the dataset).
    #[arg(long, value_name = "DIR", default_value = "data")]
    pub cache: PathBuf,
    /// Output file (default: stdout, which must not be a terminal).
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
/// The dataset to convert.
pub enum Which {
    /// Handwritten digits 0-9.
    Mnist,
    /// Zalando's clothing images, ten classes.
    FashionMnist,
}

/// The four files, in the order train images, train labels, test images, test labels.
pub const FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// Where Debian's `dataset-fashion-mnist` installs the files.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

struct Known {
    name: &'static str,
    url: &'static str,
    /// Published MD5 of each `.gz` file, in [`FILES`] order.
    md5: [&'static str; 4],
    classes: [&'static str; 10],
}

const MNIST: Known = Known {
    name: "mnist",
    url: "https://ossci-datasets.s3.amazonaws.com/mnist/",
    md5: [
        "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "d53e105ee54ea40749a09fcbcd1e9432",
        "9fb629c4189551a2d022fa330f9573f3",
        "ec29112dd5afa0611ce80d1b7f02629c",
    ],
    classes: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
};

const FASHION_MNIST: Known = Known {
    name: "fashion-mnist",
    url: "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    md5: [
        "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "25c81989df183df01b3e8a0aad5dffbe",
        "bef4ecab320f06d8554ea6380940ec79",
        "bb300cfdad3c16e7a12a480ee83cd310",
    ],
    classes: [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ],
};

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;

/// Runs `mnist-fetch` on parsed arguments: finds or downloads the IDX files, converts, writes.
pub fn run(args: Args) -> Result<()> {
    let known = match args.dataset {
        Which::Mnist => &MNIST,
        Which::FashionMnist => &FASHION_MNIST,
    };
    let output = Output::new(args.output.as_deref());
    output.check_binary()?;

    let debian_dir = Path::new(FASHION_MNIST_DIR);
    let dir = match (&args.dir, &args.url) {
        (Some(dir), _) => Some(dir.clone()),
        (None, None) if args.dataset == Which::FashionMnist && debian_dir.is_dir() => {
            Some(debian_dir.to_path_buf())
        }
        _ => None,
    };
    let (paths, mut source) = match dir {
        Some(dir) => (
            find_files(&dir)?,
            json!({ "dir": dir.display().to_string() }),
        ),
        None => download(&args, known)?,
    };

    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let limits = ReadLimits::from_env().map_err(anyhow::Error::msg)?;
    let kinds = [
        IdxKind::Images,
        IdxKind::Labels,
        IdxKind::Images,
        IdxKind::Labels,
    ];
    let read: Vec<Result<(Idx, String)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = paths
            .iter()
            .zip(kinds)
            .map(|(p, kind)| scope.spawn(move || read_idx(p, kind, limits)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let read = read.into_iter().collect::<Result<Vec<_>>>()?;
    let md5s: serde_json::Map<_, _> = paths
        .iter()
        .zip(&read)
        .map(|(p, (_, md5))| (file_name(p), json!(md5)))
        .collect();
    let mut read = read.into_iter().map(|(idx, _)| idx);
    let mut next = || read.next().expect("four files");
    let train = split(next(), &names[0], next(), &names[1])?;
    let test = split(next(), &names[2], next(), &names[3])?;
    source["md5"] = json!(md5s);
    let mut meta = Meta::new(
        known.name,
        known.classes.iter().map(|c| c.to_string()).collect(),
    );
    meta.source = Some(source);
    meta.history.push(history_record(
        "mnist-fetch",
        env!("CARGO_PKG_VERSION"),
        None,
        None,
    ));
    output.write_dataset(&Dataset::new(meta, Some(train), Some(test)))
}

/// An IDX file read within bounds: its dimensions (from its header) and its data.
pub struct Idx {
    /// The dimensions the header declares (and the data fills exactly).
    pub dims: Vec<usize>,
    /// The data after the header.
    pub data: Vec<u8>,
}

/// What an IDX file holds: images (three dimensions) or labels (one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdxKind {
    /// `[n, rows, columns]` bytes, magic 0x00000803.
    Images,
    /// `[n]` bytes, magic 0x00000801.
    Labels,
}

impl IdxKind {
    fn magic(self) -> u32 {
        match self {
            IdxKind::Images => IMAGES_MAGIC,
            IdxKind::Labels => LABELS_MAGIC,
        }
    }
    fn word(self) -> &'static str {
        match self {
            IdxKind::Images => "images",
            IdxKind::Labels => "labels",
        }
    }
    fn header_len(self) -> usize {
        match self {
            IdxKind::Images => 16,
            IdxKind::Labels => 8,
        }
    }
}

/// Reads one IDX file (already gunzipped) from `reader` without trusting its header: the data
/// the header declares is checked against `max_bytes` (the expansion cap every tool shares,
/// `RETHINK_MAX_EXPAND`) before anything is read, then read through a limit of one byte more
/// than declared, so a lying header or a gzip bomb costs at most the declared size.
pub fn read_idx_from(
    mut reader: impl Read,
    name: &str,
    kind: IdxKind,
    max_bytes: u64,
) -> Result<Idx> {
    let header_len = kind.header_len();
    let mut header = Vec::with_capacity(header_len);
    (&mut reader)
        .take(header_len as u64)
        .read_to_end(&mut header)
        .with_context(|| format!("{name}: cannot read"))?;
    if header.len() < header_len {
        let what = match kind {
            IdxKind::Images => "image",
            IdxKind::Labels => "label",
        };
        bail!(
            "{name}: {} bytes is too short for an IDX {what} header",
            header.len()
        );
    }
    let magic = be_u32(&header, 0);
    if magic != kind.magic() {
        bail!(
            "{name}: magic number 0x{magic:08x} is not that of IDX {} (0x{:08x})",
            kind.word(),
            kind.magic()
        );
    }
    let dims: Vec<u64> = (4..header_len)
        .step_by(4)
        .map(|at| be_u32(&header, at) as u64)
        .collect();
    let announced = || match kind {
        IdxKind::Images => format!("{} images of {}x{}", dims[0], dims[1], dims[2]),
        IdxKind::Labels => format!("{} labels", dims[0]),
    };
    let body = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .filter(|&b| b <= max_bytes.saturating_sub(header_len as u64));
    let Some(body) = body else {
        bail!(
            "{name}: the header announces {}, more than the {max_bytes} bytes a file may expand to (set by {MAX_EXPAND_VAR})",
            announced()
        );
    };
    let expected = header_len as u64 + body;
    let mut data = Vec::new();
    reader
        .take(body + 1)
        .read_to_end(&mut data)
        .with_context(|| format!("{name}: cannot read"))?;
    if data.len() as u64 != body {
        let has = if data.len() as u64 > body {
            "more".to_string()
        } else {
            format!("{} bytes", header_len + data.len())
        };
        bail!(
            "{name}: the header announces {} ({expected} bytes), the file has {has}",
            announced()
        );
    }
    Ok(Idx {
        dims: dims.iter().map(|&d| d as usize).collect(),
        data,
    })
}

/// An IDX file from disk (gunzipped if needed) and the MD5 of the file as stored.
fn read_idx(path: &Path, kind: IdxKind, limits: ReadLimits) -> Result<(Idx, String)> {
    let name = path.display().to_string();
    let err = || format!("{name}: cannot read");
    let file = std::fs::File::open(path).with_context(err)?;
    let mut raw = Md5Reader::new(file);
    let reader = maybe_gunzip(BufReader::with_capacity(1 << 20, &mut raw)).with_context(err)?;
    let idx = read_idx_from(reader, &name, kind, limits.max_expand)?;
    let md5 = raw.finish().with_context(err)?;
    Ok((idx, md5))
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The four files in `dir`, each either plain or `.gz`.
fn find_files(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        bail!("{}: not a directory", dir.display());
    }
    FILES
        .iter()
        .map(|name| {
            let plain = dir.join(name);
            let gz = dir.join(format!("{name}.gz"));
            if plain.is_file() {
                Ok(plain)
            } else if gz.is_file() {
                Ok(gz)
            } else {
                Err(anyhow!(
                    "{}: {name} (or {name}.gz) is missing; expected {}",
                    dir.display(),
                    FILES.join(", ")
                ))
            }
        })
        .collect()
}

/// Downloads (or finds verified in the cache) the four `.gz` files.
fn download(args: &Args, known: &Known) -> Result<(Vec<PathBuf>, serde_json::Value)> {
    let base = args.url.clone().unwrap_or_else(|| known.url.to_string());
    let base = if base.ends_with('/') {
        base
    } else {
        format!("{base}/")
    };
    let expected: Vec<String> = match &args.md5sums {
        None => known.md5.iter().map(|s| s.to_string()).collect(),
        Some(path) => read_md5sums(path)?,
    };
    let cache = args.cache.join(known.name);
    let mut paths = Vec::new();
    for (name, md5) in FILES.iter().zip(&expected) {
        let gz = format!("{name}.gz");
        let url = format!("{base}{gz}");
        let fetched = fetch_cached(&url, &cache.join(&gz), md5).map_err(|e| {
            if e.is_network() {
                let debian = if args.dataset == Which::FashionMnist {
                    " (Fashion-MNIST: apt-get install dataset-fashion-mnist, then run without --url)"
                } else {
                    ""
                };
                anyhow!(
                    "{e}; without network, get the four files elsewhere and pass --dir DIR{debian}"
                )
            } else {
                e.into()
            }
        })?;
        if fetched.downloaded {
            eprintln!("mnist-fetch: downloaded {url}");
        }
        paths.push(fetched.path);
    }
    let source = json!({ "url": base, "dir": cache.display().to_string() });
    Ok((paths, source))
}

/// The MD5 of each of the four `.gz` files from an `md5sum`-style listing.
fn read_md5sums(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let mut found = std::collections::HashMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut parts = line.split_whitespace();
        let (Some(md5), Some(name)) = (parts.next(), parts.next()) else {
            bail!(
                "{}: expected lines of 'MD5  FILE', got {line:?}",
                path.display()
            );
        };
        if md5.len() != 32 || !md5.chars().all(|c| c.is_ascii_hexdigit()) {
            usage!(
                "{}: {md5:?} is not an MD5 (32 hexadecimal digits)",
                path.display()
            );
        }
        let name = name.trim_start_matches('*');
        found.insert(
            name.rsplit('/').next().unwrap_or(name).to_string(),
            md5.to_ascii_lowercase(),
        );
    }
    FILES
        .iter()
        .map(|f| {
            found
                .get(&format!("{f}.gz"))
                .cloned()
                .ok_or_else(|| anyhow!("{}: no MD5 listed for {f}.gz", path.display()))
        })
        .collect()
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap())
}

/// One split from an IDX image file and an IDX label file, each read with [`read_idx_from`].
pub fn split(images: Idx, images_name: &str, labels: Idx, labels_name: &str) -> Result<Split> {
    let [n, h, w] = images.dims[..] else {
        bail!("{images_name}: IDX images have three dimensions")
    };
    let count = labels.dims[0];
    if count != n {
        bail!("{labels_name}: {count} labels for the {n} images of {images_name}");
    }
    if let Some(i) = labels.data.iter().position(|&l| l >= 10) {
        bail!(
            "{labels_name}: label {} at index {i} is out of range: there are 10 classes",
            labels.data[i]
        );
    }
    Ok(Split {
        images: Images::from_u8([n, h, w, 1], images.data),
        labels: labels.data.iter().map(|&l| l as u16).collect(),
    })
}
