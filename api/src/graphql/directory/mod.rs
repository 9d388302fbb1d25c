//! The service directory over GraphQL: the `Service` type with its load, the
//! `services` search, and the mutations that register, update, retire services
//! and change their capacity.

pub mod inputs;
pub mod mutation;
pub mod query;
pub mod types;
