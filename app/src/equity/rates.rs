//! Rate tables, two-way tables and trends as released: counts perturbed (unless
//! the caller may read the records), suppression at k, and — when perturbed —
//! groups too small to name left out.
//!
//! **Why a small group is not named.** A perturbed count is never 0 for 0
//! records, so naming a group withheld for its size (or a table withheld whole)
//! would prove that someone in the filter has that characteristic — with the audit
//! trail's site, need and month, one person's profile, stratifier by stratifier.
//! Perturbed tables leave such groups out and say how many.

use super::csv_text;
use super::released::{
    Cell, DisclosureControl, Group, ReleasedTable, ReleasedTwoWay, TrendPoint, Withheld,
};
use super::request::{TableQuery, TwoWayQuery};
use careledger_projections::equity::cube::{self, Counts, Month};
use careledger_projections::equity::disclosure::CellKeyMethod;
use careledger_projections::equity::inequality::Inequality;
use careledger_projections::equity::report::{
    self, CSV_COLUMNS, OutcomeKind, Reference, SuppressionRule,
};
use careledger_projections::equity::stats;

/// The groups' counts as released to a caller.
pub fn released(
    groups: Vec<(String, Counts)>,
    method: Option<&CellKeyMethod>,
) -> Vec<(String, Counts)> {
    match method {
        None => groups,
        Some(m) => groups
            .into_iter()
            .map(|(g, c)| (g, m.perturb(&c)))
            .collect(),
    }
}

/// Whether a withheld group is too small to be named (see the module doc).
pub fn too_small_to_name(rule: SuppressionRule) -> bool {
    matches!(
        rule,
        SuppressionRule::DenominatorBelowK | SuppressionRule::TotalBelowK
    )
}

/// Leaves the groups too small to name out of a perturbed table; returns how many.
pub fn unname_small_groups(t: &mut report::EquityTable) -> usize {
    let hidden: Vec<String> = t
        .suppressed
        .iter()
        .filter(|(_, r)| too_small_to_name(*r))
        .map(|(g, _)| g.clone())
        .collect();
    t.rows.retain(|r| !hidden.contains(&r.group));
    t.suppressed.retain(|(g, _)| !hidden.contains(g));
    hidden.len()
}

/// The entry that stands for `n` groups left out unnamed.
pub fn unnamed(n: usize) -> Withheld {
    Withheld {
        group: format!("({n} small group(s), not named)"),
        rule: SuppressionRule::DenominatorBelowK,
    }
}

/// A one-way rate table of `groups` (as the cube counts them): perturbed under
/// `method`, suppressed at `k`, small groups unnamed when perturbed.
pub fn table(
    groups: Vec<(String, Counts)>,
    query: &TableQuery,
    kind: OutcomeKind,
    k: u64,
    method: Option<&CellKeyMethod>,
) -> ReleasedTable {
    let groups = released(groups, method);
    let mut t = report::table(&groups, kind, &query.reference, k);
    let hidden = if method.is_some() {
        unname_small_groups(&mut t)
    } else {
        0
    };
    // From the rows as released: perturbed counts, withheld groups left out.
    let inequality = t
        .summary
        .as_ref()
        .map(|_| Inequality::of_rows(query.by, kind.higher_is_better(), &t.rows, hidden));
    let control = DisclosureControl::new(method, k);
    let header = std::iter::once(query.by.name()).chain(CSV_COLUMNS);
    let csv = csv_text::tagged(header, t.csv_records(), &control);
    ReleasedTable {
        by: query.by,
        outcome: query.outcome,
        k: t.k,
        reference: t.reference.clone(),
        groups: t.rows.iter().map(group).collect(),
        summary: t.summary.clone(),
        inequality,
        suppressed: t
            .suppressed
            .iter()
            .map(|(g, r)| Withheld {
                group: g.clone(),
                rule: *r,
            })
            .chain((hidden > 0).then(|| unnamed(hidden)))
            .collect(),
        csv,
        control,
    }
}

/// A report row as a released group.
fn group(r: &report::GroupRow) -> Group {
    let x = r.released.as_ref();
    let c = x.and_then(|x| x.comparison.as_ref());
    Group {
        group: r.group.clone(),
        suppressed: x.is_none(),
        is_reference: r.is_reference,
        n: x.map(|x| x.n),
        numerator: x.map(|x| x.numerator),
        rate: x.map(|x| x.rate),
        rate_low: x.map(|x| x.ci.low),
        rate_high: x.map(|x| x.ci.high),
        difference: c.map(|c| c.difference),
        difference_low: c.map(|c| c.difference_ci.low),
        difference_high: c.map(|c| c.difference_ci.high),
        ratio: c.and_then(|c| c.ratio.map(|r| r.0)),
        ratio_low: c.and_then(|c| c.ratio.map(|r| r.1.low)),
        ratio_high: c.and_then(|c| c.ratio.map(|r| r.1.high)),
        p_value: c.map(|c| c.p_value),
        test: c.map(|c| c.test),
        parity: c.and_then(|c| c.parity),
        ..Group::default()
    }
}

/// A two-way table from the cube's `table` ((row, column) → counts): each cell
/// perturbed under `method`, primary and complementary suppression along rows and
/// columns, cells too small to name left out when perturbed.
pub fn two_way(
    table: &[((String, String), Counts)],
    query: &TwoWayQuery,
    k: u64,
    method: Option<&CellKeyMethod>,
) -> ReleasedTwoWay {
    let cells: Vec<(String, String, u64, u64)> = table
        .iter()
        .map(|((r, c), counts)| {
            let counts = match method {
                Some(m) => m.perturb(counts),
                None => *counts,
            };
            let (num, den) = query.kind.counts(&counts);
            (r.clone(), c.clone(), num, den)
        })
        .filter(|c| c.3 > 0)
        .collect();
    let rules = report::suppress_two_way(&cells, k);
    let mut records = Vec::new();
    let mut out = Vec::new();
    let mut suppressed = Vec::new();
    let mut hidden = 0;
    for ((r, c, num, den), rule) in cells.iter().zip(&rules) {
        if method.is_some() && rule.is_some_and(too_small_to_name) {
            // Perturbed, a cell too small to name is left out (and counted).
            hidden += 1;
            continue;
        }
        let released = rule.is_none();
        let ci = released.then(|| stats::wilson(*num, *den)).flatten();
        let rate = released.then(|| *num as f64 / *den as f64);
        if let Some(rule) = rule {
            suppressed.push(Withheld {
                group: format!("{r} × {c}"),
                rule: *rule,
            });
        }
        let figures = match (rate, ci) {
            (Some(rate), Some(ci)) => vec![
                den.to_string(),
                num.to_string(),
                format!("{rate:.6}"),
                format!("{:.6}", ci.low),
                format!("{:.6}", ci.high),
                String::new(),
            ],
            _ => {
                let mut empty = vec![String::new(); 5];
                empty.push(rule.map(|r| r.code()).unwrap_or_default().to_string());
                empty
            }
        };
        records.push([vec![r.clone(), c.clone()], figures].concat());
        out.push(Cell {
            row: r.clone(),
            column: c.clone(),
            suppressed: !released,
            n: released.then_some(*den),
            numerator: released.then_some(*num),
            rate,
            rate_low: ci.map(|i| i.low),
            rate_high: ci.map(|i| i.high),
        });
    }
    if hidden > 0 {
        suppressed.push(unnamed(hidden));
    }
    let control = DisclosureControl::new(method, k);
    let header = [query.rows.name(), query.columns.name()]
        .into_iter()
        .chain([
            "n",
            "numerator",
            "rate",
            "rate_low",
            "rate_high",
            "suppressed",
        ]);
    ReleasedTwoWay {
        rows: query.rows,
        columns: query.columns,
        outcome: query.outcome,
        k,
        cells: out,
        suppressed,
        csv: csv_text::tagged(header, records, &control),
        control,
    }
}

/// A trend from the cube's rows (month, group, counts), in month order: each
/// month a table of its own, perturbed and suppressed on its own.
pub fn trend(
    mut rows: Vec<(Month, String, Counts)>,
    kind: OutcomeKind,
    k: u64,
    method: Option<&CellKeyMethod>,
) -> Vec<TrendPoint> {
    if let Some(m) = method {
        for r in &mut rows {
            r.2 = m.perturb(&r.2);
        }
    }
    let control = DisclosureControl::new(method, k);
    let mut out = Vec::new();
    let mut i = 0;
    while i < rows.len() {
        let m = rows[i].0;
        let month: Vec<(String, Counts)> = rows[i..]
            .iter()
            .take_while(|r| r.0 == m)
            .map(|r| (r.1.clone(), r.2))
            .collect();
        i += month.len();
        let mut t = report::table(&month, kind, &Reference::Largest, k);
        if method.is_some() {
            // Perturbed, a month's groups too small to name are left out.
            unname_small_groups(&mut t);
        }
        for r in t.rows {
            let x = r.released.as_ref();
            out.push(TrendPoint {
                month: cube::month_label(m),
                group: r.group.clone(),
                suppressed: x.is_none(),
                n: x.map(|x| x.n),
                numerator: x.map(|x| x.numerator),
                rate: x.map(|x| x.rate),
                rate_low: x.map(|x| x.ci.low),
                rate_high: x.map(|x| x.ci.high),
                control,
            });
        }
    }
    out
}
