//! `careledger rebuild`: the read models folded afresh from the whole log
//! ([`careledger_app::projection::fold_log`]) and saved as the checkpoint.

use crate::cli::args::RebuildArgs;
use crate::startup::store::open_store;
use anyhow::Context;
use careledger_infra::clock::SystemClock;
use careledger_projections::Casework;
use std::sync::Arc;

/// `careledger rebuild`: fold the whole log into fresh read models and save them.
pub async fn run(args: RebuildArgs) -> anyhow::Result<()> {
    let opened = open_store(&args.store, Arc::new(SystemClock)).await?;
    let store = opened.events();
    let head = store.head().await?;
    let snapshots = opened.snapshots(&args.store.data_dir);
    snapshots
        .remove(Casework::NAME)
        .context("cannot remove the old checkpoint")?;
    let bar = crate::progress::bar(head.raw(), "rebuilding read models (events)");
    let started = std::time::Instant::now();
    let mut model = Casework::default();
    let (count, _) = careledger_app::projection::fold_log(
        store.as_ref(),
        careledger_domain::store::Position::START,
        None,
        |e| model.apply(e),
        |at| bar.set_position(at.raw()),
    )
    .await?;
    bar.finish_and_clear();
    // Streamed to the checkpoint (never a second copy of the model in memory).
    let (model, saved) = {
        let snapshots = snapshots.clone();
        tokio::task::spawn_blocking(move || {
            let saved = snapshots.save_streamed(Casework::NAME, &mut |w| model.write_snapshot(w));
            (model, saved)
        })
        .await?
    };
    saved.context("cannot save the rebuilt checkpoint")?;
    opened.close().await;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "CareLedger: read models rebuilt from {count} events in {secs:.2} s ({:.0} events/s): {} need cases, {} care recipients, up to position {}.",
        count as f64 / secs.max(1e-9),
        model.need_case_count(),
        model.recipient_count(),
        model.position()
    );
    Ok(())
}
