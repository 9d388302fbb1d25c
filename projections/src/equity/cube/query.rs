//! The cube itself: taking a need case's old contribution out and putting the new one
//! in, and answering queries by stratifier, month, site and need ([`CubeFilter`]).

use super::cell::{CaseKey, Cell, CellMap, Change, Dictionary, unkey};
use super::counts::{Counts, Month};
use super::measures::{Hist, Label, Labels, Measures, Tally, TimeObs, Times};
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
    /// Per stratifier: (month, site, need, value) → counts (the times are in `rows`).
    cells: Vec<CellMap>,
    /// Per need case, its place and what it counts, compact: a two-way table
    /// needs two stratifiers of one case at once, which the one-way tables do
    /// not keep; a walk over these contiguous rows costs milliseconds where one
    /// over the need cases themselves cost ~150 ms at 1,000,000.
    #[serde(default)]
    rows: Vec<(CaseKey, Row)>,
    /// Per stratifier, the ids of the fixed names already interned, by the
    /// names' addresses (see [`Label`]); rebuilt as cases are interned.
    #[serde(skip)]
    named: NamedIds,
}

/// Per stratifier: (address, length) of a `'static` name → its id in the
/// stratifier's dictionary. A static string never changes, so an address
/// once seen names the same text for the rest of the process (two addresses
/// may hold the same text: both map to its one id). Not part of the model's
/// value: equal cubes may have looked up different names so far.
#[derive(Debug, Clone, Default)]
struct NamedIds(Vec<Vec<((usize, usize), u16)>>);

impl PartialEq for NamedIds {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// One need case's counts, compact (identified, referred, completed and unmet
/// are 0 or 1; the cell keys follow from its record key).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
struct Row {
    record_key: u32,
    flags: u8,
    referrals: u16,
    rejected: [u16; 5],
    /// Times to referral and to completion: (kind, day) with kind 0 none,
    /// 1 event, 2 censored (days from identification), 3 open (day of
    /// identification), each in four bytes ([`Obs`]; a row is 28 bytes,
    /// 36 with the pairs). Checkpoints hold the pairs.
    #[serde(with = "obs_pairs")]
    times: [Obs; 2],
}

/// A time observation (kind, day) in one `u32`: the kind in the top two bits,
/// the day in the low thirty, two's complement. Lossless for every day chrono
/// can name: its dates span ±262,143 years, ±96 million days (27 bits), and
/// the days between two of them fit 28.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Obs(u32);

impl Obs {
    const DAY_BITS: u32 = 30;
    const DAY_MASK: u32 = (1 << Self::DAY_BITS) - 1;

    /// Kind 0 (none) for a day beyond the thirty bits, which no date chrono
    /// can name reaches: the row then cannot say what the case contributes
    /// ([`Row::measures`]), and the fold works it out from the case.
    fn new(pair: (u8, i32)) -> Self {
        debug_assert!(pair.0 < 4);
        Self::try_new(pair).unwrap_or_default()
    }

    /// `None` for a kind beyond two bits or a day beyond thirty.
    fn try_new((kind, day): (u8, i32)) -> Option<Self> {
        (kind < 4 && day.unsigned_abs() < 1 << (Self::DAY_BITS - 1))
            .then(|| Self((u32::from(kind) << Self::DAY_BITS) | (day as u32 & Self::DAY_MASK)))
    }

    fn get(self) -> (u8, i32) {
        let kind = (self.0 >> Self::DAY_BITS) as u8;
        // The low thirty bits, sign-extended.
        let day = ((self.0 << (32 - Self::DAY_BITS)) as i32) >> (32 - Self::DAY_BITS);
        (kind, day)
    }
}

/// A row's times as checkpoints hold them: (kind, day) pairs.
mod obs_pairs {
    use super::Obs;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(times: &[Obs; 2], s: S) -> Result<S::Ok, S::Error> {
        times.map(Obs::get).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[Obs; 2], D::Error> {
        let [a, b] = <[(u8, i32); 2]>::deserialize(d)?;
        let packed = |(kind, day)| {
            Obs::try_new((kind, day)).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "a cube row's time ({kind}, {day}) is out of range"
                ))
            })
        };
        Ok([packed(a)?, packed(b)?])
    }
}

impl Row {
    fn of(m: &Measures) -> Row {
        let c = &m.counts;
        let bit = |n: u64, b: u8| if n > 0 { 1 << b } else { 0 };
        let obs = |o: TimeObs| match o {
            TimeObs::Event(d) => (1, d as i32),
            TimeObs::Censored(d) => (2, d as i32),
            TimeObs::Open(d) => (3, d),
        };
        Row {
            times: [Obs::new(obs(m.to_referral)), Obs::new(obs(m.to_completion))],
            record_key: c.keys[0],
            flags: bit(c.identified, 0)
                | bit(c.referred, 1)
                | bit(c.completed, 2)
                | bit(c.unmet, 3),
            referrals: c.referrals.min(u64::from(u16::MAX)) as u16,
            rejected: c.rejected.map(|n| n.min(u64::from(u16::MAX)) as u16),
        }
    }

    /// The measures the row was written from (the inverse of [`Row::of`]):
    /// `Some(None)` for an empty row (the case counts for nothing), `None` when
    /// the compact form cannot say (a count at its ceiling, a day beyond
    /// [`Obs`]'s range).
    fn measures(&self) -> Option<Option<Measures>> {
        if *self == Row::default() {
            return Some(None);
        }
        let flag = |b: u8| u64::from((self.flags >> b) & 1);
        let obs = |(kind, d): (u8, i32)| match kind {
            1 => Some(TimeObs::Event(d as u32)),
            2 => Some(TimeObs::Censored(d as u32)),
            3 => Some(TimeObs::Open(d)),
            _ => None,
        };
        if flag(0) == 0 || self.referrals == u16::MAX || self.rejected.contains(&u16::MAX) {
            return None;
        }
        Some(Some(Measures {
            to_referral: obs(self.times[0].get())?,
            to_completion: obs(self.times[1].get())?,
            counts: Counts {
                identified: 1,
                referred: flag(1),
                completed: flag(2),
                unmet: flag(3),
                referrals: u64::from(self.referrals),
                rejected: self.rejected.map(u64::from),
                keys: [0; 10],
            }
            .keyed(self.record_key),
        }))
    }

    /// Its counts in [`Counts::fields`] order.
    fn fields(&self) -> [u64; 10] {
        let flag = |b: u8| u64::from((self.flags >> b) & 1);
        let r = self.rejected.map(u64::from);
        [
            flag(0),
            flag(1),
            flag(2),
            flag(3),
            u64::from(self.referrals),
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
        ]
    }
}

impl Cube {
    fn ensure(&mut self) {
        if self.cells.len() != Stratifier::ALL.len() {
            self.cells = vec![CellMap::default(); Stratifier::ALL.len()];
            self.values = vec![Dictionary::default(); Stratifier::ALL.len()];
            self.named = NamedIds::default();
        }
        // Not in a checkpoint: empty after one is read (and after a reset above).
        if self.named.0.len() != Stratifier::ALL.len() {
            self.named.0 = vec![Vec::new(); Stratifier::ALL.len()];
        }
    }

    /// The cells a need case with these labels falls in.
    pub fn intern(&mut self, l: &Labels<'_>) -> CaseKey {
        self.ensure();
        let site = self.sites.id(l.site);
        let need = self.needs.id(l.need);
        let mut values = [0u16; 11];
        for (i, v) in l.values.iter().enumerate() {
            values[i] = match *v {
                Label::Text(t) => self.values[i].id(t),
                Label::Name(n) => {
                    let at = (n.as_ptr() as usize, n.len());
                    let known = &mut self.named.0[i];
                    match known.iter().find(|(a, _)| *a == at) {
                        Some(&(_, id)) => id,
                        None => {
                            let id = self.values[i].id(n);
                            known.push((at, id));
                            id
                        }
                    }
                }
            };
        }
        let key = CaseKey {
            month: l.month,
            site,
            need,
            values,
            row: self.rows.len() as u32,
        };
        self.rows.push((key, Row::default()));
        key
    }

    /// The key of the case in row `row` (see [`CaseKey::row`]).
    pub fn case_key(&self, row: u32) -> Option<CaseKey> {
        self.rows.get(row as usize).map(|(k, _)| *k)
    }

    /// What the case in row `row` contributes now, as [`Cube::replace`] last
    /// wrote it (`Some(None)`: nothing), read back from its compact row instead
    /// of worked out again from the case; `None` when the row cannot say (no
    /// such row, or a count at the compact form's ceiling).
    pub fn measures_of(&self, row: u32) -> Option<Option<Measures>> {
        self.rows.get(row as usize)?.1.measures()
    }

    /// Writes the case's row, and takes `before`'s counts out of its cells and
    /// puts `after`'s in (one lookup per table; none when only its times moved).
    pub fn replace(&mut self, at: &CaseKey, before: Option<&Measures>, after: Option<&Measures>) {
        if before == after {
            return;
        }
        self.ensure();
        if let Some(row) = self.rows.get_mut(at.row as usize) {
            row.1 = after.map(Row::of).unwrap_or_default();
        }
        let counts = (before.map(|m| m.counts), after.map(|m| m.counts));
        if counts.0 == counts.1 {
            // Only its times moved: the row holds them.
            return;
        }
        let change = Change::between(counts.0.as_ref(), counts.1.as_ref());
        for i in 0..Stratifier::ALL.len() {
            if DERIVED.contains(&i) {
                continue;
            }
            let k = at.cell(i);
            let cell = self.cells[i].entry(k).or_default();
            cell.counts.change(&change);
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

    /// Time observations by value of `by`, from the per-case rows (one pass
    /// over contiguous memory; the cells' day tables cost ~50 ms at 1,000,000).
    pub fn times(&self, by: Stratifier, filter: &CubeFilter) -> Vec<(String, Times)> {
        let table = if DERIVED.contains(&by.index()) {
            BASE.index()
        } else {
            by.index()
        };
        let keep = self.selector(filter);
        let mut acc: Vec<Option<DenseTimes>> = Vec::new();
        for (key, row) in &self.rows {
            if row.flags & 1 == 0 {
                continue;
            }
            let (month, site, need, value) = unkey(key.cell(table));
            if !keep(month, site, need) {
                continue;
            }
            let g = Self::group_of(by, site, need, value) as usize;
            if acc.len() <= g {
                acc.resize_with(g + 1, || None);
            }
            let d = acc[g].get_or_insert_with(DenseTimes::default);
            for (t, obs) in row.times.iter().enumerate() {
                d.add(t, obs.get());
            }
        }
        let mut out: std::collections::BTreeMap<String, Times> = Default::default();
        for (id, t) in acc.into_iter().enumerate() {
            let Some(t) = t else { continue };
            let t = t.into_times();
            let into = out.entry(self.name(by, id as u16)).or_default();
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
    /// and control byte), the per-case rows, the dictionaries. (Allocator
    /// overhead not included.)
    pub fn heap_bytes(&self) -> usize {
        let entry = std::mem::size_of::<(u64, Cell)>() + 1;
        let tables: usize = self
            .cells
            .iter()
            .map(|t| t.capacity() * entry)
            .sum::<usize>()
            + self.rows.capacity() * std::mem::size_of::<(CaseKey, Row)>();
        let dictionary = |d: &Dictionary| d.values.iter().map(|v| v.len() + 24).sum::<usize>();
        tables
            + dictionary(&self.sites)
            + dictionary(&self.needs)
            + self.values.iter().map(dictionary).sum::<usize>()
    }

    /// Counts by (value of `rows`, value of `columns`). The cube's tables are
    /// marginal, so a two-way table is summed over the per-case rows.
    pub fn two_way(
        &self,
        rows: Stratifier,
        columns: Stratifier,
        filter: &CubeFilter,
    ) -> Vec<((String, String), Counts)> {
        let keep = self.selector(filter);
        let (ri, ci) = (rows.index(), columns.index());
        // Summed in a dense grid of the two stratifiers' values (no hashing, no
        // per-case Counts): each case adds its fields and its record key times
        // each field, as `Counts::add` of its keyed counts would.
        // A cube nothing was folded into has no dictionaries yet.
        let (Some(rv), Some(cv)) = (self.values.get(ri), self.values.get(ci)) else {
            return Vec::new();
        };
        let ncols = cv.values.len().max(1);
        let nrows = rv.values.len().max(1);
        let mut grid: Vec<Option<([u64; 10], [u32; 10])>> = vec![None; nrows * ncols];
        for (key, row) in &self.rows {
            if row.flags & 1 == 0 {
                continue;
            }
            let (month, site, need, r) = unkey(key.cell(ri));
            if !keep(month, site, need) {
                continue;
            }
            let Some(slot) = grid.get_mut(usize::from(r) * ncols + usize::from(key.values[ci]))
            else {
                continue;
            };
            let (f, k) = slot.get_or_insert(([0; 10], [0; 10]));
            for (i, n) in row.fields().into_iter().enumerate() {
                f[i] += n;
                k[i] = k[i].wrapping_add(row.record_key.wrapping_mul(n as u32));
            }
        }
        let mut acc: HashMap<(u16, u16), Counts> = HashMap::new();
        for (i, cell) in grid.into_iter().enumerate() {
            if let Some((f, k)) = cell {
                let mut c = Counts::default().with_fields(f);
                c.keys = k;
                acc.insert(((i / ncols) as u16, (i % ncols) as u16), c);
            }
        }
        self.named_two_way(ri, ci, acc)
    }

    fn named_two_way(
        &self,
        ri: usize,
        ci: usize,
        acc: HashMap<(u16, u16), Counts>,
    ) -> Vec<((String, String), Counts)> {
        let name = |i: usize, v: u16| self.values[i].values[v as usize].clone();
        let mut out: Vec<((String, String), Counts)> = acc
            .into_iter()
            .map(|((r, c), n)| ((name(ri, r), name(ci, c)), n))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// The same table from the need cases themselves (what the rows replace;
    /// kept to check them against).
    #[cfg(test)]
    pub(crate) fn two_way_of_cases<'a>(
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
        self.named_two_way(ri, ci, acc)
    }
}

/// One group's time observations while a query sums them: days from
/// identification in arrays, open cases by their day of identification.
#[derive(Default)]
struct DenseTimes {
    /// (to referral, to completion) × (events, censored), indexed by day.
    days: [[Vec<u64>; 2]; 2],
    open: [HashMap<i32, u64>; 2],
}

impl DenseTimes {
    /// One observation of time `time` (0 to referral, 1 to completion), as a
    /// row holds it.
    fn add(&mut self, time: usize, (kind, day): (u8, i32)) {
        match kind {
            1 | 2 => {
                let v = &mut self.days[time][usize::from(kind - 1)];
                let d = day.max(0) as usize;
                if v.len() <= d {
                    v.resize(d + 1, 0);
                }
                v[d] += 1;
            }
            3 => *self.open[time].entry(day).or_default() += 1,
            _ => {}
        }
    }

    fn into_times(self) -> Times {
        let days = |v: &Vec<u64>| {
            Tally::from_sorted(
                v.iter()
                    .enumerate()
                    .filter(|(_, n)| **n > 0)
                    .map(|(d, n)| (d as u32, *n))
                    .collect(),
            )
        };
        let open = |m: &HashMap<i32, u64>| {
            let mut v: Vec<(i32, u64)> = m
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(d, n)| (*d, *n))
                .collect();
            v.sort_unstable();
            Tally::from_sorted(v)
        };
        let hist = |i: usize| Hist {
            events: days(&self.days[i][0]),
            censored: days(&self.days[i][1]),
            open: open(&self.open[i]),
        };
        Times {
            referral: hist(0),
            completion: hist(1),
        }
    }
}

#[cfg(test)]
mod obs_tests {
    use super::{Obs, Row, obs_pairs};
    use chrono::{DateTime, Utc};

    /// Every (kind, day) chrono can give round-trips through the packed form:
    /// the days of its first and last instants, the days between them, zero,
    /// minus one; and a row is 28 bytes.
    #[test]
    fn a_packed_time_keeps_every_day_chrono_can_name() {
        let (first, last) = (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
        let day = |t: DateTime<Utc>| t.timestamp().div_euclid(86_400) as i32;
        let span = crate::equity::cube::measures::days_between(first, last) as i32;
        assert!(span > 190_000_000, "chrono's range is ~191 million days");
        for kind in 0..4u8 {
            for d in [0, 1, -1, day(first), day(last), span, -span, 20_000] {
                assert_eq!(Obs::new((kind, d)).get(), (kind, d), "({kind}, {d})");
            }
        }
        assert_eq!(std::mem::size_of::<Row>(), 28);
    }

    /// A row as it was declared before its times were packed.
    #[derive(serde::Serialize)]
    struct Before {
        record_key: u32,
        flags: u8,
        referrals: u16,
        rejected: [u16; 5],
        times: [(u8, i32); 2],
    }

    /// Checkpoints hold (kind, day) pairs, as before the packing — the very
    /// bytes the row's derived form wrote —; a pair out of range is refused,
    /// not wrapped.
    #[test]
    fn checkpoints_hold_a_row_s_times_as_pairs() {
        let row = Row {
            record_key: 77,
            flags: 0b1011,
            referrals: 2,
            rejected: [0, 1, 0, 0, 3],
            times: [Obs::new((1, 12)), Obs::new((3, -7))],
        };
        let before = Before {
            record_key: 77,
            flags: 0b1011,
            referrals: 2,
            rejected: [0, 1, 0, 0, 3],
            times: [(1, 12), (3, -7)],
        };
        let bytes = rmp_serde::to_vec_named(&row).unwrap();
        assert_eq!(bytes, rmp_serde::to_vec_named(&before).unwrap());
        assert_eq!(rmp_serde::from_slice::<Row>(&bytes).unwrap(), row);
        #[derive(serde::Serialize, serde::Deserialize)]
        struct T(#[serde(with = "obs_pairs")] [Obs; 2]);
        let t = T([Obs::new((1, 12)), Obs::new((3, -7))]);
        let json = serde_json::to_value(&t).unwrap();
        assert_eq!(json, serde_json::json!([[1, 12], [3, -7]]));
        let back: T = serde_json::from_value(json).unwrap();
        assert_eq!(back.0, t.0);
        assert!(serde_json::from_value::<T>(serde_json::json!([[4, 0], [0, 0]])).is_err());
        assert!(serde_json::from_value::<T>(serde_json::json!([[1, 1 << 29], [0, 0]])).is_err());
    }
}
