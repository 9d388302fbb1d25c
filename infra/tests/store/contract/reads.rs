//! Reads: streams from a version with a limit, the global log in position order,
//! large pages, subscriptions catching up over many pages.

use super::*;

pub async fn streams_read_from_a_version_with_a_limit<H: Harness>() {
    let h = H::fresh().await;
    let store = h.store();
    let s = stream();
    store
        .append(s.clone(), ExpectedVersion::NoStream, events(5))
        .await
        .unwrap();
    let versions = |v: Vec<RecordedEvent>| v.iter().map(|e| e.version).collect::<Vec<_>>();
    assert_eq!(
        versions(store.read_stream(s.clone(), 2, 100).await.unwrap()),
        vec![2, 3, 4]
    );
    assert_eq!(
        versions(store.read_stream(s.clone(), 1, 2).await.unwrap()),
        vec![1, 2]
    );
    assert!(
        store
            .read_stream(s.clone(), 5, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .read_stream(stream(), 0, 100)
            .await
            .unwrap()
            .is_empty(),
        "an unknown stream reads as empty"
    );
}

pub async fn the_global_log_pages_in_position_order_across_streams<H: Harness>() {
    let h = H::fresh().await;
    let store = h.store();
    let (a, b) = (stream(), stream());
    let mut expected_ids = Vec::new();
    for round in 0..4u64 {
        for s in [&a, &b] {
            let batch = events(2);
            expected_ids.extend(batch.iter().map(|e| e.id));
            let expected = if round == 0 {
                ExpectedVersion::NoStream
            } else {
                ExpectedVersion::Exact(round * 2 - 1)
            };
            store.append(s.clone(), expected, batch).await.unwrap();
        }
    }
    let mut paged = Vec::new();
    let mut after = Position::START;
    loop {
        let page = store.read_all(after, 3).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 3);
        after = page.last().unwrap().position;
        paged.extend(page);
    }
    assert_eq!(paged.iter().map(|e| e.id).collect::<Vec<_>>(), expected_ids);
    assert!(paged.windows(2).all(|w| w[0].position < w[1].position));
    for s in [&a, &b] {
        let versions: Vec<u64> = paged
            .iter()
            .filter(|e| &e.stream == s)
            .map(|e| e.version)
            .collect();
        assert_eq!(versions, (0..8).collect::<Vec<_>>());
    }
}

/// Large pages (read by adapters in parallel halves) return exactly what small pages do.
pub async fn large_pages_read_exactly_the_log<H: Harness>() {
    let h = H::fresh().await;
    let store = h.store();
    for _ in 0..12 {
        store
            .append(stream(), ExpectedVersion::NoStream, events(1_000))
            .await
            .unwrap();
    }
    let mut small = Vec::new();
    let mut after = Position::START;
    loop {
        let page = store.read_all(after, 700).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.position;
        small.extend(page);
    }
    assert_eq!(small.len(), 12_000);
    for (from, limit) in [(0, 10_000), (5_000, 6_001), (11_000, 9_000)] {
        let after = if from == 0 {
            Position::START
        } else {
            small[from - 1].position
        };
        let big = store.read_all(after, limit).await.unwrap();
        let want = &small[from..(from + limit).min(small.len())];
        assert_eq!(big.len(), want.len(), "from {from} limit {limit}");
        assert!(
            big.iter().zip(want).all(|(a, b)| a == b),
            "from {from} limit {limit}"
        );
    }
}

/// A subscription catching up over many pages (adapters may read ahead) delivers
/// exactly the log, then follows new appends.
pub async fn a_subscription_catching_up_over_many_pages_is_exactly_the_log<H: Harness>() {
    let h = H::fresh().await;
    let store = h.store();
    for _ in 0..40 {
        store
            .append(stream(), ExpectedVersion::NoStream, events(1_000))
            .await
            .unwrap();
    }
    let log = all(&*store).await;
    let mut sub = store.subscribe_all(Position::START);
    for want in &log {
        let got = next_within(&mut sub, 10).await;
        assert_eq!(&got, want);
    }
    let late = events(1);
    store
        .append(stream(), ExpectedVersion::NoStream, late.clone())
        .await
        .unwrap();
    assert_eq!(next_within(&mut sub, 10).await.id, late[0].id);
}
