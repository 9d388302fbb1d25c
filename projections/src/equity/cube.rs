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

use crate::casework::NeedCaseView;
use careledger_domain::need_case::{
    CloseReason, NeedStatus, Outcome, ReferralStatus, RejectionReason,
};
use careledger_domain::recipient::RecipientKind;
use chrono::Datelike;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Stratifier {
    AgeBand,
    Sex,
    Region,
    Country,
    Language,
    PreferentialReimbursement,
    DeprivationQuintile,
    RecipientKind,
    Site,
    CancerSiteGroup,
    Domain,
}

impl Stratifier {
    pub const ALL: [Stratifier; 11] = [
        Stratifier::AgeBand,
        Stratifier::Sex,
        Stratifier::Region,
        Stratifier::Country,
        Stratifier::Language,
        Stratifier::PreferentialReimbursement,
        Stratifier::DeprivationQuintile,
        Stratifier::RecipientKind,
        Stratifier::Site,
        Stratifier::CancerSiteGroup,
        Stratifier::Domain,
    ];
    fn index(self) -> usize {
        Self::ALL.iter().position(|s| *s == self).expect("listed")
    }
}

pub const REJECTION_REASONS: [RejectionReason; 5] = [
    RejectionReason::NoCapacity,
    RejectionReason::NotEligible,
    RejectionReason::OutOfArea,
    RejectionReason::MissingInformation,
    RejectionReason::Other,
];

pub fn rejection_index(r: RejectionReason) -> usize {
    REJECTION_REASONS
        .iter()
        .position(|x| *x == r)
        .expect("listed")
}

/// What need cases contribute to a cell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub identified: u64,
    pub referred: u64,
    pub completed: u64,
    pub unmet: u64,
    pub referrals: u64,
    pub rejected: [u64; 5],
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.identified += o.identified;
        self.referred += o.referred;
        self.completed += o.completed;
        self.unmet += o.unmet;
        self.referrals += o.referrals;
        for (a, b) in self.rejected.iter_mut().zip(o.rejected) {
            *a += b;
        }
    }
    fn sub(&mut self, o: &Counts) {
        self.identified -= o.identified;
        self.referred -= o.referred;
        self.completed -= o.completed;
        self.unmet -= o.unmet;
        self.referrals -= o.referrals;
        for (a, b) in self.rejected.iter_mut().zip(o.rejected) {
            *a -= b;
        }
    }
    pub fn is_zero(&self) -> bool {
        *self == Counts::default()
    }
    pub fn rejected_total(&self) -> u64 {
        self.rejected.iter().sum()
    }
    pub fn plus(mut self, o: &Counts) -> Counts {
        self.add(o);
        self
    }
}

/// A month as `yyyy * 12 + (m - 1)`.
pub type Month = u32;

pub fn month_of(year: i32, month: u32) -> Month {
    (year.max(0) as u32) * 12 + month - 1
}

pub fn month_label(m: Month) -> String {
    format!("{:04}-{:02}", m / 12, m % 12 + 1)
}

/// Interns the values of one dimension. (Its index is rebuilt after loading, so
/// equality looks at the values only.)
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Dictionary {
    values: Vec<String>,
    #[serde(skip)]
    index: HashMap<String, u16>,
}

impl PartialEq for Dictionary {
    fn eq(&self, other: &Self) -> bool {
        self.values == other.values
    }
}

impl Dictionary {
    fn id(&mut self, v: &str) -> u16 {
        if self.index.is_empty() && !self.values.is_empty() {
            self.reindex();
        }
        if let Some(i) = self.index.get(v) {
            return *i;
        }
        let i = self.values.len() as u16;
        self.values.push(v.to_string());
        self.index.insert(v.to_string(), i);
        i
    }
    fn reindex(&mut self) {
        self.index = self
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| (v.clone(), i as u16))
            .collect();
    }
    fn find(&self, v: &str) -> Option<u16> {
        self.values.iter().position(|x| x == v).map(|i| i as u16)
    }
}

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
    fn bump(&mut self, k: K, add: bool) {
        match self.0.binary_search_by(|(x, _)| x.cmp(&k)) {
            Ok(i) => {
                if add {
                    self.0[i].1 += 1;
                } else {
                    self.0[i].1 -= 1;
                    if self.0[i].1 == 0 {
                        self.0.remove(i);
                    }
                }
            }
            Err(i) if add => self.0.insert(i, (k, 1)),
            Err(_) => {}
        }
    }
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
    fn put(&mut self, o: TimeObs, add: bool) {
        match o {
            TimeObs::Event(d) => self.events.bump(d, add),
            TimeObs::Censored(d) => self.censored.bump(d, add),
            TimeObs::Open(day) => self.open.bump(day, add),
        }
    }
    pub fn merge(&mut self, o: &Hist) {
        self.events.merge(&o.events);
        self.censored.merge(&o.censored);
        self.open.merge(&o.open);
    }
    fn is_empty(&self) -> bool {
        self.events.is_empty() && self.censored.is_empty() && self.open.is_empty()
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
pub struct Labels {
    pub month: Month,
    pub site: String,
    pub need: String,
    pub values: [String; 11],
}

/// What one need case contributes now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measures {
    pub counts: Counts,
    pub to_referral: TimeObs,
    pub to_completion: TimeObs,
}

/// A need case's place in the cube, interned once (the cells of each table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseKey([u64; 11]);

/// The labels of a need case (`None` before identification).
pub fn labels(view: &NeedCaseView) -> Option<Labels> {
    parts(view, true).and_then(|(l, _)| l)
}

/// What a need case contributes (`None`: nothing — not identified, or entered in error).
pub fn measures(view: &NeedCaseView) -> Option<Measures> {
    parts(view, false).map(|(_, m)| m)
}

/// The facts of a need case as its view holds them (`None`: it counts for nothing).
fn parts(view: &NeedCaseView, with_labels: bool) -> Option<(Option<Labels>, Measures)> {
    let d = view.data()?;
    let status = view.status();
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
    let p = &d.recipient;
    let age = p.age_band_at(d.identified_at);
    let values = || {
        [
            crate::equity::cube::age_name(age).to_string(),
            enum_name(&p.sex),
            p.region.as_str().to_string(),
            p.country.code().to_string(),
            p.language.language().to_string(),
            enum_name(&p.preferential_reimbursement),
            p.deprivation_decile
                .map_or("unknown".to_string(), |d| format!("Q{}", d.quintile())),
            match p.kind {
                RecipientKind::Patient => "patient".to_string(),
                RecipientKind::Relative { .. } => "relative".to_string(),
            },
            p.site.to_string(),
            enum_name(&p.cancer_site_group),
            d.domain.name().to_string(),
        ]
    };
    let referrals = live().count() as u64;
    let days = |t: chrono::DateTime<chrono::Utc>| (t - d.identified_at).num_days().max(0) as u32;
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
    let labels = with_labels.then(|| Labels {
        month: month_of(d.identified_at.year(), d.identified_at.month()),
        site: p.site.to_string(),
        need: d.need.to_string(),
        values: values(),
    });
    Some((
        labels,
        Measures {
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
                rejected: view.rejections.map(u64::from),
            },
        },
    ))
}

/// The serde name of a unit enum variant (`female`, `yes`, `head_and_neck`).
fn enum_name<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

pub fn age_name(a: careledger_domain::values::AgeBand) -> &'static str {
    use careledger_domain::values::AgeBand as A;
    match a {
        A::Under18 => "0-17",
        A::From18To39 => "18-39",
        A::From40To64 => "40-64",
        A::From65To74 => "65-74",
        A::From75 => "75+",
    }
}

fn key(month: Month, site: u16, need: u16, value: u16) -> u64 {
    (u64::from(month) << 48) | (u64::from(site) << 32) | (u64::from(need) << 16) | u64::from(value)
}

fn unkey(k: u64) -> (Month, u16, u16, u16) {
    (
        (k >> 48) as u32,
        (k >> 32) as u16,
        (k >> 16) as u16,
        k as u16,
    )
}

/// Which need cases a query counts.
#[derive(Debug, Clone, Default)]
pub struct CubeFilter {
    /// Months of identification, inclusive.
    pub from: Option<Month>,
    pub to: Option<Month>,
    pub sites: Option<Vec<String>>,
    /// Domain names (`psychosocial`, …).
    pub domains: Option<Vec<String>>,
    pub needs: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cube {
    sites: Dictionary,
    needs: Dictionary,
    /// Per stratifier, its values.
    values: Vec<Dictionary>,
    /// Per stratifier: (month, site, need, value) → counts.
    cells: Vec<HashMap<u64, Counts>>,
    /// Per stratifier, the same cells' time observations.
    #[serde(default)]
    times: Vec<HashMap<u64, Times>>,
}

impl Cube {
    fn ensure(&mut self) {
        if self.cells.len() != Stratifier::ALL.len() {
            self.cells = vec![HashMap::new(); Stratifier::ALL.len()];
            self.values = vec![Dictionary::default(); Stratifier::ALL.len()];
        }
        if self.times.len() != Stratifier::ALL.len() {
            self.times = vec![HashMap::new(); Stratifier::ALL.len()];
        }
    }

    /// The cells a need case with these labels falls in.
    pub fn intern(&mut self, l: &Labels) -> CaseKey {
        self.ensure();
        let site = self.sites.id(&l.site);
        let need = self.needs.id(&l.need);
        let mut keys = [0u64; 11];
        for (i, v) in l.values.iter().enumerate() {
            keys[i] = key(l.month, site, need, self.values[i].id(v));
        }
        CaseKey(keys)
    }

    /// Takes `before` out of the case's cells and puts `after` in.
    pub fn replace(&mut self, at: &CaseKey, before: Option<&Measures>, after: Option<&Measures>) {
        if before == after {
            return;
        }
        self.ensure();
        if let Some(m) = before {
            self.apply(at, m, false);
        }
        if let Some(m) = after {
            self.apply(at, m, true);
        }
    }

    fn apply(&mut self, at: &CaseKey, f: &Measures, add: bool) {
        for (i, &k) in at.0.iter().enumerate() {
            let cell = self.cells[i].entry(k).or_default();
            if add {
                cell.add(&f.counts);
            } else {
                cell.sub(&f.counts);
                if cell.is_zero() {
                    self.cells[i].remove(&k);
                }
            }
            let times = self.times[i].entry(k).or_default();
            times.referral.put(f.to_referral, add);
            times.completion.put(f.to_completion, add);
            if times.referral.is_empty() && times.completion.is_empty() {
                self.times[i].remove(&k);
            }
        }
    }

    fn selector(&self, f: &CubeFilter) -> impl Fn(Month, u16, u16) -> bool + '_ {
        let ids = |d: &Dictionary, list: &Option<Vec<String>>| -> Option<Vec<u16>> {
            list.as_ref()
                .map(|l| l.iter().filter_map(|v| d.find(v)).collect())
        };
        let sites = ids(&self.sites, &f.sites);
        let needs = ids(&self.needs, &f.needs);
        let domains = f.domains.clone();
        let (from, to) = (f.from, f.to);
        move |month, site, need| {
            from.is_none_or(|m| month >= m)
                && to.is_none_or(|m| month <= m)
                && sites.as_ref().is_none_or(|s| s.contains(&site))
                && needs.as_ref().is_none_or(|n| n.contains(&need))
                && domains.as_ref().is_none_or(|ds| {
                    let code = &self.needs.values[need as usize];
                    let prefix = code.split('.').next().unwrap_or_default();
                    careledger_domain::values::NeedDomain::from_prefix(prefix)
                        .is_some_and(|d| ds.iter().any(|x| x == d.name()))
                })
        }
    }

    /// Counts by value of `by`, over the need cases `filter` selects.
    pub fn groups(&self, by: Stratifier, filter: &CubeFilter) -> Vec<(String, Counts)> {
        self.grouped(by, filter, |_| ())
            .into_iter()
            .map(|((), v, c)| (v, c))
            .collect()
    }

    /// Time observations by value of `by`.
    pub fn times(&self, by: Stratifier, filter: &CubeFilter) -> Vec<(String, Times)> {
        let i = by.index();
        let Some(cells) = self.times.get(i) else {
            return vec![];
        };
        let keep = self.selector(filter);
        let mut acc: HashMap<u16, Times> = HashMap::new();
        for (k, t) in cells {
            let (month, site, need, value) = unkey(*k);
            if keep(month, site, need) {
                let a = acc.entry(value).or_default();
                a.referral.merge(&t.referral);
                a.completion.merge(&t.completion);
            }
        }
        let mut out: Vec<(String, Times)> = acc
            .into_iter()
            .map(|(v, t)| (self.values[i].values[v as usize].clone(), t))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Counts by month and value of `by` (a trend).
    pub fn trend(&self, by: Stratifier, filter: &CubeFilter) -> Vec<(Month, String, Counts)> {
        self.grouped(by, filter, |m| m)
    }

    fn grouped<K: Ord + Copy + std::hash::Hash>(
        &self,
        by: Stratifier,
        filter: &CubeFilter,
        part: impl Fn(Month) -> K,
    ) -> Vec<(K, String, Counts)> {
        let i = by.index();
        let Some(cells) = self.cells.get(i) else {
            return vec![];
        };
        let keep = self.selector(filter);
        let mut acc: HashMap<(K, u16), Counts> = HashMap::new();
        for (k, c) in cells {
            let (month, site, need, value) = unkey(*k);
            if keep(month, site, need) {
                acc.entry((part(month), value)).or_default().add(c);
            }
        }
        let mut out: Vec<(K, String, Counts)> = acc
            .into_iter()
            .map(|((p, v), c)| (p, self.values[i].values[v as usize].clone(), c))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        out
    }

    /// How many cells the cube holds (for the benchmark's memory report).
    pub fn cell_count(&self) -> usize {
        self.cells.iter().map(HashMap::len).sum()
    }

    /// Counts by (value of `rows`, value of `columns`) over need cases given by their
    /// cube keys and current measures. The cube keeps marginal tables only, so a
    /// two-way table is summed over the cases' keys (one pass over the need cases,
    /// no event read).
    pub fn two_way<'a>(
        &self,
        rows: Stratifier,
        columns: Stratifier,
        filter: &CubeFilter,
        cases: impl Iterator<Item = (&'a CaseKey, Measures)>,
    ) -> Vec<((String, String), Counts)> {
        let keep = self.selector(filter);
        let (ri, ci) = (rows.index(), columns.index());
        let mut acc: HashMap<(u16, u16), Counts> = HashMap::new();
        for (key, m) in cases {
            let (month, site, need, r) = unkey(key.0[ri]);
            if keep(month, site, need) {
                let c = unkey(key.0[ci]).3;
                acc.entry((r, c)).or_default().add(&m.counts);
            }
        }
        let name = |i: usize, v: u16| self.values[i].values[v as usize].clone();
        let mut out: Vec<((String, String), Counts)> = acc
            .into_iter()
            .map(|((r, c), n)| ((name(ri, r), name(ci, c)), n))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}
