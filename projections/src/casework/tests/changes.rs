//! The change feed: what each event changed, by topic, and the ring followers
//! read without missing or repeating a change.

use super::*;
use crate::changes::{ChangeFeed, Topic, change_of};
use careledger_domain::directory::*;
use careledger_domain::ids::OrganisationId;
use careledger_domain::need_case::ReferralStatus;

fn org() -> OrganisationId {
    OrganisationId::from_uuid(Uuid::from_u128(4000))
}

/// The sample log with the referred service registered to [`org`].
fn with_directory() -> Log {
    let mut log = Log::default();
    let profile = ServiceProfile {
        organisation_id: Some(org()),
        ..service_profile()
    };
    let reg = ServiceEvent::ServiceRegistered(ServiceRegistered {
        service: svc(),
        profile: Box::new(profile),
        capacity: Capacity::HasCapacity,
    });
    log.record(StreamName::service(svc()), 0, reg.into(), day(0), "admin");
    let leuven = log.register(1, "be-leuven");
    let koeln = log.register(2, "de-koeln");
    log.need_case(
        nc(1),
        vec![
            (identify(1, &leuven), 1, "c1"),
            (suggest(), 2, "c1"),
            (request(1), 3, "c1"),
            (
                NeedCaseAction::AcceptReferral { referral: refid(1) },
                4,
                "p1",
            ),
            (
                NeedCaseAction::StartReferral { referral: refid(1) },
                5,
                "p1",
            ),
        ],
    );
    log.need_case(
        nc(2),
        vec![
            (identify(2, &koeln), 1, "c3"),
            (suggest(), 2, "c3"),
            (request(2), 3, "c3"),
        ],
    );
    log
}

/// Each need-case event gives one change at its position with the need case's
/// site; referral moves carry the status the event set and the service's
/// organisation; events of other aggregates give none. Computed again from a
/// model that has moved on (a replay from the log), the answer is the same.
#[test]
fn each_event_of_a_need_case_gives_its_change_the_same_live_or_replayed() {
    let log = with_directory();
    let mut live = Casework::default();
    let mut seen = Vec::new();
    for e in &log.events {
        live.apply(e);
        seen.push(change_of(&live, e));
    }
    let later = fold(&log);
    for (e, c) in log.events.iter().zip(&seen) {
        assert_eq!(&change_of(&later, e), c, "event at {}", e.position);
    }
    let kinds: Vec<_> = seen
        .iter()
        .flatten()
        .map(|c| {
            (
                c.need_case,
                c.site.as_str().to_string(),
                c.event_type,
                c.referral
                    .as_ref()
                    .map(|r| (r.status.unwrap(), r.organisation)),
            )
        })
        .collect();
    let leuven = "be-leuven".to_string();
    let koeln = "de-koeln".to_string();
    assert_eq!(
        kinds,
        vec![
            (nc(1), leuven.clone(), "NeedIdentified", None),
            (nc(1), leuven.clone(), "ServicesSuggested", None),
            (
                nc(1),
                leuven.clone(),
                "ReferralRequested",
                Some((ReferralStatus::Requested, Some(org())))
            ),
            (
                nc(1),
                leuven.clone(),
                "ReferralAccepted",
                Some((ReferralStatus::Accepted, Some(org())))
            ),
            (
                nc(1),
                leuven,
                "ReferralStarted",
                Some((ReferralStatus::InProgress, Some(org())))
            ),
            (nc(2), koeln.clone(), "NeedIdentified", None),
            (nc(2), koeln.clone(), "ServicesSuggested", None),
            (
                nc(2),
                koeln,
                "ReferralRequested",
                Some((ReferralStatus::Requested, Some(org())))
            ),
        ]
    );
    // The service registration and the two recipients give no change.
    assert_eq!(seen.iter().filter(|c| c.is_none()).count(), 3);
    let c = seen[5].as_ref().unwrap();
    assert!(c.concerns(&Topic::Site(SiteId::parse("be-leuven").unwrap())));
    assert!(!c.concerns(&Topic::Site(SiteId::parse("de-koeln").unwrap())));
    assert!(c.concerns(&Topic::Organisation(org())));
    let identified = seen[3].as_ref().unwrap();
    assert!(!identified.concerns(&Topic::Organisation(org())));
}

/// Folds `log` through a feed the way the runner does (record, then notify).
fn feed_through(feed: &ChangeFeed, log: &Log, model: &mut Casework) {
    for e in &log.events {
        model.apply(e);
        if let Some(c) = feed.record(e.position, || change_of(model, e)) {
            feed.notify(&c);
        }
    }
}

/// With nobody following, nothing is kept and the floor moves with the log;
/// with a follower, each change is kept in order and the topic's receiver wakes;
/// once changes fall out of the ring, `since` says so instead of skipping any.
#[test]
fn the_ring_keeps_what_followers_need_and_says_when_it_no_longer_has_it() {
    let log = with_directory();
    let feed = std::sync::Arc::new(ChangeFeed::new(Position::START, 3));
    let leuven = Topic::Site(SiteId::parse("be-leuven").unwrap());
    let mut model = Casework::default();
    feed_through(&feed, &log, &mut model);
    let head = model.position();
    assert_eq!(feed.since(Position::START, head, &leuven), None);
    assert_eq!(feed.since(head, head, &leuven), Some(vec![]));

    let (rx, guard) = feed.follow(&leuven);
    assert_eq!(feed.followers(), 1);
    assert!(!rx.has_changed().unwrap());
    let more = {
        let mut more = Log::default();
        // The same events again at later positions (the model skips nothing new:
        // positions only grow), so there is something to record.
        for e in &log.events {
            let mut e = e.clone();
            e.position = Position::new(e.position.raw() + head.raw());
            more.events.push(e);
        }
        more
    };
    let mut fresh = Casework::default();
    feed_through(&feed, &more, &mut fresh);
    assert!(rx.has_changed().unwrap());
    // Capacity 3: only the last three changes (positions head+9..head+11) are kept.
    let all = Position::new(head.raw() * 2);
    assert_eq!(feed.since(head, all, &leuven), None);
    let kept = feed
        .since(
            Position::new(head.raw() + 8),
            all,
            &Topic::Organisation(org()),
        )
        .unwrap();
    assert_eq!(
        kept.iter().map(|c| c.position.raw()).collect::<Vec<_>>(),
        vec![head.raw() + 11]
    );
    // `until` bounds what is returned (changes beyond the published position).
    assert!(
        feed.since(
            Position::new(head.raw() + 8),
            Position::new(head.raw() + 10),
            &Topic::Organisation(org())
        )
        .unwrap()
        .is_empty()
    );
    drop(guard);
    assert_eq!(feed.followers(), 0);
}

/// Issue 16: who recorded an answer — the provider, a coordinator on its behalf,
/// an answer link — changes no equity figure and no need case's state.
#[test]
fn equity_and_states_are_the_same_whoever_recorded_the_answers() {
    use careledger_domain::store::Role;
    let log = with_directory();
    let mut by_provider = Log::default();
    for e in &log.events {
        let mut e = e.clone();
        if matches!(
            &e.event,
            DomainEvent::NeedCase(
                NeedCaseEvent::ReferralAccepted(_) | NeedCaseEvent::ReferralStarted(_)
            )
        ) {
            e.metadata.actor.role = Role::Provider;
            e.metadata.actor.subject = "answer-link:0192f0c4-7c5e-7a31-9f4e-1c2d3e4f5a6b".into();
        }
        by_provider.events.push(e);
    }
    let (a, b) = (fold(&log), fold(&by_provider));
    assert_eq!(a.equity(), b.equity());
    for n in [1, 2] {
        assert_eq!(
            a.need_case(nc(n)).unwrap().state,
            b.need_case(nc(n)).unwrap().state
        );
    }
}
