//! Equity of access (DESIGN §4): the cube folded from events ([`cube`]), the
//! statistics ([`stats`]), the WHO HEAT summary measures of inequality
//! ([`inequality`]), and tables with small-cell suppression ([`report`]).

pub mod cube;
pub mod disclosure;
pub mod inequality;
pub mod open_data;
pub mod report;
pub mod stats;
