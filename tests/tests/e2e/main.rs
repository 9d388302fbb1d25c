//! End-to-end tests: each starts the real `careledger` program as a process (on a
//! fresh data directory) and talks to it the way a user or operator would. One test
//! binary, so the program and helpers are built once.

mod api;
mod apikeys;
mod audit;
mod directory;
mod equity;
mod erasure;
mod helpers;
mod http;
mod lifecycle;
mod limits;
mod matrix;
mod privacy;
mod refusals;
mod replicas;
mod serve;
