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
