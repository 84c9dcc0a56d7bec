fn main() -> std::process::ExitCode {
    rethink_cli::main_with("imagenet-pack", imagenet_pack::run)
}
