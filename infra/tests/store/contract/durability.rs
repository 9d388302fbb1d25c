//! Lifecycle and durability: a reopened store keeps everything; appends
//! acknowledged before a `kill -9` survive.

use super::*;

pub async fn a_reopened_store_keeps_everything_and_continues<H: Harness>() {
    let mut h = H::fresh().await;
    let s = stream();
    h.store()
        .append(s.clone(), ExpectedVersion::NoStream, events(3))
        .await
        .unwrap();
    let before = all(&*h.store()).await;
    let head = h.store().head().await.unwrap();
    h.reopen().await;
    let store = h.store();
    assert_eq!(all(&*store).await, before);
    assert_eq!(store.head().await.unwrap(), head);
    let a = store
        .append(s.clone(), ExpectedVersion::Exact(2), events(1))
        .await
        .unwrap();
    assert_eq!(a.first_version, 3);
    assert!(a.last_position() > head);
    let conflict = store
        .append(s, ExpectedVersion::Exact(2), events(1))
        .await
        .unwrap_err();
    assert!(matches!(
        conflict,
        StoreError::WrongExpectedVersion {
            actual: Some(3),
            ..
        }
    ));
}

/// Runs `careledger-crash-writer <spec>` until it has acknowledged `want` writes (or
/// 20 s passed), kills it with SIGKILL, and returns every line it acknowledged —
/// those written before the kill too — asserting at least `at_least`.
pub async fn acknowledged_until_killed(spec: &str, want: usize, at_least: usize) -> Vec<String> {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_careledger-crash-writer"))
        .arg(spec)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start the crash writer");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while acked.len() < want && tokio::time::Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await {
            Ok(Ok(Some(line))) => acked.push(line),
            other => panic!("the crash writer stopped early: {other:?}"),
        }
    }
    child.start_kill().expect("SIGKILL");
    while let Ok(Some(line)) = lines.next_line().await {
        acked.push(line);
    }
    let status = child.wait().await.unwrap();
    assert!(!status.success(), "the writer was killed, not finished");
    assert!(
        acked.len() >= at_least,
        "enough load before the kill: {}",
        acked.len()
    );
    acked
}

/// A writer process appending under load is killed with SIGKILL; every append it
/// had acknowledged is found after reopening, at the version and position it was
/// acknowledged with.
pub async fn appends_acknowledged_before_a_kill_9_survive<H: Harness>() {
    let mut h = H::fresh().await;
    h.release().await;
    let acked = acknowledged_until_killed(&h.spec(), 3_000, 1_000).await;
    h.reopen().await;
    let store = h.store();
    let stored: BTreeMap<u64, RecordedEvent> = all(&*store)
        .await
        .into_iter()
        .map(|e| (e.position.raw(), e))
        .collect();
    for line in &acked {
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f.len(), 5, "{line}");
        let (stream, version, position, id) = (
            f[1],
            f[2].parse::<u64>().unwrap(),
            f[3].parse::<u64>().unwrap(),
            f[4],
        );
        let e = stored
            .get(&position)
            .unwrap_or_else(|| panic!("acknowledged append lost: {line}"));
        assert_eq!(
            (e.stream.as_str(), e.version, e.id.to_string().as_str()),
            (stream, version, id),
            "{line}"
        );
    }
    // The store is whole: every stream's versions are contiguous from 0.
    let mut by_stream: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for e in stored.values() {
        by_stream
            .entry(e.stream.as_str())
            .or_default()
            .push(e.version);
    }
    for (s, v) in by_stream {
        assert_eq!(v, (0..v.len() as u64).collect::<Vec<_>>(), "{s}");
    }
}
