//! Running a tool with bytes on its stdin, and asserting on its exit code and messages.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// A tool invocation with optional stdin bytes.
pub struct TestCommand {
    cmd: Command,
    stdin: Option<Vec<u8>>,
}

impl TestCommand {
    /// Runs `bin` (usually `env!("CARGO_BIN_EXE_<tool>")`), with no arguments yet.
    pub fn new(bin: impl AsRef<Path>) -> TestCommand {
        TestCommand {
            cmd: Command::new(bin.as_ref()),
            stdin: None,
        }
    }
    /// Adds one argument.
    pub fn arg(mut self, a: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.arg(a);
        self
    }
    /// Adds arguments.
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(mut self, a: I) -> Self {
        self.cmd.args(a);
        self
    }
    /// Sets an environment variable for the tool.
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.cmd.env(k, v);
        self
    }
    /// Runs the tool in `d`.
    pub fn current_dir(mut self, d: impl AsRef<Path>) -> Self {
        self.cmd.current_dir(d);
        self
    }
    /// Feeds `bytes` to the tool's stdin (written from a thread, so a large input cannot
    /// deadlock against the tool's output).
    pub fn pipe(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    /// Runs the command; stdin is the piped bytes, or empty. Returns the command as text (for
    /// messages) and its output.
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
