//! The `report` binary: glue over the library.

fn main() -> std::process::ExitCode {
    rethink_cli::main_with("report", report::run)
}
