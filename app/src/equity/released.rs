//! What the equity use cases answer: tables as released to their caller, every
//! count through disclosure control ([`DisclosureControl`]), withheld groups
//! listed with their rule ([`Withheld`]), and the CSV of each table.

use careledger_projections::equity::cube::Stratifier;
use careledger_projections::equity::disclosure::{self, CellKeyMethod};
use careledger_projections::equity::inequality::Inequality;
use careledger_projections::equity::report::{Summary, SuppressionRule};
use careledger_projections::equity::stats::Test;

use super::request::Outcome;

/// How a table's counts were protected before release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisclosureMethod {
    /// Exact counts: the caller may read the records themselves (a coordinator,
    /// whose tables cover their own sites only).
    Exact,
    /// Every count perturbed by the cell-key method: zero-mean noise of at most
    /// `max_deviation`, the same for the same records whatever the query, so
    /// overlapping tables cannot be subtracted to a hidden cell.
    CellKeyPerturbation,
}

/// The disclosure control applied to a table: perturbation (or none), then
/// small-cell suppression at `k`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisclosureControl {
    pub method: DisclosureMethod,
    /// The largest change perturbation makes to a count (0: exact).
    pub max_deviation: u64,
    /// Counts from 1 to k − 1 are withheld.
    pub k: u64,
}

impl DisclosureControl {
    pub fn new(method: Option<&CellKeyMethod>, k: u64) -> Self {
        match method {
            None => Self {
                method: DisclosureMethod::Exact,
                max_deviation: 0,
                k,
            },
            Some(_) => Self {
                method: DisclosureMethod::CellKeyPerturbation,
                max_deviation: disclosure::MAX_DEVIATION,
                k,
            },
        }
    }

    /// Its name in a CSV's `disclosure_control` column.
    pub const fn csv_name(&self) -> &'static str {
        match self.method {
            DisclosureMethod::Exact => "exact",
            DisclosureMethod::CellKeyPerturbation => "cell_key_perturbation",
        }
    }
}

/// A withheld group (or cell, as `row × column`) and the rule that withheld it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withheld {
    pub group: String,
    pub rule: SuppressionRule,
}

/// One group of a released one-way table. Every figure is `None` when the group
/// is withheld; rate outcomes fill the rate fields, time outcomes the time fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Group {
    pub group: String,
    pub suppressed: bool,
    pub is_reference: bool,
    /// The denominator (time outcomes: the cases observed).
    pub n: Option<u64>,
    pub numerator: Option<u64>,
    pub rate: Option<f64>,
    /// Wilson 95% interval.
    pub rate_low: Option<f64>,
    pub rate_high: Option<f64>,
    /// Against the reference group: difference with Newcombe's 95% interval.
    pub difference: Option<f64>,
    pub difference_low: Option<f64>,
    pub difference_high: Option<f64>,
    /// Ratio with a log-scale (Katz) 95% interval.
    pub ratio: Option<f64>,
    pub ratio_low: Option<f64>,
    pub ratio_high: Option<f64>,
    pub p_value: Option<f64>,
    pub test: Option<Test>,
    /// Ratio within 0.8–1.25.
    pub parity: Option<bool>,
    /// Time outcomes: how many had the event.
    pub events: Option<u64>,
    /// Time outcomes: Kaplan–Meier median in days, with its 95% interval.
    pub median: Option<f64>,
    pub median_low: Option<f64>,
    pub median_high: Option<f64>,
    /// Time outcomes: first and third quartiles in days.
    pub q1: Option<f64>,
    pub q3: Option<f64>,
    /// Time outcomes: the Kaplan–Meier curve, `(day, share still waiting)` at
    /// each day with events (fitted to the released counts; empty when withheld).
    pub curve: Vec<(f64, f64)>,
    /// Time outcomes: numbers at risk at the table's tick days (`None`: 1 to
    /// k − 1, withheld like any small count).
    pub at_risk: Vec<(u32, Option<u64>)>,
}

/// A one-way table as released to its caller.
#[derive(Debug, Clone)]
pub struct ReleasedTable {
    pub by: Stratifier,
    pub outcome: Outcome,
    /// The suppression threshold used.
    pub k: u64,
    pub reference: Option<String>,
    pub groups: Vec<Group>,
    /// `None` when the totals themselves are below k (and for time outcomes).
    pub summary: Option<Summary>,
    /// The WHO HEAT summary measures of inequality, computed from the groups as
    /// released (perturbed counts, withheld groups left out); `None` with the
    /// summary.
    pub inequality: Option<Inequality>,
    pub suppressed: Vec<Withheld>,
    /// The table as CSV, disclosure control applied (its last column names it).
    pub csv: String,
    pub control: DisclosureControl,
}

/// One cell of a released two-way table.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub row: String,
    pub column: String,
    pub suppressed: bool,
    pub n: Option<u64>,
    pub numerator: Option<u64>,
    pub rate: Option<f64>,
    pub rate_low: Option<f64>,
    pub rate_high: Option<f64>,
}

/// A two-way table as released to its caller.
#[derive(Debug, Clone)]
pub struct ReleasedTwoWay {
    pub rows: Stratifier,
    pub columns: Stratifier,
    pub outcome: Outcome,
    pub k: u64,
    pub cells: Vec<Cell>,
    /// Each withheld cell as `row × column`.
    pub suppressed: Vec<Withheld>,
    pub csv: String,
    pub control: DisclosureControl,
}

/// One month of a trend, for one group.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendPoint {
    /// `YYYY-MM`.
    pub month: String,
    pub group: String,
    pub suppressed: bool,
    pub n: Option<u64>,
    pub numerator: Option<u64>,
    pub rate: Option<f64>,
    pub rate_low: Option<f64>,
    pub rate_high: Option<f64>,
    pub control: DisclosureControl,
}
