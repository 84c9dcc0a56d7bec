//! Fixtures on disk: a temporary folder, tiny generated datasets and their bytes, and a seeded
//! generator so that a fixture is the same on every run.

use std::path::{Path, PathBuf};

use rethink_dataset::{Dataset, Images, Meta, Split};

/// A temporary directory removed when dropped.
pub struct Dir {
    tmp: tempfile::TempDir,
}

impl Default for Dir {
    fn default() -> Dir {
        Dir::new()
    }
}

impl Dir {
    /// A fresh, empty temporary directory.
    pub fn new() -> Dir {
        Dir {
            tmp: tempfile::tempdir().expect("tempdir"),
        }
    }
    /// The path of `name` inside the directory (nothing is created).
    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }
    /// The directory itself.
    pub fn root(&self) -> &Path {
        self.tmp.path()
    }
    /// Writes `bytes` to `name` inside the directory and returns its path.
    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).expect("write fixture");
        p
    }
    /// Writes a dataset file and returns its path.
    pub fn dataset(&self, name: &str, dataset: &Dataset) -> PathBuf {
        self.write(name, &encode(dataset))
    }
    /// Writes `parts` as the shard set `name/` (`name/shard-00000.npz`, ..., `name/index.json`)
    /// and returns the directory.
    pub fn shards(&self, name: &str, parts: &[Dataset]) -> PathBuf {
        let dir = self.path(name);
        std::fs::create_dir_all(&dir).expect("shard dir");
        let entries = parts
            .iter()
            .enumerate()
            .map(|(k, part)| {
                let file = format!("shard-{k:05}.npz");
                let bytes = encode(part);
                std::fs::write(dir.join(&file), &bytes).expect("write shard");
                let digest = format!("blake3:{}", blake3::hash(&bytes).to_hex());
                rethink_dataset::ShardEntry::of(&file, bytes.len() as u64, digest, part)
            })
            .collect();
        let index = rethink_dataset::Index::new(entries);
        std::fs::write(dir.join("index.json"), index.to_json()).expect("write index");
        dir
    }
    /// Names of the files in the directory, sorted.
    pub fn files(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.root())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

/// A deterministic generator for fixtures (SplitMix64), so tests need no RNG crate.
pub struct Gen(pub u64);

impl Gen {
    /// The next 64 random bits.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// A number in `0..n` (with the slight bias of a modulo, harmless for fixtures).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A small dataset of random pixels: `train` and `test` images of `[h, w, c]`, `classes` classes.
pub fn tiny_dataset(
    train: usize,
    test: usize,
    hwc: [usize; 3],
    classes: usize,
    seed: u64,
) -> Dataset {
    let mut g = Gen(seed);
    let [h, w, c] = hwc;
    let mut split = |n: usize| {
        let pixels: Vec<u8> = (0..n * h * w * c).map(|_| g.below(256) as u8).collect();
        let labels: Vec<u16> = (0..n).map(|_| g.below(classes as u64) as u16).collect();
        Split {
            images: Images::from_u8([n, h, w, c], pixels),
            labels,
        }
    };
    let train = (train > 0).then(|| split(train));
    let test = (test > 0).then(|| split(test));
    let meta = Meta::new("tiny", (0..classes).map(|k| format!("class{k}")).collect());
    Dataset::new(meta, train, test)
}

/// `dataset` cut into shards of `sizes[k]` training examples each (the sizes must add up to
/// the training split; the corruption entries are cut alike); the test split, if any, goes
/// whole into the last shard.
pub fn cut(dataset: &Dataset, sizes: &[usize]) -> Vec<Dataset> {
    let train = dataset.train.as_ref().expect("a training split to cut");
    assert_eq!(sizes.iter().sum::<usize>(), train.len(), "shard sizes");
    let mut start = 0;
    sizes
        .iter()
        .enumerate()
        .map(|(k, &n)| {
            let range: Vec<usize> = (start..start + n).collect();
            start += n;
            let split = Split {
                images: train.images.select(&range),
                labels: range.iter().map(|&i| train.labels[i]).collect(),
            };
            let test = if k + 1 == sizes.len() {
                dataset.test.clone()
            } else {
                None
            };
            let mut part = Dataset::new(dataset.meta.clone(), Some(split), test);
            part.train_clean_labels = dataset
                .train_clean_labels
                .as_ref()
                .map(|c| range.iter().map(|&i| c[i]).collect());
            part.train_corrupted = dataset
                .train_corrupted
                .as_ref()
                .map(|c| range.iter().map(|&i| c[i]).collect());
            part
        })
        .collect()
}

/// The bytes of `dataset` as a dataset file (what the tools read on stdin).
pub fn encode(dataset: &Dataset) -> Vec<u8> {
    let mut out = Vec::new();
    rethink_dataset::write_to(dataset, &mut out, "<test>").expect("encode dataset");
    out
}

/// Reads the bytes of a dataset file (what a tool wrote on stdout), panicking if they are not one.
pub fn decode(bytes: &[u8]) -> Dataset {
    rethink_dataset::read_bytes(bytes.to_vec().into(), "<test output>").expect("decode dataset")
}
