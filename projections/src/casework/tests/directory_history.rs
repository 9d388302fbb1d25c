//! Issue 19: the directory as it was at any position (what a ranking's
//! left-out list is recomputed from), through a checkpoint too.

use super::*;
use careledger_domain::directory::*;
use std::sync::Arc;

#[test]
fn the_directory_answers_as_it_was_at_any_position_and_a_checkpoint_keeps_it() {
    let need = NeedCode::parse("psy.fear-of-recurrence").unwrap();
    let other = ServiceId::from_uuid(Uuid::from_u128(77));
    let mut log = Log::default();
    let mut profile = service_profile();
    let s = StreamName::service(svc());
    let reg = |id, p: &ServiceProfile| {
        DomainEvent::Service(ServiceEvent::ServiceRegistered(ServiceRegistered {
            service: id,
            profile: Box::new(p.clone()),
            capacity: Capacity::HasCapacity,
        }))
    };
    log.record(s.clone(), 0, reg(svc(), &profile), day(0), "admin"); // 1
    profile.needs = vec![NeedCode::parse("psy.anxiety").unwrap()];
    let upd = ServiceEvent::ServiceUpdated(ServiceUpdated {
        profile: Box::new(profile.clone()),
    });
    log.record(s.clone(), 1, upd.into(), day(1), "admin"); // 2: another need
    let full = ServiceEvent::ServiceCapacityChanged(ServiceCapacityChanged {
        capacity: Capacity::NoCapacity,
    });
    log.record(s.clone(), 2, full.into(), day(2), "admin"); // 3
    log.record(
        StreamName::service(other),
        0,
        reg(other, &service_profile()),
        day(3),
        "admin",
    ); // 4
    let retire = ServiceEvent::ServiceRetired(ServiceRetired {});
    log.record(s, 3, retire.into(), day(4), "admin"); // 5
    let m = fold(&log);

    let at = |m: &Casework, p: u64| {
        m.directory()
            .candidates_at(&need, p)
            .map(|c| (c.id, c.profile.needs.contains(&need), c.capacity, c.active))
            .collect::<Vec<_>>()
    };
    let has = Capacity::HasCapacity;
    let none = Capacity::NoCapacity;
    for m in [&m, &Casework::from_snapshot(&m.to_snapshot()).unwrap()] {
        assert_eq!(at(m, 0), []);
        assert_eq!(at(m, 1), [(svc(), true, has, true)]);
        // Updated to another need: still listed (it named the need once), and
        // its profile says it no longer does (the matcher leaves it out unlisted).
        assert_eq!(at(m, 2), [(svc(), false, has, true)]);
        assert_eq!(at(m, 3), [(svc(), false, none, true)]);
        let mut four = at(m, 4);
        four.sort_by_key(|c| c.0);
        let mut want = vec![(svc(), false, none, true), (other, true, has, true)];
        want.sort_by_key(|c| c.0);
        assert_eq!(four, want);
        assert!(at(m, 5).contains(&(svc(), false, none, false)));
        // Today's candidates are the services naming the need now.
        let now: Vec<_> = m.directory().candidates(&need).map(|c| c.id).collect();
        assert_eq!(now, [other]);
    }

    // Restored from a checkpoint: a capacity change or a retirement does not
    // copy the profile, and the latest versions share the current state's.
    let back = Casework::from_snapshot(&m.to_snapshot()).unwrap();
    assert!(back == m);
    let v = back.directory().versions(svc());
    assert_eq!(v.len(), 4);
    assert!(!Arc::ptr_eq(&v[0].profile, &v[1].profile));
    assert!(Arc::ptr_eq(&v[1].profile, &v[2].profile));
    assert!(Arc::ptr_eq(&v[2].profile, &v[3].profile));
    let current = &back
        .directory()
        .service(svc())
        .unwrap()
        .state
        .data()
        .unwrap()
        .profile;
    assert!(Arc::ptr_eq(&v[3].profile, current));
}
