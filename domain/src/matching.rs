//! Ranked, explained service suggestions for a need case.
//!
//! Every active service is either *suggested* — with its rank, its score and every
//! reason that made it up — or *left out*, with every reason it was left out. An
//! auditor can therefore see why a service was or was not proposed.
//!
//! Hard rules (a service failing one is left out): it is active; it addresses the
//! need; the recipient's age lies in its range; it serves patients or relatives as
//! the recipient is one; it does not require preferential reimbursement the
//! recipient does not have; the recipient's address lies in its service area; it
//! is not without capacity. Among the rest the score orders them:
//!
//! | factor | points |
//! |---|---|
//! | area: postal code listed / region / country | 30 / 20 / 10 |
//! | language: speaks the recipient's language / only another one | 30 / 0 |
//! | capacity: has capacity / waitlist | 25 / 25 minus a point per 4 days' wait (at least 5) |
//! | cost: free / reimbursed / fee | 15 / 10 / 0 |
//!
//! Ties are broken by service id, so a ranking is a function of its inputs. The best
//! `limit` are suggested; the other eligible ones are left out as *ranked below
//! the cut-off*.

/// The version of the matcher's rules: recorded with every ranking
/// (`ServicesSuggested.ranked`), so the services a ranking left out can be
/// recomputed later by the same rules. Bump it whenever `judge` or `rank` would
/// answer differently for the same inputs (a rule, a score, a code, the order);
/// a recorded ranking of another version is then not recomputed but said to be
/// (see `app::casework::left_out`). `tests::the_matcher_version_pins_its_rules`
/// fails until it is bumped.
pub const MATCHER_VERSION: u32 = 1;

use crate::directory::{AreaMatch, Capacity, Cost, ServiceProfile, serves_kind};
use crate::ids::ServiceId;
use crate::recipient::{RecipientKind, RecipientProfile};
use crate::values::{NeedCode, PreferentialReimbursement};

/// Why a service was suggested (each contributes to its score).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    AddressesNeed,
    AgeEligible,
    ServesPatients,
    ServesRelatives,
    ForPreferentialReimbursement,
    InPostalArea,
    InRegion,
    InCountry,
    SpeaksLanguage,
    LanguageNotSpoken,
    HasCapacity,
    Waitlist { days: u16 },
    Free,
    Reimbursed,
    Fee,
}

impl Reason {
    /// A stable code (lowercase, digits, `_`), as stored in `ServicesSuggested`.
    pub fn code(self) -> String {
        match self {
            Reason::AddressesNeed => "addresses_need".into(),
            Reason::AgeEligible => "age_eligible".into(),
            Reason::ServesPatients => "serves_patients".into(),
            Reason::ServesRelatives => "serves_relatives".into(),
            Reason::ForPreferentialReimbursement => "for_preferential_reimbursement".into(),
            Reason::InPostalArea => "in_postal_area".into(),
            Reason::InRegion => "in_region".into(),
            Reason::InCountry => "in_country".into(),
            Reason::SpeaksLanguage => "speaks_language".into(),
            Reason::LanguageNotSpoken => "language_not_spoken".into(),
            Reason::HasCapacity => "has_capacity".into(),
            Reason::Waitlist { days } => format!("waitlist_{days}_days"),
            Reason::Free => "free".into(),
            Reason::Reimbursed => "reimbursed".into(),
            Reason::Fee => "fee".into(),
        }
    }
}

/// Why a service was left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Exclusion {
    Retired,
    NeedNotAddressed,
    TooYoung { min_age: u8 },
    TooOld { max_age: u8 },
    PatientsOnly,
    RelativesOnly,
    RequiresPreferentialReimbursement,
    OutsideArea,
    NoCapacity,
    BelowCutoff { rank: u32 },
}

impl Exclusion {
    pub fn code(self) -> String {
        match self {
            Exclusion::Retired => "retired".into(),
            Exclusion::NeedNotAddressed => "need_not_addressed".into(),
            Exclusion::TooYoung { min_age } => format!("below_minimum_age_{min_age}"),
            Exclusion::TooOld { max_age } => format!("above_maximum_age_{max_age}"),
            Exclusion::PatientsOnly => "patients_only".into(),
            Exclusion::RelativesOnly => "relatives_only".into(),
            Exclusion::RequiresPreferentialReimbursement => {
                "requires_preferential_reimbursement".into()
            }
            Exclusion::OutsideArea => "outside_service_area".into(),
            Exclusion::NoCapacity => "no_capacity".into(),
            Exclusion::BelowCutoff { rank } => format!("ranked_{rank}_below_cutoff"),
        }
    }
}

/// A service as the matcher sees it.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub id: ServiceId,
    pub profile: &'a ServiceProfile,
    pub capacity: Capacity,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scored {
    pub service: ServiceId,
    /// 1 = best.
    pub rank: u32,
    pub score: u32,
    pub reasons: Vec<Reason>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOut {
    pub service: ServiceId,
    pub reasons: Vec<Exclusion>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ranking {
    /// Best first.
    pub suggested: Vec<Scored>,
    pub left_out: Vec<LeftOut>,
}

/// What the matcher knows of the need case.
#[derive(Debug, Clone, Copy)]
pub struct Seeker<'a> {
    pub need: &'a NeedCode,
    pub recipient: &'a RecipientProfile,
    /// The recipient's age in whole years today.
    pub age: i32,
}

/// Judges one service: its score and reasons, or every reason it is left out.
pub fn judge(seeker: Seeker<'_>, c: Candidate<'_>) -> Result<(u32, Vec<Reason>), Vec<Exclusion>> {
    let p = c.profile;
    let r = seeker.recipient;
    let mut out = Vec::new();
    let mut why = Vec::with_capacity(8);
    if !c.active {
        out.push(Exclusion::Retired);
    }
    if p.needs.binary_search(seeker.need).is_ok() {
        why.push(Reason::AddressesNeed);
    } else {
        out.push(Exclusion::NeedNotAddressed);
    }
    let e = &p.eligibility;
    match (e.min_age, e.max_age) {
        (Some(min), _) if seeker.age < i32::from(min) => {
            out.push(Exclusion::TooYoung { min_age: min })
        }
        (_, Some(max)) if seeker.age > i32::from(max) => {
            out.push(Exclusion::TooOld { max_age: max })
        }
        (None, None) => {}
        _ => why.push(Reason::AgeEligible),
    }
    if serves_kind(e, &r.kind) {
        why.push(match r.kind {
            RecipientKind::Patient => Reason::ServesPatients,
            RecipientKind::Relative { .. } => Reason::ServesRelatives,
        });
    } else {
        out.push(match r.kind {
            RecipientKind::Patient => Exclusion::RelativesOnly,
            RecipientKind::Relative { .. } => Exclusion::PatientsOnly,
        });
    }
    if e.requires_preferential_reimbursement {
        if r.preferential_reimbursement == PreferentialReimbursement::Yes {
            why.push(Reason::ForPreferentialReimbursement);
        } else {
            out.push(Exclusion::RequiresPreferentialReimbursement);
        }
    }
    let mut score = 0u32;
    match p.area.covers(r) {
        Some(AreaMatch::PostalCode) => {
            score += 30;
            why.push(Reason::InPostalArea);
        }
        Some(AreaMatch::Region) => {
            score += 20;
            why.push(Reason::InRegion);
        }
        Some(AreaMatch::Country) => {
            score += 10;
            why.push(Reason::InCountry);
        }
        None => out.push(Exclusion::OutsideArea),
    }
    match c.capacity {
        Capacity::HasCapacity => {
            score += 25;
            why.push(Reason::HasCapacity);
        }
        Capacity::Waitlist {
            estimated_wait_days,
        } => {
            score += 25u32
                .saturating_sub(u32::from(estimated_wait_days) / 4)
                .max(5);
            why.push(Reason::Waitlist {
                days: estimated_wait_days,
            });
        }
        Capacity::NoCapacity => out.push(Exclusion::NoCapacity),
    }
    if !out.is_empty() {
        return Err(out);
    }
    if p.speaks(&r.language) {
        score += 30;
        why.push(Reason::SpeaksLanguage);
    } else {
        why.push(Reason::LanguageNotSpoken);
    }
    match p.cost {
        Cost::Free => {
            score += 15;
            why.push(Reason::Free);
        }
        Cost::Reimbursed => {
            score += 10;
            why.push(Reason::Reimbursed);
        }
        Cost::Fee => why.push(Reason::Fee),
    }
    Ok((score, why))
}

/// Ranks `candidates` for the need case, suggesting the best `limit`.
///
/// Candidates that do not address the need are left out without being listed
/// (pass only the services indexed under the need to keep it cheap); all other
/// candidates appear in exactly one of the two lists.
pub fn rank<'a>(
    seeker: Seeker<'_>,
    candidates: impl IntoIterator<Item = Candidate<'a>>,
    limit: usize,
) -> Ranking {
    let mut eligible: Vec<(u32, ServiceId, Vec<Reason>)> = Vec::new();
    let mut left_out = Vec::new();
    for c in candidates {
        match judge(seeker, c) {
            Ok((score, reasons)) => eligible.push((score, c.id, reasons)),
            Err(reasons) if reasons.contains(&Exclusion::NeedNotAddressed) => {}
            Err(reasons) => left_out.push(LeftOut {
                service: c.id,
                reasons,
            }),
        }
    }
    eligible.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut suggested = Vec::with_capacity(limit.min(eligible.len()));
    for (i, (score, service, reasons)) in eligible.into_iter().enumerate() {
        let rank = i as u32 + 1;
        if i < limit {
            suggested.push(Scored {
                service,
                rank,
                score,
                reasons,
            });
        } else {
            left_out.push(LeftOut {
                service,
                reasons: vec![Exclusion::BelowCutoff { rank }],
            });
        }
    }
    left_out.sort_unstable_by_key(|l| l.service);
    Ranking {
        suggested,
        left_out,
    }
}

#[cfg(test)]
mod tests;
