//! Equity of access (DESIGN §4): the statistics; the cube and the queries over it
//! arrive next.

pub mod stats;
