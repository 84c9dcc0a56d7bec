//! The short, fixed-seed run `make test` does: every parser on a few thousand mutated inputs
//! (seconds in all), plus every input a longer run ever found, kept as regression inputs under
//! the parser's crate (`crates/<crate>/tests/fuzz/`). `scripts/fuzz SECONDS` runs longer.

use std::path::Path;

use rethink_fuzz::{Budget, fuzz, is_one_printable_line, targets};

/// Inputs per target: chosen so the whole run takes a few seconds in a release build.
fn inputs(target: &str) -> u64 {
    match target {
        "cifar" => 300,
        _ => 4000,
    }
}

#[test]
fn every_parser_survives_a_fixed_seed_run() {
    let mut failed = Vec::new();
    for target in targets::all() {
        let report = fuzz(
            target.as_ref(),
            18,
            Budget::Inputs(inputs(target.name())),
            None,
        );
        eprintln!("{report}");
        assert!(
            report.accepted > 0,
            "{}: no input was accepted",
            report.target
        );
        for f in &report.findings {
            let shown = &f.input[..f.input.len().min(64)];
            failed.push(format!(
                "{}: {} (input {:02x?}...)",
                report.target, f.what, shown
            ));
        }
    }
    assert!(failed.is_empty(), "findings:\n{}", failed.join("\n"));
}

/// The folder of kept inputs for each target.
fn regression_dir(target: &str) -> &'static str {
    match target {
        "npz" => "dataset",
        "idx" => "mnist-fetch",
        "cifar" => "cifar-fetch",
        _ => "imagenet-pack",
    }
}

#[test]
fn kept_findings_are_refused_in_one_line() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let scratch = tempfile::tempdir().unwrap();
    let mut seen = 0;
    for target in targets::all() {
        let dir = crates
            .join(regression_dir(target.name()))
            .join("tests/fuzz");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let input = std::fs::read(&path).unwrap();
            if let Err(e) = target.run(&input, scratch.path()) {
                assert!(is_one_printable_line(&e), "{}: {e:?}", path.display());
            }
            seen += 1;
        }
    }
    eprintln!("{seen} kept inputs");
}
