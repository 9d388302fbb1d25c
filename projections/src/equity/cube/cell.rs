//! How the cube stores its tables: interned dimension values, a need case's place
//! ([`CaseKey`]), cell keys and their hasher, and each cell's counts.

use super::counts::{Counts, Month};
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
        // Most dictionaries (sex, age band, country, …) hold a handful of values:
        // comparing is cheaper than hashing.
        if self.values.len() <= Self::SCANNED {
            if let Some(i) = self.values.iter().position(|x| x == v) {
                return i as u16;
            }
        } else {
            if self.index.is_empty() {
                self.reindex();
            }
            if let Some(i) = self.index.get(v) {
                return *i;
            }
        }
        let i = self.values.len() as u16;
        self.values.push(v.to_string());
        if self.values.len() > Self::SCANNED {
            if self.index.is_empty() {
                self.reindex();
            } else {
                self.index.insert(v.to_string(), i);
            }
        }
        i
    }

    /// Dictionaries up to this size are searched without their index.
    const SCANNED: usize = 16;
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
    /// The case's row in the cube's per-case rows ([`super::Cube::case_key`]).
    pub fn row(&self) -> u32 {
        self.row
    }

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
    /// Adds one need case's change (see [`Change`]).
    pub(super) fn change(&mut self, c: &Change) {
        let f = &c.fields;
        self.identified = self.identified.wrapping_add(f[0]);
        self.referred = self.referred.wrapping_add(f[1]);
        self.completed = self.completed.wrapping_add(f[2]);
        self.unmet = self.unmet.wrapping_add(f[3]);
        self.referrals = self.referrals.wrapping_add(f[4]);
        for i in 0..5 {
            self.rejected[i] = self.rejected[i].wrapping_add(f[5 + i]);
        }
        for i in 0..10 {
            self.keys[i] = self.keys[i].wrapping_add(c.keys[i]);
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

/// What one need case's change adds to each of its cells: `after`'s counts less
/// `before`'s, and likewise their cell keys, modulo 2³² (a count that goes down
/// adds its two's complement). Worked out once per change, not once per table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Change {
    fields: [u32; 10],
    keys: [u32; 10],
}

impl Change {
    pub(super) fn between(before: Option<&Counts>, after: Option<&Counts>) -> Change {
        let b = before.map_or([0; 10], Counts::fields);
        let a = after.map_or([0; 10], Counts::fields);
        let (kb, ka) = (
            before.map_or([0; 10], |c| c.keys),
            after.map_or([0; 10], |c| c.keys),
        );
        Change {
            fields: std::array::from_fn(|i| (a[i] as u32).wrapping_sub(b[i] as u32)),
            keys: std::array::from_fn(|i| ka[i].wrapping_sub(kb[i])),
        }
    }
}

/// One cell: what its need cases contribute.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Cell {
    pub(super) counts: CellCounts,
}
