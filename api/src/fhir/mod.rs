//! CareLedger's records as HL7 FHIR R4 resources (issue 17), shaped as the
//! FHIR SDOH Clinical Care IG shapes a closed-loop referral: a `ServiceRequest`
//! (what is asked) and a `Task` (its fulfilment: `Task.focus` → the
//! ServiceRequest, `owner` the performing organisation, `for` the patient); the
//! need a `Condition` coded with the needs catalogue's `CodeSystem`; the
//! recipient a pseudonymous `Patient`; the directory's `Organization`s and
//! `HealthcareService`s; the recipient's consent to share a `Consent`.
//!
//! This module only represents (JSON in, JSON out); the HTTP edge
//! (`http::fhir`) authenticates and calls the application's use cases, and the
//! command line's `export-fhir` writes the same resources as NDJSON.
//!
//! * [`codes`] — the code systems and identifier systems CareLedger defines,
//!   and the mapping of its enumerations to FHIR codes.
//! * [`resources`] — one function per resource type.
//! * [`search`] — a Task search's parameters, parsed and checked.
//! * [`bundle`] — search-set and history bundles, `OperationOutcome`s.

pub mod bundle;
pub mod codes;
pub mod directory;
pub mod resources;
pub mod search;

/// The FHIR version served.
pub const FHIR_VERSION: &str = "4.0.1";
/// The media type of every answer.
pub const FHIR_JSON: &str = "application/fhir+json";
