fn main() -> std::process::ExitCode {
    rethink_cli::main_with("corrupt", corrupt::run)
}
