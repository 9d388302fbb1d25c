//! Who is calling: bearer tokens (JWT, HS256) and the access they grant.
//!
//! A token carries `sub` (a pseudonymous subject, never a name), `role` and `sites`
//! (the sites the holder works for; `"*"` for all). The shared secret comes from
//! configuration (`--jwt-secret` / `CARELEDGER_JWT_SECRET`) or, on the embedded
//! default, from a file the server creates in its data directory at first start —
//! never from the code. That first start prints one admin token.
//!
//! Every resolver asks an [`Access`] before it reads or writes a site's data, so the
//! full role-and-site matrix (a later milestone) changes this module, not the
//! resolvers.

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use careledger_domain::store::{Actor, Role};
use careledger_domain::values::SiteId;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::path::Path;

/// The secret's file in the data directory when none is configured.
pub const SECRET_FILE: &str = "jwt-secret";
const MIN_SECRET_BYTES: usize = 32;

#[derive(Clone)]
pub struct TokenKey {
    secret: Vec<u8>,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: String,
    pub sites: Vec<String>,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token: send 'Authorization: Bearer <token>'")]
    Missing,
    #[error("the bearer token is malformed")]
    Malformed,
    #[error("the bearer token's signature does not verify")]
    BadSignature,
    #[error("the bearer token has expired")]
    Expired,
    #[error("the bearer token names an unknown role '{0}'")]
    UnknownRole(String),
    #[error("the bearer token names an invalid site '{0}'")]
    BadSite(String),
}

/// The sites a caller may see and act for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteScope {
    All,
    Only(Vec<SiteId>),
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub actor: Actor,
    pub sites: SiteScope,
}

impl Access {
    pub fn may_access_site(&self, site: &SiteId) -> bool {
        match &self.sites {
            SiteScope::All => true,
            SiteScope::Only(s) => s.contains(site),
        }
    }
    /// The sites a listing is narrowed to (`None`: no narrowing).
    pub fn site_filter(&self) -> Option<Vec<SiteId>> {
        match &self.sites {
            SiteScope::All => None,
            SiteScope::Only(s) => Some(s.clone()),
        }
    }
}

impl TokenKey {
    /// A key from configured secret text (at least 32 bytes).
    pub fn from_secret(secret: &str) -> anyhow::Result<Self> {
        anyhow::ensure!(
            secret.len() >= MIN_SECRET_BYTES,
            "the JWT secret must be at least {MIN_SECRET_BYTES} bytes long"
        );
        Ok(Self {
            secret: secret.as_bytes().to_vec(),
        })
    }

    /// The key in `data_dir`, which must exist (a server has started there once).
    pub fn load(data_dir: &Path) -> anyhow::Result<Self> {
        let path = data_dir.join(SECRET_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "cannot read the token secret {}: start the server once on this data directory, or pass --jwt-secret",
                path.display()
            )
        })?;
        Self::from_secret(text.trim())
            .with_context(|| format!("invalid secret in {}", path.display()))
    }

    /// The key in `data_dir`, created with a fresh random secret if there is none.
    /// Returns whether it was created (a first start).
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<(Self, bool)> {
        let path = data_dir.join(SECRET_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok((
                Self::from_secret(text.trim())
                    .with_context(|| format!("invalid secret in {}", path.display()))?,
                false,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut raw = [0u8; 32];
                getrandom::fill(&mut raw).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
                let text = B64.encode(raw);
                std::fs::create_dir_all(data_dir)
                    .with_context(|| format!("cannot create {}", data_dir.display()))?;
                write_private(&path, text.as_bytes())
                    .with_context(|| format!("cannot write {}", path.display()))?;
                Ok((Self::from_secret(&text)?, true))
            }
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    pub fn sign(&self, claims: &Claims) -> String {
        let header = B64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = B64.encode(serde_json::to_vec(claims).expect("claims serialise"));
        let signing_input = format!("{header}.{payload}");
        let mut mac = self.mac();
        mac.update(signing_input.as_bytes());
        let sig = B64.encode(mac.finalize().into_bytes());
        format!("{signing_input}.{sig}")
    }

    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, AuthError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::Malformed);
        };
        #[derive(Deserialize)]
        struct Header {
            alg: String,
        }
        let header: Header = B64
            .decode(h)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(AuthError::Malformed)?;
        if header.alg != "HS256" {
            return Err(AuthError::Malformed);
        }
        let sig = B64.decode(s).map_err(|_| AuthError::Malformed)?;
        let mut mac = self.mac();
        mac.update(h.as_bytes());
        mac.update(b".");
        mac.update(p.as_bytes());
        // Constant-time comparison.
        mac.verify_slice(&sig)
            .map_err(|_| AuthError::BadSignature)?;
        let claims: Claims = B64
            .decode(p)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(AuthError::Malformed)?;
        if claims.exp.is_some_and(|exp| exp <= now) {
            return Err(AuthError::Expired);
        }
        Ok(claims)
    }

    /// Verifies a token and turns its claims into an [`Access`].
    pub fn authenticate(&self, token: &str, now: i64) -> Result<Access, AuthError> {
        let c = self.verify(token, now)?;
        let role =
            Role::from_name(&c.role).ok_or_else(|| AuthError::UnknownRole(c.role.clone()))?;
        let sites = if c.sites.iter().any(|s| s == "*") {
            SiteScope::All
        } else {
            SiteScope::Only(
                c.sites
                    .iter()
                    .map(|s| SiteId::parse(s).map_err(|_| AuthError::BadSite(s.clone())))
                    .collect::<Result<_, _>>()?,
            )
        };
        Ok(Access {
            actor: Actor {
                subject: c.sub,
                role,
            },
            sites,
        })
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes keys of any length")
    }
}

/// The claims of the admin token a fresh server prints.
pub fn admin_claims(now: i64) -> Claims {
    Claims {
        sub: "admin".into(),
        role: Role::Admin.name().into(),
        sites: vec!["*".into()],
        iat: now,
        exp: None,
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TokenKey {
        TokenKey::from_secret("0123456789abcdef0123456789abcdef").unwrap()
    }

    #[test]
    fn a_signed_token_verifies_and_grants_its_role_and_sites() {
        let k = key();
        let t = k.sign(&Claims {
            sub: "c-17".into(),
            role: "coordinator".into(),
            sites: vec!["be-leuven".into()],
            iat: 0,
            exp: Some(100),
        });
        let a = k.authenticate(&t, 50).unwrap();
        assert_eq!(a.actor.role, Role::Coordinator);
        assert!(a.may_access_site(&SiteId::parse("be-leuven").unwrap()));
        assert!(!a.may_access_site(&SiteId::parse("de-koeln").unwrap()));
        assert_eq!(k.authenticate(&t, 100), Err(AuthError::Expired));
    }

    #[test]
    fn tampered_foreign_and_malformed_tokens_are_refused() {
        let k = key();
        let t = k.sign(&admin_claims(0));
        let other = TokenKey::from_secret("another secret that is long enough!!").unwrap();
        assert_eq!(other.verify(&t, 0), Err(AuthError::BadSignature));
        let (head, rest) = t.split_once('.').unwrap();
        let (_, sig) = rest.split_once('.').unwrap();
        let forged = format!(
            "{head}.{}.{sig}",
            B64.encode(br#"{"sub":"x","role":"admin","sites":["*"],"iat":0}"#)
        );
        assert_eq!(k.verify(&forged, 0), Err(AuthError::BadSignature));
        for bad in ["", "a.b", "a.b.c.d", "!!.!!.!!"] {
            assert_eq!(k.verify(bad, 0), Err(AuthError::Malformed), "{bad}");
        }
        assert!(TokenKey::from_secret("short").is_err());
    }

    #[test]
    fn the_secret_file_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let (a, created) = TokenKey::load_or_create(dir.path()).unwrap();
        assert!(created);
        let (b, created) = TokenKey::load_or_create(dir.path()).unwrap();
        assert!(!created);
        let t = a.sign(&admin_claims(0));
        assert!(b.verify(&t, 0).is_ok());
    }
}
