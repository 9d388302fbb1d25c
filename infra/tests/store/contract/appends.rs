//! Appends and versions: read back whole, expected versions enforced, retries
//! recognised, malformed appends refused, the head covering every acknowledged append.

use super::*;

pub async fn an_append_is_read_back_whole_with_versions_from_zero<H: Harness>() {
    let h = H::fresh().await;
    let store = h.store();
    let s = stream();
    let written = events(3);
    let before = now_micros();
    let a = store
        .append(s.clone(), ExpectedVersion::NoStream, written.clone())
        .await
        .unwrap();
    assert_eq!(
        (a.first_version, a.last_version(), a.duplicate),
        (0, 2, false)
    );
    assert!(
        a.positions.windows(2).all(|w| w[0] < w[1]),
        "positions grow: {:?}",
        a.positions
    );
    let read = store.read_stream(s.clone(), 0, 100).await.unwrap();
    assert_eq!(read.len(), 3);
    for (i, (r, w)) in read.iter().zip(&written).enumerate() {
        assert_eq!(
            (r.id, &r.stream, r.version, r.position),
            (w.id, &s, i as u64, a.positions[i])
        );
        assert_eq!(r.event, w.event);
        assert_eq!(r.metadata, w.metadata);
        assert!(r.recorded_at >= before - chrono::Duration::seconds(1));
    }
    assert_eq!(store.head().await.unwrap(), a.last_position());
}

pub async fn expected_versions_are_enforced_and_a_conflict_writes_nothing<H: Harness>() {
    let h = H::fresh().await;
    let store = h.store();
    let s = stream();
    store
        .append(s.clone(), ExpectedVersion::NoStream, events(3))
        .await
        .unwrap();
    let head = store.head().await.unwrap();
    let conflict = |expected, actual| StoreError::WrongExpectedVersion {
        stream: s.to_string(),
        expected,
        actual,
    };
    for (expected, actual) in [
        (ExpectedVersion::NoStream, Some(2)),
        (ExpectedVersion::Exact(1), Some(2)),
        (ExpectedVersion::Exact(3), Some(2)),
    ] {
        let err = store
            .append(s.clone(), expected, events(1))
            .await
            .unwrap_err();
        assert_eq!(err, conflict(expected, actual));
    }
    let missing = stream();
    let err = store
        .append(missing.clone(), ExpectedVersion::Exact(0), events(1))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::WrongExpectedVersion {
            stream: missing.to_string(),
            expected: ExpectedVersion::Exact(0),
            actual: None
        }
    );
    assert_eq!(store.head().await.unwrap(), head, "conflicts wrote nothing");
    assert_eq!(all(&*store).await.len(), 3);
    assert_eq!(
        store
            .append(s.clone(), ExpectedVersion::Exact(2), events(1))
            .await
            .unwrap()
            .first_version,
        3
    );
    assert_eq!(
        store
            .append(s.clone(), ExpectedVersion::Any, events(2))
            .await
            .unwrap()
            .first_version,
        4
    );
    assert_eq!(
        store
            .append(stream(), ExpectedVersion::Any, events(1))
            .await
            .unwrap()
            .first_version,
        0
    );
}

pub async fn a_retried_append_returns_the_original_positions_and_writes_nothing<H: Harness>() {
    let h = H::fresh().await;
    let store = h.store();
    let s = stream();
    let batch = events(2);
    let first = store
        .append(s.clone(), ExpectedVersion::NoStream, batch.clone())
        .await
        .unwrap();
    store
        .append(s.clone(), ExpectedVersion::Exact(1), events(2))
        .await
        .unwrap();
    store
        .append(stream(), ExpectedVersion::NoStream, events(1))
        .await
        .unwrap();
    let head = store.head().await.unwrap();
    for expected in [
        ExpectedVersion::NoStream,
        ExpectedVersion::Any,
        ExpectedVersion::Exact(3),
    ] {
        let retry = store
            .append(s.clone(), expected, batch.clone())
            .await
            .unwrap();
        assert!(retry.duplicate, "expected {expected}");
        assert_eq!(
            (retry.first_version, &retry.positions),
            (first.first_version, &first.positions)
        );
    }
    assert_eq!(store.head().await.unwrap(), head);
    assert_eq!(all(&*store).await.len(), 5);
}

pub async fn an_event_id_stored_elsewhere_or_in_part_is_a_mismatch<H: Harness>() {
    let h = H::fresh().await;
    let store = h.store();
    let s = stream();
    let batch = events(2);
    store
        .append(s.clone(), ExpectedVersion::NoStream, batch.clone())
        .await
        .unwrap();
    let partly = vec![batch[1].clone(), event(CloseReason::Deceased)];
    let err = store
        .append(s.clone(), ExpectedVersion::Any, partly)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::IdempotencyMismatch { event_id, stored_in, .. }
            if *event_id == batch[1].id && stored_in == s.as_str()),
        "{err:?}"
    );
    let elsewhere = stream();
    let err = store
        .append(
            elsewhere.clone(),
            ExpectedVersion::NoStream,
            vec![batch[0].clone()],
        )
        .await
        .unwrap_err();
    // The stream holding the id is named, so the command path can check the
    // caller may know of it before answering about the key.
    assert!(
        matches!(&err, StoreError::IdempotencyMismatch { stored_in, .. } if stored_in == s.as_str()),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&format!("stored in stream {s}")),
        "{err}"
    );
    assert_eq!(all(&*store).await.len(), 2, "nothing written");
    assert!(
        store
            .read_stream(elsewhere, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn malformed_appends_are_refused_and_write_nothing<H: Harness>() {
    let h = H::fresh().await;
    let store = h.store();
    let s = stream();
    assert_eq!(
        store
            .append(s.clone(), ExpectedVersion::Any, vec![])
            .await
            .unwrap_err(),
        StoreError::EmptyAppend {
            stream: s.to_string()
        }
    );
    let e = event(CloseReason::Moved);
    let err = store
        .append(s.clone(), ExpectedVersion::Any, vec![e.clone(), e.clone()])
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::DuplicateIdInAppend {
            stream: s.to_string(),
            event_id: e.id
        }
    );
    assert!(all(&*store).await.is_empty());
    assert_eq!(store.head().await.unwrap(), Position::START);
}

/// Read-your-writes on the head: once an append has returned, `head()` is at least
/// its last position, for every one of many concurrent writers.
pub async fn the_head_covers_every_acknowledged_append<H: Harness>() {
    let h = H::fresh().await;
    let store = h.store();
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..20 {
                let a = store
                    .append(stream(), ExpectedVersion::NoStream, events(1))
                    .await
                    .unwrap();
                let head = store.head().await.unwrap();
                assert!(
                    head >= a.last_position(),
                    "head {head} behind acknowledged {}",
                    a.last_position()
                );
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}
