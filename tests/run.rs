//! A small harness for running a tool binary in tests (shared by the fetch tools; include it with
//! `#[path = "../../../tests/run.rs"] mod util;`): it prints the command, its exit status
//! and stderr when an expectation fails.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

pub struct Run {
    pub command: String,
    pub output: Output,
}

impl Run {
    /// Runs `bin` with `args` in `dir`, stdin closed.
    pub fn new(bin: &str, dir: &Path, args: &[&str]) -> Run {
        let output = Command::new(bin)
            .args(args)
            .current_dir(dir)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("spawn the tool");
        Run {
            command: format!("{bin} {}", args.join(" ")),
            output,
        }
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    fn describe(&self) -> String {
        format!(
            "command: {}\nstatus: {}\nstderr: {}",
            self.command,
            self.output.status,
            self.stderr()
        )
    }

    /// Asserts success and returns self.
    pub fn success(self) -> Run {
        assert!(
            self.output.status.success(),
            "expected success\n{}",
            self.describe()
        );
        self
    }

    /// Asserts the exit code and that stderr is one line containing every part of `needles`;
    /// returns that line.
    pub fn fails(&self, code: i32, needles: &[&str]) -> String {
        assert_eq!(self.output.status.code(), Some(code), "{}", self.describe());
        let stderr = self.stderr();
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "expected one line\n{}",
            self.describe()
        );
        for needle in needles {
            assert!(
                stderr.contains(needle),
                "expected {needle:?} in stderr\n{}",
                self.describe()
            );
        }
        stderr.trim_end().to_string()
    }
}
