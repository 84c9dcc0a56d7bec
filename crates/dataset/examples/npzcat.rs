//! Reads a dataset file (path: memory-mapped; `-`: a pipe), validates it and writes it back to
//! stdout in the canonical layout; `--no-write` only reads. Used by `scripts/bench-format`.

use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let write = !args.iter().any(|a| a == "--no-write");
    let input = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map_or("-", |s| s.as_str());
    let dataset = if input == "-" {
        rethink_dataset::read_from(std::io::stdin().lock(), "<stdin>")
    } else {
        rethink_dataset::read_path(input)
    };
    let dataset = dataset.unwrap_or_else(|e| {
        eprintln!("npzcat: {e}");
        std::process::exit(1)
    });
    if write {
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
        rethink_dataset::write_to(&dataset, &mut out, "<stdout>").unwrap_or_else(|e| {
            eprintln!("npzcat: {e}");
            std::process::exit(1)
        });
        out.flush().expect("flush stdout");
    }
}
