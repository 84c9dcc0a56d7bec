fn main() -> std::process::ExitCode {
    rethink_cli::main_with("kernel-fit", kernel_fit::run)
}
