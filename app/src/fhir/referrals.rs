//! Referrals as the FHIR interface reads them: one referral with what its
//! `Task`, `ServiceRequest` and `Consent` show, a search over the referrals a
//! caller may read, and a referral's versions read back from the log.
//!
//! Who reads a referral: the care coordinators of its site (the requester
//! side, everything the need case holds) and the staff of the organisation it
//! is addressed to (the performer side, the minimum necessary: the need, the
//! recipient's preferred language and age band). Every other role is refused
//! before anything is looked up.

use crate::policy::{Access, Action, Denied};
use crate::{App, AppError};
use careledger_domain::DomainEvent;
use careledger_domain::ids::{NeedCaseId, OrganisationId, RecipientId, ReferralId, ServiceId};
use careledger_domain::need_case::{Referral, ReferralStatus};
use careledger_domain::store::Role;
use careledger_domain::values::{AgeBand, LanguageTag, NeedCode, NeedDomain, SiteId};
use careledger_projections::casework::referral_log::ReferralLog;
use careledger_projections::{Casework, NeedCaseView};
use chrono::{DateTime, Utc};

/// Which side of a referral the caller reads it from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// A care coordinator of the referral's site.
    Requester,
    /// Staff of the organisation the referral is addressed to.
    Performer,
}

/// A referral with what its FHIR resources show.
#[derive(Debug, Clone)]
pub struct ReferralRecord {
    pub need_case: NeedCaseId,
    pub need: NeedCode,
    pub domain: NeedDomain,
    pub recipient: RecipientId,
    pub site: SiteId,
    pub language: LanguageTag,
    pub age_band: AgeBand,
    pub identified_at: DateTime<Utc>,
    pub referral: Referral,
    pub log: ReferralLog,
    /// The organisation its service belongs to, as the directory records it.
    pub organisation: Option<OrganisationId>,
    pub reader: Reader,
}

/// A half-open range of server times, `[from, to)`; an open end is `None`.
pub type TimeRange = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// Which referrals a search wants (every field narrows; `None` does not).
#[derive(Debug, Clone, Default)]
pub struct ReferralQuery {
    /// Addressed to this organisation.
    pub owner: Option<OrganisationId>,
    /// Requested by this site.
    pub site: Option<SiteId>,
    /// In one of these statuses (each, when `started` is given, only if the
    /// referral ever started or never did: FHIR's Task shows a waitlisted
    /// referral as `accepted` before it started and `on-hold` after).
    pub statuses: Option<Vec<StatusMatch>>,
    /// Compare `updated` with the consent's last change rather than the
    /// referral's (a `Consent` search).
    pub consent_time: bool,
    /// Last changed (server time) within every one of these ranges: `[from, to)`.
    pub updated: Vec<TimeRange>,
    /// Of this care recipient.
    pub patient: Option<RecipientId>,
}

/// A status a search wants, and whether the referral must have started (or not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusMatch {
    pub status: ReferralStatus,
    pub started: Option<bool>,
}

/// The most need cases one page of a search visits: a search whose matches are
/// rare ends its page early with a `next` cursor rather than holding the read
/// models (and the fold waiting for them) for a walk over all of them.
pub const MAX_VISITED: usize = 20_000;

/// A page of a search, in (need case, referral) order.
#[derive(Debug)]
pub struct ReferralPage {
    pub items: Vec<ReferralRecord>,
    /// Where the next page starts (after this referral), when there is one.
    pub next: Option<(NeedCaseId, ReferralId)>,
}

/// The cursor's referral part that means "after every referral of the case".
const AFTER_ALL: ReferralId = ReferralId::from_uuid(uuid::Uuid::max());

/// The most referrals one page holds.
pub const MAX_PAGE: usize = 100;

/// What a caller's role may read of referrals at all (before any lookup).
fn may_read_referrals(access: &Access) -> Result<(), AppError> {
    if access.check(Action::ReadCasework).is_ok() || access.check(Action::ReadInbox).is_ok() {
        Ok(())
    } else {
        Err(Denied::Role(Action::ReadCasework).into())
    }
}

/// The side `access` reads a referral of `site` addressed to `organisation`
/// from, or why it may not.
fn reader_of(
    access: &Access,
    site: &SiteId,
    organisation: Option<&OrganisationId>,
) -> Result<Reader, Denied> {
    if access.actor.role == Role::Provider {
        let org = organisation.ok_or(Denied::Organisation)?;
        access.check_for(Action::ReadInbox, org)?;
        return Ok(Reader::Performer);
    }
    access.check_at(Action::ReadCasework, site)?;
    Ok(Reader::Requester)
}

fn organisation_of(m: &Casework, service: ServiceId) -> Option<OrganisationId> {
    m.directory()
        .service(service)
        .and_then(|s| s.state.data())
        .and_then(|d| d.profile.organisation_id)
}

/// The record of referral `r` of `view` for `reader`.
fn record(
    view: &NeedCaseView,
    r: &Referral,
    organisation: Option<OrganisationId>,
    reader: Reader,
) -> Option<ReferralRecord> {
    let d = view.data()?;
    let log = view.referral_log(r.id)?.clone();
    Some(ReferralRecord {
        need_case: d.id,
        need: d.need.clone(),
        domain: d.domain,
        recipient: d.recipient.recipient,
        site: d.recipient.site.clone(),
        language: d.recipient.language.clone(),
        age_band: d.recipient.age_band_at(d.identified_at),
        identified_at: d.identified_at,
        referral: r.clone(),
        log,
        organisation,
        reader,
    })
}

impl ReferralQuery {
    fn matches(&self, r: &Referral, log: &ReferralLog, org: Option<OrganisationId>) -> bool {
        if self.owner.is_some() && self.owner != org {
            return false;
        }
        if let Some(s) = &self.statuses
            && !s
                .iter()
                .any(|m| m.status == r.status && m.started.is_none_or(|x| x == log.started))
        {
            return false;
        }
        let at = if self.consent_time {
            log.consent_recorded_at
        } else {
            log.recorded_at
        };
        self.updated
            .iter()
            .all(|(from, to)| from.is_none_or(|f| at >= f) && to.is_none_or(|t| at < t))
    }
}

impl App {
    /// One referral of one need case, for a reader of it; `None` when there is
    /// none (or the read models have not seen it yet).
    pub fn referral_record(
        &self,
        access: &Access,
        need_case: NeedCaseId,
        referral: ReferralId,
    ) -> Result<Option<ReferralRecord>, AppError> {
        may_read_referrals(access)?;
        let m = self.projector.read();
        let Some(view) = m.need_case(need_case) else {
            return Ok(None);
        };
        let (Some(d), Some(r)) = (view.data(), view.state.referral(referral)) else {
            return Ok(None);
        };
        let org = organisation_of(&m, r.service);
        let reader = reader_of(access, &d.recipient.site, org.as_ref())?;
        Ok(record(view, r, org, reader))
    }

    /// The referrals `query` wants that the caller may read, `count` (1 to
    /// [`MAX_PAGE`]) at most, after `after`. A provider reads their own
    /// organisations' referrals (`owner` naming another is refused); a
    /// coordinator their sites' (`site` naming another is refused).
    pub fn search_referrals(
        &self,
        access: &Access,
        query: &ReferralQuery,
        after: Option<(NeedCaseId, ReferralId)>,
        count: usize,
    ) -> Result<ReferralPage, AppError> {
        may_read_referrals(access)?;
        let provider = access.actor.role == Role::Provider;
        if provider {
            if let Some(o) = &query.owner {
                access.check_for(Action::ReadInbox, o)?;
            }
        } else if let Some(s) = &query.site {
            access.check_at(Action::ReadCasework, s)?;
        }
        let sites = (!provider)
            .then(|| access.sites_for(Action::ReadCasework))
            .flatten();
        let count = count.clamp(1, MAX_PAGE);
        let m = self.projector.read();
        let mut items = Vec::with_capacity(count);
        let mut next = None;
        let mut visited = 0usize;
        let mut last_visited: Option<NeedCaseId> = None;
        let mut visit = |view: &NeedCaseView| -> bool {
            let Some(d) = view.data() else { return true };
            visited += 1;
            if visited > MAX_VISITED {
                // Past the cap: the next page starts after the last case visited
                // (a referral id no case holds stands for "after all of it").
                next = last_visited.map(|p| (p, AFTER_ALL));
                return false;
            }
            last_visited = Some(d.id);
            if query.site.as_ref().is_some_and(|s| *s != d.recipient.site)
                || sites.is_some_and(|s| !s.contains(&d.recipient.site))
            {
                return true;
            }
            let start = match after {
                // After that referral of this case; after all of it when the
                // cursor names no referral of it.
                Some((n, r)) if n == d.id => d
                    .referrals
                    .iter()
                    .position(|x| x.id == r)
                    .map_or(d.referrals.len(), |i| i + 1),
                _ => 0,
            };
            for r in &d.referrals[start.min(d.referrals.len())..] {
                let org = organisation_of(&m, r.service);
                if provider && !org.is_some_and(|o| access.organisations.contains(&o)) {
                    continue;
                }
                let Some(log) = view.referral_log(r.id) else {
                    continue;
                };
                if !query.matches(r, log, org) {
                    continue;
                }
                if items.len() == count {
                    next = items
                        .last()
                        .map(|x: &ReferralRecord| (x.need_case, x.referral.id));
                    return false;
                }
                let reader = if provider {
                    Reader::Performer
                } else {
                    Reader::Requester
                };
                items.extend(record(view, r, org, reader));
            }
            true
        };
        let from = after.map(|(n, _)| n);
        match query.patient {
            Some(p) => {
                let ids = m
                    .recipient(p)
                    .map(|r| r.need_cases.clone())
                    .unwrap_or_default();
                let mut ids: Vec<_> = ids
                    .into_iter()
                    .filter(|id| from.is_none_or(|f| *id >= f))
                    .collect();
                ids.sort();
                for id in ids {
                    if let Some(v) = m.need_case(id)
                        && !visit(v)
                    {
                        break;
                    }
                }
            }
            None => {
                for v in m.need_cases_from(from) {
                    if !visit(v) {
                        break;
                    }
                }
            }
        }
        Ok(ReferralPage { items, next })
    }

    /// Every version of a referral, oldest first, read back from the log: the
    /// record as it stood after each event that changed it (its Task's
    /// history). Same readers as [`App::referral_record`]; empty when there is
    /// no such referral.
    pub async fn referral_versions(
        &self,
        access: &Access,
        need_case: NeedCaseId,
        referral: ReferralId,
    ) -> Result<Vec<ReferralRecord>, AppError> {
        may_read_referrals(access)?;
        let events = self.need_case_history(need_case).await?;
        let mut view = NeedCaseView::default();
        let mut versions = Vec::new();
        let mut reader = None;
        for e in events.iter() {
            let DomainEvent::NeedCase(ev) = &e.event else {
                continue;
            };
            view.apply_recorded(ev, e);
            let changed = view
                .referral_log(referral)
                .is_some_and(|l| l.version == e.version);
            if !changed {
                continue;
            }
            let (Some(d), Some(r)) = (view.data(), view.state.referral(referral)) else {
                continue;
            };
            let org = {
                let m = self.projector.read();
                organisation_of(&m, r.service)
            };
            let who = match reader {
                Some(w) => w,
                None => {
                    let w = reader_of(access, &d.recipient.site, org.as_ref())?;
                    reader = Some(w);
                    w
                }
            };
            versions.extend(record(&view, r, org, who));
        }
        Ok(versions)
    }
}

/// Every referral of `view` as the requester side reads it (an operator's
/// export: `careledger export-fhir`, which holds no credential).
pub fn referral_records(m: &Casework, view: &NeedCaseView) -> Vec<ReferralRecord> {
    let Some(d) = view.data() else {
        return Vec::new();
    };
    d.referrals
        .iter()
        .filter_map(|r| record(view, r, organisation_of(m, r.service), Reader::Requester))
        .collect()
}
