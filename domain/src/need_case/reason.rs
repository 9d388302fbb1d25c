//! Why a referral was rejected, failed or cancelled, how it ended, why a need case
//! was closed or what was entered in error: every reason is an enumeration, never
//! free text.

use crate::ids::ReferralId;
use serde::{Deserialize, Serialize};

/// What the recipient agreed to share with the organisation a referral is
/// addressed to, recorded with the request (issue 16). Without
/// `ReferralAndContact`, contact details never reach the provider; withdrawing
/// it (`ReferralConsentWithdrawn`) leaves `ReferralOnly`. Referrals requested
/// before consent was recorded read as `ReferralOnly`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShareConsent {
    /// The referral itself (the need, preferred language, age band): never a
    /// name or contact detail.
    #[default]
    ReferralOnly,
    /// The referral and the recipient's name, phone and e-mail address.
    ReferralAndContact,
}

impl ShareConsent {
    /// The default, left out of a stored event (an event without the key reads
    /// as referral only, as every event before consent was recorded).
    pub fn is_referral_only(&self) -> bool {
        *self == ShareConsent::ReferralOnly
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectionReason {
    NoCapacity,
    NotEligible,
    OutOfArea,
    MissingInformation,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    NoShow,
    Unreachable,
    Declined,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelledBy {
    Requester,
    Recipient,
    /// The performing organisation (HL7 SDOH IG: either side may cancel).
    Performer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    NoLongerNeeded,
    ReferredElsewhere,
    RecipientUnwell,
    RecipientChangedMind,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    NeedMet,
    NeedPartlyMet,
    NeedNotMet,
}

/// Why a need case was closed without (further) referral.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    ResolvedWithoutReferral,
    DeclinedByRecipient,
    NoServiceAvailable,
    Deceased,
    Moved,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorReason {
    Duplicate,
    WrongRecipient,
    WrongNeed,
    WrongService,
    Other,
}

/// What an entered-in-error correction applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "target", rename_all = "snake_case")]
pub enum ErrorTarget {
    NeedCase,
    Referral { referral: ReferralId },
}
