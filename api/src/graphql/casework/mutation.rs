//! One mutation per lifecycle command: `verbNoun(input: VerbNounInput!): VerbNounPayload!`.
//!
//! Each resolver maps its input to domain values (bad input is a `userError`,
//! nothing written), calls one use case of [`careledger_app::casework`], and maps
//! the answer. Every input takes `idempotencyKey` (a UUIDv7 the client mints when
//! it first tries the command; a retry with the same key gets the same answer and
//! writes nothing), `expectedVersion` (refuse if the record moved since the caller
//! read it) and `occurredAt` (when it happened in care; now by default). Where a
//! command creates something and the input names no id for it, the id is the
//! idempotency key, so a retry names the same thing.

use super::inputs::*;
use super::types::*;
use crate::graphql::support::commands::{
    CommandOptions, Invalid, command_context, invalid, new_id, refusal,
};
use crate::graphql::support::ids::{Kind, clip, parse_input, parse_uuid};
use crate::graphql::support::scalars::{Position, UserError};
use crate::graphql::support::{allow, app};
use async_graphql::{Context, ID, Object, Result, SimpleObject};
use careledger_app::casework::NeedCaseDone;
use careledger_app::policy::Action;
use careledger_app::{Access, AppError, CommandContext};
use careledger_domain::ids::{NeedCaseId, RecipientId, ReferralId, ServiceId};
use careledger_domain::need_case::{self as nc, NeedCaseAction};
use careledger_domain::recipient::{RecipientKind as DomainKind, RegisterCareRecipient};
use careledger_domain::values as v;
use careledger_projections::NeedCaseView;
use std::sync::Arc;

#[derive(Default)]
pub struct CaseMutation;

pub(super) fn need_case_id(id: &ID) -> Result<NeedCaseId, Invalid> {
    parse_input(id, Kind::NeedCase)
        .map(NeedCaseId::from_uuid)
        .map_err(|m| invalid("needCaseId", "INVALID_ID", m))
}

pub(super) fn referral_id(id: &ID) -> Result<ReferralId, Invalid> {
    parse_uuid(id, "referral")
        .map(ReferralId::from_uuid)
        .map_err(|m| invalid("referralId", "INVALID_ID", m))
}

fn reason_code_ok(r: &str) -> bool {
    (1..=40).contains(&r.len())
        && r.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
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
                $(let $referral = o.referral.as_ref().and_then(|r| o.view.as_ref().and_then(|v| v.data().zip(v.state.referral(*r))).map(|(d, x)| Referral::of(d.id, x)));)?
                Self {
                    need_case: o.view.filter(|_| o.case_visible).map(|v| NeedCase(Arc::new(v))),
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
need_case_payload!(WithdrawReferralConsentPayload, referral);

/// What a need-case command produced, before it takes its payload's name.
#[derive(Default)]
pub struct NeedCaseOutcome {
    view: Option<NeedCaseView>,
    /// A provider answering a referral sees the referral, not the need case.
    case_visible: bool,
    referral: Option<ReferralId>,
    position: Option<Position>,
    duplicate: bool,
    user_errors: Vec<UserError>,
}

impl NeedCaseOutcome {
    /// After a referral request that asked for an answer link: the link, issued
    /// as a second command of the need case (a retry, with the request's key,
    /// finds the same link). A refused link leaves the request done and says
    /// why on `answerLink`.
    async fn then_answer_link(
        mut self,
        ctx: &Context<'_>,
        input: &RequestReferralInput,
    ) -> Result<Self> {
        let Some(want) = &input.answer_link else {
            return Ok(self);
        };
        let (Some(need_case), Some(referral)) = (
            self.view.as_ref().and_then(|v| v.data()).map(|d| d.id),
            self.referral,
        ) else {
            return Ok(self);
        };
        let access = allow(ctx, Action::WriteCasework)?;
        let Ok(mut cctx) = command_context(access, &input.options) else {
            return Ok(self);
        };
        cctx.expected_version = None;
        // From now, not from a backdated request's time: the link must work.
        cctx.occurred_at = None;
        cctx.idempotency_key = cctx.idempotency_key.map(link_key);
        let app = app(ctx);
        let issued = app
            .issue_answer_link(
                access,
                &cctx,
                need_case,
                referral,
                i64::from(want.valid_days),
                want.lang.into(),
            )
            .await;
        match issued {
            Ok(x) => {
                self.view = Some(x.view);
                self.position = Some(Position(x.position));
                self.duplicate &= x.duplicate;
            }
            Err(e) => {
                let mut u = refusal(e)?;
                u.field = Some("answerLink".into());
                self.user_errors.push(u);
            }
        }
        Ok(self)
    }

    fn refused(e: UserError) -> Self {
        Self {
            user_errors: vec![e],
            ..Default::default()
        }
    }

    /// A use case's answer: done, or refused (a `userError`), or a top-level error.
    fn of(r: Result<NeedCaseDone, AppError>, referral: Option<ReferralId>) -> Result<Self> {
        match r {
            Ok(d) => Ok(Self {
                view: Some(d.view),
                case_visible: d.case_visible,
                referral,
                position: Some(Position(d.position)),
                duplicate: d.duplicate,
                user_errors: vec![],
            }),
            Err(e) => refusal(e).map(Self::refused),
        }
    }
}

/// The caller (whose role may do `action` at all: a role-level refusal comes
/// before any input is read) and the command's context, or the input refusal.
fn prepare(
    ctx: &Context<'_>,
    action: Action,
    options: &CommandOptions,
) -> Result<(Access, Result<CommandContext, Invalid>)> {
    let access = allow(ctx, action)?.clone();
    let cctx = command_context(&access, options);
    Ok((access, cctx))
}

/// Runs a need-case command; `build` checks the input and makes the action.
async fn need_case_command(
    ctx: &Context<'_>,
    options: &CommandOptions,
    need_case: &ID,
    build: impl FnOnce(&CommandContext) -> Result<(NeedCaseAction, Option<ReferralId>), Invalid>,
) -> Result<NeedCaseOutcome> {
    need_case_command_as(ctx, Action::WriteCasework, options, need_case, build).await
}

/// As [`need_case_command`], for callers whose role may do `action`.
async fn need_case_command_as(
    ctx: &Context<'_>,
    action: Action,
    options: &CommandOptions,
    need_case: &ID,
    build: impl FnOnce(&CommandContext) -> Result<(NeedCaseAction, Option<ReferralId>), Invalid>,
) -> Result<NeedCaseOutcome> {
    let (access, cctx) = prepare(ctx, action, options)?;
    let prepared = cctx
        .and_then(|c| Ok((need_case_id(need_case)?, c)))
        .and_then(|(id, c)| build(&c).map(|(a, r)| (id, c, a, r)));
    let (id, cctx, action, referral) = match prepared {
        Ok(p) => p,
        Err(Invalid(e)) => return Ok(NeedCaseOutcome::refused(e)),
    };
    let done = app(ctx).need_case_command(&access, &cctx, id, action).await;
    NeedCaseOutcome::of(done, referral)
}

/// A command on one referral: its performing side (a provider of the
/// organisation it is addressed to) or a coordinator of its site may give it;
/// the use case checks which side the command acts for.
async fn referral_command(
    ctx: &Context<'_>,
    r: &ReferralInput,
    make: impl FnOnce(ReferralId) -> NeedCaseAction,
) -> Result<NeedCaseOutcome> {
    need_case_command_as(
        ctx,
        Action::AnswerReferral,
        &r.options,
        &r.need_case_id,
        |_| {
            let id = referral_id(&r.referral_id)?;
            Ok((make(id), Some(id)))
        },
    )
    .await
}

/// The registration a `registerCareRecipient` input describes.
fn registration(
    input: &RegisterCareRecipientInput,
    c: &CommandContext,
) -> Result<RegisterCareRecipient, Invalid> {
    let recipient = RecipientId::from_uuid(new_id(
        input.recipient_id.as_ref(),
        c,
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
    Ok(RegisterCareRecipient {
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
    })
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
        let (cctx, id) = match prepared {
            Ok(p) => p,
            Err(Invalid(e)) => return Ok(refused(e)),
        };
        match app(ctx).erase_care_recipient(access, &cctx, id).await {
            Ok(x) => Ok(EraseCareRecipientPayload {
                recipient_id: Some(x.recipient.to_string()),
                erased_at: x.erased_at,
                position: Some(Position(x.position)),
                duplicate: x.duplicate,
                unchanged: x.unchanged,
                user_errors: vec![],
            }),
            Err(e) => Ok(refused(refusal(e)?)),
        }
    }

    /// Registers a care recipient at a site, with the stratifiers of equity audits.
    async fn register_care_recipient(
        &self,
        ctx: &Context<'_>,
        mut input: RegisterCareRecipientInput,
    ) -> Result<RegisterCareRecipientPayload> {
        let access = allow(ctx, Action::WriteCasework)?;
        let refused = |e: UserError| RegisterCareRecipientPayload {
            user_errors: vec![e],
            ..Default::default()
        };
        let prepared = personal_data(input.personal_data.take()).and_then(|p| {
            let c = command_context(access, &input.options)?;
            let r = registration(&input, &c)?;
            Ok((p, c, r))
        });
        let (personal, cctx, register) = match prepared {
            Ok(p) => p,
            Err(Invalid(e)) => return Ok(refused(e)),
        };
        match app(ctx)
            .register_care_recipient(access, &cctx, register, personal)
            .await
        {
            Ok(x) => Ok(RegisterCareRecipientPayload {
                care_recipient: x.view.map(|v| CareRecipient(Arc::new(v))),
                position: Some(Position(x.position)),
                duplicate: x.duplicate,
                user_errors: vec![],
            }),
            Err(e) => Ok(refused(refusal(e)?)),
        }
    }

    /// Opens a need case: a need of the catalogue identified for a registered recipient.
    async fn identify_need(
        &self,
        ctx: &Context<'_>,
        input: IdentifyNeedInput,
    ) -> Result<IdentifyNeedPayload> {
        let access = allow(ctx, Action::WriteCasework)?;
        let prepared = (|| -> Result<_, Invalid> {
            let recipient = parse_input(&input.recipient_id, Kind::CareRecipient)
                .map(RecipientId::from_uuid)
                .map_err(|m| invalid("recipientId", "INVALID_ID", m))?;
            let need = v::NeedCode::parse(&input.need_code)
                .map_err(|e| invalid("needCode", "INVALID_NEED_CODE", e.to_string()))?;
            let cctx = command_context(access, &input.options)?;
            let id = NeedCaseId::from_uuid(new_id(
                input.need_case_id.as_ref(),
                &cctx,
                Some(Kind::NeedCase),
                "needCaseId",
            )?);
            Ok((recipient, need, cctx, id))
        })();
        let (recipient, need, cctx, id) = match prepared {
            Ok(p) => p,
            Err(Invalid(e)) => return Ok(NeedCaseOutcome::refused(e).into()),
        };
        let done = app(ctx)
            .identify_need(access, &cctx, id, recipient, need)
            .await;
        Ok(NeedCaseOutcome::of(done, None)?.into())
    }

    /// Records the services suggested for the need, best first: the list given,
    /// or — without `services` — the directory's services ranked for this
    /// recipient by the matcher (at most `limit`), each with its score and
    /// reasons, and every service left out with why.
    async fn suggest_services(
        &self,
        ctx: &Context<'_>,
        input: SuggestServicesInput,
    ) -> Result<SuggestServicesPayload> {
        let Some(manual) = &input.services else {
            let (access, cctx) = prepare(ctx, Action::WriteCasework, &input.options)?;
            let prepared = need_case_id(&input.need_case_id).and_then(|id| Ok((id, cctx?)));
            let (id, cctx) = match prepared {
                Ok(p) => p,
                Err(Invalid(e)) => return Ok(NeedCaseOutcome::refused(e).into()),
            };
            let done = app(ctx)
                .suggest_ranked(&access, &cctx, id, input.limit as usize)
                .await;
            return Ok(NeedCaseOutcome::of(done, None)?.into());
        };
        Ok(
            need_case_command(ctx, &input.options, &input.need_case_id, |_| {
                let mut services = Vec::with_capacity(manual.len());
                for s in manual {
                    let service = ServiceId::from_uuid(
                        parse_uuid(&s.service_id, "service")
                            .map_err(|m| invalid("services", "INVALID_ID", m))?,
                    );
                    if let Some(bad) = s.reasons.iter().find(|r| !reason_code_ok(r)) {
                        return Err(invalid(
                            "services",
                            "INVALID_REASON_CODE",
                            format!("'{}' is not a reason code: 1 to 40 lowercase letters, digits or '_' (free text is not stored)", clip(bad)),
                        ));
                    }
                    services.push(nc::SuggestedService {
                        score: None,
                        service,
                        reasons: s.reasons.clone(),
                    });
                }
                Ok((
                    NeedCaseAction::SuggestServices {
                        ranked: None,
                        services,
                    },
                    None,
                ))
            })
            .await?
            .into(),
        )
    }

    /// Refers the recipient to a service (one open referral per need case),
    /// recording what the recipient consented to share with the service's
    /// organisation (`consent`; referral only unless given).
    async fn request_referral(
        &self,
        ctx: &Context<'_>,
        input: RequestReferralInput,
    ) -> Result<RequestReferralPayload> {
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
                    NeedCaseAction::RequestReferral {
                        referral,
                        service,
                        consent: input.consent.into(),
                    },
                    Some(referral),
                ))
            })
            .await?
            .then_answer_link(ctx, &input)
            .await?
            .into(),
        )
    }

    /// The service accepted the referral. Answers (accept, reject, waitlist,
    /// start, complete, fail) are the performing side's: a provider of the
    /// organisation the referral is addressed to, or a coordinator of the site
    /// recording it on the organisation's behalf (the event's actor says who).
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

    /// The requester, the recipient or the performing organisation cancelled
    /// the referral (a provider may cancel only as `PERFORMER`).
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

    /// The recipient withdrew their consent to share contact details with the
    /// organisation the referral is addressed to (coordinators of the site):
    /// from now on its provider no longer sees them. Refused when the referral
    /// carries no such consent (`NO_CONSENT_TO_WITHDRAW`) or is entered in
    /// error. Withdrawing everything is `cancelReferral`.
    async fn withdraw_referral_consent(
        &self,
        ctx: &Context<'_>,
        input: WithdrawReferralConsentInput,
    ) -> Result<WithdrawReferralConsentPayload> {
        let r = &input.referral;
        Ok(need_case_command(ctx, &r.options, &r.need_case_id, |_| {
            let referral = referral_id(&r.referral_id)?;
            Ok((NeedCaseAction::WithdrawConsent { referral }, Some(referral)))
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

/// The idempotency key of the link a referral request asks for, from the
/// request's own key (so a retried request finds the same link): the key with
/// its last six bytes flipped, which keeps a UUID's version and variant.
pub fn link_key(request: uuid::Uuid) -> uuid::Uuid {
    let mut b = *request.as_bytes();
    for x in &mut b[10..] {
        *x ^= 0xA5;
    }
    uuid::Uuid::from_bytes(b)
}
