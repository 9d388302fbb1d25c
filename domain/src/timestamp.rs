//! Instants as read models keep them in their binary checkpoints.
//!
//! `#[serde(with = "careledger_domain::timestamp::compact")]` (and
//! [`compact_opt`] for an `Option`) leaves a human-readable format (JSON: events,
//! API answers) exactly as chrono writes it, an RFC 3339 string, and gives a
//! binary one (the MessagePack checkpoint) two integers: seconds since the Unix
//! epoch and the nanoseconds past them. Parsing a date string cost more than any
//! other part of loading a checkpoint; two integers cost almost nothing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An instant as (seconds, nanoseconds) in binary formats, RFC 3339 otherwise.
pub mod compact {
    use super::*;

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            at.serialize(s)
        } else {
            (at.timestamp(), at.timestamp_subsec_nanos()).serialize(s)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        if d.is_human_readable() {
            DateTime::<Utc>::deserialize(d)
        } else {
            let (secs, nanos) = <(i64, u32)>::deserialize(d)?;
            DateTime::from_timestamp(secs, nanos)
                .ok_or_else(|| serde::de::Error::custom("instant out of range"))
        }
    }
}

/// [`compact`] for an optional instant.
pub mod compact_opt {
    use super::*;

    #[derive(Serialize, Deserialize)]
    #[serde(transparent)]
    struct Wrapped(#[serde(with = "super::compact")] DateTime<Utc>);

    pub fn serialize<S: Serializer>(at: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        at.map(Wrapped).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Ok(Option::<Wrapped>::deserialize(d)?.map(|w| w.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Both {
        #[serde(with = "compact")]
        at: DateTime<Utc>,
        #[serde(with = "compact_opt", default)]
        maybe: Option<DateTime<Utc>>,
    }

    fn instants() -> Vec<DateTime<Utc>> {
        vec![
            Utc.with_ymd_and_hms(2026, 11, 30, 23, 59, 59).unwrap(),
            Utc.timestamp_opt(1_764_000_000, 123_456_789).unwrap(),
            Utc.timestamp_opt(-86_400 * 365 * 80, 1).unwrap(),
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
        ]
    }

    #[test]
    fn json_keeps_chronos_own_strings() {
        for at in instants() {
            let both = Both {
                at,
                maybe: Some(at),
            };
            let json = serde_json::to_value(&both).unwrap();
            let chrono = serde_json::to_value(at).unwrap();
            assert_eq!(json["at"], chrono);
            assert_eq!(json["maybe"], chrono);
            assert_eq!(serde_json::from_value::<Both>(json).unwrap(), both);
        }
        let none: Both = serde_json::from_str(r#"{"at":"2026-11-30T10:00:00Z"}"#).unwrap();
        assert_eq!(none.maybe, None);
    }

    #[test]
    fn messagepack_keeps_every_instant_to_the_nanosecond_as_integers() {
        for at in instants() {
            for maybe in [None, Some(at)] {
                let both = Both { at, maybe };
                let bytes = rmp_serde::to_vec_named(&both).unwrap();
                // No date string: the bytes hold no "T" between digits of a date.
                assert!(
                    !bytes
                        .windows(2)
                        .any(|w| w[1] == b'T' && w[0].is_ascii_digit())
                );
                assert_eq!(rmp_serde::from_slice::<Both>(&bytes).unwrap(), both);
            }
        }
    }

    #[test]
    fn messagepack_refuses_an_instant_out_of_range() {
        #[derive(Serialize)]
        struct Raw {
            at: (i64, u32),
        }
        let bytes = rmp_serde::to_vec_named(&Raw { at: (i64::MAX, 0) }).unwrap();
        assert!(rmp_serde::from_slice::<Both>(&bytes).is_err());
        let bytes = rmp_serde::to_vec_named(&Raw {
            at: (0, 2_000_000_000),
        })
        .unwrap();
        assert!(rmp_serde::from_slice::<Both>(&bytes).is_err());
    }
}
