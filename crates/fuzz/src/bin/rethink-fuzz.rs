//! `rethink-fuzz`: runs the seeded mutation fuzzer on one parser or all of them, for a number of
//! inputs or seconds each; `scripts/fuzz SECONDS` is the way in. Exit 1 on any finding.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use rethink_fuzz::{Budget, fuzz, targets};

const USAGE: &str =
    "usage: rethink-fuzz [--seconds S | --inputs N] [--seed SEED] [--findings DIR] [TARGET...]
targets: npz idx cifar image (default: all)";

fn main() -> ExitCode {
    let mut budget = Budget::Time(Duration::from_secs(10));
    let mut seed = 18u64;
    let mut findings: Option<PathBuf> = None;
    let mut names = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| {
            args.next().unwrap_or_else(|| {
                eprintln!("rethink-fuzz: {flag} needs a value\n{USAGE}");
                std::process::exit(2)
            })
        };
        let number = |flag: &str, v: String| -> u64 {
            v.parse().unwrap_or_else(|_| {
                eprintln!("rethink-fuzz: {flag} {v:?}: expected a whole number\n{USAGE}");
                std::process::exit(2)
            })
        };
        match arg.as_str() {
            "--seconds" => budget = Budget::Time(Duration::from_secs(number(&arg, value(&arg)))),
            "--inputs" => budget = Budget::Inputs(number(&arg, value(&arg))),
            "--seed" => seed = number(&arg, value(&arg)),
            "--findings" => findings = Some(PathBuf::from(value(&arg))),
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            name => names.push(name.to_string()),
        }
    }
    let chosen = if names.is_empty() {
        targets::all()
    } else {
        let mut chosen = Vec::new();
        for name in &names {
            match targets::by_name(name) {
                Some(t) => chosen.push(t),
                None => {
                    eprintln!("rethink-fuzz: unknown target {name:?}\n{USAGE}");
                    return ExitCode::from(2);
                }
            }
        }
        chosen
    };
    let mut found = 0;
    for target in chosen {
        let report = fuzz(target.as_ref(), seed, budget, findings.as_deref());
        println!("{report}");
        for f in &report.findings {
            println!("  {}", f.what);
        }
        found += report.findings.len();
    }
    if found > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
