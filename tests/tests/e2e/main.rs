//! End-to-end tests: each starts the real `careledger` program as a process (on a
//! fresh data directory) and talks to it the way a user or operator would. One test
//! binary, so the program and helpers are built once.

mod answer_links;
mod api;
mod apikeys;
mod audit;
mod browser;
mod conformance;
mod dashboard;
mod dashboard_browser;
mod directory;
mod disclosure;
mod equity;
mod erasure;
mod fhir;
mod fhir_export;
mod hardening;
mod helpers;
mod hsds;
mod http;
mod integrity;
mod lifecycle;
mod limits;
mod live;
mod matrix;
mod matrix_live;
mod open_data;
mod privacy;
mod provider;
mod refusals;
mod replicas;
mod replicas_live;
mod serve;
mod tokens;
mod webhooks;
mod webhooks_replicas;
