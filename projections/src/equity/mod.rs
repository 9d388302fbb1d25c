//! Equity of access (DESIGN §4): the cube folded from events ([`cube`]), the
//! statistics ([`stats`]), and tables with small-cell suppression ([`report`]).

pub mod cube;
pub mod disclosure;
pub mod open_data;
pub mod report;
pub mod stats;
