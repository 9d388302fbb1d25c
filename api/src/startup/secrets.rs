//! The deployment's secrets, from configuration or the data directory, never
//! from the code: the token key and the disclosure-control secret.

use super::config::{DisclosureArgs, SecretArgs};
use crate::http::tokens::TokenKey;
use anyhow::Context;
use std::path::Path;

pub fn token_key(secret: &SecretArgs, data_dir: &Path) -> anyhow::Result<(TokenKey, bool)> {
    let keys = &secret.jwt_public_key;
    if !keys.is_empty() {
        // With an identity provider's keys, HS256 only when a secret is configured
        // (no secret file is created, no token printed).
        let key = match &secret.jwt_secret {
            Some(s) => TokenKey::from_secret(s)
                .context("invalid --jwt-secret")?
                .with_public_keys(keys)?,
            None => TokenKey::public_only(keys)?,
        }
        .with_rs256_claims(secret.jwt_issuer.clone(), secret.jwt_audience.clone());
        return Ok((key, false));
    }
    match &secret.jwt_secret {
        Some(s) => Ok((
            TokenKey::from_secret(s).context("invalid --jwt-secret")?,
            false,
        )),
        None => TokenKey::load_or_create(data_dir),
    }
}

/// The disclosure-control secret's file in the data directory when none is configured.
pub const DISCLOSURE_SECRET_FILE: &str = "disclosure-secret";

/// The cell-key method under the configured secret, or the one in `data_dir`
/// (when `create`, made with 32 random bytes, mode 0600, if there is none). Never
/// from the code; it survives restarts, and servers sharing a store must share it.
/// Exports never create one: a second secret would publish a second, independent
/// draw of the same cells, and averaging draws converges on the exact counts.
pub fn disclosure(
    args: &DisclosureArgs,
    data_dir: &Path,
    create: bool,
) -> anyhow::Result<careledger_projections::equity::disclosure::CellKeyMethod> {
    let secret = disclosure_secret(args, data_dir, create)?;
    Ok(careledger_projections::equity::disclosure::CellKeyMethod::new(&secret))
}

/// The key answer links are signed with: from `--answer-link-secret` when
/// configured (set a new one to void every link issued), else derived from the
/// disclosure secret — under a label of its own (HMAC), so neither key tells
/// anything of the other, and replicas sharing the disclosure secret share it.
pub fn answer_links(
    configured: Option<&str>,
    args: &DisclosureArgs,
    data_dir: &Path,
) -> anyhow::Result<careledger_app::answer_link::LinkKey> {
    use careledger_app::answer_link::LinkKey;
    if let Some(s) = configured {
        anyhow::ensure!(
            s.len() >= 32,
            "the answer-link secret must be at least 32 bytes long"
        );
        return Ok(LinkKey::new(s.as_bytes()));
    }
    Ok(LinkKey::new(&disclosure_secret(args, data_dir, true)?))
}

/// The disclosure secret's bytes (see [`disclosure`]).
fn disclosure_secret(
    args: &DisclosureArgs,
    data_dir: &Path,
    create: bool,
) -> anyhow::Result<Vec<u8>> {
    if let Some(s) = &args.disclosure_secret {
        anyhow::ensure!(
            s.len() >= 32,
            "the disclosure secret must be at least 32 bytes long"
        );
        return Ok(s.as_bytes().to_vec());
    }
    let path = data_dir.join(DISCLOSURE_SECRET_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => {
            anyhow::ensure!(
                bytes.len() >= 32,
                "the disclosure secret in {} is shorter than 32 bytes",
                path.display()
            );
            Ok(bytes)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !create => Err(anyhow::anyhow!(
            "no disclosure secret in {}: start the server once on this data directory, or pass the deployment's --disclosure-secret (CARELEDGER_DISCLOSURE_SECRET); nothing was written",
            path.display()
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            use std::io::Write;
            let mut raw = [0u8; 32];
            getrandom::fill(&mut raw).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
            std::fs::create_dir_all(data_dir)
                .with_context(|| format!("cannot create {}", data_dir.display()))?;
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let mut f = opts
                .open(&path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            f.write_all(&raw)
                .and_then(|()| f.sync_all())
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(raw.to_vec())
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}
