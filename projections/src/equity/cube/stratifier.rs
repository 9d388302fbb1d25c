//! The stratifiers the cube is cut by ([`Stratifier`]) and the rejection reasons it
//! counts referrals by.

use careledger_domain::need_case::RejectionReason;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Stratifier {
    AgeBand,
    Sex,
    Region,
    Country,
    Language,
    PreferentialReimbursement,
    DeprivationQuintile,
    RecipientKind,
    Site,
    CancerSiteGroup,
    Domain,
}

impl Stratifier {
    pub const ALL: [Stratifier; 11] = [
        Stratifier::AgeBand,
        Stratifier::Sex,
        Stratifier::Region,
        Stratifier::Country,
        Stratifier::Language,
        Stratifier::PreferentialReimbursement,
        Stratifier::DeprivationQuintile,
        Stratifier::RecipientKind,
        Stratifier::Site,
        Stratifier::CancerSiteGroup,
        Stratifier::Domain,
    ];
    /// Its name in CSV headers and file names (`age_band`, `deprivation_quintile`…).
    pub const fn name(self) -> &'static str {
        match self {
            Stratifier::AgeBand => "age_band",
            Stratifier::Sex => "sex",
            Stratifier::Region => "region",
            Stratifier::Country => "country",
            Stratifier::Language => "language",
            Stratifier::PreferentialReimbursement => "preferential_reimbursement",
            Stratifier::DeprivationQuintile => "deprivation_quintile",
            Stratifier::RecipientKind => "recipient_kind",
            Stratifier::Site => "site",
            Stratifier::CancerSiteGroup => "cancer_site_group",
            Stratifier::Domain => "domain",
        }
    }
    /// Its place in [`Stratifier::ALL`] (the declaration order).
    pub(super) fn index(self) -> usize {
        self as usize
    }
}

pub const REJECTION_REASONS: [RejectionReason; 5] = [
    RejectionReason::NoCapacity,
    RejectionReason::NotEligible,
    RejectionReason::OutOfArea,
    RejectionReason::MissingInformation,
    RejectionReason::Other,
];

pub fn rejection_index(r: RejectionReason) -> usize {
    REJECTION_REASONS
        .iter()
        .position(|x| *x == r)
        .expect("listed")
}
