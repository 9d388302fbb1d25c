//! The directory's command inputs and how they become a service profile.

use super::types::*;
use crate::graphql::support::commands::{CommandOptions, Invalid, invalid};
use crate::graphql::support::ids::{Kind, clip, parse_input};
use crate::graphql::support::scalars::{Position, UserError};
use async_graphql::{ID, InputObject, SimpleObject};
use careledger_domain::directory::{self as dir, Capacity, Localized, ServiceProfile};
use careledger_domain::ids::ServiceId;
use careledger_domain::values::{self as v};

#[derive(InputObject, Clone)]
pub struct LocalizedInput {
    pub en: String,
    pub fr: String,
    pub nl: String,
    pub de: String,
}

impl From<LocalizedInput> for Localized {
    fn from(l: LocalizedInput) -> Self {
        Localized {
            en: l.en,
            fr: l.fr,
            nl: l.nl,
            de: l.de,
        }
    }
}

#[derive(InputObject, Clone)]
pub struct PostalCodeInput {
    pub country: String,
    pub code: String,
}

#[derive(InputObject, Clone, Default)]
pub struct ServiceAreaInput {
    #[graphql(default)]
    pub countries: Vec<String>,
    #[graphql(default)]
    pub regions: Vec<String>,
    #[graphql(default)]
    pub postal_codes: Vec<PostalCodeInput>,
}

#[derive(InputObject, Clone)]
pub struct EligibilityInput {
    pub min_age: Option<u8>,
    pub max_age: Option<u8>,
    #[graphql(default = true)]
    pub patients: bool,
    #[graphql(default = true)]
    pub relatives: bool,
    #[graphql(default)]
    pub requires_preferential_reimbursement: bool,
}

#[derive(InputObject, Clone, Default)]
pub struct ContactInput {
    pub phone: Option<String>,
    pub email: Option<String>,
    pub url: Option<String>,
}

#[derive(InputObject, Clone)]
pub struct ServiceProfileInput {
    pub organisation: String,
    /// The organisation's id in the directory (a UUID, HSDS `organization.id`):
    /// what a provider's credential names.
    pub organisation_id: Option<ID>,
    pub name: LocalizedInput,
    pub description: Option<LocalizedInput>,
    /// Need codes of the catalogue.
    pub needs: Vec<String>,
    /// Language tags, e.g. `nl`, `fr`.
    pub languages: Vec<String>,
    pub area: ServiceAreaInput,
    pub eligibility: Option<EligibilityInput>,
    pub cost: Cost,
    pub contact: Option<ContactInput>,
}

#[derive(InputObject, Clone)]
pub struct CapacityInput {
    pub status: CapacityStatus,
    /// For a waitlist: the estimated wait in days.
    pub estimated_wait_days: Option<u16>,
}

pub fn capacity(c: &CapacityInput) -> Result<Capacity, Invalid> {
    match (c.status, c.estimated_wait_days) {
        (CapacityStatus::HasCapacity, None) => Ok(Capacity::HasCapacity),
        (CapacityStatus::NoCapacity, None) => Ok(Capacity::NoCapacity),
        (CapacityStatus::Waitlist, Some(d)) => Ok(Capacity::Waitlist {
            estimated_wait_days: d,
        }),
        (CapacityStatus::Waitlist, None) => Err(invalid(
            "capacity",
            "INVALID_CAPACITY",
            "a waitlist needs estimatedWaitDays",
        )),
        (_, Some(_)) => Err(invalid(
            "capacity",
            "INVALID_CAPACITY",
            "estimatedWaitDays goes with a WAITLIST only",
        )),
    }
}

/// Turns a profile input into a domain profile, checking every value and that each
/// need is in the catalogue.
pub fn profile(
    p: ServiceProfileInput,
    catalogue: &careledger_domain::catalogue::Catalogue,
) -> Result<ServiceProfile, Invalid> {
    let field = |f: &str, code: &str, e: String| invalid(f, code, e);
    let mut needs = Vec::new();
    for n in &p.needs {
        let code = v::NeedCode::parse(n)
            .map_err(|e| field("needs", "INVALID_NEED_CODE", e.to_string()))?;
        catalogue
            .resolve(&code)
            .map_err(|e| field("needs", e.code(), e.to_string()))?;
        needs.push(code);
    }
    let languages = p
        .languages
        .iter()
        .map(|l| v::LanguageTag::parse(l))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| field("languages", "INVALID_LANGUAGE", e.to_string()))?;
    let countries = p
        .area
        .countries
        .iter()
        .map(|c| v::Country::parse(c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| field("area", "UNSUPPORTED_COUNTRY", e.to_string()))?;
    let regions = p
        .area
        .regions
        .iter()
        .map(|r| v::Region::parse(r))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| field("area", "INVALID_REGION", e.to_string()))?;
    let mut postal_codes = Vec::new();
    for pc in &p.area.postal_codes {
        let c = v::Country::parse(&pc.country)
            .map_err(|e| field("area", "UNSUPPORTED_COUNTRY", e.to_string()))?;
        postal_codes.push(
            v::PostalCode::parse(c, &pc.code)
                .map_err(|e| field("area", "INVALID_POSTAL_CODE", e.to_string()))?,
        );
    }
    let e = p.eligibility.unwrap_or(EligibilityInput {
        min_age: None,
        max_age: None,
        patients: true,
        relatives: true,
        requires_preferential_reimbursement: false,
    });
    let c = p.contact.unwrap_or_default();
    let organisation_id = p
        .organisation_id
        .as_ref()
        .map(|id| {
            uuid::Uuid::try_parse(id.trim())
                .map(careledger_domain::ids::OrganisationId::from_uuid)
                .map_err(|_| {
                    field(
                        "organisationId",
                        "INVALID_ID",
                        format!("'{}' is not an organisation id (a UUID)", clip(id)),
                    )
                })
        })
        .transpose()?;
    let profile = ServiceProfile {
        organisation: p.organisation,
        organisation_id,
        name: p.name.into(),
        description: p.description.map(Into::into).unwrap_or_default(),
        needs,
        languages,
        area: dir::ServiceArea {
            countries,
            regions,
            postal_codes,
        },
        eligibility: dir::Eligibility {
            min_age: e.min_age,
            max_age: e.max_age,
            patients: e.patients,
            relatives: e.relatives,
            requires_preferential_reimbursement: e.requires_preferential_reimbursement,
        },
        cost: p.cost.into(),
        contact: dir::Contact {
            phone: c.phone,
            email: c.email,
            url: c.url,
        },
        // A profile given here names every language and no cost note.
        cost_note: None,
        untranslated: vec![],
    }
    .normalised();
    profile.validate().map_err(|e| {
        Invalid(UserError {
            field: e.field().map(|f| format!("profile.{f}")),
            message: e.to_string(),
            code: e.code().to_string(),
        })
    })?;
    Ok(profile)
}

#[derive(InputObject)]
pub struct RegisterServiceInput {
    #[graphql(flatten)]
    pub options: CommandOptions,
    /// The new service's id (UUID); by default the idempotency key.
    pub service_id: Option<ID>,
    pub profile: ServiceProfileInput,
    /// Has capacity unless said otherwise.
    pub capacity: Option<CapacityInput>,
}

#[derive(InputObject)]
pub struct UpdateServiceInput {
    #[graphql(flatten)]
    pub options: CommandOptions,
    pub service_id: ID,
    pub profile: ServiceProfileInput,
}

#[derive(InputObject)]
pub struct ChangeServiceCapacityInput {
    #[graphql(flatten)]
    pub options: CommandOptions,
    pub service_id: ID,
    pub capacity: CapacityInput,
}

#[derive(InputObject)]
pub struct RetireServiceInput {
    #[graphql(flatten)]
    pub options: CommandOptions,
    pub service_id: ID,
}

/// The answer of every directory mutation.
#[derive(SimpleObject, Default)]
pub struct ServicePayload {
    /// The service after the command (null when it was refused).
    pub service: Option<Service>,
    /// Global position of its latest event.
    pub position: Option<Position>,
    /// A replayed idempotency key: nothing new was written.
    pub duplicate: bool,
    /// The command changed nothing (e.g. an update with the same profile), so nothing was written.
    pub unchanged: bool,
    pub user_errors: Vec<UserError>,
}

pub fn service_id(id: &ID) -> Result<ServiceId, Invalid> {
    parse_input(id, Kind::Service)
        .map(ServiceId::from_uuid)
        .map_err(|m| invalid("serviceId", "INVALID_ID", m))
}
