//! The directory's GraphQL types: `Service` with its area, eligibility, cost,
//! capacity, contact and referral load.

use crate::graphql::catalogue::Need;
use crate::graphql::support::ids::{GlobalId, Kind};
use crate::graphql::support::scalars::Lang;
use crate::graphql::support::{allow, app, lang_of};
use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject};
use careledger_app::policy::Action;
use careledger_domain::directory::{self as dir, Capacity};
use careledger_domain::ids::ServiceId;
use careledger_domain::need_case::ReferralStatus;
use careledger_domain::values::Lang as DomainLang;
use careledger_projections::directory::{ServiceLoad as DomainLoad, ServiceView};
use std::sync::Arc;

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
    /// The organisation's id in the directory (a UUID; HSDS `organization.id`),
    /// when the directory records one: what a provider's credential names.
    async fn organisation_id(&self) -> Option<String> {
        self.d().profile.organisation_id.map(|o| o.to_string())
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
    /// The publisher's own words about the cost (HSDS `cost_options.option`, with
    /// its amount), where an import kept them.
    async fn cost_note(&self) -> Option<&str> {
        self.d().profile.cost_note.as_deref()
    }
    /// Languages whose name and description are no translation: the service was
    /// published without them, and the text of a language it was published in
    /// stands in.
    async fn untranslated(&self) -> Vec<Lang> {
        self.d()
            .profile
            .untranslated
            .iter()
            .map(|l| Lang::from(*l))
            .collect()
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
