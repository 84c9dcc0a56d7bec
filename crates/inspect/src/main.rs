fn main() -> std::process::ExitCode {
    rethink_cli::main_with("inspect", inspect::run)
}
