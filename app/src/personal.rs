//! Personal data's use cases: reading a recipient's names and contact details
//! back (sealing happens at registration, erasure in [`crate::casework`]).

use crate::policy::{Access, Action};
use crate::{App, AppError};
use careledger_domain::personal::{PersonalData, VaultError};
use careledger_projections::RecipientView;

/// Why personal data could not be opened: the vault is down (retry), or the
/// sealed copy does not open under its recipient's key (a fault).
#[derive(Debug, thiserror::Error)]
#[error("the personal data could not be opened")]
pub struct NotOpened(#[source] pub VaultError);

impl App {
    /// A recipient's names and contact details, for the coordinators of their
    /// site only; `None` when none were recorded or the recipient was erased.
    /// The vault's errors name no person, and the data never reaches a log.
    pub async fn personal_data(
        &self,
        access: &Access,
        recipient: &RecipientView,
    ) -> Result<Option<PersonalData>, AppError> {
        access.check_at(Action::ReadPersonalData, &recipient.profile.site)?;
        // None after an erasure: the read model drops the sealed data then.
        let Some(sealed) = recipient.sealed() else {
            return Ok(None);
        };
        self.vault
            .open(recipient.profile.recipient, sealed)
            .await
            .map_err(|e| match e {
                VaultError::Unavailable(_) => AppError::unavailable(NotOpened(e)),
                _ => AppError::internal(NotOpened(e)),
            })
    }
}
