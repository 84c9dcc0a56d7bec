fn main() -> std::process::ExitCode {
    rethink_cli::main_with("mnist-fetch", mnist_fetch::run)
}
