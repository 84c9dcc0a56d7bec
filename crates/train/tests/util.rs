//! The shared harness (`rethink-testkit`), and the `train` binary these tests run.
#![allow(dead_code)]

pub use rethink_testkit::training::*;

/// A `train` command (the binary built for these tests) with stdin closed.
pub fn train_bin() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_train"));
    cmd.stdin(std::process::Stdio::null());
    cmd
}
