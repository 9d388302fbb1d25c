//! `personal_data`: sealing names and contact details in the embedded key vault
//! (`keys.db`), as `registerCareRecipient` does for every new recipient with
//! personal data — a durable key insert and an AEAD seal — and opening them again.
//!
//! Comparison point, same run and file system: one durable SQLite insert of a
//! 32-byte row per transaction (`synchronous=FULL`), the floor a key store that
//! commits each new key on its own can reach.

use super::report;
use careledger_domain::ids::RecipientId;
use careledger_domain::personal::{KeyVault, PersonalData};
use careledger_infra::vault::SqliteKeyVault;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

fn data(i: usize) -> PersonalData {
    PersonalData::new(
        Some(format!("Given{i}")),
        Some("Family-Name".into()),
        Some("+32 16 12 34 56".into()),
        Some(format!("person{i}@example.be")),
        None,
    )
    .unwrap()
}

fn raw_inserts(dir: &Path, within: Duration) -> f64 {
    let c = rusqlite::Connection::open(dir.join("raw.db")).unwrap();
    c.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
         CREATE TABLE k (recipient TEXT PRIMARY KEY, key BLOB);",
    )
    .unwrap();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < within {
        c.execute(
            "INSERT INTO k (recipient, key) VALUES (?1, ?2)",
            rusqlite::params![Uuid::now_v7().to_string(), [7u8; 32].as_slice()],
        )
        .unwrap();
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

pub async fn personal_data(dir: &Path, tasks: usize, per_task: usize) {
    let baseline = raw_inserts(dir, Duration::from_secs(2));
    let vault: Arc<dyn KeyVault> = Arc::new(SqliteKeyVault::in_dir(dir).unwrap());
    eprintln!("personal_data: {tasks} tasks × {per_task} new recipients, sealed then opened");
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let vault = vault.clone();
            tokio::spawn(async move {
                let mut out = Vec::with_capacity(per_task);
                for i in 0..per_task {
                    let r = RecipientId::from_uuid(Uuid::now_v7());
                    let d = data(t * per_task + i);
                    let began = Instant::now();
                    let s = vault.seal(r, &d).await.unwrap();
                    out.push((r, s, began.elapsed()));
                }
                out
            })
        })
        .collect();
    let mut sealed = Vec::new();
    for h in handles {
        sealed.extend(h.await.unwrap());
    }
    let secs = start.elapsed().as_secs_f64();
    let mut lat: Vec<Duration> = sealed.iter().map(|x| x.2).collect();
    lat.sort();
    let p99 = lat[lat.len() * 99 / 100].as_secs_f64() * 1e3;
    report(
        "personal_data",
        sealed.len() as f64 / secs,
        "new recipients' data sealed per second (key made durable + AEAD)",
        Some(baseline),
        "durable single-row SQLite inserts per second, one transaction each (synchronous=FULL), same file system",
        Some(p99),
        "reported (no target in DESIGN §7)",
    );
    let start = Instant::now();
    for (r, s, _) in &sealed {
        assert!(vault.open(*r, s).await.unwrap().is_some());
    }
    let secs = start.elapsed().as_secs_f64();
    report(
        "personal_data_open",
        sealed.len() as f64 / secs,
        "sealed records opened per second (key read + AEAD), one after another",
        None,
        "",
        None,
        "reported (no target in DESIGN §7)",
    );
}
