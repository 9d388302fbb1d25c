use super::*;
use careledger_domain::matching::{Exclusion, Reason};

const RECIPIENT: &str = "01a22b09-0a76-74a4-af02-50fb008b00c5";
const PATIENT: &str = "01a22b09-0a76-74a4-af02-50fb008b00c6";
const NEED_CASE: &str = "01a22b09-0a78-77a1-a37a-049f67506d8f";
const REFERRAL: &str = "01a22b09-0a88-76b8-98f1-d60b25de599b";
const SERVICE: &str = "01a22b09-0a55-721d-9ff6-02a12d322fd4";
const OTHER: &str = "01a22b09-0a6f-76f0-a08c-80c93cf93772";
const KEY: &str = "01a22b09-0a9e-73bf-b8c3-29ebc143d3d3";
const THIRD: &str = "01a22b09-0a9e-73bf-b8c3-29ebc143d3d4";

/// A recipient with every stratifier set (a relative, so the kind names a patient).
fn profile() -> Value {
    json!({
        "recipient": RECIPIENT, "site": "be-leuven",
        "kind": { "kind": "relative", "patient": PATIENT },
        "birth_year": 1947, "sex": "female",
        "postal_code": { "country": "BE", "code": "1348" },
        "region": "BE-WBR", "country": "BE", "language": "fr-BE",
        "preferential_reimbursement": "yes", "deprivation_decile": 7,
        "cancer_site_group": "breast",
    })
}

/// A service whose profile names languages, areas and ages like a recipient's.
fn service_profile() -> Value {
    let text = json!({ "en": "Help", "fr": "Aide", "nl": "Hulp", "de": "Hilfe" });
    json!({
        "organisation": "Audit", "name": text, "description": text,
        "needs": ["psy.anxiety"], "languages": ["fr-BE"],
        "area": { "countries": ["BE"], "regions": ["BE-WBR"],
                  "postal_codes": [{ "country": "BE", "code": "1348" }] },
        "eligibility": { "min_age": 65, "max_age": 90, "patients": false, "relatives": true,
                         "requires_preferential_reimbursement": true },
        "cost": "free",
        "contact": { "phone": null, "email": null, "url": null },
    })
}

fn decode<T: serde::de::DeserializeOwned>(event_type: &str, fields: Value) -> T {
    serde_json::from_value(json!({ event_type: fields }))
        .unwrap_or_else(|e| panic!("{event_type}: {e}"))
}

fn recipient(t: &str, f: Value) -> DomainEvent {
    DomainEvent::Recipient(decode(t, f))
}
fn need(t: &str, f: Value) -> DomainEvent {
    DomainEvent::NeedCase(decode(t, f))
}
fn service(t: &str, f: Value) -> DomainEvent {
    DomainEvent::Service(decode(t, f))
}
fn credential(t: &str, f: Value) -> DomainEvent {
    DomainEvent::Credential(decode(t, f))
}

fn webhook(t: &str, f: Value) -> DomainEvent {
    DomainEvent::Webhook(decode(t, f))
}

/// Which variant an event is: a new variant does not compile until it is listed
/// here, and then the test fails until it has a fixture.
fn variant(e: &DomainEvent) -> usize {
    use CredentialEvent as C;
    use DomainEvent as D;
    use NeedCaseEvent as N;
    use RecipientEvent as R;
    use ServiceEvent as S;
    use careledger_domain::webhook::WebhookEvent as W;
    match e {
        D::Recipient(R::CareRecipientRegistered(_)) => 0,
        D::Recipient(R::CareRecipientErased(_)) => 1,
        D::NeedCase(N::NeedIdentified(_)) => 2,
        D::NeedCase(N::ServicesSuggested(_)) => 3,
        D::NeedCase(N::ReferralRequested(_)) => 4,
        D::NeedCase(N::ReferralAccepted(_)) => 5,
        D::NeedCase(N::ReferralRejected(_)) => 6,
        D::NeedCase(N::ReferralWaitlisted(_)) => 7,
        D::NeedCase(N::ReferralStarted(_)) => 8,
        D::NeedCase(N::ReferralCompleted(_)) => 9,
        D::NeedCase(N::ReferralFailed(_)) => 10,
        D::NeedCase(N::ReferralCancelled(_)) => 11,
        D::NeedCase(N::NeedClosed(_)) => 12,
        D::NeedCase(N::EnteredInError(_)) => 13,
        D::Service(S::ServiceRegistered(_)) => 14,
        D::Service(S::ServiceUpdated(_)) => 15,
        D::Service(S::ServiceCapacityChanged(_)) => 16,
        D::Service(S::ServiceRetired(_)) => 17,
        D::Credential(C::ApiKeyIssued(_)) => 18,
        D::Credential(C::ApiKeyRevoked(_)) => 19,
        D::NeedCase(N::ReferralConsentWithdrawn(_)) => 20,
        D::NeedCase(N::ReferralNoteAdded(_)) => 21,
        D::NeedCase(N::AnswerLinkIssued(_)) => 22,
        D::Webhook(W::WebhookSubscriptionCreated(_)) => 23,
        D::Webhook(W::WebhookSubscriptionDeleted(_)) => 24,
    }
}
const VARIANTS: usize = 25;

/// One event of every type, as stored (stratifiers, sealed data, a hash, the
/// matcher's stratifier-derived reasons and scores included), with the lifecycle
/// fields the audit trail must show for it.
fn every_event() -> Vec<(DomainEvent, Value)> {
    let sealed =
        json!({ "alg": "xchacha20poly1305", "nonce": "bm9uY2U=", "ciphertext": "c2VjcmV0" });
    let on_referral = |extra: Value| {
        let mut m = json!({ "referral": REFERRAL, "service": SERVICE });
        m.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        m
    };
    vec![
        (
            recipient(
                "CareRecipientRegistered",
                json!({ "profile": profile(), "personal": sealed }),
            ),
            json!({ "recipient": RECIPIENT, "site": "be-leuven", "personal_data": "sealed" }),
        ),
        (recipient("CareRecipientErased", json!({})), json!({})),
        (
            need(
                "NeedIdentified",
                json!({ "need_case": NEED_CASE, "need": "psy.anxiety", "domain": "psychosocial",
                        "recipient": profile(), "age_band": "75+" }),
            ),
            json!({ "need_case": NEED_CASE, "need": "psy.anxiety", "domain": "psychosocial",
                    "recipient": RECIPIENT, "site": "be-leuven" }),
        ),
        (
            need(
                "ServicesSuggested",
                json!({
                    "suggestions": [
                        { "service": SERVICE, "rank": 1, "score": 100, "reasons": [
                            "addresses_need", "serves_relatives", "for_preferential_reimbursement",
                            "in_postal_area", "waitlist_12_days", "speaks_language", "free"] },
                        { "service": OTHER, "rank": 2, "score": 45, "reasons": [
                            "addresses_need", "age_eligible", "in_region", "has_capacity",
                            "language_not_spoken", "fee", "hand_written_note"] },
                    ],
                    "left_out": [
                        { "service": KEY, "reasons": ["above_maximum_age_64", "outside_service_area",
                            "requires_preferential_reimbursement", "patients_only", "no_capacity"] },
                        { "service": THIRD, "reasons": ["ranked_3_below_cutoff"] },
                    ],
                }),
            ),
            json!({
                "suggestions": [
                    { "service": SERVICE,
                      "reasons": ["addresses_need", "waitlist_12_days", "free"] },
                    { "service": OTHER,
                      "reasons": ["addresses_need", "has_capacity", "fee"] },
                ],
                "left_out": [
                    { "service": KEY, "reasons": ["no_capacity"] },
                    { "service": THIRD, "reasons": ["ranked_3_below_cutoff"] },
                ],
            }),
        ),
        (
            need("ReferralRequested", on_referral(json!({ "first": true }))),
            on_referral(json!({ "first": true, "consent": "referral_only" })),
        ),
        (
            need("ReferralAccepted", on_referral(json!({}))),
            on_referral(json!({})),
        ),
        (
            need(
                "ReferralRejected",
                on_referral(json!({ "reason": "not_eligible" })),
            ),
            on_referral(json!({ "reason": "not_eligible" })),
        ),
        (
            need(
                "ReferralWaitlisted",
                on_referral(json!({ "estimated_wait_days": 12 })),
            ),
            on_referral(json!({ "estimated_wait_days": 12 })),
        ),
        (
            need("ReferralStarted", on_referral(json!({}))),
            on_referral(json!({})),
        ),
        (
            need(
                "ReferralCompleted",
                on_referral(json!({ "outcome": "need_partly_met" })),
            ),
            on_referral(json!({ "outcome": "need_partly_met" })),
        ),
        (
            need(
                "ReferralFailed",
                on_referral(json!({ "reason": "no_show" })),
            ),
            on_referral(json!({ "reason": "no_show" })),
        ),
        (
            need(
                "ReferralCancelled",
                on_referral(json!({ "by": "recipient", "reason": "recipient_changed_mind" })),
            ),
            on_referral(json!({ "by": "recipient", "reason": "recipient_changed_mind" })),
        ),
        (
            need("NeedClosed", json!({ "reason": "moved" })),
            json!({ "reason": "moved" }),
        ),
        (
            need(
                "EnteredInError",
                json!({ "target": { "target": "referral", "referral": REFERRAL }, "reason": "wrong_service" }),
            ),
            json!({ "target": { "target": "referral", "referral": REFERRAL }, "reason": "wrong_service" }),
        ),
        (
            service(
                "ServiceRegistered",
                json!({ "service": SERVICE, "profile": service_profile(),
                        "capacity": { "status": "waitlist", "estimated_wait_days": 12 } }),
            ),
            json!({ "service": SERVICE,
                    "capacity": { "status": "waitlist", "estimated_wait_days": 12 } }),
        ),
        (
            service("ServiceUpdated", json!({ "profile": service_profile() })),
            json!({}),
        ),
        (
            service(
                "ServiceCapacityChanged",
                json!({ "capacity": { "status": "no_capacity" } }),
            ),
            json!({ "capacity": { "status": "no_capacity" } }),
        ),
        (service("ServiceRetired", json!({})), json!({})),
        (
            credential(
                "ApiKeyIssued",
                json!({ "key_id": KEY, "name": "Statistics portal", "secret_sha256": "ab".repeat(32) }),
            ),
            json!({ "key_id": KEY, "name": "Statistics portal" }),
        ),
        (
            credential("ApiKeyRevoked", json!({ "key_id": KEY })),
            json!({ "key_id": KEY }),
        ),
        (
            webhook(
                "WebhookSubscriptionCreated",
                json!({
                    "subscription_id": KEY,
                    "name": "Regional portal",
                    "endpoint": "http://127.0.0.1:9/hook?token=abc",
                    "filter": { "requester_sites": ["be-a"], "statuses": ["accepted"] },
                    "secret": sealed,
                }),
            ),
            // The endpoint may carry a receiver's token in its query; the secret
            // is sealed: neither is shown.
            json!({
                "subscription_id": KEY,
                "name": "Regional portal",
                "filter": { "requester_sites": ["be-a"], "statuses": ["accepted"] },
            }),
        ),
        (
            webhook(
                "WebhookSubscriptionDeleted",
                json!({ "subscription_id": KEY }),
            ),
            json!({ "subscription_id": KEY }),
        ),
        (
            need(
                "ReferralRequested",
                on_referral(json!({ "first": false, "consent": "referral_and_contact" })),
            ),
            on_referral(json!({ "first": false, "consent": "referral_and_contact" })),
        ),
        (
            need("ReferralConsentWithdrawn", on_referral(json!({}))),
            on_referral(json!({})),
        ),
        (
            need(
                "ReferralNoteAdded",
                on_referral(json!({ "note": THIRD, "side": "performer", "text": sealed })),
            ),
            on_referral(json!({ "note": THIRD, "side": "performer", "text": "sealed" })),
        ),
        (
            need(
                "AnswerLinkIssued",
                on_referral(
                    json!({ "link": KEY, "expires_at": "2026-12-14T09:00:00Z", "lang": "fr" }),
                ),
            ),
            // The page's language is left out: it may tell the recipient's.
            on_referral(json!({ "link": KEY, "expires_at": "2026-12-14T09:00:00Z" })),
        ),
    ]
}

/// Every key anywhere in `v`, and every scalar value as text.
fn keys_and_values(v: &Value, keys: &mut Vec<String>, values: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                keys.push(k.clone());
                keys_and_values(x, keys, values);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| keys_and_values(x, keys, values)),
        Value::String(s) => values.push(s.clone()),
        Value::Number(n) => values.push(n.to_string()),
        Value::Bool(_) | Value::Null => {}
    }
}

/// For every event type, the audit trail's fields hold no stratifier — no field
/// named after one (birth year, sex, postal code, language, cancer site group,
/// deprivation, preferential reimbursement, region, country, kind, age band, the
/// related patient), none of the recipient's values (1947, 1348, fr-BE, female,
/// breast, decile 7, BE-WBR, BE, 75+, the patient's id), no matcher reason code or
/// score that states one, no sealed ciphertext and no key hash — and keep exactly
/// the lifecycle fields: ids, need and domain, site, services and ranks, states,
/// reason codes, outcome, capacity.
#[test]
fn the_audit_trail_keeps_the_lifecycle_fields_of_every_event_type_and_no_stratifier() {
    let events = every_event();
    let mut seen = [false; VARIANTS];
    for (event, expected) in &events {
        seen[variant(event)] = true;
        let shown = lifecycle_fields(event);
        let t = event.event_type();
        assert_eq!(&shown, expected, "{t}");

        let (mut keys, mut values) = (vec![], vec![]);
        keys_and_values(&shown, &mut keys, &mut values);
        for k in &keys {
            let k = k.replace('_', "").to_lowercase();
            for stem in [
                "birthyear",
                "sex",
                "postal",
                "language",
                "cancersite",
                "deprivation",
                "preferential",
                "region",
                "country",
                "kind",
                "ageband",
                "patient",
                "score",
                "profile",
                "secret",
                "ciphertext",
            ] {
                assert!(!k.contains(stem), "{t}: field {k} holds {stem}: {shown}");
            }
        }
        for bad in [
            "1947", "1348", "fr-BE", "fr", "female", "breast", "7", "yes", "BE-WBR", "BE", "75+",
            "relative", "c2VjcmV0", PATIENT,
        ] {
            assert!(
                !values.iter().any(|v| v.eq_ignore_ascii_case(bad)),
                "{t}: the value {bad} is shown: {shown}"
            );
        }
        let raw = shown.to_string();
        for bad in [
            "preferential",
            "postal",
            "region",
            "country",
            "language",
            "age",
            "serves_",
            // patients_only, relatives_only (not a consent's referral_only)
            "s_only",
        ] {
            assert!(!raw.contains(bad), "{t}: '{bad}' in {raw}");
        }
    }
    assert!(
        seen.iter().all(|s| *s),
        "a variant has no fixture: {seen:?}"
    );
}

/// A stream's history (the record, read by its site's coordinators) keeps the
/// stratifiers and the matcher's full reasons and scores, but never an API key's
/// hash or sealed ciphertext.
#[test]
fn a_streams_history_keeps_the_record_without_hash_or_ciphertext() {
    let events = every_event();
    let shown = |i: usize| record_fields(&events[i].0);
    assert_eq!(
        shown(0),
        json!({ "profile": profile(), "personal_data": "sealed" })
    );
    assert_eq!(shown(2)["recipient"], profile());
    assert_eq!(shown(2)["age_band"], "75+");
    assert_eq!(shown(3)["suggestions"][0]["score"], 100);
    assert_eq!(
        shown(3)["suggestions"][0]["reasons"][2],
        "for_preferential_reimbursement"
    );
    assert_eq!(
        shown(18),
        json!({ "key_id": KEY, "name": "Statistics portal" })
    );
    let note = shown(
        events
            .iter()
            .position(|(e, _)| e.event_type() == "ReferralNoteAdded")
            .unwrap(),
    );
    assert_eq!(note["text"], "sealed", "a note's ciphertext never shows");
    assert_eq!(note["side"], "performer");
    assert!(!note.to_string().contains("c2VjcmV0"), "{note}");
}

/// The matcher's reason codes that depend on the service alone pass; every code
/// computed from the recipient's age, kind, reimbursement status, address or
/// language is withheld, and so is any code the list does not know (a hand-made
/// list's, or one added to the matcher later).
#[test]
fn only_the_matchers_service_side_reason_codes_pass() {
    let service_side = [
        Reason::AddressesNeed.code(),
        Reason::HasCapacity.code(),
        Reason::Waitlist { days: 0 }.code(),
        Reason::Waitlist { days: 120 }.code(),
        Reason::Free.code(),
        Reason::Reimbursed.code(),
        Reason::Fee.code(),
        Exclusion::Retired.code(),
        Exclusion::NeedNotAddressed.code(),
        Exclusion::NoCapacity.code(),
        Exclusion::BelowCutoff { rank: 11 }.code(),
    ];
    let recipient_side = [
        Reason::AgeEligible.code(),
        Reason::ServesPatients.code(),
        Reason::ServesRelatives.code(),
        Reason::ForPreferentialReimbursement.code(),
        Reason::InPostalArea.code(),
        Reason::InRegion.code(),
        Reason::InCountry.code(),
        Reason::SpeaksLanguage.code(),
        Reason::LanguageNotSpoken.code(),
        Exclusion::TooYoung { min_age: 18 }.code(),
        Exclusion::TooOld { max_age: 64 }.code(),
        Exclusion::PatientsOnly.code(),
        Exclusion::RelativesOnly.code(),
        Exclusion::RequiresPreferentialReimbursement.code(),
        Exclusion::OutsideArea.code(),
    ];
    for c in &service_side {
        assert!(service_side_reason(c), "{c}");
    }
    for c in &recipient_side {
        assert!(!service_side_reason(c), "{c}");
    }
    for c in [
        "waitlist__days",
        "waitlist_x_days",
        "ranked_below_cutoff",
        "speaks_dutch",
        "",
    ] {
        assert!(!service_side_reason(c), "{c}");
    }
}
