//! Read models brought up to the log's head, for the commands that run once
//! (`rebuild`, `export-equity`, `api-key list`) rather than follow the log as a
//! server does (`projections::runner::run`). One loop, written once.

use careledger_domain::store::{EventStore, Position, RecordedEvent, SnapshotStore, StoreError};
use careledger_projections::runner::{self, Projector};
use std::sync::Arc;

/// Events read per page.
const PAGE: usize = 16_384;

/// Reads the log after `after` up to `until` (its end when `None`), page by
/// page, giving each event to `apply` and each page's last position to
/// `progress`. Returns how many events were read and the position reached.
///
/// # Errors
/// The store's read errors.
pub async fn fold_log(
    store: &dyn EventStore,
    after: Position,
    until: Option<Position>,
    mut apply: impl FnMut(&RecordedEvent),
    mut progress: impl FnMut(Position),
) -> Result<(u64, Position), StoreError> {
    let mut after = after;
    let mut count = 0u64;
    loop {
        let page = store.read_all(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.position;
        for e in page
            .iter()
            .filter(|e| until.is_none_or(|u| e.position <= u))
        {
            apply(e);
            count += 1;
        }
        progress(after);
        if until.is_some_and(|u| after >= u) {
            break;
        }
    }
    Ok((count, after))
}

/// The read models from the last checkpoint, brought up to the log's head as it
/// is when this is called (events committed meanwhile are left out).
///
/// # Errors
/// The store's read errors.
pub async fn caught_up(
    store: &Arc<dyn EventStore>,
    snapshots: &dyn SnapshotStore,
) -> Result<Arc<Projector>, StoreError> {
    let projector = Projector::new(runner::load(snapshots));
    let head = store.head().await?;
    fold_log(
        store.as_ref(),
        projector.position(),
        Some(head),
        |e| projector.apply(e),
        |_| {},
    )
    .await?;
    Ok(projector)
}
