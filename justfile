# CareLedger — thin recipes over cargo. `just` lists them.

default:
    @just --list

# Run the server on the embedded default (SQLite in ./data, no configuration).
run *ARGS:
    cargo run --release -- serve {{ARGS}}

# The whole test suite (the README's test command).
test:
    cargo test --workspace

# Formatting check and clippy with warnings as errors.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Performance scenarios of DESIGN §7: one JSON line per scenario (`just bench --quick` for a smoke run).
# The GraphQL scenarios run the release `careledger` binary built first, beside the benchmark.
bench *ARGS:
    cargo build --release -p careledger-api --bin careledger
    cargo run --release -p careledger-bench -- {{ARGS}}

# What CI runs on a clean clone.
ci:
    bash .ci/run
