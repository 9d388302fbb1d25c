//! Test helper for the durability contract test: appends single events from many
//! concurrent tasks to the store named on the command line and prints one line per
//! acknowledged append (`ok <stream> <version> <position> <event-id>`), flushed, so a
//! parent that kills this process with SIGKILL knows exactly which appends were
//! acknowledged before the kill. Runs until killed.
//!
//! Usage: `careledger-crash-writer sqlite:<path>` or
//! `careledger-crash-writer postgres:<schema>|<url>`; or
//! `careledger-crash-writer vault:<dir>`, which seals personal data for new
//! recipients in the embedded key vault and prints one line per acknowledged seal
//! (`ok <recipient> <nonce> <ciphertext> <given name>`).

use careledger_domain::ids::EventId;
use careledger_domain::need_case::{CloseReason, NeedCaseEvent, NeedClosed};
use careledger_domain::store::{
    Actor, EventMetadata, EventStore, ExpectedVersion, NewEvent, Role, StreamName,
};
use careledger_infra::clock::SystemClock;
use careledger_infra::sqlite::{SqliteEventStore, SqliteOptions};
use chrono::Utc;
use std::io::Write;
use std::sync::Arc;
use uuid::Uuid;

#[tokio::main]
async fn main() {
    // A failed append must stop the process, not just its task.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("careledger-crash-writer: {info}");
        std::process::exit(101);
    }));
    let spec = std::env::args()
        .nth(1)
        .expect("usage: careledger-crash-writer sqlite:<path>");
    if let Some(dir) = spec.strip_prefix("vault:") {
        return seal_until_killed(dir).await;
    }
    let store: Arc<dyn EventStore> = match spec.split_once(':') {
        Some(("sqlite", path)) => Arc::new(
            SqliteEventStore::open(path, Arc::new(SystemClock), SqliteOptions::default())
                .expect("open the store"),
        ),
        Some(("postgres", rest)) => {
            let (schema, url) = rest.split_once('|').expect("postgres:<schema>|<url>");
            Arc::new(
                careledger_infra::postgres::PgEventStore::open(
                    url,
                    Arc::new(SystemClock),
                    careledger_infra::postgres::PgOptions {
                        schema: schema.to_string(),
                        ..Default::default()
                    },
                )
                .await
                .expect("open the store"),
            )
        }
        _ => panic!("unknown store spec {spec}"),
    };
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let stream = StreamName::need_case(careledger_domain::ids::NeedCaseId::from_uuid(
                Uuid::now_v7(),
            ));
            let mut expected = ExpectedVersion::NoStream;
            loop {
                let event = NewEvent {
                    id: EventId::from_uuid(Uuid::now_v7()),
                    event: NeedCaseEvent::NeedClosed(NeedClosed {
                        reason: CloseReason::Moved,
                    })
                    .into(),
                    metadata: EventMetadata {
                        occurred_at: Utc::now(),
                        actor: Actor {
                            subject: "crash-writer".into(),
                            role: Role::System,
                        },
                        site: None,
                        correlation_id: Uuid::now_v7(),
                        causation_id: None,
                    },
                };
                let id = event.id;
                let a = store
                    .append(stream.clone(), expected, vec![event])
                    .await
                    .expect("append");
                expected = ExpectedVersion::Exact(a.last_version());
                let mut out = std::io::stdout().lock();
                writeln!(
                    out,
                    "ok {stream} {} {} {id}",
                    a.first_version,
                    a.last_position().raw()
                )
                .expect("stdout");
                out.flush().expect("flush");
            }
        }));
    }
    // The tasks loop until the process is killed (a failing one exits it, see the
    // panic hook), so there is nothing to join.
    drop(tasks);
    std::future::pending::<()>().await;
}

async fn seal_until_killed(dir: &str) {
    use careledger_domain::ids::RecipientId;
    use careledger_domain::personal::{KeyVault, PersonalData};
    let vault: Arc<dyn KeyVault> = Arc::new(
        careledger_infra::vault::SqliteKeyVault::in_dir(std::path::Path::new(dir))
            .expect("open the vault"),
    );
    for t in 0..16 {
        let vault = vault.clone();
        tokio::spawn(async move {
            for i in 0.. {
                let r = RecipientId::from_uuid(Uuid::now_v7());
                let name = format!("N{t}x{i}");
                let data =
                    PersonalData::new(Some(name.clone()), None, None, None, None).expect("valid");
                let s = vault.seal(r, &data).await.expect("seal");
                let mut out = std::io::stdout().lock();
                writeln!(out, "ok {r} {} {} {name}", s.nonce, s.ciphertext).expect("stdout");
                out.flush().expect("flush");
            }
        });
    }
    std::future::pending::<()>().await;
}
