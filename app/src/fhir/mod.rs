//! The FHIR R4 read interface's use cases (issue 17): CareLedger's records as
//! the HL7 FHIR SDOH Clinical Care IG shapes them. A referral is a
//! `ServiceRequest` (what is asked) and a `Task` (its fulfilment); the need is a
//! `Condition`; the recipient a pseudonymous `Patient`; the directory gives
//! `Organization` and `HealthcareService`.

pub mod ids;

pub use ids::{parse_referral_resource_id, referral_resource_id};
