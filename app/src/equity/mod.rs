//! Equity of access (DESIGN §4): an outcome by stratifier — one-way tables, two-way
//! tables, month-by-month trends — answered from the equity cube. Only aggregates
//! leave, and every count that leaves has been through disclosure control first:
//! the cell-key perturbation for every caller but a coordinator, then small-cell
//! suppression at k, whoever asks (GraphQL `equity*`, `careledger export-equity`).
//!
//! A use case runs in two steps so that an edge can wait for read-your-writes in
//! between, as for every other query: `check_equity_*` applies the policy and the
//! request's rules (threshold, filter bounded to the caller's sites, outcome) and
//! returns a [`Checked`] query; `equity_*` computes it on the bounded
//! [`AggregatePool`], if the request's deadline has not passed.
//!
//! * [`request`] — what a caller asks, and what it becomes once checked.
//! * [`released`] — the tables as released, with their disclosure control.
//! * [`rates`] — rate tables, two-way tables, trends; groups too small to name.
//! * [`time`] — Kaplan–Meier times to referral and to completion.
//! * [`pool`] — the bounded pool the CPU-bound work runs on.
//! * [`csv_text`] — the tables as CSV, the disclosure control on every row.

pub mod csv_text;
pub mod pool;
pub mod rates;
pub mod released;
pub mod request;
pub mod time;

pub use careledger_projections::equity::cube::Stratifier;
pub use careledger_projections::equity::inequality::{Definition, Inequality};
pub use careledger_projections::equity::report::{Reference, Summary, SuppressionRule};
pub use careledger_projections::equity::stats::Test;
pub use pool::AggregatePool;
pub use released::{
    Cell, DisclosureControl, DisclosureMethod, Group, ReleasedTable, ReleasedTwoWay, TrendPoint,
    Withheld,
};
pub use request::{
    Checked, Filter, Outcome, ReferenceKind, TableQuery, TableRequest, TrendQuery, TrendRequest,
    TwoWayQuery, TwoWayRequest,
};

use crate::policy::Action;
use crate::{Access, App, AppError};
use careledger_domain::store::Role;
use careledger_projections::equity::cube::{self, CubeFilter, Month};
use careledger_projections::equity::disclosure::CellKeyMethod;
use std::sync::Arc;
use std::time::Instant;

fn bad_input(message: impl Into<String>) -> AppError {
    AppError::rejected(None, "BAD_USER_INPUT", message)
}

/// A caller's text in a message, cut at 64 characters.
fn clip(s: &str) -> String {
    if s.chars().count() <= 64 {
        s.to_string()
    } else {
        s.chars().take(64).chain(std::iter::once('…')).collect()
    }
}

/// The threshold of a request: the server's minimum cell size, or a stricter one.
pub fn threshold(min_cell: u64, k: Option<i32>) -> Result<u64, AppError> {
    match k {
        None => Ok(min_cell),
        Some(k) if k >= 1 && k as u64 >= min_cell => Ok(k as u64),
        Some(k) => Err(bad_input(format!(
            "k must be at least {min_cell} (the server's minimum cell size), got {k}"
        ))),
    }
}

/// A month `YYYY-MM` (2000 to 2100) named by the request's `field`.
pub fn month(s: &str, field: &str) -> Result<Month, AppError> {
    let bad = || {
        bad_input(format!(
            "{field} must be a month as YYYY-MM, got '{}'",
            clip(s)
        ))
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
/// only, and naming another site is refused (`FORBIDDEN`, as a refusal the caller
/// can fix by naming only their own sites).
pub fn cube_filter(access: &Access, f: Filter) -> Result<CubeFilter, AppError> {
    let sites = match (f.sites, access.sites_for(Action::ReadAggregates)) {
        (asked, None) => asked,
        (None, Some(theirs)) => Some(theirs.iter().map(|s| s.as_str().to_string()).collect()),
        (Some(asked), Some(theirs)) => {
            if let Some(other) = asked
                .iter()
                .find(|a| !theirs.iter().any(|t| t.as_str() == a.as_str()))
            {
                return Err(AppError::rejected(
                    Some("filter.sites"),
                    "FORBIDDEN",
                    format!("your credentials do not cover site '{}'", clip(other)),
                ));
            }
            Some(asked)
        }
    };
    Ok(CubeFilter {
        from: f.from.as_deref().map(|m| month(m, "from")).transpose()?,
        to: f.to.as_deref().map(|m| month(m, "to")).transpose()?,
        sites,
        domains: f
            .domains
            .map(|d| d.into_iter().map(|d| d.name().to_string()).collect()),
        needs: f.needs,
    })
}

impl App {
    /// The perturbation a caller's tables get: none for a coordinator (their
    /// tables are bounded to their own sites, whose records they may read), the
    /// cell-key method for everyone else (quality managers, external
    /// applications, administrators, exports).
    pub fn release_method(&self, access: &Access) -> Option<CellKeyMethod> {
        match access.actor.role {
            Role::Coordinator => None,
            _ => Some(self.settings.disclosure.clone()),
        }
    }

    /// What every request shares, checked after its own rules.
    fn checked<Q>(
        &self,
        access: &Access,
        query: Q,
        filter: Filter,
        k: u64,
    ) -> Result<Checked<Q>, AppError> {
        Ok(Checked {
            query,
            filter: cube_filter(access, filter)?,
            k,
            method: self.release_method(access),
            credential: format!("{}:{}", access.actor.role.name(), access.actor.subject),
        })
    }

    /// Checks a one-way table request: the policy, the threshold, the reference,
    /// the filter.
    pub fn check_equity_table(
        &self,
        access: &Access,
        r: TableRequest,
    ) -> Result<Checked<TableQuery>, AppError> {
        access.check(Action::ReadAggregates)?;
        let k = threshold(self.settings.min_cell, r.k)?;
        let reference = match (r.reference, r.reference_group) {
            (ReferenceKind::Named, Some(g)) => Reference::Named(g),
            (ReferenceKind::Named, None) => {
                return Err(bad_input("reference NAMED needs referenceGroup"));
            }
            (ReferenceKind::Largest, _) => Reference::Largest,
            (ReferenceKind::MostFavourable, _) => Reference::MostFavourable,
        };
        let query = TableQuery {
            by: r.by,
            outcome: r.outcome,
            reference,
        };
        self.checked(access, query, r.filter, k)
    }

    /// Checks a two-way table request: the policy, the threshold, a rate outcome,
    /// two different stratifiers, the filter.
    pub fn check_equity_two_way(
        &self,
        access: &Access,
        r: TwoWayRequest,
    ) -> Result<Checked<TwoWayQuery>, AppError> {
        access.check(Action::ReadAggregates)?;
        let k = threshold(self.settings.min_cell, r.k)?;
        let kind = r
            .outcome
            .rate()
            .ok_or_else(|| bad_input("a two-way table is of a rate outcome"))?;
        if r.rows == r.columns {
            return Err(bad_input(
                "rows and columns must be two different stratifiers",
            ));
        }
        let query = TwoWayQuery {
            rows: r.rows,
            columns: r.columns,
            outcome: r.outcome,
            kind,
        };
        self.checked(access, query, r.filter, k)
    }

    /// Checks a trend request: the policy, the threshold, a rate outcome, the filter.
    pub fn check_equity_trend(
        &self,
        access: &Access,
        r: TrendRequest,
    ) -> Result<Checked<TrendQuery>, AppError> {
        access.check(Action::ReadAggregates)?;
        let k = threshold(self.settings.min_cell, r.k)?;
        let kind = r
            .outcome
            .rate()
            .ok_or_else(|| bad_input("a trend is of a rate outcome; use equity for times"))?;
        let query = TrendQuery { by: r.by, kind };
        self.checked(access, query, r.filter, k)
    }

    /// Equity of access by one stratifier: per group the rate (or the time) with
    /// its interval, compared with a reference group; a summary; small cells
    /// suppressed. Computed on `pool` (unbounded without one) unless `deadline`
    /// passes first (`REQUEST_TIMEOUT`).
    pub async fn equity_table(
        self: &Arc<Self>,
        q: Checked<TableQuery>,
        pool: Option<&AggregatePool>,
        deadline: Option<Instant>,
    ) -> Result<ReleasedTable, AppError> {
        let app = self.clone();
        let credential = q.credential.clone();
        pool::compute(pool, &credential, deadline, move || {
            let Checked {
                query,
                filter,
                k,
                method,
                ..
            } = q;
            match query.outcome.rate() {
                None => time::table(&app, query.by, query.outcome, &filter, k, method.as_ref()),
                Some(kind) => {
                    let groups = app.projector.read().equity().groups(query.by, &filter);
                    rates::table(groups, &query, kind, k, method.as_ref())
                }
            }
        })
        .await
    }

    /// A two-way table (stratifier × stratifier) of a rate outcome, with small
    /// cells suppressed and complementary suppression along rows and columns.
    pub async fn equity_two_way(
        self: &Arc<Self>,
        q: Checked<TwoWayQuery>,
        pool: Option<&AggregatePool>,
        deadline: Option<Instant>,
    ) -> Result<ReleasedTwoWay, AppError> {
        let app = self.clone();
        let credential = q.credential.clone();
        pool::compute(pool, &credential, deadline, move || {
            let x = &q.query;
            let table = app
                .projector
                .read()
                .equity_two_way(x.rows, x.columns, &q.filter);
            rates::two_way(&table, x, q.k, q.method.as_ref())
        })
        .await
    }

    /// A rate outcome month by month for each group, each month suppressed on its own.
    pub async fn equity_trend(
        self: &Arc<Self>,
        q: Checked<TrendQuery>,
        pool: Option<&AggregatePool>,
        deadline: Option<Instant>,
    ) -> Result<Vec<TrendPoint>, AppError> {
        let app = self.clone();
        let credential = q.credential.clone();
        pool::compute(pool, &credential, deadline, move || {
            let rows = app.projector.read().equity().trend(q.query.by, &q.filter);
            rates::trend(rows, q.query.kind, q.k, q.method.as_ref())
        })
        .await
    }
}

#[cfg(test)]
mod tests;
