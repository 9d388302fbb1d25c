//! The `careledger` program, for the end-to-end tests (see Cargo.toml).
fn main() -> std::process::ExitCode {
    careledger_api::main()
}
