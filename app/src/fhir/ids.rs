//! FHIR logical ids of CareLedger's records (`[A-Za-z0-9\-\.]{1,64}`).
//!
//! A referral lives inside its need case's stream, so the `Task`, the
//! `ServiceRequest` and the `Consent` of a referral carry both ids: the need
//! case's UUID then the referral's, each as 32 lowercase hex digits (64
//! characters, FHIR's longest id). Reading one finds the need case directly,
//! with no referral → need case index to keep in memory. Every other resource's
//! id is its record's UUID in the hyphenated form.

use careledger_domain::ids::{NeedCaseId, ReferralId};
use uuid::Uuid;

/// The logical id of a referral's `Task`, `ServiceRequest` and `Consent`.
pub fn referral_resource_id(need_case: NeedCaseId, referral: ReferralId) -> String {
    format!(
        "{}{}",
        need_case.as_uuid().simple(),
        referral.as_uuid().simple()
    )
}

/// The need case and referral a referral resource's id names; `None` for any
/// other text.
pub fn parse_referral_resource_id(id: &str) -> Option<(NeedCaseId, ReferralId)> {
    let hex = |s: &str| s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if id.len() != 64 || !hex(id) {
        return None;
    }
    let need = Uuid::try_parse(&id[..32]).ok()?;
    let referral = Uuid::try_parse(&id[32..]).ok()?;
    Some((NeedCaseId::from_uuid(need), ReferralId::from_uuid(referral)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_referral_resource_id_round_trips_and_is_a_valid_fhir_id() {
        let n = NeedCaseId::from_uuid(Uuid::now_v7());
        let r = ReferralId::from_uuid(Uuid::now_v7());
        let id = referral_resource_id(n, r);
        assert_eq!(id.len(), 64);
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(parse_referral_resource_id(&id), Some((n, r)));
    }

    #[test]
    fn other_text_is_not_a_referral_resource_id() {
        let n = Uuid::now_v7().simple().to_string();
        for bad in [
            String::new(),
            n.clone(),
            format!("{n}{}", &n[..31]),
            format!("{n}{n}0"),
            n.repeat(2).to_uppercase(),
            format!("{}-{}", &n[..31], n),
        ] {
            assert_eq!(parse_referral_resource_id(&bad), None, "{bad}");
        }
    }
}
