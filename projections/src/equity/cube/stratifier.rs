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
    /// The order of an ordered stratifier's values, from rank 0 to rank 1 of the
    /// WHO HEAT ordered measures (SII, RII, ACI, RCI); `None` for an unordered
    /// one. This is the one place that says which stratifiers are ordered:
    ///
    /// * deprivation quintile: Q1 (most deprived, the most disadvantaged group at
    ///   rank 0) to Q5 (least deprived, rank 1) — HEAT's convention;
    /// * age band: youngest (0–17) to oldest (75+). Age has no "disadvantaged" end:
    ///   rank 1 is simply the oldest.
    ///
    /// A value outside the order (deprivation `unknown`) is left out of the
    /// ordered measures, and the table says so.
    pub const fn order(self) -> Option<&'static [&'static str]> {
        match self {
            Stratifier::AgeBand => Some(&AGE_BANDS),
            Stratifier::DeprivationQuintile => Some(&QUINTILES),
            _ => None,
        }
    }
    /// Its place in [`Stratifier::ALL`] (the declaration order).
    pub(super) fn index(self) -> usize {
        self as usize
    }
}

/// The age bands' labels, youngest first (the cube labels need cases with them).
pub const AGE_BANDS: [&str; 5] = ["0-17", "18-39", "40-64", "65-74", "75+"];

/// The deprivation quintiles' labels, Q1 (most deprived) first; a recipient
/// without a known decile is labelled `unknown`.
pub const QUINTILES: [&str; 5] = ["Q1", "Q2", "Q3", "Q4", "Q5"];

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
