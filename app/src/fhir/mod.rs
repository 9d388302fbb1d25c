//! The FHIR R4 read interface's use cases (issue 17): CareLedger's records as
//! the HL7 FHIR SDOH Clinical Care IG shapes them. A referral is a
//! `ServiceRequest` (what is asked) and a `Task` (its fulfilment); the need is a
//! `Condition`; the recipient a pseudonymous `Patient`; the directory gives
//! `Organization` and `HealthcareService`.

pub mod ids;
pub mod referrals;
pub mod shared;

pub use ids::{parse_referral_resource_id, referral_resource_id};
pub use referrals::{Reader, ReferralPage, ReferralQuery, ReferralRecord};

use crate::{App, AppError};

impl App {
    /// Waits (up to the consistency timeout) until the read models hold every
    /// event committed when this is called, so a FHIR read sees the writes that
    /// came before it — a client has no `minPosition` to give there. Costs
    /// nothing when they are caught up (the usual case).
    pub async fn read_models_at_head(&self) -> Result<(), AppError> {
        let head = self.store.head().await?;
        self.projector
            .wait_for(head, self.settings.consistency_timeout)
            .await
            .map_err(|e| AppError::Lagging {
                what: "the read models",
                reached: e.reached.raw(),
                wanted: e.wanted.raw(),
            })
    }
}
