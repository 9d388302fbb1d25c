//! One mutation per lifecycle command: `verbNoun(input: VerbNounInput!): VerbNounPayload!`.
//!
//! Every input takes `idempotencyKey` (a UUIDv7 the client mints when it first
//! tries the command; a retry with the same key gets the same answer and writes
//! nothing), `expectedVersion` (refuse if the record moved since the caller read
//! it) and `occurredAt` (when it happened in care; now by default). Where a command
//! creates something and the input names no id for it, the id is the idempotency
//! key, so a retry names the same thing.

use super::ids::{Kind, parse_input, parse_uuid};
use super::types::*;
use super::{allow, app, denied, error};
use crate::app::{CommandContext, CommandError, Executed};
use crate::auth::Access;
use crate::authz::Action;
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use careledger_domain::ids::{NeedCaseId, RecipientId, ReferralId, ServiceId};
use careledger_domain::need_case::{self as nc, NeedCase as DomainNeedCase, NeedCaseAction};
use careledger_domain::personal::{PersonalData, VaultError};
use careledger_domain::recipient::{
    CareRecipient as DomainRecipient, RecipientAction, RecipientKind as DomainKind,
    RegisterCareRecipient,
};
use careledger_domain::store::StreamName;
use careledger_domain::values as v;
use careledger_projections::{NeedCaseView, RecipientView};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use uuid::Uuid;

#[derive(Default)]
pub struct CaseMutation;

/// What every command input accepts.
#[derive(InputObject, Default, Clone)]
pub struct CommandOptions {
    /// A UUIDv7 minted by the client when it first tries this command. Retrying with
    /// the same key returns the original answer and writes nothing.
    pub idempotency_key: Option<String>,
    /// The record's version as the caller last saw it: the command is refused with
    /// `STALE_VERSION` if it has changed since.
    pub expected_version: Option<u64>,
    /// When it happened in care (may be earlier than now, never later; never before
    /// 2000-01-01T00:00:00Z, nor before the recipient's birth year).
    pub occurred_at: Option<DateTime<Utc>>,
}

fn user_error(field: Option<&str>, code: &str, message: impl Into<String>) -> UserError {
    UserError {
        field: field.map(str::to_string),
        message: message.into(),
        code: code.to_string(),
    }
}

/// A refusal before the command ran: bad input. Nothing was written.
pub(crate) struct Invalid(pub(crate) UserError);

pub(crate) fn invalid(field: &str, code: &str, message: impl Into<String>) -> Invalid {
    Invalid(user_error(Some(field), code, message))
}

pub(crate) fn command_context(
    access: &Access,
    o: &CommandOptions,
) -> Result<CommandContext, Invalid> {
    let idempotency_key = match &o.idempotency_key {
        None => None,
        Some(k) => {
            let u = Uuid::try_parse(k.trim()).map_err(|_| {
                invalid(
                    "idempotencyKey",
                    "INVALID_IDEMPOTENCY_KEY",
                    "an idempotency key is a UUIDv7, e.g. 0192f0c4-7c5e-7a31-9f4e-1c2d3e4f5a6b",
                )
            })?;
            if u.get_version_num() != 7 {
                return Err(invalid(
                    "idempotencyKey",
                    "INVALID_IDEMPOTENCY_KEY",
                    "an idempotency key must be a UUID of version 7 (time-ordered), minted when the command is first tried",
                ));
            }
            Some(u)
        }
    };
    Ok(CommandContext {
        actor: access.actor.clone(),
        idempotency_key,
        expected_version: o.expected_version,
        occurred_at: o.occurred_at,
        correlation_id: Uuid::now_v7(),
    })
}

/// The id of something a command creates: given, or else the idempotency key, or else new.
fn new_id(
    given: Option<&ID>,
    ctx: &CommandContext,
    kind: Option<Kind>,
    field: &str,
) -> Result<Uuid, Invalid> {
    match given {
        Some(id) => match kind {
            Some(k) => parse_input(id, k),
            None => parse_uuid(id, field),
        }
        .map_err(|m| invalid(field, "INVALID_ID", m)),
        None => Ok(ctx.idempotency_key.unwrap_or_else(Uuid::now_v7)),
    }
}

fn need_case_id(id: &ID) -> Result<NeedCaseId, Invalid> {
    parse_input(id, Kind::NeedCase)
        .map(NeedCaseId::from_uuid)
        .map_err(|m| invalid("needCaseId", "INVALID_ID", m))
}

fn referral_id(id: &ID) -> Result<ReferralId, Invalid> {
    parse_uuid(id, "referral")
        .map(ReferralId::from_uuid)
        .map_err(|m| invalid("referralId", "INVALID_ID", m))
}

fn authorizer(access: &Access) -> impl Fn(Option<&v::SiteId>) -> Result<(), CommandError> + '_ {
    move |site| match site {
        Some(s) => access
            .check_at(Action::WriteCasework, s)
            .map_err(|_| CommandError::Forbidden),
        None => Ok(()),
    }
}

/// The time rule every command follows (`domain::aggregate::check_occurred_at`),
/// checked at the edge before a command that acts outside the log first (sealing
/// personal data, destroying a key): a refused date then changes nothing at all.
/// The aggregates check it again when they decide.
pub(crate) fn check_time(app: &crate::app::App, c: &CommandContext) -> Result<(), Invalid> {
    let Some(at) = c.occurred_at else {
        return Ok(());
    };
    careledger_domain::aggregate::check_occurred_at(at, app.clock.now())
        .map_err(|e| invalid("occurredAt", e.code(), e.to_string()))
}

/// Before a need-case command that names services (a hand-made suggestion list,
/// a referral): authorisation first — the caller must work at the need case's
/// site (`FORBIDDEN` otherwise) — and then every service named must be in the
/// directory and active. A retry of a command already recorded (its key is in
/// the need case's history) is left to the command path, which answers it as
/// the first time even if the service was retired since.
async fn check_named_services(
    ctx: &Context<'_>,
    access: &Access,
    options: &CommandOptions,
    need_case: &ID,
    services: &[ServiceId],
    field: &'static str,
) -> Result<Option<UserError>> {
    let (Ok(id), Ok(c)) = (need_case_id(need_case), command_context(access, options)) else {
        // Bad input: the command path refuses it with the usual error.
        return Ok(None);
    };
    let app = app(ctx);
    let history = match app.need_case_history(id).await {
        Ok(h) => h,
        Err(e) => return refusal(e).map(Some),
    };
    let case = crate::app::fold::<DomainNeedCase>(&history);
    if let Some(d) = case.data() {
        access
            .check_at(Action::WriteCasework, &d.recipient.site)
            .map_err(denied)?;
    }
    if let Some(key) = c.idempotency_key
        && history.iter().any(|e| e.id.as_uuid() == key)
    {
        return Ok(None);
    }
    match app.check_services(services, field).await {
        Ok(()) => Ok(None),
        Err(e) => refusal(e).map(Some),
    }
}

/// Turns a command's failure into `userErrors` or a top-level error.
pub(crate) fn refusal(e: CommandError) -> Result<UserError> {
    match e {
        CommandError::Rejected {
            field,
            code,
            message,
        } => Ok(user_error(field, code, message)),
        CommandError::Forbidden => Err(error(
            "FORBIDDEN",
            "this record belongs to a site your credentials do not cover",
        )),
        CommandError::Unavailable(detail) => {
            tracing::error!(?detail, "command failed: store unavailable");
            Err(error(
                "UNAVAILABLE",
                "the event store is unavailable; retry later",
            ))
        }
        CommandError::Internal(detail) => {
            tracing::error!(?detail, "command failed: internal error");
            Err(error("INTERNAL", "internal error"))
        }
    }
}

macro_rules! need_case_payload {
    ($(#[$m:meta])* $name:ident $(, $referral:ident)?) => {
        $(#[$m])*
        #[derive(SimpleObject, Default)]
        pub struct $name {
            /// The need case after the command (null when it was refused).
            pub need_case: Option<NeedCase>,
            $(
            /// The referral the command acted on.
            pub $referral: Option<Referral>,
            )?
            /// Global position of the last event written (for a replayed idempotency
            /// key: written the first time). Pass it as `minPosition` to read your write.
            pub position: Option<Position>,
            /// True when the idempotency key had already been used for this very
            /// command: nothing new was written.
            pub duplicate: bool,
            pub user_errors: Vec<UserError>,
        }

        impl From<NeedCaseOutcome> for $name {
            #[allow(unused_variables)]
            fn from(o: NeedCaseOutcome) -> Self {
                $(let $referral = o.referral.as_ref().and_then(|r| o.view.as_ref().and_then(|v| v.state.referral(*r)).map(Referral::from));)?
                Self {
                    need_case: o.view.map(|v| NeedCase(Arc::new(v))),
                    $($referral,)?
                    position: o.position,
                    duplicate: o.duplicate,
                    user_errors: o.user_errors,
                }
            }
        }
    };
}

need_case_payload!(IdentifyNeedPayload);
need_case_payload!(SuggestServicesPayload);
need_case_payload!(RequestReferralPayload, referral);
need_case_payload!(AcceptReferralPayload, referral);
need_case_payload!(RejectReferralPayload, referral);
need_case_payload!(WaitlistReferralPayload, referral);
need_case_payload!(StartReferralPayload, referral);
need_case_payload!(CompleteReferralPayload, referral);
need_case_payload!(FailReferralPayload, referral);
need_case_payload!(CancelReferralPayload, referral);
need_case_payload!(CloseNeedPayload);
need_case_payload!(MarkEnteredInErrorPayload);

/// What a need-case command produced, before it takes its payload's name.
#[derive(Default)]
pub struct NeedCaseOutcome {
    view: Option<NeedCaseView>,
    referral: Option<ReferralId>,
    position: Option<Position>,
    duplicate: bool,
    user_errors: Vec<UserError>,
}

impl NeedCaseOutcome {
    fn refused(e: UserError) -> Self {
        Self {
            user_errors: vec![e],
            ..Default::default()
        }
    }
    fn done(x: Executed, referral: Option<ReferralId>) -> Self {
        Self {
            view: Some(NeedCaseView::from_history(x.history.iter())),
            referral,
            position: Some(Position(x.position.raw())),
            duplicate: x.duplicate,
            user_errors: vec![],
        }
    }
}

/// Runs a need-case command; `build` checks the input and makes the action.
async fn need_case_command(
    ctx: &Context<'_>,
    options: &CommandOptions,
    need_case: &ID,
    build: impl FnOnce(&CommandContext) -> Result<(NeedCaseAction, Option<ReferralId>), Invalid>,
) -> Result<NeedCaseOutcome> {
    let access = allow(ctx, Action::WriteCasework)?;
    let prepared = command_context(access, options)
        .and_then(|c| Ok((need_case_id(need_case)?, c)))
        .and_then(|(id, c)| build(&c).map(|(a, r)| (id, c, a, r)));
    let (id, cctx, action, referral) = match prepared {
        Ok(p) => p,
        Err(Invalid(e)) => return Ok(NeedCaseOutcome::refused(e)),
    };
    let app = app(ctx);
    match app
        .execute::<DomainNeedCase>(StreamName::need_case(id), action, &cctx, authorizer(access))
        .await
    {
        Ok(x) => Ok(NeedCaseOutcome::done(x, referral)),
        Err(e) => refusal(e).map(NeedCaseOutcome::refused),
    }
}

// ---------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------

#[derive(InputObject)]
pub struct RegisterCareRecipientInput {
    #[graphql(flatten)]
    pub options: CommandOptions,
    /// The new recipient's id (UUID); by default the idempotency key.
    pub recipient_id: Option<ID>,
    pub site: String,
    #[graphql(default_with = "RecipientKind::Patient")]
    pub kind: RecipientKind,
    /// For a relative: the recipient id of their patient, a patient registered at a
    /// site you work for.
    pub patient_id: Option<ID>,
    pub birth_year: i32,
    pub sex: Sex,
    /// ISO country code: BE, DE, NL, LU or FR.
    pub country: String,
    pub postal_code: String,
    /// Preferred language, e.g. `nl`, `fr-BE`.
    pub language: String,
    #[graphql(default_with = "PreferentialReimbursement::Unknown")]
    pub preferential_reimbursement: PreferentialReimbursement,
    /// 1 (most deprived) to 10, where known.
    pub deprivation_decile: Option<u8>,
    #[graphql(default_with = "CancerSiteGroup::Unknown")]
    pub cancer_site_group: CancerSiteGroup,
    /// Names and contact details: sealed under the recipient's own key before they
    /// are recorded; read back by the coordinators of the site only.
    pub personal_data: Option<PersonalDataInput>,
}

/// Names and contact details (each optional, at least one; at most 200 characters).
#[derive(InputObject, Default)]
pub struct PersonalDataInput {
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// Digits, spaces and `+-.()`, 4 to 20 digits.
    pub phone: Option<String>,
    pub email: Option<String>,
    /// Postal address; may span lines.
    pub address: Option<String>,
}

fn personal_data(input: Option<PersonalDataInput>) -> Result<Option<PersonalData>, Invalid> {
    let Some(p) = input else { return Ok(None) };
    PersonalData::new(p.given_name, p.family_name, p.phone, p.email, p.address)
        .map(Some)
        .map_err(|e| {
            let field = match e.field() {
                "personalData" => "personalData".to_string(),
                f => format!("personalData.{f}"),
            };
            invalid(&field, e.code(), e.to_string())
        })
}

#[derive(InputObject)]
pub struct EraseCareRecipientInput {
    #[graphql(flatten)]
    pub options: CommandOptions,
    pub recipient_id: ID,
}

#[derive(SimpleObject, Default)]
pub struct EraseCareRecipientPayload {
    pub recipient_id: Option<String>,
    /// When the erasure was recorded (also for one recorded before).
    pub erased_at: Option<DateTime<Utc>>,
    pub position: Option<Position>,
    pub duplicate: bool,
    /// The recipient had already been erased: nothing was written.
    pub unchanged: bool,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject, Default)]
pub struct RegisterCareRecipientPayload {
    pub care_recipient: Option<CareRecipient>,
    pub position: Option<Position>,
    pub duplicate: bool,
    pub user_errors: Vec<UserError>,
}

#[derive(InputObject)]
pub struct IdentifyNeedInput {
    #[graphql(flatten)]
    pub options: CommandOptions,
    /// The new need case's id; by default the idempotency key.
    pub need_case_id: Option<ID>,
    pub recipient_id: ID,
    /// A catalogue code, e.g. `psy.fear-of-recurrence`.
    pub need_code: String,
}

#[derive(InputObject)]
pub struct SuggestedServiceInput {
    pub service_id: ID,
    /// Why it is suggested: reason codes (lowercase letters, digits, `_`).
    #[graphql(default)]
    pub reasons: Vec<String>,
}

#[derive(InputObject)]
pub struct SuggestServicesInput {
    #[graphql(flatten)]
    pub options: CommandOptions,
    pub need_case_id: ID,
    /// A list made by hand, best first (at most 50), of active services of the
    /// directory. Without it, the directory's
    /// active services are ranked for the need case (see `limit`), and the
    /// services left out are recorded with their reasons.
    pub services: Option<Vec<SuggestedServiceInput>>,
    /// How many ranked services to suggest (1 to 50).
    #[graphql(default = 10)]
    pub limit: u32,
}

#[derive(InputObject)]
pub struct RequestReferralInput {
    #[graphql(flatten)]
    pub options: CommandOptions,
    pub need_case_id: ID,
    /// The new referral's id; by default the idempotency key.
    pub referral_id: Option<ID>,
    /// An active service of the directory.
    pub service_id: ID,
}

#[derive(InputObject)]
pub struct ReferralInput {
    #[graphql(flatten)]
    pub options: CommandOptions,
    pub need_case_id: ID,
    pub referral_id: ID,
}

#[derive(InputObject)]
pub struct AcceptReferralInput {
    #[graphql(flatten)]
    pub referral: ReferralInput,
}

#[derive(InputObject)]
pub struct StartReferralInput {
    #[graphql(flatten)]
    pub referral: ReferralInput,
}

#[derive(InputObject)]
pub struct RejectReferralInput {
    #[graphql(flatten)]
    pub referral: ReferralInput,
    pub reason: RejectionReason,
}

#[derive(InputObject)]
pub struct WaitlistReferralInput {
    #[graphql(flatten)]
    pub referral: ReferralInput,
    pub estimated_wait_days: Option<u16>,
}

#[derive(InputObject)]
pub struct CompleteReferralInput {
    #[graphql(flatten)]
    pub referral: ReferralInput,
    pub outcome: Outcome,
}

#[derive(InputObject)]
pub struct FailReferralInput {
    #[graphql(flatten)]
    pub referral: ReferralInput,
    pub reason: FailureReason,
}

#[derive(InputObject)]
pub struct CancelReferralInput {
    #[graphql(flatten)]
    pub referral: ReferralInput,
    pub by: CancelledBy,
    pub reason: CancelReason,
}

#[derive(InputObject)]
pub struct CloseNeedInput {
    #[graphql(flatten)]
    pub options: CommandOptions,
    pub need_case_id: ID,
    pub reason: CloseReason,
}

#[derive(InputObject)]
pub struct MarkEnteredInErrorInput {
    #[graphql(flatten)]
    pub options: CommandOptions,
    pub need_case_id: ID,
    /// The referral recorded in error; without it, the whole need case.
    pub referral_id: Option<ID>,
    pub reason: ErrorReason,
}

fn reason_code_ok(r: &str) -> bool {
    (1..=40).contains(&r.len())
        && r.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// `suggestServices` without a list: rank the directory for the need case.
async fn ranked_suggestion(
    ctx: &Context<'_>,
    input: &SuggestServicesInput,
) -> Result<SuggestServicesPayload> {
    let access = allow(ctx, Action::WriteCasework)?;
    let app = app(ctx);
    if !(1..=crate::app::MAX_RANKED as u32).contains(&input.limit) {
        let e = user_error(
            Some("limit"),
            "INVALID_LIMIT",
            format!("limit must be between 1 and {}", crate::app::MAX_RANKED),
        );
        return Ok(NeedCaseOutcome::refused(e).into());
    }
    let id = match need_case_id(&input.need_case_id) {
        Ok(id) => id,
        Err(Invalid(e)) => return Ok(NeedCaseOutcome::refused(e).into()),
    };
    let case = match app.load_need_case(id).await {
        Ok(c) => c,
        Err(e) => return Ok(NeedCaseOutcome::refused(refusal(e)?).into()),
    };
    let action = match case.data() {
        // Not identified: the command path refuses it with the usual error.
        None => NeedCaseAction::SuggestServices {
            services: vec![],
            left_out: vec![],
        },
        Some(d) => {
            access
                .check_at(Action::WriteCasework, &d.recipient.site)
                .map_err(denied)?;
            // Rank against the directory as committed now, not as the read model
            // lags behind it.
            let head = app.store.head().await.map_err(|e| {
                tracing::error!(error = %e, "cannot read the head");
                error("UNAVAILABLE", "the event store is unavailable; retry later")
            })?;
            app.projector
                .wait_for(head, app.settings.consistency_timeout)
                .await
                .map_err(|e| {
                    error(
                        "PROJECTION_NOT_CAUGHT_UP",
                        format!("the directory's read model reached position {} but not {}; retry shortly", e.reached, e.wanted),
                    )
                })?;
            let ranking = app.rank_services(d, app.clock.now(), input.limit as usize);
            if ranking.suggested.is_empty() {
                let message = format!(
                    "no active service of the directory addresses {} for this recipient ({} left out; see the services query for the directory)",
                    d.need,
                    ranking.left_out.len()
                );
                return Ok(NeedCaseOutcome::refused(user_error(
                    None,
                    "NO_ELIGIBLE_SERVICE",
                    message,
                ))
                .into());
            }
            crate::app::ranked_suggestion(&ranking)
        }
    };
    Ok(
        need_case_command(ctx, &input.options, &input.need_case_id, |_| {
            Ok((action, None))
        })
        .await?
        .into(),
    )
}

/// The key vault failed: the cause is logged (it names no person), the caller is
/// told to retry.
fn vault_unavailable(e: VaultError) -> async_graphql::Error {
    tracing::error!(error = %e, "key vault failed");
    error("UNAVAILABLE", "the key vault is unavailable; retry later")
}

/// A command on one referral.
async fn referral_command(
    ctx: &Context<'_>,
    r: &ReferralInput,
    make: impl FnOnce(ReferralId) -> NeedCaseAction,
) -> Result<NeedCaseOutcome> {
    need_case_command(ctx, &r.options, &r.need_case_id, |_| {
        let id = referral_id(&r.referral_id)?;
        Ok((make(id), Some(id)))
    })
    .await
}

#[Object]
impl CaseMutation {
    /// Erases a care recipient's names and contact details (administrators): their
    /// key is destroyed, so every sealed copy is unreadable for good, and
    /// `CareRecipientErased` is recorded. Their stratifiers and need cases stay, and
    /// statistics still count them. Erasing again changes nothing (`unchanged`).
    async fn erase_care_recipient(
        &self,
        ctx: &Context<'_>,
        input: EraseCareRecipientInput,
    ) -> Result<EraseCareRecipientPayload> {
        let access = allow(ctx, Action::EraseRecipient)?;
        let refused = |e: UserError| EraseCareRecipientPayload {
            user_errors: vec![e],
            ..Default::default()
        };
        let prepared = command_context(access, &input.options).and_then(|c| {
            parse_input(&input.recipient_id, Kind::CareRecipient)
                .map(|u| (c, RecipientId::from_uuid(u)))
                .map_err(|m| invalid("recipientId", "INVALID_ID", m))
        });
        let app = app(ctx);
        let (cctx, id) = match prepared.and_then(|(c, id)| check_time(app, &c).map(|()| (c, id))) {
            Ok(p) => p,
            Err(Invalid(e)) => return Ok(refused(e)),
        };
        match app.load_recipient(id).await {
            Ok(state) if state.profile().is_some() => {}
            Ok(_) => {
                return Ok(refused(user_error(
                    Some("recipientId"),
                    "RECIPIENT_NOT_FOUND",
                    format!("care recipient {id} is not registered"),
                )));
            }
            Err(e) => return Ok(refused(refusal(e)?)),
        }
        // The key goes first: should recording the erasure then fail, the data is
        // already unreadable, and a retry records it.
        app.vault.destroy(id).await.map_err(vault_unavailable)?;
        match app
            .execute::<DomainRecipient>(
                StreamName::recipient(id),
                RecipientAction::Erase { recipient: id },
                &cctx,
                |_| Ok(()),
            )
            .await
        {
            Ok(x) => {
                let state = crate::app::fold::<DomainRecipient>(&x.history);
                Ok(EraseCareRecipientPayload {
                    recipient_id: Some(id.to_string()),
                    erased_at: state.erased_at(),
                    position: Some(Position(x.position.raw())),
                    duplicate: x.duplicate,
                    unchanged: x.unchanged,
                    user_errors: vec![],
                })
            }
            Err(e) => Ok(refused(refusal(e)?)),
        }
    }

    /// Registers a care recipient at a site, with the stratifiers of equity audits.
    async fn register_care_recipient(
        &self,
        ctx: &Context<'_>,
        input: RegisterCareRecipientInput,
    ) -> Result<RegisterCareRecipientPayload> {
        let access = allow(ctx, Action::WriteCasework)?;
        let personal = match personal_data(input.personal_data) {
            Ok(p) => p,
            Err(Invalid(e)) => {
                return Ok(RegisterCareRecipientPayload {
                    user_errors: vec![e],
                    ..Default::default()
                });
            }
        };
        let prepared = (|| -> Result<(CommandContext, RegisterCareRecipient), Invalid> {
            let c = command_context(access, &input.options)?;
            let recipient = RecipientId::from_uuid(new_id(
                input.recipient_id.as_ref(),
                &c,
                Some(Kind::CareRecipient),
                "recipientId",
            )?);
            let site = v::SiteId::parse(&input.site)
                .map_err(|e| invalid("site", "INVALID_SITE", e.to_string()))?;
            let kind = match (input.kind, &input.patient_id) {
                (RecipientKind::Patient, None) => DomainKind::Patient,
                (RecipientKind::Patient, Some(_)) => {
                    return Err(invalid(
                        "patientId",
                        "UNEXPECTED_PATIENT_ID",
                        "a patient has no patientId; it is for relatives",
                    ));
                }
                (RecipientKind::Relative, None) => {
                    return Err(invalid(
                        "patientId",
                        "MISSING_PATIENT_ID",
                        "a relative needs the patientId of their patient",
                    ));
                }
                (RecipientKind::Relative, Some(p)) => DomainKind::Relative {
                    patient: RecipientId::from_uuid(
                        parse_input(p, Kind::CareRecipient)
                            .map_err(|m| invalid("patientId", "INVALID_ID", m))?,
                    ),
                },
            };
            let birth_year = v::BirthYear::parse(input.birth_year)
                .map_err(|e| invalid("birthYear", "INVALID_BIRTH_YEAR", e.to_string()))?;
            let country = v::Country::parse(&input.country)
                .map_err(|e| invalid("country", "UNSUPPORTED_COUNTRY", e.to_string()))?;
            let postal_code = v::PostalCode::parse(country, &input.postal_code)
                .map_err(|e| invalid("postalCode", "INVALID_POSTAL_CODE", e.to_string()))?;
            let language = v::LanguageTag::parse(&input.language)
                .map_err(|e| invalid("language", "INVALID_LANGUAGE", e.to_string()))?;
            let deprivation_decile = input
                .deprivation_decile
                .map(v::DeprivationDecile::parse)
                .transpose()
                .map_err(|e| invalid("deprivationDecile", "INVALID_DECILE", e.to_string()))?;
            Ok((
                c,
                RegisterCareRecipient {
                    recipient,
                    site,
                    kind,
                    birth_year,
                    sex: input.sex.into(),
                    postal_code,
                    language,
                    preferential_reimbursement: input.preferential_reimbursement.into(),
                    deprivation_decile,
                    cancer_site_group: input.cancer_site_group.into(),
                    personal: None,
                },
            ))
        })();
        let (cctx, register) = match prepared {
            Ok(p) => p,
            Err(Invalid(e)) => {
                return Ok(RegisterCareRecipientPayload {
                    user_errors: vec![e],
                    ..Default::default()
                });
            }
        };
        access
            .check_at(Action::WriteCasework, &register.site)
            .map_err(denied)?;
        let app = app(ctx);
        let refused = |e: UserError| RegisterCareRecipientPayload {
            user_errors: vec![e],
            ..Default::default()
        };
        if let Err(Invalid(e)) = check_time(app, &cctx) {
            return Ok(refused(e));
        }
        // A relative's patient must be a patient registered at a site the caller
        // works for. An unknown id and another site's patient get the same answer,
        // so the refusal tells nothing about other sites. (A relative naming
        // themself is the domain's RELATIVE_OF_THEMSELF.)
        if let DomainKind::Relative { patient } = register.kind
            && patient != register.recipient
        {
            let state = match app.load_recipient(patient).await {
                Ok(s) => s,
                Err(e) => return Ok(refused(refusal(e)?)),
            };
            let known = state.profile().is_some_and(|p| {
                p.kind == DomainKind::Patient
                    && access.check_at(Action::WriteCasework, &p.site).is_ok()
            });
            if !known {
                return Ok(refused(user_error(
                    Some("patientId"),
                    "PATIENT_NOT_FOUND",
                    "no patient with this id is registered at a site you work for",
                )));
            }
        }
        let mut register = register;
        if let Some(p) = &personal {
            register.personal = match app.vault.seal(register.recipient, p).await {
                Ok(s) => Some(s),
                Err(VaultError::Erased) => {
                    return Ok(RegisterCareRecipientPayload {
                        user_errors: vec![user_error(
                            Some("recipientId"),
                            "RECIPIENT_ERASED",
                            "this care recipient was erased; their personal data cannot be recorded again",
                        )],
                        ..Default::default()
                    });
                }
                Err(e) => return Err(vault_unavailable(e)),
            };
        }
        let stream = StreamName::recipient(register.recipient);
        match app
            .execute::<DomainRecipient>(
                stream,
                RecipientAction::Register(register),
                &cctx,
                authorizer(access),
            )
            .await
        {
            Ok(x) => {
                let state = crate::app::fold::<DomainRecipient>(&x.history);
                let last = x
                    .history
                    .last()
                    .expect("a registered recipient has an event");
                let sealed = x.history.iter().find_map(|e| match &e.event {
                    careledger_domain::DomainEvent::Recipient(
                        careledger_domain::recipient::RecipientEvent::CareRecipientRegistered(r),
                    ) => r.personal.clone(),
                    _ => None,
                });
                let view = state.profile().map(|p| RecipientView {
                    personal: sealed.filter(|_| state.erased_at().is_none()),
                    erased_at: state.erased_at(),
                    profile: p.clone(),
                    registered_at: state.registered_at().unwrap_or(last.metadata.occurred_at),
                    version: last.version,
                    position: last.position.raw(),
                    need_cases: app
                        .projector
                        .read()
                        .recipient(p.recipient)
                        .map(|r| r.need_cases.clone())
                        .unwrap_or_default(),
                });
                Ok(RegisterCareRecipientPayload {
                    care_recipient: view.map(|v| CareRecipient(Arc::new(v))),
                    position: Some(Position(x.position.raw())),
                    duplicate: x.duplicate,
                    user_errors: vec![],
                })
            }
            Err(e) => Ok(RegisterCareRecipientPayload {
                user_errors: vec![refusal(e)?],
                ..Default::default()
            }),
        }
    }

    /// Opens a need case: a need of the catalogue identified for a registered recipient.
    async fn identify_need(
        &self,
        ctx: &Context<'_>,
        input: IdentifyNeedInput,
    ) -> Result<IdentifyNeedPayload> {
        let access = allow(ctx, Action::WriteCasework)?;
        let app = app(ctx);
        let recipient = match parse_input(&input.recipient_id, Kind::CareRecipient) {
            Ok(r) => RecipientId::from_uuid(r),
            Err(m) => {
                return Ok(NeedCaseOutcome::refused(user_error(
                    Some("recipientId"),
                    "INVALID_ID",
                    m,
                ))
                .into());
            }
        };
        let need = match v::NeedCode::parse(&input.need_code) {
            Ok(n) => n,
            Err(e) => {
                return Ok(NeedCaseOutcome::refused(user_error(
                    Some("needCode"),
                    "INVALID_NEED_CODE",
                    e.to_string(),
                ))
                .into());
            }
        };
        if let Err(e) = app.catalogue.resolve(&need) {
            return Ok(NeedCaseOutcome::refused(user_error(
                Some("needCode"),
                e.code(),
                e.to_string(),
            ))
            .into());
        }
        let profile = match app.load_recipient(recipient).await {
            Ok(state) => match state.require(recipient) {
                Ok(p) => p.clone(),
                Err(e) => {
                    return Ok(NeedCaseOutcome::refused(user_error(
                        Some("recipientId"),
                        e.code(),
                        e.to_string(),
                    ))
                    .into());
                }
            },
            Err(e) => return Ok(NeedCaseOutcome::refused(refusal(e)?).into()),
        };
        access
            .check_at(Action::WriteCasework, &profile.site)
            .map_err(denied)?;
        let cctx = match command_context(access, &input.options) {
            Ok(c) => c,
            Err(Invalid(e)) => return Ok(NeedCaseOutcome::refused(e).into()),
        };
        let id = match new_id(
            input.need_case_id.as_ref(),
            &cctx,
            Some(Kind::NeedCase),
            "needCaseId",
        ) {
            Ok(u) => NeedCaseId::from_uuid(u),
            Err(Invalid(e)) => return Ok(NeedCaseOutcome::refused(e).into()),
        };
        let action = NeedCaseAction::IdentifyNeed {
            need_case: id,
            recipient: profile,
            need,
        };
        Ok(match app
            .execute::<DomainNeedCase>(StreamName::need_case(id), action, &cctx, authorizer(access))
            .await
        {
            Ok(x) => NeedCaseOutcome::done(x, None),
            Err(e) => NeedCaseOutcome::refused(refusal(e)?),
        }
        .into())
    }

    /// Records a ranked list of services for the need, best first (a manual list
    /// for now; ranked matching comes with the service directory).
    async fn suggest_services(
        &self,
        ctx: &Context<'_>,
        input: SuggestServicesInput,
    ) -> Result<SuggestServicesPayload> {
        let Some(manual) = &input.services else {
            return ranked_suggestion(ctx, &input).await;
        };
        let access = allow(ctx, Action::WriteCasework)?;
        let named: Vec<ServiceId> = manual
            .iter()
            .filter_map(|s| parse_uuid(&s.service_id, "service").ok())
            .map(ServiceId::from_uuid)
            .collect();
        if named.len() == manual.len()
            && let Some(e) = check_named_services(
                ctx,
                access,
                &input.options,
                &input.need_case_id,
                &named,
                "services",
            )
            .await?
        {
            return Ok(NeedCaseOutcome::refused(e).into());
        }
        Ok(need_case_command(ctx, &input.options, &input.need_case_id, |_| {
            let mut services = Vec::with_capacity(manual.len());
            for s in manual {
                let service = ServiceId::from_uuid(
                    parse_uuid(&s.service_id, "service").map_err(|m| invalid("services", "INVALID_ID", m))?,
                );
                if let Some(bad) = s.reasons.iter().find(|r| !reason_code_ok(r)) {
                    return Err(invalid(
                        "services",
                        "INVALID_REASON_CODE",
                        format!("'{}' is not a reason code: 1 to 40 lowercase letters, digits or '_' (free text is not stored)", super::ids::clip(bad)),
                    ));
                }
                services.push(nc::SuggestedService { score: None, service, reasons: s.reasons.clone() });
            }
            Ok((NeedCaseAction::SuggestServices { left_out: vec![], services }, None))
        })
        .await?
        .into())
    }

    /// Refers the recipient to a service (one open referral per need case).
    async fn request_referral(
        &self,
        ctx: &Context<'_>,
        input: RequestReferralInput,
    ) -> Result<RequestReferralPayload> {
        let access = allow(ctx, Action::WriteCasework)?;
        if let Ok(service) = parse_uuid(&input.service_id, "service")
            && let Some(e) = check_named_services(
                ctx,
                access,
                &input.options,
                &input.need_case_id,
                &[ServiceId::from_uuid(service)],
                "serviceId",
            )
            .await?
        {
            return Ok(NeedCaseOutcome::refused(e).into());
        }
        Ok(
            need_case_command(ctx, &input.options, &input.need_case_id, |c| {
                let referral = ReferralId::from_uuid(new_id(
                    input.referral_id.as_ref(),
                    c,
                    None,
                    "referralId",
                )?);
                let service = ServiceId::from_uuid(
                    parse_uuid(&input.service_id, "service")
                        .map_err(|m| invalid("serviceId", "INVALID_ID", m))?,
                );
                Ok((
                    NeedCaseAction::RequestReferral { referral, service },
                    Some(referral),
                ))
            })
            .await?
            .into(),
        )
    }

    /// The service accepted the referral.
    async fn accept_referral(
        &self,
        ctx: &Context<'_>,
        input: AcceptReferralInput,
    ) -> Result<AcceptReferralPayload> {
        Ok(referral_command(ctx, &input.referral, |referral| {
            NeedCaseAction::AcceptReferral { referral }
        })
        .await?
        .into())
    }

    /// The service turned the referral down.
    async fn reject_referral(
        &self,
        ctx: &Context<'_>,
        input: RejectReferralInput,
    ) -> Result<RejectReferralPayload> {
        let reason = input.reason.into();
        Ok(referral_command(ctx, &input.referral, |referral| {
            NeedCaseAction::RejectReferral { referral, reason }
        })
        .await?
        .into())
    }

    /// The referral waits for a place (on hold).
    async fn waitlist_referral(
        &self,
        ctx: &Context<'_>,
        input: WaitlistReferralInput,
    ) -> Result<WaitlistReferralPayload> {
        let estimated_wait_days = input.estimated_wait_days;
        Ok(referral_command(ctx, &input.referral, |referral| {
            NeedCaseAction::WaitlistReferral {
                referral,
                estimated_wait_days,
            }
        })
        .await?
        .into())
    }

    /// The service started (or resumed) care.
    async fn start_referral(
        &self,
        ctx: &Context<'_>,
        input: StartReferralInput,
    ) -> Result<StartReferralPayload> {
        Ok(referral_command(ctx, &input.referral, |referral| {
            NeedCaseAction::StartReferral { referral }
        })
        .await?
        .into())
    }

    /// The service finished, with how far the need was met.
    async fn complete_referral(
        &self,
        ctx: &Context<'_>,
        input: CompleteReferralInput,
    ) -> Result<CompleteReferralPayload> {
        let outcome = input.outcome.into();
        Ok(referral_command(ctx, &input.referral, |referral| {
            NeedCaseAction::CompleteReferral { referral, outcome }
        })
        .await?
        .into())
    }

    /// The referral failed (no-show, unreachable, declined).
    async fn fail_referral(
        &self,
        ctx: &Context<'_>,
        input: FailReferralInput,
    ) -> Result<FailReferralPayload> {
        let reason = input.reason.into();
        Ok(referral_command(ctx, &input.referral, |referral| {
            NeedCaseAction::FailReferral { referral, reason }
        })
        .await?
        .into())
    }

    /// The requester or the recipient cancelled the referral.
    async fn cancel_referral(
        &self,
        ctx: &Context<'_>,
        input: CancelReferralInput,
    ) -> Result<CancelReferralPayload> {
        let (by, reason) = (input.by.into(), input.reason.into());
        Ok(referral_command(ctx, &input.referral, |referral| {
            NeedCaseAction::CancelReferral {
                referral,
                by,
                reason,
            }
        })
        .await?
        .into())
    }

    /// Closes the need case without (further) referral.
    async fn close_need(
        &self,
        ctx: &Context<'_>,
        input: CloseNeedInput,
    ) -> Result<CloseNeedPayload> {
        let reason = input.reason.into();
        Ok(
            need_case_command(ctx, &input.options, &input.need_case_id, |_| {
                Ok((NeedCaseAction::CloseNeed { reason }, None))
            })
            .await?
            .into(),
        )
    }

    /// Marks a referral, or the whole need case, as recorded in error.
    async fn mark_entered_in_error(
        &self,
        ctx: &Context<'_>,
        input: MarkEnteredInErrorInput,
    ) -> Result<MarkEnteredInErrorPayload> {
        let reason = input.reason.into();
        Ok(
            need_case_command(ctx, &input.options, &input.need_case_id, |_| {
                let target = match &input.referral_id {
                    Some(r) => nc::ErrorTarget::Referral {
                        referral: referral_id(r)?,
                    },
                    None => nc::ErrorTarget::NeedCase,
                };
                Ok((NeedCaseAction::MarkEnteredInError { target, reason }, None))
            })
            .await?
            .into(),
        )
    }
}
