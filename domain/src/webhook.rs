//! Webhook subscriptions (issue 17): an administrator subscribes another system's
//! HTTP endpoint to the changes of referrals' `Task`s, shaped like the FHIR R4
//! Subscription backport's `rest-hook` channel with `id-only` payloads. Stream
//! `webhook-<uuid>`.
//!
//! The subscription records where to send (`endpoint`), which changes (the
//! [`WebhookFilter`]: the referral's owner organisation, the requester's site, the
//! status the change moved it to) and the secret its notifications are signed
//! with — sealed (the vault keeps one key per subscription), never in clear. A
//! deleted subscription stays deleted; deleting it again writes nothing.

use crate::aggregate::{Aggregate, Command, TimeRefusal};
use crate::ids::OrganisationId;
use crate::need_case::ReferralStatus;
use crate::personal::Sealed;
use crate::values::{SiteId, TextKind, forbidden_char};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The longest endpoint URL accepted.
pub const MAX_ENDPOINT_CHARS: usize = 2_000;
/// At most this many values in each of a filter's lists.
pub const MAX_FILTER_VALUES: usize = 100;
/// A secret's length bounds (characters).
pub const SECRET_CHARS: std::ops::RangeInclusive<usize> = 32..=256;

/// Which changes a subscription receives. An empty list lets every value pass.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookFilter {
    /// The organisation the referral is addressed to (`Task.owner`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owners: Vec<OrganisationId>,
    /// The site that requested it (`Task.requester`'s site).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requester_sites: Vec<SiteId>,
    /// The status the change moved the referral to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub statuses: Vec<ReferralStatus>,
}

impl WebhookFilter {
    /// Whether a change of a referral owned by `owner` (none when its service
    /// names no organisation), requested at `site`, moving it to `status`,
    /// passes. A filter naming owners lets no ownerless referral pass.
    pub fn matches(
        &self,
        owner: Option<&OrganisationId>,
        site: &SiteId,
        status: ReferralStatus,
    ) -> bool {
        (self.owners.is_empty() || owner.is_some_and(|o| self.owners.contains(o)))
            && (self.requester_sites.is_empty() || self.requester_sites.contains(site))
            && (self.statuses.is_empty() || self.statuses.contains(&status))
    }

    /// Sorted, without repeats (so a filter has one recorded form).
    fn normalised(&self) -> Self {
        let mut f = self.clone();
        f.owners.sort();
        f.owners.dedup();
        f.requester_sites.sort();
        f.requester_sites.dedup();
        f.statuses.sort_by_key(|s| s.name());
        f.statuses.dedup();
        f
    }
}

/// An endpoint URL, checked: `http` or `https`, a host, no user name or password
/// (they would be recorded in the log in clear), no fragment, no spaces or
/// control characters, at most [`MAX_ENDPOINT_CHARS`].
pub fn check_endpoint(url: &str) -> Result<String, WebhookError> {
    let bad = |reason: &'static str| Err(WebhookError::InvalidEndpoint { reason });
    if url.is_empty() || url.chars().count() > MAX_ENDPOINT_CHARS {
        return bad("an endpoint is a URL of 1 to 2000 characters");
    }
    if !url.chars().all(|c| c.is_ascii_graphic()) {
        return bad("an endpoint holds printable ASCII only (no spaces or control characters)");
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return bad("an endpoint is an absolute http:// or https:// URL");
    };
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return bad("an endpoint's scheme is http or https");
    }
    if rest.contains('#') {
        return bad("an endpoint has no fragment");
    }
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    if authority.contains('@') {
        return bad("an endpoint carries no user name or password");
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let Some((host, after)) = v6.split_once(']') else {
            return bad("an IPv6 host is written in brackets");
        };
        match after {
            "" => (host, None),
            p => match p.strip_prefix(':') {
                Some(p) => (host, Some(p)),
                None => return bad("an endpoint's port follows its host after a colon"),
            },
        }
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return bad("an endpoint names a host");
    }
    if let Some(p) = port
        && (p.is_empty() || p.parse::<u16>().map_or(true, |p| p == 0))
    {
        return bad("an endpoint's port is a number from 1 to 65535");
    }
    Ok(format!("{scheme}://{rest}"))
}

/// A subscription's name, endpoint and filter checked, in the form recorded
/// (name trimmed, endpoint's scheme in lowercase, filter sorted without
/// repeats). The application calls it before it seals the secret, so a refused
/// subscription makes no key in the vault.
///
/// # Errors
/// The first refusal.
pub fn check_subscription(
    name: &str,
    endpoint: &str,
    filter: &WebhookFilter,
) -> Result<(String, String, WebhookFilter), WebhookError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(WebhookError::InvalidName);
    }
    if let Some(c) = forbidden_char(name, TextKind::SingleLine) {
        return Err(WebhookError::ControlCharacter {
            code_point: c as u32,
        });
    }
    let endpoint = check_endpoint(endpoint)?;
    if filter.owners.len() > MAX_FILTER_VALUES
        || filter.requester_sites.len() > MAX_FILTER_VALUES
        || filter.statuses.len() > MAX_FILTER_VALUES
    {
        return Err(WebhookError::FilterTooLong);
    }
    Ok((name.to_string(), endpoint, filter.normalised()))
}

/// The secret notifications are signed with, as the administrator gave it.
/// Never printed: its `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(redacted)")
    }
}

impl WebhookSecret {
    /// A secret of 32 to 256 printable ASCII characters.
    ///
    /// # Errors
    /// [`WebhookError::InvalidSecret`], which never quotes it.
    pub fn new(secret: String) -> Result<Self, WebhookError> {
        if SECRET_CHARS.contains(&secret.len()) && secret.chars().all(|c| c.is_ascii_graphic()) {
            Ok(Self(secret))
        } else {
            Err(WebhookError::InvalidSecret)
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // one command at a time; never stored in bulk
pub enum WebhookAction {
    Create {
        subscription_id: Uuid,
        name: String,
        endpoint: String,
        filter: WebhookFilter,
        /// The secret, sealed under the subscription's key.
        secret: Sealed,
    },
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookSubscriptionCreated {
    pub subscription_id: Uuid,
    pub name: String,
    pub endpoint: String,
    pub filter: WebhookFilter,
    pub secret: Sealed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookSubscriptionDeleted {
    pub subscription_id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WebhookEvent {
    WebhookSubscriptionCreated(WebhookSubscriptionCreated),
    WebhookSubscriptionDeleted(WebhookSubscriptionDeleted),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WebhookError {
    #[error("webhook subscription {subscription_id} already exists")]
    Exists { subscription_id: Uuid },
    #[error("webhook subscription not found")]
    NotFound,
    #[error("a webhook subscription's name must be 1 to 100 characters, not only spaces")]
    InvalidName,
    #[error(
        "a webhook subscription's name may not hold control characters (it holds U+{code_point:04X})"
    )]
    ControlCharacter { code_point: u32 },
    #[error("{reason}")]
    InvalidEndpoint { reason: &'static str },
    #[error("this server delivers to {supported} endpoints only")]
    UnsupportedScheme { supported: String },
    #[error("a webhook secret is 32 to 256 printable ASCII characters (no spaces)")]
    InvalidSecret,
    #[error("a filter lists at most 100 values of each kind")]
    FilterTooLong,
    /// `occurred_at` breaks the time rule every command follows.
    #[error(transparent)]
    Time(#[from] TimeRefusal),
}

impl WebhookError {
    pub fn code(&self) -> &'static str {
        match self {
            WebhookError::Exists { .. } => "WEBHOOK_SUBSCRIPTION_EXISTS",
            WebhookError::NotFound => "WEBHOOK_SUBSCRIPTION_NOT_FOUND",
            WebhookError::InvalidName => "INVALID_WEBHOOK_NAME",
            WebhookError::ControlCharacter { .. } => "CONTROL_CHARACTERS",
            WebhookError::InvalidEndpoint { .. } => "INVALID_WEBHOOK_ENDPOINT",
            WebhookError::UnsupportedScheme { .. } => "UNSUPPORTED_WEBHOOK_SCHEME",
            WebhookError::InvalidSecret => "INVALID_WEBHOOK_SECRET",
            WebhookError::FilterTooLong => "WEBHOOK_FILTER_TOO_LONG",
            WebhookError::Time(t) => t.code(),
        }
    }

    /// The input field the refusal concerns.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            WebhookError::InvalidName | WebhookError::ControlCharacter { .. } => Some("name"),
            WebhookError::InvalidEndpoint { .. } | WebhookError::UnsupportedScheme { .. } => {
                Some("endpoint")
            }
            WebhookError::InvalidSecret => Some("secret"),
            WebhookError::FilterTooLong => Some("filter"),
            WebhookError::Exists { .. } | WebhookError::NotFound => Some("subscriptionId"),
            WebhookError::Time(_) => Some("occurredAt"),
        }
    }
}

/// A webhook subscription's state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebhookSubscription {
    pub created: Option<(WebhookSubscriptionCreated, DateTime<Utc>)>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl Aggregate for WebhookSubscription {
    type Action = WebhookAction;
    type Event = WebhookEvent;
    type Error = WebhookError;

    fn decide(&self, c: &Command<WebhookAction>) -> Result<Vec<WebhookEvent>, WebhookError> {
        c.check_time()?;
        match &c.action {
            WebhookAction::Create {
                subscription_id,
                name,
                endpoint,
                filter,
                secret,
            } => {
                if self.created.is_some() {
                    return Err(WebhookError::Exists {
                        subscription_id: *subscription_id,
                    });
                }
                let (name, endpoint, filter) = check_subscription(name, endpoint, filter)?;
                Ok(vec![WebhookEvent::WebhookSubscriptionCreated(
                    WebhookSubscriptionCreated {
                        subscription_id: *subscription_id,
                        name,
                        endpoint,
                        filter,
                        secret: secret.clone(),
                    },
                )])
            }
            WebhookAction::Delete => {
                let Some((created, _)) = &self.created else {
                    return Err(WebhookError::NotFound);
                };
                if self.deleted_at.is_some() {
                    return Ok(vec![]);
                }
                Ok(vec![WebhookEvent::WebhookSubscriptionDeleted(
                    WebhookSubscriptionDeleted {
                        subscription_id: created.subscription_id,
                    },
                )])
            }
        }
    }

    fn apply(&mut self, event: &WebhookEvent, at: DateTime<Utc>) {
        match event {
            WebhookEvent::WebhookSubscriptionCreated(e) => self.created = Some((e.clone(), at)),
            WebhookEvent::WebhookSubscriptionDeleted(_) => self.deleted_at = Some(at),
        }
    }
}

#[cfg(test)]
mod tests;
