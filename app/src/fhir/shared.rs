//! The directory as the FHIR interface reads it: shared data (every role reads
//! it, external applications included).

use crate::policy::{Access, Action};
use crate::{App, AppError};
use careledger_domain::ids::{OrganisationId, ServiceId};
use careledger_projections::directory::{ServiceFilter, ServiceView};

/// The most services an organisation's record is made from.
const MAX_SERVICES: usize = 100;

impl App {
    /// One service of the directory; `None` when there is none.
    pub fn directory_service(
        &self,
        access: &Access,
        id: ServiceId,
    ) -> Result<Option<ServiceView>, AppError> {
        access.check(Action::ReadShared)?;
        Ok(self.projector.read().directory().service(id).cloned())
    }

    /// The services of one organisation of the directory (its record is made
    /// from them); empty when the directory names no such organisation.
    pub fn organisation_services(
        &self,
        access: &Access,
        id: OrganisationId,
    ) -> Result<Vec<ServiceView>, AppError> {
        access.check(Action::ReadShared)?;
        let m = self.projector.read();
        let filter = ServiceFilter {
            organisation: Some(id),
            ..ServiceFilter::default()
        };
        Ok(m.directory()
            .search(&filter, MAX_SERVICES, None)
            .items
            .into_iter()
            .cloned()
            .collect())
    }
}

impl App {
    /// A page of the directory's services (of one organisation when named), in
    /// id order after `after`; and whether more follow.
    pub fn directory_services(
        &self,
        access: &Access,
        organisation: Option<OrganisationId>,
        after: Option<ServiceId>,
        count: usize,
    ) -> Result<(Vec<ServiceView>, bool), AppError> {
        access.check(Action::ReadShared)?;
        let m = self.projector.read();
        let filter = ServiceFilter {
            organisation,
            ..ServiceFilter::default()
        };
        let page = m.directory().search(&filter, count, after);
        Ok((page.items.into_iter().cloned().collect(), page.has_next))
    }

    /// Every organisation the directory names, in id order, with its services.
    pub fn organisations(
        &self,
        access: &Access,
    ) -> Result<Vec<(OrganisationId, Vec<ServiceView>)>, AppError> {
        access.check(Action::ReadShared)?;
        let m = self.projector.read();
        let all = m
            .directory()
            .search(&ServiceFilter::default(), usize::MAX - 1, None);
        let mut by: std::collections::BTreeMap<OrganisationId, Vec<ServiceView>> =
            std::collections::BTreeMap::new();
        for v in all.items {
            if let Some(o) = v.state.data().and_then(|d| d.profile.organisation_id) {
                by.entry(o).or_default().push(v.clone());
            }
        }
        Ok(by.into_iter().collect())
    }
}
