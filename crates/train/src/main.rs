fn main() -> std::process::ExitCode {
    rethink_cli::main_with("train", train::run)
}
