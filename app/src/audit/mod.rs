//! How an event's fields are shown — the one place that decides it (DESIGN §6).
//!
//! * [`record_fields`]: the whole event, for those who may read the record itself
//!   (`history` of a stream: a site's coordinators for case work; the directory's
//!   readers for a service; administrators for an API key). Two things never
//!   appear: an API key's hash, and the ciphertext of sealed personal data (shown
//!   as `"personal_data": "sealed"`) or of a note on a referral (`"text": "sealed"`).
//! * [`lifecycle_fields`]: the audit trail (quality managers, administrators). An
//!   **allow-list**: who did what, when and where is the envelope; the data keeps
//!   only the lifecycle fields — ids (recipient, need case, referral, service, API
//!   key, note), the need and its domain, the site, states, reason codes, outcomes,
//!   the consent to share, the side that wrote a note (its text only as
//!   `"sealed"`), the suggestions' services (unranked), capacity. Never a recipient's stratifiers
//!   (birth year, age band, sex, postal code, region, country, language, cancer site
//!   group, deprivation decile, preferential reimbursement, kind): they are
//!   quasi-identifiers of one person, not audit facts. Each field is picked by name,
//!   so a field added to an event later stays out until it is added here; a new
//!   event type does not compile until it is given its lifecycle fields.
//!
//! The matcher's reason codes and scores are computed from the recipient's
//! stratifiers: `for_preferential_reimbursement`, `in_postal_area`,
//! `speaks_language`, `above_maximum_age_64`, `serves_relatives` … state them, and
//! a score decodes, against the service's public profile, whether the recipient's
//! postal code and language match. The audit trail keeps only the codes that
//! depend on the service alone ([`service_side_reason`]) and no score.

mod trail;
pub use trail::{AuditPage, AuditQuery, LogUnreadable};

use careledger_domain::DomainEvent;
use careledger_domain::credential::CredentialEvent;
use careledger_domain::directory::ServiceEvent;
use careledger_domain::need_case::NeedCaseEvent;
use careledger_domain::recipient::RecipientEvent;
use careledger_domain::webhook::WebhookEvent;
use serde::Serialize;
use serde_json::{Map, Value, json};

/// The whole event as its stream's history shows it (no API-key hash, sealed
/// personal data marked as such).
pub fn record_fields(event: &DomainEvent) -> Value {
    use DomainEvent as D;
    // The inner enums serialise externally tagged ({"Type": {...}}): keep the fields.
    let tagged = match event {
        D::Recipient(r) => serde_json::to_value(r),
        D::NeedCase(n) => serde_json::to_value(n),
        D::Service(x) => serde_json::to_value(x),
        D::Credential(x) => serde_json::to_value(x),
        D::Webhook(x) => serde_json::to_value(x),
    }
    .unwrap_or(Value::Null);
    let mut data = match tagged {
        Value::Object(mut m) if m.len() == 1 => m.remove(event.event_type()).unwrap_or_default(),
        other => other,
    };
    if let Some(m) = data.as_object_mut() {
        // An API key's history shows who issued or revoked it, not its hash;
        // sealed personal data is shown as such, never as its ciphertext.
        m.remove("secret_sha256");
        if m.remove("personal").is_some() {
            m.insert("personal_data".into(), "sealed".into());
        }
        if let D::NeedCase(NeedCaseEvent::ReferralNoteAdded(_)) = event {
            m.insert("text".into(), "sealed".into());
        }
        // Not encoded when empty since schema v3; shown as before.
        if let D::NeedCase(NeedCaseEvent::ServicesSuggested(_)) = event {
            m.entry("left_out").or_insert(json!([]));
        }
        // A webhook subscription's history: its secret is sealed, never shown.
        if let D::Webhook(_) = event
            && m.remove("secret").is_some()
        {
            m.insert("secret".into(), "sealed".into());
        }
    }
    data
}

/// The event's lifecycle fields only: what the audit trail shows (see the module
/// documentation for what is kept and why).
pub fn lifecycle_fields(event: &DomainEvent) -> Value {
    use NeedCaseEvent as N;
    match event {
        DomainEvent::Recipient(RecipientEvent::CareRecipientRegistered(r)) => {
            let mut m = fields([
                ("recipient", to(&r.profile.recipient)),
                ("site", to(&r.profile.site)),
            ]);
            if r.personal.is_some() {
                m.insert("personal_data".into(), "sealed".into());
            }
            Value::Object(m)
        }
        DomainEvent::Recipient(RecipientEvent::CareRecipientErased(_)) => json!({}),
        DomainEvent::NeedCase(e) => match e {
            N::NeedIdentified(x) => object([
                ("need_case", to(&x.need_case)),
                ("need", to(&x.need)),
                ("domain", to(&x.domain)),
                ("recipient", to(&x.recipient.recipient)),
                ("site", to(&x.recipient.site)),
            ]),
            N::ServicesSuggested(x) => {
                // In service-id order, without ranks: the order of a ranking, like
                // its scores, follows the recipient's postal code and language.
                let mut suggestions: Vec<_> = x.suggestions.iter().collect();
                suggestions.sort_by_key(|s| s.service.to_string());
                let mut out = json!({
                    "suggestions": suggestions.iter().map(|s| json!({
                        "service": to(&s.service),
                        "reasons": service_side(&s.reasons),
                    })).collect::<Vec<_>>(),
                    // A service left out only for reasons about the recipient (too
                    // old, outside the area…) would say so by its very presence.
                    "left_out": x.left_out.iter().filter_map(|l| {
                        let reasons = service_side(&l.reasons);
                        (!reasons.is_empty()).then(|| json!({
                            "service": to(&l.service),
                            "reasons": reasons,
                        }))
                    }).collect::<Vec<_>>(),
                });
                // Since schema v3 a ranking records what it was computed from and
                // its left-out list is recomputed (`casework::left_out`); by
                // another version of the matcher's rules, it is not, and says so.
                if let (Some(b), Some(m)) = (x.ranked, out.as_object_mut()) {
                    m.insert("ranked".into(), ranked(b));
                }
                out
            }
            N::ReferralRequested(x) => object([
                ("referral", to(&x.referral)),
                ("service", to(&x.service)),
                ("first", to(&x.first)),
                ("consent", to(&x.consent)),
            ]),
            // The link's token is never stored; who issued a link, until when, is
            // (not its page's language, which may tell the recipient's).
            N::AnswerLinkIssued(x) => object([
                ("referral", to(&x.referral)),
                ("service", to(&x.service)),
                ("link", to(&x.link)),
                ("expires_at", to(&x.expires_at)),
            ]),
            N::ReferralConsentWithdrawn(x) => {
                object([("referral", to(&x.referral)), ("service", to(&x.service))])
            }
            // A note's text is sealed, and never shown here even so.
            N::ReferralNoteAdded(x) => object([
                ("referral", to(&x.referral)),
                ("service", to(&x.service)),
                ("note", to(&x.note)),
                ("side", to(&x.side)),
                ("text", "sealed".into()),
            ]),
            N::ReferralAccepted(x) => {
                object([("referral", to(&x.referral)), ("service", to(&x.service))])
            }
            N::ReferralRejected(x) => object([
                ("referral", to(&x.referral)),
                ("service", to(&x.service)),
                ("reason", to(&x.reason)),
            ]),
            N::ReferralWaitlisted(x) => object([
                ("referral", to(&x.referral)),
                ("service", to(&x.service)),
                ("estimated_wait_days", to(&x.estimated_wait_days)),
            ]),
            N::ReferralStarted(x) => {
                object([("referral", to(&x.referral)), ("service", to(&x.service))])
            }
            N::ReferralCompleted(x) => object([
                ("referral", to(&x.referral)),
                ("service", to(&x.service)),
                ("outcome", to(&x.outcome)),
            ]),
            N::ReferralFailed(x) => object([
                ("referral", to(&x.referral)),
                ("service", to(&x.service)),
                ("reason", to(&x.reason)),
            ]),
            N::ReferralCancelled(x) => object([
                ("referral", to(&x.referral)),
                ("service", to(&x.service)),
                ("by", to(&x.by)),
                ("reason", to(&x.reason)),
            ]),
            N::NeedClosed(x) => object([("reason", to(&x.reason))]),
            N::EnteredInError(x) => object([("target", to(&x.target)), ("reason", to(&x.reason))]),
        },
        // A service's profile is the directory's (public, and in the service's own
        // history); the audit trail records that it was registered or changed.
        DomainEvent::Service(e) => match e {
            ServiceEvent::ServiceRegistered(x) => {
                object([("service", to(&x.service)), ("capacity", to(&x.capacity))])
            }
            ServiceEvent::ServiceUpdated(_) | ServiceEvent::ServiceRetired(_) => json!({}),
            ServiceEvent::ServiceCapacityChanged(x) => object([("capacity", to(&x.capacity))]),
        },
        DomainEvent::Credential(e) => match e {
            CredentialEvent::ApiKeyIssued(x) => {
                object([("key_id", to(&x.key_id)), ("name", to(&x.name))])
            }
            CredentialEvent::ApiKeyRevoked(x) => object([("key_id", to(&x.key_id))]),
        },
        // A subscription's configuration names systems, not people; its secret
        // is sealed and never shown.
        DomainEvent::Webhook(e) => match e {
            WebhookEvent::WebhookSubscriptionCreated(x) => object([
                ("subscription_id", to(&x.subscription_id)),
                ("name", to(&x.name)),
                ("filter", to(&x.filter)),
            ]),
            WebhookEvent::WebhookSubscriptionDeleted(x) => {
                object([("subscription_id", to(&x.subscription_id))])
            }
        },
    }
}

/// Whether a suggestion's or exclusion's reason code depends on the service alone
/// (its needs, capacity, cost, status, the ranking's cut-off), not on the
/// recipient's stratifiers. Unknown codes — a hand-made list's, or a code added to
/// the matcher later — are not.
pub fn service_side_reason(code: &str) -> bool {
    let numbered = |prefix: &str, suffix: &str| {
        code.strip_prefix(prefix)
            .and_then(|c| c.strip_suffix(suffix))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    matches!(
        code,
        "addresses_need"
            | "need_not_addressed"
            | "has_capacity"
            | "no_capacity"
            | "free"
            | "reimbursed"
            | "fee"
            | "retired"
    ) || numbered("waitlist_", "_days")
        || numbered("ranked_", "_below_cutoff")
}

fn service_side<R: AsRef<str>>(reasons: &[R]) -> Vec<&str> {
    reasons
        .iter()
        .map(AsRef::as_ref)
        .filter(|r| service_side_reason(r))
        .collect()
}

/// What a ranking was computed from, as shown (not its today, close to the
/// event's recording time): the directory's position, the matcher's version,
/// and whether the left-out list could be recomputed.
fn ranked(b: careledger_domain::need_case::RankingBasis) -> Value {
    let mut m = fields([
        ("directory_position", to(&b.directory_position)),
        ("matcher_version", to(&b.matcher_version)),
    ]);
    if b.matcher_version != careledger_domain::matching::MATCHER_VERSION {
        m.insert("left_out_unavailable".into(), "MATCHER_CHANGED".into());
    }
    Value::Object(m)
}

fn to<T: Serialize + ?Sized>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn fields<const N: usize>(pairs: [(&str, Value); N]) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn object<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::Object(fields(pairs))
}

#[cfg(test)]
mod tests;
