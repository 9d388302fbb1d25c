//! Live updates (issue 16): GraphQL subscriptions, served over WebSocket
//! (`graphql-transport-ws`, see [`crate::http::ws`]). Each field follows one
//! topic of the application's change feed ([`careledger_app::live`]): changes
//! arrive once, in log order; given `after` (the `position` of the last change a
//! client received), a subscription first replays what the client missed.
//!
//! Updates carry identifiers and codes only; a client reads the details with the
//! usual queries and `minPosition: position` (read-your-writes).

use crate::graphql::casework::types::ReferralStatus;
use crate::graphql::support::ids::clip;
use crate::graphql::support::scalars::Position;
use crate::graphql::support::{access, app, app_error, bad_input};
use async_graphql::futures_util::stream::{self, Stream};
use async_graphql::{Context, ID, InputType, Result, SimpleObject, Subscription, Value};
use careledger_app::live::Follower;
use careledger_domain::ids::OrganisationId;
use careledger_domain::store::Position as LogPosition;
use careledger_domain::values::SiteId;
use careledger_projections::changes::{Change, Topic};
use chrono::{DateTime, Utc};

/// A referral moved (requested, answered, cancelled, marked in error…) or
/// something was added to it (a note, a consent withdrawal).
#[derive(SimpleObject)]
pub struct ReferralUpdate {
    /// The change's position in the log: pass it as `after` to resume, or as
    /// `minPosition` to a query that should include it.
    pub position: Position,
    pub need_case_id: String,
    pub referral_id: String,
    pub service_id: String,
    /// The status the change moved the referral to; null when it did not move
    /// it (a note was added, consent was withdrawn).
    pub status: Option<ReferralStatus>,
    /// The event's type, e.g. `ReferralAccepted`.
    pub event: String,
    /// When it happened in care.
    pub occurred_at: DateTime<Utc>,
}

/// Something happened to a need case of the site (any step of its lifecycle).
#[derive(SimpleObject)]
pub struct WorklistChange {
    /// The change's position in the log (see `ReferralUpdate.position`).
    pub position: Position,
    pub need_case_id: String,
    /// The event's type, e.g. `NeedIdentified`.
    pub event: String,
    pub occurred_at: DateTime<Utc>,
    /// The referral it concerned, if any, and the status it moved it to.
    pub referral_id: Option<String>,
    pub referral_status: Option<ReferralStatus>,
}

pub mod shared;

impl ReferralUpdate {
    /// The fields the shared path can answer ([`shared`]): every field, and `__typename`.
    pub(crate) const FIELDS: &[&str] = &[
        "__typename",
        "position",
        "needCaseId",
        "referralId",
        "serviceId",
        "status",
        "event",
        "occurredAt",
    ];

    /// Field `name`'s value as the executor resolves it (for [`shared`]).
    fn field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "__typename" => Value::String("ReferralUpdate".into()),
            "position" => self.position.to_value(),
            "needCaseId" => self.need_case_id.to_value(),
            "referralId" => self.referral_id.to_value(),
            "serviceId" => self.service_id.to_value(),
            "status" => self.status.to_value(),
            "event" => self.event.to_value(),
            "occurredAt" => self.occurred_at.to_value(),
            _ => return None,
        })
    }

    fn of(c: &Change) -> Option<Self> {
        let r = c.referral.as_ref()?;
        Some(Self {
            position: Position(c.position.raw()),
            need_case_id: c.need_case.to_string(),
            referral_id: r.referral.to_string(),
            service_id: r.service.to_string(),
            status: r.status.map(Into::into),
            event: c.event_type.into(),
            occurred_at: c.occurred_at,
        })
    }
}

impl WorklistChange {
    /// The fields the shared path can answer ([`shared`]): every field, and `__typename`.
    pub(crate) const FIELDS: &[&str] = &[
        "__typename",
        "position",
        "needCaseId",
        "event",
        "occurredAt",
        "referralId",
        "referralStatus",
    ];

    /// Field `name`'s value as the executor resolves it (for [`shared`]).
    fn field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "__typename" => Value::String("WorklistChange".into()),
            "position" => self.position.to_value(),
            "needCaseId" => self.need_case_id.to_value(),
            "event" => self.event.to_value(),
            "occurredAt" => self.occurred_at.to_value(),
            "referralId" => self.referral_id.to_value(),
            "referralStatus" => self.referral_status.to_value(),
            _ => return None,
        })
    }

    fn of(c: &Change) -> Self {
        Self {
            position: Position(c.position.raw()),
            need_case_id: c.need_case.to_string(),
            event: c.event_type.into(),
            occurred_at: c.occurred_at,
            referral_id: c.referral.as_ref().map(|r| r.referral.to_string()),
            referral_status: c.referral.as_ref().and_then(|r| r.status.map(Into::into)),
        }
    }
}

fn site(s: &str) -> Result<SiteId> {
    SiteId::parse(s.trim()).map_err(|_| bad_input(format!("'{}' is not a site id", clip(s))))
}

/// What `referralUpdated(site, organisation)` follows: exactly one of the two.
fn referral_topic(site: Option<String>, organisation: Option<ID>) -> Result<Topic> {
    match (site, organisation) {
        (Some(s), None) => Ok(Topic::Site(self::site(&s)?)),
        (None, Some(o)) => Ok(Topic::Organisation(
            OrganisationId::parse(o.trim()).map_err(|_| {
                bad_input(format!("'{}' is not an organisation id (a UUID)", clip(&o)))
            })?,
        )),
        _ => Err(bad_input("give exactly one of site and organisation")),
    }
}

/// The follower's changes mapped by `map` (those it maps to `None` are skipped);
/// a fault ends the stream after one error.
fn updates<T: Send + 'static>(
    follower: Follower,
    map: fn(&Change) -> Option<T>,
) -> impl Stream<Item = Result<T>> {
    stream::unfold(Some(follower), move |f| async move {
        let mut f = f?;
        loop {
            match f.next().await {
                Ok(c) => {
                    if let Some(t) = map(&c) {
                        return Some((Ok(t), Some(f)));
                    }
                }
                Err(e) => return Some((Err(app_error(e)), None)),
            }
        }
    })
}

#[derive(Default)]
pub struct LiveSubscription;

#[Subscription(name = "Subscription")]
impl LiveSubscription {
    /// Each change of a referral at `site` (coordinators of the site) or
    /// addressed to `organisation` (its providers) — exactly one of the two —
    /// after `after` (from now when omitted).
    async fn referral_updated(
        &self,
        ctx: &Context<'_>,
        site: Option<String>,
        organisation: Option<ID>,
        after: Option<Position>,
    ) -> Result<impl Stream<Item = Result<ReferralUpdate>>> {
        let topic = referral_topic(site, organisation)?;
        let follower = app(ctx)
            .follow(access(ctx)?, topic, after.map(|p| LogPosition::new(p.0)))
            .map_err(app_error)?;
        Ok(updates(follower, ReferralUpdate::of))
    }

    /// Each change of a need case at `site` (its coordinators), after `after`.
    async fn worklist_changed(
        &self,
        ctx: &Context<'_>,
        site: String,
        after: Option<Position>,
    ) -> Result<impl Stream<Item = Result<WorklistChange>>> {
        let topic = Topic::Site(self::site(&site)?);
        let follower = app(ctx)
            .follow(access(ctx)?, topic, after.map(|p| LogPosition::new(p.0)))
            .map_err(app_error)?;
        Ok(updates(follower, |c| Some(WorklistChange::of(c))))
    }
}
