//! The command line. Each flag documents itself in `--help` and can also be set by
//! the environment variable named there.

use crate::startup::config::{CatalogueArgs, DisclosureArgs, SecretArgs, ServeArgs, StoreArgs};
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
    /// Run the GraphQL server on the configured store (by default the embedded
    /// SQLite store in ./data, created on first run).
    Serve(ServeArgs),
    /// Rebuild the read models from the whole log (the server must be stopped).
    Rebuild(RebuildArgs),
    /// Import an HSDS 3.0 directory into the service directory (the server must be
    /// stopped): a tabular data package, HSDS API JSON or CareLedger's JSON layout,
    /// told apart by what PATH holds. Checks every record first; imports nothing if
    /// one is bad (unless --skip-invalid); --check only reports.
    ImportHsds(ImportArgs),
    /// Write the service directory as an HSDS 3.0 tabular data package into a new
    /// directory (the server must be stopped with the embedded store).
    ExportHsds(ExportHsdsArgs),
    /// Print an equity table as CSV (small cells suppressed), as the GraphQL `equity`
    /// field serves it.
    ExportEquity(ExportArgs),
    /// Write the open aggregate data set (a Frictionless Tabular Data Package:
    /// equity tables by each stratifier and quarter, perturbed and suppressed) into a
    /// new directory, for consortium sharing (the server must be stopped with the
    /// embedded store).
    ExportOpenData(OpenDataArgs),
    /// Write the referrals, needs, recipients (pseudonymous: no names or contact
    /// details), consents and the directory as FHIR R4 resources, one NDJSON file
    /// per resource type (the FHIR Bulk Data format), into a new directory.
    ExportFhir(ExportFhirArgs),
    /// Print the GraphQL schema (SDL), as checked in at api/schema.graphql.
    PrintSchema,
    /// Mint a bearer token signed with the server's secret.
    Token(TokenArgs),
    /// Issue, revoke or list API keys for external applications (the server must be
    /// stopped with the embedded store; with PostgreSQL it may run).
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
    /// Validate a needs catalogue file (or the shipped one) and summarise it.
    CheckCatalogue(CatalogueArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The package: a directory with datapackage.json (tabular), a directory of
    /// HSDS API JSON files (or one such file), or CareLedger's layout
    /// (organizations.json, services.json, … need_services.json); see
    /// docs/hsds-mapping.md.
    pub path: PathBuf,
    /// Report what would be imported, updated and skipped, and every problem by
    /// file, row and field; write nothing.
    #[arg(long)]
    pub check: bool,
    /// Import the valid services and report the others (default: one problem
    /// and nothing is imported).
    #[arg(long)]
    pub skip_invalid: bool,
    /// The language of services published in one language: en, fr, nl or de
    /// (default: the one of these the service speaks, if only one, else en).
    #[arg(long)]
    pub language: Option<String>,
    /// A CSV mapping taxonomy term codes to need codes (columns term_code,
    /// need_code; default: taxonomy_map.csv in the package, if there).
    #[arg(long)]
    pub taxonomy_map: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub catalogue: CatalogueArgs,
}

#[derive(Debug, Args)]
pub struct ExportHsdsArgs {
    /// A new (or empty) directory to write the package into.
    pub dir: PathBuf,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The stratifier: age_band, sex, region, country, language,
    /// preferential_reimbursement, deprivation_quintile, recipient_kind, site,
    /// cancer_site_group, domain.
    #[arg(long)]
    pub by: String,
    /// referral_rate, completion_rate, unmet_need_rate, rejection_rate,
    /// time_to_referral, time_to_completion.
    #[arg(long, default_value = "referral_rate")]
    pub outcome: String,
    /// First month of identification, YYYY-MM.
    #[arg(long)]
    pub from: Option<String>,
    /// Last month of identification, YYYY-MM.
    #[arg(long)]
    pub to: Option<String>,
    /// Only these sites, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub sites: Option<Vec<String>>,
    /// A stricter suppression threshold than the minimum.
    #[arg(long)]
    pub k: Option<i32>,
    /// The minimum cell size (as the server's --min-cell).
    #[arg(long, env = "CARELEDGER_MIN_CELL", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub min_cell: u64,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub disclosure: DisclosureArgs,
    #[command(flatten)]
    pub catalogue: CatalogueArgs,
}

#[derive(Debug, Args)]
pub struct OpenDataArgs {
    /// The directory to write (created; it must not exist or be empty).
    #[arg(long)]
    pub out: PathBuf,
    /// The minimum cell size (as the server's --min-cell).
    #[arg(long, env = "CARELEDGER_MIN_CELL", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub min_cell: u64,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub disclosure: DisclosureArgs,
}

#[derive(Debug, Args)]
pub struct ExportFhirArgs {
    /// The directory to write (created; it must not exist or be empty).
    #[arg(long)]
    pub out: PathBuf,
    /// Only need cases identified on or after this day (YYYY-MM-DD).
    #[arg(long)]
    pub from: Option<String>,
    /// Only need cases identified on or before this day (YYYY-MM-DD).
    #[arg(long)]
    pub to: Option<String>,
    /// Only these sites, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub sites: Option<Vec<String>>,
    /// Labels in this language (en, fr, nl, de).
    #[arg(long, default_value = "en")]
    pub lang: String,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub catalogue: CatalogueArgs,
}

#[derive(Debug, clap::Subcommand)]
pub enum ApiKeyCommand {
    /// Issue a key; prints it once (only its hash is kept).
    Issue {
        /// What the key is for, e.g. "Regional statistics portal".
        #[arg(long)]
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a key by id: it stops working at once.
    Revoke {
        id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List the keys (never their secrets).
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Args)]
pub struct RebuildArgs {
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub secret: SecretArgs,
    /// The subject: a pseudonymous user or application id (never a name).
    #[arg(long)]
    pub sub: String,
    /// coordinator, quality_manager, external_app, admin or provider (the server's
    /// internal `system` role is never given to a token).
    #[arg(long, default_value = "coordinator")]
    pub role: String,
    /// Sites the token covers, comma-separated; `*` for all. Not for a provider,
    /// whose token names organisations instead.
    #[arg(long, value_delimiter = ',', default_value = "*")]
    pub sites: Vec<String>,
    /// For a provider (and only a provider): the organisations of the directory
    /// they work for, as UUIDs, comma-separated or repeated.
    #[arg(long = "organisation", value_delimiter = ',')]
    pub organisations: Vec<String>,
    /// Lifetime in hours: 8 (a working day) unless given; at most 2160 (90 days),
    /// e.g. `--hours 720` for an application's token. Every token expires.
    #[arg(long, default_value_t = crate::http::tokens::DEFAULT_TOKEN_HOURS, value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::http::tokens::MAX_TOKEN_HOURS)))]
    pub hours: u32,
}
