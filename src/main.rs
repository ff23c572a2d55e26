fn main() -> std::process::ExitCode {
    novadev::cli::main()
}
