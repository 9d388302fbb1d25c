//! The audit trail: selection by stream, actor, site and period.

use super::*;

/// `read_audit` selects exactly what `AuditFilter::matches` says, in position order,
/// and pages with `after`.
pub async fn the_audit_trail_selects_by_stream_actor_site_and_period<H: Harness>() {
    use careledger_domain::store::AuditFilter;
    let h = H::fresh().await;
    let store = h.store();
    let by = |actor: &str, site: Option<&str>, n: usize| -> Vec<NewEvent> {
        (0..n)
            .map(|_| {
                let mut e = event(CloseReason::Moved);
                e.metadata.actor.subject = actor.to_string();
                e.metadata.site = site.map(|s| SiteId::parse(s).unwrap());
                e
            })
            .collect()
    };
    let (a, b, c) = (stream(), stream(), stream());
    store
        .append(
            a.clone(),
            ExpectedVersion::NoStream,
            by("nurse-x", Some("be-leuven"), 2),
        )
        .await
        .unwrap();
    store
        .append(
            b.clone(),
            ExpectedVersion::NoStream,
            by("nurse-y", Some("de-koeln"), 1),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    store
        .append(c.clone(), ExpectedVersion::NoStream, by("nurse-x", None, 1))
        .await
        .unwrap();
    store
        .append(
            a.clone(),
            ExpectedVersion::Exact(1),
            by("nurse-y", Some("be-leuven"), 1),
        )
        .await
        .unwrap();
    let log = all(&*store).await;
    let site = |s: &str| SiteId::parse(s).unwrap();
    let filters = [
        AuditFilter {
            actor: Some("nurse-x".into()),
            ..Default::default()
        },
        AuditFilter {
            sites: Some(vec![site("be-leuven")]),
            ..Default::default()
        },
        AuditFilter {
            sites: Some(vec![site("be-leuven"), site("de-koeln")]),
            ..Default::default()
        },
        AuditFilter {
            sites: Some(vec![]),
            ..Default::default()
        },
        AuditFilter {
            stream: Some(b.clone()),
            ..Default::default()
        },
        AuditFilter {
            actor: Some("nurse-x".into()),
            sites: Some(vec![site("de-koeln")]),
            ..Default::default()
        },
        AuditFilter {
            stream: Some(a.clone()),
            actor: Some("nurse-y".into()),
            ..Default::default()
        },
        AuditFilter {
            from: Some(log[3].recorded_at),
            ..Default::default()
        },
        AuditFilter {
            to: Some(log[3].recorded_at),
            sites: Some(vec![site("be-leuven")]),
            ..Default::default()
        },
    ];
    for f in filters {
        let expected: Vec<EventId> = log.iter().filter(|e| f.matches(e)).map(|e| e.id).collect();
        let got: Vec<EventId> = store
            .read_audit(f.clone(), Position::START, usize::MAX)
            .await
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(got, expected, "{f:?}");
    }
    // Pages: two, then the rest after the second.
    let f = AuditFilter {
        actor: Some("nurse-x".into()),
        ..Default::default()
    };
    let first = store
        .read_audit(f.clone(), Position::START, 2)
        .await
        .unwrap();
    assert_eq!(first.len(), 2);
    let rest = store
        .read_audit(f.clone(), first[1].position, 10)
        .await
        .unwrap();
    assert_eq!(
        first.iter().chain(&rest).map(|e| e.id).collect::<Vec<_>>(),
        log.iter()
            .filter(|e| f.matches(e))
            .map(|e| e.id)
            .collect::<Vec<_>>()
    );
}
