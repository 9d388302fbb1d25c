//! Case work's command inputs and the payloads of the recipient commands.

use super::types::*;
use crate::graphql::support::commands::{CommandOptions, Invalid, invalid};
use crate::graphql::support::scalars::{Position, UserError};
use async_graphql::{ID, InputObject, SimpleObject};
use careledger_domain::personal::PersonalData;
use chrono::{DateTime, Utc};

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

pub fn personal_data(input: Option<PersonalDataInput>) -> Result<Option<PersonalData>, Invalid> {
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
    /// What the recipient consented to share with the service's organisation:
    /// without `REFERRAL_AND_CONTACT`, contact details never reach it.
    #[graphql(default_with = "ShareConsent::ReferralOnly")]
    pub consent: ShareConsent,
    /// Also issue an answer link for the new referral (as `issueAnswerLink`
    /// does, right after the request): the payload's `referral.answerLink`.
    pub answer_link: Option<AnswerLinkRequest>,
}

/// An answer link asked for with a referral request.
#[derive(InputObject)]
pub struct AnswerLinkRequest {
    /// How long the link works, in days (1 to 90).
    #[graphql(default = 14)]
    pub valid_days: i32,
    /// The language its page opens in.
    pub lang: crate::graphql::support::scalars::Lang,
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
pub struct WithdrawReferralConsentInput {
    #[graphql(flatten)]
    pub referral: ReferralInput,
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
