//! Identifiers. Every aggregate id is a UUID wrapped in its own type so that a
//! referral id can never be passed where a need-case id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        // Ordered as one 128-bit number, the same order as the UUID's bytes
        // (big-endian), without a byte-slice comparison per step of a B-tree
        // search (the read models' maps are keyed by these ids): the high halves
        // first, which settle it for any two UUIDv7 made a millisecond apart, so
        // a search step mostly reads one half. Hashed as one 128-bit number.
        impl Ord for $name {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                let (a, b) = (self.0.as_u64_pair(), other.0.as_u64_pair());
                match a.0.cmp(&b.0) {
                    std::cmp::Ordering::Equal => a.1.cmp(&b.1),
                    o => o,
                }
            }
        }

        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        impl std::hash::Hash for $name {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                state.write_u128(self.0.as_u128());
            }
        }

        impl $name {
            /// The category prefix used in stream names and global ids.
            pub const PREFIX: &'static str = $prefix;

            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// Parses the canonical hyphenated (or simple) UUID text form.
            pub fn parse(s: &str) -> Result<Self, crate::values::ValueError> {
                Uuid::try_parse(s.trim()).map(Self).map_err(|_| crate::values::ValueError::InvalidId {
                    kind: stringify!($name),
                    value: crate::values::clip(s),
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

#[cfg(test)]
mod order_tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Ids order as their UUIDs' bytes do (what the derived order was), so
        /// every map keyed by them iterates, pages and snapshots as before.
        #[test]
        fn ids_order_as_their_uuid_bytes(a in any::<u128>(), b in any::<u128>(), same in any::<bool>()) {
            let (x, y) = (Uuid::from_u128(a), Uuid::from_u128(if same { a } else { b }));
            let (i, j) = (NeedCaseId::from_uuid(x), NeedCaseId::from_uuid(y));
            prop_assert_eq!(i.cmp(&j), x.as_bytes().cmp(y.as_bytes()));
            prop_assert_eq!(i.cmp(&j), x.cmp(&y));
            prop_assert_eq!(i == j, x == y);
        }
    }
}

uuid_id!(
    /// A care recipient (patient or relative). Pseudonymous: the id says nothing about the person.
    RecipientId,
    "recipient"
);
uuid_id!(
    /// One need identified for one care recipient; its events form the stream `need-<uuid>`.
    NeedCaseId,
    "need"
);
uuid_id!(
    /// A referral inside a need case.
    ReferralId,
    "referral"
);
uuid_id!(
    /// A service of the directory; its events form the stream `service-<uuid>`.
    ServiceId,
    "service"
);
uuid_id!(
    /// An organisation of the directory (HSDS `organization.id`): what a
    /// provider's credential names.
    OrganisationId,
    "organisation"
);

uuid_id!(
    /// A note on a referral (issue 16): the id of the command that added it
    /// (its idempotency key), so a retried note names the same note.
    NoteId,
    "note"
);

uuid_id!(
    /// An answer link of a referral (issue 16): a signed, expiring link a
    /// service without an account answers the referral through.
    AnswerLinkId,
    "answerlink"
);

/// The id of an event: a UUIDv7 (time-ordered) that is also the idempotency key of
/// the append that wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(Uuid);

impl EventId {
    pub const fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }
    pub const fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
