//! The `rethink-man` binary: glue over the library.

fn main() -> std::process::ExitCode {
    rethink_cli::main_with("rethink-man", rethink_man::run)
}
