//! The test harness every tool's integration tests share (include it with
//! `#[path = "../../../tests/util.rs"] mod util;`): a temporary directory, a command runner that
//! pipes bytes in and prints command, status and stderr when an expectation fails, and tiny
//! generated datasets. Needs `rethink-dataset` and `tempfile` as dev-dependencies.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use rethink_dataset::{Dataset, Images, Meta, Split};

/// A temporary directory removed when dropped.
pub struct Dir {
    tmp: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Dir {
        Dir {
            tmp: tempfile::tempdir().expect("tempdir"),
        }
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }
    pub fn root(&self) -> &Path {
        self.tmp.path()
    }
    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).expect("write fixture");
        p
    }
    /// Writes a dataset file and returns its path.
    pub fn dataset(&self, name: &str, dataset: &Dataset) -> PathBuf {
        self.write(name, &encode(dataset))
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

/// A tool invocation with optional stdin bytes.
pub struct TestCommand {
    cmd: Command,
    stdin: Option<Vec<u8>>,
}

impl TestCommand {
    pub fn new(bin: impl AsRef<Path>) -> TestCommand {
        TestCommand {
            cmd: Command::new(bin.as_ref()),
            stdin: None,
        }
    }
    pub fn arg(mut self, a: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.arg(a);
        self
    }
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(mut self, a: I) -> Self {
        self.cmd.args(a);
        self
    }
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.cmd.env(k, v);
        self
    }
    pub fn current_dir(mut self, d: impl AsRef<Path>) -> Self {
        self.cmd.current_dir(d);
        self
    }
    pub fn pipe(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    /// Runs the command; stdin is the piped bytes, or empty.
    pub fn output(mut self) -> (String, Output) {
        let desc = format!("{:?}", self.cmd);
        self.cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self
            .cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {desc}: {e}"));
        let input = self.stdin.take().unwrap_or_default();
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let out = child.wait_with_output().expect("wait");
        writer.join().unwrap();
        (desc, out)
    }

    /// Runs, asserts success, returns stdout.
    pub fn stdout(self) -> Vec<u8> {
        let (desc, out) = self.output();
        if !out.status.success() {
            panic!(
                "command failed: {desc}\nstatus: {}\nstderr:\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        out.stdout
    }

    /// Runs, asserts success, returns stdout as text.
    pub fn stdout_text(self) -> String {
        String::from_utf8(self.stdout()).expect("utf-8 stdout")
    }

    /// Runs, asserts the exit code, returns stderr.
    pub fn assert_exit_code(self, code: i32) -> String {
        let (desc, out) = self.output();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(code),
            "command: {desc}\nexpected exit code {code}, got {}\nstderr:\n{stderr}\nstdout: {} bytes",
            out.status,
            out.stdout.len()
        );
        stderr
    }
}

/// Asserts an error message is one line that mentions each of `needles`.
pub fn assert_one_line_error(stderr: &str, needles: &[&str]) {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected a one-line error, got:\n{stderr}");
    for n in needles {
        assert!(stderr.contains(n), "error should mention {n:?}: {stderr}");
    }
}

/// A deterministic generator for fixtures (SplitMix64), so tests need no RNG crate.
pub struct Gen(pub u64);

impl Gen {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
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

pub fn encode(dataset: &Dataset) -> Vec<u8> {
    let mut out = Vec::new();
    rethink_dataset::write_to(dataset, &mut out, "<test>").expect("encode dataset");
    out
}

pub fn decode(bytes: &[u8]) -> Dataset {
    rethink_dataset::read_bytes(bytes.to_vec().into(), "<test output>").expect("decode dataset")
}

/// The workspace root (for scripts and the project venv).
pub fn workspace_root() -> PathBuf {
    let mut p = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    while !p.join("Cargo.lock").exists() && !p.join(".git").exists() {
        assert!(p.pop(), "workspace root not found");
    }
    p
}

/// The project's Python (with numpy), installed by `make setup`; `RETHINK_PYTHON` overrides it.
pub fn python() -> PathBuf {
    if let Ok(p) = std::env::var("RETHINK_PYTHON") {
        return PathBuf::from(p);
    }
    let p = workspace_root().join(".venv/bin/python");
    assert!(
        p.exists(),
        "{} is missing: run `make setup` (it creates the venv with numpy)",
        p.display()
    );
    p
}
