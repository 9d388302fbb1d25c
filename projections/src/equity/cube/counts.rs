//! What need cases contribute to a cell ([`Counts`]), the months cells are keyed by,
//! and a need case's record key.

use serde::{Deserialize, Serialize};

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
    pub(super) fn add(&mut self, o: &Counts) {
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
