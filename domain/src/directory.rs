//! The service directory, shaped after Open Referral HSDS 3.0. Stream `service-<uuid>`.
//!
//! A service belongs to an organisation and says, in four languages, what it is;
//! which needs of the catalogue it addresses; which languages it works in; where
//! it serves (countries, regions, postal codes); whom it serves (an age range,
//! patients and/or relatives, possibly only people with preferential
//! reimbursement); what it costs; whether it has capacity; how to contact it.
//!
//! Directory events carry free text (names, descriptions, an organisation's contact
//! line): they describe services, never people, so the rule that care events carry
//! no free text does not apply to them.
//!
//! Updates that change nothing decide *no* events, so re-importing an unchanged
//! directory writes nothing.

mod error;
mod profile;
mod service;

pub use error::DirectoryError;
pub use profile::{
    AreaMatch, Capacity, Contact, Cost, Eligibility, Localized, ServiceArea, ServiceProfile,
    serves_kind,
};
pub use service::{
    DirectoryAction, Service, ServiceCapacityChanged, ServiceData, ServiceEvent, ServiceRegistered,
    ServiceRetired, ServiceUpdated,
};

#[cfg(test)]
pub(crate) mod tests;
