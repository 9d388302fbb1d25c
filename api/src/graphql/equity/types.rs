//! The GraphQL types of equity-of-access tables, each mapping one type of the
//! application's (`careledger_app::equity`) one to one: inputs into requests,
//! released tables into answers. No rule is decided here.

use crate::graphql::support::scalars::NeedDomain;
use async_graphql::{Enum, InputObject, SimpleObject};
use careledger_app::equity as app;

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
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

impl From<Stratifier> for app::Stratifier {
    fn from(s: Stratifier) -> Self {
        use app::Stratifier as C;
        match s {
            Stratifier::AgeBand => C::AgeBand,
            Stratifier::Sex => C::Sex,
            Stratifier::Region => C::Region,
            Stratifier::Country => C::Country,
            Stratifier::Language => C::Language,
            Stratifier::PreferentialReimbursement => C::PreferentialReimbursement,
            Stratifier::DeprivationQuintile => C::DeprivationQuintile,
            Stratifier::RecipientKind => C::RecipientKind,
            Stratifier::Site => C::Site,
            Stratifier::CancerSiteGroup => C::CancerSiteGroup,
            Stratifier::Domain => C::Domain,
        }
    }
}

impl From<app::Stratifier> for Stratifier {
    fn from(s: app::Stratifier) -> Self {
        use app::Stratifier as C;
        match s {
            C::AgeBand => Stratifier::AgeBand,
            C::Sex => Stratifier::Sex,
            C::Region => Stratifier::Region,
            C::Country => Stratifier::Country,
            C::Language => Stratifier::Language,
            C::PreferentialReimbursement => Stratifier::PreferentialReimbursement,
            C::DeprivationQuintile => Stratifier::DeprivationQuintile,
            C::RecipientKind => Stratifier::RecipientKind,
            C::Site => Stratifier::Site,
            C::CancerSiteGroup => Stratifier::CancerSiteGroup,
            C::Domain => Stratifier::Domain,
        }
    }
}

/// The outcome measured (DESIGN §4).
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum EquityOutcome {
    /// Referred / identified.
    ReferralRate,
    /// Completed with the need met or partly met / referred.
    CompletionRate,
    /// Closed for want of a service, or completed with the need not met / identified.
    UnmetNeedRate,
    /// Referrals rejected / referrals requested.
    RejectionRate,
    /// Days from identification to the first referral (Kaplan–Meier; cases still
    /// waiting are censored at the period's end, closed ones at closure).
    TimeToReferral,
    /// Days from identification to completion with the need met or partly met.
    TimeToCompletion,
}

impl From<EquityOutcome> for app::Outcome {
    fn from(o: EquityOutcome) -> Self {
        match o {
            EquityOutcome::ReferralRate => app::Outcome::ReferralRate,
            EquityOutcome::CompletionRate => app::Outcome::CompletionRate,
            EquityOutcome::UnmetNeedRate => app::Outcome::UnmetNeedRate,
            EquityOutcome::RejectionRate => app::Outcome::RejectionRate,
            EquityOutcome::TimeToReferral => app::Outcome::TimeToReferral,
            EquityOutcome::TimeToCompletion => app::Outcome::TimeToCompletion,
        }
    }
}

impl From<app::Outcome> for EquityOutcome {
    fn from(o: app::Outcome) -> Self {
        match o {
            app::Outcome::ReferralRate => EquityOutcome::ReferralRate,
            app::Outcome::CompletionRate => EquityOutcome::CompletionRate,
            app::Outcome::UnmetNeedRate => EquityOutcome::UnmetNeedRate,
            app::Outcome::RejectionRate => EquityOutcome::RejectionRate,
            app::Outcome::TimeToReferral => EquityOutcome::TimeToReferral,
            app::Outcome::TimeToCompletion => EquityOutcome::TimeToCompletion,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum ReferenceKind {
    /// The group with the largest denominator.
    Largest,
    /// The group with the best rate (WHO HEAT's choice).
    MostFavourable,
    /// The group named in `referenceGroup`.
    Named,
}

impl From<ReferenceKind> for app::ReferenceKind {
    fn from(r: ReferenceKind) -> Self {
        match r {
            ReferenceKind::Largest => app::ReferenceKind::Largest,
            ReferenceKind::MostFavourable => app::ReferenceKind::MostFavourable,
            ReferenceKind::Named => app::ReferenceKind::Named,
        }
    }
}

/// Which need cases count: identified in a period (months, inclusive), at sites,
/// in domains, for needs.
#[derive(InputObject, Default)]
pub struct EquityFilterInput {
    /// First month, `YYYY-MM`.
    pub from: Option<String>,
    /// Last month, `YYYY-MM`.
    pub to: Option<String>,
    pub sites: Option<Vec<String>>,
    pub domains: Option<Vec<NeedDomain>>,
    pub needs: Option<Vec<String>>,
}

impl EquityFilterInput {
    /// The filter of a request (none: every need case the caller may count).
    pub fn into_filter(f: Option<Self>) -> app::Filter {
        let f = f.unwrap_or_default();
        app::Filter {
            from: f.from,
            to: f.to,
            sites: f.sites,
            domains: f.domains.map(|d| d.into_iter().map(Into::into).collect()),
            needs: f.needs,
        }
    }
}

#[derive(SimpleObject, Default)]
pub struct EquityGroup {
    pub group: String,
    /// Withheld by small-cell suppression: every figure below is null.
    pub suppressed: bool,
    pub is_reference: bool,
    /// The denominator.
    pub n: Option<u64>,
    pub numerator: Option<u64>,
    pub rate: Option<f64>,
    /// Wilson 95% interval.
    pub rate_low: Option<f64>,
    pub rate_high: Option<f64>,
    /// Against the reference group: difference with Newcombe's 95% interval.
    pub difference: Option<f64>,
    pub difference_low: Option<f64>,
    pub difference_high: Option<f64>,
    /// Ratio with a log-scale (Katz) 95% interval.
    pub ratio: Option<f64>,
    pub ratio_low: Option<f64>,
    pub ratio_high: Option<f64>,
    /// Two-sided; Fisher's exact test when an expected cell is below 5, else the z-test.
    pub p_value: Option<f64>,
    pub test: Option<String>,
    /// Ratio within 0.8–1.25.
    pub parity: Option<bool>,
    /// Time outcomes: how many had the event (n is the cases observed).
    pub events: Option<u64>,
    /// Time outcomes: Kaplan–Meier median in days, with its 95% interval (null: not reached).
    pub median: Option<f64>,
    pub median_low: Option<f64>,
    pub median_high: Option<f64>,
    /// Time outcomes: first and third quartiles in days.
    pub q1: Option<f64>,
    pub q3: Option<f64>,
}

impl From<app::Group> for EquityGroup {
    fn from(g: app::Group) -> Self {
        EquityGroup {
            group: g.group,
            suppressed: g.suppressed,
            is_reference: g.is_reference,
            n: g.n,
            numerator: g.numerator,
            rate: g.rate,
            rate_low: g.rate_low,
            rate_high: g.rate_high,
            difference: g.difference,
            difference_low: g.difference_low,
            difference_high: g.difference_high,
            ratio: g.ratio,
            ratio_low: g.ratio_low,
            ratio_high: g.ratio_high,
            p_value: g.p_value,
            test: g.test.map(|t| t.name().to_string()),
            parity: g.parity,
            events: g.events,
            median: g.median,
            median_low: g.median_low,
            median_high: g.median_high,
            q1: g.q1,
            q3: g.q3,
        }
    }
}

/// The summary of a rate table across its released groups, with the WHO Health
/// Equity Assessment Toolkit's summary measures of inequality. Every measure is
/// computed from the released figures (perturbed counts when the table's are);
/// groups withheld by suppression are left out, and `measuresNote` says so. A
/// measure is null where it does not apply: SII, RII, ACI and RCI for ordered
/// stratifiers only (`ordered`), BGV, MDB, MDM, Theil and MLD for unordered ones
/// only; all of them with fewer than three groups. See `definitions`.
#[derive(SimpleObject)]
pub struct EquitySummary {
    pub n: u64,
    pub numerator: u64,
    pub overall_rate: f64,
    /// R (WHO HEAT): highest over lowest released group rate.
    pub max_min_ratio: Option<f64>,
    /// D (WHO HEAT): highest minus lowest released group rate.
    pub max_difference: Option<f64>,
    /// Population attributable risk (WHO HEAT): most favourable group minus overall.
    pub par: Option<f64>,
    /// Population attributable fraction: PAR over the overall rate.
    pub paf: Option<f64>,
    /// Whether the stratifier is ordered (age band youngest to oldest;
    /// deprivation quintile Q1, most deprived, to Q5), so that SII, RII, ACI and
    /// RCI apply, rather than BGV, MDB, MDM, Theil and MLD.
    pub ordered: bool,
    /// Whether a higher rate is better (referral, completion), which says how to
    /// read the sign of SII and ACI.
    pub favourable: bool,
    /// Slope index of inequality: fitted rate at rank 1 minus at rank 0 of the
    /// population-weighted regression of group rates on ridit scores. Positive:
    /// higher towards Q5 (least deprived) or the oldest.
    pub sii: Option<f64>,
    /// Relative index of inequality: fitted rate at rank 1 over at rank 0.
    pub rii: Option<f64>,
    /// Absolute concentration index: Σ share × (2 ridit − 1) × rate.
    pub aci: Option<f64>,
    /// Relative concentration index: ACI over the mean rate (−1 to 1).
    pub rci: Option<f64>,
    /// Between-group variance: Σ share × (rate − mean)².
    pub bgv: Option<f64>,
    /// Mean difference from the best-performing group, weighted by population share.
    pub mdb_weighted: Option<f64>,
    /// Mean difference from the best-performing group, every group counting the same.
    pub mdb_unweighted: Option<f64>,
    /// Mean difference from the mean, weighted by population share.
    pub mdm_weighted: Option<f64>,
    /// Mean difference from the mean, every group counting the same.
    pub mdm_unweighted: Option<f64>,
    /// Theil index (not × 1000).
    pub theil: Option<f64>,
    /// Mean log deviation (not × 1000).
    pub mld: Option<f64>,
    /// The groups the measures were computed over (in rank order when ordered).
    pub measured_groups: Vec<String>,
    /// How many groups were withheld by suppression and so left out of the measures.
    pub withheld_left_out: u64,
    /// Released groups left out of the ordered measures for being outside the
    /// order (deprivation `unknown`).
    pub outside_order_left_out: Vec<String>,
    /// What the measures were computed over, in a sentence.
    pub measures_note: String,
    /// The definition of each summary measure this table reports, with a link.
    pub definitions: Vec<InequalityDefinition>,
}

/// What a summary measure of inequality is, with a link to its WHO definition.
#[derive(SimpleObject)]
pub struct InequalityDefinition {
    /// D, R, PAR, PAF, SII, RII, ACI, RCI, BGV, MDBW, MDBU, MDMW, MDMU, TI or MLD.
    pub code: String,
    pub name: String,
    /// How it is computed here and how to read it.
    pub definition: String,
    /// The WHO `healthequal` reference page of the measure.
    pub url: String,
}

impl From<&app::Definition> for InequalityDefinition {
    fn from(d: &app::Definition) -> Self {
        InequalityDefinition {
            code: d.code.to_string(),
            name: d.name.to_string(),
            definition: d.text.to_string(),
            url: d.url.to_string(),
        }
    }
}

impl EquitySummary {
    fn new(s: app::Summary, m: app::Inequality) -> Self {
        EquitySummary {
            n: s.n,
            numerator: s.numerator,
            overall_rate: s.overall_rate,
            max_min_ratio: s.max_min_ratio,
            max_difference: s.max_difference,
            par: s.par,
            paf: s.paf,
            measures_note: m.note(),
            definitions: app::Definition::for_table(m.ordered)
                .map(Into::into)
                .collect(),
            ordered: m.ordered,
            favourable: m.favourable,
            sii: m.sii,
            rii: m.rii,
            aci: m.aci,
            rci: m.rci,
            bgv: m.bgv,
            mdb_weighted: m.mdb_weighted,
            mdb_unweighted: m.mdb_unweighted,
            mdm_weighted: m.mdm_weighted,
            mdm_unweighted: m.mdm_unweighted,
            theil: m.theil,
            mld: m.mld,
            measured_groups: m.groups,
            withheld_left_out: m.withheld as u64,
            outside_order_left_out: m.outside_order,
        }
    }
}

#[derive(SimpleObject)]
pub struct SuppressedCell {
    pub group: String,
    /// DENOMINATOR_BELOW_K, NUMERATOR_BELOW_K, COMPLEMENT_BELOW_K, COMPLEMENTARY or TOTAL_BELOW_K.
    pub rule: String,
}

impl From<app::Withheld> for SuppressedCell {
    fn from(w: app::Withheld) -> Self {
        SuppressedCell {
            group: w.group,
            rule: w.rule.code().to_string(),
        }
    }
}

/// How a table's counts were protected before release (DESIGN §4).
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum DisclosureMethod {
    /// Exact counts: the caller may read the records themselves (a coordinator,
    /// whose tables cover their own sites only).
    Exact,
    /// Every count perturbed by the cell-key method: zero-mean noise of at most
    /// `maxDeviation`, the same for the same records whatever the query, so
    /// overlapping tables cannot be subtracted to a hidden cell.
    CellKeyPerturbation,
}

/// The disclosure control applied to a table: perturbation (or none), then
/// small-cell suppression at `k`.
#[derive(SimpleObject, Clone, Copy, Debug, PartialEq, Eq)]
pub struct DisclosureControl {
    pub method: DisclosureMethod,
    /// The largest change perturbation makes to a count (0: exact).
    pub max_deviation: u64,
    /// Counts from 1 to k − 1 are withheld.
    pub k: u64,
}

impl From<app::DisclosureControl> for DisclosureControl {
    fn from(c: app::DisclosureControl) -> Self {
        DisclosureControl {
            method: match c.method {
                app::DisclosureMethod::Exact => DisclosureMethod::Exact,
                app::DisclosureMethod::CellKeyPerturbation => DisclosureMethod::CellKeyPerturbation,
            },
            max_deviation: c.max_deviation,
            k: c.k,
        }
    }
}

#[derive(SimpleObject)]
pub struct EquityTable {
    pub by: Stratifier,
    pub outcome: EquityOutcome,
    /// The suppression threshold used.
    pub k: u64,
    pub reference: Option<String>,
    pub groups: Vec<EquityGroup>,
    /// Null when the totals themselves are below k.
    pub summary: Option<EquitySummary>,
    pub suppressed: Vec<SuppressedCell>,
    /// The table as CSV, disclosure control applied (its last column names it).
    pub csv: String,
    pub disclosure_control: DisclosureControl,
}

impl From<app::ReleasedTable> for EquityTable {
    fn from(t: app::ReleasedTable) -> Self {
        EquityTable {
            by: t.by.into(),
            outcome: t.outcome.into(),
            k: t.k,
            reference: t.reference,
            groups: t.groups.into_iter().map(Into::into).collect(),
            summary: t
                .summary
                .zip(t.inequality)
                .map(|(s, m)| EquitySummary::new(s, m)),
            suppressed: t.suppressed.into_iter().map(Into::into).collect(),
            csv: t.csv,
            disclosure_control: t.control.into(),
        }
    }
}

/// One month of a trend, for one group.
#[derive(SimpleObject)]
pub struct EquityTrendPoint {
    /// `YYYY-MM`.
    pub month: String,
    pub group: String,
    pub suppressed: bool,
    pub n: Option<u64>,
    pub numerator: Option<u64>,
    pub rate: Option<f64>,
    pub rate_low: Option<f64>,
    pub rate_high: Option<f64>,
    pub disclosure_control: DisclosureControl,
}

impl From<app::TrendPoint> for EquityTrendPoint {
    fn from(p: app::TrendPoint) -> Self {
        EquityTrendPoint {
            month: p.month,
            group: p.group,
            suppressed: p.suppressed,
            n: p.n,
            numerator: p.numerator,
            rate: p.rate,
            rate_low: p.rate_low,
            rate_high: p.rate_high,
            disclosure_control: p.control.into(),
        }
    }
}

/// One cell of a two-way table.
#[derive(SimpleObject)]
pub struct EquityCell {
    pub row: String,
    pub column: String,
    pub suppressed: bool,
    pub n: Option<u64>,
    pub numerator: Option<u64>,
    pub rate: Option<f64>,
    pub rate_low: Option<f64>,
    pub rate_high: Option<f64>,
}

impl From<app::Cell> for EquityCell {
    fn from(c: app::Cell) -> Self {
        EquityCell {
            row: c.row,
            column: c.column,
            suppressed: c.suppressed,
            n: c.n,
            numerator: c.numerator,
            rate: c.rate,
            rate_low: c.rate_low,
            rate_high: c.rate_high,
        }
    }
}

#[derive(SimpleObject)]
pub struct EquityTwoWay {
    pub rows: Stratifier,
    pub columns: Stratifier,
    pub outcome: EquityOutcome,
    pub k: u64,
    pub cells: Vec<EquityCell>,
    /// Each withheld cell as `row × column` and the rule.
    pub suppressed: Vec<SuppressedCell>,
    /// The table as CSV, disclosure control applied (its last column names it).
    pub csv: String,
    pub disclosure_control: DisclosureControl,
}

impl From<app::ReleasedTwoWay> for EquityTwoWay {
    fn from(t: app::ReleasedTwoWay) -> Self {
        EquityTwoWay {
            rows: t.rows.into(),
            columns: t.columns.into(),
            outcome: t.outcome.into(),
            k: t.k,
            cells: t.cells.into_iter().map(Into::into).collect(),
            suppressed: t.suppressed.into_iter().map(Into::into).collect(),
            csv: t.csv,
            disclosure_control: t.control.into(),
        }
    }
}
