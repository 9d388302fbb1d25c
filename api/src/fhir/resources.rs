//! One function per FHIR resource a referral, a need case or a recipient
//! becomes (the directory's are in [`super::directory`]). References between
//! them are relative (`Patient/…`); a bundle's `fullUrl`s are absolute.

use super::codes::{self, code_of};
use careledger_app::fhir::{Reader, ReferralRecord, referral_resource_id};
use careledger_domain::catalogue::Catalogue;
use careledger_domain::need_case::{ReferralStatus, ShareConsent};
use careledger_domain::personal::PersonalData;
use careledger_domain::values::{Lang, NeedCode, NeedDomain};
use careledger_projections::{NeedCaseView, RecipientView};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

/// An instant as FHIR writes it (`instant` / `dateTime`, UTC, milliseconds).
pub fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn meta(version: u64, updated: DateTime<Utc>) -> Value {
    json!({ "versionId": version.to_string(), "lastUpdated": instant(updated) })
}

fn uuid_identifier(id: uuid::Uuid) -> Value {
    json!([{ "system": "urn:ietf:rfc:3986", "value": format!("urn:uuid:{id}") }])
}

/// The need as a CodeableConcept of the catalogue, labelled in `lang`.
pub fn need_concept(catalogue: &Catalogue, need: &NeedCode, lang: Lang) -> Value {
    let label = catalogue.get(need).map(|d| d.label(lang));
    let mut coding = json!({ "system": codes::NEEDS, "code": need.as_str() });
    if let Some(l) = label {
        coding["display"] = json!(l);
    }
    let mut c = json!({ "coding": [coding] });
    if let Some(l) = label {
        c["text"] = json!(l);
    }
    c
}

fn domain_concept(domain: NeedDomain) -> Value {
    json!({ "coding": [{ "system": codes::NEED_DOMAINS, "code": domain.name().replace('_', "-") }] })
}

/// The requesting site, as an identifier (sites are not resources here).
fn site_reference(site: &str) -> Value {
    json!({ "identifier": { "system": codes::SITES, "value": site }, "display": site })
}

/// Who performs: the service's organisation when the directory records one,
/// else the service itself.
fn owner_reference(r: &ReferralRecord) -> Value {
    match r.organisation {
        Some(o) => json!({ "reference": format!("Organization/{o}") }),
        None => json!({ "reference": format!("HealthcareService/{}", r.referral.service) }),
    }
}

/// A referral's fulfilment (`Task`), as the SDOH Clinical Care IG shapes it.
pub fn task(r: &ReferralRecord) -> Value {
    let id = referral_resource_id(r.need_case, r.referral.id);
    let status = codes::task_status(r.referral.status, r.log.started);
    let mut t = json!({
        "resourceType": "Task",
        "id": id,
        "meta": meta(r.log.version, r.log.recorded_at),
        "identifier": uuid_identifier(r.referral.id.as_uuid()),
        "status": status,
        "intent": "order",
        "code": { "coding": [{
            "system": "http://hl7.org/fhir/CodeSystem/task-code",
            "code": "fulfill",
            "display": "Fulfill the focal request"
        }] },
        "focus": { "reference": format!("ServiceRequest/{id}") },
        "for": { "reference": format!("Patient/{}", r.recipient) },
        "authoredOn": instant(r.referral.requested_at),
        "lastModified": instant(r.referral.changed_at),
        "requester": site_reference(r.site.as_str()),
        "owner": owner_reference(r),
    });
    let ended = matches!(
        r.referral.status,
        ReferralStatus::Rejected
            | ReferralStatus::Failed
            | ReferralStatus::Cancelled
            | ReferralStatus::EnteredInError
    );
    if let (true, Some(reason)) = (ended, &r.log.end_reason) {
        let (code, display) = codes::status_reason(reason);
        t["statusReason"] = json!({
            "coding": [{ "system": codes::STATUS_REASONS, "code": code, "display": display }],
            "text": display,
        });
    }
    let mut extensions = Vec::new();
    if r.referral.status == ReferralStatus::OnHold {
        t["businessStatus"] = json!({
            "coding": [{ "system": codes::BUSINESS_STATUS, "code": "waitlisted", "display": "waitlisted" }],
            "text": "waitlisted",
        });
        if let Some(days) = r.referral.estimated_wait_days {
            extensions.push(json!({
                "url": codes::ESTIMATED_WAIT,
                "valueDuration": {
                    "value": days, "unit": "days",
                    "system": "http://unitsofmeasure.org", "code": "d"
                }
            }));
        }
    }
    // The performer's minimum necessary: the recipient's age band and
    // preferred language (the Patient itself is not theirs to read).
    extensions.push(json!({
        "url": codes::AGE_BAND,
        "valueCoding": { "system": codes::AGE_BANDS, "code": code_of(&r.age_band) }
    }));
    extensions.push(json!({
        "url": codes::PREFERRED_LANGUAGE,
        "valueCode": r.language.as_str()
    }));
    t["extension"] = Value::Array(extensions);
    if let Some(o) = r.referral.outcome {
        let (code, display) = codes::outcome(o);
        t["output"] = json!([{
            "type": { "coding": [{ "system": codes::OUTPUT_TYPE, "code": "outcome", "display": "outcome" }] },
            "valueCodeableConcept": {
                "coding": [{ "system": codes::OUTCOMES, "code": code, "display": display }],
                "text": display
            }
        }]);
    }
    t
}

/// What a referral asks for (`ServiceRequest`): the need, for the patient, of
/// the service (and its organisation), because of the need's `Condition`.
pub fn service_request(r: &ReferralRecord, catalogue: &Catalogue, lang: Lang) -> Value {
    let id = referral_resource_id(r.need_case, r.referral.id);
    let mut performer =
        vec![json!({ "reference": format!("HealthcareService/{}", r.referral.service) })];
    if let Some(o) = r.organisation {
        performer.push(json!({ "reference": format!("Organization/{o}") }));
    }
    let mut s = json!({
        "resourceType": "ServiceRequest",
        "id": id,
        "meta": meta(r.log.version, r.log.recorded_at),
        "identifier": uuid_identifier(r.referral.id.as_uuid()),
        "status": codes::service_request_status(r.referral.status),
        "intent": "order",
        "category": [domain_concept(r.domain)],
        "code": need_concept(catalogue, &r.need, lang),
        "subject": { "reference": format!("Patient/{}", r.recipient) },
        "authoredOn": instant(r.referral.requested_at),
        "requester": site_reference(r.site.as_str()),
        "performer": performer,
    });
    if r.reader == Reader::Requester {
        s["reasonReference"] = json!([{ "reference": format!("Condition/{}", r.need_case) }]);
    }
    s
}

/// The recipient's consent to share with the organisation a referral is
/// addressed to: the referral only, or the referral and their contact details
/// (what a withdrawal leaves: the referral only).
pub fn consent(r: &ReferralRecord) -> Value {
    let id = referral_resource_id(r.need_case, r.referral.id);
    let what = match r.referral.consent {
        ShareConsent::ReferralOnly => ("referral-only", "the referral only"),
        ShareConsent::ReferralAndContact => (
            "referral-and-contact",
            "the referral and the recipient's contact details",
        ),
    };
    let mut provision = json!({
        "type": "permit",
        "code": [{ "coding": [{ "system": codes::SHARE_CONSENT, "code": what.0, "display": what.1 }], "text": what.1 }],
        "data": [{ "meaning": "related", "reference": { "reference": format!("ServiceRequest/{id}") } }],
    });
    if let Some(o) = r.organisation {
        provision["actor"] = json!([{
            "role": { "coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                "code": "IRCP", "display": "information recipient"
            }] },
            "reference": { "reference": format!("Organization/{o}") }
        }]);
    }
    json!({
        "resourceType": "Consent",
        "id": id,
        "meta": meta(r.log.consent_version, r.log.consent_recorded_at),
        // In force while the referral is open; kept as a record once it ended.
        "status": match r.referral.status {
            ReferralStatus::EnteredInError => "entered-in-error",
            s if s.is_open() => "active",
            _ => "inactive",
        },
        "scope": { "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/consentscope",
            "code": "patient-privacy", "display": "Privacy Consent"
        }] },
        "category": [{ "coding": [{
            "system": "http://loinc.org", "code": "59284-0", "display": "Patient Consent"
        }] }],
        "patient": { "reference": format!("Patient/{}", r.recipient) },
        "dateTime": instant(r.referral.requested_at),
        "policyRule": { "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "OPTIN", "display": "opt-in"
        }] },
        "provision": provision,
    })
}

/// The need (`Condition`), coded with the catalogue, its domain a category.
pub fn condition(v: &NeedCaseView, catalogue: &Catalogue, lang: Lang) -> Option<Value> {
    let d = v.data()?;
    let mut c = json!({
        "resourceType": "Condition",
        "id": d.id.to_string(),
        "meta": meta(u64::from(v.version), v.recorded_at),
        "category": [
            { "coding": [{
                "system": "http://hl7.org/fhir/us/core/CodeSystem/condition-category",
                "code": "health-concern", "display": "Health Concern"
            }] },
            domain_concept(d.domain),
        ],
        "code": need_concept(catalogue, &d.need, lang),
        "subject": { "reference": format!("Patient/{}", d.recipient.recipient) },
        "onsetDateTime": instant(d.identified_at),
        "recordedDate": instant(d.identified_at),
    });
    let ver = |code: &str| {
        json!({ "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": code
        }] })
    };
    if d.entered_in_error {
        // No clinical status on an entered-in-error condition (con-5).
        c["verificationStatus"] = ver("entered-in-error");
        return Some(c);
    }
    c["verificationStatus"] = ver("confirmed");
    let finished = v.status().is_finished();
    c["clinicalStatus"] = json!({ "coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
        "code": if finished { "resolved" } else { "active" }
    }] });
    if finished {
        c["abatementDateTime"] = json!(instant(v.updated_at));
    }
    Some(c)
}

/// The recipient (`Patient`), pseudonymous: birth year, gender, country and
/// postal code, preferred language; names and contact details only when
/// `personal` is given (a coordinator of their site, not erased).
pub fn patient(r: &RecipientView, personal: Option<&PersonalData>) -> Value {
    let p = &r.profile;
    let gender = match code_of(&p.sex).as_str() {
        g @ ("female" | "male" | "other") => g.to_string(),
        _ => "unknown".to_string(),
    };
    let mut v = json!({
        "resourceType": "Patient",
        "id": p.recipient.to_string(),
        "meta": { "versionId": r.version.to_string() },
        "active": r.erased_at().is_none(),
        "gender": gender,
        "birthDate": format!("{:04}", p.birth_year.year()),
        "address": [{ "postalCode": p.postal_code.code(), "country": p.country.code() }],
        "communication": [{
            "language": { "coding": [{ "system": "urn:ietf:bcp:47", "code": p.language.as_str() }] },
            "preferred": true
        }],
    });
    if let Some(d) = personal {
        let mut name = serde_json::Map::new();
        if let Some(f) = &d.family_name {
            name.insert("family".into(), json!(f));
        }
        if let Some(g) = &d.given_name {
            name.insert("given".into(), json!([g]));
        }
        if !name.is_empty() {
            v["name"] = json!([name]);
        }
        let mut telecom = Vec::new();
        if let Some(x) = &d.phone {
            telecom.push(json!({ "system": "phone", "value": x }));
        }
        if let Some(x) = &d.email {
            telecom.push(json!({ "system": "email", "value": x }));
        }
        if !telecom.is_empty() {
            v["telecom"] = Value::Array(telecom);
        }
    }
    v
}
