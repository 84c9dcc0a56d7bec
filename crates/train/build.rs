//! Gives `train` (and its tests) an rpath to the libtorch it was linked against, so the binary
//! runs without `LD_LIBRARY_PATH`. torch-sys finds libtorch through `LIBTORCH` (the folder made by
//! `scripts/setup-libtorch`) or, with `LIBTORCH_USE_PYTORCH=1`, through the Python `torch` package;
//! this script follows the same two routes.
use std::{env, path::PathBuf, process::Command};

fn main() {
    for var in [
        "LIBTORCH",
        "LIBTORCH_LIB",
        "LIBTORCH_USE_PYTORCH",
        "VIRTUAL_ENV",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    // Same precedence as torch-sys: the Python package first, then LIBTORCH_LIB, then LIBTORCH.
    let lib_dir = if env::var_os("LIBTORCH_USE_PYTORCH").is_some() {
        python_torch_lib()
    } else if let Ok(lib) = env::var("LIBTORCH_LIB") {
        Some(PathBuf::from(lib).join("lib"))
    } else if let Ok(libtorch) = env::var("LIBTORCH") {
        Some(PathBuf::from(libtorch).join("lib"))
    } else {
        None
    };
    match lib_dir {
        Some(dir) => {
            let dir = dir.canonicalize().unwrap_or(dir);
            println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
        }
        None => println!(
            "cargo:warning=neither LIBTORCH nor LIBTORCH_USE_PYTORCH is set: `train` will need \
             LD_LIBRARY_PATH to find libtorch (run scripts/setup-libtorch and build with \
             LIBTORCH=$PWD/libtorch)"
        ),
    }
}

/// The `lib` folder of the Python `torch` package, found with the interpreter torch-sys uses:
/// `python` inside an activated virtual environment, `python3` otherwise.
fn python_torch_lib() -> Option<PathBuf> {
    let python = if env::var_os("VIRTUAL_ENV").is_some() {
        "python"
    } else {
        "python3"
    };
    let out = Command::new(python)
        .args([
            "-c",
            "import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))",
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}
