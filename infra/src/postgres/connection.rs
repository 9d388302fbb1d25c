//! Connecting and migrating: connection errors described without secrets, schema
//! name checks, the notification channel, and migrations under an advisory lock.

use super::schema::{MIGRATIONS, PG_SCHEMA_VERSION};
use careledger_domain::store::StoreError;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, Client, Config, NoTls};

pub(super) fn unavailable(detail: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable {
        detail: detail.to_string(),
    }
}

/// A database error in words: the server's message when it sent one, else the
/// client's error with its causes (connection refused, timeout, …).
pub fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

pub(super) fn db_err(what: &str) -> impl Fn(tokio_postgres::Error) -> StoreError + '_ {
    move |e| unavailable(format!("{what}: {}", describe(&e)))
}

/// Where a URL points, without its password (for messages).
pub fn redacted(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .collect();
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{}:{port}/{}",
        config.get_user().unwrap_or("?"),
        hosts.join(","),
        config.get_dbname().unwrap_or("")
    )
}

pub(super) fn valid_schema(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The notification channel of a schema (stores on other schemas are not woken).
pub(super) fn channel(schema: &str) -> String {
    format!("careledger_events_{schema}")
}

/// Connects, drives the connection on a task, and puts the schema first on the
/// search path. Notifications, if any, go to `notify`.
pub(super) async fn connect(
    config: &Config,
    schema: &str,
    notify: Option<Arc<watch::Sender<u64>>>,
) -> Result<(Client, JoinHandle<()>), StoreError> {
    let (client, mut connection) = config.connect(NoTls).await.map_err(|e| {
        unavailable(format!(
            "cannot connect to PostgreSQL at {}: {}",
            redacted(config),
            describe(&e)
        ))
    })?;
    let driver = tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    if let (Some(tx), Ok(p)) = (&notify, n.payload().parse::<u64>()) {
                        tx.send_if_modified(|h| {
                            let moved = p > *h;
                            *h = (*h).max(p);
                            moved
                        });
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::warn!(error = %describe(&e), "PostgreSQL connection lost");
                    return;
                }
                None => return,
            }
        }
    });
    client
        .batch_execute(&format!("SET search_path TO \"{schema}\""))
        .await
        .map_err(db_err("setting the search path"))?;
    Ok((client, driver))
}

/// Creates the schema if need be and runs the migrations this build knows, under an
/// advisory lock (processes starting together take turns). Refuses a schema newer
/// than this build.
pub(super) async fn migrate(client: &mut Client, schema: &str) -> Result<(), StoreError> {
    let tx = client
        .transaction()
        .await
        .map_err(db_err("starting the migration"))?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('careledger-migrate:' || $1))",
        &[&schema],
    )
    .await
    .map_err(db_err("taking the migration lock"))?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS \"{schema}\";
         SET LOCAL search_path TO \"{schema}\";
         CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL);"
    ))
    .await
    .map_err(db_err("creating the schema"))?;
    let current: i32 = tx
        .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])
        .await
        .map_err(db_err("reading the schema version"))?
        .get(0);
    if current > PG_SCHEMA_VERSION {
        return Err(unavailable(format!(
            "the database schema \"{schema}\" is at version {current}, written by a newer CareLedger; this build knows versions up to {PG_SCHEMA_VERSION}. Upgrade CareLedger, or use another schema"
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = i as i32 + 1;
        tx.batch_execute(sql)
            .await
            .map_err(db_err("running a migration"))?;
        tx.execute("INSERT INTO schema_version VALUES ($1)", &[&version])
            .await
            .map_err(db_err("recording the schema version"))?;
        tracing::info!(schema, version, "PostgreSQL schema migrated");
    }
    tx.commit()
        .await
        .map_err(db_err("committing the migration"))
}
