//! What a caller asks of the equity use cases ([`TableRequest`], [`TwoWayRequest`],
//! [`TrendRequest`]) and what a request becomes once checked ([`Checked`]): the
//! policy applied, the filter bounded to the caller's sites, the threshold and the
//! release method fixed.

use careledger_domain::values::NeedDomain;
use careledger_projections::equity::cube::{CubeFilter, Stratifier};
use careledger_projections::equity::disclosure::CellKeyMethod;
use careledger_projections::equity::report::{OutcomeKind, Reference};

/// The outcome measured (DESIGN §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Referred / identified.
    ReferralRate,
    /// Completed with the need met or partly met / referred.
    CompletionRate,
    /// Closed for want of a service, or completed with the need not met / identified.
    UnmetNeedRate,
    /// Referrals rejected / referrals requested.
    RejectionRate,
    /// Days from identification to the first referral (Kaplan–Meier).
    TimeToReferral,
    /// Days from identification to completion with the need met or partly met.
    TimeToCompletion,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Outcome::ReferralRate,
        Outcome::CompletionRate,
        Outcome::UnmetNeedRate,
        Outcome::RejectionRate,
        Outcome::TimeToReferral,
        Outcome::TimeToCompletion,
    ];

    /// Its name on the command line (`referral_rate`, …, `time_to_completion`).
    pub const fn name(self) -> &'static str {
        match self {
            Outcome::ReferralRate => "referral_rate",
            Outcome::CompletionRate => "completion_rate",
            Outcome::UnmetNeedRate => "unmet_need_rate",
            Outcome::RejectionRate => "rejection_rate",
            Outcome::TimeToReferral => "time_to_referral",
            Outcome::TimeToCompletion => "time_to_completion",
        }
    }

    /// The rate it is, or `None` for a time outcome.
    pub fn rate(self) -> Option<OutcomeKind> {
        match self {
            Outcome::ReferralRate => Some(OutcomeKind::ReferralRate),
            Outcome::CompletionRate => Some(OutcomeKind::CompletionRate),
            Outcome::UnmetNeedRate => Some(OutcomeKind::UnmetNeedRate),
            Outcome::RejectionRate => Some(OutcomeKind::RejectionRate),
            Outcome::TimeToReferral | Outcome::TimeToCompletion => None,
        }
    }
}

/// Which need cases count: identified in a period (months `YYYY-MM`, inclusive),
/// at sites, in domains, for needs. `None` is no bound.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub from: Option<String>,
    pub to: Option<String>,
    pub sites: Option<Vec<String>>,
    pub domains: Option<Vec<NeedDomain>>,
    pub needs: Option<Vec<String>>,
}

/// Which group the others are compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferenceKind {
    /// The group with the largest denominator.
    Largest,
    /// The group with the best rate (WHO HEAT's choice).
    MostFavourable,
    /// The group the request names.
    Named,
}

/// A one-way table: `outcome` by `by`.
#[derive(Debug, Clone)]
pub struct TableRequest {
    pub filter: Filter,
    pub by: Stratifier,
    pub outcome: Outcome,
    pub reference: ReferenceKind,
    /// The group a [`ReferenceKind::Named`] reference names.
    pub reference_group: Option<String>,
    /// A stricter threshold than the server's minimum cell size.
    pub k: Option<i32>,
}

/// A two-way table (`rows` × `columns`) of a rate outcome.
#[derive(Debug, Clone)]
pub struct TwoWayRequest {
    pub filter: Filter,
    pub rows: Stratifier,
    pub columns: Stratifier,
    pub outcome: Outcome,
    pub k: Option<i32>,
}

/// A rate outcome month by month for each group of `by`.
#[derive(Debug, Clone)]
pub struct TrendRequest {
    pub filter: Filter,
    pub by: Stratifier,
    pub outcome: Outcome,
    pub k: Option<i32>,
}

/// A request that passed the policy and the rules, ready to compute: its query,
/// the filter bounded to the caller's sites, the threshold, the release method.
pub struct Checked<Q> {
    pub(super) query: Q,
    pub(super) filter: CubeFilter,
    pub(super) k: u64,
    pub(super) method: Option<CellKeyMethod>,
    /// Whose work it is, for the pool's one-table-at-a-time-per-credential rule.
    pub(super) credential: String,
}

/// A checked one-way table.
pub struct TableQuery {
    pub(super) by: Stratifier,
    pub(super) outcome: Outcome,
    pub(super) reference: Reference,
}

/// A checked two-way table.
pub struct TwoWayQuery {
    pub(super) rows: Stratifier,
    pub(super) columns: Stratifier,
    pub(super) outcome: Outcome,
    pub(super) kind: OutcomeKind,
}

/// A checked trend.
pub struct TrendQuery {
    pub(super) by: Stratifier,
    pub(super) kind: OutcomeKind,
}
