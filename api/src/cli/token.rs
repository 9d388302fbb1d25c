//! `careledger token`.

use crate::cli::args::TokenArgs;
use crate::http::tokens::{self, Claims, TokenKey, expiry_text};
use anyhow::Context;
use careledger_domain::store::Clock;
use careledger_infra::clock::SystemClock;

/// `careledger token`: mint a token with the server's secret. Every token expires
/// (`--hours`, 8 unless given, at most [`tokens::MAX_TOKEN_HOURS`]), and only
/// the roles of the authorisation table are minted.
pub fn run(args: TokenArgs) -> anyhow::Result<()> {
    let role = tokens::token_role(&args.role).with_context(|| {
        let why = if careledger_domain::store::Role::from_name(&args.role).is_some() {
            "is the server's internal role and is never given to a token"
        } else {
            "is not a role"
        };
        format!(
            "--role '{}' {why}: choose {}",
            args.role,
            tokens::token_role_names()
        )
    })?;
    for s in args.sites.iter().filter(|s| *s != "*") {
        careledger_domain::values::SiteId::parse(s)?;
    }
    anyhow::ensure!(!args.sub.trim().is_empty(), "--sub must name a subject");
    anyhow::ensure!(
        (1..=tokens::MAX_TOKEN_HOURS).contains(&args.hours),
        "--hours must be between 1 and {}",
        tokens::MAX_TOKEN_HOURS
    );
    let (sites, organisations) = match role {
        careledger_domain::store::Role::Provider => {
            anyhow::ensure!(
                !args.organisations.is_empty(),
                "a provider's token names the organisations they work for: --organisation <uuid>"
            );
            for o in &args.organisations {
                uuid::Uuid::try_parse(o).map_err(|_| {
                    anyhow::anyhow!("--organisation '{o}' is not an organisation id (a UUID)")
                })?;
            }
            anyhow::ensure!(
                args.sites == ["*"],
                "a provider's token names organisations, not sites: leave out --sites"
            );
            (Vec::new(), args.organisations)
        }
        _ => {
            anyhow::ensure!(
                args.organisations.is_empty(),
                "--organisation is for a provider's token only (--role provider)"
            );
            (args.sites, Vec::new())
        }
    };
    let keys = match &args.secret.jwt_secret {
        Some(s) => TokenKey::from_secret(s).context("invalid --jwt-secret")?,
        None => TokenKey::load(&args.store.data_dir)?,
    };
    let now = SystemClock.now().timestamp();
    let exp = now + i64::from(args.hours) * 3600;
    println!(
        "{}",
        keys.sign(&Claims {
            sub: args.sub,
            role: role.name().into(),
            sites,
            organisations,
            iat: now,
            exp,
        })
    );
    eprintln!(
        "CareLedger: {} token, valid {} h, until {}.",
        role.name(),
        args.hours,
        expiry_text(exp)
    );
    Ok(())
}
