//! Case work's reads: from the read models, with the policy asked first. Every
//! edge (GraphQL today; FHIR and the dashboard next) reads through these, so a
//! caller sees the same records whichever interface it uses.

use crate::policy::{Access, Action};
use crate::{App, AppError};
use careledger_domain::ids::{NeedCaseId, RecipientId};
use careledger_domain::values::SiteId;
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
