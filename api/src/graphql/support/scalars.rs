//! Scalars and small types every feature's schema shares: positions, user
//! errors, page info, and the mirror enums of shared domain values.

use async_graphql::{
    Enum, InputValueError, InputValueResult, Scalar, ScalarType, SimpleObject, Value,
};
use careledger_domain::values::{Lang as DomainLang, NeedDomain as DNeedDomain};

/// Declares a GraphQL enum that mirrors a domain enum variant for variant.
macro_rules! mirror_enum_impl {
    ($(#[$m:meta])* $name:ident = $domain:ident :: { $($variant:ident),* $(,)? }) => {
        $(#[$m])*
        #[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
        pub enum $name { $($variant),* }
        impl From<$domain> for $name {
            fn from(v: $domain) -> Self { match v { $($domain::$variant => $name::$variant),* } }
        }
        impl From<$name> for $domain {
            fn from(v: $name) -> Self { match v { $($name::$variant => $domain::$variant),* } }
        }
    };
}

pub(crate) use mirror_enum_impl as mirror_enum;

mirror_enum!(
    /// The four domains of supportive care.
    NeedDomain = DNeedDomain::{ MedicalFollowUp, Psychosocial, SocioProfessional, Social });
mirror_enum!(
    /// A language labels can be read in.
    Lang = DomainLang::{ En, Fr, Nl, De });

/// A position in the global event log, as a decimal string (it can exceed 2^53).
/// Mutations return the position they wrote; queries accept one as `minPosition`
/// to be answered only once the read models include it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position(pub u64);

#[Scalar(name = "Position")]
impl ScalarType for Position {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => s
                .parse::<u64>()
                .map(Position)
                .map_err(|_| InputValueError::custom("a position is a decimal string of digits")),
            Value::Number(n) => n
                .as_u64()
                .map(Position)
                .ok_or_else(|| InputValueError::custom("a position is a non-negative integer")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }
    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

/// A refusal the caller can act on: nothing was written.
#[derive(SimpleObject, Debug, Clone)]
pub struct UserError {
    /// The input field at fault, if one is.
    pub field: Option<String>,
    pub message: String,
    /// A stable machine-readable code, e.g. `TRANSITION_NOT_ALLOWED`.
    pub code: String,
}

#[derive(SimpleObject)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}
