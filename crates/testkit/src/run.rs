//! A finished tool invocation: run once, then assert on its exit code and stderr; a failed
//! assertion prints the command, its exit status and its stderr.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// A tool that has run: the command as text (for messages) and its output.
pub struct Run {
    /// The command line, for failure messages.
    pub command: String,
    /// Exit status, stdout and stderr.
    pub output: Output,
}

impl Run {
    /// Runs `bin` with `args` in `dir`, stdin closed.
    pub fn new(bin: &str, dir: &Path, args: &[&str]) -> Run {
        let output = Command::new(bin)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .output()
            .expect("spawn the tool");
        Run {
            command: format!("{bin} {}", args.join(" ")),
            output,
        }
    }

    /// Runs `bin` with `args` (paths or strings) in the current directory, stdin closed.
    pub fn with_args(bin: &str, args: &[&dyn AsRef<OsStr>]) -> Run {
        let mut cmd = Command::new(bin);
        for a in args {
            cmd.arg(a);
        }
        let text = args
            .iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        Run {
            command: format!("{bin} {text}"),
            output: cmd.stdin(Stdio::null()).output().expect("spawn the tool"),
        }
    }

    /// Runs `bin` with `args` in `dir` in a shell that limits the address space to `kib` KiB
    /// (`ulimit -v`: a reader that allocates what a header declares dies there), with `env`
    /// set. Two rayon threads and two malloc arenas, so that address space reserved per thread
    /// on a many-core machine does not count against the limit.
    pub fn with_memory_limit(
        bin: &str,
        dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        kib: u64,
    ) -> Run {
        let output = Command::new("bash")
            .args(["-c", &format!(r#"ulimit -v {kib}; exec "$@""#), "sh", bin])
            .args(args)
            .current_dir(dir)
            .env("RAYON_NUM_THREADS", "2")
            .env("MALLOC_ARENA_MAX", "2")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .output()
            .expect("spawn bash");
        Run {
            command: format!("(ulimit -v {kib}) {bin} {} {env:?}", args.join(" ")),
            output,
        }
    }

    /// The tool's stderr, as text.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// The exit code; -1 when the tool was killed by a signal.
    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
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

    /// Asserts the exit code.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            code,
            "command: {}\nstatus: {}\nstderr:\n{}",
            self.command,
            self.output.status,
            self.stderr()
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
