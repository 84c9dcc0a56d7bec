fn main() -> std::process::ExitCode {
    rethink_cli::main_with("subset", subset::run)
}
