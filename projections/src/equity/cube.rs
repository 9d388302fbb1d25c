//! The equity cube: counts of each milestone and outcome, by month of
//! identification, site, need (which fixes the domain) and the value of one
//! stratifier — one table per stratifier (its marginal over the others), so a
//! by-stratifier query sums a bounded number of cells however many need cases
//! there are.
//!
//! A need case contributes its [`Counts`] to one cell of each table. When an event
//! changes what it contributes, the old contribution is taken out and the new one
//! put in (`replace`). A need case entered in error contributes nothing.
//!
//! Definitions (DESIGN §4): *identified* — need cases identified; *referred* —
//! those with a referral not entered in error; *completed* — those completed with
//! the need met or partly met; *unmet* — closed because no service was available,
//! or completed with the need not met; *referrals* and *rejected* (by reason) count
//! referrals, for the rejection rate.

mod cell;
mod counts;
mod measures;
mod query;
mod stratifier;

pub use cell::{CaseKey, KeyHasher};
pub use counts::{Counts, Month, month_label, month_of, record_key};
pub use measures::{
    Hist, Label, Labels, Measures, Tally, TimeObs, Times, age_name, labels, measures,
};
pub use query::{Cube, CubeFilter};
pub use stratifier::{AGE_BANDS, QUINTILES, REJECTION_REASONS, Stratifier, rejection_index};

#[cfg(test)]
use query::DERIVED;

#[cfg(test)]
mod tests;
