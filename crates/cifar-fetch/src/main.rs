fn main() -> std::process::ExitCode {
    rethink_cli::main_with("cifar-fetch", cifar_fetch::run)
}
