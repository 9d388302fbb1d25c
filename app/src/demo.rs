//! `careledger serve --demo`: a realistic synthetic data set, loaded through the
//! same command path as the API ([`App::execute`]), on an empty store.
//!
//! Six sites in Belgium, Germany and the Netherlands; care recipients with varied
//! age, sex, region, language, preferential-reimbursement status and deprivation
//! decile; needs across the four domains; referrals in every state of the
//! lifecycle; dates spread over the past 18 months (cases still open where their
//! next step would lie in the future). Access is deliberately not equal — older,
//! more deprived recipients and those whose language is not the site's are referred
//! a little less often — so the equity dashboards have something to find.
//!
//! Reproducible: every choice comes from a seeded generator, one per recipient
//! (seeded from the run's seed and the recipient's number), so the data does not
//! depend on how the concurrent loading is scheduled; dates count back from the
//! start of the current day (UTC), so runs on the same day give the same data. Ids are derived from the
//! generator too (UUIDv7-shaped, stamped with the time the record was created).

use crate::directory::{ImportSummary, ServiceRecord};
use crate::{App, AppError, CommandContext};
use careledger_domain::ids::{NeedCaseId, RecipientId, ReferralId, ServiceId};
use careledger_domain::need_case::{
    CancelReason, CancelledBy, CloseReason, ErrorReason, ErrorTarget, FailureReason, NeedCase,
    NeedCaseAction, Outcome, RejectionReason,
};
use careledger_domain::recipient::{
    CareRecipient, RecipientAction, RecipientKind, RegisterCareRecipient,
};
use careledger_domain::store::{Actor, Role, StreamName};
use careledger_domain::values::{
    BirthYear, CancerSiteGroup, Country, DeprivationDecile, LanguageTag, NeedCode, PostalCode,
    PreferentialReimbursement, Sex, SiteId,
};
use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;
use uuid::Uuid;

/// SplitMix64: small, fast, and good enough for synthetic data.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    /// Picks by weight.
    pub fn weighted<'a, T>(&mut self, items: &'a [(T, u32)]) -> &'a T {
        let total: u32 = items.iter().map(|(_, w)| w).sum();
        let mut x = self.below(u64::from(total)) as u32;
        for (item, w) in items {
            if x < *w {
                return item;
            }
            x -= w;
        }
        &items[items.len() - 1].0
    }
    /// A UUIDv7 stamped with `at`, its random bits from the generator.
    pub fn uuid_v7(&mut self, at: DateTime<Utc>) -> Uuid {
        let mut bytes = [0u8; 10];
        bytes[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        bytes[8..].copy_from_slice(&self.next_u64().to_le_bytes()[..2]);
        uuid::Builder::from_unix_timestamp_millis(at.timestamp_millis().max(0) as u64, &bytes)
            .into_uuid()
    }
}

struct Site {
    id: &'static str,
    country: Country,
    postal_codes: &'static [&'static str],
    /// Languages and their weights; the first is the site's own.
    languages: &'static [(&'static str, u32)],
}

const SITES: [Site; 6] = [
    Site {
        id: "be-leuven",
        country: Country::BE,
        postal_codes: &["3000", "3001", "3010", "3200", "2800", "1000", "3500"],
        languages: &[("nl", 80), ("fr", 10), ("en", 5), ("tr", 3), ("ar", 2)],
    },
    Site {
        id: "be-liege",
        country: Country::BE,
        postal_codes: &["4000", "4020", "4100", "4500", "4700", "5000", "6700"],
        languages: &[("fr", 82), ("de", 8), ("nl", 4), ("it", 3), ("ar", 3)],
    },
    Site {
        id: "de-aachen",
        country: Country::DE,
        postal_codes: &["52062", "52064", "52072", "52477", "52349"],
        languages: &[("de", 85), ("tr", 6), ("nl", 4), ("en", 3), ("ru", 2)],
    },
    Site {
        id: "de-koeln",
        country: Country::DE,
        postal_codes: &["50667", "50823", "51103", "50999", "53111"],
        languages: &[("de", 82), ("tr", 9), ("en", 4), ("pl", 3), ("ar", 2)],
    },
    Site {
        id: "nl-maastricht",
        country: Country::NL,
        postal_codes: &["6211AB", "6221CD", "6411EF", "6131GH", "5611AA"],
        languages: &[("nl", 84), ("de", 6), ("en", 5), ("fr", 3), ("ar", 2)],
    },
    Site {
        id: "nl-nijmegen",
        country: Country::NL,
        postal_codes: &["6511AA", "6525GA", "6541XY", "7511AB", "6811CD"],
        languages: &[("nl", 86), ("en", 6), ("tr", 4), ("de", 2), ("pl", 2)],
    },
];

const CANCER_SITES: [(CancerSiteGroup, u32); 12] = [
    (CancerSiteGroup::Breast, 22),
    (CancerSiteGroup::Lung, 12),
    (CancerSiteGroup::Colorectal, 12),
    (CancerSiteGroup::Prostate, 11),
    (CancerSiteGroup::Haematological, 9),
    (CancerSiteGroup::Gynaecological, 6),
    (CancerSiteGroup::HeadAndNeck, 5),
    (CancerSiteGroup::Skin, 5),
    (CancerSiteGroup::UpperGastrointestinal, 5),
    (CancerSiteGroup::Urological, 5),
    (CancerSiteGroup::CentralNervousSystem, 2),
    (CancerSiteGroup::Other, 6),
];

/// One command to run at a time in care.
///
/// Two actions are completed when they run, from the need case as it then is: a
/// `SuggestServices` with an empty list is ranked by the matcher against the
/// directory; a `RequestReferral` with `pick: Some(k)` goes to the k-th suggested
/// service.
struct Step {
    at: DateTime<Utc>,
    action: NeedCaseAction,
    pick: Option<usize>,
}

/// Loads the data set: `recipients` care recipients (relatives included) and their
/// need cases. Prints a summary.
/// What [`load`] did.
#[derive(Debug, Clone, Copy)]
pub struct Loaded {
    pub directory: ImportSummary,
    pub recipients: u32,
    pub commands: u64,
}

/// Loads the demonstration data set through the command path: `directory` (the
/// shipped example package, which the edge reads) through the directory's
/// import, then `recipients` care recipients with their need cases and
/// referrals, drawn from `seed`. `tick` is called after each recipient.
///
/// # Errors
/// The first command refused or failed (the data set is valid, so only the
/// store failing should cause one).
pub async fn load(
    app: &Arc<App>,
    directory: &[ServiceRecord],
    seed: u64,
    recipients: u32,
    tick: impl Fn(),
) -> Result<Loaded, AppError> {
    // Dates are anchored to the start of today (UTC), not to this instant, so two
    // runs on the same day with the same seed give identical data.
    let now = app
        .clock
        .now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc();
    let codes: Arc<Vec<NeedCode>> = Arc::new(
        app.catalogue
            .needs()
            .iter()
            .map(|n| n.code().clone())
            .collect(),
    );
    // The directory first, through the same import as `import-hsds`.
    let imported = crate::directory::import_services(app, directory, || {}).await?;
    let head = app.store.head().await?;
    app.projector
        .wait_for(head, std::time::Duration::from_secs(60))
        .await
        .map_err(|e| {
            AppError::unavailable_msg(format!(
                "the directory's read model did not catch up: {e:?}"
            ))
        })?;
    let mut covered: Vec<NeedCode> = directory
        .iter()
        .filter(|s| s.active)
        .flat_map(|s| s.profile.needs.iter().cloned())
        .collect();
    covered.sort();
    covered.dedup();
    let covered = Arc::new(covered);
    let limit = Arc::new(tokio::sync::Semaphore::new(64));
    let mut tasks = tokio::task::JoinSet::new();
    let mut commands = 0u64;
    let joined =
        |r: Result<Result<u64, AppError>, tokio::task::JoinError>| r.map_err(AppError::internal)?;
    for n in 0..recipients {
        let permit = limit
            .clone()
            .acquire_owned()
            .await
            .map_err(AppError::internal)?;
        let (app, codes, covered) = (app.clone(), codes.clone(), covered.clone());
        tasks.spawn(async move {
            let r = one_recipient(&app, seed, n, now, &codes, &covered).await;
            drop(permit);
            r
        });
        while let Some(done) = tasks.try_join_next() {
            commands += joined(done)?;
            tick();
        }
    }
    while let Some(done) = tasks.join_next().await {
        commands += joined(done)?;
        tick();
    }
    Ok(Loaded {
        directory: imported,
        recipients,
        commands,
    })
}

fn coordinator(site: &str, rng: &mut Rng) -> Actor {
    Actor {
        subject: format!("demo-{site}-coordinator-{}", rng.below(4) + 1),
        role: Role::Coordinator,
    }
}

fn ctx(actor: &Actor, at: DateTime<Utc>) -> CommandContext {
    CommandContext {
        actor: actor.clone(),
        idempotency_key: None,
        expected_version: None,
        occurred_at: Some(at),
        correlation_id: Uuid::now_v7(),
    }
}

/// The first draws of recipient `n`: their generator (to draw the rest from), site,
/// registration time and id — the same whenever asked, so a relative can name
/// the patient generated before them.
fn identity(
    seed: u64,
    n: u32,
    now: DateTime<Utc>,
) -> (Rng, &'static Site, DateTime<Utc>, RecipientId) {
    let mut rng = Rng::new(seed.wrapping_mul(0x1000_0000_01B3) ^ u64::from(n));
    let site = rng.pick(&SITES);
    let registered = now - Duration::minutes(rng.below(540 * 24 * 60) as i64 + 60 * 24);
    let id = RecipientId::from_uuid(rng.uuid_v7(registered));
    (rng, site, registered, id)
}

/// Registers one recipient and runs their need cases; returns the commands run.
async fn one_recipient(
    app: &App,
    seed: u64,
    n: u32,
    now: DateTime<Utc>,
    codes: &[NeedCode],
    covered: &[NeedCode],
) -> Result<u64, AppError> {
    let (mut rng, mut site, registered, id) = identity(seed, n, now);
    let relative = n % 9 == 8;
    // A relative is the relative of the patient generated just before them (n − 1
    // is never a relative), registered at that patient's site: the rule the API
    // keeps (a relative's patient is a patient of the same coordinators' sites).
    let patient = relative.then(|| {
        let (_, patient_site, _, patient) = identity(seed, n - 1, now);
        site = patient_site;
        patient
    });
    let actor = coordinator(site.id, &mut rng);
    let birth_year = if relative {
        1950 + rng.below(55) as i32
    } else {
        1935 + rng.below(72) as i32
    };
    let language = *rng.weighted(site.languages);
    let deprivation = (!rng.chance(0.2)).then(|| rng.below(10) as u8 + 1);
    let preferential = match deprivation {
        Some(d) if d <= 3 => {
            if rng.chance(0.55) {
                PreferentialReimbursement::Yes
            } else {
                PreferentialReimbursement::No
            }
        }
        _ if rng.chance(0.08) => PreferentialReimbursement::Unknown,
        _ => {
            if rng.chance(0.15) {
                PreferentialReimbursement::Yes
            } else {
                PreferentialReimbursement::No
            }
        }
    };
    let register = RegisterCareRecipient {
        recipient: id,
        site: SiteId::parse(site.id).map_err(AppError::internal)?,
        kind: match patient {
            Some(patient) => RecipientKind::Relative { patient },
            None => RecipientKind::Patient,
        },
        birth_year: BirthYear::parse(birth_year).map_err(AppError::internal)?,
        sex: *rng.weighted(&[
            (Sex::Female, 52),
            (Sex::Male, 46),
            (Sex::Other, 1),
            (Sex::Unknown, 1),
        ]),
        postal_code: PostalCode::parse(site.country, rng.pick::<&str>(site.postal_codes))
            .map_err(AppError::internal)?,
        language: LanguageTag::parse(language).map_err(AppError::internal)?,
        preferential_reimbursement: preferential,
        deprivation_decile: deprivation
            .map(DeprivationDecile::parse)
            .transpose()
            .map_err(AppError::internal)?,
        cancer_site_group: if relative {
            CancerSiteGroup::Unknown
        } else {
            *rng.weighted(&CANCER_SITES)
        },
        personal: None,
    };
    let profile_site = register.site.clone();
    let x = app
        .execute::<CareRecipient>(
            StreamName::recipient(id),
            RecipientAction::Register(register),
            &ctx(&actor, registered),
            |_| Ok(()),
        )
        .await?;
    let state = crate::fold::<CareRecipient>(&x.history);
    let profile = state
        .profile()
        .cloned()
        .ok_or_else(|| AppError::internal_msg("demo: recipient not registered"))?;
    debug_assert_eq!(profile.site, profile_site);
    let mut commands = 1u64;

    // Access is not equal: a lower chance of referral for the oldest, the most
    // deprived and those who do not speak the site's language.
    let mut refer_p: f64 = 0.85;
    if birth_year < 1950 {
        refer_p -= 0.12;
    }
    if deprivation.is_some_and(|d| d <= 2) {
        refer_p -= 0.10;
    }
    if language != site.languages[0].0 {
        refer_p -= 0.12;
    }

    let needs = 1 + rng.below(3);
    for k in 0..needs {
        let identified = registered
            + Duration::minutes((k as i64) * 60 * 24 * 3 + rng.below(60 * 24 * 20) as i64);
        if identified > now {
            break;
        }
        let nc = NeedCaseId::from_uuid(rng.uuid_v7(identified));
        let need = if rng.chance(0.85) && !covered.is_empty() {
            rng.pick(covered).clone()
        } else {
            rng.pick(codes).clone()
        };
        let mut steps = vec![Step {
            pick: None,
            at: identified,
            action: NeedCaseAction::IdentifyNeed {
                need_case: nc,
                recipient: profile.clone(),
                need,
            },
        }];
        plan(&mut rng, identified, refer_p, &mut steps);
        let mut case = NeedCase::default();
        for step in steps {
            if step.at > now {
                break; // the future has not happened: the case stays where it is
            }
            let mut action = step.action;
            let d = case.data();
            match (&mut action, d) {
                (NeedCaseAction::SuggestServices { services, .. }, Some(d))
                    if services.is_empty() =>
                {
                    let (ranking, basis) = app.rank_services(d, step.at, 5);
                    action = if ranking.suggested.is_empty() {
                        // Nothing in the directory fits: an unmet need.
                        NeedCaseAction::CloseNeed {
                            reason: CloseReason::NoServiceAvailable,
                        }
                    } else {
                        crate::casework::ranked_suggestion(&ranking, basis)
                    };
                }
                (NeedCaseAction::RequestReferral { service, .. }, Some(d)) => {
                    if let (Some(k), false) = (step.pick, d.suggestions.is_empty()) {
                        *service = d.suggestions[k.min(d.suggestions.len() - 1)].service;
                    }
                }
                _ => {}
            }
            let closed = matches!(action, NeedCaseAction::CloseNeed { .. });
            let c = ctx(&actor, step.at);
            match app
                .execute::<NeedCase>(StreamName::need_case(nc), action, &c, |_| Ok(()))
                .await
            {
                Ok(x) => {
                    commands += 1;
                    case = crate::fold::<NeedCase>(&x.history);
                }
                Err(e) => return Err(e),
            }
            if closed {
                break;
            }
        }
    }
    Ok(commands)
}

fn days(rng: &mut Rng, lo: u64, hi: u64) -> Duration {
    Duration::minutes(((lo + rng.below(hi - lo + 1)) * 24 * 60 + rng.below(600)) as i64)
}

/// Moves `at` on by `lo..=hi` days (and some minutes) and returns it.
fn adv(at: &mut DateTime<Utc>, rng: &mut Rng, lo: u64, hi: u64) -> DateTime<Utc> {
    *at += days(rng, lo, hi);
    *at
}

/// Plans the life of one need case after its identification.
fn plan(rng: &mut Rng, identified: DateTime<Utc>, refer_p: f64, steps: &mut Vec<Step>) {
    let mut at = identified;
    // Some needs wait for a follow-up conversation before anything is suggested.
    if rng.chance(0.04) {
        return;
    }
    // Some needs are settled without any referral.
    if rng.chance(0.08) {
        let reason = *rng.pick(&[
            CloseReason::ResolvedWithoutReferral,
            CloseReason::DeclinedByRecipient,
            CloseReason::Moved,
            CloseReason::Deceased,
        ]);
        steps.push(Step {
            pick: None,
            at: adv(&mut at, rng, 1, 20),
            action: NeedCaseAction::CloseNeed { reason },
        });
        return;
    }
    steps.push(Step {
        pick: None,
        at: adv(&mut at, rng, 0, 5),
        // Ranked by the matcher when it runs.
        action: NeedCaseAction::SuggestServices {
            services: vec![],
            ranked: None,
        },
    });
    if !rng.chance(refer_p) {
        if rng.chance(0.6) {
            let reason = *rng.pick(&[
                CloseReason::DeclinedByRecipient,
                CloseReason::NoServiceAvailable,
            ]);
            steps.push(Step {
                pick: None,
                at: adv(&mut at, rng, 5, 40),
                action: NeedCaseAction::CloseNeed { reason },
            });
        }
        return; // otherwise it stays suggested (and soon overdue)
    }
    // Up to three referrals: a rejected, cancelled or failed one leaves the case open.
    for attempt in 0..3u64 {
        let referral = ReferralId::from_uuid(rng.uuid_v7(at));
        // The service is the attempt-th suggestion, filled in when it runs.
        let service = ServiceId::from_uuid(Uuid::nil());
        steps.push(Step {
            pick: Some(attempt as usize),
            at: adv(&mut at, rng, 1, 14),
            action: NeedCaseAction::RequestReferral {
                referral,
                service,
                consent: careledger_domain::need_case::ShareConsent::ReferralOnly,
            },
        });
        let roll = rng.below(100);
        if roll < 4 {
            steps.push(Step {
                pick: None,
                at: adv(&mut at, rng, 0, 3),
                action: NeedCaseAction::MarkEnteredInError {
                    target: ErrorTarget::Referral { referral },
                    reason: ErrorReason::WrongService,
                },
            });
            continue;
        }
        if roll < 14 {
            let reason = *rng.pick(&[
                RejectionReason::NoCapacity,
                RejectionReason::NotEligible,
                RejectionReason::OutOfArea,
                RejectionReason::MissingInformation,
                RejectionReason::Other,
            ]);
            steps.push(Step {
                pick: None,
                at: adv(&mut at, rng, 1, 10),
                action: NeedCaseAction::RejectReferral { referral, reason },
            });
            continue;
        }
        if roll < 19 {
            let by = *rng.pick(&[CancelledBy::Requester, CancelledBy::Recipient]);
            let reason = *rng.pick(&[
                CancelReason::NoLongerNeeded,
                CancelReason::ReferredElsewhere,
                CancelReason::RecipientUnwell,
                CancelReason::RecipientChangedMind,
            ]);
            steps.push(Step {
                pick: None,
                at: adv(&mut at, rng, 1, 10),
                action: NeedCaseAction::CancelReferral {
                    referral,
                    by,
                    reason,
                },
            });
            continue;
        }
        steps.push(Step {
            pick: None,
            at: adv(&mut at, rng, 1, 12),
            action: NeedCaseAction::AcceptReferral { referral },
        });
        if rng.chance(0.2) {
            steps.push(Step {
                pick: None,
                at: adv(&mut at, rng, 0, 2),
                action: NeedCaseAction::WaitlistReferral {
                    referral,
                    estimated_wait_days: Some(7 + rng.below(50) as u16),
                },
            });
        }
        if rng.chance(0.08) {
            let reason = *rng.pick(&[
                FailureReason::NoShow,
                FailureReason::Unreachable,
                FailureReason::Declined,
            ]);
            steps.push(Step {
                pick: None,
                at: adv(&mut at, rng, 3, 30),
                action: NeedCaseAction::FailReferral { referral, reason },
            });
            continue;
        }
        steps.push(Step {
            pick: None,
            at: adv(&mut at, rng, 2, 40),
            action: NeedCaseAction::StartReferral { referral },
        });
        let outcome = *rng.weighted(&[
            (Outcome::NeedMet, 68),
            (Outcome::NeedPartlyMet, 22),
            (Outcome::NeedNotMet, 10),
        ]);
        steps.push(Step {
            pick: None,
            at: adv(&mut at, rng, 7, 90),
            action: NeedCaseAction::CompleteReferral { referral, outcome },
        });
        if rng.chance(0.01) {
            steps.push(Step {
                pick: None,
                at: adv(&mut at, rng, 1, 5),
                action: NeedCaseAction::MarkEnteredInError {
                    target: ErrorTarget::NeedCase,
                    reason: ErrorReason::Duplicate,
                },
            });
        }
        return;
    }
    // Three referrals came to nothing: most such cases are closed.
    if rng.chance(0.7) {
        steps.push(Step {
            pick: None,
            at: adv(&mut at, rng, 3, 20),
            action: NeedCaseAction::CloseNeed {
                reason: CloseReason::NoServiceAvailable,
            },
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_reproducible_and_ids_are_stamped_with_their_time() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        let xs: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..5).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        let at = DateTime::from_timestamp(1_760_000_000, 0).unwrap();
        let u = Rng::new(1).uuid_v7(at);
        assert_eq!(u.get_version_num(), 7);
        assert_eq!(u, Rng::new(1).uuid_v7(at));
        let (secs, _) = u.get_timestamp().unwrap().to_unix();
        assert_eq!(secs, 1_760_000_000);
    }

    /// A recipient's first draws are the same whenever asked, so a relative (n with
    /// n % 9 == 8) names exactly the patient generated before them (n − 1).
    #[test]
    fn a_recipients_identity_is_the_same_whenever_asked() {
        let now = DateTime::from_timestamp(1_760_000_000, 0).unwrap();
        for n in [7, 16, 25] {
            let (_, site_a, at_a, id_a) = identity(42, n, now);
            let (_, site_b, at_b, id_b) = identity(42, n, now);
            assert_eq!((site_a.id, at_a, id_a), (site_b.id, at_b, id_b));
            assert_ne!(identity(42, n + 1, now).3, id_a);
        }
    }

    #[test]
    fn every_site_postal_code_and_language_is_valid() {
        for s in &SITES {
            SiteId::parse(s.id).unwrap();
            for p in s.postal_codes {
                PostalCode::parse(s.country, p).unwrap();
            }
            for (l, _) in s.languages {
                LanguageTag::parse(l).unwrap();
            }
        }
    }
}
