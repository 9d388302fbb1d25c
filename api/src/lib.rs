//! # careledger-api
//!
//! The `careledger` binary: the edges of CareLedger and their wiring. What
//! CareLedger *does* lives in `careledger-app`; this crate turns requests into
//! use-case calls and answers back. It is the only crate that knows HTTP, GraphQL
//! and the command line, and the only one that chooses adapters.
//!
//! ## Layout (arrows only point down)
//! * [`cli`] — the `clap` command line, one module per command.
//! * [`startup`] — `Application::build(config)` / `run_until_stopped(shutdown)`:
//!   adapter choice, secrets, checkpoints, signals.
//! * [`http`] — GraphQL over HTTP, bearer tokens and API keys, limits, the
//!   connection loop, the GraphiQL page and security headers.
//! * [`graphql`] — the schema, one folder per feature; shared helpers in
//!   `graphql::support`.
//! * [`ops`] — health, readiness and metrics.
//! * [`fhir`] — the records as FHIR R4 resources (served under `/fhir` by
//!   `http::fhir`, written as NDJSON by `export-fhir`).
//!
//! `cli → startup → http → graphql → careledger_app`; `ops` sits below `http`
//! and `startup`; nothing imports `cli`.

pub mod cli;
pub mod dashboard;
pub mod fhir;
#[cfg(test)]
mod fuzz_tests;
pub mod graphql;
pub mod http;
pub mod ops;
pub mod progress;
pub mod startup;

use std::process::ExitCode;

/// The whole program: parse the command line and run it. `main.rs` only calls this,
/// so tests can build the same program under another name.
pub fn main() -> ExitCode {
    main_with(std::env::args_os())
}

/// As [`main`], with the command line given.
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
        .on_thread_park(collect_if_asked)
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
/// Its v2, not the crate's default v3: measured on `memory_1m`, the fold and
/// `graphql_query` (ARCHITECTURE, "Read models live in memory").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

// mimalloc's own entry point (in the C library the `mimalloc` crate links).
unsafe extern "C" {
    fn mi_collect(force: bool);
}

/// Gives the memory the allocator holds freed back to the operating system.
/// Called after the start-up's big frees (a checkpoint's bytes once read, the
/// catch-up fold's garbage, the indexes rebuilt whole), so the resident set is
/// what the server keeps.
///
/// `mi_collect` collects the calling thread's heap only, and mimalloc (v2)
/// keeps a block freed by another thread in its page until the thread that
/// allocated it collects: the fold allocates on whichever runtime worker runs
/// it, and the read connections' threads decode the events it frees. So every
/// runtime worker collects too: at once through [`collect_on_every_worker`],
/// and otherwise the next time it parks ([`collect_if_asked`]).
pub fn release_freed_memory() {
    COLLECT_ASKED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    collect_if_asked();
}

/// Has each runtime worker collect what [`release_freed_memory`] asked for
/// now: a few tasks are spawned, and the scheduler hands some of them to the
/// idle workers (each worker collects once per request, whichever task it runs).
pub async fn collect_on_every_worker() {
    let workers = tokio::runtime::Handle::current().metrics().num_workers();
    let tasks: Vec<_> = (0..workers * 4)
        .map(|_| {
            tokio::spawn(async {
                tokio::task::yield_now().await;
                collect_if_asked();
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
}

/// How many times [`release_freed_memory`] was called.
static COLLECT_ASKED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

thread_local! {
    /// The last [`COLLECT_ASKED`] this thread collected for.
    static COLLECTED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Collects this thread's heap if a release was asked for since its last
/// collection (a runtime worker calls it each time it parks: one atomic load).
fn collect_if_asked() {
    let asked = COLLECT_ASKED.load(std::sync::atomic::Ordering::Relaxed);
    let _ = COLLECTED.try_with(|done| {
        if done.get() != asked {
            done.set(asked);
            // SAFETY: `mi_collect` takes no pointer and may be called from any thread.
            unsafe { mi_collect(true) }
        }
    });
}
