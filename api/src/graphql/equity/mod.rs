//! Equity-of-access tables over GraphQL (DESIGN §4), answered from the equity
//! cube. Only aggregates leave, with small-cell suppression applied for every role.

use crate::graphql::support::scalars::{NeedDomain, Position};
use crate::graphql::support::{allow, app, error};
use async_graphql::{Context, Enum, InputObject, Object, Result, SimpleObject};
use careledger_app::App;
use careledger_app::policy::Action;
use careledger_projections::equity::cube::{self, CubeFilter, Month};
use careledger_projections::equity::disclosure::{self, CellKeyMethod};
use careledger_projections::equity::report::{self, OutcomeKind, Reference};

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

impl From<Stratifier> for cube::Stratifier {
    fn from(s: Stratifier) -> Self {
        use cube::Stratifier as C;
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

impl From<EquityOutcome> for OutcomeKind {
    fn from(o: EquityOutcome) -> Self {
        match o {
            EquityOutcome::TimeToReferral | EquityOutcome::TimeToCompletion => {
                unreachable!("time outcomes have their own table")
            }
            EquityOutcome::ReferralRate => OutcomeKind::ReferralRate,
            EquityOutcome::CompletionRate => OutcomeKind::CompletionRate,
            EquityOutcome::UnmetNeedRate => OutcomeKind::UnmetNeedRate,
            EquityOutcome::RejectionRate => OutcomeKind::RejectionRate,
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

fn month(s: &str, field: &str) -> Result<Month> {
    let bad = || {
        error(
            "BAD_USER_INPUT",
            format!(
                "{field} must be a month as YYYY-MM, got '{}'",
                crate::graphql::support::ids::clip(s)
            ),
        )
    };
    let (y, m) = s.split_once('-').ok_or_else(bad)?;
    let (y, m): (i32, u32) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if !(2000..=2100).contains(&y) || !(1..=12).contains(&m) {
        return Err(bad());
    }
    Ok(cube::month_of(y, m))
}

/// The cube filter of a request, bounded to the sites the caller reads aggregates
/// of: a quality manager (or coordinator) of some sites sees those sites' figures
/// only, and naming another site is refused.
fn cube_filter(ctx: &Context<'_>, f: Option<EquityFilterInput>) -> Result<CubeFilter> {
    let access = allow(ctx, Action::ReadAggregates)?;
    let f = f.unwrap_or_default();
    let sites = match (f.sites, access.sites_for(Action::ReadAggregates)) {
        (asked, None) => asked,
        (None, Some(theirs)) => Some(theirs.iter().map(|s| s.as_str().to_string()).collect()),
        (Some(asked), Some(theirs)) => {
            if let Some(other) = asked
                .iter()
                .find(|a| !theirs.iter().any(|t| t.as_str() == a.as_str()))
            {
                return Err(error(
                    "FORBIDDEN",
                    format!(
                        "your credentials do not cover site '{}'",
                        crate::graphql::support::ids::clip(other)
                    ),
                ));
            }
            Some(asked)
        }
    };
    Ok(CubeFilter {
        from: f.from.as_deref().map(|m| month(m, "from")).transpose()?,
        to: f.to.as_deref().map(|m| month(m, "to")).transpose()?,
        sites,
        domains: f.domains.map(|d| {
            d.into_iter()
                .map(|d| {
                    careledger_domain::values::NeedDomain::from(d)
                        .name()
                        .to_string()
                })
                .collect()
        }),
        needs: f.needs,
    })
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

#[derive(SimpleObject)]
pub struct EquitySummary {
    pub n: u64,
    pub numerator: u64,
    pub overall_rate: f64,
    pub max_min_ratio: Option<f64>,
    pub max_difference: Option<f64>,
    /// Population attributable risk (WHO HEAT): most favourable group minus overall.
    pub par: Option<f64>,
    /// Population attributable fraction: PAR over the overall rate.
    pub paf: Option<f64>,
}

#[derive(SimpleObject)]
pub struct SuppressedCell {
    pub group: String,
    /// DENOMINATOR_BELOW_K, NUMERATOR_BELOW_K, COMPLEMENT_BELOW_K, COMPLEMENTARY or TOTAL_BELOW_K.
    pub rule: String,
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

impl DisclosureControl {
    fn new(method: Option<&CellKeyMethod>, k: u64) -> Self {
        match method {
            None => Self {
                method: DisclosureMethod::Exact,
                max_deviation: 0,
                k,
            },
            Some(_) => Self {
                method: DisclosureMethod::CellKeyPerturbation,
                max_deviation: disclosure::MAX_DEVIATION,
                k,
            },
        }
    }

    /// The CSV with a last column naming the method on every row.
    fn tag_csv(&self, csv: &str) -> String {
        let tag = match self.method {
            DisclosureMethod::Exact => "exact",
            DisclosureMethod::CellKeyPerturbation => "cell_key_perturbation",
        };
        let mut out = String::with_capacity(csv.len() + 32 * csv.lines().count());
        for (i, line) in csv.lines().enumerate() {
            out.push_str(line);
            out.push(',');
            out.push_str(if i == 0 { "disclosure_control" } else { tag });
            out.push('\n');
        }
        out
    }
}

/// The perturbation a caller's tables get: none for a coordinator (their tables
/// are bounded to their own sites, whose records they may read), the cell-key
/// method for everyone else (quality managers, external applications,
/// administrators, exports).
fn release_method(ctx: &Context<'_>) -> Result<Option<CellKeyMethod>> {
    let a = crate::graphql::support::access(ctx)?;
    Ok(match a.actor.role {
        careledger_domain::store::Role::Coordinator => None,
        _ => Some(app(ctx).settings.disclosure.clone()),
    })
}

/// The groups' counts as released to a caller.
fn released(
    groups: Vec<(String, cube::Counts)>,
    method: Option<&CellKeyMethod>,
) -> Vec<(String, cube::Counts)> {
    match method {
        None => groups,
        Some(m) => groups
            .into_iter()
            .map(|(g, c)| (g, m.perturb(&c)))
            .collect(),
    }
}

/// Whether a withheld group is too small to be named: a perturbed count is never
/// 0 for 0 records, so naming a group withheld for its size (or a table withheld
/// whole) would prove that someone in the filter has that characteristic — with
/// the audit trail's site, need and month, one person's profile, stratifier by
/// stratifier. Perturbed tables leave such groups out and say how many.
fn too_small_to_name(rule: report::SuppressionRule) -> bool {
    matches!(
        rule,
        report::SuppressionRule::DenominatorBelowK | report::SuppressionRule::TotalBelowK
    )
}

/// Leaves the groups too small to name out of a perturbed table; returns how many.
fn unname_small_groups(t: &mut report::EquityTable) -> usize {
    let hidden: Vec<String> = t
        .suppressed
        .iter()
        .filter(|(_, r)| too_small_to_name(*r))
        .map(|(g, _)| g.clone())
        .collect();
    t.rows.retain(|r| !hidden.contains(&r.group));
    t.suppressed.retain(|(g, _)| !hidden.contains(g));
    hidden.len()
}

/// The entry that stands for `n` groups left out unnamed.
fn unnamed(n: usize) -> SuppressedCell {
    SuppressedCell {
        group: format!("({n} small group(s), not named)"),
        rule: rule_name(report::SuppressionRule::DenominatorBelowK).to_string(),
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

fn rule_name(r: report::SuppressionRule) -> &'static str {
    use report::SuppressionRule as R;
    match r {
        R::DenominatorBelowK => "DENOMINATOR_BELOW_K",
        R::NumeratorBelowK => "NUMERATOR_BELOW_K",
        R::ComplementBelowK => "COMPLEMENT_BELOW_K",
        R::Complementary => "COMPLEMENTARY",
        R::TotalBelowK => "TOTAL_BELOW_K",
    }
}

/// Builds the GraphQL table from a report table.
pub fn to_graphql(
    by: Stratifier,
    outcome: EquityOutcome,
    t: &report::EquityTable,
    by_name: &str,
) -> EquityTable {
    EquityTable {
        by,
        outcome,
        k: t.k,
        reference: t.reference.clone(),
        groups: t
            .rows
            .iter()
            .map(|r| {
                let x = r.released.as_ref();
                let c = x.and_then(|x| x.comparison.as_ref());
                EquityGroup {
                    group: r.group.clone(),
                    suppressed: x.is_none(),
                    is_reference: r.is_reference,
                    n: x.map(|x| x.n),
                    numerator: x.map(|x| x.numerator),
                    rate: x.map(|x| x.rate),
                    rate_low: x.map(|x| x.ci.low),
                    rate_high: x.map(|x| x.ci.high),
                    difference: c.map(|c| c.difference),
                    difference_low: c.map(|c| c.difference_ci.low),
                    difference_high: c.map(|c| c.difference_ci.high),
                    ratio: c.and_then(|c| c.ratio.map(|r| r.0)),
                    ratio_low: c.and_then(|c| c.ratio.map(|r| r.1.low)),
                    ratio_high: c.and_then(|c| c.ratio.map(|r| r.1.high)),
                    p_value: c.map(|c| c.p_value),
                    test: c.map(|c| format!("{:?}", c.test)),
                    parity: c.and_then(|c| c.parity),
                    ..EquityGroup::default()
                }
            })
            .collect(),
        summary: t.summary.as_ref().map(|s| EquitySummary {
            n: s.n,
            numerator: s.numerator,
            overall_rate: s.overall_rate,
            max_min_ratio: s.max_min_ratio,
            max_difference: s.max_difference,
            par: s.par,
            paf: s.paf,
        }),
        suppressed: t
            .suppressed
            .iter()
            .map(|(g, r)| SuppressedCell {
                group: g.clone(),
                rule: rule_name(*r).to_string(),
            })
            .collect(),
        csv: t.to_csv(by_name),
        disclosure_control: DisclosureControl::new(None, t.k),
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

/// The last day a time query observes: the end of its last month, or today.
fn end_day(app: &App, f: &CubeFilter) -> i32 {
    let today = (app.clock.now().timestamp().div_euclid(86_400)) as i32;
    match f.to {
        None => today,
        Some(m) => {
            let (y, mo) = ((m / 12) as i32, m % 12 + 1);
            let next = if mo == 12 { (y + 1, 1) } else { (y, mo + 1) };
            let first_of_next = chrono::NaiveDate::from_ymd_opt(next.0, next.1, 1)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc().timestamp().div_euclid(86_400) as i32)
                .unwrap_or(today + 1);
            (first_of_next - 1).min(today)
        }
    }
}

/// Kaplan–Meier medians and quartiles by group; a group is withheld when its
/// cases, its events or the rest are 1 to k − 1 (with complementary suppression).
fn time_table(
    app: &App,
    by: Stratifier,
    outcome: EquityOutcome,
    f: &CubeFilter,
    k: u64,
    method: Option<&CellKeyMethod>,
) -> EquityTable {
    let (times, counts) = {
        let model = app.projector.read();
        let cube = model.equity();
        (cube.times(by.into(), f), cube.groups(by.into(), f))
    };
    // Perturbed, each group's curve is fitted to its perturbed day counts (events,
    // censorings, open cases by day), each keyed by the group's records and the
    // day, so its medians and quartiles come from perturbed counts.
    let group_keys: std::collections::HashMap<String, u32> =
        counts.iter().map(|(g, c)| (g.clone(), c.keys[0])).collect();
    let end = end_day(app, f);
    let fits: Vec<(String, careledger_projections::equity::stats::KaplanMeier)> = times
        .iter()
        .map(|(g, t)| {
            let h = if outcome == EquityOutcome::TimeToReferral {
                &t.referral
            } else {
                &t.completion
            };
            let km = match method {
                Some(m) => {
                    let key = group_keys.get(g).copied().unwrap_or_default();
                    h.map_counts(|kind, day, n| m.day_count(key, kind, day, n))
                        .fit(end)
                }
                None => h.fit(end),
            };
            (g.clone(), km)
        })
        .filter(|(_, km)| km.n > 0)
        .collect();
    // The cases and events a group releases are its perturbed counts, as in the
    // rate tables (each within the table's maximum deviation; the curve's own
    // totals, sums of perturbed days, are not released).
    let released: std::collections::HashMap<&str, cube::Counts> = match method {
        Some(m) => counts
            .iter()
            .map(|(g, c)| (g.as_str(), m.perturb(c)))
            .collect(),
        None => Default::default(),
    };
    let cells: Vec<(String, u64, u64)> = fits
        .iter()
        .map(|(g, km)| match released.get(g.as_str()) {
            Some(c) => {
                let events = if outcome == EquityOutcome::TimeToReferral {
                    c.referred
                } else {
                    c.completed
                };
                (g.clone(), events, c.identified)
            }
            None => (g.clone(), km.events, km.n),
        })
        .collect();
    let (total_n, total_e) = cells.iter().fold((0, 0), |(n, e), c| (n + c.2, e + c.1));
    let rules = if report::primary(total_e, total_n, k).is_some() {
        vec![Some(report::SuppressionRule::TotalBelowK); cells.len()]
    } else {
        report::suppress(&cells, k)
    };
    let groups = fits
        .iter()
        .zip(&cells)
        .zip(&rules)
        .map(|(((g, km), (_, events, n)), rule)| {
            let released = rule.is_none();
            let (m, q1, q3) = (km.quantile(0.5), km.quantile(0.25), km.quantile(0.75));
            let keep = |x: Option<f64>| if released { x } else { None };
            EquityGroup {
                group: g.clone(),
                suppressed: !released,
                n: released.then_some(*n),
                events: released.then_some(*events),
                median: keep(m.estimate),
                median_low: keep(m.low),
                median_high: keep(m.high),
                q1: keep(q1.estimate),
                q3: keep(q3.estimate),
                ..EquityGroup::default()
            }
        })
        .collect::<Vec<_>>();
    // Perturbed, groups too small to name are left out (and counted).
    let named =
        |r: &Option<report::SuppressionRule>| method.is_none() || !r.is_some_and(too_small_to_name);
    let hidden = rules.iter().filter(|r| !named(r)).count();
    let (groups, kept): (Vec<EquityGroup>, Vec<Option<report::SuppressionRule>>) = groups
        .into_iter()
        .zip(rules.iter().copied())
        .filter(|(_, r)| named(r))
        .unzip();
    let control = DisclosureControl::new(method, k);
    let mut csv = format!(
        "{},n,events,median,median_low,median_high,q1,q3,suppressed\n",
        stratifier_name(by)
    );
    let opt = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
    for (g, r) in groups.iter().zip(&kept) {
        csv.push_str(&format!(
            "{},{},{},{},{},{},{},{},{}\n",
            g.group,
            g.n.map(|v| v.to_string()).unwrap_or_default(),
            g.events.map(|v| v.to_string()).unwrap_or_default(),
            opt(g.median),
            opt(g.median_low),
            opt(g.median_high),
            opt(g.q1),
            opt(g.q3),
            r.map(rule_name).unwrap_or_default()
        ));
    }
    EquityTable {
        by,
        outcome,
        k,
        reference: None,
        suppressed: cells
            .iter()
            .zip(&rules)
            .filter(|(_, r)| named(r))
            .filter_map(|((g, _, _), r)| {
                r.map(|r| SuppressedCell {
                    group: g.clone(),
                    rule: rule_name(r).to_string(),
                })
            })
            .chain((hidden > 0).then(|| unnamed(hidden)))
            .collect(),
        groups,
        summary: None,
        csv: control.tag_csv(&csv),
        disclosure_control: control,
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

#[derive(Default)]
pub struct EquityQuery;

/// What an equity table weighs in a document's complexity (DESIGN §6: no request
/// may out-rank the server). Each is tens of milliseconds of CPU over a large cube;
/// with [`crate::graphql::MAX_COMPLEXITY`] at 2,000 a document holds at most 19 one-way
/// tables, or 9 two-way tables or trends — a second or so of work, not minutes.
pub const TABLE_COST: usize = 100;
pub const TWO_WAY_COST: usize = 200;
pub const TREND_COST: usize = 200;

/// Bounds the CPU-bound aggregate work of all requests together: at most
/// `permits` tables are computed at once, each on tokio's blocking pool, so the
/// async workers stay free for other clients' requests. A request waits for a
/// permit only until its deadline ([`crate::graphql::support::Deadline`]); work that has not
/// started by then never starts.
pub struct AggregatePool {
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    /// One table at a time per credential, so that one caller's many tables queue
    /// behind each other rather than in front of everyone else's (the global
    /// semaphore is first come, first served). Held until the table is done, even
    /// when its request has timed out.
    per_credential:
        std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<tokio::sync::Semaphore>>>,
}

impl AggregatePool {
    /// One permit per core but one (at least one): a core stays free for the rest.
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self::with_permits(cores.saturating_sub(1).max(1))
    }

    pub fn with_permits(n: usize) -> Self {
        Self {
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(n.max(1))),
            per_credential: Default::default(),
        }
    }
}

impl Default for AggregatePool {
    fn default() -> Self {
        Self::new()
    }
}

fn too_late() -> async_graphql::Error {
    error(
        "REQUEST_TIMEOUT",
        "the request's time limit ran out before this table could be computed",
    )
}

/// A permit, if it comes before the deadline.
async fn until(
    deadline: Option<std::time::Instant>,
    acquire: impl std::future::Future<
        Output = std::result::Result<tokio::sync::OwnedSemaphorePermit, tokio::sync::AcquireError>,
    >,
) -> Result<tokio::sync::OwnedSemaphorePermit> {
    let permit = match deadline {
        Some(d) => tokio::time::timeout_at(d.into(), acquire)
            .await
            .map_err(|_| too_late())?,
        None => acquire.await,
    };
    permit.map_err(|_| error("UNAVAILABLE", "the server is stopping"))
}

/// Runs `work` (an equity computation) on the bounded aggregate pool, if the
/// request's deadline has not passed.
async fn aggregate<T: Send + 'static>(
    ctx: &Context<'_>,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    let deadline = ctx
        .data_opt::<crate::graphql::support::Deadline>()
        .map(|d| d.0);
    let expired = || deadline.is_some_and(|d| std::time::Instant::now() >= d);
    let pool = ctx.data_opt::<AggregatePool>();
    let permits = match pool {
        None => None,
        Some(pool) => {
            let credential = crate::graphql::support::access(ctx)
                .map(|a| format!("{}:{}", a.actor.role.name(), a.actor.subject))
                .unwrap_or_default();
            let own = {
                let mut map = pool
                    .per_credential
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                if map.len() > 10_000 {
                    map.retain(|_, s| std::sync::Arc::strong_count(s) > 1);
                }
                map.entry(credential)
                    .or_insert_with(|| std::sync::Arc::new(tokio::sync::Semaphore::new(1)))
                    .clone()
            };
            let own = until(deadline, own.acquire_owned()).await?;
            let global = until(deadline, pool.permits.clone().acquire_owned()).await?;
            Some((own, global))
        }
    };
    if expired() {
        return Err(too_late());
    }
    tokio::task::spawn_blocking(move || {
        let _permits = permits;
        work()
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "an equity computation failed");
        error("INTERNAL", "internal error")
    })
}

fn threshold(ctx: &Context<'_>, k: Option<i32>) -> Result<u64> {
    let floor = app(ctx).settings.min_cell;
    match k {
        None => Ok(floor),
        Some(k) if k >= 1 && k as u64 >= floor => Ok(k as u64),
        Some(k) => Err(error(
            "BAD_USER_INPUT",
            format!("k must be at least {floor} (the server's minimum cell size), got {k}"),
        )),
    }
}

fn stratifier_name(by: Stratifier) -> &'static str {
    cube::Stratifier::from(by).name()
}

#[Object]
impl EquityQuery {
    /// Equity of access by one stratifier: per group the rate with its interval,
    /// compared with a reference group; a summary; small cells suppressed.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "TABLE_COST + child_complexity")]
    async fn equity(
        &self,
        ctx: &Context<'_>,
        filter: Option<EquityFilterInput>,
        by: Stratifier,
        outcome: EquityOutcome,
        #[graphql(default_with = "ReferenceKind::Largest")] reference: ReferenceKind,
        reference_group: Option<String>,
        k: Option<i32>,
        min_position: Option<Position>,
    ) -> Result<EquityTable> {
        allow(ctx, Action::ReadAggregates)?;
        let k = threshold(ctx, k)?;
        let reference = match (reference, reference_group) {
            (ReferenceKind::Named, Some(g)) => Reference::Named(g),
            (ReferenceKind::Named, None) => {
                return Err(error(
                    "BAD_USER_INPUT",
                    "reference NAMED needs referenceGroup",
                ));
            }
            (ReferenceKind::Largest, _) => Reference::Largest,
            (ReferenceKind::MostFavourable, _) => Reference::MostFavourable,
        };
        let f = cube_filter(ctx, filter)?;
        crate::graphql::support::consistent(ctx, min_position).await?;
        let method = release_method(ctx)?;
        let app = app(ctx).clone();
        aggregate(ctx, move || {
            if matches!(
                outcome,
                EquityOutcome::TimeToReferral | EquityOutcome::TimeToCompletion
            ) {
                return time_table(&app, by, outcome, &f, k, method.as_ref());
            }
            let groups = app.projector.read().equity().groups(by.into(), &f);
            let groups = released(groups, method.as_ref());
            let mut t = report::table(&groups, outcome.into(), &reference, k);
            let hidden = if method.is_some() {
                unname_small_groups(&mut t)
            } else {
                0
            };
            let mut table = to_graphql(by, outcome, &t, stratifier_name(by));
            if hidden > 0 {
                table.suppressed.push(unnamed(hidden));
            }
            table.disclosure_control = DisclosureControl::new(method.as_ref(), k);
            table.csv = table.disclosure_control.tag_csv(&table.csv);
            table
        })
        .await
    }

    /// A two-way table (stratifier × stratifier) of a rate outcome, with small
    /// cells suppressed and complementary suppression along rows and columns.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "TWO_WAY_COST + child_complexity")]
    async fn equity_two_way(
        &self,
        ctx: &Context<'_>,
        filter: Option<EquityFilterInput>,
        rows: Stratifier,
        columns: Stratifier,
        outcome: EquityOutcome,
        k: Option<i32>,
        min_position: Option<Position>,
    ) -> Result<EquityTwoWay> {
        allow(ctx, Action::ReadAggregates)?;
        let k = threshold(ctx, k)?;
        if matches!(
            outcome,
            EquityOutcome::TimeToReferral | EquityOutcome::TimeToCompletion
        ) {
            return Err(error(
                "BAD_USER_INPUT",
                "a two-way table is of a rate outcome",
            ));
        }
        if rows == columns {
            return Err(error(
                "BAD_USER_INPUT",
                "rows and columns must be two different stratifiers",
            ));
        }
        let f = cube_filter(ctx, filter)?;
        crate::graphql::support::consistent(ctx, min_position).await?;
        let method = release_method(ctx)?;
        let app = app(ctx).clone();
        aggregate(ctx, move || {
            two_way(&app, rows, columns, outcome, &f, k, method.as_ref())
        })
        .await
    }

    /// An outcome month by month for each group, each month suppressed on its own.
    #[graphql(complexity = "TREND_COST + child_complexity")]
    async fn equity_trend(
        &self,
        ctx: &Context<'_>,
        filter: Option<EquityFilterInput>,
        by: Stratifier,
        outcome: EquityOutcome,
        k: Option<i32>,
        min_position: Option<Position>,
    ) -> Result<Vec<EquityTrendPoint>> {
        allow(ctx, Action::ReadAggregates)?;
        let k = threshold(ctx, k)?;
        if matches!(
            outcome,
            EquityOutcome::TimeToReferral | EquityOutcome::TimeToCompletion
        ) {
            return Err(error(
                "BAD_USER_INPUT",
                "a trend is of a rate outcome; use equity for times",
            ));
        }
        let f = cube_filter(ctx, filter)?;
        crate::graphql::support::consistent(ctx, min_position).await?;
        let method = release_method(ctx)?;
        let app = app(ctx).clone();
        aggregate(ctx, move || {
            trend(&app, by, outcome, &f, k, method.as_ref())
        })
        .await
    }
}

fn two_way(
    app: &App,
    rows: Stratifier,
    columns: Stratifier,
    outcome: EquityOutcome,
    f: &CubeFilter,
    k: u64,
    method: Option<&CellKeyMethod>,
) -> EquityTwoWay {
    let kind = OutcomeKind::from(outcome);
    let table = app
        .projector
        .read()
        .equity_two_way(rows.into(), columns.into(), f);
    let cells: Vec<(String, String, u64, u64)> = table
        .iter()
        .map(|((r, c), counts)| {
            let counts = match method {
                Some(m) => m.perturb(counts),
                None => *counts,
            };
            let (num, den) = kind.counts(&counts);
            (r.clone(), c.clone(), num, den)
        })
        .filter(|c| c.3 > 0)
        .collect();
    let rules = report::suppress_two_way(&cells, k);
    let mut csv = format!(
        "{},{},n,numerator,rate,rate_low,rate_high,suppressed\n",
        stratifier_name(rows),
        stratifier_name(columns)
    );
    let mut out = Vec::new();
    let mut suppressed = Vec::new();
    let mut hidden = 0;
    for ((r, c, num, den), rule) in cells.iter().zip(&rules) {
        if method.is_some() && rule.is_some_and(too_small_to_name) {
            // Perturbed, a cell too small to name is left out (and counted).
            hidden += 1;
            continue;
        }
        let released = rule.is_none();
        let ci = released
            .then(|| careledger_projections::equity::stats::wilson(*num, *den))
            .flatten();
        let rate = released.then(|| *num as f64 / *den as f64);
        if let Some(rule) = rule {
            suppressed.push(SuppressedCell {
                group: format!("{r} × {c}"),
                rule: rule_name(*rule).to_string(),
            });
        }
        csv.push_str(&match (rate, ci) {
            (Some(rate), Some(ci)) => format!(
                "{r},{c},{den},{num},{rate:.6},{:.6},{:.6},\n",
                ci.low, ci.high
            ),
            _ => format!("{r},{c},,,,,,{}\n", rule.map(rule_name).unwrap_or_default()),
        });
        out.push(EquityCell {
            row: r.clone(),
            column: c.clone(),
            suppressed: !released,
            n: released.then_some(*den),
            numerator: released.then_some(*num),
            rate,
            rate_low: ci.map(|i| i.low),
            rate_high: ci.map(|i| i.high),
        });
    }
    if hidden > 0 {
        suppressed.push(unnamed(hidden));
    }
    let control = DisclosureControl::new(method, k);
    EquityTwoWay {
        rows,
        columns,
        outcome,
        k,
        cells: out,
        suppressed,
        csv: control.tag_csv(&csv),
        disclosure_control: control,
    }
}

fn trend(
    app: &App,
    by: Stratifier,
    outcome: EquityOutcome,
    f: &CubeFilter,
    k: u64,
    method: Option<&CellKeyMethod>,
) -> Vec<EquityTrendPoint> {
    let mut rows = app.projector.read().equity().trend(by.into(), f);
    if let Some(m) = method {
        for r in &mut rows {
            r.2 = m.perturb(&r.2);
        }
    }
    let control = DisclosureControl::new(method, k);
    let mut out = Vec::new();
    let mut i = 0;
    while i < rows.len() {
        let m = rows[i].0;
        let month: Vec<(String, cube::Counts)> = rows[i..]
            .iter()
            .take_while(|r| r.0 == m)
            .map(|r| (r.1.clone(), r.2))
            .collect();
        i += month.len();
        let mut t = report::table(&month, outcome.into(), &Reference::Largest, k);
        if method.is_some() {
            // Perturbed, a month's groups too small to name are left out.
            unname_small_groups(&mut t);
        }
        for r in t.rows {
            let x = r.released.as_ref();
            out.push(EquityTrendPoint {
                month: cube::month_label(m),
                group: r.group,
                suppressed: x.is_none(),
                n: x.map(|x| x.n),
                numerator: x.map(|x| x.numerator),
                rate: x.map(|x| x.rate),
                rate_low: x.map(|x| x.ci.low),
                rate_high: x.map(|x| x.ci.high),
                disclosure_control: control,
            });
        }
    }
    out
}
