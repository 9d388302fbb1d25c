//! The event decoder (`Codec::decode`, what the SQLite and PostgreSQL stores call
//! on every stored row): generated events of every type round-trip, and anything
//! else stored under any type name and schema version decodes or is refused as
//! `Corrupt` / `UnknownEventType`, never a panic.

use crate::json::{
    ByteEdit, Mutation, byte_edit, edit_bytes, mutate, mutation, text_edit, tricky_string,
};
use careledger_domain::DomainEvent;
use careledger_domain::credential::{ApiKeyIssued, ApiKeyRevoked, CredentialEvent};
use careledger_domain::directory::{
    Capacity, Contact, Cost, Eligibility, Localized, ServiceArea, ServiceCapacityChanged,
    ServiceEvent, ServiceProfile, ServiceRegistered, ServiceRetired, ServiceUpdated,
};
use careledger_domain::ids::{NeedCaseId, NoteId, RecipientId, ReferralId, ServiceId};
use careledger_domain::need_case::{
    AnswerLinkIssued, CancelReason, CancelledBy, CloseReason, EnteredInError, ErrorReason,
    ErrorTarget, FailureReason, LeftOutService, NeedCaseEvent, NeedClosed, NeedIdentified, Outcome,
    ReferralAccepted, ReferralCancelled, ReferralCompleted, ReferralConsentWithdrawn,
    ReferralFailed, ReferralNoteAdded, ReferralRejected, ReferralRequested, ReferralStarted,
    ReferralWaitlisted, RejectionReason, ServicesSuggested, ShareConsent, Side, Suggestion,
};
use careledger_domain::personal::Sealed;
use careledger_domain::recipient::{
    CareRecipientErased, CareRecipientRegistered, RecipientEvent, RecipientKind, RecipientProfile,
};
use careledger_domain::store::StoreError;
use careledger_domain::values::{
    AgeBand, BirthYear, CancerSiteGroup, Country, DeprivationDecile, Lang, LanguageTag, NeedCode,
    PostalCode, PreferentialReimbursement, Region, Sex, SiteId,
};
use careledger_infra::codec::{Codec, EVENT_TYPES, StoredAt, current_schema_version};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::Union;
use uuid::Uuid;

mod events;

use events::*;

const AT: StoredAt<'static> = StoredAt {
    stream: "need-0192f0c4-7c5e-7a31-9f4e-1c2d3e4f5a6b",
    version: 7,
};

// ---------------------------------------------------------------------------
// What the decoder is asked to read
// ---------------------------------------------------------------------------

/// The type name a mutated payload is stored under.
#[derive(Debug, Clone)]
enum TypeName {
    /// The event's own.
    Own,
    /// Another known type's.
    Known(usize),
    Other(String),
}

fn type_name() -> impl Strategy<Value = TypeName> {
    prop_oneof![
        6 => Just(TypeName::Own),
        2 => any::<usize>().prop_map(TypeName::Known),
        1 => tricky_string().prop_map(TypeName::Other),
    ]
}

/// The schema version it is stored under, relative to the current one.
#[derive(Debug, Clone)]
enum SchemaVersion {
    Current,
    /// One before (an upcast, or an unknown old version).
    Previous,
    Any(u32),
}

fn schema_version() -> impl Strategy<Value = SchemaVersion> {
    prop_oneof![
        6 => Just(SchemaVersion::Current),
        2 => Just(SchemaVersion::Previous),
        1 => prop_oneof![Just(0u32), Just(u32::MAX), any::<u32>()].prop_map(SchemaVersion::Any),
    ]
}

fn stored_as(event: &DomainEvent, name: &TypeName, version: &SchemaVersion) -> (String, u32) {
    let event_type = match name {
        TypeName::Own => event.event_type().to_string(),
        TypeName::Known(i) => EVENT_TYPES[i % EVENT_TYPES.len()].to_string(),
        TypeName::Other(s) => s.clone(),
    };
    let current = current_schema_version(&event_type).unwrap_or(1);
    let schema_version = match version {
        SchemaVersion::Current => current,
        SchemaVersion::Previous => current.saturating_sub(1),
        SchemaVersion::Any(v) => *v,
    };
    (event_type, schema_version)
}

/// Decodes `payload` and checks the one rule: an event (which then survives a
/// second round trip unchanged) or a typed decoding error.
fn decodes_or_is_refused(
    event_type: &str,
    schema_version: u32,
    payload: &[u8],
) -> Result<(), TestCaseError> {
    let codec = Codec::default();
    match codec.decode(AT, event_type, schema_version, payload) {
        Ok(event) => {
            let again = codec.encode(&event);
            let back = codec
                .decode(AT, again.event_type, again.schema_version, &again.payload)
                .map_err(|e| {
                    TestCaseError::fail(format!("a decoded event does not decode again: {e}"))
                })?;
            prop_assert_eq!(back, event);
        }
        Err(StoreError::Corrupt { detail, .. }) => prop_assert!(!detail.is_empty()),
        Err(StoreError::UnknownEventType { .. }) => {
            prop_assert!(
                current_schema_version(event_type).is_none_or(|c| schema_version != c),
                "a known type at its current version is never 'unknown'"
            );
        }
        Err(other) => prop_assert!(false, "not a decoding error: {other:?}"),
    }
    Ok(())
}

/// The field names encoded events use (mutations set these more often than others).
const FIELDS: &[&str] = &[
    "profile",
    "recipient",
    "site",
    "kind",
    "patient",
    "birth_year",
    "sex",
    "postal_code",
    "country",
    "code",
    "region",
    "language",
    "preferential_reimbursement",
    "deprivation_decile",
    "cancer_site_group",
    "personal",
    "alg",
    "nonce",
    "ciphertext",
    "need_case",
    "need",
    "domain",
    "age_band",
    "suggestions",
    "left_out",
    "ranked",
    "directory_position",
    "matcher_version",
    "at",
    "service",
    "rank",
    "reasons",
    "score",
    "referral",
    "first",
    "reason",
    "estimated_wait_days",
    "outcome",
    "by",
    "target",
    "capacity",
    "status",
    "organisation",
    "name",
    "description",
    "en",
    "fr",
    "nl",
    "de",
    "needs",
    "languages",
    "area",
    "countries",
    "regions",
    "postal_codes",
    "eligibility",
    "min_age",
    "max_age",
    "patients",
    "relatives",
    "requires_preferential_reimbursement",
    "cost",
    "contact",
    "phone",
    "email",
    "url",
    "key_id",
    "secret_sha256",
];

proptest! {
    #![proptest_config(crate::config(256))]

    /// Every event of every type, with any valid field values, decodes to itself.
    #[test]
    fn every_generated_event_decodes_to_the_event_that_was_encoded(event in event()) {
        let codec = Codec::default();
        let encoded = codec.encode(&event);
        let decoded = codec
            .decode(AT, encoded.event_type, encoded.schema_version, &encoded.payload)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(decoded, event);
    }

    /// A valid encoded event whose fields were changed, removed, added, retyped,
    /// nested 10,000 deep or replaced by numbers no integer holds, stored under its
    /// own or another type name and any schema version, decodes or is refused with
    /// a typed error.
    #[test]
    fn a_mutated_stored_event_decodes_or_is_refused_with_a_typed_error(
        event in event(),
        mutations in vec(mutation(FIELDS), 1..6),
        name in type_name(),
        version in schema_version(),
    ) {
        let encoded = Codec::default().encode(&event);
        let doc: serde_json::Value = serde_json::from_slice(&encoded.payload).expect("encoded is JSON");
        let payload = mutate(doc, &mutations);
        let (event_type, schema_version) = stored_as(&event, &name, &version);
        decodes_or_is_refused(&event_type, schema_version, &payload)?;
    }

    /// The fields with rules of stored recipient and service profiles (postal
    /// codes, language tags, need codes, site ids, regions, enum names), edited a
    /// character or three away from valid, decode or are refused with a typed error.
    #[test]
    fn stored_value_fields_a_few_characters_from_valid_decode_or_are_refused(
        event in value_rich_event(),
        at in any::<usize>(),
        edits in vec(text_edit(), 1..4),
    ) {
        let encoded = Codec::default().encode(&event);
        let doc: serde_json::Value = serde_json::from_slice(&encoded.payload).expect("encoded is JSON");
        let payload = mutate(doc, &[Mutation::Retext { at, short: true, edits }]);
        decodes_or_is_refused(encoded.event_type, encoded.schema_version, &payload)?;
    }

    /// A valid encoded event truncated, with bytes flipped, inserted or deleted,
    /// decodes or is refused with a typed error.
    #[test]
    fn a_stored_event_with_damaged_bytes_decodes_or_is_refused_with_a_typed_error(
        event in event(),
        edits in vec(byte_edit(), 1..8),
        version in schema_version(),
    ) {
        let encoded = Codec::default().encode(&event);
        let payload = edit_bytes(encoded.payload, &edits);
        let (event_type, schema_version) = stored_as(&event, &TypeName::Own, &version);
        decodes_or_is_refused(&event_type, schema_version, &payload)?;
    }

    /// Arbitrary bytes under any known type name (at its current and previous
    /// version) or any other name decode or are refused with a typed error.
    #[test]
    fn arbitrary_bytes_under_any_type_name_decode_or_are_refused_with_a_typed_error(
        bytes in vec(any::<u8>(), 0..512),
        name in any::<usize>(),
        version in schema_version(),
        other in proptest::option::weighted(0.1, tricky_string()),
    ) {
        let event_type = other.unwrap_or_else(|| EVENT_TYPES[name % EVENT_TYPES.len()].to_string());
        let current = current_schema_version(&event_type).unwrap_or(1);
        let schema_version = match version {
            SchemaVersion::Current => current,
            SchemaVersion::Previous => current.saturating_sub(1),
            SchemaVersion::Any(v) => v,
        };
        decodes_or_is_refused(&event_type, schema_version, &bytes)?;
    }
}

/// Edits used by the properties are plain data; a quick check that a flip at an
/// index past the end wraps instead of being skipped (so damaged-bytes cases are
/// never silently the undamaged event).
#[test]
fn byte_edits_always_land_inside_the_payload() {
    let out = edit_bytes(b"abc".to_vec(), &[ByteEdit::Flip(4, 0x20)]);
    assert_eq!(out, b"aBc");
    let out = mutate(serde_json::json!({"a": 1}), &[Mutation::Remove { at: 1 }]);
    assert_eq!(out, b"{}");
}

/// `value_rich_event` picks generators by their place in `EVENT_TYPES`: each
/// generator makes events of the type at its place.
#[test]
fn each_event_generator_makes_the_type_at_its_place_in_the_event_table() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for (arm, expected) in event_arms().iter().zip(EVENT_TYPES) {
        let event = arm.new_tree(&mut runner).expect("a value").current();
        assert_eq!(event.event_type(), *expected);
    }
}

/// Found by `stored_value_fields_a_few_characters_from_valid_decode_or_are_refused`:
/// a stored Dutch postal code with a multi-byte character among its first four
/// bytes (`5\u{b204d}73/AL`) panicked the decoder (the postal code was split at byte
/// 4, inside the character). It is now a corrupt event, named as such.
#[test]
fn a_stored_dutch_postal_code_with_a_multi_byte_character_is_corrupt_not_a_panic() {
    let codec = Codec::default();
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let profile = {
        use proptest::strategy::ValueTree;
        recipient_profile()
            .new_tree(&mut runner)
            .expect("a profile")
            .current()
    };
    let event = DomainEvent::Recipient(RecipientEvent::CareRecipientRegistered(
        CareRecipientRegistered {
            profile,
            personal: None,
        },
    ));
    let encoded = codec.encode(&event);
    for code in ["5\u{b204d}73/AL", "1éé", "123é", "1012ÿB"] {
        let mut doc: serde_json::Value = serde_json::from_slice(&encoded.payload).expect("JSON");
        doc["profile"]["postal_code"] = serde_json::json!({ "country": "NL", "code": code });
        let payload = serde_json::to_vec(&doc).expect("serialises");
        let err = codec
            .decode(AT, encoded.event_type, encoded.schema_version, &payload)
            .expect_err("not a Dutch postal code");
        assert!(
            matches!(&err, StoreError::Corrupt { detail, .. } if detail.contains("is not a valid postal code for NL")),
            "{err}"
        );
    }
}
