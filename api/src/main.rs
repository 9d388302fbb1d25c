fn main() -> std::process::ExitCode {
    careledger_api::main()
}
