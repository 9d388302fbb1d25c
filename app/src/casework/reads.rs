//! Case work's reads: from the read models, with the policy asked first. Every
//! edge (GraphQL today; FHIR and the dashboard next) reads through these, so a
//! caller sees the same records whichever interface it uses.

use crate::policy::{Access, Action};
use crate::{App, AppError};
use careledger_domain::ids::{NeedCaseId, RecipientId};
use careledger_domain::values::SiteId;
use careledger_projections::casework::{Overdue, Slice, WorklistKey};
use careledger_projections::{NeedCaseView, RecipientView};

impl App {
    /// A need case as the read model holds it; `None` when there is none;
    /// `Forbidden` when it belongs to a site the caller does not cover.
    pub fn need_case(
        &self,
        access: &Access,
        id: NeedCaseId,
    ) -> Result<Option<NeedCaseView>, AppError> {
        access.check(Action::ReadCasework)?;
        let m = self.projector.read();
        match m.need_case(id) {
            Some(v) if v.data().is_some() => {
                if let Some(s) = v.site() {
                    access.check_at(Action::ReadCasework, s)?;
                }
                Ok(Some(v.clone()))
            }
            _ => Ok(None),
        }
    }

    /// A care recipient as the read model holds them (same rules as
    /// [`App::need_case`]).
    pub fn care_recipient(
        &self,
        access: &Access,
        id: RecipientId,
    ) -> Result<Option<RecipientView>, AppError> {
        access.check(Action::ReadCasework)?;
        let m = self.projector.read();
        match m.recipient(id) {
            Some(r) => {
                access.check_at(Action::ReadCasework, &r.profile.site)?;
                Ok(Some(r.clone()))
            }
            None => Ok(None),
        }
    }

    /// The sites a case-work listing covers for this caller: the one asked for
    /// (`Forbidden` unless the caller covers it), else all the caller covers
    /// (`None`: every site).
    pub fn casework_sites(
        &self,
        access: &Access,
        asked: Option<SiteId>,
    ) -> Result<Option<Vec<SiteId>>, AppError> {
        access.check(Action::ReadCasework)?;
        match asked {
            Some(site) => {
                access.check_at(Action::ReadCasework, &site)?;
                Ok(Some(vec![site]))
            }
            None => Ok(access.sites_for(Action::ReadCasework).map(<[_]>::to_vec)),
        }
    }
}

/// A page of a listing, owned (the read model's lock is released).
#[derive(Debug)]
pub struct Listed<K> {
    pub items: Vec<(K, NeedCaseView)>,
    pub has_previous: bool,
    pub has_next: bool,
    /// All the listing holds, across pages.
    pub total: usize,
}

impl App {
    /// The overdue rule a listing applies: no event in care for `days` (the
    /// server's setting unless asked, 1 to 3,650), as of now.
    pub fn overdue(&self, days: Option<i32>) -> Result<Overdue, AppError> {
        let days = match days {
            None => self.settings.overdue_days,
            Some(d) if (1..=3650).contains(&d) => d as u32,
            Some(d) => {
                return Err(AppError::rejected(
                    Some("overdueDays"),
                    "BAD_USER_INPUT",
                    format!("overdueDays must be between 1 and 3650, got {d}"),
                ));
            }
        };
        Ok(Overdue {
            now: self.clock.now(),
            days,
        })
    }

    /// A coordinator's worklist at one of their sites: need cases with an open
    /// referral, and those overdue, the longest-untouched first; `mine` keeps the
    /// referrals the caller requested.
    pub fn worklist(
        &self,
        access: &Access,
        site: &SiteId,
        mine: bool,
        overdue: Overdue,
        slice: Slice<WorklistKey>,
    ) -> Result<Listed<WorklistKey>, AppError> {
        access.check_at(Action::ReadCasework, site)?;
        let m = self.projector.read();
        let mine = mine.then_some(access.actor.subject.as_str());
        let (page, total) = m.worklist(std::slice::from_ref(site), mine, overdue, slice);
        Ok(Listed {
            items: page
                .items
                .into_iter()
                .map(|(k, v)| (k, v.clone()))
                .collect(),
            has_previous: page.has_previous,
            has_next: page.has_next,
            total,
        })
    }
}
