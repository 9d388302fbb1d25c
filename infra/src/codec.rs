//! Event encoding: each domain event is stored as its type name, a schema version
//! and a JSON payload of the event's own fields.
//!
//! Old schema versions are *upcast* when read — a chain of `Value → Value` steps,
//! one per version — and never rewritten in the log. An event whose type or version
//! this build does not know is an error naming the stream, version and type:
//! nothing is ever silently dropped or skipped.

use careledger_domain::DomainEvent;
use careledger_domain::credential::CredentialEvent;
use careledger_domain::directory::ServiceEvent;
use careledger_domain::need_case::NeedCaseEvent;
use careledger_domain::recipient::RecipientEvent;
use careledger_domain::store::StoreError;
use careledger_domain::webhook::WebhookEvent;
use std::collections::HashMap;
use std::sync::Arc;

/// One upcasting step: turns the JSON of version `v` into the JSON of version `v + 1`.
pub type Upcaster =
    Arc<dyn Fn(serde_json::Value) -> Result<serde_json::Value, String> + Send + Sync>;

/// An encoded event, ready for storage.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub event_type: &'static str,
    pub schema_version: u32,
    pub payload: Vec<u8>,
}

/// Where a stored event sits, quoted in decoding errors.
#[derive(Debug, Clone, Copy)]
pub struct StoredAt<'a> {
    pub stream: &'a str,
    pub version: u64,
}

macro_rules! event_table {
    ($( $name:ident : $outer:ident :: $inner:ident = $version:literal ),* $(,)?) => {
        /// The current schema version of each event type.
        pub fn current_schema_version(event_type: &str) -> Option<u32> {
            match event_type {
                $( stringify!($name) => Some($version), )*
                _ => None,
            }
        }

        /// The static name of a known event type (saves an allocation per stored row).
        pub fn known_type(event_type: &str) -> Option<&'static str> {
            match event_type {
                $( stringify!($name) => Some(stringify!($name)), )*
                _ => None,
            }
        }

        /// Every event type this build knows.
        pub const EVENT_TYPES: &[&str] = &[ $( stringify!($name) ),* ];

        fn encode_payload(event: &DomainEvent) -> serde_json::Result<Vec<u8>> {
            match event {
                $( DomainEvent::$outer($inner::$name(e)) => serde_json::to_vec(e), )*
            }
        }

        fn decode_payload(event_type: &str, payload: &[u8]) -> Option<serde_json::Result<DomainEvent>> {
            match event_type {
                $( stringify!($name) => Some(serde_json::from_slice(payload).map(|e| DomainEvent::$outer($inner::$name(e)))), )*
                _ => None,
            }
        }

        fn decode_value(event_type: &str, value: serde_json::Value) -> Option<serde_json::Result<DomainEvent>> {
            match event_type {
                $( stringify!($name) => Some(serde_json::from_value(value).map(|e| DomainEvent::$outer($inner::$name(e)))), )*
                _ => None,
            }
        }
    };
}

event_table! {
    CareRecipientRegistered: Recipient::RecipientEvent = 1,
    CareRecipientErased: Recipient::RecipientEvent = 1,
    NeedIdentified: NeedCase::NeedCaseEvent = 1,
    ServicesSuggested: NeedCase::NeedCaseEvent = 3,
    ReferralRequested: NeedCase::NeedCaseEvent = 1,
    ReferralAccepted: NeedCase::NeedCaseEvent = 1,
    ReferralRejected: NeedCase::NeedCaseEvent = 1,
    ReferralWaitlisted: NeedCase::NeedCaseEvent = 1,
    ReferralStarted: NeedCase::NeedCaseEvent = 1,
    ReferralCompleted: NeedCase::NeedCaseEvent = 1,
    ReferralFailed: NeedCase::NeedCaseEvent = 1,
    ReferralCancelled: NeedCase::NeedCaseEvent = 1,
    NeedClosed: NeedCase::NeedCaseEvent = 1,
    EnteredInError: NeedCase::NeedCaseEvent = 1,
    ReferralConsentWithdrawn: NeedCase::NeedCaseEvent = 1,
    ReferralNoteAdded: NeedCase::NeedCaseEvent = 1,
    AnswerLinkIssued: NeedCase::NeedCaseEvent = 1,
    ServiceRegistered: Service::ServiceEvent = 1,
    ServiceUpdated: Service::ServiceEvent = 1,
    ServiceCapacityChanged: Service::ServiceEvent = 1,
    ServiceRetired: Service::ServiceEvent = 1,
    ApiKeyIssued: Credential::CredentialEvent = 1,
    ApiKeyRevoked: Credential::CredentialEvent = 1,
    WebhookSubscriptionCreated: Webhook::WebhookEvent = 1,
    WebhookSubscriptionDeleted: Webhook::WebhookEvent = 1,
}

/// Encoder/decoder with its upcasting chain.
#[derive(Clone)]
pub struct Codec {
    upcasters: HashMap<(String, u32), Upcaster>,
}

impl Default for Codec {
    /// The codec with every upcaster this build knows.
    fn default() -> Self {
        Self::empty()
            .with_upcaster("ServicesSuggested", 1, services_suggested_v1_to_v2)
            .with_upcaster("ServicesSuggested", 2, services_suggested_v2_to_v3)
    }
}

/// `ServicesSuggested` v3 records what a ranking was computed from (`ranked`)
/// instead of the services it left out, which are recomputed on demand. A v2
/// payload is a valid v3 one as it is: its stored `left_out` is kept (and shown
/// as stored) and it has no `ranked`. The version was bumped all the same, so a
/// build that knows only v2 refuses a v3 event rather than read a ranking
/// without its left-out services as one that left nothing out.
fn services_suggested_v2_to_v3(v: serde_json::Value) -> Result<serde_json::Value, String> {
    if !v.is_object() {
        return Err("ServicesSuggested v2 is not an object".into());
    }
    Ok(v)
}

/// `ServicesSuggested` v2 added the matcher's `score` to each suggestion and the
/// services it `left_out`; a v1 list was made by hand, so it has neither.
fn services_suggested_v1_to_v2(mut v: serde_json::Value) -> Result<serde_json::Value, String> {
    let obj = v
        .as_object_mut()
        .ok_or("ServicesSuggested v1 is not an object")?;
    if let Some(list) = obj.get_mut("suggestions").and_then(|l| l.as_array_mut()) {
        for s in list {
            if let Some(s) = s.as_object_mut() {
                s.entry("score").or_insert(serde_json::Value::Null);
            }
        }
    }
    obj.entry("left_out").or_insert(serde_json::json!([]));
    Ok(v)
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Codec")
            .field("upcasters", &self.upcasters.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Codec {
    /// A codec without upcasters (tests build their own chains on it).
    pub fn empty() -> Self {
        Self {
            upcasters: HashMap::new(),
        }
    }

    /// Registers the step that turns `event_type` version `from` into `from + 1`.
    pub fn with_upcaster(
        mut self,
        event_type: &str,
        from: u32,
        step: impl Fn(serde_json::Value) -> Result<serde_json::Value, String> + Send + Sync + 'static,
    ) -> Self {
        self.upcasters
            .insert((event_type.to_string(), from), Arc::new(step));
        self
    }

    pub fn encode(&self, event: &DomainEvent) -> Encoded {
        let event_type = event.event_type();
        Encoded {
            event_type,
            schema_version: current_schema_version(event_type)
                .expect("every DomainEvent variant is in the event table"),
            // Serialising plain data structs to JSON cannot fail.
            payload: encode_payload(event).expect("domain events serialise"),
        }
    }

    pub fn decode(
        &self,
        at: StoredAt<'_>,
        event_type: &str,
        schema_version: u32,
        payload: &[u8],
    ) -> Result<DomainEvent, StoreError> {
        let corrupt = |detail: String| StoreError::Corrupt {
            stream: at.stream.to_string(),
            version: at.version,
            event_type: event_type.to_string(),
            schema_version,
            detail,
        };
        let unknown = || StoreError::UnknownEventType {
            stream: at.stream.to_string(),
            version: at.version,
            event_type: event_type.to_string(),
            schema_version,
        };
        let current = current_schema_version(event_type).ok_or_else(unknown)?;
        if schema_version == current {
            return decode_payload(event_type, payload)
                .expect("known type")
                .map_err(|e| corrupt(e.to_string()));
        }
        if schema_version > current {
            return Err(unknown());
        }
        let mut value: serde_json::Value =
            serde_json::from_slice(payload).map_err(|e| corrupt(e.to_string()))?;
        for v in schema_version..current {
            let step = self
                .upcasters
                .get(&(event_type.to_string(), v))
                .ok_or_else(unknown)?;
            value = step(value).map_err(|e| corrupt(format!("upcasting from v{v}: {e}")))?;
        }
        decode_value(event_type, value)
            .expect("known type")
            .map_err(|e| corrupt(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_table_covers_every_type_name_the_domain_uses() {
        // A type name missing from the table would panic in `encode`; this keeps
        // the table and `DomainEvent::event_type` in step.
        assert_eq!(EVENT_TYPES.len(), 25);
        for t in EVENT_TYPES {
            let expected = if *t == "ServicesSuggested" { 3 } else { 1 };
            assert_eq!(current_schema_version(t), Some(expected), "{t}");
        }
    }

    /// A hand-made list stored before the matcher existed reads as a list without
    /// scores and with nothing left out.
    #[test]
    fn services_suggested_v1_is_upcast_to_v2() {
        let at = StoredAt {
            stream: "need-x",
            version: 1,
        };
        let v1 = br#"{"suggestions":[{"service":"0192f0c4-7c5e-7a31-9f4e-1c2d3e4f5a6b","rank":1,"reasons":["by_hand"]}]}"#;
        let e = Codec::default()
            .decode(at, "ServicesSuggested", 1, v1)
            .unwrap();
        let DomainEvent::NeedCase(NeedCaseEvent::ServicesSuggested(s)) = e else {
            panic!("{e:?}")
        };
        assert_eq!(s.suggestions[0].score, None);
        assert_eq!(&*s.suggestions[0].reasons, ["by_hand"]);
        assert!(s.left_out.is_empty());
        // Without the step, v1 is an unknown version, not guessed at.
        assert!(matches!(
            Codec::empty().decode(at, "ServicesSuggested", 1, v1),
            Err(StoreError::UnknownEventType { .. })
        ));
    }

    /// Issue 19: a v2 ranking with its stored left-out list reads as stored (the
    /// audit never changes for recorded history), without a basis; a v3 ranking
    /// encodes its basis and no `left_out` key, and a hand-made list neither.
    #[test]
    fn services_suggested_v2_keeps_its_stored_left_out_and_v3_records_a_basis_instead() {
        use careledger_domain::need_case::{LeftOutService, RankingBasis, ServicesSuggested};
        let at = StoredAt {
            stream: "need-x",
            version: 1,
        };
        let service = "0192f0c4-7c5e-7a31-9f4e-1c2d3e4f5a6b";
        let v2 = format!(
            r#"{{"suggestions":[{{"service":"{service}","rank":1,"reasons":["addresses_need"],"score":55}}],"left_out":[{{"service":"{service}","reasons":["no_capacity","outside_service_area"]}}]}}"#
        );
        let c = Codec::default();
        let DomainEvent::NeedCase(NeedCaseEvent::ServicesSuggested(s)) =
            c.decode(at, "ServicesSuggested", 2, v2.as_bytes()).unwrap()
        else {
            panic!()
        };
        assert_eq!(s.ranked, None);
        assert_eq!(
            s.left_out,
            [LeftOutService {
                service: careledger_domain::ids::ServiceId::parse(service).unwrap(),
                reasons: vec!["no_capacity".into(), "outside_service_area".into()],
            }]
        );
        // Without the v2 step, a v2 event is an unknown version.
        assert!(matches!(
            Codec::empty().decode(at, "ServicesSuggested", 2, v2.as_bytes()),
            Err(StoreError::UnknownEventType { .. })
        ));

        let basis = RankingBasis {
            directory_position: 42,
            matcher_version: 1,
            at: "2026-11-30T10:00:00Z".parse().unwrap(),
        };
        let v3 = DomainEvent::NeedCase(NeedCaseEvent::ServicesSuggested(ServicesSuggested {
            suggestions: s.suggestions.clone(),
            left_out: vec![],
            ranked: Some(basis),
        }));
        let e = c.encode(&v3);
        assert_eq!(e.schema_version, 3);
        let text = String::from_utf8(e.payload.clone()).unwrap();
        assert!(!text.contains("left_out"), "{text}");
        assert!(
            text.contains(r#""ranked":{"directory_position":42,"matcher_version":1"#),
            "{text}"
        );
        assert_eq!(
            c.decode(at, "ServicesSuggested", 3, &e.payload).unwrap(),
            v3
        );
        let by_hand = DomainEvent::NeedCase(NeedCaseEvent::ServicesSuggested(ServicesSuggested {
            suggestions: s.suggestions,
            left_out: vec![],
            ranked: None,
        }));
        let text = String::from_utf8(c.encode(&by_hand).payload).unwrap();
        assert!(
            !text.contains("left_out") && !text.contains("ranked"),
            "{text}"
        );
    }

    /// Issue 16: a service's organisation id travels in its profile; events
    /// recorded before it was kept (no `organisation_id` key) read as `None`, and a
    /// profile without one encodes exactly as before (no key), so no version bump
    /// and no upcaster are needed for this optional field.
    #[test]
    fn a_service_profile_keeps_its_organisation_id_and_older_events_read_without_one() {
        use careledger_domain::directory::{Capacity, ServiceEvent, ServiceRegistered};
        let catalogue = crate::catalogue::default_catalogue().unwrap();
        let imported = crate::hsds::read_example(&catalogue).unwrap();
        let s = &imported[0];
        let org = s
            .profile
            .organisation_id
            .expect("the example package has UUID ids");
        let event = |profile: careledger_domain::directory::ServiceProfile| {
            DomainEvent::Service(ServiceEvent::ServiceRegistered(ServiceRegistered {
                service: s.id,
                profile: Box::new(profile),
                capacity: Capacity::HasCapacity,
            }))
        };
        let at = StoredAt {
            stream: "service-x",
            version: 1,
        };
        let c = Codec::default();
        let with = c.encode(&event(s.profile.clone()));
        assert!(String::from_utf8_lossy(&with.payload).contains(&org.to_string()));
        let back = c
            .decode(at, "ServiceRegistered", with.schema_version, &with.payload)
            .unwrap();
        assert_eq!(back, event(s.profile.clone()));

        let mut before = s.profile.clone();
        before.organisation_id = None;
        let old = c.encode(&event(before.clone()));
        assert!(!String::from_utf8_lossy(&old.payload).contains("organisation_id"));
        let mut stripped: serde_json::Value = serde_json::from_slice(&with.payload).unwrap();
        stripped["profile"]
            .as_object_mut()
            .unwrap()
            .remove("organisation_id");
        let read = c
            .decode(
                at,
                "ServiceRegistered",
                1,
                &serde_json::to_vec(&stripped).unwrap(),
            )
            .unwrap();
        assert_eq!(read, event(before));
    }

    /// Issue 16: a referral request records the consent to share (referral only,
    /// or referral and contact details). A request recorded before (no
    /// `consent` key) reads as referral only, and a referral-only request
    /// encodes byte for byte as before: no version bump, no upcaster.
    #[test]
    fn a_referral_request_keeps_its_consent_and_older_requests_read_as_referral_only() {
        use careledger_domain::need_case::{ReferralRequested, ShareConsent};
        let at = StoredAt {
            stream: "need-x",
            version: 3,
        };
        let c = Codec::default();
        let before = br#"{"referral":"0192f0c4-7c5e-7a31-9f4e-1c2d3e4f5a6b","service":"0192f0c4-7c5e-7a31-9f4e-1c2d3e4f5a6c","first":true}"#;
        let e = c.decode(at, "ReferralRequested", 1, before).unwrap();
        let DomainEvent::NeedCase(NeedCaseEvent::ReferralRequested(r)) = &e else {
            panic!("{e:?}")
        };
        assert_eq!(r.consent, ShareConsent::ReferralOnly);
        let again = c.encode(&e);
        assert_eq!(again.schema_version, 1);
        assert_eq!(again.payload, before.to_vec(), "encodes exactly as before");

        let with = DomainEvent::NeedCase(NeedCaseEvent::ReferralRequested(ReferralRequested {
            consent: ShareConsent::ReferralAndContact,
            ..r.clone()
        }));
        let encoded = c.encode(&with);
        assert!(
            String::from_utf8_lossy(&encoded.payload)
                .contains(r#""consent":"referral_and_contact""#)
        );
        assert_eq!(
            c.decode(at, "ReferralRequested", 1, &encoded.payload)
                .unwrap(),
            with
        );
    }

    #[test]
    fn unknown_types_and_future_versions_are_named_errors() {
        let c = Codec::default();
        let at = StoredAt {
            stream: "need-x",
            version: 3,
        };
        let e = c.decode(at, "NeedTeleported", 1, b"{}").unwrap_err();
        assert_eq!(
            e.to_string(),
            "stored event need-x@3 has type NeedTeleported v1, which this version of CareLedger does not know"
        );
        let e = c.decode(at, "NeedClosed", 9, b"{}").unwrap_err();
        assert!(matches!(
            e,
            StoreError::UnknownEventType {
                schema_version: 9,
                ..
            }
        ));
        let e = c.decode(at, "NeedClosed", 1, b"{not json").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("stored event need-x@3 (NeedClosed v1) cannot be decoded"),
            "{e}"
        );
        let e = c
            .decode(at, "NeedClosed", 1, br#"{"reason":"teleported"}"#)
            .unwrap_err();
        assert!(matches!(e, StoreError::Corrupt { .. }));
    }

    #[test]
    fn an_old_version_is_upcast_through_the_registered_steps() {
        // Pretend v0 of NeedClosed called the field `why`.
        let c = Codec::default().with_upcaster("NeedClosed", 0, |mut v| {
            let why = v
                .as_object_mut()
                .and_then(|o| o.remove("why"))
                .ok_or("no 'why'")?;
            Ok(serde_json::json!({ "reason": why }))
        });
        let at = StoredAt {
            stream: "need-x",
            version: 3,
        };
        let e = c
            .decode(at, "NeedClosed", 0, br#"{"why":"moved"}"#)
            .unwrap();
        assert_eq!(e.event_type(), "NeedClosed");
        let err = c
            .decode(at, "NeedClosed", 0, br#"{"because":"moved"}"#)
            .unwrap_err();
        assert!(
            err.to_string().contains("upcasting from v0: no 'why'"),
            "{err}"
        );
        // Without a step for v0 the old version is unknown, not guessed at.
        assert!(matches!(
            Codec::default().decode(at, "NeedClosed", 0, b"{}"),
            Err(StoreError::UnknownEventType { .. })
        ));
    }
}
