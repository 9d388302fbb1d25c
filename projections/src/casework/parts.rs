//! The compact parts of a need-case view: what would cost every one of a
//! million views room that few of them use.

use serde::{Deserialize, Serialize};

/// A need case's rejected referrals by reason (`equity::cube::REJECTION_REASONS`
/// order), kept only by the need cases that have one (most have none): 8 bytes
/// in every view instead of 10. Serialised as the five counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rejections(Option<Box<[u16; 5]>>);

impl Rejections {
    /// The counts by reason (all zero when none was rejected).
    pub fn counts(&self) -> [u16; 5] {
        self.0.as_deref().copied().unwrap_or_default()
    }

    /// One more rejection for reason `i` (held at the `u16` ceiling, where the
    /// cube's row says it cannot tell and the count is worked out again).
    pub(super) fn add(&mut self, i: usize) {
        let counts = self.0.get_or_insert_with(Default::default);
        counts[i] = counts[i].saturating_add(1);
    }
}

impl Serialize for Rejections {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.counts().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Rejections {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let counts = <[u16; 5]>::deserialize(d)?;
        Ok(Self((counts != [0; 5]).then(|| Box::new(counts))))
    }
}

/// A need case's row in the equity cube: a `u32` with no row as `u32::MAX`
/// (4 bytes in every view; an `Option<u32>` takes 8). Serialised as the
/// `Option<u32>` it replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CubeRow(u32);

impl CubeRow {
    const NONE: u32 = u32::MAX;

    pub(crate) fn get(self) -> Option<u32> {
        (self.0 != Self::NONE).then_some(self.0)
    }

    /// Row `row`; none for the ceiling itself (the cube would need 2^32 - 1
    /// need cases to reach it).
    pub(crate) fn of(row: Option<u32>) -> Self {
        Self(row.unwrap_or(Self::NONE))
    }
}

impl Default for CubeRow {
    fn default() -> Self {
        Self(Self::NONE)
    }
}

impl Serialize for CubeRow {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.get().serialize(s)
    }
}

impl<'de> Deserialize<'de> for CubeRow {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Option::<u32>::deserialize(d).map(Self::of)
    }
}

/// A stream version as a view keeps it: four bytes, held at the ceiling
/// (a stream would need 2^32 events, hundreds of gigabytes, to reach it).
pub fn view_version(version: u64) -> u32 {
    u32::try_from(version).unwrap_or(u32::MAX)
}

/// A stream version read back as four bytes ([`view_version`]; a checkpoint
/// written when it was eight bytes could hold more).
pub(super) fn saturating_u32<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    u64::deserialize(d).map(view_version)
}
