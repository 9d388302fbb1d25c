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

use careledger_domain::need_case::{
    CloseReason, NeedCase, NeedStatus, Outcome, ReferralStatus, RejectionReason,
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
    /// Its name in CSV headers and file names (`age_band`, `deprivation_quintile`…).
    pub const fn name(self) -> &'static str {
        match self {
            Stratifier::AgeBand => "age_band",
            Stratifier::Sex => "sex",
            Stratifier::Region => "region",
            Stratifier::Country => "country",
            Stratifier::Language => "language",
            Stratifier::PreferentialReimbursement => "preferential_reimbursement",
            Stratifier::DeprivationQuintile => "deprivation_quintile",
            Stratifier::RecipientKind => "recipient_kind",
            Stratifier::Site => "site",
            Stratifier::CancerSiteGroup => "cancer_site_group",
            Stratifier::Domain => "domain",
        }
    }
    /// Its place in [`Stratifier::ALL`] (the declaration order).
    fn index(self) -> usize {
        self as usize
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
    /// Per count (in [`Counts::fields`] order), the wrapping sum of the record keys
    /// of what it counts, each record key as often as the record is counted: the
    /// cell keys of the cell-key method (see [`super::disclosure`]). Two tables
    /// that count the same records hold the same keys, whatever query built them.
    /// (Checkpoints without them are of an older format and are not loaded: the
    /// read models are folded again from the log.)
    pub keys: [u32; 10],
}

impl Counts {
    /// The counts in a fixed order: identified, referred, completed, unmet,
    /// referrals, then the rejections by reason.
    pub fn fields(&self) -> [u64; 10] {
        let r = self.rejected;
        [
            self.identified,
            self.referred,
            self.completed,
            self.unmet,
            self.referrals,
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
        ]
    }
    /// The counts set from [`Counts::fields`] order (keys kept).
    pub fn with_fields(mut self, f: [u64; 10]) -> Counts {
        self.identified = f[0];
        self.referred = f[1];
        self.completed = f[2];
        self.unmet = f[3];
        self.referrals = f[4];
        self.rejected = [f[5], f[6], f[7], f[8], f[9]];
        self
    }
    fn add(&mut self, o: &Counts) {
        self.identified += o.identified;
        self.referred += o.referred;
        self.completed += o.completed;
        self.unmet += o.unmet;
        self.referrals += o.referrals;
        for (a, b) in self.rejected.iter_mut().zip(o.rejected) {
            *a += b;
        }
        for (a, b) in self.keys.iter_mut().zip(o.keys) {
            *a = a.wrapping_add(b);
        }
    }
    pub fn is_zero(&self) -> bool {
        *self == Counts::default()
    }
    /// One record's counts with its keys: each count times the record's key.
    pub fn keyed(mut self, record_key: u32) -> Counts {
        let f = self.fields();
        for (k, n) in self.keys.iter_mut().zip(f) {
            *k = record_key.wrapping_mul(n as u32);
        }
        self
    }
    pub fn rejected_total(&self) -> u64 {
        self.rejected.iter().sum()
    }
    pub fn plus(mut self, o: &Counts) -> Counts {
        self.add(o);
        self
    }
}

/// A need case's record key: 32 well-mixed bits of its id (SplitMix64's finaliser
/// over both halves). Not secret: the secret keys the draw, not the records.
pub fn record_key(id: uuid::Uuid) -> u32 {
    let v = id.as_u128();
    let mut z = (v as u64) ^ ((v >> 64) as u64).rotate_left(29);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) as u32
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
    fn add(&mut self, k: K, n: u64) {
        match self.0.binary_search_by(|(x, _)| x.cmp(&k)) {
            Ok(i) => self.0[i].1 += n,
            Err(i) => self.0.insert(i, (k, n)),
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

/// Tables not stored: site and domain are part of every cell's key (a need fixes
/// its domain), so their tables are the base table summed over its values.
const DERIVED: [usize; 2] = [Stratifier::Site as usize, Stratifier::Domain as usize];
const BASE: Stratifier = Stratifier::RecipientKind;

/// A need case's place in the cube, interned once (the cells of each table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseKey {
    month: Month,
    site: u16,
    need: u16,
    /// Per stratifier, the id of the case's value.
    values: [u16; 11],
}

impl CaseKey {
    /// The case's cell in the table of stratifier `i`.
    fn cell(&self, i: usize) -> u64 {
        key(self.month, self.site, self.need, self.values[i])
    }
}

/// The labels of a need case (`None` before identification).
pub fn labels(case: &NeedCase) -> Option<Labels> {
    parts(case, [0; 5], true).and_then(|(l, _)| l)
}

/// What a need case contributes, with its rejected referrals by reason (`None`:
/// nothing — not identified, or entered in error). Takes the domain's state, not
/// the casework view, so the cube depends on the domain only.
pub fn measures(case: &NeedCase, rejections: [u16; 5]) -> Option<Measures> {
    parts(case, rejections, false).map(|(_, m)| m)
}

/// The facts of a need case (`None`: it counts for nothing).
fn parts(
    case: &NeedCase,
    rejections: [u16; 5],
    with_labels: bool,
) -> Option<(Option<Labels>, Measures)> {
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
                rejected: rejections.map(u64::from),
                keys: [0; 10],
            }
            .keyed(record_key(d.id.as_uuid())),
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

/// A multiplicative hasher for the cube's `u64` cell keys (the keys are ours,
/// not an attacker's, so SipHash's flooding resistance buys nothing here and
/// costs a third of the fold).
#[derive(Debug, Clone, Copy, Default)]
pub struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        // The SplitMix64 finaliser: every key bit reaches the low bits (the bucket)
        // and the top seven (hashbrown's tag).
        let mut h = self.0;
        h ^= h >> 30;
        h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        h ^= h >> 27;
        h = h.wrapping_mul(0x94D0_49BB_1331_11EB);
        h ^ (h >> 31)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = self.0.rotate_left(5) ^ n;
    }
}

type CellMap = HashMap<u64, Cell, std::hash::BuildHasherDefault<KeyHasher>>;

/// A cell's counts, as stored (u32: a cell is one month at one site for one need),
/// with their cell keys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
struct CellCounts {
    identified: u32,
    referred: u32,
    completed: u32,
    unmet: u32,
    referrals: u32,
    rejected: [u32; 5],
    keys: [u32; 10],
}

impl CellCounts {
    fn fields(c: &Counts) -> [u64; 10] {
        c.fields()
    }
    fn slots(&mut self) -> [&mut u32; 10] {
        let [r0, r1, r2, r3, r4] = &mut self.rejected;
        [
            &mut self.identified,
            &mut self.referred,
            &mut self.completed,
            &mut self.unmet,
            &mut self.referrals,
            r0,
            r1,
            r2,
            r3,
            r4,
        ]
    }
    /// Adds `after` and takes out `before` (one need case's change).
    fn change(&mut self, before: Option<&Counts>, after: Option<&Counts>) {
        let b = before.map_or([0; 10], Self::fields);
        let a = after.map_or([0; 10], Self::fields);
        for ((slot, b), a) in self.slots().into_iter().zip(b).zip(a) {
            *slot = (i64::from(*slot) + a as i64 - b as i64) as u32;
        }
        let (kb, ka) = (
            before.map_or([0; 10], |c| c.keys),
            after.map_or([0; 10], |c| c.keys),
        );
        for ((k, b), a) in self.keys.iter_mut().zip(kb).zip(ka) {
            *k = k.wrapping_add(a).wrapping_sub(b);
        }
    }
    fn counts(&self) -> Counts {
        let r = self.rejected.map(u64::from);
        Counts {
            identified: self.identified.into(),
            referred: self.referred.into(),
            completed: self.completed.into(),
            unmet: self.unmet.into(),
            referrals: self.referrals.into(),
            rejected: r,
            keys: self.keys,
        }
    }
    fn is_zero(&self) -> bool {
        *self == CellCounts::default()
    }
}

/// The first day of a month, in days since 1970-01-01.
fn month_start_day(m: Month) -> i32 {
    chrono::NaiveDate::from_ymd_opt((m / 12) as i32, m % 12 + 1, 1)
        .map_or(0, |d| (d - chrono::NaiveDate::default()).num_days() as i32)
}

/// Days below this are counted in a cell's dense table (when it has one).
const DENSE_DAYS: u32 = 64;
/// A cell's sparse list turns dense past this many entries.
const DENSE_AFTER: usize = 24;
/// (Time to referral, time to completion) × (event, censored, open).
const SLOTS: u32 = 6;

/// What Kaplan–Meier needs, as a cell stores it. An observation is a slot (which
/// time, and event / censored / still open) and a day: days to the event or the
/// censoring, or, for open cases, the day of identification counted from the
/// first of the cell's month. A cell starts with a sorted list of (slot and day,
/// count); once that grows, days below [`DENSE_DAYS`] move to a table indexed
/// directly (one memory access instead of a binary search over cold memory —
/// this was the fold's largest cost).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct CellTimes {
    sparse: Vec<(u32, u32)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dense: Option<Box<[u16]>>,
}

impl CellTimes {
    /// `hist`: 0 time to referral, 1 time to completion.
    fn code(hist: u32, o: TimeObs, month_start: i32) -> (u32, u32) {
        let (kind, day) = match o {
            TimeObs::Event(d) => (0, d),
            TimeObs::Censored(d) => (1, d),
            TimeObs::Open(day) => (2, (day - month_start).max(0) as u32),
        };
        (hist * 3 + kind, day)
    }
    fn bump(&mut self, (slot, day): (u32, u32), add: bool) {
        // A dense counter that is full spills into the sparse list; a removal
        // takes from the dense counter first. The count is always their sum.
        if let Some(dense) = &mut self.dense
            && day < DENSE_DAYS
        {
            let c = &mut dense[(slot * DENSE_DAYS + day) as usize];
            if add && *c < u16::MAX {
                *c += 1;
                return;
            }
            if !add && *c > 0 {
                *c -= 1;
                return;
            }
        }
        let code = (slot << 28) | day.min((1 << 28) - 1);
        match self.sparse.binary_search_by_key(&code, |(k, _)| *k) {
            Ok(i) if add => self.sparse[i].1 += 1,
            Ok(i) => {
                self.sparse[i].1 -= 1;
                if self.sparse[i].1 == 0 {
                    self.sparse.remove(i);
                }
            }
            Err(i) if add => {
                self.sparse.insert(i, (code, 1));
                if self.sparse.len() > DENSE_AFTER && self.dense.is_none() {
                    self.densify();
                }
            }
            Err(_) => {}
        }
    }
    fn densify(&mut self) {
        let mut dense = vec![0u16; (SLOTS * DENSE_DAYS) as usize].into_boxed_slice();
        self.sparse.retain_mut(|(code, n)| {
            let (slot, day) = (*code >> 28, *code & ((1 << 28) - 1));
            if day < DENSE_DAYS {
                let moved = (*n).min(u32::from(u16::MAX)) as u16;
                dense[(slot * DENSE_DAYS + day) as usize] = moved;
                *n -= u32::from(moved);
            }
            *n > 0
        });
        self.dense = Some(dense);
    }
    fn swap(&mut self, hist: u32, before: Option<TimeObs>, after: Option<TimeObs>, start: i32) {
        if let Some(o) = before {
            self.bump(Self::code(hist, o, start), false);
        }
        if let Some(o) = after {
            self.bump(Self::code(hist, o, start), true);
        }
    }
    /// Adds this cell's observations (of the month starting on day `start`) to `into`.
    fn merge_into(&self, into: &mut Times, start: i32) {
        let dense = self.dense.iter().flat_map(|d| {
            d.iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(i, n)| (i as u32 / DENSE_DAYS, i as u32 % DENSE_DAYS, u32::from(*n)))
        });
        let sparse = self
            .sparse
            .iter()
            .map(|&(code, n)| (code >> 28, code & ((1 << 28) - 1), n));
        for (slot, day, n) in dense.chain(sparse) {
            let h = if slot / 3 == 0 {
                &mut into.referral
            } else {
                &mut into.completion
            };
            let n = u64::from(n);
            match slot % 3 {
                0 => h.events.add(day, n),
                1 => h.censored.add(day, n),
                _ => h.open.add(start + day as i32, n),
            }
        }
    }
}

/// One cell: what its need cases contribute.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Cell {
    counts: CellCounts,
    #[serde(default)]
    times: CellTimes,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cube {
    sites: Dictionary,
    needs: Dictionary,
    /// Per stratifier, its values.
    values: Vec<Dictionary>,
    /// Per stratifier: (month, site, need, value) → counts and time observations.
    cells: Vec<CellMap>,
}

impl Cube {
    fn ensure(&mut self) {
        if self.cells.len() != Stratifier::ALL.len() {
            self.cells = vec![CellMap::default(); Stratifier::ALL.len()];
            self.values = vec![Dictionary::default(); Stratifier::ALL.len()];
        }
    }

    /// The cells a need case with these labels falls in.
    pub fn intern(&mut self, l: &Labels) -> CaseKey {
        self.ensure();
        let site = self.sites.id(&l.site);
        let need = self.needs.id(&l.need);
        let mut values = [0u16; 11];
        for (i, v) in l.values.iter().enumerate() {
            values[i] = self.values[i].id(v);
        }
        CaseKey {
            month: l.month,
            site,
            need,
            values,
        }
    }

    /// Takes `before` out of the case's cells and puts `after` in: one lookup per
    /// table, and the time observations are touched only where they changed.
    pub fn replace(&mut self, at: &CaseKey, before: Option<&Measures>, after: Option<&Measures>) {
        if before == after {
            return;
        }
        self.ensure();
        let counts = (before.map(|m| m.counts), after.map(|m| m.counts));
        let counts_changed = counts.0 != counts.1;
        let time = |f: fn(&Measures) -> TimeObs| {
            let (b, a) = (before.map(f), after.map(f));
            (b != a).then_some((b, a))
        };
        let to_referral = time(|m| m.to_referral);
        let to_completion = time(|m| m.to_completion);
        let start = month_start_day(at.month);
        for i in 0..Stratifier::ALL.len() {
            if DERIVED.contains(&i) {
                continue;
            }
            let k = at.cell(i);
            let cell = self.cells[i].entry(k).or_default();
            if counts_changed {
                cell.counts.change(counts.0.as_ref(), counts.1.as_ref());
            }
            if let Some((b, a)) = to_referral {
                cell.times.swap(0, b, a, start);
            }
            if let Some((b, a)) = to_completion {
                cell.times.swap(1, b, a, start);
            }
            // Every need case counted in a cell has observations there and the
            // other way round, so a cell with no count is empty.
            if cell.counts.is_zero() {
                self.cells[i].remove(&k);
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
                    self.domain_of(need)
                        .is_some_and(|d| ds.iter().any(|x| x == d))
                })
        }
    }

    /// The domain of an interned need.
    fn domain_of(&self, need: u16) -> Option<&'static str> {
        let code = self.needs.values.get(need as usize)?;
        let prefix = code.split('.').next().unwrap_or_default();
        careledger_domain::values::NeedDomain::from_prefix(prefix).map(|d| d.name())
    }

    /// The table that answers for `by` (a derived stratifier reads the base table),
    /// and how a cell's key gives its group: an id, named by [`Cube::name`].
    fn table(&self, by: Stratifier) -> Option<&CellMap> {
        let i = if DERIVED.contains(&by.index()) {
            BASE.index()
        } else {
            by.index()
        };
        self.cells.get(i)
    }

    fn group_of(by: Stratifier, site: u16, need: u16, value: u16) -> u16 {
        match by {
            Stratifier::Site => site,
            Stratifier::Domain => need,
            _ => value,
        }
    }

    fn name(&self, by: Stratifier, id: u16) -> String {
        match by {
            Stratifier::Site => self.sites.values[id as usize].clone(),
            Stratifier::Domain => self.domain_of(id).unwrap_or_default().to_string(),
            _ => self.values[by.index()].values[id as usize].clone(),
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
        let Some(cells) = self.table(by) else {
            return vec![];
        };
        let keep = self.selector(filter);
        let mut acc: HashMap<u16, Times> = HashMap::new();
        for (k, cell) in cells {
            let (month, site, need, value) = unkey(*k);
            if keep(month, site, need) {
                let start = month_start_day(month);
                let group = Self::group_of(by, site, need, value);
                cell.times.merge_into(acc.entry(group).or_default(), start);
            }
        }
        // Several ids can share a name (the needs of one domain).
        let mut out: std::collections::BTreeMap<String, Times> = Default::default();
        for (id, t) in acc {
            let into = out.entry(self.name(by, id)).or_default();
            into.referral.merge(&t.referral);
            into.completion.merge(&t.completion);
        }
        out.into_iter().collect()
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
        let Some(cells) = self.table(by) else {
            return vec![];
        };
        let keep = self.selector(filter);
        let mut acc: HashMap<(K, u16), Counts> = HashMap::new();
        for (k, cell) in cells {
            let (month, site, need, value) = unkey(*k);
            if keep(month, site, need) && !cell.counts.is_zero() {
                acc.entry((part(month), Self::group_of(by, site, need, value)))
                    .or_default()
                    .add(&cell.counts.counts());
            }
        }
        // Several ids can share a name (the needs of one domain).
        let mut out: std::collections::BTreeMap<(K, String), Counts> = Default::default();
        for ((p, id), c) in acc {
            out.entry((p, self.name(by, id))).or_default().add(&c);
        }
        out.into_iter().map(|((p, v), c)| (p, v, c)).collect()
    }

    /// How many cells the cube holds (for the benchmark's memory report).
    pub fn cell_count(&self) -> usize {
        self.cells.iter().map(CellMap::len).sum()
    }

    /// The bytes the cube's tables hold on the heap: each table's buckets (entry
    /// and control byte), each cell's sparse list and dense table, the
    /// dictionaries. (Allocator overhead not included.)
    pub fn heap_bytes(&self) -> usize {
        let entry = std::mem::size_of::<(u64, Cell)>() + 1;
        let tables: usize = self
            .cells
            .iter()
            .map(|t| {
                t.capacity() * entry
                    + t.values()
                        .map(|c| {
                            c.times.sparse.capacity() * std::mem::size_of::<(u32, u32)>()
                                + c.times.dense.as_ref().map_or(0, |d| d.len() * 2)
                        })
                        .sum::<usize>()
            })
            .sum();
        let dictionary = |d: &Dictionary| d.values.iter().map(|v| v.len() + 24).sum::<usize>();
        tables
            + dictionary(&self.sites)
            + dictionary(&self.needs)
            + self.values.iter().map(dictionary).sum::<usize>()
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
            let (month, site, need, r) = unkey(key.cell(ri));
            if keep(month, site, need) {
                let c = key.values[ci];
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn stratifier_indices_follow_the_declaration_order() {
        for (i, s) in Stratifier::ALL.iter().enumerate() {
            assert_eq!(s.index(), i, "{s:?}");
        }
        assert_eq!(Stratifier::ALL[DERIVED[0]], Stratifier::Site);
        assert_eq!(Stratifier::ALL[DERIVED[1]], Stratifier::Domain);
    }

    /// The naive model: (time, observation) → count.
    type Naive = BTreeMap<(u32, (u8, i64)), u64>;

    fn naive_key(o: TimeObs) -> (u8, i64) {
        match o {
            TimeObs::Event(d) => (0, i64::from(d)),
            TimeObs::Censored(d) => (1, i64::from(d)),
            TimeObs::Open(d) => (2, i64::from(d)),
        }
    }

    fn as_naive(t: &Times) -> Naive {
        let mut out = Naive::new();
        for (h, hist) in [(0, &t.referral), (1, &t.completion)] {
            for (d, n) in hist.events.iter() {
                out.insert((h, (0, i64::from(*d))), *n);
            }
            for (d, n) in hist.censored.iter() {
                out.insert((h, (1, i64::from(*d))), *n);
            }
            for (d, n) in hist.open.iter() {
                out.insert((h, (2, i64::from(*d))), *n);
            }
        }
        out
    }

    #[test]
    fn cell_times_agree_with_a_naive_count_through_densifying_and_spilling() {
        let start = month_start_day(month_of(2026, 3));
        let mut cell = CellTimes::default();
        let mut naive = Naive::new();
        let mut rng = 0x2545_F491_4F6C_DD1Du64;
        let mut next = |m: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % m
        };
        let mut live: Vec<(u32, TimeObs)> = Vec::new();
        for step in 0..20_000 {
            let hist = next(2) as u32;
            // Days below and above the dense range; open cases within the month.
            let obs = match next(3) {
                0 => TimeObs::Event(next(90) as u32),
                1 => TimeObs::Censored(next(90) as u32),
                _ => TimeObs::Open(start + next(31) as i32),
            };
            if step % 3 == 2 && !live.is_empty() {
                // Move one observation (a need case's change), or take it out.
                let (h, before) = live.swap_remove(next(live.len() as u64) as usize);
                let after = (next(4) > 0).then_some(obs);
                cell.swap(h, Some(before), after.filter(|_| h == hist), start);
                *naive.get_mut(&(h, naive_key(before))).unwrap() -= 1;
                if let Some(a) = after.filter(|_| h == hist) {
                    *naive.entry((h, naive_key(a))).or_default() += 1;
                    live.push((h, a));
                }
            } else {
                cell.swap(hist, None, Some(obs), start);
                *naive.entry((hist, naive_key(obs))).or_default() += 1;
                live.push((hist, obs));
            }
        }
        assert!(cell.dense.is_some(), "the cell grew dense");
        // One observation more than a dense counter holds.
        let many = TimeObs::Event(3);
        for _ in 0..(u32::from(u16::MAX) + 10) {
            cell.swap(0, None, Some(many), start);
        }
        *naive.entry((0, naive_key(many))).or_default() += u64::from(u16::MAX) + 10;
        naive.retain(|_, n| *n > 0);
        let mut merged = Times::default();
        cell.merge_into(&mut merged, start);
        assert_eq!(as_naive(&merged), naive);
        // And back down past the spill.
        for _ in 0..(u32::from(u16::MAX) + 10) {
            cell.swap(0, Some(many), None, start);
        }
        let mut merged = Times::default();
        cell.merge_into(&mut merged, start);
        let mut expected = naive.clone();
        *expected.get_mut(&(0, naive_key(many))).unwrap() -= u64::from(u16::MAX) + 10;
        expected.retain(|_, n| *n > 0);
        assert_eq!(as_naive(&merged), expected);
    }
}
