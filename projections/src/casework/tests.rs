//! The read model fed fixed event lists.

mod changes;
mod checkpoint;
mod directory_history;
mod fold;
mod footprint;
mod referral_log;

use super::*;
use careledger_domain::aggregate::Command;
use careledger_domain::ids::{EventId, ReferralId, ServiceId};
use careledger_domain::need_case::{CloseReason, NeedCaseAction, SuggestedService};
use careledger_domain::personal::Sealed;
use careledger_domain::recipient::{
    CareRecipient, RecipientAction, RecipientKind, RecipientProfile, RegisterCareRecipient,
};
use careledger_domain::store::{Actor, EventMetadata, Role, StreamName};
use careledger_domain::values::{
    BirthYear, CancerSiteGroup, Country, LanguageTag, PostalCode, PreferentialReimbursement, Sex,
};
use chrono::TimeZone;
use uuid::Uuid;

fn day(d: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).unwrap() + Duration::days(d)
}

/// Builds a log the way the command side would: decide, then record.
#[derive(Default)]
struct Log {
    events: Vec<RecordedEvent>,
}

impl Log {
    fn record(
        &mut self,
        stream: StreamName,
        version: u64,
        event: DomainEvent,
        at: DateTime<Utc>,
        who: &str,
    ) {
        let position = Position::new(self.events.len() as u64 + 1);
        self.events.push(RecordedEvent {
            id: EventId::from_uuid(Uuid::from_u128(position.raw() as u128)),
            stream,
            version,
            position,
            recorded_at: at,
            event,
            metadata: EventMetadata {
                occurred_at: at,
                actor: Actor {
                    subject: who.into(),
                    role: Role::Coordinator,
                },
                site: None,
                correlation_id: Uuid::nil(),
                causation_id: None,
            },
        });
    }

    fn register(&mut self, n: u128, site: &str) -> RecipientProfile {
        let id = RecipientId::from_uuid(Uuid::from_u128(n));
        let action = RecipientAction::Register(RegisterCareRecipient {
            recipient: id,
            site: SiteId::parse(site).unwrap(),
            kind: RecipientKind::Patient,
            birth_year: BirthYear::parse(1960).unwrap(),
            sex: Sex::Female,
            postal_code: PostalCode::parse(Country::BE, "3000").unwrap(),
            language: LanguageTag::parse("nl").unwrap(),
            preferential_reimbursement: PreferentialReimbursement::No,
            deprivation_decile: None,
            cancer_site_group: CancerSiteGroup::Breast,
            personal: None,
        });
        let events = CareRecipient::default()
            .decide(&Command::now(action, day(0)))
            .unwrap();
        let RecipientEvent::CareRecipientRegistered(r) = &events[0] else {
            unreachable!()
        };
        let profile = r.profile.clone();
        self.record(
            StreamName::recipient(id),
            0,
            events[0].clone().into(),
            day(0),
            "c1",
        );
        profile
    }

    /// Runs need-case commands against the stream's current state and records the result.
    fn need_case(&mut self, id: NeedCaseId, steps: Vec<(NeedCaseAction, i64, &str)>) {
        let stream = StreamName::need_case(id);
        for (action, d, who) in steps {
            let view =
                NeedCaseView::from_history(self.events.iter().filter(|e| e.stream == stream));
            let version = self.events.iter().filter(|e| e.stream == stream).count() as u64;
            let events = view
                .state
                .decide(&Command {
                    action,
                    occurred_at: day(d),
                    now: day(400),
                })
                .unwrap();
            for e in events {
                self.record(stream.clone(), version, e.into(), day(d), who);
            }
        }
    }
}

fn nc(n: u128) -> NeedCaseId {
    NeedCaseId::from_uuid(Uuid::from_u128(1000 + n))
}
fn refid(n: u128) -> ReferralId {
    ReferralId::from_uuid(Uuid::from_u128(2000 + n))
}
fn svc() -> ServiceId {
    ServiceId::from_uuid(Uuid::from_u128(3000))
}
fn identify(n: u128, p: &RecipientProfile) -> NeedCaseAction {
    NeedCaseAction::IdentifyNeed {
        need_case: nc(n),
        recipient: p.clone(),
        need: NeedCode::parse("psy.fear-of-recurrence").unwrap(),
    }
}
fn suggest() -> NeedCaseAction {
    NeedCaseAction::SuggestServices {
        ranked: None,
        services: vec![SuggestedService {
            score: None,
            service: svc(),
            reasons: vec![],
        }],
    }
}
fn request(n: u128) -> NeedCaseAction {
    NeedCaseAction::RequestReferral {
        referral: refid(n),
        service: svc(),
        consent: careledger_domain::need_case::ShareConsent::ReferralOnly,
    }
}

/// Three need cases at be-leuven (open referral by c2; untouched since day 1; closed)
/// and one at de-koeln with an open referral.
fn sample() -> Log {
    let mut log = Log::default();
    let leuven = log.register(1, "be-leuven");
    let koeln = log.register(2, "de-koeln");
    log.need_case(
        nc(1),
        vec![
            (identify(1, &leuven), 1, "c1"),
            (suggest(), 2, "c1"),
            (request(1), 30, "c2"),
        ],
    );
    log.need_case(nc(2), vec![(identify(2, &leuven), 1, "c1")]);
    log.need_case(
        nc(3),
        vec![
            (identify(3, &leuven), 1, "c1"),
            (
                NeedCaseAction::CloseNeed {
                    reason: CloseReason::DeclinedByRecipient,
                },
                2,
                "c1",
            ),
        ],
    );
    log.need_case(
        nc(4),
        vec![
            (identify(4, &koeln), 1, "c3"),
            (suggest(), 40, "c3"),
            (request(4), 40, "c3"),
        ],
    );
    log
}

/// The profile of the service the logs refer to ([`svc`]): it addresses the
/// need the logs identify, in Dutch, in Belgium.
fn service_profile() -> careledger_domain::directory::ServiceProfile {
    use careledger_domain::directory::*;
    ServiceProfile {
        organisation: "Org".into(),
        organisation_id: None,
        name: Localized {
            en: "S".into(),
            fr: "S".into(),
            nl: "S".into(),
            de: "S".into(),
        },
        description: Localized::default(),
        needs: vec![NeedCode::parse("psy.fear-of-recurrence").unwrap()],
        languages: vec![LanguageTag::parse("nl").unwrap()],
        area: ServiceArea {
            countries: vec![Country::BE],
            ..ServiceArea::default()
        },
        eligibility: Eligibility::default(),
        cost: Cost::Free,
        contact: Contact::default(),
        cost_note: None,
        untranslated: vec![],
    }
}

fn fold(log: &Log) -> Casework {
    let mut m = Casework::default();
    for e in &log.events {
        m.apply(e);
    }
    m
}

fn overdue_at(d: i64) -> Overdue {
    Overdue {
        now: day(d),
        days: 14,
    }
}

#[test]
fn folding_a_log_gives_each_need_case_its_status_version_position_and_actors() {
    let log = sample();
    let m = fold(&log);
    assert_eq!(m.position(), log.events.last().unwrap().position);
    let v = m.need_case(nc(1)).unwrap();
    assert_eq!(v.status(), NeedStatus::Referred);
    assert_eq!(v.version, 2);
    assert_eq!(v.updated_at, day(30));
    assert_eq!(v.identified_by, "c1");
    assert_eq!(v.referred_by.as_deref(), Some("c2"));
    assert_eq!(m.need_case(nc(3)).unwrap().status(), NeedStatus::Closed);
    let r = m
        .recipient(RecipientId::from_uuid(Uuid::from_u128(1)))
        .unwrap();
    assert_eq!(*r.need_cases, [nc(1), nc(2), nc(3)]);
    assert!(
        !m.open.contains(&nc(3)),
        "a closed need case leaves the open set"
    );
    assert_eq!(m.open.len(), 3);
}

#[test]
fn events_at_or_before_the_checkpoint_are_not_folded_twice() {
    let log = sample();
    let once = fold(&log);
    let mut twice = once.clone();
    for e in &log.events {
        twice.apply(e);
    }
    assert!(twice == once);
}

#[test]
fn a_snapshot_restores_the_same_model_and_a_foreign_one_is_refused() {
    let m = fold(&sample());
    let back = Casework::from_snapshot(&m.to_snapshot()).unwrap();
    assert!(back == m, "the restored model differs");
    assert_eq!(back.position(), m.position());
    assert!(Casework::from_snapshot(br#"{"format":999,"casework":{}}"#).is_none());
    assert!(Casework::from_snapshot(b"not json").is_none());
    assert!(Casework::from_snapshot(b"").is_none());
}

#[test]
fn need_case_listings_filter_and_page_both_ways() {
    let m = fold(&sample());
    let all = NeedCaseFilter::default();
    let ids = |p: Page<'_, NeedCaseId>| p.items.iter().map(|(k, _)| *k).collect::<Vec<_>>();

    let p = m.need_cases(&all, overdue_at(50), Slice::First { n: 2, after: None });
    assert!(p.has_next && !p.has_previous);
    assert_eq!(ids(p), vec![nc(1), nc(2)]);
    let p = m.need_cases(
        &all,
        overdue_at(50),
        Slice::First {
            n: 2,
            after: Some(nc(2)),
        },
    );
    assert!(!p.has_next && p.has_previous);
    assert_eq!(ids(p), vec![nc(3), nc(4)]);
    let p = m.need_cases(
        &all,
        overdue_at(50),
        Slice::Last {
            n: 3,
            before: Some(nc(4)),
        },
    );
    assert_eq!(ids(p), vec![nc(1), nc(2), nc(3)]);

    let leuven = NeedCaseFilter {
        sites: Some(vec![SiteId::parse("be-leuven").unwrap()]),
        ..Default::default()
    };
    assert_eq!(m.count_need_cases(&leuven, overdue_at(50)), 3);
    let closed = NeedCaseFilter {
        statuses: Some(vec![NeedStatus::Closed]),
        ..Default::default()
    };
    assert_eq!(
        ids(m.need_cases(&closed, overdue_at(50), Slice::First { n: 10, after: None })),
        vec![nc(3)]
    );
    // On day 50 with N = 14: nc(2) (untouched since day 1) and nc(1) (day 30) are
    // overdue; nc(4) changed on day 40 is not; closed nc(3) never is.
    let overdue = NeedCaseFilter {
        overdue: Some(true),
        ..Default::default()
    };
    assert_eq!(
        ids(m.need_cases(
            &overdue,
            overdue_at(50),
            Slice::First { n: 10, after: None }
        )),
        vec![nc(1), nc(2)]
    );
    let not_overdue = NeedCaseFilter {
        overdue: Some(false),
        ..Default::default()
    };
    assert_eq!(m.count_need_cases(&not_overdue, overdue_at(50)), 2);
}

#[test]
fn the_worklist_holds_open_referrals_and_overdue_cases_oldest_first() {
    let m = fold(&sample());
    let leuven = [SiteId::parse("be-leuven").unwrap()];
    let keys = |p: &Page<'_, WorklistKey>| p.items.iter().map(|(k, _)| k.1).collect::<Vec<_>>();
    // Day 10 (the model holds the whole log): nc(1) has an open referral; nc(2),
    // untouched since day 1, is not overdue yet with N = 14.
    let (p, total) = m.worklist(
        &leuven,
        None,
        overdue_at(10),
        Slice::First { n: 10, after: None },
    );
    assert_eq!((keys(&p), total), (vec![nc(1)], 1));
    // Day 31: nc(1) has an open referral (day 30), nc(2) overdue since long: oldest first.
    let (p, _) = m.worklist(
        &leuven,
        None,
        overdue_at(31),
        Slice::First { n: 10, after: None },
    );
    assert_eq!(keys(&p), vec![nc(2), nc(1)]);
    // Paging: one at a time.
    let (p1, _) = m.worklist(
        &leuven,
        None,
        overdue_at(31),
        Slice::First { n: 1, after: None },
    );
    assert!(p1.has_next);
    let (p2, _) = m.worklist(
        &leuven,
        None,
        overdue_at(31),
        Slice::First {
            n: 1,
            after: Some(p1.items[0].0),
        },
    );
    assert_eq!(keys(&p2), vec![nc(1)]);
    assert!(!p2.has_next && p2.has_previous);
    // Only the referrals c2 requested.
    let (p, _) = m.worklist(
        &leuven,
        Some("c2"),
        overdue_at(31),
        Slice::First { n: 10, after: None },
    );
    assert_eq!(keys(&p), vec![nc(1)]);
    // Another site's cases never show.
    let (p, _) = m.worklist(
        &[SiteId::parse("de-koeln").unwrap()],
        None,
        overdue_at(41),
        Slice::First { n: 10, after: None },
    );
    assert_eq!(keys(&p), vec![nc(4)]);
}

/// The service's load follows its referrals: counts by state, acceptance over
/// answers, the median days from request to acceptance; the need index follows
/// profile updates.
#[test]
fn service_load_and_the_need_index_follow_the_log() {
    use careledger_domain::directory::*;
    use careledger_domain::need_case::{ReferralStatus, RejectionReason};
    let mut log = Log::default();
    let mut profile = service_profile();
    let reg = ServiceEvent::ServiceRegistered(ServiceRegistered {
        service: svc(),
        profile: Box::new(profile.clone()),
        capacity: Capacity::HasCapacity,
    });
    log.record(StreamName::service(svc()), 0, reg.into(), day(0), "admin");
    let p = log.register(1, "be-leuven");
    let accept = |n| NeedCaseAction::AcceptReferral { referral: refid(n) };
    // Accepted after 3 and after 6 days; one rejected; one still requested.
    log.need_case(
        nc(1),
        vec![
            (identify(1, &p), 1, "c"),
            (suggest(), 1, "c"),
            (request(1), 10, "c"),
            (accept(1), 13, "c"),
        ],
    );
    log.need_case(
        nc(2),
        vec![
            (identify(2, &p), 1, "c"),
            (suggest(), 1, "c"),
            (request(2), 10, "c"),
            (accept(2), 16, "c"),
        ],
    );
    log.need_case(
        nc(3),
        vec![
            (identify(3, &p), 1, "c"),
            (suggest(), 1, "c"),
            (request(3), 10, "c"),
            (
                NeedCaseAction::RejectReferral {
                    referral: refid(3),
                    reason: RejectionReason::NoCapacity,
                },
                11,
                "c",
            ),
        ],
    );
    log.need_case(
        nc(4),
        vec![
            (identify(4, &p), 1, "c"),
            (suggest(), 1, "c"),
            (request(4), 10, "c"),
        ],
    );
    let m = fold(&log);
    let load = m.directory().load(svc());
    assert_eq!(load.count(ReferralStatus::Accepted), 2);
    assert_eq!(load.count(ReferralStatus::Rejected), 1);
    assert_eq!(load.count(ReferralStatus::Requested), 1);
    assert_eq!(load.acceptance_rate(), Some(2.0 / 3.0));
    assert_eq!(load.median_days_to_acceptance(), Some(4.5));
    let need = NeedCode::parse("psy.fear-of-recurrence").unwrap();
    assert_eq!(m.directory().candidates(&need).count(), 1);

    // The profile now names another need: the index follows.
    profile.needs = vec![NeedCode::parse("psy.anxiety").unwrap()];
    let mut log2 = log;
    let upd = ServiceEvent::ServiceUpdated(ServiceUpdated {
        profile: Box::new(profile),
    });
    log2.record(StreamName::service(svc()), 1, upd.into(), day(20), "admin");
    let m = fold(&log2);
    assert_eq!(m.directory().candidates(&need).count(), 0);
    assert_eq!(
        m.directory()
            .candidates(&NeedCode::parse("psy.anxiety").unwrap())
            .count(),
        1
    );
}

/// The equity cube counts each need case once per table, follows its milestones,
/// and drops it when it is entered in error.
#[test]
fn the_equity_cube_follows_the_need_cases() {
    use crate::equity::cube::{CubeFilter, Stratifier};
    use careledger_domain::need_case::{ErrorReason, ErrorTarget};
    let mut log = sample();
    let m = fold(&log);
    let by_site = m.equity().groups(Stratifier::Site, &CubeFilter::default());
    let get = |g: &Vec<(String, crate::equity::cube::Counts)>, v: &str| {
        g.iter().find(|(x, _)| x == v).unwrap().1
    };
    assert_eq!(
        (
            get(&by_site, "be-leuven").identified,
            get(&by_site, "be-leuven").referred
        ),
        (3, 1)
    );
    assert_eq!(
        (
            get(&by_site, "de-koeln").identified,
            get(&by_site, "de-koeln").referred
        ),
        (1, 1)
    );
    let by_lang = m
        .equity()
        .groups(Stratifier::Language, &CubeFilter::default());
    assert_eq!(by_lang.len(), 1);
    assert_eq!(
        by_lang[0].1.identified, 4,
        "every table counts every case once"
    );
    // Times to referral at be-leuven: referred after 29 days; closed after 1 day
    // without referral (censored); one still waiting (censored at the query's end).
    let times = m.equity().times(Stratifier::Site, &CubeFilter::default());
    let leuven = &times
        .iter()
        .find(|(g, _)| g == "be-leuven")
        .unwrap()
        .1
        .referral;
    assert_eq!(leuven.events.iter().collect::<Vec<_>>(), vec![(&29, &1)]);
    assert_eq!(leuven.censored.iter().collect::<Vec<_>>(), vec![(&1, &1)]);
    assert_eq!(leuven.open.values().sum::<u64>(), 1);
    let day1 = (day(1).timestamp() / 86_400) as i32;
    let km = leuven.fit(day1 + 100);
    assert_eq!((km.n, km.events), (3, 1));
    // Filters: by site, by domain, by month.
    let f = CubeFilter {
        sites: Some(vec!["de-koeln".into()]),
        ..CubeFilter::default()
    };
    assert_eq!(m.equity().groups(Stratifier::Sex, &f)[0].1.identified, 1);
    let f = CubeFilter {
        domains: Some(vec!["social".into()]),
        ..CubeFilter::default()
    };
    assert!(m.equity().groups(Stratifier::Sex, &f).is_empty());
    // nc(2) entered in error: out of the population.
    log.need_case(
        nc(2),
        vec![(
            NeedCaseAction::MarkEnteredInError {
                target: ErrorTarget::NeedCase,
                reason: ErrorReason::Duplicate,
            },
            3,
            "c1",
        )],
    );
    let m = fold(&log);
    let by_site = m.equity().groups(Stratifier::Site, &CubeFilter::default());
    assert_eq!(get(&by_site, "be-leuven").identified, 2);
}

fn request_with_contact(n: u128) -> NeedCaseAction {
    NeedCaseAction::RequestReferral {
        referral: refid(n),
        service: svc(),
        consent: careledger_domain::need_case::ShareConsent::ReferralAndContact,
    }
}

fn sealed_note(n: u128, side: careledger_domain::need_case::Side) -> NeedCaseAction {
    NeedCaseAction::AddReferralNote {
        referral: refid(1),
        note: careledger_domain::ids::NoteId::from_uuid(Uuid::from_u128(5000 + n)),
        side,
        text: Sealed {
            alg: "XChaCha20-Poly1305".into(),
            nonce: format!("nonce{n}"),
            ciphertext: "c2VhbGVk".into(),
        },
    }
}

/// Issue 16: the referral keeps the consent it was requested with until it is
/// withdrawn; notes are kept sealed beside the need case, and an erasure drops
/// their sealed text (not that they were written), folded from scratch too.
#[test]
fn consent_and_sealed_notes_are_folded_and_erasure_drops_the_notes_texts() {
    use careledger_domain::need_case::{ShareConsent, Side};
    let mut log = Log::default();
    let p = log.register(1, "be-leuven");
    log.need_case(
        nc(1),
        vec![
            (identify(1, &p), 1, "c1"),
            (suggest(), 2, "c1"),
            (request_with_contact(1), 3, "c1"),
            (sealed_note(1, Side::Requester), 4, "c1"),
            (sealed_note(2, Side::Performer), 5, "provider"),
        ],
    );
    let m = fold(&log);
    let consent = |m: &Casework| {
        m.need_case(nc(1))
            .unwrap()
            .state
            .referral(refid(1))
            .unwrap()
            .consent
    };
    assert_eq!(consent(&m), ShareConsent::ReferralAndContact);
    let notes: Vec<_> = m.referral_notes(nc(1), refid(1)).collect();
    assert_eq!(notes.len(), 2);
    assert_eq!(
        (notes[0].side, notes[0].written_at, notes[1].side),
        (Side::Requester, day(4), Side::Performer)
    );
    assert!(notes.iter().all(|n| n.text.is_some()));
    assert_eq!(m.referral_notes(nc(1), refid(2)).count(), 0);

    log.need_case(
        nc(1),
        vec![(
            NeedCaseAction::WithdrawConsent { referral: refid(1) },
            6,
            "c1",
        )],
    );
    assert_eq!(consent(&fold(&log)), ShareConsent::ReferralOnly);

    log.record(
        StreamName::recipient(p.recipient),
        1,
        DomainEvent::Recipient(RecipientEvent::CareRecipientErased(
            careledger_domain::recipient::CareRecipientErased {},
        )),
        day(7),
        "admin",
    );
    let m = fold(&log);
    let notes: Vec<_> = m.referral_notes(nc(1), refid(1)).collect();
    assert_eq!(notes.len(), 2, "that notes were written stays");
    assert!(
        notes.iter().all(|n| n.text.is_none()),
        "their sealed text is gone"
    );
    let bytes = m.to_snapshot();
    assert!(
        !bytes.windows(8).any(|w| w == b"c2VhbGVk"),
        "nor is it in a checkpoint"
    );
    assert_eq!(Casework::from_snapshot(&m.to_snapshot()), Some(m));
}

/// Issue 16: withdrawing consent and writing notes change no equity statistic.
#[test]
fn consent_withdrawals_and_notes_leave_the_equity_cube_unchanged() {
    use careledger_domain::need_case::Side;
    let plain = fold(&sample());
    let mut log = sample();
    log.need_case(
        nc(1),
        vec![
            (sealed_note(1, Side::Performer), 31, "provider"),
            (sealed_note(2, Side::Requester), 32, "c2"),
        ],
    );
    let mut other = Log::default();
    let p = other.register(9, "be-leuven");
    other.need_case(
        nc(9),
        vec![
            (identify(9, &p), 1, "c1"),
            (suggest(), 2, "c1"),
            (request_with_contact(9), 3, "c1"),
        ],
    );
    let base = fold(&other);
    other.need_case(
        nc(9),
        vec![(
            NeedCaseAction::WithdrawConsent { referral: refid(9) },
            4,
            "c1",
        )],
    );
    assert_eq!(fold(&log).equity(), plain.equity());
    assert_eq!(fold(&other).equity(), base.equity());
}
