//! Reads a dataset file through the tools' own input path (a path or `-`: a redirected file is
//! mapped, a pipe widened and streamed), validates it and writes it back to stdout in the
//! canonical layout; `--no-write` only reads. Used by `scripts/bench-format`.

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let write = !args.iter().any(|a| a == "--no-write");
    let input: rethink_cli::Input = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map_or("-", |s| s.as_str())
        .parse()
        .unwrap();
    let run = || -> anyhow::Result<()> {
        let dataset = input.read_dataset()?;
        if write {
            rethink_cli::Output::Stdout.write_dataset(&dataset)?;
        }
        Ok(())
    };
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => rethink_cli::exit_for("npzcat", &e),
    }
}
