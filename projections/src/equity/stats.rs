//! The statistics of DESIGN §4, as plain functions of counts.
//!
//! * Proportions: Wilson score interval; difference with Newcombe's hybrid score
//!   interval (his method 10, built from the two Wilson intervals); ratio with the
//!   Katz log interval.
//! * Tests: two-sided Fisher's exact test (sum of the probabilities of all tables
//!   with the observed margins no more likely than the observed one) and the
//!   pooled two-proportion z-test; [`compare`] picks Fisher when any expected cell
//!   is below 5.
//! * Kaplan–Meier: survival with censoring, the median and quartiles, and their 95%
//!   intervals from the log–log transformed Greenwood interval of S(t)
//!   (Brookmeyer–Crowley style, as R's `survfit` with `conf.type = "log-log"`).
//! * Summary measures of the WHO Health Equity Assessment Toolkit: population
//!   attributable risk (reference minus the overall rate) and fraction (that over
//!   the overall rate). The toolkit's other summary measures (SII, RII, ACI, RCI,
//!   BGV, MDB, MDM, Theil, MLD) are in [`super::inequality`].
//!
//! 95% throughout (z = 1.959963984540054).

/// The standard normal quantile for a two-sided 95% interval.
pub const Z95: f64 = 1.959_963_984_540_054;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

/// Wilson score interval for `x` successes out of `n` (`None` when n = 0).
pub fn wilson(x: u64, n: u64) -> Option<Interval> {
    if n == 0 {
        return None;
    }
    let (x, n) = (x as f64, n as f64);
    let p = x / n;
    let z2 = Z95 * Z95;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    Some(Interval {
        low: (centre - half).max(0.0),
        high: (centre + half).min(1.0),
    })
}

/// p1 − p2 with Newcombe's hybrid score interval (method 10).
pub fn difference(x1: u64, n1: u64, x2: u64, n2: u64) -> Option<(f64, Interval)> {
    let (w1, w2) = (wilson(x1, n1)?, wilson(x2, n2)?);
    let (p1, p2) = (x1 as f64 / n1 as f64, x2 as f64 / n2 as f64);
    let d = p1 - p2;
    let low = d - ((p1 - w1.low).powi(2) + (w2.high - p2).powi(2)).sqrt();
    let high = d + ((w1.high - p1).powi(2) + (p2 - w2.low).powi(2)).sqrt();
    Some((d, Interval { low, high }))
}

/// p1 / p2 with the Katz log interval; `None` when either count is 0 (the log
/// interval does not exist) or either n is 0.
pub fn ratio(x1: u64, n1: u64, x2: u64, n2: u64) -> Option<(f64, Interval)> {
    if x1 == 0 || x2 == 0 || n1 == 0 || n2 == 0 {
        return None;
    }
    let (a, b, c, d) = (x1 as f64, n1 as f64, x2 as f64, n2 as f64);
    let rr = (a / b) / (c / d);
    let se = (1.0 / a - 1.0 / b + 1.0 / c - 1.0 / d).sqrt();
    Some((
        rr,
        Interval {
            low: (rr.ln() - Z95 * se).exp(),
            high: (rr.ln() + Z95 * se).exp(),
        },
    ))
}

fn ln_factorial(n: u64) -> f64 {
    libm::lgamma(n as f64 + 1.0)
}

/// Two-sided Fisher's exact test for the table [[a, b], [c, d]].
pub fn fisher_exact(a: u64, b: u64, c: u64, d: u64) -> f64 {
    let (r1, r2, c1) = (a + b, c + d, a + c);
    let n = r1 + r2;
    let lo = c1.saturating_sub(r2);
    let hi = c1.min(r1);
    let ln_p = |x: u64| -> f64 {
        // P(X = x) for the hypergeometric with the table's margins.
        ln_factorial(r1) + ln_factorial(r2) + ln_factorial(c1) + ln_factorial(n - c1)
            - ln_factorial(n)
            - ln_factorial(x)
            - ln_factorial(r1 - x)
            - ln_factorial(c1 - x)
            - ln_factorial(r2 + x - c1)
    };
    let observed = ln_p(a);
    // Tables "as or more extreme": no more likely than the observed one, with the
    // relative tolerance R's fisher.test uses.
    let limit = observed + (1.0f64 + 1e-7).ln();
    let mut p = 0.0;
    for x in lo..=hi {
        let l = ln_p(x);
        if l <= limit {
            p += l.exp();
        }
    }
    p.min(1.0)
}

/// Two-sided pooled two-proportion z-test.
pub fn z_test(x1: u64, n1: u64, x2: u64, n2: u64) -> Option<f64> {
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (p1, p2) = (x1 as f64 / n1 as f64, x2 as f64 / n2 as f64);
    let p = (x1 + x2) as f64 / (n1 + n2) as f64;
    let se = (p * (1.0 - p) * (1.0 / n1 as f64 + 1.0 / n2 as f64)).sqrt();
    if se == 0.0 {
        return Some(1.0);
    }
    let z = (p1 - p2) / se;
    Some(libm::erfc(z.abs() / std::f64::consts::SQRT_2))
}

/// Which test a comparison used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Test {
    FisherExact,
    ZTest,
}

impl Test {
    /// Its name in answers and CSV files (`FisherExact`, `ZTest`).
    pub const fn name(self) -> &'static str {
        match self {
            Test::FisherExact => "FisherExact",
            Test::ZTest => "ZTest",
        }
    }
}

/// Two-sided p-value comparing x1/n1 with x2/n2: Fisher's exact test when any
/// expected cell of the 2×2 table is below 5, else the z-test.
pub fn compare(x1: u64, n1: u64, x2: u64, n2: u64) -> Option<(f64, Test)> {
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let n = (n1 + n2) as f64;
    let successes = (x1 + x2) as f64;
    let failures = n - successes;
    let expected = [
        n1 as f64 * successes / n,
        n1 as f64 * failures / n,
        n2 as f64 * successes / n,
        n2 as f64 * failures / n,
    ];
    if expected.iter().any(|e| *e < 5.0) {
        Some((fisher_exact(x1, n1 - x1, x2, n2 - x2), Test::FisherExact))
    } else {
        z_test(x1, n1, x2, n2).map(|p| (p, Test::ZTest))
    }
}

/// Equity within 0.8–1.25 (the parity band of DESIGN §4).
pub fn parity(ratio: f64) -> bool {
    (0.8..=1.25).contains(&ratio)
}

/// WHO HEAT: population attributable risk and fraction for a reference rate and
/// the setting's overall rate.
pub fn par_paf(reference: f64, overall: f64) -> (f64, Option<f64>) {
    let par = reference - overall;
    (par, (overall != 0.0).then(|| par / overall))
}

/// One step of a Kaplan–Meier curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KmStep {
    pub time: f64,
    pub survival: f64,
    /// Greenwood's sum up to this time (Σ d / (n (n − d))).
    pub greenwood: f64,
}

/// A quantile of the time to an event, with its 95% interval; `None` ends mean
/// the curve never gets that low (not reached).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KmQuantile {
    pub estimate: Option<f64>,
    pub low: Option<f64>,
    pub high: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KaplanMeier {
    pub steps: Vec<KmStep>,
    pub n: u64,
    pub events: u64,
    /// For every distinct time observed (event or censoring), how many were
    /// still at risk just before it: what "numbers at risk" under a curve read.
    pub risk: Vec<(f64, f64)>,
}

impl KaplanMeier {
    /// From (time, event?) observations; `false` is a censored observation.
    /// Ties: events before censorings at the same time.
    pub fn fit(observations: impl IntoIterator<Item = (f64, bool)>) -> Self {
        Self::fit_weighted(observations.into_iter().map(|(t, e)| (t, e, 1)))
    }

    /// From (time, event?, how many) observations.
    pub fn fit_weighted(observations: impl IntoIterator<Item = (f64, bool, u64)>) -> Self {
        let mut obs: Vec<(f64, bool, u64)> = observations.into_iter().filter(|o| o.2 > 0).collect();
        obs.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
        let n: u64 = obs.iter().map(|o| o.2).sum();
        let mut at_risk = n as f64;
        let (mut s, mut gw) = (1.0, 0.0);
        let mut steps = Vec::new();
        let mut events = 0;
        let mut risk = Vec::new();
        let mut i = 0;
        while i < obs.len() {
            let t = obs[i].0;
            risk.push((t, at_risk));
            let (mut d, mut c) = (0.0, 0.0);
            while i < obs.len() && obs[i].0 == t {
                if obs[i].1 {
                    d += obs[i].2 as f64;
                } else {
                    c += obs[i].2 as f64;
                }
                i += 1;
            }
            if d > 0.0 {
                s *= 1.0 - d / at_risk;
                if at_risk > d {
                    gw += d / (at_risk * (at_risk - d));
                }
                events += d as u64;
                steps.push(KmStep {
                    time: t,
                    survival: s,
                    greenwood: gw,
                });
            }
            at_risk -= d + c;
        }
        KaplanMeier {
            steps,
            n,
            events,
            risk,
        }
    }

    /// How many were still at risk at time `t` (had neither the event nor been
    /// censored before it).
    pub fn at_risk(&self, t: f64) -> f64 {
        self.risk
            .iter()
            .find(|(time, _)| *time >= t)
            .map_or(0.0, |(_, n)| *n)
    }

    /// The pointwise 95% interval of S at a step (log–log transform).
    pub fn band(step: &KmStep) -> (f64, f64) {
        let s = step.survival;
        if s <= 0.0 || s >= 1.0 {
            return (s, s);
        }
        let se = step.greenwood.sqrt() / s.ln().abs();
        let ll = (-s.ln()).ln();
        // S^exp(±z se) on the log–log scale.
        let low = (-(ll + Z95 * se).exp()).exp();
        let high = (-(ll - Z95 * se).exp()).exp();
        (low, high)
    }

    /// The time by which a fraction `1 − p` is still waiting: p = 0.5 is the median,
    /// 0.25 the first quartile of the time to event, 0.75 the third.
    pub fn quantile(&self, p: f64) -> KmQuantile {
        let target = 1.0 - p;
        let first = |f: &dyn Fn(&KmStep) -> f64| {
            self.steps
                .iter()
                .find(|s| f(s) <= target + 1e-12)
                .map(|s| s.time)
        };
        KmQuantile {
            estimate: first(&|s| s.survival),
            low: first(&|s| Self::band(s).0),
            high: first(&|s| Self::band(s).1),
        }
    }
}

#[cfg(test)]
mod tests;
