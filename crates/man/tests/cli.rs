//! The binary as `make install` runs it: `rethink-man --out DIR` writes the share/ tree; a
//! missing --out is a usage error (exit 2). Also makes `cargo test` build the binary that
//! tests/make/install.sh installs with.

use std::process::Command;

fn rethink_man() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rethink-man"))
}

#[test]
fn writes_pages_and_completions_for_every_tool() {
    let dir = tempfile::tempdir().unwrap();
    let out = rethink_man().arg("--out").arg(dir.path()).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "stdout carries no chatter");
    let mut pages: Vec<String> = std::fs::read_dir(dir.path().join("man/man1"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    pages.sort();
    assert_eq!(
        pages,
        [
            "cifar-fetch.1",
            "corrupt.1",
            "imagenet-pack.1",
            "inspect.1",
            "kernel-fit.1",
            "mnist-fetch.1",
            "report.1",
            "subset.1",
            "train.1"
        ]
    );
    let bash =
        std::fs::read_to_string(dir.path().join("bash-completion/completions/subset")).unwrap();
    assert!(bash.contains("--stratified"), "{bash}");
}

#[test]
fn missing_out_is_a_usage_error() {
    let out = rethink_man().output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}
