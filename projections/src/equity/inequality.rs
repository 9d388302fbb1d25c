//! Summary measures of inequality of the WHO Health Equity Assessment Toolkit
//! (HEAT), as plain functions of groups' rates and population sizes. The
//! formulas are those of the WHO `healthequal` R package (version 1.0.1) and of
//! Schlotheuber & Hosseinpoor (2022), *Summary measures of health inequality*,
//! IJERPH 19(6):3697.
//!
//! Notation: groups j = 1..m with rate y_j and population n_j (for a rate table,
//! the rate's denominator); population shares p_j = n_j / Σn; the weighted mean
//! μ = Σ p_j y_j.
//!
//! **Ordered** groups (listed from rank 0, the most disadvantaged, to rank 1):
//! * ridit score of group j: the midpoint of its cumulative population share,
//!   r_j = Σ_{i<j} p_i + p_j / 2.
//! * SII and RII: the weighted least-squares line y = a + b·r with weights p_j
//!   (healthequal's `sii`/`rii` with `linear = TRUE`); SII = ŷ(1) − ŷ(0) = b,
//!   RII = ŷ(1) / ŷ(0) = (a + b) / a (none unless both fitted values are
//!   positive). SII > 0 (RII > 1): the rate is higher towards rank 1.
//! * ACI = Σ p_j (2 r_j − 1) y_j (twice the weighted covariance of rate and rank,
//!   what healthequal's `aci` regression yields); RCI = ACI / μ. Positive: the
//!   rate is concentrated towards rank 1.
//!
//! **Unordered** groups:
//! * BGV = Σ p_j (y_j − μ)²;
//! * MDB (mean difference from the best-performing group, whose rate b is the
//!   highest for a favourable outcome, the lowest for an adverse one): weighted
//!   Σ p_j |y_j − b|, unweighted Σ |y_j − b| / m;
//! * MDM (mean difference from the mean μ): weighted Σ p_j |y_j − μ|, unweighted
//!   Σ |y_j − μ| / m;
//! * Theil index T = Σ p_j (y_j/μ) ln(y_j/μ); mean log deviation
//!   MLD = Σ p_j (−ln(y_j/μ)). As in healthequal, a rate of 0 counts as 10⁻⁶
//!   (μ included) so that the logarithms exist. Reported as is (HEAT and
//!   healthequal show them × 1000).
//!
//! Every measure needs more than two groups (healthequal refuses fewer) and a
//! positive total population; otherwise it is `None`.

/// A group as the measures see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub rate: f64,
    /// Its population: the weight of the weighted measures.
    pub n: f64,
}

/// The fewest groups a summary measure is computed for (healthequal: "more than
/// two subgroups"); with two, the difference and the ratio say it all.
pub const MIN_GROUPS: usize = 3;

/// What healthequal's Theil index and mean log deviation put for a rate of 0.
pub const ZERO_RATE: f64 = 1e-6;

/// The population shares, or `None` when there are too few groups or nobody.
fn shares(points: &[Point]) -> Option<Vec<f64>> {
    let total: f64 = points.iter().map(|p| p.n).sum();
    if points.len() < MIN_GROUPS || total <= 0.0 || points.iter().any(|p| p.n < 0.0) {
        return None;
    }
    Some(points.iter().map(|p| p.n / total).collect())
}

fn mean(points: &[Point], shares: &[f64]) -> f64 {
    points.iter().zip(shares).map(|(p, s)| s * p.rate).sum()
}

/// The ridit score of each group, in the order given: the midpoint of its
/// cumulative population share.
pub fn ridits(points: &[Point]) -> Vec<f64> {
    let total: f64 = points.iter().map(|p| p.n).sum();
    let mut before = 0.0;
    points
        .iter()
        .map(|p| {
            let share = if total > 0.0 { p.n / total } else { 0.0 };
            let r = before + share / 2.0;
            before += share;
            r
        })
        .collect()
}

/// The weighted regression of rate on ridit: its fitted values at the ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slope {
    /// Fitted rate at rank 0 (the first group's end).
    pub at_0: f64,
    /// Fitted rate at rank 1 (the last group's end).
    pub at_1: f64,
}

impl Slope {
    /// Slope index of inequality: ŷ(1) − ŷ(0).
    pub fn sii(&self) -> f64 {
        self.at_1 - self.at_0
    }
    /// Relative index of inequality: ŷ(1) / ŷ(0), when both are positive.
    pub fn rii(&self) -> Option<f64> {
        (self.at_0 > 0.0 && self.at_1 > 0.0).then(|| self.at_1 / self.at_0)
    }
}

/// Weighted least squares of rate on ridit score (weights: population shares),
/// for groups listed from rank 0 to rank 1.
pub fn slope(points: &[Point]) -> Option<Slope> {
    let w = shares(points)?;
    let r = ridits(points);
    let rbar: f64 = w.iter().zip(&r).map(|(w, r)| w * r).sum();
    let ybar = mean(points, &w);
    let sxx: f64 = w.iter().zip(&r).map(|(w, r)| w * (r - rbar).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = w
        .iter()
        .zip(&r)
        .zip(points)
        .map(|((w, r), p)| w * (r - rbar) * (p.rate - ybar))
        .sum();
    let b = sxy / sxx;
    let a = ybar - b * rbar;
    Some(Slope {
        at_0: a,
        at_1: a + b,
    })
}

/// Absolute and relative concentration index (the relative one `None` when the
/// mean is 0), for groups listed from rank 0 to rank 1.
pub fn concentration(points: &[Point]) -> Option<(f64, Option<f64>)> {
    let w = shares(points)?;
    let r = ridits(points);
    let aci: f64 = w
        .iter()
        .zip(&r)
        .zip(points)
        .map(|((w, r), p)| w * (2.0 * r - 1.0) * p.rate)
        .sum();
    let mu = mean(points, &w);
    Some((aci, (mu != 0.0).then(|| aci / mu)))
}

/// Between-group variance.
pub fn bgv(points: &[Point]) -> Option<f64> {
    let w = shares(points)?;
    let mu = mean(points, &w);
    Some(
        points
            .iter()
            .zip(&w)
            .map(|(p, w)| w * (p.rate - mu).powi(2))
            .sum(),
    )
}

/// Mean of |y_j − centre|, weighted by population share or over the groups.
fn mean_abs(points: &[Point], w: &[f64], centre: f64, weighted: bool) -> f64 {
    if weighted {
        points
            .iter()
            .zip(w)
            .map(|(p, w)| w * (p.rate - centre).abs())
            .sum()
    } else {
        points.iter().map(|p| (p.rate - centre).abs()).sum::<f64>() / points.len() as f64
    }
}

/// Mean difference from the best-performing group (the highest rate when
/// `favourable`, else the lowest).
pub fn mdb(points: &[Point], favourable: bool, weighted: bool) -> Option<f64> {
    let w = shares(points)?;
    let rates = points.iter().map(|p| p.rate);
    let best = if favourable {
        rates.fold(f64::MIN, f64::max)
    } else {
        rates.fold(f64::MAX, f64::min)
    };
    Some(mean_abs(points, &w, best, weighted))
}

/// Mean difference from the weighted mean of the groups.
pub fn mdm(points: &[Point], weighted: bool) -> Option<f64> {
    let w = shares(points)?;
    let mu = mean(points, &w);
    Some(mean_abs(points, &w, mu, weighted))
}

/// The rates with 0 replaced by [`ZERO_RATE`], their shares and weighted mean.
fn nonzero(points: &[Point]) -> Option<(Vec<f64>, Vec<f64>, f64)> {
    let w = shares(points)?;
    let y: Vec<f64> = points
        .iter()
        .map(|p| if p.rate == 0.0 { ZERO_RATE } else { p.rate })
        .collect();
    if y.iter().any(|y| *y < 0.0) {
        return None;
    }
    let mu = y.iter().zip(&w).map(|(y, w)| y * w).sum();
    Some((y, w, mu))
}

/// Theil index.
pub fn theil(points: &[Point]) -> Option<f64> {
    let (y, w, mu) = nonzero(points)?;
    Some(
        y.iter()
            .zip(&w)
            .map(|(y, w)| w * (y / mu) * (y / mu).ln())
            .sum(),
    )
}

/// Mean log deviation.
pub fn mld(points: &[Point]) -> Option<f64> {
    let (y, w, mu) = nonzero(points)?;
    Some(y.iter().zip(&w).map(|(y, w)| -w * (y / mu).ln()).sum())
}

mod summary;
pub use summary::{DEFINITIONS, Definition, Inequality, Scope};

#[cfg(test)]
mod tests;
