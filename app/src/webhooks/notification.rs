//! One webhook notification: a FHIR R4 `Bundle` of type `history`, shaped like
//! the Subscription backport's `id-only` notification — first a `Parameters`
//! resource (the backport's R4 SubscriptionStatus) naming the subscription, the
//! topic, the event number and the changed `Task`, then the `Task` itself as a
//! `fullUrl` only. The body is a function of the subscription, the log position
//! and the event number alone, so a retry or a repeat after a restart sends the
//! same bytes under the same idempotency id and signature.

use crate::fhir::referral_resource_id;
use crate::webhooks::port::Outgoing;
use careledger_domain::ids::{NeedCaseId, ReferralId};
use careledger_domain::need_case::ReferralStatus;
use careledger_domain::store::Position;
use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use uuid::Uuid;

/// The topic every subscription follows (a canonical URI; not resolvable).
pub const TOPIC: &str = "urn:careledger:fhir:SubscriptionTopic:task-changes";
/// The backport's profile of the R4 notification status.
pub const STATUS_PROFILE: &str = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-status-r4";
/// `sha256=<hex HMAC-SHA256 of the body under the subscription's secret>`.
pub const SIGNATURE_HEADER: &str = "x-careledger-signature";
/// `<subscription id>.<log position>`: the same for every retry and repeat.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";
pub const SUBSCRIPTION_HEADER: &str = "x-careledger-subscription";

/// A change a subscription is to be told of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Where the change is in the log.
    pub position: Position,
    /// Its number among the subscription's notifications (1, 2, …).
    pub event_number: u64,
    /// When it was recorded (its lag is measured from here).
    pub recorded_at: DateTime<Utc>,
    /// When it happened in care (the notification event's timestamp).
    pub occurred_at: DateTime<Utc>,
    pub need_case: NeedCaseId,
    pub referral: ReferralId,
    pub status: ReferralStatus,
}

/// The idempotency id of the notification of the change at `position`.
pub fn idempotency_id(subscription: Uuid, position: Position) -> String {
    format!("{}.{}", subscription.simple(), position.raw())
}

/// The notification's body: `fhir_base` is the FHIR interface's absolute
/// address (`<public URL>/fhir`).
pub fn bundle(fhir_base: &str, subscription: Uuid, n: &Notice) -> Value {
    let task = referral_resource_id(n.need_case, n.referral);
    let task_url = format!("{fhir_base}/Task/{task}");
    let number = n.event_number.to_string();
    let sub_ref = format!("Subscription/{subscription}");
    let created = n.status == ReferralStatus::Requested;
    json!({
        "resourceType": "Bundle",
        "id": idempotency_id(subscription, n.position),
        "type": "history",
        "entry": [
            {
                "fullUrl": format!("urn:uuid:{}", status_uuid(subscription, n.position)),
                "resource": {
                    "resourceType": "Parameters",
                    "meta": { "profile": [STATUS_PROFILE] },
                    "parameter": [
                        { "name": "subscription", "valueReference": { "reference": sub_ref } },
                        { "name": "topic", "valueCanonical": TOPIC },
                        { "name": "status", "valueCode": "active" },
                        { "name": "type", "valueCode": "event-notification" },
                        { "name": "events-since-subscription-start", "valueString": number },
                        {
                            "name": "notification-event",
                            "part": [
                                { "name": "event-number", "valueString": number },
                                {
                                    "name": "timestamp",
                                    "valueInstant": n.occurred_at.to_rfc3339_opts(SecondsFormat::Millis, true)
                                },
                                { "name": "focus", "valueReference": { "reference": task_url } }
                            ]
                        }
                    ]
                },
                "request": { "method": "GET", "url": format!("{sub_ref}/$status") },
                "response": { "status": "200" }
            },
            {
                "fullUrl": task_url,
                "request": {
                    "method": if created { "POST" } else { "PUT" },
                    "url": if created { "Task".to_string() } else { format!("Task/{task}") }
                },
                "response": { "status": if created { "201" } else { "200" } }
            }
        ]
    })
}

/// A UUID for the status resource, the same for every repeat of one
/// notification (version 8: the first 16 bytes of a SHA-256).
fn status_uuid(subscription: Uuid, position: Position) -> Uuid {
    use sha2::Digest;
    let mut h = Sha256::new();
    h.update(subscription.as_bytes());
    h.update(position.raw().to_be_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    uuid::Builder::from_custom_bytes(b).into_uuid()
}

/// The signature header's value for `body` under `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// The POST that delivers `n` to the subscription.
pub fn outgoing(
    fhir_base: &str,
    subscription: Uuid,
    endpoint: &str,
    secret: &str,
    n: &Notice,
) -> Outgoing {
    let body = serde_json::to_vec(&bundle(fhir_base, subscription, n)).expect("JSON serialises");
    Outgoing {
        endpoint: endpoint.to_string(),
        headers: vec![
            ("content-type", "application/fhir+json".to_string()),
            (SIGNATURE_HEADER, signature(secret, &body)),
            (IDEMPOTENCY_HEADER, idempotency_id(subscription, n.position)),
            (SUBSCRIPTION_HEADER, subscription.to_string()),
        ],
        body,
    }
}
