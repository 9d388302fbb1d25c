//! Who is calling: bearer tokens (JWT, HS256 or RS256) and the access they grant.
//!
//! A token carries `sub` (a pseudonymous subject, never a name), `role`, `sites`
//! (the sites the holder works for; `"*"` for all), `iat` and `exp`. The HS256
//! shared secret comes from configuration (`--jwt-secret` / `CARELEDGER_JWT_SECRET`)
//! or, on the embedded default, from a file the server creates in its data directory
//! at first start — never from the code. That first start prints one admin token,
//! valid for [`ADMIN_TOKEN_HOURS`]. RS256 tokens (from an identity provider) verify
//! against public keys from configuration (`--jwt-public-key`, PEM); a token's
//! `kid`, when present, picks the key by its file stem.
//!
//! Signatures are checked by the `jsonwebtoken` crate. Each key accepts exactly
//! one algorithm (HS256 for the secret, RS256 for each public key): a token whose
//! header names another algorithm is refused before any key is used, so `none` and
//! a public key used as an HMAC secret never verify. Every token must carry `exp`,
//! may carry `nbf`, and both are compared with the server's clock allowing
//! [`LEEWAY_SECS`] of skew; an `exp` further ahead than [`MAX_TOKEN_HOURS`] is
//! refused, so no token lives for ever. Only the roles of the authorisation table
//! ([`TOKEN_ROLES`]) come from a token; the internal `system` role never does.
//!
//! What an [`Access`] may do is decided in one place, [`crate::authz`], which every
//! resolver asks before it reads or writes.

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use careledger_app::{Access, SiteScope};
use careledger_domain::ids::OrganisationId;
use careledger_domain::store::{Actor, Role};
use careledger_domain::values::SiteId;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The secret's file in the data directory when none is configured.
pub const SECRET_FILE: &str = "jwt-secret";
const MIN_SECRET_BYTES: usize = 32;

/// Clock skew allowed when `exp` and `nbf` are compared with the server's clock.
pub const LEEWAY_SECS: i64 = 30;
/// A token's lifetime when `careledger token` is given no `--hours` (a working day).
pub const DEFAULT_TOKEN_HOURS: u32 = 8;
/// The longest lifetime a token may have (90 days): `careledger token --hours` is
/// capped here, and a token whose `exp` lies further ahead is refused.
pub const MAX_TOKEN_HOURS: u32 = 24 * 90;
/// The lifetime of the admin token a first start prints.
pub const ADMIN_TOKEN_HOURS: u32 = 24;

/// The roles a token may carry: those of the authorisation table. `system` (the
/// server's own role for imports and migrations) is not among them.
pub const TOKEN_ROLES: [Role; 5] = [
    Role::Coordinator,
    Role::QualityManager,
    Role::ExternalApp,
    Role::Admin,
    Role::Provider,
];

/// The role a token names, if a token may carry it (see [`TOKEN_ROLES`]).
pub fn token_role(name: &str) -> Option<Role> {
    let role = Role::from_name(name)?;
    // Exhaustive on purpose: a new role must be placed on one side or the other.
    match role {
        Role::Coordinator
        | Role::QualityManager
        | Role::ExternalApp
        | Role::Admin
        | Role::Provider => Some(role),
        Role::System => None,
    }
}

/// The names of [`TOKEN_ROLES`], for messages: `coordinator, …, or admin`.
pub fn token_role_names() -> String {
    let names: Vec<&str> = TOKEN_ROLES.iter().map(|r| r.name()).collect();
    let (last, rest) = names.split_last().expect("roles");
    format!("{} or {last}", rest.join(", "))
}

#[derive(Clone)]
pub struct TokenKey {
    /// The HS256 secret, if HS256 tokens are accepted.
    secret: Option<Secret>,
    /// RS256 public keys with their key ids.
    public: Vec<PublicKey>,
    /// What an RS256 token must name as its issuer (`iss`) and audience (`aud`),
    /// when configured: an identity provider signs tokens for many applications,
    /// and one issued for another must not open this one.
    rs256_issuer: Option<String>,
    rs256_audience: Option<String>,
    /// Tokens whose signature and claims verified with exactly these keys and
    /// requirements (a builder method that changes them starts a new cache).
    verified: Arc<VerifiedTokens>,
}

/// The claims of tokens already verified, by the token's full text: verifying a
/// signature (RS256 above all) is the larger part of authenticating a request,
/// and a client sends the same token for hours. Only the signature and the
/// time-independent checks are remembered: `exp`, `nbf` and the longest lifetime
/// are compared with the clock on every request, as for a token never seen, and
/// an entry past its expiry is dropped. Only tokens that verified are kept, so
/// nothing a client makes up without the key can fill it; it holds at most
/// [`MAX_VERIFIED_TOKENS`] and is emptied when full.
#[derive(Default)]
struct VerifiedTokens {
    map: Mutex<HashMap<String, Arc<Presented>>>,
}

/// How many verified tokens [`VerifiedTokens`] keeps.
pub const MAX_VERIFIED_TOKENS: usize = 4_096;
/// Longer tokens are verified every time and not kept.
const MAX_CACHED_TOKEN_BYTES: usize = 8 * 1024;

impl VerifiedTokens {
    fn get(&self, token: &str) -> Option<Arc<Presented>> {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(token)
            .cloned()
    }

    fn keep(&self, token: &str, claims: Arc<Presented>) {
        if token.len() > MAX_CACHED_TOKEN_BYTES {
            return;
        }
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_VERIFIED_TOKENS {
            map.clear();
        }
        map.insert(token.to_string(), claims);
    }

    fn forget(&self, token: &str) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(token);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[derive(Clone)]
struct Secret {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

#[derive(Clone)]
struct PublicKey {
    kid: String,
    key: DecodingKey,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

/// What a token says. `exp` is required: a token without it is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: String,
    pub sites: Vec<String>,
    /// A provider's organisations of the directory (UUIDs); absent for every
    /// other role.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub organisations: Vec<String>,
    pub iat: i64,
    pub exp: i64,
}

/// The claims as presented, before `exp` is known to be there (and with `nbf`,
/// which identity providers may send).
#[derive(Deserialize, Clone)]
struct Presented {
    sub: String,
    role: String,
    sites: Vec<String>,
    #[serde(default)]
    organisations: Vec<String>,
    iat: i64,
    #[serde(default)]
    exp: Option<i64>,
    #[serde(default)]
    nbf: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token: send 'Authorization: Bearer <token>'")]
    Missing,
    #[error("the bearer token is malformed")]
    Malformed,
    #[error("the bearer token's algorithm '{0}' is not accepted here")]
    Algorithm(String),
    #[error("the bearer token's key id '{0}' names no configured key")]
    UnknownKeyId(String),
    #[error("the API key is unknown or revoked")]
    UnknownApiKey,
    #[error("the bearer token's signature does not verify")]
    BadSignature,
    #[error("the bearer token has expired")]
    Expired,
    #[error("the bearer token has no expiry ('exp'): every token must expire")]
    NoExpiry,
    #[error(
        "the bearer token expires more than {MAX_TOKEN_HOURS} hours from now, longer than any token may live"
    )]
    TooLongLived,
    #[error("the bearer token is not valid yet ('nbf' lies ahead)")]
    NotYetValid,
    #[error(
        "the bearer token names role '{0}', which no token may carry: a token's role is coordinator, quality_manager, external_app, admin or provider"
    )]
    UnknownRole(String),
    #[error("the bearer token names an invalid site '{0}'")]
    BadSite(String),
    #[error(
        "a provider's bearer token must name the organisations it works for ('organisations': UUIDs of the directory) and no sites"
    )]
    ProviderScope,
    #[error("the bearer token names an invalid organisation '{0}' (a UUID of the directory)")]
    BadOrganisation(String),
    #[error("the bearer token names organisations, which only a provider's token may")]
    OrganisationsNotForRole,
    #[error("the bearer token was not issued for this server (its issuer or audience)")]
    NotForThisServer,
}

/// How `jsonwebtoken` checks a token for a key that accepts only `alg`: the
/// signature and the presence of `exp`. Times are compared afterwards with the
/// server's clock (which tests and replicas inject), not the library's.
fn validation(alg: Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    v.set_required_spec_claims(&["exp"]);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v
}

impl TokenKey {
    /// A key from configured secret text (at least 32 bytes).
    pub fn from_secret(secret: &str) -> anyhow::Result<Self> {
        anyhow::ensure!(
            secret.len() >= MIN_SECRET_BYTES,
            "the JWT secret must be at least {MIN_SECRET_BYTES} bytes long"
        );
        Ok(Self {
            secret: Some(Secret {
                encoding: EncodingKey::from_secret(secret.as_bytes()),
                decoding: DecodingKey::from_secret(secret.as_bytes()),
            }),
            public: Vec::new(),
            rs256_issuer: None,
            rs256_audience: None,
            verified: Default::default(),
        })
    }

    /// Accepts RS256 tokens signed by the private half of any of these keys (PEM
    /// `PUBLIC KEY` or `RSA PUBLIC KEY`). A key's id (`kid`) is its file stem.
    pub fn with_public_keys(mut self, files: &[std::path::PathBuf]) -> anyhow::Result<Self> {
        use rsa::pkcs1::DecodeRsaPublicKey;
        use rsa::pkcs8::DecodePublicKey;
        use rsa::traits::PublicKeyParts;
        for f in files {
            let pem = std::fs::read_to_string(f)
                .with_context(|| format!("cannot read the JWT public key {}", f.display()))?;
            let key = rsa::RsaPublicKey::from_public_key_pem(&pem)
                .or_else(|_| rsa::RsaPublicKey::from_pkcs1_pem(&pem))
                .map_err(|e| {
                    anyhow::anyhow!("{} is not an RSA public key in PEM ({e})", f.display())
                })?;
            let kid = f
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            self.public.push(PublicKey {
                kid,
                key: DecodingKey::from_rsa_raw_components(
                    &key.n().to_bytes_be(),
                    &key.e().to_bytes_be(),
                ),
            });
        }
        self.verified = Default::default();
        Ok(self)
    }

    /// Only RS256 tokens, verified with these keys.
    pub fn public_only(files: &[std::path::PathBuf]) -> anyhow::Result<Self> {
        Self {
            secret: None,
            public: Vec::new(),
            rs256_issuer: None,
            rs256_audience: None,
            verified: Default::default(),
        }
        .with_public_keys(files)
    }

    /// Requires RS256 tokens to name this issuer and/or this audience.
    pub fn with_rs256_claims(mut self, issuer: Option<String>, audience: Option<String>) -> Self {
        self.rs256_issuer = issuer;
        self.rs256_audience = audience;
        self.verified = Default::default();
        self
    }

    /// Whether this key can mint tokens (it holds an HS256 secret).
    pub fn can_sign(&self) -> bool {
        self.secret.is_some()
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

    /// Signs HS256 claims (only a key holding a secret signs; see [`TokenKey::can_sign`]).
    pub fn sign(&self, claims: &Claims) -> String {
        let secret = self
            .secret
            .as_ref()
            .expect("only a key holding a secret signs (see TokenKey::can_sign)");
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &secret.encoding)
            .expect("HS256 claims sign")
    }

    /// Checks a token's signature with the key its header picks and its times
    /// against `now` (seconds since the epoch), and returns its claims.
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, AuthError> {
        let p = match self.verified.get(token) {
            Some(p) => p,
            None => {
                let p = Arc::new(self.verify_signature(token)?);
                self.verified.keep(token, p.clone());
                p
            }
        };
        let exp = p.exp.ok_or(AuthError::NoExpiry)?;
        if exp.saturating_add(LEEWAY_SECS) <= now {
            self.verified.forget(token);
            return Err(AuthError::Expired);
        }
        if exp > now.saturating_add(i64::from(MAX_TOKEN_HOURS) * 3600 + LEEWAY_SECS) {
            return Err(AuthError::TooLongLived);
        }
        if p.nbf
            .is_some_and(|nbf| nbf > now.saturating_add(LEEWAY_SECS))
        {
            return Err(AuthError::NotYetValid);
        }
        let p = Presented::clone(&p);
        Ok(Claims {
            sub: p.sub,
            role: p.role,
            sites: p.sites,
            organisations: p.organisations,
            iat: p.iat,
            exp,
        })
    }

    /// The time-independent part of [`verify`](Self::verify): the header, the
    /// signature with the key the header picks, and the claims that must be
    /// there (`exp`; `iss` and `aud` when configured). Its answer for a token
    /// never changes for one key, which is why [`VerifiedTokens`] may keep it.
    fn verify_signature(&self, token: &str) -> Result<Presented, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
        // No extension is understood here, so none may be marked critical.
        if header.crit.is_some() {
            return Err(AuthError::Malformed);
        }
        // Each key accepts one algorithm: the header's picks the key (never the
        // other way round), so "none" and a public key used as an HMAC secret
        // have nothing to verify with.
        let candidates: Vec<&DecodingKey> = match header.alg {
            Algorithm::HS256 => match &self.secret {
                Some(s) => vec![&s.decoding],
                None => Vec::new(),
            },
            Algorithm::RS256 => match &header.kid {
                Some(kid) if !self.public.is_empty() => {
                    let chosen: Vec<_> = self
                        .public
                        .iter()
                        .filter(|k| k.kid == *kid)
                        .map(|k| &k.key)
                        .collect();
                    if chosen.is_empty() {
                        return Err(AuthError::UnknownKeyId(kid.clone()));
                    }
                    chosen
                }
                _ => self.public.iter().map(|k| &k.key).collect(),
            },
            _ => Vec::new(),
        };
        if candidates.is_empty() {
            return Err(AuthError::Algorithm(format!("{:?}", header.alg)));
        }
        let mut validation = validation(header.alg);
        if header.alg == Algorithm::RS256 {
            let mut required = vec!["exp"];
            if let Some(iss) = &self.rs256_issuer {
                validation.set_issuer(&[iss]);
                required.push("iss");
            }
            if let Some(aud) = &self.rs256_audience {
                validation.set_audience(&[aud]);
                validation.validate_aud = true;
                required.push("aud");
            }
            validation.set_required_spec_claims(&required);
        }
        let mut refusal = AuthError::BadSignature;
        let mut presented = None;
        for key in candidates {
            match jsonwebtoken::decode::<Presented>(token, key, &validation) {
                Ok(data) => {
                    presented = Some(data.claims);
                    break;
                }
                Err(e) => {
                    refusal = match e.into_kind() {
                        ErrorKind::InvalidSignature => AuthError::BadSignature,
                        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => {
                            AuthError::Algorithm(format!("{:?}", header.alg))
                        }
                        ErrorKind::MissingRequiredClaim(c) if c == "exp" => {
                            return Err(AuthError::NoExpiry);
                        }
                        ErrorKind::InvalidIssuer
                        | ErrorKind::InvalidAudience
                        | ErrorKind::MissingRequiredClaim(_) => {
                            return Err(AuthError::NotForThisServer);
                        }
                        // A verified signature over claims that do not parse.
                        _ => return Err(AuthError::Malformed),
                    }
                }
            }
        }
        let p = presented.ok_or(refusal)?;
        p.exp.ok_or(AuthError::NoExpiry)?;
        Ok(p)
    }

    /// Verifies a token and turns its claims into an [`Access`]. Only the roles of
    /// [`TOKEN_ROLES`] are granted; any other (`system` included) is refused.
    pub fn authenticate(&self, token: &str, now: i64) -> Result<Access, AuthError> {
        let c = self.verify(token, now)?;
        let role = token_role(&c.role).ok_or_else(|| AuthError::UnknownRole(c.role.clone()))?;
        let organisations = match role {
            Role::Provider => {
                if c.organisations.is_empty() || !c.sites.is_empty() {
                    return Err(AuthError::ProviderScope);
                }
                c.organisations
                    .iter()
                    .map(|o| {
                        uuid::Uuid::try_parse(o)
                            .map(OrganisationId::from_uuid)
                            .map_err(|_| AuthError::BadOrganisation(o.clone()))
                    })
                    .collect::<Result<Vec<_>, _>>()?
            }
            _ if !c.organisations.is_empty() => return Err(AuthError::OrganisationsNotForRole),
            _ => Vec::new(),
        };
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
            organisations,
        })
    }
}

/// The claims of the admin token a fresh server prints: all sites, valid for
/// [`ADMIN_TOKEN_HOURS`] from `now`.
pub fn admin_claims(now: i64) -> Claims {
    Claims {
        sub: "admin".into(),
        role: Role::Admin.name().into(),
        sites: vec!["*".into()],
        organisations: Vec::new(),
        iat: now,
        exp: now + i64::from(ADMIN_TOKEN_HOURS) * 3600,
    }
}

pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
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

/// A token's expiry for people: `2026-11-30 14:05 UTC`.
pub fn expiry_text(exp: i64) -> String {
    chrono::DateTime::from_timestamp(exp, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| exp.to_string())
}

#[cfg(test)]
mod tests;
