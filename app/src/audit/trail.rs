//! The audit trail's and a stream history's use cases: who may read which
//! events (the policy), narrowed to the caller's sites; what each reader sees of
//! an event is [`super::lifecycle_fields`] / [`super::record_fields`].

use crate::policy::{Access, Action};
use crate::{App, AppError};
use careledger_domain::store::{AuditFilter, Position, RecordedEvent, StreamName};
use careledger_domain::values::SiteId;
use chrono::{DateTime, Utc};

/// What an audit-trail page asks for: a stream, an actor or a site (at least
/// one), within a recording period.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub stream: Option<StreamName>,
    pub actor: Option<String>,
    pub site: Option<SiteId>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// One page of events, oldest first, and whether more follow.
#[derive(Debug)]
pub struct AuditPage {
    pub events: Vec<RecordedEvent>,
    pub has_next_page: bool,
}

/// A read of the log that failed: the store cannot be read right now.
#[derive(Debug, thiserror::Error)]
#[error("the event store cannot be read right now")]
pub struct LogUnreadable(#[source] pub careledger_domain::store::StoreError);

impl App {
    /// The audit trail (quality managers: their sites; administrators: all):
    /// `n` events after `after` that match `query`, the caller's sites applied.
    pub async fn audit_trail(
        &self,
        access: &Access,
        query: AuditQuery,
        after: Position,
        n: usize,
    ) -> Result<AuditPage, AppError> {
        access.check(Action::ReadAuditTrail)?;
        if query.stream.is_none() && query.actor.is_none() && query.site.is_none() {
            return Err(AppError::rejected(
                None,
                "BAD_USER_INPUT",
                "name a stream, an actor or a site",
            ));
        }
        if let Some(s) = &query.site {
            access.check_at(Action::ReadAuditTrail, s)?;
        }
        // A quality manager's view is narrowed to their sites (all, when the
        // credential says "*").
        let sites = match (query.site, access.sites_for(Action::ReadAuditTrail)) {
            (Some(s), _) => Some(vec![s]),
            (None, Some(theirs)) => Some(theirs.to_vec()),
            (None, None) => None,
        };
        let filter = AuditFilter {
            stream: query.stream,
            actor: query.actor,
            sites,
            from: query.from,
            to: query.to,
        };
        let mut events = self
            .store
            .read_audit(filter, after, n + 1)
            .await
            .map_err(|e| AppError::unavailable(LogUnreadable(e)))?;
        let has_next_page = events.len() > n;
        events.truncate(n);
        // A ranking's left-out services are recomputed, so shown as if stored.
        self.with_left_out(&mut events).await?;
        Ok(AuditPage {
            events,
            has_next_page,
        })
    }

    /// Up to `n` events of one stream from `from_version`, read from the log. What
    /// the stream is part of decides who reads it (API keys: administrators; a
    /// service: the directory's readers; case work: the coordinators of its site).
    pub async fn stream_history(
        &self,
        access: &Access,
        stream: StreamName,
        from_version: u64,
        n: usize,
    ) -> Result<Vec<RecordedEvent>, AppError> {
        let action = match stream.category() {
            "apikey" => Action::ManageCredentials,
            "webhook" => Action::ManageWebhooks,
            "service" => Action::ReadDirectoryHistory,
            _ => Action::ReadCasework,
        };
        access.check(action)?;
        let mut events = self
            .store
            .read_stream(stream, from_version, n)
            .await
            .map_err(|e| AppError::unavailable(LogUnreadable(e)))?;
        if let Some(d) = events
            .iter()
            .filter_map(|e| e.metadata.site.as_ref())
            .find_map(|s| access.check_at(action, s).err())
        {
            return Err(AppError::Forbidden(d));
        }
        self.with_left_out(&mut events).await?;
        Ok(events)
    }
}
