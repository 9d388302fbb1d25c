//! The summary measures of inequality of one released table, and what each
//! measure means ([`DEFINITIONS`]).
//!
//! **Only released figures.** The measures are computed from the groups as the
//! table releases them — counts already perturbed when the caller gets perturbed
//! counts — and never from the cube's own counts. A group withheld by
//! suppression has no released rate: it is left out, and the answer says how
//! many were ([`Inequality::withheld`]). For an ordered stratifier, a released
//! group outside the order (deprivation `unknown`) is left out too, by name.

use super::{Point, concentration, mdb, mdm, slope};
use crate::equity::cube::Stratifier;
use crate::equity::report::GroupRow;

/// The summary measures of one table (`None`: not applicable to its stratifier,
/// or too few groups).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inequality {
    /// Whether the stratifier is ordered ([`Stratifier::order`]).
    pub ordered: bool,
    /// Whether a higher rate is better (a favourable outcome).
    pub favourable: bool,
    /// The groups the measures were computed over, in rank order when ordered.
    pub groups: Vec<String>,
    /// How many groups were withheld by suppression and so left out.
    pub withheld: usize,
    /// Released groups left out for being outside the stratifier's order.
    pub outside_order: Vec<String>,
    pub sii: Option<f64>,
    pub rii: Option<f64>,
    pub aci: Option<f64>,
    pub rci: Option<f64>,
    pub bgv: Option<f64>,
    pub mdb_weighted: Option<f64>,
    pub mdb_unweighted: Option<f64>,
    pub mdm_weighted: Option<f64>,
    pub mdm_unweighted: Option<f64>,
    pub theil: Option<f64>,
    pub mld: Option<f64>,
}

impl Inequality {
    /// The measures of a table by `by` from its rows as released: only rows with
    /// released figures count; `unnamed` more groups were withheld without being
    /// listed among the rows (too small to name in a perturbed table).
    pub fn of_rows(by: Stratifier, favourable: bool, rows: &[GroupRow], unnamed: usize) -> Self {
        let released: Vec<(&str, Point)> = rows
            .iter()
            .filter_map(|r| {
                r.released.as_ref().map(|x| {
                    (
                        r.group.as_str(),
                        Point {
                            rate: x.rate,
                            n: x.n as f64,
                        },
                    )
                })
            })
            .collect();
        let withheld = unnamed + rows.iter().filter(|r| r.released.is_none()).count();
        let mut out = Inequality {
            ordered: by.order().is_some(),
            favourable,
            withheld,
            ..Inequality::default()
        };
        let points: Vec<Point> = match by.order() {
            Some(order) => {
                out.outside_order = released
                    .iter()
                    .filter(|(g, _)| !order.contains(g))
                    .map(|(g, _)| g.to_string())
                    .collect();
                let ranked: Vec<(&str, Point)> = order
                    .iter()
                    .filter_map(|o| released.iter().find(|(g, _)| g == o).copied())
                    .collect();
                out.groups = ranked.iter().map(|(g, _)| g.to_string()).collect();
                let points: Vec<Point> = ranked.into_iter().map(|(_, p)| p).collect();
                let line = slope(&points);
                out.sii = line.map(|l| l.sii());
                out.rii = line.and_then(|l| l.rii());
                let ci = concentration(&points);
                out.aci = ci.map(|c| c.0);
                out.rci = ci.and_then(|c| c.1);
                return out;
            }
            None => released.iter().map(|(_, p)| *p).collect(),
        };
        out.groups = released.iter().map(|(g, _)| g.to_string()).collect();
        out.bgv = super::bgv(&points);
        out.mdb_weighted = mdb(&points, favourable, true);
        out.mdb_unweighted = mdb(&points, favourable, false);
        out.mdm_weighted = mdm(&points, true);
        out.mdm_unweighted = mdm(&points, false);
        out.theil = super::theil(&points);
        out.mld = super::mld(&points);
        out
    }

    /// What the measures were computed over, in a sentence.
    pub fn note(&self) -> String {
        let mut s = format!(
            "Computed from the released figures of {} group(s)",
            self.groups.len()
        );
        if self.withheld > 0 {
            s += &format!(
                "; {} group(s) withheld by suppression left out",
                self.withheld
            );
        }
        if !self.outside_order.is_empty() {
            s += &format!(
                "; left out of the ordered measures: {}",
                self.outside_order.join(", ")
            );
        }
        if self.groups.len() < super::MIN_GROUPS {
            s += "; fewer than 3 groups, so no summary measure of inequality";
        }
        s + "."
    }
}

/// Which tables a measure applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every table.
    All,
    /// Tables by an ordered stratifier.
    Ordered,
    /// Tables by an unordered stratifier.
    Unordered,
}

/// What a summary measure is, for a reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Definition {
    /// Its code: D, R, PAR, PAF, SII, RII, ACI, RCI, BGV, MDBW, MDBU, MDMW,
    /// MDMU, TI, MLD.
    pub code: &'static str,
    pub name: &'static str,
    pub scope: Scope,
    /// How it is computed here and how to read it.
    pub text: &'static str,
    /// The WHO `healthequal` reference page of the measure.
    pub url: &'static str,
}

const fn def(
    code: &'static str,
    name: &'static str,
    scope: Scope,
    text: &'static str,
    url: &'static str,
) -> Definition {
    Definition {
        code,
        name,
        scope,
        text,
        url,
    }
}

/// Every summary measure an equity table reports, in HEAT's order.
pub const DEFINITIONS: [Definition; 15] = [
    def(
        "D",
        "Difference",
        Scope::All,
        "Highest minus lowest released group rate (maxDifference). 0: no inequality.",
        "https://whoequity.github.io/healthequal/reference/d.html",
    ),
    def(
        "R",
        "Ratio",
        Scope::All,
        "Highest over lowest released group rate (maxMinRatio). 1: no inequality.",
        "https://whoequity.github.io/healthequal/reference/r.html",
    ),
    def(
        "PAR",
        "Population attributable risk",
        Scope::All,
        "Rate of the most favourable released group minus the overall rate: the improvement if every group did as well.",
        "https://whoequity.github.io/healthequal/reference/parisk.html",
    ),
    def(
        "PAF",
        "Population attributable fraction",
        Scope::All,
        "PAR over the overall rate.",
        "https://whoequity.github.io/healthequal/reference/paf.html",
    ),
    def(
        "SII",
        "Slope index of inequality",
        Scope::Ordered,
        "Weighted least-squares line of group rate on ridit score (the midpoint of the group's cumulative population share, groups in the stratifier's order; weights: population shares); SII = fitted rate at rank 1 minus at rank 0. Positive: higher towards rank 1 (Q5, least deprived; oldest age band). For a favourable outcome (referral, completion) a positive SII means the most deprived fare worse; for an adverse one (unmet need, rejection) a negative SII does. 0: no inequality.",
        "https://whoequity.github.io/healthequal/reference/sii.html",
    ),
    def(
        "RII",
        "Relative index of inequality",
        Scope::Ordered,
        "The same line's fitted rate at rank 1 over its fitted rate at rank 0 (none unless both are positive). Above 1: higher towards rank 1; the most deprived fare worse when RII > 1 for a favourable outcome, RII < 1 for an adverse one. 1: no inequality.",
        "https://whoequity.github.io/healthequal/reference/rii.html",
    ),
    def(
        "ACI",
        "Absolute concentration index",
        Scope::Ordered,
        "Σ p_j (2 r_j − 1) y_j over groups j with population share p_j, ridit r_j and rate y_j: twice the weighted covariance of rate and rank. Positive: the outcome is concentrated towards rank 1. 0: no inequality.",
        "https://whoequity.github.io/healthequal/reference/aci.html",
    ),
    def(
        "RCI",
        "Relative concentration index",
        Scope::Ordered,
        "ACI over the weighted mean rate, between −1 and 1 (HEAT shows it × 100). Positive: concentrated towards rank 1. 0: no inequality.",
        "https://whoequity.github.io/healthequal/reference/rci.html",
    ),
    def(
        "BGV",
        "Between-group variance",
        Scope::Unordered,
        "Σ p_j (y_j − μ)², μ the groups' weighted mean rate: the population-weighted squared deviation from the mean, in squared rate units. 0: no inequality.",
        "https://whoequity.github.io/healthequal/reference/bgv.html",
    ),
    def(
        "MDBW",
        "Mean difference from the best-performing group (weighted)",
        Scope::Unordered,
        "Σ p_j |y_j − best|, best being the highest rate for a favourable outcome, the lowest for an adverse one. 0: no inequality.",
        "https://whoequity.github.io/healthequal/reference/mdbw.html",
    ),
    def(
        "MDBU",
        "Mean difference from the best-performing group (unweighted)",
        Scope::Unordered,
        "Σ |y_j − best| / m over the m groups, every group counting the same. 0: no inequality.",
        "https://whoequity.github.io/healthequal/reference/mdbu.html",
    ),
    def(
        "MDMW",
        "Mean difference from the mean (weighted)",
        Scope::Unordered,
        "Σ p_j |y_j − μ|, μ the groups' weighted mean rate. 0: no inequality.",
        "https://whoequity.github.io/healthequal/reference/mdmw.html",
    ),
    def(
        "MDMU",
        "Mean difference from the mean (unweighted)",
        Scope::Unordered,
        "Σ |y_j − μ| / m over the m groups, μ the groups' weighted mean rate. 0: no inequality.",
        "https://whoequity.github.io/healthequal/reference/mdmu.html",
    ),
    def(
        "TI",
        "Theil index",
        Scope::Unordered,
        "Σ p_j (y_j/μ) ln(y_j/μ), a rate of 0 counted as 10⁻⁶ (HEAT shows it × 1000). 0: no inequality; larger: more.",
        "https://whoequity.github.io/healthequal/reference/ti.html",
    ),
    def(
        "MLD",
        "Mean log deviation",
        Scope::Unordered,
        "Σ p_j (−ln(y_j/μ)), a rate of 0 counted as 10⁻⁶ (HEAT shows it × 1000). 0: no inequality; larger: more.",
        "https://whoequity.github.io/healthequal/reference/mld.html",
    ),
];

impl Definition {
    /// The definitions of the measures a table by an ordered (or unordered)
    /// stratifier reports.
    pub fn for_table(ordered: bool) -> impl Iterator<Item = &'static Definition> {
        DEFINITIONS.iter().filter(move |d| match d.scope {
            Scope::All => true,
            Scope::Ordered => ordered,
            Scope::Unordered => !ordered,
        })
    }
}
