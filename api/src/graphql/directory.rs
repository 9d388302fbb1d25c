//! The service directory over GraphQL: the `Service` type with its load, the
//! `services` search, and the mutations that register, update, retire services
//! and change their capacity.

use super::ids::{GlobalId, Kind, parse_input};
use super::mutation::{CommandOptions, Invalid, command_context, invalid, refusal};
use super::types::{Lang, Need, Position, UserError};
use super::{MAX_PAGE, allow, app, error, lang_of};
use crate::authz::Action;
use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use careledger_domain::directory::{
    self as dir, Capacity, DirectoryAction, Localized, Service as DomainService, ServiceProfile,
};
use careledger_domain::ids::ServiceId;
use careledger_domain::need_case::ReferralStatus;
use careledger_domain::store::StreamName;
use careledger_domain::values::{self as v, Lang as DomainLang};
use careledger_projections::directory::{ServiceFilter, ServiceLoad as DomainLoad, ServiceView};
use std::sync::Arc;
use uuid::Uuid;

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum Cost {
    Free,
    /// Covered by health insurance (possibly with a personal share).
    Reimbursed,
    Fee,
}

impl From<dir::Cost> for Cost {
    fn from(c: dir::Cost) -> Self {
        match c {
            dir::Cost::Free => Cost::Free,
            dir::Cost::Reimbursed => Cost::Reimbursed,
            dir::Cost::Fee => Cost::Fee,
        }
    }
}

impl From<Cost> for dir::Cost {
    fn from(c: Cost) -> Self {
        match c {
            Cost::Free => dir::Cost::Free,
            Cost::Reimbursed => dir::Cost::Reimbursed,
            Cost::Fee => dir::Cost::Fee,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum CapacityStatus {
    HasCapacity,
    NoCapacity,
    /// Takes referrals onto a waiting list.
    Waitlist,
}

/// A service of the directory (Open Referral HSDS 3.0-shaped).
#[derive(Clone)]
pub struct Service(pub Arc<ServiceView>);

impl Service {
    fn d(&self) -> &dir::ServiceData {
        self.0
            .state
            .data()
            .expect("views handed to GraphQL hold a service")
    }
    fn pick(ctx: &Context<'_>, lang: Option<Lang>) -> DomainLang {
        lang.map(Into::into).unwrap_or_else(|| lang_of(ctx))
    }
}

#[derive(SimpleObject)]
pub struct PostalCodeRef {
    pub country: String,
    pub code: String,
}

#[derive(SimpleObject)]
pub struct ServiceArea {
    pub countries: Vec<String>,
    pub regions: Vec<String>,
    pub postal_codes: Vec<PostalCodeRef>,
}

#[derive(SimpleObject)]
pub struct Eligibility {
    pub min_age: Option<u8>,
    pub max_age: Option<u8>,
    pub patients: bool,
    pub relatives: bool,
    pub requires_preferential_reimbursement: bool,
}

#[derive(SimpleObject)]
pub struct Contact {
    pub phone: Option<String>,
    pub email: Option<String>,
    pub url: Option<String>,
}

/// What a service has on its hands and how it answers referrals.
#[derive(SimpleObject)]
pub struct ServiceLoad {
    /// Referrals awaiting the service's answer.
    pub requested: u32,
    pub accepted: u32,
    pub waitlisted: u32,
    pub in_progress: u32,
    pub completed: u32,
    pub rejected: u32,
    pub cancelled: u32,
    pub failed: u32,
    /// Accepted over answered (accepted + rejected); null before any answer.
    pub acceptance_rate: Option<f64>,
    /// Median days from request to acceptance; null before any acceptance.
    pub median_days_to_acceptance: Option<f64>,
}

impl From<&DomainLoad> for ServiceLoad {
    fn from(l: &DomainLoad) -> Self {
        ServiceLoad {
            requested: l.count(ReferralStatus::Requested),
            accepted: l.count(ReferralStatus::Accepted),
            waitlisted: l.count(ReferralStatus::OnHold),
            in_progress: l.count(ReferralStatus::InProgress),
            completed: l.count(ReferralStatus::Completed),
            rejected: l.count(ReferralStatus::Rejected),
            cancelled: l.count(ReferralStatus::Cancelled),
            failed: l.count(ReferralStatus::Failed),
            acceptance_rate: l.acceptance_rate(),
            median_days_to_acceptance: l.median_days_to_acceptance(),
        }
    }
}

#[Object]
impl Service {
    pub async fn id(&self) -> ID {
        GlobalId::new(Kind::Service, self.d().id.as_uuid()).to_id()
    }
    async fn service_id(&self) -> String {
        self.d().id.to_string()
    }
    async fn version(&self) -> u64 {
        self.0.version
    }
    async fn organisation(&self) -> &str {
        &self.d().profile.organisation
    }
    /// In `lang`, else the request's language, else English.
    async fn name(&self, ctx: &Context<'_>, lang: Option<Lang>) -> String {
        self.d().profile.name.get(Self::pick(ctx, lang)).to_string()
    }
    async fn description(&self, ctx: &Context<'_>, lang: Option<Lang>) -> String {
        self.d()
            .profile
            .description
            .get(Self::pick(ctx, lang))
            .to_string()
    }
    /// The needs of the catalogue it addresses.
    async fn needs(&self, ctx: &Context<'_>) -> Vec<Need> {
        let app = app(ctx);
        self.d()
            .profile
            .needs
            .iter()
            .filter_map(|n| app.catalogue.get(n))
            .map(Need::from_definition)
            .collect()
    }
    async fn languages(&self) -> Vec<String> {
        self.d()
            .profile
            .languages
            .iter()
            .map(|l| l.to_string())
            .collect()
    }
    async fn area(&self) -> ServiceArea {
        let a = &self.d().profile.area;
        ServiceArea {
            countries: a.countries.iter().map(|c| c.code().to_string()).collect(),
            regions: a.regions.iter().map(|r| r.to_string()).collect(),
            postal_codes: a
                .postal_codes
                .iter()
                .map(|p| PostalCodeRef {
                    country: p.country().code().to_string(),
                    code: p.code().to_string(),
                })
                .collect(),
        }
    }
    async fn eligibility(&self) -> Eligibility {
        let e = &self.d().profile.eligibility;
        Eligibility {
            min_age: e.min_age,
            max_age: e.max_age,
            patients: e.patients,
            relatives: e.relatives,
            requires_preferential_reimbursement: e.requires_preferential_reimbursement,
        }
    }
    async fn cost(&self) -> Cost {
        self.d().profile.cost.into()
    }
    async fn capacity(&self) -> CapacityStatus {
        match self.d().capacity {
            Capacity::HasCapacity => CapacityStatus::HasCapacity,
            Capacity::NoCapacity => CapacityStatus::NoCapacity,
            Capacity::Waitlist { .. } => CapacityStatus::Waitlist,
        }
    }
    async fn estimated_wait_days(&self) -> Option<u16> {
        match self.d().capacity {
            Capacity::Waitlist {
                estimated_wait_days,
            } => Some(estimated_wait_days),
            _ => None,
        }
    }
    async fn contact(&self) -> Contact {
        let c = &self.d().profile.contact;
        Contact {
            phone: c.phone.clone(),
            email: c.email.clone(),
            url: c.url.clone(),
        }
    }
    /// False once retired.
    async fn active(&self) -> bool {
        !self.d().retired
    }
    /// Its referrals by state, acceptance rate and time to acceptance.
    async fn load(&self, ctx: &Context<'_>) -> Result<ServiceLoad> {
        allow(ctx, Action::ReadServiceLoad)?;
        let m = app(ctx).projector.read();
        Ok(ServiceLoad::from(&m.directory().load(self.d().id)))
    }
}

/// Looks a service up in the read model.
pub fn service_by_id(ctx: &Context<'_>, id: ServiceId) -> Option<Service> {
    let m = app(ctx).projector.read();
    m.directory()
        .service(id)
        .filter(|v| v.state.data().is_some())
        .map(|v| Service(Arc::new(v.clone())))
}

// ---------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------

#[derive(InputObject, Default)]
pub struct ServiceFilterInput {
    /// A need code of the catalogue.
    pub need: Option<String>,
    /// Speaks this language, e.g. `nl`.
    pub language: Option<String>,
    /// Serves this region, e.g. `BE-VBR`.
    pub region: Option<String>,
    /// Serves this postal code (with `country`).
    pub postal_code: Option<String>,
    /// Serves (part of) this country: BE, DE, NL, LU, FR.
    pub country: Option<String>,
    pub cost: Option<Cost>,
    /// True: has capacity or a waitlist; false: none.
    pub has_capacity: Option<bool>,
    /// Found in a name, description or organisation, in any of the four languages.
    pub text: Option<String>,
    #[graphql(default)]
    pub include_retired: bool,
}

#[derive(SimpleObject)]
pub struct ServiceEdge {
    pub cursor: String,
    pub node: Service,
}

#[derive(SimpleObject)]
pub struct ServiceConnection {
    pub edges: Vec<ServiceEdge>,
    pub page_info: super::types::PageInfo,
    pub total_count: u64,
}

fn bad(message: impl Into<String>) -> async_graphql::Error {
    error("BAD_USER_INPUT", message)
}

fn cursor(id: ServiceId) -> String {
    B64.encode(id.as_uuid().as_bytes())
}

#[derive(Default)]
pub struct DirectoryQuery;

#[Object]
impl DirectoryQuery {
    /// A service by global id or UUID; null when there is none.
    async fn service(
        &self,
        ctx: &Context<'_>,
        id: ID,
        min_position: Option<Position>,
    ) -> Result<Option<Service>> {
        allow(ctx, Action::ReadShared)?;
        let uuid = parse_input(&id, Kind::Service).map_err(bad)?;
        super::query::consistent(ctx, min_position).await?;
        Ok(service_by_id(ctx, ServiceId::from_uuid(uuid)))
    }

    /// Searches the directory (active services unless `includeRetired`), in id
    /// order, as a cursor connection (`first` at most 100).
    #[graphql(complexity = "first.unwrap_or(20).max(1) as usize * child_complexity")]
    async fn services(
        &self,
        ctx: &Context<'_>,
        filter: Option<ServiceFilterInput>,
        first: Option<i32>,
        after: Option<String>,
        min_position: Option<Position>,
    ) -> Result<ServiceConnection> {
        allow(ctx, Action::ReadShared)?;
        super::query::consistent(ctx, min_position).await?;
        let n = match first {
            None => 20,
            Some(n) if (0..=MAX_PAGE).contains(&n) => n as usize,
            Some(n) => {
                return Err(bad(format!(
                    "first must be between 0 and {MAX_PAGE}, got {n}"
                )));
            }
        };
        let after = after
            .map(|c| {
                B64.decode(&c)
                    .ok()
                    .and_then(|b| Uuid::from_slice(&b).ok())
                    .map(ServiceId::from_uuid)
                    .ok_or_else(|| {
                        bad(format!(
                            "'{}' is not a valid after cursor",
                            super::ids::clip(&c)
                        ))
                    })
            })
            .transpose()?;
        let f = filter.unwrap_or_default();
        let country = f
            .country
            .as_deref()
            .map(v::Country::parse)
            .transpose()
            .map_err(|e| bad(e.to_string()))?;
        let postal_code = match (&f.postal_code, country) {
            (None, _) => None,
            (Some(_), None) => return Err(bad("postalCode needs country")),
            (Some(p), Some(c)) => Some(v::PostalCode::parse(c, p).map_err(|e| bad(e.to_string()))?),
        };
        let filter = ServiceFilter {
            need: f
                .need
                .as_deref()
                .map(v::NeedCode::parse)
                .transpose()
                .map_err(|e| bad(e.to_string()))?,
            language: f
                .language
                .as_deref()
                .map(v::LanguageTag::parse)
                .transpose()
                .map_err(|e| bad(e.to_string()))?,
            region: f
                .region
                .as_deref()
                .map(v::Region::parse)
                .transpose()
                .map_err(|e| bad(e.to_string()))?,
            country: if postal_code.is_some() { None } else { country },
            postal_code,
            cost: f.cost.map(Into::into),
            has_capacity: f.has_capacity,
            text: f
                .text
                .map(|t| t.trim().to_lowercase())
                .filter(|t| !t.is_empty()),
            include_retired: f.include_retired,
        };
        let m = app(ctx).projector.read();
        let page = m.directory().search(&filter, n, after);
        let total_count = if ctx.look_ahead().field("totalCount").exists() {
            m.directory().count(&filter) as u64
        } else {
            0
        };
        let ids: Vec<ServiceId> = page
            .items
            .iter()
            .filter_map(|v| v.state.data().map(|d| d.id))
            .collect();
        Ok(ServiceConnection {
            page_info: super::types::PageInfo {
                has_next_page: page.has_next,
                has_previous_page: page.has_previous,
                start_cursor: ids.first().map(|i| cursor(*i)),
                end_cursor: ids.last().map(|i| cursor(*i)),
            },
            edges: page
                .items
                .iter()
                .zip(&ids)
                .map(|(v, id)| ServiceEdge {
                    cursor: cursor(*id),
                    node: Service(Arc::new((*v).clone())),
                })
                .collect(),
            total_count,
        })
    }
}

// ---------------------------------------------------------------------------
// Mutations
// ---------------------------------------------------------------------------

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

fn capacity(c: &CapacityInput) -> Result<Capacity, Invalid> {
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
pub(crate) fn profile(
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
    let profile = ServiceProfile {
        organisation: p.organisation,
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

fn service_id(id: &ID) -> Result<ServiceId, Invalid> {
    parse_input(id, Kind::Service)
        .map(ServiceId::from_uuid)
        .map_err(|m| invalid("serviceId", "INVALID_ID", m))
}

/// Runs a directory command. Only administrators manage the directory.
async fn run(
    ctx: &Context<'_>,
    options: &CommandOptions,
    build: impl FnOnce(&crate::app::CommandContext) -> Result<(ServiceId, DirectoryAction), Invalid>,
) -> Result<ServicePayload> {
    let access = allow(ctx, Action::ManageDirectory)?;
    let prepared = command_context(access, options).and_then(|c| build(&c).map(|b| (c, b)));
    let (cctx, (id, action)) = match prepared {
        Ok(p) => p,
        Err(Invalid(e)) => {
            return Ok(ServicePayload {
                user_errors: vec![e],
                ..Default::default()
            });
        }
    };
    let app = app(ctx);
    match app
        .execute::<DomainService>(StreamName::service(id), action, &cctx, |_| Ok(()))
        .await
    {
        Ok(x) => {
            let state = crate::app::fold::<DomainService>(&x.history);
            let last = x.history.last();
            let view = ServiceView {
                state,
                version: last.map_or(0, |e| e.version),
                position: last.map_or(0, |e| e.position.raw()),
            };
            Ok(ServicePayload {
                service: view.state.data().is_some().then(|| Service(Arc::new(view))),
                position: Some(Position(x.position.raw())),
                duplicate: x.duplicate,
                unchanged: x.unchanged,
                user_errors: vec![],
            })
        }
        Err(e) => Ok(ServicePayload {
            user_errors: vec![refusal(e)?],
            ..Default::default()
        }),
    }
}

#[derive(Default)]
pub struct DirectoryMutation;

#[Object]
impl DirectoryMutation {
    /// Adds a service to the directory (administrators).
    async fn register_service(
        &self,
        ctx: &Context<'_>,
        input: RegisterServiceInput,
    ) -> Result<ServicePayload> {
        let catalogue = app(ctx).catalogue.clone();
        run(ctx, &input.options, |c| {
            let id = match &input.service_id {
                Some(id) => service_id(id)?,
                None => ServiceId::from_uuid(c.idempotency_key.unwrap_or_else(Uuid::now_v7)),
            };
            let capacity = input
                .capacity
                .as_ref()
                .map(capacity)
                .transpose()?
                .unwrap_or(Capacity::HasCapacity);
            let profile = profile(input.profile.clone(), &catalogue)?;
            Ok((
                id,
                DirectoryAction::Register {
                    service: id,
                    profile,
                    capacity,
                },
            ))
        })
        .await
    }

    /// Replaces a service's profile; the same profile again changes nothing.
    async fn update_service(
        &self,
        ctx: &Context<'_>,
        input: UpdateServiceInput,
    ) -> Result<ServicePayload> {
        let catalogue = app(ctx).catalogue.clone();
        run(ctx, &input.options, |_| {
            let id = service_id(&input.service_id)?;
            Ok((
                id,
                DirectoryAction::Update {
                    profile: profile(input.profile.clone(), &catalogue)?,
                },
            ))
        })
        .await
    }

    /// Records whether the service takes referrals, or its waiting time.
    async fn change_service_capacity(
        &self,
        ctx: &Context<'_>,
        input: ChangeServiceCapacityInput,
    ) -> Result<ServicePayload> {
        run(ctx, &input.options, |_| {
            Ok((
                service_id(&input.service_id)?,
                DirectoryAction::ChangeCapacity {
                    capacity: capacity(&input.capacity)?,
                },
            ))
        })
        .await
    }

    /// Retires a service: it is no longer suggested; its history stays.
    async fn retire_service(
        &self,
        ctx: &Context<'_>,
        input: RetireServiceInput,
    ) -> Result<ServicePayload> {
        run(ctx, &input.options, |_| {
            Ok((service_id(&input.service_id)?, DirectoryAction::Retire))
        })
        .await
    }
}
