//! How the cube stores its tables: interned dimension values, a need case's place
//! ([`CaseKey`]), cell keys and their hasher, and each cell's counts and time
//! observations (sparse, then dense).

use super::counts::{Counts, Month};
use super::measures::TimeObs;
#[cfg(test)]
use super::measures::Times;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Interns the values of one dimension. (Its index is rebuilt after loading, so
/// equality looks at the values only.)
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct Dictionary {
    pub(super) values: Vec<String>,
    #[serde(skip)]
    index: HashMap<String, u16>,
}

impl PartialEq for Dictionary {
    fn eq(&self, other: &Self) -> bool {
        self.values == other.values
    }
}

impl Dictionary {
    pub(super) fn id(&mut self, v: &str) -> u16 {
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
    pub(super) fn find(&self, v: &str) -> Option<u16> {
        self.values.iter().position(|x| x == v).map(|i| i as u16)
    }
}

/// A need case's place in the cube, interned once (the cells of each table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseKey {
    pub(super) month: Month,
    pub(super) site: u16,
    pub(super) need: u16,
    /// Per stratifier, the id of the case's value.
    pub(super) values: [u16; 11],
    /// The case's row in the cube's per-case rows (two-way tables).
    #[serde(default)]
    pub(super) row: u32,
}

impl CaseKey {
    /// The case's cell in the table of stratifier `i`.
    pub(super) fn cell(&self, i: usize) -> u64 {
        key(self.month, self.site, self.need, self.values[i])
    }
}

pub(super) fn key(month: Month, site: u16, need: u16, value: u16) -> u64 {
    (u64::from(month) << 48) | (u64::from(site) << 32) | (u64::from(need) << 16) | u64::from(value)
}

pub(super) fn unkey(k: u64) -> (Month, u16, u16, u16) {
    (
        (k >> 48) as u32,
        (k >> 32) as u16,
        (k >> 16) as u16,
        k as u16,
    )
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

pub(super) type CellMap = HashMap<u64, Cell, std::hash::BuildHasherDefault<KeyHasher>>;

/// A cell's counts, as stored (u32: a cell is one month at one site for one need),
/// with their cell keys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct CellCounts {
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
    pub(super) fn change(&mut self, before: Option<&Counts>, after: Option<&Counts>) {
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
    pub(super) fn counts(&self) -> Counts {
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
    pub(super) fn is_zero(&self) -> bool {
        *self == CellCounts::default()
    }
}

/// The first day of a month, in days since 1970-01-01.
pub(super) fn month_start_day(m: Month) -> i32 {
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
pub(super) struct CellTimes {
    pub(super) sparse: Vec<(u32, u32)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) dense: Option<Box<[u16]>>,
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
    pub(super) fn swap(
        &mut self,
        hist: u32,
        before: Option<TimeObs>,
        after: Option<TimeObs>,
        start: i32,
    ) {
        if let Some(o) = before {
            self.bump(Self::code(hist, o, start), false);
        }
        if let Some(o) = after {
            self.bump(Self::code(hist, o, start), true);
        }
    }
    /// Adds this cell's observations (of the month starting on day `start`) to `into`.
    #[cfg(test)]
    pub(super) fn merge_into(&self, into: &mut Times, start: i32) {
        self.visit(|slot, day, n| {
            let h = if slot / 3 == 0 {
                &mut into.referral
            } else {
                &mut into.completion
            };
            match slot % 3 {
                0 => h.events.add(day, n),
                1 => h.censored.add(day, n),
                _ => h.open.add(start + day as i32, n),
            }
        });
    }

    /// Every observation as (slot, day from the cell's month start, count):
    /// slot / 3 is the time (to referral, to completion), slot % 3 the kind
    /// (event, censored, open).
    pub(super) fn visit(&self, mut f: impl FnMut(u32, u32, u64)) {
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
            f(slot, day, u64::from(n));
        }
    }
}

/// One cell: what its need cases contribute.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Cell {
    pub(super) counts: CellCounts,
    #[serde(default)]
    pub(super) times: CellTimes,
}
