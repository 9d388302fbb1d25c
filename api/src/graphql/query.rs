//! Reads. Everything but `history` comes from the projections; each projection-backed
//! field takes `minPosition` to be answered only once the read models include that
//! position (read-your-writes after a mutation), waiting at most the configured
//! time and then failing with `PROJECTION_NOT_CAUGHT_UP`.

use super::ids::{Kind, parse_input};
use super::types::*;
use super::{MAX_PAGE, access, allow, app, denied, error, lang_of};
use crate::authz::Action;
use async_graphql::{Context, ID, InputObject, Object, Result};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use careledger_domain::ids::{NeedCaseId, RecipientId};
use careledger_domain::store::{Position as StorePosition, StreamName};
use careledger_domain::values::{NeedCode, SiteId};
use careledger_projections::casework::{NeedCaseFilter, Overdue, Page, Slice, WorklistKey};
use chrono::DateTime;
use std::sync::Arc;
use uuid::Uuid;

#[derive(Default)]
pub struct CaseQuery;

/// Filters for `needCases`; every field narrows.
#[derive(InputObject, Default)]
pub struct NeedCaseFilterInput {
    pub site: Option<String>,
    pub status: Option<Vec<NeedStatus>>,
    pub domain: Option<NeedDomain>,
    /// A need code, e.g. `psy.fear-of-recurrence`.
    pub need: Option<String>,
    /// Only overdue need cases (true) or only those that are not (false).
    pub overdue: Option<bool>,
    /// Only this recipient's need cases.
    pub recipient_id: Option<ID>,
}

pub(crate) async fn consistent(ctx: &Context<'_>, min: Option<Position>) -> Result<()> {
    let Some(min) = min else { return Ok(()) };
    let app = app(ctx);
    app.projector
        .wait_for(StorePosition::new(min.0), app.settings.consistency_timeout)
        .await
        .map_err(|e| {
            error(
                "PROJECTION_NOT_CAUGHT_UP",
                format!(
                    "the read models reached position {} but not {} within {} ms; retry shortly",
                    e.reached,
                    e.wanted,
                    app.settings.consistency_timeout.as_millis()
                ),
            )
        })
}

fn bad_input(message: impl Into<String>) -> async_graphql::Error {
    error("BAD_USER_INPUT", message)
}

/// Validates Relay page arguments into a slice; 20 items when neither is given.
fn slice<K>(
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
    decode: impl Fn(&str) -> Option<K>,
) -> Result<Slice<K>> {
    let check = |name: &str, n: i32| {
        if (0..=MAX_PAGE).contains(&n) {
            Ok(n as usize)
        } else {
            Err(bad_input(format!(
                "{name} must be between 0 and {MAX_PAGE}, got {n}"
            )))
        }
    };
    let cursor = |c: Option<String>, name: &str| -> Result<Option<K>> {
        c.map(|c| {
            decode(&c).ok_or_else(|| {
                bad_input(format!(
                    "'{}' is not a valid {name} cursor",
                    super::ids::clip(&c)
                ))
            })
        })
        .transpose()
    };
    match (first, last) {
        (Some(_), Some(_)) => Err(bad_input("give first or last, not both")),
        (None, Some(n)) => {
            if after.is_some() {
                return Err(bad_input("after goes with first; use before with last"));
            }
            Ok(Slice::Last {
                n: check("last", n)?,
                before: cursor(before, "before")?,
            })
        }
        (first, None) => {
            if before.is_some() {
                return Err(bad_input("before goes with last; use after with first"));
            }
            Ok(Slice::First {
                n: check("first", first.unwrap_or(20))?,
                after: cursor(after, "after")?,
            })
        }
    }
}

fn page_info<K>(page: &Page<'_, K>, cursor: impl Fn(&K) -> String) -> PageInfo {
    PageInfo {
        has_next_page: page.has_next,
        has_previous_page: page.has_previous,
        start_cursor: page.items.first().map(|(k, _)| cursor(k)),
        end_cursor: page.items.last().map(|(k, _)| cursor(k)),
    }
}

fn need_case_cursor(id: &NeedCaseId) -> String {
    B64.encode(id.as_uuid().as_bytes())
}

fn decode_need_case_cursor(c: &str) -> Option<NeedCaseId> {
    let raw = B64.decode(c).ok()?;
    Some(NeedCaseId::from_uuid(Uuid::from_slice(&raw).ok()?))
}

fn worklist_cursor(k: &WorklistKey) -> String {
    B64.encode(format!("{}:{}", k.0.timestamp_micros(), k.1))
}

fn decode_worklist_cursor(c: &str) -> Option<WorklistKey> {
    let raw = String::from_utf8(B64.decode(c).ok()?).ok()?;
    let (micros, id) = raw.split_once(':')?;
    Some((
        DateTime::from_timestamp_micros(micros.parse().ok()?)?,
        NeedCaseId::parse(id).ok()?,
    ))
}

fn parse_site(s: &str) -> Result<SiteId> {
    SiteId::parse(s).map_err(|e| bad_input(e.to_string()))
}

impl CaseQuery {
    fn load_need_case(ctx: &Context<'_>, id: NeedCaseId) -> Result<Option<NeedCase>> {
        let access = allow(ctx, Action::ReadCasework)?;
        let m = app(ctx).projector.read();
        match m.need_case(id) {
            Some(v) if v.data().is_some() => {
                if let Some(s) = v.site() {
                    access.check_at(Action::ReadCasework, s).map_err(denied)?;
                }
                Ok(Some(NeedCase(Arc::new(v.clone()))))
            }
            _ => Ok(None),
        }
    }

    fn load_recipient(ctx: &Context<'_>, id: RecipientId) -> Result<Option<CareRecipient>> {
        let access = allow(ctx, Action::ReadCasework)?;
        let m = app(ctx).projector.read();
        match m.recipient(id) {
            Some(r) => {
                access
                    .check_at(Action::ReadCasework, &r.profile.site)
                    .map_err(denied)?;
                Ok(Some(CareRecipient(Arc::new(r.clone()))))
            }
            None => Ok(None),
        }
    }
}

#[Object]
impl CaseQuery {
    /// Any object by its global id.
    async fn node(
        &self,
        ctx: &Context<'_>,
        id: ID,
        min_position: Option<Position>,
    ) -> Result<Option<Node>> {
        access(ctx)?;
        consistent(ctx, min_position).await?;
        let g = super::ids::GlobalId::decode(&id)
            .ok_or_else(|| bad_input(format!("'{}' is not a global id", super::ids::clip(&id))))?;
        Ok(match g.kind {
            Kind::NeedCase => {
                CaseQuery::load_need_case(ctx, NeedCaseId::from_uuid(g.uuid))?.map(Node::NeedCase)
            }
            Kind::CareRecipient => CaseQuery::load_recipient(ctx, RecipientId::from_uuid(g.uuid))?
                .map(Node::CareRecipient),
            Kind::Service => super::directory::service_by_id(
                ctx,
                careledger_domain::ids::ServiceId::from_uuid(g.uuid),
            )
            .map(Node::Service),
        })
    }

    /// A need case by global id or UUID; null when there is none.
    async fn need_case(
        &self,
        ctx: &Context<'_>,
        id: ID,
        min_position: Option<Position>,
    ) -> Result<Option<NeedCase>> {
        allow(ctx, Action::ReadCasework)?;
        let uuid = parse_input(&id, Kind::NeedCase).map_err(bad_input)?;
        consistent(ctx, min_position).await?;
        CaseQuery::load_need_case(ctx, NeedCaseId::from_uuid(uuid))
    }

    /// A care recipient by global id or UUID; null when there is none.
    async fn care_recipient(
        &self,
        ctx: &Context<'_>,
        id: ID,
        min_position: Option<Position>,
    ) -> Result<Option<CareRecipient>> {
        allow(ctx, Action::ReadCasework)?;
        let uuid = parse_input(&id, Kind::CareRecipient).map_err(bad_input)?;
        consistent(ctx, min_position).await?;
        CaseQuery::load_recipient(ctx, RecipientId::from_uuid(uuid))
    }

    /// Need cases in the order they were created, filtered, as a cursor connection
    /// (`first`/`last` at most 100). Only the sites the caller covers are listed.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(1) as usize * child_complexity")]
    async fn need_cases(
        &self,
        ctx: &Context<'_>,
        filter: Option<NeedCaseFilterInput>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        min_position: Option<Position>,
    ) -> Result<NeedCaseConnection> {
        let access = allow(ctx, Action::ReadCasework)?;
        let slice = slice(first, after, last, before, decode_need_case_cursor)?;
        let f = filter.unwrap_or_default();
        let mut filter = NeedCaseFilter {
            sites: access.sites_for(Action::ReadCasework).map(<[_]>::to_vec),
            statuses: f.status.map(|s| s.into_iter().map(Into::into).collect()),
            domain: f.domain.map(Into::into),
            need: f
                .need
                .as_deref()
                .map(NeedCode::parse)
                .transpose()
                .map_err(|e| bad_input(e.to_string()))?,
            overdue: f.overdue,
            recipient: f
                .recipient_id
                .as_deref()
                .map(|r| parse_input(r, Kind::CareRecipient).map(RecipientId::from_uuid))
                .transpose()
                .map_err(bad_input)?,
        };
        if let Some(site) = f.site {
            let site = parse_site(&site)?;
            access
                .check_at(Action::ReadCasework, &site)
                .map_err(denied)?;
            filter.sites = Some(vec![site]);
        }
        consistent(ctx, min_position).await?;
        let app = app(ctx);
        let overdue = Overdue {
            now: app.clock.now(),
            days: app.settings.overdue_days,
        };
        let m = app.projector.read();
        let page = m.need_cases(&filter, overdue, slice);
        let info = page_info(&page, need_case_cursor);
        let total_count = if ctx.look_ahead().field("totalCount").exists() {
            m.count_need_cases(&filter, overdue) as u64
        } else {
            0
        };
        Ok(NeedCaseConnection {
            edges: page
                .items
                .iter()
                .map(|(k, v)| NeedCaseEdge {
                    cursor: need_case_cursor(k),
                    node: NeedCase(Arc::new((*v).clone())),
                })
                .collect(),
            page_info: info,
            total_count,
        })
    }

    /// A coordinator's worklist at a site: need cases with an open referral, and
    /// those overdue (no update for `overdueDays`, by default the server's
    /// setting), the longest-untouched first. `mine` keeps only the referrals the
    /// caller requested.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "first.or(last).unwrap_or(20).max(1) as usize * child_complexity")]
    async fn worklist(
        &self,
        ctx: &Context<'_>,
        site: String,
        #[graphql(default = false)] mine: bool,
        overdue_days: Option<i32>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        min_position: Option<Position>,
    ) -> Result<Worklist> {
        let access = allow(ctx, Action::ReadCasework)?;
        let site = parse_site(&site)?;
        access
            .check_at(Action::ReadCasework, &site)
            .map_err(denied)?;
        let app = app(ctx);
        let days = match overdue_days {
            None => app.settings.overdue_days,
            Some(d) if (1..=3650).contains(&d) => d as u32,
            Some(d) => {
                return Err(bad_input(format!(
                    "overdueDays must be between 1 and 3650, got {d}"
                )));
            }
        };
        let slice = slice(first, after, last, before, decode_worklist_cursor)?;
        consistent(ctx, min_position).await?;
        let now = app.clock.now();
        let overdue = Overdue { now, days };
        let m = app.projector.read();
        let mine = mine.then_some(access.actor.subject.as_str());
        let (page, total) = m.worklist(std::slice::from_ref(&site), mine, overdue, slice);
        let info = page_info(&page, worklist_cursor);
        Ok(Worklist {
            items: page
                .items
                .iter()
                .map(|(k, v)| WorklistItem {
                    cursor: worklist_cursor(k),
                    open_referral: v.open_referral().map(Referral::from),
                    overdue: v.is_overdue(now, days),
                    days_since_update: (now - v.updated_at).num_days(),
                    need_case: NeedCase(Arc::new((*v).clone())),
                })
                .collect(),
            page_info: info,
            total_count: total as u64,
            overdue_days: days,
        })
    }

    /// The needs catalogue. Labels are in `lang`, else the request's
    /// `Accept-Language`, else English.
    async fn catalogue(
        &self,
        ctx: &Context<'_>,
        domain: Option<NeedDomain>,
        lang: Option<Lang>,
    ) -> Result<Catalogue> {
        allow(ctx, Action::ReadShared)?;
        let app = app(ctx);
        let lang = lang.map(Into::into).unwrap_or_else(|| lang_of(ctx));
        let domain = domain.map(careledger_domain::values::NeedDomain::from);
        Ok(Catalogue {
            version: app.catalogue.version().to_string(),
            needs: app
                .catalogue
                .needs()
                .iter()
                .filter(|n| domain.is_none_or(|d| n.domain() == d))
                .map(|n| Need::from_definition(n).in_lang(lang))
                .collect(),
        })
    }

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
        use careledger_domain::store::AuditFilter;
        let access = allow(ctx, Action::ReadAuditTrail)?;
        let scope = access.sites_for(Action::ReadAuditTrail);
        if stream.is_none() && actor.is_none() && site.is_none() {
            return Err(bad_input("name a stream, an actor or a site"));
        }
        let n = match first {
            None => 50,
            Some(n) if (1..=MAX_PAGE).contains(&n) => n as usize,
            Some(n) => {
                return Err(bad_input(format!(
                    "first must be between 1 and {MAX_PAGE}, got {n}"
                )));
            }
        };
        let stream = stream
            .map(|s| StreamName::parse(&s).map_err(|e| bad_input(e.to_string())))
            .transpose()?;
        let site = site
            .map(|s| SiteId::parse(&s).map_err(|e| bad_input(e.to_string())))
            .transpose()?;
        if let Some(s) = &site {
            access.check_at(Action::ReadAuditTrail, s).map_err(denied)?;
        }
        let after = match after {
            None => StorePosition::START,
            Some(c) => StorePosition::new(
                c.parse()
                    .map_err(|_| bad_input(format!("'{c}' is not an audit-trail cursor")))?,
            ),
        };
        // A quality manager's view is narrowed to their sites (all, when the token
        // says "*").
        let sites = match (site, scope) {
            (Some(s), _) => Some(vec![s]),
            (None, Some(theirs)) => Some(theirs.to_vec()),
            (None, None) => None,
        };
        let filter = AuditFilter {
            stream,
            actor,
            sites,
            from,
            to,
        };
        let mut events = app(ctx)
            .store
            .read_audit(filter, after, n + 1)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "audit read failed");
                error("UNAVAILABLE", "the event store cannot be read right now")
            })?;
        let has_next_page = events.len() > n;
        events.truncate(n);
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
        // What a stream's history is part of decides who reads it.
        let action = match stream.category() {
            "apikey" => Action::ManageCredentials,
            "service" => Action::ReadDirectoryHistory,
            _ => Action::ReadCasework,
        };
        access.check(action).map_err(denied)?;
        let n = match first {
            None => 100,
            Some(n) if (0..=MAX_PAGE).contains(&n) => n as usize,
            Some(n) => {
                return Err(bad_input(format!(
                    "first must be between 0 and {MAX_PAGE}, got {n}"
                )));
            }
        };
        let app = app(ctx);
        let events = app
            .store
            .read_stream(stream, from_version, n)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "history read failed");
                error("UNAVAILABLE", "the event store cannot be read right now")
            })?;
        if let Some(d) = events
            .iter()
            .filter_map(|e| e.metadata.site.as_ref())
            .find_map(|s| access.check_at(action, s).err())
        {
            return Err(denied(d));
        }
        Ok(events.iter().map(HistoryEvent::record).collect())
    }

    /// Where the read models stand against the log.
    async fn projections(&self, ctx: &Context<'_>) -> Result<ProjectionStatus> {
        allow(ctx, Action::ReadProjectionStatus)?;
        let app = app(ctx);
        let head = app
            .store
            .head()
            .await
            .map_err(|_| error("UNAVAILABLE", "the event store cannot be read right now"))?;
        Ok(ProjectionStatus {
            position: Position(app.projector.position().raw()),
            head: Position(head.raw()),
        })
    }
}
