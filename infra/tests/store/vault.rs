//! The key-vault contract (the `KeyVault` port), run against both vaults: one key
//! per recipient, made once even when sealed concurrently, binding its recipient,
//! destroyed for good (never made again, not even after a restart).

use careledger_domain::ids::RecipientId;
use careledger_domain::personal::{KeyVault, PersonalData, VaultError};
use careledger_infra::vault::SqliteKeyVault;
use std::sync::Arc;
use uuid::Uuid;

fn data(name: &str) -> PersonalData {
    PersonalData::new(
        Some(name.into()),
        None,
        Some("+32 16 00 00 00".into()),
        None,
        None,
    )
    .unwrap()
}

async fn contract(v: Arc<dyn KeyVault>, reopen: impl Fn() -> Arc<dyn KeyVault>) {
    let r = || RecipientId::from_uuid(Uuid::now_v7());
    let (a, b, never) = (r(), r(), r());
    let sa = v.seal(a, &data("Anna")).await.unwrap();
    assert_eq!(v.open(a, &sa).await.unwrap(), Some(data("Anna")));
    let sb = v.seal(b, &data("Bert")).await.unwrap();
    assert_eq!(
        v.open(b, &sa).await,
        Err(VaultError::Tampered),
        "a's data does not open as b's"
    );
    assert_eq!(
        v.open(never, &sa).await.unwrap(),
        None,
        "no key: nothing to open"
    );

    // Concurrent first seals of one recipient agree on one key.
    let c = r();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let v = v.clone();
            tokio::spawn(async move { v.seal(c, &data(&format!("C{i}"))).await.unwrap() })
        })
        .collect();
    for (i, t) in tasks.into_iter().enumerate() {
        let s = t.await.unwrap();
        assert_eq!(v.open(c, &s).await.unwrap(), Some(data(&format!("C{i}"))));
    }

    v.destroy(a).await.unwrap();
    assert_eq!(v.open(a, &sa).await.unwrap(), None);
    assert_eq!(v.seal(a, &data("Anna")).await, Err(VaultError::Erased));
    v.destroy(a).await.unwrap();
    v.destroy(never).await.unwrap();
    assert_eq!(v.seal(never, &data("N")).await, Err(VaultError::Erased));
    assert_eq!(
        v.open(b, &sb).await.unwrap(),
        Some(data("Bert")),
        "others unaffected"
    );

    let v = reopen();
    assert_eq!(
        v.open(a, &sa).await.unwrap(),
        None,
        "still destroyed after a restart"
    );
    assert_eq!(v.seal(a, &data("Anna")).await, Err(VaultError::Erased));
    assert_eq!(v.open(b, &sb).await.unwrap(), Some(data("Bert")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_vault_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let v: Arc<dyn KeyVault> = Arc::new(SqliteKeyVault::in_dir(&path).unwrap());
    contract(v, move || Arc::new(SqliteKeyVault::in_dir(&path).unwrap())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_vault_keeps_the_contract() {
    let Some(url) = crate::postgres::url() else {
        return;
    };
    let schema = format!("t_{}", Uuid::now_v7().simple());
    let store = crate::postgres::open(&url, &schema).await;
    let again = crate::postgres::open(&url, &schema).await;
    let v: Arc<dyn KeyVault> = Arc::new(careledger_infra::vault::PgKeyVault::new(store.clone()));
    let second: Arc<dyn KeyVault> =
        Arc::new(careledger_infra::vault::PgKeyVault::new(again.clone()));
    contract(v, move || second.clone()).await;
    store.close().await;
    again.close().await;
    crate::postgres::drop_schema(url, schema);
}

/// A process sealing under load is killed with SIGKILL; every seal it had
/// acknowledged opens after the vault is reopened (the key was durable first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_acknowledged_before_a_kill_9_survive() {
    use careledger_domain::personal::Sealed;
    let dir = tempfile::tempdir().unwrap();
    let spec = format!("vault:{}", dir.path().display());
    let acked = crate::contract::acknowledged_until_killed(&spec, 2_000, 500).await;
    let v = SqliteKeyVault::in_dir(dir.path()).unwrap();
    for line in &acked {
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f.len(), 5, "{line}");
        let r = RecipientId::parse(f[1]).unwrap();
        let sealed = Sealed {
            alg: careledger_infra::vault::ALG.into(),
            nonce: f[2].into(),
            ciphertext: f[3].into(),
        };
        let opened = v.open(r, &sealed).await.unwrap();
        assert_eq!(
            opened.and_then(|d| d.given_name).as_deref(),
            Some(f[4]),
            "acknowledged seal lost its key: {line}"
        );
    }
}
