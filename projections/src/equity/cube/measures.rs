//! What one need case contributes: its labels (site, need, stratifier values) and
//! measures (counts and times to referral and completion), read from the domain's
//! `NeedCase`.

use super::counts::{Counts, Month, month_of, record_key};
use super::stratifier::{AGE_BANDS, QUINTILES};
use careledger_domain::need_case::{CloseReason, NeedCase, NeedStatus, Outcome, ReferralStatus};
use chrono::Datelike;
use serde::{Deserialize, Serialize};

/// One need case's observation of a time to event, in days from identification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeObs {
    Event(u32),
    /// Left the risk set without the event (closed, or completed without it).
    Censored(u32),
    /// Still waiting: censored at the query's end. Holds the day of identification
    /// (days since 1970-01-01).
    Open(i32),
}

/// A small sorted map of counts: a cell holds few distinct values, and a vector
/// costs far less than a tree per cell (there are millions of cells).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Tally<K: Ord>(Vec<(K, u64)>);

impl<K: Ord> Default for Tally<K> {
    fn default() -> Self {
        Tally(Vec::new())
    }
}

impl<K: Ord + Copy> Tally<K> {
    fn merge(&mut self, o: &Tally<K>) {
        for (k, v) in &o.0 {
            match self.0.binary_search_by(|(x, _)| x.cmp(k)) {
                Ok(i) => self.0[i].1 += v,
                Err(i) => self.0.insert(i, (*k, *v)),
            }
        }
    }
    pub fn iter(&self) -> impl Iterator<Item = (&K, &u64)> {
        self.0.iter().map(|(k, v)| (k, v))
    }
    pub fn values(&self) -> impl Iterator<Item = &u64> {
        self.0.iter().map(|(_, v)| v)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// From pairs already sorted by key, each key once.
    pub(super) fn from_sorted(pairs: Vec<(K, u64)>) -> Self {
        debug_assert!(pairs.windows(2).all(|w| w[0].0 < w[1].0));
        Tally(pairs)
    }
}

/// Counts of time observations, what Kaplan–Meier needs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Hist {
    pub events: Tally<u32>,
    pub censored: Tally<u32>,
    /// Open cases by day of identification.
    pub open: Tally<i32>,
}

impl Hist {
    pub fn merge(&mut self, o: &Hist) {
        self.events.merge(&o.events);
        self.censored.merge(&o.censored);
        self.open.merge(&o.open);
    }
    /// The Kaplan–Meier fit with open cases censored at `end_day`.
    pub fn fit(&self, end_day: i32) -> crate::equity::stats::KaplanMeier {
        let obs = self
            .events
            .iter()
            .map(|(d, n)| (f64::from(*d), true, *n))
            .chain(
                self.censored
                    .iter()
                    .map(|(d, n)| (f64::from(*d), false, *n)),
            )
            .chain(
                self.open
                    .iter()
                    .filter(|(day, _)| **day <= end_day)
                    .map(|(day, n)| (f64::from(end_day - day), false, *n)),
            );
        crate::equity::stats::KaplanMeier::fit_weighted(obs)
    }
    /// The same observations with every count replaced by `f(kind, day, count)`
    /// (kind 0: events by day, 1: censorings by day, 2: open cases by day of
    /// identification); counts that become zero are dropped. Used to perturb a
    /// group's curve before it is fitted.
    pub fn map_counts(&self, f: impl Fn(u8, i64, u64) -> u64) -> Hist {
        fn map<K: Ord + Copy + Into<i64>>(
            t: &Tally<K>,
            kind: u8,
            f: &impl Fn(u8, i64, u64) -> u64,
        ) -> Tally<K> {
            Tally(
                t.0.iter()
                    .map(|(k, n)| (*k, f(kind, (*k).into(), *n)))
                    .filter(|(_, n)| *n > 0)
                    .collect(),
            )
        }
        Hist {
            events: map(&self.events, 0, &f),
            censored: map(&self.censored, 1, &f),
            open: map(&self.open, 2, &f),
        }
    }
    pub fn cases(&self) -> u64 {
        self.events
            .values()
            .chain(self.censored.values())
            .chain(self.open.values())
            .sum()
    }
}

/// Times to referral and to completion in a cell.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Times {
    pub referral: Hist,
    pub completion: Hist,
}

/// Where one need case sits: fixed from its identification on.
#[derive(Debug, Clone, PartialEq)]
pub struct Labels<'a> {
    pub month: Month,
    pub site: &'a str,
    pub need: &'a str,
    pub values: [Label<'a>; 11],
}

/// One stratifier's value of a need case: the fixed name of a variant
/// (`Sex::name`, an age band, …), or text the case holds (its region,
/// language, site). The cube remembers the id of a fixed name by the name's
/// address, so interning a case compares no text for these.
#[derive(Debug, Clone, Copy)]
pub enum Label<'a> {
    Name(&'static str),
    Text(&'a str),
}

impl<'a> Label<'a> {
    pub fn as_str(&self) -> &'a str {
        match *self {
            Label::Name(s) => s,
            Label::Text(s) => s,
        }
    }
}

impl PartialEq for Label<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl std::fmt::Display for Label<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one need case contributes now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measures {
    pub counts: Counts,
    pub to_referral: TimeObs,
    pub to_completion: TimeObs,
}
/// The labels of a need case (`None` before identification, and for a need
/// case entered in error, which counts for nothing).
pub fn labels(case: &NeedCase) -> Option<Labels<'_>> {
    let d = case.data()?;
    if case.status() == Some(NeedStatus::EnteredInError) {
        return None;
    }
    let p = &d.recipient;
    Some(Labels {
        month: month_of(d.identified_at.year(), d.identified_at.month()),
        site: p.site.as_str(),
        need: d.need.as_str(),
        values: [
            Label::Name(crate::equity::cube::age_name(
                p.age_band_at(d.identified_at),
            )),
            Label::Name(p.sex.name()),
            Label::Text(p.region.as_str()),
            Label::Name(p.country.code()),
            Label::Text(p.language.language()),
            Label::Name(p.preferential_reimbursement.name()),
            Label::Name(
                p.deprivation_decile
                    .map_or("unknown", |d| quintile_name(d.quintile())),
            ),
            Label::Name(p.kind.name()),
            Label::Text(p.site.as_str()),
            Label::Name(p.cancer_site_group.name()),
            Label::Name(d.domain.name()),
        ],
    })
}

/// What a need case contributes, with its rejected referrals by reason (`None`:
/// nothing — not identified, or entered in error). Takes the domain's state, not
/// the casework view, so the cube depends on the domain only.
pub fn measures(case: &NeedCase, rejections: [u16; 5]) -> Option<Measures> {
    let d = case.data()?;
    let status = case.status().unwrap_or(NeedStatus::Identified);
    if status == NeedStatus::EnteredInError {
        return None;
    }
    let live = || {
        d.referrals
            .iter()
            .filter(|r| r.status != ReferralStatus::EnteredInError)
    };
    let completed_with = |ok: &[Outcome]| {
        live().any(|r| {
            r.status == ReferralStatus::Completed && r.outcome.is_some_and(|o| ok.contains(&o))
        })
    };
    let referrals = live().count() as u64;
    let days = |t: chrono::DateTime<chrono::Utc>| days_between(d.identified_at, t);
    let id_day = (d.identified_at.timestamp().div_euclid(86_400)) as i32;
    let finished_at = || {
        d.closed.map(|(_, at)| at).or_else(|| {
            live()
                .filter(|r| r.status == ReferralStatus::Completed)
                .map(|r| r.changed_at)
                .max()
        })
    };
    let to_referral = match live().map(|r| r.requested_at).min() {
        Some(t) => TimeObs::Event(days(t)),
        None => match d.closed {
            Some((_, at)) => TimeObs::Censored(days(at)),
            None => TimeObs::Open(id_day),
        },
    };
    let done_ok = live()
        .filter(|r| {
            r.status == ReferralStatus::Completed
                && r.outcome
                    .is_some_and(|o| matches!(o, Outcome::NeedMet | Outcome::NeedPartlyMet))
        })
        .map(|r| r.changed_at)
        .min();
    let to_completion = match done_ok {
        Some(t) => TimeObs::Event(days(t)),
        None => match (status.is_finished(), finished_at()) {
            (true, Some(at)) => TimeObs::Censored(days(at)),
            _ => TimeObs::Open(id_day),
        },
    };
    Some(Measures {
        to_referral,
        to_completion,
        counts: Counts {
            identified: 1,
            referred: u64::from(referrals > 0),
            completed: u64::from(
                status == NeedStatus::Completed
                    && completed_with(&[Outcome::NeedMet, Outcome::NeedPartlyMet]),
            ),
            unmet: u64::from(
                matches!(d.closed, Some((CloseReason::NoServiceAvailable, _)))
                    || (status == NeedStatus::Completed
                        && completed_with(&[Outcome::NeedNotMet])
                        && !completed_with(&[Outcome::NeedMet, Outcome::NeedPartlyMet])),
            ),
            referrals,
            rejected: rejections.map(u64::from),
            keys: [0; 10],
        }
        .keyed(record_key(d.id.as_uuid())),
    })
}

/// Whole days from `from` to `to`, none when `to` is earlier: what
/// `(to - from).num_days().max(0)` gives, from the seconds and nanoseconds
/// directly (chrono's subtraction builds a normalised `TimeDelta` first).
pub(super) fn days_between(
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
) -> u32 {
    let (nt, nf) = (to.timestamp_subsec_nanos(), from.timestamp_subsec_nanos());
    if nt >= 1_000_000_000 || nf >= 1_000_000_000 {
        // A leap second: chrono's own arithmetic knows its rules.
        return (to - from).num_days().max(0) as u32;
    }
    let mut secs = to.timestamp() - from.timestamp();
    if nt < nf {
        secs -= 1;
    }
    (secs.max(0) / 86_400) as u32
}

/// An age band's label ([`AGE_BANDS`], youngest first).
pub fn age_name(a: careledger_domain::values::AgeBand) -> &'static str {
    use careledger_domain::values::AgeBand as A;
    AGE_BANDS[match a {
        A::Under18 => 0,
        A::From18To39 => 1,
        A::From40To64 => 2,
        A::From65To74 => 3,
        A::From75 => 4,
    }]
}

/// A deprivation quintile's label (1..=5 → [`QUINTILES`], Q1 most deprived).
fn quintile_name(q: u8) -> &'static str {
    QUINTILES[usize::from(q.clamp(1, 5)) - 1]
}
