//! The command line. Each flag documents itself in `--help` and can also be set by
//! the environment variable named there.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "careledger",
    version,
    about = "Event-sourced tracking of supportive-care needs and referrals"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server on the configured store (by default the embedded SQLite store
    /// in ./data, created on first run).
    Serve(ServeArgs),
    /// Validate a needs catalogue file (or the shipped one) and summarise it.
    CheckCatalogue(CatalogueArgs),
}

#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Directory for the embedded store (created if missing).
    #[arg(long, env = "CARELEDGER_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct CatalogueArgs {
    /// A needs catalogue (tab-separated) to use instead of the shipped one.
    #[arg(long, env = "CARELEDGER_CATALOGUE")]
    pub catalogue: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub catalogue: CatalogueArgs,
}

impl Cli {
    pub async fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Serve(args) => crate::serve::serve(args).await,
            Command::CheckCatalogue(args) => {
                let c = crate::serve::load_catalogue(&args)?;
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
