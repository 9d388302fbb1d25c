//! Case work's GraphQL types: need cases, referrals, suggestions, care
//! recipients, worklists. They map the read models one to one.

use crate::graphql::catalogue::Need;
use crate::graphql::directory::types::Service;
use crate::graphql::support::ids::{GlobalId, Kind};
use crate::graphql::support::scalars::{NeedDomain, PageInfo, Position, mirror_enum};
use crate::graphql::support::{access, app, app_error};
use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use careledger_app::App;
use careledger_domain::need_case as nc;
use careledger_domain::recipient::RecipientKind as DomainKind;
use careledger_domain::values::{self as v};
use careledger_projections::{NeedCaseView, RecipientView};
use chrono::{DateTime, Utc};
use std::sync::Arc;

use nc::{
    CancelReason as DCancelReason, CancelledBy as DCancelledBy, CloseReason as DCloseReason,
    ErrorReason as DErrorReason, FailureReason as DFailureReason, NeedStatus as DNeedStatus,
    Outcome as DOutcome, ReferralStatus as DReferralStatus, RejectionReason as DRejectionReason,
    ShareConsent as DShareConsent, Side as DSide,
};
use v::{
    CancerSiteGroup as DCancerSiteGroup, PreferentialReimbursement as DPreferentialReimbursement,
    Sex as DSex,
};

mirror_enum!(
    /// Where a need case stands (derived from what it holds).
    NeedStatus = DNeedStatus::{ Identified, Suggested, Referred, Completed, Closed, EnteredInError });
mirror_enum!(
    /// Where a referral stands (HL7 FHIR Task statuses; ON_HOLD = waitlisted).
    ReferralStatus = DReferralStatus::{ Requested, Accepted, OnHold, InProgress, Completed, Rejected, Cancelled, Failed, EnteredInError });
mirror_enum!(RejectionReason = DRejectionReason::{ NoCapacity, NotEligible, OutOfArea, MissingInformation, Other });
mirror_enum!(FailureReason = DFailureReason::{ NoShow, Unreachable, Declined });
mirror_enum!(
    /// Who cancelled a referral: the requesting side, the recipient, or the
    /// performing organisation (HL7 SDOH IG: either side may cancel).
    CancelledBy = DCancelledBy::{ Requester, Recipient, Performer });
mirror_enum!(CancelReason = DCancelReason::{ NoLongerNeeded, ReferredElsewhere, RecipientUnwell, RecipientChangedMind, Other });
mirror_enum!(
    /// How a completed referral met the need.
    Outcome = DOutcome::{ NeedMet, NeedPartlyMet, NeedNotMet });
mirror_enum!(
    /// Why a need case was closed without (further) referral.
    CloseReason = DCloseReason::{ ResolvedWithoutReferral, DeclinedByRecipient, NoServiceAvailable, Deceased, Moved });
mirror_enum!(ErrorReason = DErrorReason::{ Duplicate, WrongRecipient, WrongNeed, WrongService, Other });
mirror_enum!(Sex = DSex::{ Female, Male, Other, Unknown });
mirror_enum!(
    /// What a recipient consented to share with the organisation a referral is
    /// addressed to: the referral only, or also their name, phone and e-mail.
    ShareConsent = DShareConsent::{ ReferralOnly, ReferralAndContact });
mirror_enum!(
    /// The side of a referral (HL7 SDOH IG): the requesting coordinators or the
    /// performing organisation.
    Side = DSide::{ Requester, Performer });
mirror_enum!(
    /// Preferential reimbursement (BIM/OMNIO in Belgium; the closest equivalent elsewhere).
    PreferentialReimbursement = DPreferentialReimbursement::{ Yes, No, Unknown });
mirror_enum!(CancerSiteGroup = DCancerSiteGroup::{ Breast, Lung, Colorectal, Prostate, Haematological, Gynaecological, HeadAndNeck, Skin, UpperGastrointestinal, Urological, CentralNervousSystem, Sarcoma, Other, Unknown });

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum RecipientKind {
    Patient,
    /// A relative (partner, child, carer) of a patient.
    Relative,
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
    pub async fn id(&self) -> ID {
        GlobalId::new(Kind::NeedCase, self.data().id.as_uuid()).to_id()
    }
    /// The need case's UUID (its stream is `need-<uuid>`).
    async fn need_case_id(&self) -> String {
        self.data().id.to_string()
    }
    /// The stream version: pass it as `expectedVersion` to refuse stale changes.
    async fn version(&self) -> u64 {
        u64::from(self.0.version)
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
            None => Need::retired(code),
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
                reasons: s.reasons.iter().map(|r| r.to_string()).collect(),
            })
            .collect()
    }
    /// The services the latest ranked suggestion left out, with every reason:
    /// why a service was *not* proposed. Recomputed from the directory as it was
    /// when the ranking was made (`leftOutBasis`); as stored for rankings
    /// recorded before that was kept; empty for a list made by hand.
    #[graphql(complexity = "10 * child_complexity")]
    async fn left_out_services(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<LeftOutService>> {
        let answer = app(ctx)
            .need_case_left_out(self.data(), u64::from(self.0.version))
            .await
            .map_err(app_error)?;
        Ok(answer
            .services()
            .iter()
            .map(|l| LeftOutService {
                service_id: l.service.to_string(),
                reasons: l.reasons.clone(),
            })
            .collect())
    }
    /// How `leftOutServices` was answered for the latest suggestion (null before
    /// one, and for a list made by hand).
    #[graphql(complexity = 10)]
    async fn left_out_basis(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<LeftOutBasis>> {
        use careledger_app::casework::left_out::LeftOutAnswer as A;
        let answer = app(ctx)
            .need_case_left_out(self.data(), u64::from(self.0.version))
            .await
            .map_err(app_error)?;
        let basis = answer.basis();
        Ok(match answer {
            A::NotRanked => None,
            _ => Some(LeftOutBasis {
                recomputed: matches!(answer, A::Recomputed { .. }),
                directory_position: basis.map(|b| Position(b.directory_position)),
                matcher_version: basis.map(|b| b.matcher_version),
                unavailable: answer.unavailable().map(str::to_string),
            }),
        })
    }
    async fn suggested_at(&self) -> Option<DateTime<Utc>> {
        self.data().suggested_at
    }
    /// Every referral, in the order they were requested.
    #[graphql(complexity = "5 * child_complexity")]
    async fn referrals(&self) -> Vec<Referral> {
        let id = self.data().id;
        self.data()
            .referrals
            .iter()
            .map(|r| Referral::of(id, r))
            .collect()
    }
    /// The referral still in progress, if any (one at a time).
    async fn open_referral(&self) -> Option<Referral> {
        self.0
            .open_referral()
            .map(|r| Referral::of(self.data().id, r))
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
    async fn service(&self, ctx: &Context<'_>) -> Option<Service> {
        let id = uuid::Uuid::try_parse(&self.service_id).ok()?;
        crate::graphql::directory::types::service_by_id(
            ctx,
            careledger_domain::ids::ServiceId::from_uuid(id),
        )
    }
}

/// How a ranking's left-out services are known: recomputed from the directory
/// as it was at `directoryPosition` by the matcher's rules of `matcherVersion`,
/// or (`recomputed: false`, no position) as stored by a ranking recorded before.
#[derive(SimpleObject, Clone)]
pub struct LeftOutBasis {
    pub recomputed: bool,
    /// The log position the directory was read at when the ranking was made.
    pub directory_position: Option<Position>,
    /// The version of the matcher's rules the ranking was made by.
    pub matcher_version: Option<u32>,
    /// Why `leftOutServices` is empty though services may have been left out:
    /// `MATCHER_CHANGED` (ranked by other rules than this server's; not
    /// recomputed with today's).
    pub unavailable: Option<String>,
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
    async fn service(&self, ctx: &Context<'_>) -> Option<Service> {
        let id = uuid::Uuid::try_parse(&self.service_id).ok()?;
        crate::graphql::directory::types::service_by_id(
            ctx,
            careledger_domain::ids::ServiceId::from_uuid(id),
        )
    }
}

#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct Referral {
    pub referral_id: String,
    pub service_id: String,
    pub status: ReferralStatus,
    pub requested_at: DateTime<Utc>,
    /// When its status last changed (in care time).
    pub changed_at: DateTime<Utc>,
    pub outcome: Option<Outcome>,
    pub estimated_wait_days: Option<u16>,
    /// What the recipient consented to share with the performing organisation
    /// (as requested; referral only once withdrawn).
    pub consent: ShareConsent,
    #[graphql(skip)]
    pub need_case: careledger_domain::ids::NeedCaseId,
    #[graphql(skip)]
    pub link: Option<nc::AnswerLink>,
}

#[async_graphql::ComplexObject]
impl Referral {
    /// The notes between the coordinators and the performing organisation,
    /// oldest first, opened per request (coordinators of the site; the
    /// provider of the organisation). Once the recipient is erased, each note
    /// has no text and `erased` is true.
    #[graphql(complexity = "5 * child_complexity")]
    async fn notes(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ReferralNote>> {
        let id = careledger_domain::ids::ReferralId::parse(&self.referral_id)
            .map_err(|_| async_graphql::Error::new("referral id"))?;
        referral_notes(ctx, self.need_case, id).await
    }
    /// The referral's answer link (see `issueAnswerLink`) while it works — the
    /// referral open, the link unexpired — for the coordinators of its site
    /// (null for anyone else).
    async fn answer_link(&self, ctx: &Context<'_>) -> Option<AnswerLink> {
        let link = self.link?;
        let app = app(ctx);
        let open = careledger_domain::need_case::ReferralStatus::from(self.status).is_open();
        // A referral is reached through its need case (site-checked) or a
        // mutation at its site; the site is checked again where the read model
        // knows it already (a payload may be ahead of it).
        let site = app
            .projector
            .read()
            .need_case(self.need_case)
            .and_then(|v| v.site().cloned());
        let may = access(ctx).is_ok_and(|a| {
            let write = careledger_app::policy::Action::WriteCasework;
            match &site {
                Some(s) => a.check_at(write, s).is_ok(),
                None => a.check(write).is_ok(),
            }
        });
        if !open || !may || link.expires_at <= app.clock.now() {
            return None;
        }
        let referral = careledger_domain::ids::ReferralId::parse(&self.referral_id).ok()?;
        let token = app.answer_link_token(self.need_case, referral, &link);
        Some(AnswerLink {
            url: ctx
                .data_opt::<LinkBase>()
                .cloned()
                .unwrap_or_default()
                .url(&token),
            expires_at: link.expires_at,
            lang: link.lang.into(),
        })
    }
    /// Still unanswered (requested) after the server's `--unanswered-days` (5 by
    /// default): the performing organisation has not answered; follow up.
    async fn unanswered_overdue(&self, ctx: &Context<'_>) -> bool {
        let app = app(ctx);
        careledger_app::inbox::unanswered_overdue(
            self.status.into(),
            self.requested_at,
            app.clock.now(),
            app.settings.unanswered_days,
        )
    }
}

/// The notes on a referral as the caller may read them.
pub async fn referral_notes(
    ctx: &Context<'_>,
    need_case: careledger_domain::ids::NeedCaseId,
    referral: careledger_domain::ids::ReferralId,
) -> async_graphql::Result<Vec<ReferralNote>> {
    let access = access(ctx)?;
    let notes = app(ctx)
        .referral_notes(access, need_case, referral)
        .await
        .map_err(app_error)?;
    Ok(notes.into_iter().map(ReferralNote::from).collect())
}

/// A note on a referral, between the coordinators and the performing
/// organisation. Sealed under the recipient's key: never in the audit trail,
/// a history or a log in clear.
#[derive(SimpleObject)]
pub struct ReferralNote {
    pub note_id: String,
    /// Who wrote it.
    pub side: Side,
    /// When it was written (in care time).
    pub written_at: DateTime<Utc>,
    /// Null once the recipient was erased.
    pub text: Option<String>,
    /// The recipient was erased: the note can no longer be read.
    pub erased: bool,
}

impl From<careledger_app::casework::sharing::NoteRead> for ReferralNote {
    fn from(n: careledger_app::casework::sharing::NoteRead) -> Self {
        ReferralNote {
            note_id: n.note.to_string(),
            side: n.side.into(),
            written_at: n.written_at,
            text: n.text.map(|t| t.into_string()),
            erased: n.erased,
        }
    }
}

impl Referral {
    /// A referral of the need case `need_case`, as the API shows it.
    pub fn of(need_case: careledger_domain::ids::NeedCaseId, r: &nc::Referral) -> Self {
        Referral {
            referral_id: r.id.to_string(),
            service_id: r.service.to_string(),
            status: r.status.into(),
            requested_at: r.requested_at,
            changed_at: r.changed_at,
            outcome: r.outcome.map(Into::into),
            estimated_wait_days: r.estimated_wait_days,
            consent: r.consent.into(),
            need_case,
            link: r.answer_link.as_deref().copied(),
        }
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
    pub async fn id(&self) -> ID {
        GlobalId::new(Kind::CareRecipient, self.0.profile.recipient.as_uuid()).to_id()
    }
    async fn recipient_id(&self) -> String {
        self.0.profile.recipient.to_string()
    }
    async fn version(&self) -> u64 {
        u64::from(self.0.version)
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
        let access = access(ctx)?;
        app(ctx)
            .personal_data(access, &self.0)
            .await
            .map(|p| p.map(PersonalData::from))
            .map_err(app_error)
    }
    /// True once the recipient was erased (their personal data is gone; their
    /// need cases and their place in the statistics stay).
    async fn erased(&self) -> bool {
        self.0.erased_at().is_some()
    }
    async fn erased_at(&self) -> Option<DateTime<Utc>> {
        self.0.erased_at()
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

/// Where answer links point: the server's public address, or none (then links
/// are paths the client completes).
#[derive(Debug, Clone, Default)]
pub struct LinkBase(pub Option<String>);

impl LinkBase {
    pub fn url(&self, token: &str) -> String {
        let base = self.0.as_deref().unwrap_or("").trim_end_matches('/');
        format!("{base}/answer/{token}")
    }
}

/// A link to answer one referral without an account.
#[derive(SimpleObject)]
pub struct AnswerLink {
    /// Send it to the service (it is the only credential the page needs: treat
    /// it as a password). Absolute when the server knows its public address
    /// (`--public-url`), else a path.
    pub url: String,
    pub expires_at: DateTime<Utc>,
    pub lang: crate::graphql::support::scalars::Lang,
}
