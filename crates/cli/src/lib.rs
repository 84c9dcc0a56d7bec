//! What every rethink tool does the same way: `-` for stdin/stdout, atomic output files, refusing
//! binary data on a terminal, one-line errors, exit codes (0 ok, 1 data or runtime error, 2 usage,
//! 130 stopped by Ctrl-C),
//! a quiet exit on a broken pipe, history records and progress bars.

#![warn(missing_docs)]

use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use rethink_dataset::{Dataset, HistoryRecord};

pub mod deferred;
pub mod interrupt;

pub use deferred::{DeferredFiles, ShardWriter};

/// A misuse of the command line (exit code 2), found after clap parsed the arguments.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Returns early with a [`UsageError`].
#[macro_export]
macro_rules! usage {
    ($($arg:tt)*) => { return Err(anyhow::Error::new($crate::UsageError(format!($($arg)*)))) };
}

/// Parses the arguments, runs the tool and maps the outcome to an exit code.
///
/// Errors print as one line, `tool: outer context: inner cause`, on stderr.
pub fn main_with<A: clap::Parser>(
    tool: &str,
    run: impl FnOnce(A) -> anyhow::Result<()>,
) -> ExitCode {
    let args = match A::try_parse() {
        Ok(args) => args,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { 2 } else { 0 });
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => exit_for(tool, &err),
    }
}

/// Prints `err` the way [`main_with`] does and returns its exit code.
pub fn exit_for(tool: &str, err: &anyhow::Error) -> ExitCode {
    if is_broken_pipe(err) {
        return ExitCode::SUCCESS;
    }
    // Messages quote files (entry names, header text) and paths: escape what would break the line.
    let text = rethink_dataset::escape_controls(&format!("{err:#}").replace('\n', " "));
    eprintln!("{tool}: {text}");
    if err.chain().any(|e| e.is::<UsageError>()) {
        ExitCode::from(2)
    } else if err.chain().any(|e| e.is::<interrupt::Interrupted>()) {
        ExitCode::from(130)
    } else {
        ExitCode::from(1)
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    }) || format!("{err:#}").contains("Broken pipe")
}

/// A file argument: a path, or `-` for standard input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// Standard input (`-`).
    Stdin,
    /// A path.
    Path(PathBuf),
}

impl From<&OsStr> for Input {
    fn from(s: &OsStr) -> Input {
        if s == "-" {
            Input::Stdin
        } else {
            Input::Path(PathBuf::from(s))
        }
    }
}

impl std::str::FromStr for Input {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Input, Self::Err> {
        Ok(Input::from(OsStr::new(s)))
    }
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Input::Stdin => f.write_str("<stdin>"),
            Input::Path(p) => write!(f, "{}", p.display()),
        }
    }
}

impl Input {
    /// Reads and validates a dataset file; stdin is refused when it is a terminal.
    pub fn read_dataset(&self) -> anyhow::Result<Dataset> {
        match self {
            Input::Stdin => {
                let stdin = io::stdin();
                if stdin.is_terminal() {
                    usage!(
                        "refusing to read a dataset from a terminal: give a file, or pipe one into '-'"
                    );
                }
                // A file redirected to stdin is mapped like a path; a pipe is widened and streamed.
                let file =
                    std::fs::File::from(stdin.as_fd().try_clone_to_owned().context("<stdin>")?);
                widen_pipe(&file);
                Ok(rethink_dataset::read_file(file, "<stdin>")?)
            }
            Input::Path(p) => Ok(rethink_dataset::read_path(p)?),
        }
    }

    /// The shard set, when the input is a directory (checked: index and shard sizes).
    pub fn shard_set(&self) -> anyhow::Result<Option<rethink_dataset::ShardSet>> {
        match self {
            Input::Path(p) if rethink_dataset::shards::is_shard_dir(p) => {
                Ok(Some(rethink_dataset::ShardSet::open(p)?))
            }
            _ => Ok(None),
        }
    }
}

/// Where a tool writes its binary result: a path (`-o PATH`, written atomically) or stdout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Standard output (no `-o`, or `-o -`).
    Stdout,
    /// A file, written atomically.
    Path(PathBuf),
}

impl Output {
    /// `None` or `-` mean stdout.
    pub fn new(path: Option<&Path>) -> Output {
        match path {
            Some(p) if p != Path::new("-") => Output::Path(p.to_path_buf()),
            _ => Output::Stdout,
        }
    }

    /// Fails (usage) when the output is a terminal; call it before doing the work.
    pub fn check_binary(&self) -> anyhow::Result<()> {
        if *self == Output::Stdout && io::stdout().is_terminal() {
            usage!("refusing to write binary data to a terminal: use -o FILE or a pipe");
        }
        Ok(())
    }

    /// The name used in messages: the path, or `<stdout>`.
    pub fn name(&self) -> String {
        match self {
            Output::Stdout => "<stdout>".into(),
            Output::Path(p) => p.display().to_string(),
        }
    }

    /// Runs `write` on a buffered writer. For a path, the bytes go to a temporary file in the
    /// same directory that is renamed over the path only when `write` succeeds.
    pub fn write_with(
        &self,
        write: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        match self {
            Output::Stdout => {
                let stdout = io::stdout();
                widen_pipe(&stdout);
                let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
                write(&mut out)?;
                out.flush().context("<stdout>")?;
                Ok(())
            }
            Output::Path(path) => atomic_write(path, write),
        }
    }

    /// Writes a dataset file. To a path, deferred images are streamed ([`rethink_dataset::write_file`]).
    pub fn write_dataset(&self, dataset: &Dataset) -> anyhow::Result<()> {
        self.check_binary()?;
        let name = self.name();
        match self {
            Output::Stdout => {
                self.write_with(|out| Ok(rethink_dataset::write_to(dataset, out, &name)?))
            }
            Output::Path(path) => atomic_write_file(path, |out| {
                Ok(rethink_dataset::write_file(dataset, out, &name)?)
            }),
        }
    }
}

/// Grows a pipe's buffer from 64 KiB to 1 MiB (Linux): a CIFAR-sized dataset then crosses a pipe
/// in far fewer context switches. Anything that is not a pipe is left alone.
fn widen_pipe(fd: &impl std::os::fd::AsRawFd) {
    #[cfg(target_os = "linux")]
    {
        let fd = fd.as_raw_fd();
        // SAFETY: fstat and fcntl on a descriptor we hold; failures are ignored (an optimization).
        unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            if libc::fstat(fd, &mut st) == 0 && (st.st_mode & libc::S_IFMT) == libc::S_IFIFO {
                libc::fcntl(fd, libc::F_SETPIPE_SZ, 1 << 20);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = fd;
}

/// Writes `path` through a temporary file and a rename: readers never see half a file.
pub fn atomic_write(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    atomic_write_file(path, |out| write(out))
}

/// [`atomic_write`] with a buffered writer that can also seek (within the temporary file).
///
/// On Linux the temporary file is unnamed (`O_TMPFILE`) and linked into place only when it is
/// complete, so a killed writer leaves nothing behind; where the file system cannot do that (or
/// `/proc` is missing) it is a hidden sibling `.NAME.XXXXXX.tmp`, removed on error or panic but
/// left behind by `kill -9`.
pub fn atomic_write_file(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<&File>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    #[cfg(target_os = "linux")]
    if let Some(file) = unnamed::create(dir) {
        let file = file.with_context(|| {
            format!(
                "{}: cannot create a temporary file in {}",
                path.display(),
                dir.display()
            )
        })?;
        fill(path, &file, write)?;
        rethink_dataset::fault::abort_point("before-link");
        return unnamed::link(&file, dir, path).with_context(|| {
            format!(
                "{}: cannot link the written file into place",
                path.display()
            )
        });
    }
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{file_name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| {
            format!(
                "{}: cannot create a temporary file in {}",
                path.display(),
                dir.display()
            )
        })?;
    fill(path, tmp.as_file(), write)?;
    rethink_dataset::fault::abort_point("before-link");
    tmp.persist(path).with_context(|| {
        format!(
            "{}: cannot rename the temporary file into place",
            path.display()
        )
    })?;
    Ok(())
}

/// Writes the temporary file through a buffer and gives it the output's permissions.
fn fill(
    path: &Path,
    file: &File,
    write: impl FnOnce(&mut BufWriter<&File>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, file);
    write(&mut out)?;
    out.flush()
        .with_context(|| format!("{}: cannot write", path.display()))?;
    drop(out);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = file.set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    Ok(())
}

/// Unnamed temporary files (`O_TMPFILE`): an inode with no name until it is linked, so nothing
/// is left to clean up when the process dies first.
#[cfg(target_os = "linux")]
mod unnamed {
    use std::ffi::CString;
    use std::fs::File;
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd};
    use std::os::unix::ffi::OsStrExt;
    use std::path::{Path, PathBuf};

    /// An unnamed file in `dir`; `None` when this file system or system cannot make one (the
    /// caller then uses a named temporary file), `Some(Err)` for other failures.
    pub fn create(dir: &Path) -> Option<io::Result<File>> {
        // Linking goes through /proc/self/fd (linkat with AT_EMPTY_PATH needs a capability).
        if !Path::new("/proc/self/fd").is_dir() {
            return None;
        }
        let dir = CString::new(dir.as_os_str().as_bytes()).ok()?;
        // SAFETY: a plain open(2) of a NUL-terminated path; the descriptor is owned below.
        let fd = unsafe {
            libc::open(
                dir.as_ptr(),
                libc::O_TMPFILE | libc::O_RDWR | libc::O_CLOEXEC,
                0o644 as libc::c_uint,
            )
        };
        if fd < 0 {
            let err = io::Error::last_os_error();
            return match err.raw_os_error() {
                // No O_TMPFILE on this kernel or file system (NFS, old kernels say EISDIR).
                Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL | libc::ENOSYS) => None,
                _ => Some(Err(err)),
            };
        }
        // SAFETY: `fd` is a fresh descriptor that nothing else owns.
        Some(Ok(unsafe { File::from_raw_fd(fd) }))
    }

    /// Gives the complete `file` the name `path`, replacing what is there: linked straight to
    /// `path` when it is free, else to a hidden sibling that is renamed over `path` at once.
    pub fn link(file: &File, dir: &Path, path: &Path) -> io::Result<()> {
        let source = CString::new(format!("/proc/self/fd/{}", file.as_raw_fd()))
            .expect("no NUL in a number");
        let link_to = |target: &Path| -> io::Result<()> {
            let target = CString::new(target.as_os_str().as_bytes())
                .map_err(|_| io::Error::other("NUL in the output path"))?;
            // SAFETY: linkat(2) with two NUL-terminated paths.
            let rc = unsafe {
                libc::linkat(
                    libc::AT_FDCWD,
                    source.as_ptr(),
                    libc::AT_FDCWD,
                    target.as_ptr(),
                    libc::AT_SYMLINK_FOLLOW,
                )
            };
            if rc == 0 {
                Ok(())
            } else {
                Err(io::Error::last_os_error())
            }
        };
        match link_to(path) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            done => return done,
        }
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for attempt in 0u32.. {
            let tmp: PathBuf =
                dir.join(format!(".{file_name}.{}-{attempt}.tmp", std::process::id()));
            match link_to(&tmp) {
                Ok(()) => {
                    return std::fs::rename(&tmp, path).inspect_err(|_| {
                        let _ = std::fs::remove_file(&tmp);
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => {}
                Err(e) => return Err(e),
            }
        }
        unreachable!("the loop returns")
    }
}

/// The history record for this process: the tool, its version and its command-line arguments.
pub fn history_record(
    tool: &str,
    version: &str,
    seed: Option<u64>,
    input_digest: Option<String>,
) -> HistoryRecord {
    HistoryRecord {
        tool: tool.to_string(),
        version: version.to_string(),
        args: std::env::args().skip(1).collect(),
        seed,
        input_digest,
        extra: Default::default(),
    }
}

/// A progress bar on stderr, drawn only when stderr is a terminal.
pub fn progress(len: u64, message: &str) -> indicatif::ProgressBar {
    if !io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(message.to_string());
    bar
}
