//! The service directory's use cases: bringing a published directory in.
//!
//! An import goes through the command path like any other change: each service is
//! registered, or updated where its profile or capacity changed (an unchanged
//! service writes nothing), and retired where the package says it is inactive.
//! Reading and checking the package is the edge's part (`infra::hsds`); one bad
//! record and the edge imports nothing, unless told to import the valid ones.
//! [`plan_import`] says what an import would do, writing nothing (`--check`);
//! [`directory_records`] lists the directory for `export-hsds`.

use crate::{App, AppError, CommandContext};
use careledger_domain::directory::{Capacity, DirectoryAction, Service, ServiceProfile};
use careledger_domain::ids::ServiceId;
use careledger_domain::store::{Actor, EventStore, Role, StreamName};
use std::sync::Arc;
use uuid::Uuid;

/// One service as a directory package describes it.
#[derive(Debug, Clone)]
pub struct ServiceRecord {
    pub id: ServiceId,
    pub profile: ServiceProfile,
    pub capacity: Capacity,
    pub active: bool,
}

/// What an import did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ImportSummary {
    pub registered: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub retired: usize,
    /// Retired in CareLedger but active in the package: retirement is final, so
    /// they stay retired (and are not updated).
    pub kept_retired: usize,
}

impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} registered, {} updated, {} unchanged, {} retired",
            self.registered, self.updated, self.unchanged, self.retired
        )?;
        if self.kept_retired > 0 {
            write!(
                f,
                ", {} left retired (retirement is final)",
                self.kept_retired
            )?;
        }
        Ok(())
    }
}

fn ctx() -> CommandContext {
    CommandContext {
        actor: Actor {
            subject: "import-hsds".into(),
            role: Role::System,
        },
        idempotency_key: None,
        expected_version: None,
        occurred_at: None,
        correlation_id: Uuid::now_v7(),
    }
}

/// Services imported at once: each is its own stream, so their appends share the
/// store's group commits instead of waiting for one durable commit each.
const IN_FLIGHT: usize = 64;

/// Imports `services` through `app`'s command path, up to [`IN_FLIGHT`] at a
/// time; `tick` is called after each.
///
/// # Errors
/// The first command that fails (the package was checked first, so only the
/// store failing can cause one); the services already in flight finish.
pub async fn import_services(
    app: &Arc<App>,
    services: &[ServiceRecord],
    mut tick: impl FnMut(),
) -> Result<ImportSummary, AppError> {
    let mut sum = ImportSummary::default();
    let mut tasks = tokio::task::JoinSet::new();
    let mut next = services.iter();
    let mut failed = None;
    loop {
        while failed.is_none() && tasks.len() < IN_FLIGHT {
            let Some(s) = next.next() else { break };
            let (app, s) = (app.clone(), s.clone());
            tasks.spawn(async move { import_one(&app, &s).await });
        }
        let Some(done) = tasks.join_next().await else {
            break;
        };
        match done.map_err(AppError::internal).and_then(|r| r) {
            Ok(outcome) => {
                count(&mut sum, outcome);
                tick();
            }
            Err(e) => {
                failed.get_or_insert(e);
            }
        }
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(sum),
    }
}

async fn import_one(app: &App, s: &ServiceRecord) -> Result<Outcome, AppError> {
    let cctx = ctx();
    let stream = StreamName::service(s.id);
    let run =
        |action: DirectoryAction| app.execute::<Service>(stream.clone(), action, &cctx, |_| Ok(()));
    let history = app.read_stream(&stream).await?;
    let state = crate::fold::<Service>(&history);
    let planned = outcome(&state, s);
    Ok(match planned {
        // Retirement is final: nothing to run.
        _ if state.data().is_some_and(|d| d.retired) => planned,
        Outcome::Register { retire } => {
            run(DirectoryAction::Register {
                service: s.id,
                profile: s.profile.clone(),
                capacity: s.capacity,
            })
            .await?;
            if retire {
                run(DirectoryAction::Retire).await?;
            }
            Outcome::Register { retire }
        }
        _ => {
            let a = run(DirectoryAction::Update {
                profile: s.profile.clone(),
            })
            .await?;
            let b = run(DirectoryAction::ChangeCapacity {
                capacity: s.capacity,
            })
            .await?;
            if !s.active {
                run(DirectoryAction::Retire).await?;
                Outcome::Retire
            } else if a.unchanged && b.unchanged {
                Outcome::Unchanged
            } else {
                Outcome::Update
            }
        }
    })
}

fn count(sum: &mut ImportSummary, outcome: Outcome) {
    match outcome {
        Outcome::Register { retire } => {
            sum.registered += 1;
            sum.retired += usize::from(retire);
        }
        Outcome::Update => sum.updated += 1,
        Outcome::Unchanged => sum.unchanged += 1,
        Outcome::Retire => sum.retired += 1,
        Outcome::KeptRetired => sum.kept_retired += 1,
    }
}

/// What an import of `s` does to a service in state `state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Register { retire: bool },
    Update,
    Unchanged,
    Retire,
    KeptRetired,
}

fn outcome(state: &Service, s: &ServiceRecord) -> Outcome {
    match state.data() {
        None => Outcome::Register { retire: !s.active },
        Some(d) if d.retired => {
            if s.active {
                Outcome::KeptRetired
            } else {
                Outcome::Unchanged
            }
        }
        Some(_) if !s.active => Outcome::Retire,
        Some(d) => {
            // As `decide` compares: the normalised profile, and the capacity.
            if *d.profile == s.profile.clone().normalised() && d.capacity == s.capacity {
                Outcome::Unchanged
            } else {
                Outcome::Update
            }
        }
    }
}

/// What importing `services` into `store` would do, service by service (the
/// same counts [`import_services`] reports), writing nothing. `store` is
/// `None` when there is no store yet: every service would be registered.
///
/// # Errors
/// The store failing to read a stream.
pub async fn plan_import(
    store: Option<&dyn EventStore>,
    services: &[ServiceRecord],
    mut tick: impl FnMut(),
) -> Result<ImportSummary, AppError> {
    let mut sum = ImportSummary::default();
    for s in services {
        let state = match store {
            Some(store) => {
                let history = store
                    .read_stream(StreamName::service(s.id), 0, usize::MAX)
                    .await?;
                crate::fold::<Service>(&history)
            }
            None => Service::default(),
        };
        count(&mut sum, outcome(&state, s));
        tick();
    }
    Ok(sum)
}

/// Every service of the directory read model (retired ones too), in id order,
/// as a package describes them (`export-hsds`).
pub fn directory_records(
    directory: &careledger_projections::directory::Directory,
) -> Vec<ServiceRecord> {
    let all = careledger_projections::directory::ServiceFilter {
        include_retired: true,
        ..Default::default()
    };
    directory
        .search(&all, directory.len(), None)
        .items
        .into_iter()
        .filter_map(|v| v.state.data())
        .map(|d| ServiceRecord {
            id: d.id,
            profile: (*d.profile).clone(),
            capacity: d.capacity,
            active: !d.retired,
        })
        .collect()
}

/// A directory command done: the service as the log now has it.
#[derive(Debug)]
pub struct ServiceChanged {
    /// `None` when the stream holds no service (a refused registration retried).
    pub view: Option<careledger_projections::directory::ServiceView>,
    pub position: u64,
    pub duplicate: bool,
    /// The command changed nothing, so nothing was written.
    pub unchanged: bool,
}

impl App {
    /// Runs a directory command (register, update, change capacity, retire).
    /// Only administrators manage the directory.
    pub async fn change_directory(
        &self,
        access: &crate::Access,
        ctx: &CommandContext,
        service: ServiceId,
        action: DirectoryAction,
    ) -> Result<ServiceChanged, AppError> {
        access.check(crate::policy::Action::ManageDirectory)?;
        let x = self
            .execute::<Service>(StreamName::service(service), action, ctx, |_| Ok(()))
            .await?;
        let state = crate::fold::<Service>(&x.history);
        let last = x.history.last();
        let view = careledger_projections::directory::ServiceView {
            state,
            version: last.map_or(0, |e| e.version),
            position: last.map_or(0, |e| e.position.raw()),
        };
        Ok(ServiceChanged {
            view: view.state.data().is_some().then_some(view),
            position: x.position.raw(),
            duplicate: x.duplicate,
            unchanged: x.unchanged,
        })
    }
}

#[cfg(test)]
mod tests;
