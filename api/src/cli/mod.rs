//! The command line: one module per command, each a thin edge over start-up
//! (`serve`) or the application's use cases. [`args`] is the `clap` description
//! (a leaf: nothing imports it back but this module).

pub mod apikey;
pub mod args;
pub mod export;
pub mod export_fhir;
pub mod export_hsds;
pub mod import;
pub mod rebuild;
pub mod token;

pub use args::Cli;
use args::Command;

impl Cli {
    pub async fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Serve(args) => serve(args).await,
            Command::Rebuild(args) => rebuild::run(args).await,
            Command::ImportHsds(args) => import::run(args).await,
            Command::ExportHsds(args) => export_hsds::run(args).await,
            Command::ApiKey(cmd) => apikey::run(cmd).await,
            Command::ExportEquity(args) => export::equity(args).await,
            Command::ExportOpenData(args) => export::open_data(args).await,
            Command::ExportFhir(args) => export_fhir::run(args).await,
            Command::PrintSchema => {
                print!("{}", crate::graphql::sdl());
                Ok(())
            }
            Command::Token(args) => token::run(args),
            Command::CheckCatalogue(args) => {
                let c = crate::startup::store::load_catalogue(&args)?;
                println!(
                    "needs catalogue version {}: {} needs, valid",
                    c.version(),
                    c.len()
                );
                for d in careledger_domain::values::NeedDomain::ALL {
                    let n = c.needs().iter().filter(|n| n.domain() == d).count();
                    println!("  {:<20} {n}", d.name());
                }
                Ok(())
            }
        }
    }
}

/// `careledger serve`: build (Ctrl-C still stops a long start-up at once), then
/// the signal handlers — before the server says it listens or writes its ready
/// file, so a signal after either means "shut down gracefully" — then serve.
async fn serve(args: crate::startup::config::ServeArgs) -> anyhow::Result<()> {
    let app = crate::startup::Application::build(args).await?;
    let signals = crate::startup::signals::ShutdownSignals::install()?;
    app.run_until_stopped(signals.recv()).await
}
