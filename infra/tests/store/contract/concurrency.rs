//! Concurrency: a conflict fails alone, one stream never forks, subscribers see
//! every event once and in order while writers race.

use super::*;

pub async fn a_conflict_fails_alone_among_concurrent_appends<H: Harness>() {
    let h = H::fresh().await;
    let store = h.store();
    let contested = stream();
    store
        .append(contested.clone(), ExpectedVersion::NoStream, events(1))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..60 {
        let store = store.clone();
        let contested = contested.clone();
        tasks.push(tokio::spawn(async move {
            if i % 6 == 0 {
                // Stale: the stream is at 0.
                (
                    false,
                    store
                        .append(contested, ExpectedVersion::Exact(5), events(1))
                        .await,
                )
            } else {
                (
                    true,
                    store
                        .append(stream(), ExpectedVersion::NoStream, events(2))
                        .await,
                )
            }
        }));
    }
    for t in tasks {
        let (good, result) = t.await.unwrap();
        assert_eq!(good, result.is_ok(), "{result:?}");
    }
    assert_eq!(all(&*store).await.len(), 1 + 50 * 2);
}

pub async fn concurrent_writers_on_one_stream_never_fork_it<H: Harness>() {
    let h = H::fresh().await;
    let store = h.store();
    let s = stream();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (store, s) = (store.clone(), s.clone());
        tasks.push(tokio::spawn(async move {
            let mut wins = 0;
            for _ in 0..25 {
                let current = store.read_stream(s.clone(), 0, usize::MAX).await.unwrap();
                let expected = current.last().map_or(ExpectedVersion::NoStream, |e| {
                    ExpectedVersion::Exact(e.version)
                });
                match store.append(s.clone(), expected, events(1)).await {
                    Ok(_) => wins += 1,
                    Err(StoreError::WrongExpectedVersion { .. }) => {}
                    Err(e) => panic!("{e}"),
                }
            }
            wins
        }));
    }
    let mut wins = 0;
    for t in tasks {
        wins += t.await.unwrap();
    }
    let read = store.read_stream(s, 0, usize::MAX).await.unwrap();
    assert_eq!(read.len(), wins);
    assert_eq!(
        read.iter().map(|e| e.version).collect::<Vec<_>>(),
        (0..wins as u64).collect::<Vec<_>>()
    );
}

/// The hard case of DESIGN §3: many concurrent writers while a subscriber follows.
pub async fn a_subscriber_sees_every_event_once_in_order_under_concurrent_writers<H: Harness>() {
    const WRITERS: usize = 8;
    const APPENDS: usize = 150;
    let h = H::fresh().await;
    let store = h.store();
    // Some history first, so the subscriber catches up before it follows live.
    store
        .append(stream(), ExpectedVersion::NoStream, events(50))
        .await
        .unwrap();
    let mut sub = store.subscribe_all(Position::START);
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..APPENDS {
                let batch = events(1 + (w + i) % 3);
                ids.extend(batch.iter().map(|e| e.id));
                store
                    .append(stream(), ExpectedVersion::NoStream, batch)
                    .await
                    .unwrap();
            }
            ids
        }));
    }
    let mut written: HashSet<EventId> = HashSet::new();
    for w in writers {
        written.extend(w.await.unwrap());
    }
    let total = 50 + written.len();
    let mut seen = Vec::with_capacity(total);
    while seen.len() < total {
        seen.push(next_within(&mut sub, 10).await);
    }
    assert!(
        seen.windows(2).all(|w| w[0].position < w[1].position),
        "in position order, no repeats"
    );
    let seen_ids: HashSet<EventId> = seen.iter().map(|e| e.id).collect();
    assert_eq!(seen_ids.len(), total, "no event seen twice");
    assert!(written.is_subset(&seen_ids), "no event skipped");
    assert_eq!(
        seen,
        all(&*store).await,
        "the subscription is exactly the log"
    );
    // Nothing more arrives.
    assert!(
        tokio::time::timeout(Duration::from_millis(200), sub.next())
            .await
            .is_err()
    );
    // A subscription from the middle sees exactly the tail.
    let mid = seen[total / 2].position;
    let mut tail = store.subscribe_all(mid);
    for e in &seen[total / 2 + 1..] {
        assert_eq!(next_within(&mut tail, 10).await.id, e.id);
    }
}

pub async fn a_subscription_follows_appends_made_after_it_caught_up<H: Harness>() {
    let h = H::fresh().await;
    let store = h.store();
    let s = stream();
    store
        .append(s.clone(), ExpectedVersion::NoStream, events(2))
        .await
        .unwrap();
    let mut sub = store.subscribe_all(Position::START);
    assert_eq!(next_within(&mut sub, 5).await.version, 0);
    assert_eq!(next_within(&mut sub, 5).await.version, 1);
    let waiting = tokio::spawn(async move { next_within(&mut sub, 5).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let late = events(1);
    store
        .append(s, ExpectedVersion::Exact(1), late.clone())
        .await
        .unwrap();
    assert_eq!(waiting.await.unwrap().id, late[0].id);
}
