//! GraphQL object, enum and scalar types. Only this module (with its siblings)
//! knows GraphQL; it maps the domain's types one to one.

use crate::app::App;
use crate::graphql::ids::{GlobalId, Kind};
use crate::graphql::lang_of;
use async_graphql::{
    Context, Enum, ID, InputValueError, InputValueResult, Interface, Object, Scalar, ScalarType,
    SimpleObject, Value,
};
use careledger_domain::catalogue::NeedDefinition;
use careledger_domain::need_case as nc;
use careledger_domain::recipient::RecipientKind as DomainKind;
use careledger_domain::store::RecordedEvent;
use careledger_domain::values::{self as v, Lang as DomainLang};
use careledger_projections::{NeedCaseView, RecipientView};
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// Declares a GraphQL enum that mirrors a domain enum variant for variant.
macro_rules! mirror_enum {
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

use nc::{
    CancelReason as DCancelReason, CancelledBy as DCancelledBy, CloseReason as DCloseReason,
    ErrorReason as DErrorReason, FailureReason as DFailureReason, NeedStatus as DNeedStatus,
    Outcome as DOutcome, ReferralStatus as DReferralStatus, RejectionReason as DRejectionReason,
};
use v::{
    CancerSiteGroup as DCancerSiteGroup, NeedDomain as DNeedDomain,
    PreferentialReimbursement as DPreferentialReimbursement, Sex as DSex,
};

mirror_enum!(
    /// Where a need case stands (derived from what it holds).
    NeedStatus = DNeedStatus::{ Identified, Suggested, Referred, Completed, Closed, EnteredInError });
mirror_enum!(
    /// Where a referral stands (HL7 FHIR Task statuses; ON_HOLD = waitlisted).
    ReferralStatus = DReferralStatus::{ Requested, Accepted, OnHold, InProgress, Completed, Rejected, Cancelled, Failed, EnteredInError });
mirror_enum!(RejectionReason = DRejectionReason::{ NoCapacity, NotEligible, OutOfArea, MissingInformation, Other });
mirror_enum!(FailureReason = DFailureReason::{ NoShow, Unreachable, Declined });
mirror_enum!(CancelledBy = DCancelledBy::{ Requester, Recipient });
mirror_enum!(CancelReason = DCancelReason::{ NoLongerNeeded, ReferredElsewhere, RecipientUnwell, RecipientChangedMind, Other });
mirror_enum!(
    /// How a completed referral met the need.
    Outcome = DOutcome::{ NeedMet, NeedPartlyMet, NeedNotMet });
mirror_enum!(
    /// Why a need case was closed without (further) referral.
    CloseReason = DCloseReason::{ ResolvedWithoutReferral, DeclinedByRecipient, NoServiceAvailable, Deceased, Moved });
mirror_enum!(ErrorReason = DErrorReason::{ Duplicate, WrongRecipient, WrongNeed, WrongService, Other });
mirror_enum!(
    /// The four domains of supportive care.
    NeedDomain = DNeedDomain::{ MedicalFollowUp, Psychosocial, SocioProfessional, Social });
mirror_enum!(Sex = DSex::{ Female, Male, Other, Unknown });
mirror_enum!(
    /// Preferential reimbursement (BIM/OMNIO in Belgium; the closest equivalent elsewhere).
    PreferentialReimbursement = DPreferentialReimbursement::{ Yes, No, Unknown });
mirror_enum!(CancerSiteGroup = DCancerSiteGroup::{ Breast, Lung, Colorectal, Prostate, Haematological, Gynaecological, HeadAndNeck, Skin, UpperGastrointestinal, Urological, CentralNervousSystem, Sarcoma, Other, Unknown });
mirror_enum!(
    /// A language labels can be read in.
    Lang = DomainLang::{ En, Fr, Nl, De });

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum RecipientKind {
    Patient,
    /// A relative (partner, child, carer) of a patient.
    Relative,
}

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

/// An object with a global id.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Opaque global id."))]
pub enum Node {
    NeedCase(NeedCase),
    CareRecipient(CareRecipient),
    Service(super::directory::Service),
}

/// One need identified for one care recipient, with its referrals.
#[derive(Clone)]
pub struct NeedCase(pub Arc<NeedCaseView>);

impl NeedCase {
    fn data(&self) -> &nc::NeedCaseData {
        self.0
            .data()
            .expect("views handed to GraphQL hold a need case")
    }
}

#[Object]
impl NeedCase {
    async fn id(&self) -> ID {
        GlobalId::new(Kind::NeedCase, self.data().id.as_uuid()).to_id()
    }
    /// The need case's UUID (its stream is `need-<uuid>`).
    async fn need_case_id(&self) -> String {
        self.data().id.to_string()
    }
    /// The stream version: pass it as `expectedVersion` to refuse stale changes.
    async fn version(&self) -> u64 {
        self.0.version
    }
    /// Global position of the latest event.
    async fn position(&self) -> Position {
        Position(self.0.position)
    }
    async fn status(&self) -> NeedStatus {
        self.0.status().into()
    }
    async fn need(&self, ctx: &Context<'_>) -> Need {
        let app = ctx.data_unchecked::<Arc<App>>();
        let code = &self.data().need;
        match app.catalogue.get(code) {
            Some(def) => Need::from_definition(def),
            None => Need {
                code: code.to_string(),
                domain: code.domain().into(),
                def: None,
                lang: None,
            },
        }
    }
    async fn domain(&self) -> NeedDomain {
        self.data().domain.into()
    }
    async fn site(&self) -> String {
        self.data().recipient.site.to_string()
    }
    async fn recipient_id(&self) -> String {
        self.data().recipient.recipient.to_string()
    }
    /// The care recipient, as the read model holds them.
    async fn recipient(&self, ctx: &Context<'_>) -> Option<CareRecipient> {
        let app = ctx.data_unchecked::<Arc<App>>();
        let m = app.projector.read();
        m.recipient(self.data().recipient.recipient)
            .map(|r| CareRecipient(Arc::new(r.clone())))
    }
    /// The recipient's age band when the need was identified.
    async fn age_band(&self) -> String {
        age_band_name(self.data().recipient.age_band_at(self.data().identified_at)).into()
    }
    async fn identified_at(&self) -> DateTime<Utc> {
        self.data().identified_at
    }
    /// When the latest event happened in care.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Pseudonymous subject of who identified the need.
    async fn identified_by(&self) -> &str {
        &self.0.identified_by
    }
    /// Unfinished and untouched for the server's overdue threshold (days).
    async fn overdue(&self, ctx: &Context<'_>) -> bool {
        let app = ctx.data_unchecked::<Arc<App>>();
        self.0
            .is_overdue(app.clock.now(), app.settings.overdue_days)
    }
    /// The latest suggestion list, best first.
    #[graphql(complexity = "5 * child_complexity")]
    async fn suggestions(&self) -> Vec<Suggestion> {
        self.data()
            .suggestions
            .iter()
            .map(|s| Suggestion {
                service_id: s.service.to_string(),
                rank: s.rank,
                score: s.score,
                reasons: s.reasons.clone(),
            })
            .collect()
    }
    /// The services the latest ranked suggestion left out, with every reason:
    /// why a service was *not* proposed.
    #[graphql(complexity = "10 * child_complexity")]
    async fn left_out_services(&self) -> Vec<LeftOutService> {
        self.data()
            .left_out
            .iter()
            .map(|l| LeftOutService {
                service_id: l.service.to_string(),
                reasons: l.reasons.clone(),
            })
            .collect()
    }
    async fn suggested_at(&self) -> Option<DateTime<Utc>> {
        self.data().suggested_at
    }
    /// Every referral, in the order they were requested.
    #[graphql(complexity = "5 * child_complexity")]
    async fn referrals(&self) -> Vec<Referral> {
        self.data().referrals.iter().map(Referral::from).collect()
    }
    /// The referral still in progress, if any (one at a time).
    async fn open_referral(&self) -> Option<Referral> {
        self.0.open_referral().map(Referral::from)
    }
    async fn close_reason(&self) -> Option<CloseReason> {
        self.data().closed.map(|(r, _)| r.into())
    }
    async fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.data().closed.map(|(_, at)| at)
    }
}

pub fn age_band_name(b: v::AgeBand) -> &'static str {
    match b {
        v::AgeBand::Under18 => "0-17",
        v::AgeBand::From18To39 => "18-39",
        v::AgeBand::From40To64 => "40-64",
        v::AgeBand::From65To74 => "65-74",
        v::AgeBand::From75 => "75+",
    }
}

#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct Suggestion {
    pub service_id: String,
    /// 1 = best.
    pub rank: u16,
    /// The matcher's score (null for a list made by hand).
    pub score: Option<u32>,
    /// Why it was suggested (reason codes, e.g. `in_region`, `speaks_language`).
    pub reasons: Vec<String>,
}

#[async_graphql::ComplexObject]
impl Suggestion {
    /// The service, as the directory holds it now (null if it is not in it).
    async fn service(&self, ctx: &Context<'_>) -> Option<super::directory::Service> {
        let id = uuid::Uuid::try_parse(&self.service_id).ok()?;
        super::directory::service_by_id(ctx, careledger_domain::ids::ServiceId::from_uuid(id))
    }
}

/// A service the matcher did not propose, and why.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct LeftOutService {
    pub service_id: String,
    /// Reason codes, e.g. `outside_service_area`, `no_capacity`, `ranked_12_below_cutoff`.
    pub reasons: Vec<String>,
}

#[async_graphql::ComplexObject]
impl LeftOutService {
    async fn service(&self, ctx: &Context<'_>) -> Option<super::directory::Service> {
        let id = uuid::Uuid::try_parse(&self.service_id).ok()?;
        super::directory::service_by_id(ctx, careledger_domain::ids::ServiceId::from_uuid(id))
    }
}

#[derive(SimpleObject, Clone)]
pub struct Referral {
    pub referral_id: String,
    pub service_id: String,
    pub status: ReferralStatus,
    pub requested_at: DateTime<Utc>,
    /// When its status last changed (in care time).
    pub changed_at: DateTime<Utc>,
    pub outcome: Option<Outcome>,
    pub estimated_wait_days: Option<u16>,
}

impl From<&nc::Referral> for Referral {
    fn from(r: &nc::Referral) -> Self {
        Referral {
            referral_id: r.id.to_string(),
            service_id: r.service.to_string(),
            status: r.status.into(),
            requested_at: r.requested_at,
            changed_at: r.changed_at,
            outcome: r.outcome.map(Into::into),
            estimated_wait_days: r.estimated_wait_days,
        }
    }
}

/// A need of the catalogue.
#[derive(Clone)]
pub struct Need {
    code: String,
    domain: NeedDomain,
    def: Option<NeedDefinition>,
    /// The language the enclosing query asked for.
    lang: Option<DomainLang>,
}

impl Need {
    pub fn from_definition(def: &NeedDefinition) -> Self {
        Need {
            code: def.code().to_string(),
            domain: def.domain().into(),
            def: Some(def.clone()),
            lang: None,
        }
    }

    pub fn in_lang(mut self, lang: DomainLang) -> Self {
        self.lang = Some(lang);
        self
    }
}

impl Need {
    fn pick(&self, ctx: &Context<'_>, lang: Option<Lang>) -> DomainLang {
        lang.map(Into::into)
            .or(self.lang)
            .unwrap_or_else(|| lang_of(ctx))
    }
}

#[Object]
impl Need {
    /// Stable code, e.g. `psy.fear-of-recurrence`.
    async fn code(&self) -> &str {
        &self.code
    }
    async fn domain(&self) -> NeedDomain {
        self.domain
    }
    /// The label in `lang`, else the language the enclosing query asked for, else
    /// the request's (`Accept-Language`), else English.
    async fn label(&self, ctx: &Context<'_>, lang: Option<Lang>) -> String {
        let l = self.pick(ctx, lang);
        self.def
            .as_ref()
            .map_or_else(|| self.code.clone(), |d| d.label(l).to_string())
    }
    async fn description(&self, ctx: &Context<'_>, lang: Option<Lang>) -> Option<String> {
        let l = self.pick(ctx, lang);
        self.def.as_ref().map(|d| d.description(l).to_string())
    }
}

/// A care recipient: pseudonymous, with the stratifiers of equity audits.
#[derive(Clone)]
pub struct CareRecipient(pub Arc<RecipientView>);

/// A care recipient's names and contact details.
#[derive(SimpleObject)]
pub struct PersonalData {
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub address: Option<String>,
}

impl From<careledger_domain::personal::PersonalData> for PersonalData {
    fn from(p: careledger_domain::personal::PersonalData) -> Self {
        PersonalData {
            given_name: p.given_name,
            family_name: p.family_name,
            phone: p.phone,
            email: p.email,
            address: p.address,
        }
    }
}

#[Object]
impl CareRecipient {
    async fn id(&self) -> ID {
        GlobalId::new(Kind::CareRecipient, self.0.profile.recipient.as_uuid()).to_id()
    }
    async fn recipient_id(&self) -> String {
        self.0.profile.recipient.to_string()
    }
    async fn version(&self) -> u64 {
        self.0.version
    }
    async fn site(&self) -> String {
        self.0.profile.site.to_string()
    }
    async fn kind(&self) -> RecipientKind {
        match self.0.profile.kind {
            DomainKind::Patient => RecipientKind::Patient,
            DomainKind::Relative { .. } => RecipientKind::Relative,
        }
    }
    /// For a relative: the patient's recipient id.
    async fn patient_id(&self) -> Option<String> {
        match self.0.profile.kind {
            DomainKind::Patient => None,
            DomainKind::Relative { patient } => Some(patient.to_string()),
        }
    }
    async fn birth_year(&self) -> i32 {
        self.0.profile.birth_year.year()
    }
    async fn sex(&self) -> Sex {
        self.0.profile.sex.into()
    }
    async fn country(&self) -> &'static str {
        self.0.profile.country.code()
    }
    async fn postal_code(&self) -> &str {
        self.0.profile.postal_code.code()
    }
    /// NUTS-style region derived from the postal code.
    async fn region(&self) -> &str {
        self.0.profile.region.as_str()
    }
    async fn language(&self) -> &str {
        self.0.profile.language.as_str()
    }
    async fn preferential_reimbursement(&self) -> PreferentialReimbursement {
        self.0.profile.preferential_reimbursement.into()
    }
    /// 1 (most deprived) to 10, where known.
    async fn deprivation_decile(&self) -> Option<u8> {
        self.0.profile.deprivation_decile.map(|d| d.decile())
    }
    async fn cancer_site_group(&self) -> CancerSiteGroup {
        self.0.profile.cancer_site_group.into()
    }
    async fn registered_at(&self) -> DateTime<Utc> {
        self.0.registered_at
    }
    /// Names and contact details, opened with the recipient's key — for the care
    /// coordinators of their site only. Null when none were recorded, and for good
    /// once the recipient was erased.
    async fn personal_data(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<PersonalData>> {
        let access = super::access(ctx)?;
        access
            .check_at(crate::authz::Action::ReadPersonalData, &self.0.profile.site)
            .map_err(super::denied)?;
        let (Some(sealed), None) = (&self.0.personal, self.0.erased_at) else {
            return Ok(None);
        };
        let app = super::app(ctx);
        match app.vault.open(self.0.profile.recipient, sealed).await {
            Ok(p) => Ok(p.map(PersonalData::from)),
            Err(e) => {
                // The error names no person; the data never reaches the log.
                tracing::error!(error = %e, "personal data could not be opened");
                Err(super::error(
                    match e {
                        careledger_domain::personal::VaultError::Unavailable(_) => "UNAVAILABLE",
                        _ => "INTERNAL",
                    },
                    "the personal data could not be opened",
                ))
            }
        }
    }
    /// True once the recipient was erased (their personal data is gone; their
    /// need cases and their place in the statistics stay).
    async fn erased(&self) -> bool {
        self.0.erased_at.is_some()
    }
    async fn erased_at(&self) -> Option<DateTime<Utc>> {
        self.0.erased_at
    }
    /// Their need cases, in the order they were identified.
    #[graphql(complexity = "10 * child_complexity")]
    async fn need_cases(&self, ctx: &Context<'_>) -> Vec<NeedCase> {
        let app = ctx.data_unchecked::<Arc<App>>();
        let m = app.projector.read();
        self.0
            .need_cases
            .iter()
            .filter_map(|id| m.need_case(*id))
            .map(|v| NeedCase(Arc::new(v.clone())))
            .collect()
    }
}

#[derive(SimpleObject)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

#[derive(SimpleObject)]
pub struct AuditTrailEdge {
    /// The event's position.
    pub cursor: String,
    pub node: HistoryEvent,
}

#[derive(SimpleObject)]
pub struct AuditTrailConnection {
    pub edges: Vec<AuditTrailEdge>,
    pub page_info: PageInfo,
}

#[derive(SimpleObject)]
pub struct NeedCaseEdge {
    pub cursor: String,
    pub node: NeedCase,
}

#[derive(SimpleObject)]
pub struct NeedCaseConnection {
    pub edges: Vec<NeedCaseEdge>,
    pub page_info: PageInfo,
    /// How many need cases match the filter (all pages).
    pub total_count: u64,
}

#[derive(SimpleObject)]
pub struct WorklistItem {
    pub cursor: String,
    pub need_case: NeedCase,
    /// The open referral, if any.
    pub open_referral: Option<Referral>,
    /// Nothing happened for the overdue threshold.
    pub overdue: bool,
    /// Whole days since the latest event.
    pub days_since_update: i64,
}

#[derive(SimpleObject)]
pub struct Worklist {
    pub items: Vec<WorklistItem>,
    pub page_info: PageInfo,
    pub total_count: u64,
    /// The threshold used, in days.
    pub overdue_days: u32,
}

#[derive(SimpleObject)]
pub struct Catalogue {
    pub version: String,
    pub needs: Vec<Need>,
}

/// Who did something: a pseudonymous subject and a role.
#[derive(SimpleObject)]
pub struct ActorInfo {
    pub subject: String,
    pub role: String,
}

/// One event of a stream with its metadata: the audit trail.
#[derive(SimpleObject)]
pub struct HistoryEvent {
    pub event_id: String,
    pub stream: String,
    pub version: u64,
    pub position: Position,
    /// The event type, e.g. `ReferralAccepted`.
    #[graphql(name = "type")]
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub actor: ActorInfo,
    pub site: Option<String>,
    pub correlation_id: String,
    pub causation_id: Option<String>,
    /// The event's fields: the whole record in a stream's `history`; in the
    /// `auditTrail`, the lifecycle fields only (ids, need, site, services,
    /// states, reason codes, outcome), never the recipient's stratifiers.
    pub data: async_graphql::Json<serde_json::Value>,
}

impl HistoryEvent {
    /// An event as its stream's history shows it: the whole record (see
    /// [`audit::record_fields`](crate::graphql::audit::record_fields)).
    pub fn record(e: &RecordedEvent) -> Self {
        Self::with_data(e, crate::graphql::audit::record_fields(&e.event))
    }

    /// An event as the audit trail shows it: the lifecycle fields only, never a
    /// recipient's stratifiers (see
    /// [`audit::lifecycle_fields`](crate::graphql::audit::lifecycle_fields)).
    pub fn audit(e: &RecordedEvent) -> Self {
        Self::with_data(e, crate::graphql::audit::lifecycle_fields(&e.event))
    }

    fn with_data(e: &RecordedEvent, data: serde_json::Value) -> Self {
        HistoryEvent {
            event_id: e.id.to_string(),
            stream: e.stream.to_string(),
            version: e.version,
            position: Position(e.position.raw()),
            event_type: e.event.event_type().to_string(),
            occurred_at: e.metadata.occurred_at,
            recorded_at: e.recorded_at,
            actor: ActorInfo {
                subject: e.metadata.actor.subject.clone(),
                role: e.metadata.actor.role.name().to_string(),
            },
            site: e.metadata.site.as_ref().map(ToString::to_string),
            correlation_id: e.metadata.correlation_id.to_string(),
            causation_id: e.metadata.causation_id.map(|c| c.to_string()),
            data: async_graphql::Json(data),
        }
    }
}

/// Where the read models stand.
#[derive(SimpleObject)]
pub struct ProjectionStatus {
    /// Every event up to this position is visible to queries.
    pub position: Position,
    /// The last committed event.
    pub head: Position,
}
