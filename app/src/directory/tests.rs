//! The import and its plan agree: what `plan_import` says an import would do is
//! what `import_services` then does, for new, changed, unchanged, retired and
//! re-activated services — and the plan writes nothing.

use super::*;
use crate::{Ports, Settings};
use careledger_domain::directory::Capacity;
use careledger_infra::clock::SystemClock;
use careledger_infra::sqlite::{SqliteEventStore, SqliteOptions};
use careledger_projections::Casework;
use careledger_projections::runner::Projector;

fn app(dir: &std::path::Path) -> Arc<App> {
    let store = SqliteEventStore::open(
        dir.join("s.sqlite"),
        Arc::new(SystemClock),
        SqliteOptions::default(),
    )
    .unwrap();
    Arc::new(App::new(
        Ports {
            store: Arc::new(store),
            vault: Arc::new(careledger_infra::vault::SqliteKeyVault::in_dir(dir).unwrap()),
            clock: Arc::new(SystemClock),
            catalogue: Arc::new(careledger_infra::catalogue::default_catalogue().unwrap()),
            projector: Projector::new(Casework::default()),
        },
        Settings::default(),
    ))
}

fn example() -> Vec<ServiceRecord> {
    let catalogue = careledger_infra::catalogue::default_catalogue().unwrap();
    careledger_infra::hsds::read_example(&catalogue)
        .unwrap()
        .into_iter()
        .map(|s| ServiceRecord {
            id: s.id,
            profile: s.profile,
            capacity: s.capacity,
            active: s.active,
        })
        .collect()
}

#[tokio::test]
async fn the_plan_says_what_the_import_then_does_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let mut records = example();
    let n = records.len();
    let first = plan_import(None, &records, || {}).await.unwrap();
    assert_eq!(first, import_services(&app, &records, || {}).await.unwrap());
    assert_eq!((first.registered, first.retired), (n, 1));
    let head = app.store.head().await.unwrap();

    // One renamed, one with another capacity, one retired, and the one retired
    // by the package marked active again (retirement is final).
    let retired = records.iter().position(|r| !r.active).unwrap();
    let others: Vec<usize> = (0..n).filter(|i| *i != retired).take(3).collect();
    records[others[0]].profile.name.en.push_str(" (renamed)");
    records[others[1]].capacity = Capacity::NoCapacity;
    records[others[2]].active = false;
    records[retired].active = true;
    let plan = plan_import(Some(app.store.as_ref()), &records, || {})
        .await
        .unwrap();
    assert_eq!(
        app.store.head().await.unwrap(),
        head,
        "the plan wrote nothing"
    );
    let want = ImportSummary {
        registered: 0,
        updated: 2,
        unchanged: n - 4,
        retired: 1,
        kept_retired: 1,
    };
    assert_eq!(plan, want);
    assert_eq!(import_services(&app, &records, || {}).await.unwrap(), want);

    // Now nothing is left to do.
    let again = plan_import(Some(app.store.as_ref()), &records, || {})
        .await
        .unwrap();
    assert_eq!(
        (again.unchanged, again.kept_retired, again.updated),
        (n - 1, 1, 0)
    );
}
