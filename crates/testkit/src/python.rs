//! The project's Python (the venv `make setup` creates, with numpy), for interop tests.

use std::path::{Path, PathBuf};
use std::process::Command;

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

/// Runs `script` with the project's Python (`python -c script args...`) and returns its stdout;
/// panics with Python's stderr if it fails.
pub fn run_python(script: &str, args: &[&Path]) -> String {
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
