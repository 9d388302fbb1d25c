//! Times to referral and to completion: Kaplan–Meier medians and quartiles by
//! group. Cases still waiting are censored at the period's end (the end of its
//! last month, or today), closed ones at closure. A group is withheld when its
//! cases, its events or the rest are 1 to k − 1 (with complementary suppression).
//!
//! Perturbed, each group's curve is fitted to its perturbed day counts (events,
//! censorings, open cases by day), each keyed by the group's records and the day,
//! so its medians and quartiles come from perturbed counts; the cases and events
//! it releases are its perturbed counts, as in the rate tables.

use super::csv_text;
use super::rates::{too_small_to_name, unnamed};
use super::released::{DisclosureControl, Group, ReleasedTable, Withheld};
use super::request::Outcome;
use crate::App;
use careledger_projections::equity::cube::{Counts, CubeFilter, Month, Stratifier};
use careledger_projections::equity::disclosure::CellKeyMethod;
use careledger_projections::equity::report::{self, SuppressionRule};
use careledger_projections::equity::stats::KaplanMeier;
use std::collections::HashMap;

/// The last day (days since 1970-01-01) a time query observes: the end of its
/// last month `to`, or `today` if that is earlier or there is none.
pub fn end_day(today: i32, to: Option<Month>) -> i32 {
    match to {
        None => today,
        Some(m) => {
            let (y, mo) = ((m / 12) as i32, m % 12 + 1);
            let next = if mo == 12 { (y + 1, 1) } else { (y, mo + 1) };
            let first_of_next = chrono::NaiveDate::from_ymd_opt(next.0, next.1, 1)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc().timestamp().div_euclid(86_400) as i32)
                .unwrap_or(today + 1);
            (first_of_next - 1).min(today)
        }
    }
}

/// The time table of `outcome` (a time outcome) by `by`.
pub fn table(
    app: &App,
    by: Stratifier,
    outcome: Outcome,
    f: &CubeFilter,
    k: u64,
    method: Option<&CellKeyMethod>,
) -> ReleasedTable {
    let (times, counts) = {
        let model = app.projector.read();
        let cube = model.equity();
        (cube.times(by, f), cube.groups(by, f))
    };
    let today = (app.clock.now().timestamp().div_euclid(86_400)) as i32;
    let referral = outcome == Outcome::TimeToReferral;
    let group_keys: HashMap<String, u32> =
        counts.iter().map(|(g, c)| (g.clone(), c.keys[0])).collect();
    let end = end_day(today, f.to);
    let fits: Vec<(String, KaplanMeier)> = times
        .iter()
        .map(|(g, t)| {
            let h = if referral { &t.referral } else { &t.completion };
            let km = match method {
                Some(m) => {
                    let key = group_keys.get(g).copied().unwrap_or_default();
                    h.map_counts(|kind, day, n| m.day_count(key, kind, day, n))
                        .fit(end)
                }
                None => h.fit(end),
            };
            (g.clone(), km)
        })
        .filter(|(_, km)| km.n > 0)
        .collect();
    // The curve's own totals, sums of perturbed days, are not released.
    let released: HashMap<&str, Counts> = match method {
        Some(m) => counts
            .iter()
            .map(|(g, c)| (g.as_str(), m.perturb(c)))
            .collect(),
        None => Default::default(),
    };
    let cells: Vec<(String, u64, u64)> = fits
        .iter()
        .map(|(g, km)| match released.get(g.as_str()) {
            Some(c) => {
                let events = if referral { c.referred } else { c.completed };
                (g.clone(), events, c.identified)
            }
            None => (g.clone(), km.events, km.n),
        })
        .collect();
    let rules = rules(&cells, k);
    released_table(by, outcome, k, method, &fits, &cells, &rules)
}

/// The days numbers at risk are shown at: from 0 to the last time observed,
/// every 7, 14, 30, 60, 90, 180 or 365 days — the first step giving at most 8.
fn risk_ticks(fits: &[(String, KaplanMeier)]) -> Vec<u32> {
    let last = fits
        .iter()
        .filter_map(|(_, km)| km.risk.last().map(|r| r.0))
        .fold(0.0_f64, f64::max)
        .max(0.0) as u32;
    let step = [7, 14, 30, 60, 90, 180, 365]
        .into_iter()
        .find(|s| last / s < 8)
        .unwrap_or(365);
    (0..=last / step).map(|i| i * step).collect()
}

/// Which groups to withhold: all of them when the totals are below k, else
/// primary and complementary suppression of (group, events, cases).
fn rules(cells: &[(String, u64, u64)], k: u64) -> Vec<Option<SuppressionRule>> {
    let (total_n, total_e) = cells.iter().fold((0, 0), |(n, e), c| (n + c.2, e + c.1));
    if report::primary(total_e, total_n, k).is_some() {
        vec![Some(SuppressionRule::TotalBelowK); cells.len()]
    } else {
        report::suppress(cells, k)
    }
}

/// The table as released: withheld groups' figures emptied, groups too small to
/// name left out when perturbed, the CSV.
fn released_table(
    by: Stratifier,
    outcome: Outcome,
    k: u64,
    method: Option<&CellKeyMethod>,
    fits: &[(String, KaplanMeier)],
    cells: &[(String, u64, u64)],
    rules: &[Option<SuppressionRule>],
) -> ReleasedTable {
    let ticks = risk_ticks(fits);
    let groups = fits
        .iter()
        .zip(cells)
        .zip(rules)
        .map(|(((g, km), (_, events, n)), rule)| {
            let released = rule.is_none();
            let (curve, at_risk) = if released {
                (
                    km.steps.iter().map(|s| (s.time, s.survival)).collect(),
                    ticks
                        .iter()
                        .map(|&t| {
                            let n = km.at_risk(f64::from(t)).round() as u64;
                            (t, (n == 0 || n >= k).then_some(n))
                        })
                        .collect(),
                )
            } else {
                (Vec::new(), Vec::new())
            };
            let (m, q1, q3) = (km.quantile(0.5), km.quantile(0.25), km.quantile(0.75));
            let keep = |x: Option<f64>| if released { x } else { None };
            Group {
                group: g.clone(),
                suppressed: !released,
                n: released.then_some(*n),
                events: released.then_some(*events),
                median: keep(m.estimate),
                median_low: keep(m.low),
                median_high: keep(m.high),
                q1: keep(q1.estimate),
                q3: keep(q3.estimate),
                curve,
                at_risk,
                ..Group::default()
            }
        })
        .collect::<Vec<_>>();
    // Perturbed, groups too small to name are left out (and counted).
    let named = |r: &Option<SuppressionRule>| method.is_none() || !r.is_some_and(too_small_to_name);
    let hidden = rules.iter().filter(|r| !named(r)).count();
    let (groups, kept): (Vec<Group>, Vec<Option<SuppressionRule>>) = groups
        .into_iter()
        .zip(rules.iter().copied())
        .filter(|(_, r)| named(r))
        .unzip();
    let control = DisclosureControl::new(method, k);
    let header = [
        by.name(),
        "n",
        "events",
        "median",
        "median_low",
        "median_high",
        "q1",
        "q3",
        "suppressed",
    ];
    let number = |x: Option<u64>| x.map(|v| v.to_string()).unwrap_or_default();
    let days = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
    let records = groups.iter().zip(&kept).map(|(g, r)| {
        vec![
            g.group.clone(),
            number(g.n),
            number(g.events),
            days(g.median),
            days(g.median_low),
            days(g.median_high),
            days(g.q1),
            days(g.q3),
            r.map(|r| r.code()).unwrap_or_default().to_string(),
        ]
    });
    let csv = csv_text::tagged(header, records, &control);
    let suppressed = cells
        .iter()
        .zip(rules)
        .filter(|(_, r)| named(r))
        .filter_map(|((g, _, _), r)| {
            r.map(|rule| Withheld {
                group: g.clone(),
                rule,
            })
        })
        .chain((hidden > 0).then(|| unnamed(hidden)))
        .collect();
    ReleasedTable {
        by,
        outcome,
        k,
        reference: None,
        groups,
        summary: None,
        inequality: None,
        suppressed,
        csv,
        control,
    }
}
