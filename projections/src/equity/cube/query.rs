//! The cube itself: taking a need case's old contribution out and putting the new one
//! in, and answering queries by stratifier, month, site and need ([`CubeFilter`]).

use super::cell::{CaseKey, Cell, CellMap, Dictionary, month_start_day, unkey};
use super::counts::{Counts, Month};
use super::measures::{Labels, Measures, TimeObs, Times};
use super::stratifier::Stratifier;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Tables not stored: site and domain are part of every cell's key (a need fixes
/// its domain), so their tables are the base table summed over its values.
pub(super) const DERIVED: [usize; 2] = [Stratifier::Site as usize, Stratifier::Domain as usize];
const BASE: Stratifier = Stratifier::RecipientKind;
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
