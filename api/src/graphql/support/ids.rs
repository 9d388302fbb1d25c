//! Opaque global ids (`Node.id`): base64url of `<Type>:<uuid>`. Inputs accept a
//! global id of the right type or the bare UUID.

use async_graphql::ID;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    NeedCase,
    CareRecipient,
    Service,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::NeedCase => "NeedCase",
            Kind::CareRecipient => "CareRecipient",
            Kind::Service => "Service",
        }
    }
    fn from_name(s: &str) -> Option<Self> {
        match s {
            "NeedCase" => Some(Kind::NeedCase),
            "CareRecipient" => Some(Kind::CareRecipient),
            "Service" => Some(Kind::Service),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlobalId {
    pub kind: Kind,
    pub uuid: Uuid,
}

impl GlobalId {
    pub fn new(kind: Kind, uuid: Uuid) -> Self {
        Self { kind, uuid }
    }

    pub fn to_id(self) -> ID {
        ID(B64.encode(format!("{}:{}", self.kind.name(), self.uuid)))
    }

    /// Decodes a global id; `None` when it is not one.
    pub fn decode(s: &str) -> Option<Self> {
        let raw = B64.decode(s.trim()).ok()?;
        let text = std::str::from_utf8(&raw).ok()?;
        let (kind, uuid) = text.split_once(':')?;
        Some(Self {
            kind: Kind::from_name(kind)?,
            uuid: Uuid::try_parse(uuid).ok()?,
        })
    }
}

/// An id given as input: a global id of `kind`, or a bare UUID. The error says
/// what was expected.
pub fn parse_input(s: &str, kind: Kind) -> Result<Uuid, String> {
    if let Ok(u) = Uuid::try_parse(s.trim()) {
        return Ok(u);
    }
    match GlobalId::decode(s) {
        Some(g) if g.kind == kind => Ok(g.uuid),
        Some(g) => Err(format!(
            "'{}' is the id of a {}, not of a {}",
            clip(s),
            g.kind.name(),
            kind.name()
        )),
        None => Err(format!(
            "'{}' is not a valid {} id: expected a UUID or a global id",
            clip(s),
            kind.name()
        )),
    }
}

/// A bare UUID (referral and service ids).
pub fn parse_uuid(s: &str, what: &str) -> Result<Uuid, String> {
    Uuid::try_parse(s.trim())
        .map_err(|_| format!("'{}' is not a valid {what} id: expected a UUID", clip(s)))
}

pub fn clip(s: &str) -> String {
    if s.chars().count() <= 64 {
        s.to_string()
    } else {
        s.chars().take(64).chain(std::iter::once('…')).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_ids_round_trip_and_inputs_take_either_form() {
        let u = Uuid::now_v7();
        let id = GlobalId::new(Kind::NeedCase, u).to_id();
        assert_eq!(
            GlobalId::decode(&id),
            Some(GlobalId::new(Kind::NeedCase, u))
        );
        assert_eq!(parse_input(&id, Kind::NeedCase), Ok(u));
        assert_eq!(parse_input(&u.to_string(), Kind::NeedCase), Ok(u));
        assert!(
            parse_input(&id, Kind::CareRecipient)
                .unwrap_err()
                .contains("not of a CareRecipient")
        );
        assert!(
            parse_input("nope", Kind::NeedCase)
                .unwrap_err()
                .contains("not a valid NeedCase id")
        );
        assert_eq!(GlobalId::decode("bm9wZQ"), None);
    }
}
