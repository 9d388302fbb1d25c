//! The audit trail and stream history: who did what, when, where. Which fields
//! each reader sees is the application's decision ([`careledger_app::audit`]).

use super::support::scalars::{PageInfo, Position};
use super::support::{MAX_PAGE, access, allow, app, app_error, bad_input};
use async_graphql::{Context, Object, Result, SimpleObject};
use careledger_app::audit::AuditQuery as TrailQuery;
use careledger_app::policy::Action;
use careledger_domain::store::{Position as StorePosition, RecordedEvent, StreamName};
use careledger_domain::values::SiteId;
use chrono::{DateTime, Utc};

#[derive(SimpleObject)]
pub struct AuditTrailEdge {
    /// The event's position.
    pub cursor: String,
    pub node: HistoryEvent,
}

#[derive(SimpleObject)]
pub struct AuditTrailConnection {
    pub edges: Vec<AuditTrailEdge>,
    pub page_info: PageInfo,
}

/// Who did something: a pseudonymous subject and a role.
#[derive(SimpleObject)]
pub struct ActorInfo {
    pub subject: String,
    pub role: String,
}

/// One event of a stream with its metadata: the audit trail.
#[derive(SimpleObject)]
pub struct HistoryEvent {
    pub event_id: String,
    pub stream: String,
    pub version: u64,
    pub position: Position,
    /// The event type, e.g. `ReferralAccepted`.
    #[graphql(name = "type")]
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub actor: ActorInfo,
    pub site: Option<String>,
    pub correlation_id: String,
    pub causation_id: Option<String>,
    /// The event's fields: the whole record in a stream's `history`; in the
    /// `auditTrail`, the lifecycle fields only (ids, need, site, services,
    /// states, reason codes, outcome), never the recipient's stratifiers.
    pub data: async_graphql::Json<serde_json::Value>,
}

impl HistoryEvent {
    /// An event as its stream's history shows it: the whole record (see
    /// [`audit::record_fields`](careledger_app::audit::record_fields)).
    pub fn record(e: &RecordedEvent) -> Self {
        Self::with_data(e, careledger_app::audit::record_fields(&e.event))
    }

    /// An event as the audit trail shows it: the lifecycle fields only, never a
    /// recipient's stratifiers (see
    /// [`audit::lifecycle_fields`](careledger_app::audit::lifecycle_fields)).
    pub fn audit(e: &RecordedEvent) -> Self {
        Self::with_data(e, careledger_app::audit::lifecycle_fields(&e.event))
    }

    fn with_data(e: &RecordedEvent, data: serde_json::Value) -> Self {
        HistoryEvent {
            event_id: e.id.to_string(),
            stream: e.stream.to_string(),
            version: e.version,
            position: Position(e.position.raw()),
            event_type: e.event.event_type().to_string(),
            occurred_at: e.metadata.occurred_at,
            recorded_at: e.recorded_at,
            actor: ActorInfo {
                subject: e.metadata.actor.subject.clone(),
                role: e.metadata.actor.role.name().to_string(),
            },
            site: e.metadata.site.as_ref().map(ToString::to_string),
            correlation_id: e.metadata.correlation_id.to_string(),
            causation_id: e.metadata.causation_id.map(|c| c.to_string()),
            data: async_graphql::Json(data),
        }
    }
}

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// The audit trail: who did what, when, at which site — the events of one stream,
    /// one actor or one site (at least one of them), optionally within a period of
    /// recording (`from` inclusive, `to` exclusive), oldest first, paged with
    /// `first` (≤ 100) and `after` (an edge's cursor). Quality managers see their
    /// sites' events only; administrators see all; other roles are refused. Each
    /// entry's `data` holds the lifecycle fields only — never the recipient's
    /// stratifiers (birth year, sex, postal code, language, cancer site group,
    /// deprivation, preferential reimbursement …): the minimum necessary.
    #[graphql(complexity = "first.unwrap_or(50).max(1) as usize * child_complexity")]
    #[allow(clippy::too_many_arguments)]
    async fn audit_trail(
        &self,
        ctx: &Context<'_>,
        stream: Option<String>,
        actor: Option<String>,
        site: Option<String>,
        from: Option<DateTime<chrono::Utc>>,
        to: Option<DateTime<chrono::Utc>>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<AuditTrailConnection> {
        let access = allow(ctx, Action::ReadAuditTrail)?;
        let n = match first {
            None => 50,
            Some(n) if (1..=MAX_PAGE).contains(&n) => n as usize,
            Some(n) => {
                return Err(bad_input(format!(
                    "first must be between 1 and {MAX_PAGE}, got {n}"
                )));
            }
        };
        let query = TrailQuery {
            stream: stream
                .map(|s| StreamName::parse(&s).map_err(|e| bad_input(e.to_string())))
                .transpose()?,
            actor,
            site: site
                .map(|s| SiteId::parse(&s).map_err(|e| bad_input(e.to_string())))
                .transpose()?,
            from,
            to,
        };
        let after = match after {
            None => StorePosition::START,
            Some(c) => StorePosition::new(
                c.parse()
                    .map_err(|_| bad_input(format!("'{c}' is not an audit-trail cursor")))?,
            ),
        };
        let page = app(ctx)
            .audit_trail(access, query, after, n)
            .await
            .map_err(app_error)?;
        let (events, has_next_page) = (page.events, page.has_next_page);
        let cursor = |e: &careledger_domain::store::RecordedEvent| e.position.raw().to_string();
        Ok(AuditTrailConnection {
            page_info: PageInfo {
                has_next_page,
                has_previous_page: after != StorePosition::START,
                start_cursor: events.first().map(cursor),
                end_cursor: events.last().map(cursor),
            },
            edges: events
                .iter()
                .map(|e| AuditTrailEdge {
                    cursor: cursor(e),
                    node: HistoryEvent::audit(e),
                })
                .collect(),
        })
    }

    /// The events of one stream (e.g. `need-<uuid>`) with their metadata: the audit
    /// trail. Read from the log itself, so it is never behind. At most 100 per call;
    /// page on with `fromVersion`.
    #[graphql(complexity = "first.unwrap_or(100).max(1) as usize * child_complexity")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        stream: String,
        #[graphql(default = 0)] from_version: u64,
        first: Option<i32>,
    ) -> Result<Vec<HistoryEvent>> {
        let access = access(ctx)?;
        let stream = StreamName::parse(&stream).map_err(|e| bad_input(e.to_string()))?;
        let n = match first {
            None => 100,
            Some(n) if (0..=MAX_PAGE).contains(&n) => n as usize,
            Some(n) => {
                return Err(bad_input(format!(
                    "first must be between 0 and {MAX_PAGE}, got {n}"
                )));
            }
        };
        let events = app(ctx)
            .stream_history(access, stream, from_version, n)
            .await
            .map_err(app_error)?;
        Ok(events.iter().map(HistoryEvent::record).collect())
    }
}
