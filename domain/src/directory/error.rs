//! Why a directory command was refused ([`DirectoryError`]), each with a stable
//! machine-readable code and the field it concerns. Profile validation refuses with
//! it too, so it sits below both the profile and the service.

use crate::aggregate::TimeRefusal;
use crate::ids::ServiceId;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DirectoryError {
    #[error("service {service} is already registered")]
    AlreadyRegistered { service: ServiceId },
    #[error("the service is not registered")]
    NotRegistered,
    #[error("the service is retired: it takes no further changes")]
    Retired,
    #[error("invalid {field}: expected {rule}")]
    InvalidProfile { field: &'static str, rule: String },
    #[error(
        "{field} holds the control character U+{code_point:04X}: free text may not hold control characters (descriptions may hold line feeds and tabs)"
    )]
    ControlCharacter {
        field: &'static str,
        code_point: u32,
    },
    /// `occurred_at` breaks the time rule every command follows.
    #[error(transparent)]
    Time(#[from] TimeRefusal),
}

impl DirectoryError {
    pub fn code(&self) -> &'static str {
        match self {
            DirectoryError::AlreadyRegistered { .. } => "SERVICE_EXISTS",
            DirectoryError::NotRegistered => "SERVICE_NOT_FOUND",
            DirectoryError::Retired => "SERVICE_RETIRED",
            DirectoryError::InvalidProfile { .. } => "INVALID_SERVICE",
            DirectoryError::ControlCharacter { .. } => "CONTROL_CHARACTERS",
            DirectoryError::Time(t) => t.code(),
        }
    }
    /// The input field at fault, if one is.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            DirectoryError::InvalidProfile { field, .. }
            | DirectoryError::ControlCharacter { field, .. } => Some(field),
            DirectoryError::Time(_) => Some("occurredAt"),
            DirectoryError::AlreadyRegistered { .. } | DirectoryError::NotRegistered => {
                Some("serviceId")
            }
            DirectoryError::Retired => None,
        }
    }
}
