//! Case work's reads, all from the projections; each field takes `minPosition`
//! to be answered only once the read models include that position
//! (read-your-writes after a mutation).

use super::types::*;
use crate::graphql::support::ids::{Kind, parse_input};
use crate::graphql::support::paging::{page_info, slice};
use crate::graphql::support::scalars::{NeedDomain, PageInfo, Position};
use crate::graphql::support::{allow, app, app_error, bad_input, consistent};
use async_graphql::{Context, ID, InputObject, Object, Result};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use careledger_app::policy::Action;
use careledger_domain::ids::{NeedCaseId, RecipientId};
use careledger_domain::values::{NeedCode, SiteId};
use careledger_projections::casework::{NeedCaseFilter, WorklistKey};
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

pub(crate) fn load_need_case(ctx: &Context<'_>, id: NeedCaseId) -> Result<Option<NeedCase>> {
    let access = allow(ctx, Action::ReadCasework)?;
    Ok(app(ctx)
        .need_case(access, id)
        .map_err(app_error)?
        .map(|v| NeedCase(Arc::new(v))))
}

pub(crate) fn load_recipient(ctx: &Context<'_>, id: RecipientId) -> Result<Option<CareRecipient>> {
    let access = allow(ctx, Action::ReadCasework)?;
    Ok(app(ctx)
        .care_recipient(access, id)
        .map_err(app_error)?
        .map(|r| CareRecipient(Arc::new(r))))
}

#[Object]
impl CaseQuery {
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
        load_need_case(ctx, NeedCaseId::from_uuid(uuid))
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
        load_recipient(ctx, RecipientId::from_uuid(uuid))
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
        let site = f.site.as_deref().map(parse_site).transpose()?;
        let filter = NeedCaseFilter {
            sites: app(ctx).casework_sites(access, site).map_err(app_error)?,
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
        consistent(ctx, min_position).await?;
        let app = app(ctx);
        let overdue = app.overdue(None).map_err(app_error)?;
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
        let app = app(ctx);
        app.casework_sites(access, Some(site.clone()))
            .map_err(app_error)?;
        let overdue = app.overdue(overdue_days).map_err(app_error)?;
        let slice = slice(first, after, last, before, decode_worklist_cursor)?;
        consistent(ctx, min_position).await?;
        let page = app
            .worklist(access, &site, mine, overdue, slice)
            .map_err(app_error)?;
        let (now, days) = (overdue.now, overdue.days);
        let info = PageInfo {
            has_next_page: page.has_next,
            has_previous_page: page.has_previous,
            start_cursor: page.items.first().map(|(k, _)| worklist_cursor(k)),
            end_cursor: page.items.last().map(|(k, _)| worklist_cursor(k)),
        };
        Ok(Worklist {
            items: page
                .items
                .into_iter()
                .map(|(k, v)| WorklistItem {
                    cursor: worklist_cursor(&k),
                    open_referral: v
                        .data()
                        .zip(v.open_referral())
                        .map(|(d, r)| Referral::of(d.id, r)),
                    overdue: v.is_overdue(now, days),
                    days_since_update: (now - v.updated_at).num_days(),
                    need_case: NeedCase(Arc::new(v)),
                })
                .collect(),
            page_info: info,
            total_count: page.total as u64,
            overdue_days: days,
        })
    }
}
