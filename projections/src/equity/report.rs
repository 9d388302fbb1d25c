//! An equity table: per group the rate of an outcome with its interval, compared
//! with a reference group; a summary; and small-cell suppression applied before
//! anything leaves.
//!
//! **Suppression.** A group's figures are all withheld when its denominator, its
//! numerator or the complement (denominator − numerator) is a count from 1 to
//! k − 1 (a zero identifies nobody and is released). Because the totals are
//! released, one withheld group could be recovered by subtraction: wherever
//! exactly one group is withheld, the smallest other group is withheld too
//! (complementary suppression). Totals below k are withheld with everything.
//! The table lists every withheld group and the rule that withheld it.

use super::cube::Counts;
use super::stats::{self, Interval, Test};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeKind {
    /// Referred / identified (higher is better).
    ReferralRate,
    /// Completed with the need met or partly met / referred (higher is better).
    CompletionRate,
    /// Closed for want of a service, or not met / identified (lower is better).
    UnmetNeedRate,
    /// Referrals rejected / referrals requested (lower is better).
    RejectionRate,
}

impl OutcomeKind {
    pub fn higher_is_better(self) -> bool {
        matches!(
            self,
            OutcomeKind::ReferralRate | OutcomeKind::CompletionRate
        )
    }
    /// (numerator, denominator).
    pub fn counts(self, c: &Counts) -> (u64, u64) {
        match self {
            OutcomeKind::ReferralRate => (c.referred, c.identified),
            OutcomeKind::CompletionRate => (c.completed, c.referred),
            OutcomeKind::UnmetNeedRate => (c.unmet, c.identified),
            OutcomeKind::RejectionRate => (c.rejected_total(), c.referrals),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Largest,
    MostFavourable,
    Named(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuppressionRule {
    DenominatorBelowK,
    NumeratorBelowK,
    ComplementBelowK,
    /// Withheld so that another withheld group cannot be recovered from the totals.
    Complementary,
    /// The totals themselves are below k.
    TotalBelowK,
}

impl SuppressionRule {
    /// Its stable code in answers (`DENOMINATOR_BELOW_K`, …, `TOTAL_BELOW_K`).
    pub const fn code(self) -> &'static str {
        match self {
            SuppressionRule::DenominatorBelowK => "DENOMINATOR_BELOW_K",
            SuppressionRule::NumeratorBelowK => "NUMERATOR_BELOW_K",
            SuppressionRule::ComplementBelowK => "COMPLEMENT_BELOW_K",
            SuppressionRule::Complementary => "COMPLEMENTARY",
            SuppressionRule::TotalBelowK => "TOTAL_BELOW_K",
        }
    }

    /// Its name in the `suppressed` column of a one-way table's CSV
    /// ([`EquityTable::to_csv`]): `DenominatorBelowK`, …, `TotalBelowK`. Those
    /// files have always named rules this way, so it is kept.
    pub const fn csv_label(self) -> &'static str {
        match self {
            SuppressionRule::DenominatorBelowK => "DenominatorBelowK",
            SuppressionRule::NumeratorBelowK => "NumeratorBelowK",
            SuppressionRule::ComplementBelowK => "ComplementBelowK",
            SuppressionRule::Complementary => "Complementary",
            SuppressionRule::TotalBelowK => "TotalBelowK",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub difference: f64,
    pub difference_ci: Interval,
    pub ratio: Option<(f64, Interval)>,
    pub p_value: f64,
    pub test: Test,
    pub parity: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupRow {
    pub group: String,
    /// `None` when suppressed.
    pub released: Option<Released>,
    pub is_reference: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Released {
    pub n: u64,
    pub numerator: u64,
    pub rate: f64,
    pub ci: Interval,
    /// Against the reference (none for the reference itself).
    pub comparison: Option<Comparison>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub n: u64,
    pub numerator: u64,
    pub overall_rate: f64,
    /// Highest over lowest released rate.
    pub max_min_ratio: Option<f64>,
    pub max_difference: Option<f64>,
    /// WHO HEAT, against the most favourable released group.
    pub par: Option<f64>,
    pub paf: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EquityTable {
    pub outcome: OutcomeKind,
    pub k: u64,
    pub rows: Vec<GroupRow>,
    /// `None` when the totals are below k.
    pub summary: Option<Summary>,
    pub suppressed: Vec<(String, SuppressionRule)>,
    pub reference: Option<String>,
}

fn small(x: u64, k: u64) -> bool {
    x > 0 && x < k
}

/// The primary rule a count of `num` out of `den` breaks, if any: the
/// denominator, the numerator or the complement is a count from 1 to k − 1.
pub fn primary(num: u64, den: u64, k: u64) -> Option<SuppressionRule> {
    if small(den, k) {
        Some(SuppressionRule::DenominatorBelowK)
    } else if small(num, k) {
        Some(SuppressionRule::NumeratorBelowK)
    } else if small(den - num, k) {
        Some(SuppressionRule::ComplementBelowK)
    } else {
        None
    }
}

/// Which groups to withhold, and why (primary, then complementary).
pub fn suppress(groups: &[(String, u64, u64)], k: u64) -> Vec<Option<SuppressionRule>> {
    let mut rules: Vec<Option<SuppressionRule>> = groups
        .iter()
        .map(|(_, num, den)| primary(*num, *den, k))
        .collect();
    let withheld = rules.iter().filter(|r| r.is_some()).count();
    if withheld == 1 && groups.len() > 1 {
        // The totals would give it away: withhold the smallest other group too.
        if let Some((i, _)) = groups
            .iter()
            .enumerate()
            .filter(|(i, _)| rules[*i].is_none())
            .min_by_key(|(_, g)| (g.2, g.0.clone()))
        {
            rules[i] = Some(SuppressionRule::Complementary);
        }
    }
    rules
}

/// Suppression for a two-way table whose row and column margins are released:
/// primary suppression cell by cell, then, until nothing changes, wherever a row or
/// a column holds exactly one withheld cell, its smallest other cell is withheld too.
/// `cells` are (row, column, numerator, denominator).
pub fn suppress_two_way(
    cells: &[(String, String, u64, u64)],
    k: u64,
) -> Vec<Option<SuppressionRule>> {
    let mut rules: Vec<Option<SuppressionRule>> = cells
        .iter()
        .map(|(_, _, num, den)| primary(*num, *den, k))
        .collect();
    loop {
        let mut changed = false;
        for line in [0usize, 1] {
            let mut keys: Vec<&String> = cells
                .iter()
                .map(|c| if line == 0 { &c.0 } else { &c.1 })
                .collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let members: Vec<usize> = (0..cells.len())
                    .filter(|i| {
                        (if line == 0 {
                            &cells[*i].0
                        } else {
                            &cells[*i].1
                        }) == key
                    })
                    .collect();
                let withheld = members.iter().filter(|i| rules[**i].is_some()).count();
                if withheld == 1
                    && members.len() > 1
                    && let Some(i) = members
                        .iter()
                        .copied()
                        .filter(|i| rules[*i].is_none())
                        .min_by_key(|i| cells[*i].3)
                {
                    rules[i] = Some(SuppressionRule::Complementary);
                    changed = true;
                }
            }
        }
        if !changed {
            return rules;
        }
    }
}

/// Builds the table for `groups` (value, counts), with suppression at `k` (at least 1).
pub fn table(
    groups: &[(String, Counts)],
    outcome: OutcomeKind,
    reference: &Reference,
    k: u64,
) -> EquityTable {
    let k = k.max(1);
    let cells: Vec<(String, u64, u64)> = groups
        .iter()
        .map(|(g, c)| {
            let (num, den) = outcome.counts(c);
            (g.clone(), num, den)
        })
        .filter(|(_, _, den)| *den > 0)
        .collect();
    let total_n: u64 = cells.iter().map(|c| c.2).sum();
    let total_num: u64 = cells.iter().map(|c| c.1).sum();
    let totals_small = primary(total_num, total_n, k).is_some();
    let rules = if totals_small {
        vec![Some(SuppressionRule::TotalBelowK); cells.len()]
    } else {
        suppress(&cells, k)
    };
    let released: Vec<usize> = (0..cells.len()).filter(|i| rules[*i].is_none()).collect();
    let rate = |i: usize| cells[i].1 as f64 / cells[i].2 as f64;
    let better = |a: f64, b: f64| {
        if outcome.higher_is_better() {
            a > b
        } else {
            a < b
        }
    };
    let ref_index = match reference {
        Reference::Largest => released
            .iter()
            .copied()
            .max_by_key(|i| (cells[*i].2, std::cmp::Reverse(cells[*i].0.clone()))),
        Reference::MostFavourable => released
            .iter()
            .copied()
            .reduce(|a, b| if better(rate(b), rate(a)) { b } else { a }),
        Reference::Named(name) => released.iter().copied().find(|i| cells[*i].0 == *name),
    };
    let rows = cells
        .iter()
        .enumerate()
        .map(|(i, (g, num, den))| GroupRow {
            group: g.clone(),
            is_reference: Some(i) == ref_index,
            released: rules[i].is_none().then(|| Released {
                n: *den,
                numerator: *num,
                rate: rate(i),
                ci: stats::wilson(*num, *den).expect("n > 0"),
                comparison: ref_index.filter(|r| *r != i).map(|r| {
                    let (rn, rd) = (cells[r].1, cells[r].2);
                    let (difference, difference_ci) =
                        stats::difference(*num, *den, rn, rd).expect("n > 0");
                    let ratio = stats::ratio(*num, *den, rn, rd);
                    let (p_value, test) = stats::compare(*num, *den, rn, rd).expect("n > 0");
                    Comparison {
                        difference,
                        difference_ci,
                        parity: ratio.map(|(r, _)| stats::parity(r)),
                        ratio,
                        p_value,
                        test,
                    }
                }),
            }),
        })
        .collect();
    let summary = (!totals_small && total_n > 0).then(|| {
        let rates: Vec<f64> = released.iter().map(|i| rate(*i)).collect();
        let (max, min) = rates
            .iter()
            .fold((f64::MIN, f64::MAX), |(a, b), r| (a.max(*r), b.min(*r)));
        let overall = total_num as f64 / total_n as f64;
        let fav = released
            .iter()
            .copied()
            .reduce(|a, b| if better(rate(b), rate(a)) { b } else { a });
        let (par, paf) = match fav {
            Some(f) => {
                let (par, paf) = stats::par_paf(rate(f), overall);
                (Some(par), paf)
            }
            None => (None, None),
        };
        Summary {
            n: total_n,
            numerator: total_num,
            overall_rate: overall,
            max_min_ratio: (rates.len() >= 2 && min > 0.0).then(|| max / min),
            max_difference: (rates.len() >= 2).then_some(max - min),
            par,
            paf,
        }
    });
    EquityTable {
        outcome,
        k,
        suppressed: cells
            .iter()
            .zip(&rules)
            .filter_map(|((g, _, _), r)| r.map(|r| (g.clone(), r)))
            .collect(),
        reference: ref_index.map(|i| cells[i].0.clone()),
        rows,
        summary,
    }
}

/// The columns of a one-way table's CSV after the stratifier's.
pub const CSV_COLUMNS: [&str; 16] = [
    "n",
    "numerator",
    "rate",
    "rate_low",
    "rate_high",
    "difference",
    "difference_low",
    "difference_high",
    "ratio",
    "ratio_low",
    "ratio_high",
    "p_value",
    "test",
    "parity",
    "reference",
    "suppressed",
];

impl EquityTable {
    /// The CSV's rows, one per group, in the order of [`CSV_COLUMNS`] after the
    /// group: suppressed figures left empty, the rule named.
    pub fn csv_records(&self) -> Vec<Vec<String>> {
        let f = |x: f64| format!("{x:.6}");
        self.rows
            .iter()
            .map(|r| {
                let rule = self
                    .suppressed
                    .iter()
                    .find(|(g, _)| *g == r.group)
                    .map(|(_, rule)| rule.csv_label().to_string())
                    .unwrap_or_default();
                let mut rec = vec![r.group.clone()];
                match &r.released {
                    None => rec.extend(std::iter::repeat_n(String::new(), 14)),
                    Some(x) => {
                        rec.extend([
                            x.n.to_string(),
                            x.numerator.to_string(),
                            f(x.rate),
                            f(x.ci.low),
                            f(x.ci.high),
                        ]);
                        match &x.comparison {
                            None => rec.extend(std::iter::repeat_n(String::new(), 9)),
                            Some(c) => rec.extend([
                                f(c.difference),
                                f(c.difference_ci.low),
                                f(c.difference_ci.high),
                                c.ratio.map(|r| f(r.0)).unwrap_or_default(),
                                c.ratio.map(|r| f(r.1.low)).unwrap_or_default(),
                                c.ratio.map(|r| f(r.1.high)).unwrap_or_default(),
                                format!("{:.6e}", c.p_value),
                                c.test.name().to_string(),
                                c.parity.map(|p| p.to_string()).unwrap_or_default(),
                            ]),
                        }
                    }
                }
                rec.push(r.is_reference.to_string());
                // A released group has no rule (the column is empty).
                rec.push(if r.released.is_some() {
                    String::new()
                } else {
                    rule
                });
                rec
            })
            .collect()
    }

    /// The table as CSV (suppressed figures left empty, the rule named), with
    /// `by` naming the group column.
    pub fn to_csv(&self, by: &str) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let header = std::iter::once(by).chain(CSV_COLUMNS);
        let written = w.write_record(header).and_then(|()| {
            self.csv_records()
                .iter()
                .try_for_each(|r| w.write_record(r))
        });
        written.expect("writing CSV to memory cannot fail");
        let bytes = w.into_inner().expect("writing CSV to memory cannot fail");
        String::from_utf8(bytes).expect("CSV of UTF-8 fields is UTF-8")
    }
}

#[cfg(test)]
mod tests;
