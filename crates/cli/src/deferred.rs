//! Files that appear together or not at all, such as the shards of a dataset directory: each is
//! written in full as an unnamed file (`O_TMPFILE`), and all are given their names at the end,
//! the directory being created then. A process killed before [`DeferredFiles::finish`] leaves
//! nothing, not even the directory; one killed during it (the few microseconds of one `linkat`
//! per file) leaves complete files only. Where unnamed files are unsupported they are hidden
//! named files (`.NAME.XXXXXX.tmp`) in the directory, renamed at the end.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rethink_dataset::Dataset;

/// A set of files under one directory, named only once all are written.
pub struct DeferredFiles {
    dir: PathBuf,
    /// An existing directory on the same file system (`dir` or its nearest existing ancestor),
    /// where the unnamed files are made.
    anchor: PathBuf,
    pending: Vec<(PathBuf, Pending)>,
}

enum Pending {
    #[cfg(target_os = "linux")]
    Unnamed(File),
    Named(tempfile::TempPath),
}

impl DeferredFiles {
    /// Files to be named under `dir` (created at the end when missing).
    pub fn new(dir: &Path) -> anyhow::Result<DeferredFiles> {
        if dir.exists() && !dir.is_dir() {
            bail!("{}: exists and is not a directory", dir.display());
        }
        let mut anchor = dir.to_path_buf();
        while !anchor.is_dir() {
            anchor = match anchor.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
        }
        raise_open_file_limit();
        Ok(DeferredFiles {
            dir: dir.to_path_buf(),
            anchor,
            pending: Vec::new(),
        })
    }

    /// Writes `dataset` as `dir/name`, to appear at [`DeferredFiles::finish`]; returns the
    /// file's size and `blake3:<hex>` digest.
    pub fn write_dataset(
        &mut self,
        name: &str,
        dataset: &Dataset,
    ) -> anyhow::Result<(u64, String)> {
        let shown = self.dir.join(name).display().to_string();
        self.write_with(name, |out| {
            Ok(rethink_dataset::write_file(dataset, out, &shown)?)
        })
    }

    /// Writes `bytes` as `dir/name`, to appear at [`DeferredFiles::finish`].
    pub fn write_bytes(&mut self, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
        self.write_with(name, |out| Ok(std::io::Write::write_all(out, bytes)?))?;
        Ok(())
    }

    fn write_with(
        &mut self,
        name: &str,
        write: impl FnOnce(&mut std::io::BufWriter<&File>) -> anyhow::Result<()>,
    ) -> anyhow::Result<(u64, String)> {
        let path = self.dir.join(name);
        let shown = path.display().to_string();
        let digest = |file: &File| {
            rethink_dataset::shards::file_digest(file)
                .with_context(|| format!("{shown}: cannot read back the written file"))
        };
        #[cfg(target_os = "linux")]
        if let Some(file) = crate::unnamed::create(&self.anchor) {
            let file = file.with_context(|| {
                format!(
                    "{shown}: cannot create a temporary file in {}",
                    self.anchor.display()
                )
            })?;
            crate::fill(&path, &file, write)?;
            let written = digest(&file)?;
            self.pending.push((path, Pending::Unnamed(file)));
            return Ok(written);
        }
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("{}: cannot create the directory", self.dir.display()))?;
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .tempfile_in(&self.dir)
            .with_context(|| format!("{shown}: cannot create a temporary file"))?;
        crate::fill(&path, tmp.as_file(), write)?;
        let written = digest(tmp.as_file())?;
        self.pending
            .push((path, Pending::Named(tmp.into_temp_path())));
        Ok(written)
    }

    /// Creates the directory if needed and gives every file its name.
    pub fn finish(self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("{}: cannot create the directory", self.dir.display()))?;
        for (path, pending) in self.pending {
            match pending {
                #[cfg(target_os = "linux")]
                Pending::Unnamed(file) => crate::unnamed::link(&file, &self.dir, &path)
                    .with_context(|| {
                        format!(
                            "{}: cannot link the written file into place",
                            path.display()
                        )
                    })?,
                Pending::Named(tmp) => tmp.persist(&path).with_context(|| {
                    format!(
                        "{}: cannot rename the temporary file into place",
                        path.display()
                    )
                })?,
            }
        }
        Ok(())
    }
}

/// Every pending file holds a descriptor (ImageNet in shards of 1,000 is 1,282 files): the soft
/// limit is raised to the hard one.
fn raise_open_file_limit() {
    #[cfg(unix)]
    // SAFETY: getrlimit/setrlimit on a stack struct; failure leaves the limit as it was.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// A shard set being written: the shards and then `index.json`, all appearing together at
/// [`ShardWriter::finish`] (see [`DeferredFiles`]).
pub struct ShardWriter {
    files: DeferredFiles,
    entries: Vec<rethink_dataset::ShardEntry>,
}

impl ShardWriter {
    /// A shard set to be written into `dir`.
    pub fn new(dir: &Path) -> anyhow::Result<ShardWriter> {
        Ok(ShardWriter {
            files: DeferredFiles::new(dir)?,
            entries: Vec::new(),
        })
    }

    /// Writes the next shard as `dir/name`.
    pub fn write(&mut self, name: &str, dataset: &Dataset) -> anyhow::Result<()> {
        let (bytes, digest) = self.files.write_dataset(name, dataset)?;
        self.entries.push(rethink_dataset::ShardEntry::of(
            name, bytes, digest, dataset,
        ));
        Ok(())
    }

    /// Writes `index.json` and gives every file its name; returns the index.
    pub fn finish(mut self) -> anyhow::Result<rethink_dataset::Index> {
        let index = rethink_dataset::Index::new(self.entries);
        self.files
            .write_bytes(rethink_dataset::shards::INDEX, index.to_json().as_bytes())?;
        self.files.finish()?;
        Ok(index)
    }
}
