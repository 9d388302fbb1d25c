//! # careledger-api
//!
//! The `careledger` binary: command line, configuration, the GraphQL API and the
//! HTTP server, start-up and shutdown. It is the only crate that wires adapters to
//! ports, and the only one that knows GraphQL and HTTP.
//!
//! ## Layout
//! * [`cli`] — the `clap` command line; every flag also reads an environment variable.
//! * [`serve`] — `careledger serve` / `rebuild` / `token`: wiring, start-up, shutdown.
//! * [`app`] — the application layer: the one command path (read, decide, append)
//!   with idempotency and expected versions; the context queries read from.
//! * [`graphql`] — the schema: types, queries, one mutation per lifecycle command.
//! * [`http`] — GraphQL over HTTP, GraphiQL, `/healthz`, `/readyz`, `/metrics`.
//! * [`web`] — the GraphiQL page and its vendored assets; security headers.
//! * [`auth`] — bearer tokens and the access they grant.
//! * [`metrics`] — Prometheus text exposition.
//! * [`export`] — `careledger export-equity`: an equity table as CSV.
//! * [`import`] — `careledger import-hsds`: an HSDS package into the directory.
//! * [`demo`] — the synthetic demonstration data set (`serve --demo`).

pub mod app;
pub mod auth;
pub mod authz;
pub mod cli;
pub mod credentials;
pub mod demo;
pub mod export;
#[cfg(test)]
mod fuzz_tests;
pub mod graphql;
pub mod guard;
pub mod http;
pub mod import;
pub mod listener;
pub mod metrics;
pub mod progress;
pub mod serve;
pub mod web;

use std::process::ExitCode;

/// The whole program: parse the command line and run it. `main.rs` only calls this,
/// so tests can build the same program under another name.
pub fn main() -> ExitCode {
    main_with(std::env::args_os())
}

/// As [`main`], with the command line given (the benchmark starts the server so).
pub fn main_with<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::Parser;
    let cli = cli::Cli::parse_from(args);
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli.run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the whole context chain on one line.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("CARELEDGER_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// mimalloc instead of the system allocator: event decoding allocates small
/// strings on several threads and frees them on another, the pattern glibc's
/// malloc handles worst (measured: ~17% of replay time in glibc malloc/free).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
