//! Who is calling: bearer tokens (JWT, HS256 or RS256) and the access they grant.
//!
//! A token carries `sub` (a pseudonymous subject, never a name), `role` and `sites`
//! (the sites the holder works for; `"*"` for all). The HS256 shared secret comes
//! from configuration (`--jwt-secret` / `CARELEDGER_JWT_SECRET`) or, on the embedded
//! default, from a file the server creates in its data directory at first start —
//! never from the code. That first start prints one admin token. RS256 tokens (from
//! an identity provider) verify against public keys from configuration
//! (`--jwt-public-key`, PEM); a token's `kid`, when present, picks the key.
//!
//! What an [`Access`] may do is decided in one place, [`crate::authz`], which every
//! resolver asks before it reads or writes.

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
    /// The HS256 secret, if HS256 tokens are accepted.
    secret: Option<Vec<u8>>,
    /// RS256 public keys with their key ids.
    public: Vec<PublicKey>,
}

#[derive(Clone)]
struct PublicKey {
    kid: String,
    key: rsa::pkcs1v15::VerifyingKey<Sha256>,
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
    #[error("the bearer token's algorithm '{0}' is not accepted here")]
    Algorithm(String),
    #[error("the API key is unknown or revoked")]
    UnknownApiKey,
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

impl TokenKey {
    /// A key from configured secret text (at least 32 bytes).
    pub fn from_secret(secret: &str) -> anyhow::Result<Self> {
        anyhow::ensure!(
            secret.len() >= MIN_SECRET_BYTES,
            "the JWT secret must be at least {MIN_SECRET_BYTES} bytes long"
        );
        Ok(Self {
            secret: Some(secret.as_bytes().to_vec()),
            public: Vec::new(),
        })
    }

    /// Accepts RS256 tokens signed by the private half of any of these keys (PEM
    /// `PUBLIC KEY` or `RSA PUBLIC KEY`). A key's id (`kid`) is its file stem.
    pub fn with_public_keys(mut self, files: &[std::path::PathBuf]) -> anyhow::Result<Self> {
        use rsa::pkcs1::DecodeRsaPublicKey;
        use rsa::pkcs8::DecodePublicKey;
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
                key: rsa::pkcs1v15::VerifyingKey::new(key),
            });
        }
        Ok(self)
    }

    /// Only RS256 tokens, verified with these keys.
    pub fn public_only(files: &[std::path::PathBuf]) -> anyhow::Result<Self> {
        Self {
            secret: None,
            public: Vec::new(),
        }
        .with_public_keys(files)
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
            #[serde(default)]
            kid: Option<String>,
        }
        let header: Header = B64
            .decode(h)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(AuthError::Malformed)?;
        let sig = B64.decode(s).map_err(|_| AuthError::Malformed)?;
        match header.alg.as_str() {
            // Only the algorithms configured are accepted: never "none", and a
            // public key is never used as an HMAC secret.
            "HS256" if self.secret.is_some() => {
                let mut mac = self.mac();
                mac.update(h.as_bytes());
                mac.update(b".");
                mac.update(p.as_bytes());
                // Constant-time comparison.
                mac.verify_slice(&sig)
                    .map_err(|_| AuthError::BadSignature)?;
            }
            "RS256" if !self.public.is_empty() => {
                use rsa::signature::Verifier;
                let sig = rsa::pkcs1v15::Signature::try_from(sig.as_slice())
                    .map_err(|_| AuthError::Malformed)?;
                let input = format!("{h}.{p}");
                let ok = self
                    .public
                    .iter()
                    .filter(|k| header.kid.as_ref().is_none_or(|kid| *kid == k.kid))
                    .any(|k| k.key.verify(input.as_bytes(), &sig).is_ok());
                if !ok {
                    return Err(AuthError::BadSignature);
                }
            }
            other => return Err(AuthError::Algorithm(other.to_string())),
        }
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
        Hmac::<Sha256>::new_from_slice(self.secret.as_deref().unwrap_or_default())
            .expect("HMAC takes keys of any length")
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
        assert_eq!(
            a.sites,
            SiteScope::Only(vec![SiteId::parse("be-leuven").unwrap()])
        );
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

    mod rs256 {
        use super::super::*;
        use rsa::pkcs8::{EncodePublicKey, LineEnding};
        use rsa::signature::{SignatureEncoding, Signer};

        fn keypair() -> rsa::RsaPrivateKey {
            rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 1024).unwrap()
        }

        /// An RS256 token as an identity provider would sign it.
        fn rs256(private: &rsa::RsaPrivateKey, kid: Option<&str>, claims: &Claims) -> String {
            let header = match kid {
                Some(k) => format!(r#"{{"alg":"RS256","typ":"JWT","kid":"{k}"}}"#),
                None => r#"{"alg":"RS256","typ":"JWT"}"#.to_string(),
            };
            let input = format!(
                "{}.{}",
                B64.encode(header),
                B64.encode(serde_json::to_vec(claims).unwrap())
            );
            let key = rsa::pkcs1v15::SigningKey::<Sha256>::new(private.clone());
            let sig = key.sign(input.as_bytes()).to_bytes();
            format!("{input}.{}", B64.encode(sig))
        }

        fn claims(exp: Option<i64>) -> Claims {
            Claims {
                sub: "idp-user-7".into(),
                role: "quality_manager".into(),
                sites: vec!["be-leuven".into()],
                iat: 1_000,
                exp,
            }
        }

        /// Writes the public key to `<dir>/<kid>.pem`.
        fn pem(
            dir: &std::path::Path,
            kid: &str,
            private: &rsa::RsaPrivateKey,
        ) -> std::path::PathBuf {
            let path = dir.join(format!("{kid}.pem"));
            let text = private
                .to_public_key()
                .to_public_key_pem(LineEnding::LF)
                .unwrap();
            std::fs::write(&path, text).unwrap();
            path
        }

        #[test]
        fn rs256_tokens_verify_against_the_configured_keys_only() {
            let dir = tempfile::tempdir().unwrap();
            let (a, b, stranger) = (keypair(), keypair(), keypair());
            let key = TokenKey::public_only(&[
                pem(dir.path(), "idp-a", &a),
                pem(dir.path(), "idp-b", &b),
            ])
            .unwrap();
            assert!(!key.can_sign());
            // Either key, with or without a kid; the claims become the access.
            for t in [
                rs256(&a, Some("idp-a"), &claims(None)),
                rs256(&b, None, &claims(Some(5_000))),
            ] {
                let access = key.authenticate(&t, 2_000).unwrap();
                assert_eq!(access.actor.role, Role::QualityManager);
                assert_eq!(access.actor.subject, "idp-user-7");
                assert_eq!(
                    access.sites,
                    SiteScope::Only(vec![SiteId::parse("be-leuven").unwrap()])
                );
            }
            // An unknown signer, a kid naming the other key, an expired token.
            assert_eq!(
                key.verify(&rs256(&stranger, None, &claims(None)), 2_000),
                Err(AuthError::BadSignature)
            );
            assert_eq!(
                key.verify(&rs256(&a, Some("idp-b"), &claims(None)), 2_000),
                Err(AuthError::BadSignature)
            );
            assert_eq!(
                key.verify(&rs256(&a, Some("idp-a"), &claims(Some(1_500))), 2_000),
                Err(AuthError::Expired)
            );
            // Without a configured secret, HS256 is refused — even one "signed" with
            // the public key's text (algorithm confusion) — and so is "none".
            let public_text = std::fs::read_to_string(dir.path().join("idp-a.pem")).unwrap();
            let forged = TokenKey::from_secret(&public_text)
                .unwrap()
                .sign(&claims(None));
            assert_eq!(
                key.verify(&forged, 2_000),
                Err(AuthError::Algorithm("HS256".into()))
            );
            let unsigned = format!(
                "{}.{}.",
                B64.encode(r#"{"alg":"none"}"#),
                B64.encode(serde_json::to_vec(&claims(None)).unwrap())
            );
            assert!(key.verify(&unsigned, 2_000).is_err());
            // A tampered payload fails.
            let good = rs256(&a, None, &claims(None));
            let mut parts: Vec<&str> = good.split('.').collect();
            let other = B64.encode(
                serde_json::to_vec(&Claims {
                    role: "admin".into(),
                    ..claims(None)
                })
                .unwrap(),
            );
            parts[1] = &other;
            assert_eq!(
                key.verify(&parts.join("."), 2_000),
                Err(AuthError::BadSignature)
            );
        }

        #[test]
        fn a_secret_and_public_keys_accept_both_kinds_and_bad_key_files_are_refused() {
            let dir = tempfile::tempdir().unwrap();
            let a = keypair();
            let key = TokenKey::from_secret("0123456789abcdef0123456789abcdef")
                .unwrap()
                .with_public_keys(&[pem(dir.path(), "idp", &a)])
                .unwrap();
            assert!(key.can_sign());
            assert!(key.verify(&key.sign(&claims(None)), 2_000).is_ok());
            assert!(key.verify(&rs256(&a, None, &claims(None)), 2_000).is_ok());
            let junk = dir.path().join("junk.pem");
            std::fs::write(&junk, "not a key").unwrap();
            let e = TokenKey::public_only(&[junk]).unwrap_err().to_string();
            assert!(e.contains("is not an RSA public key"), "{e}");
            let e = TokenKey::public_only(&[dir.path().join("missing.pem")])
                .unwrap_err()
                .to_string();
            assert!(e.contains("cannot read the JWT public key"), "{e}");
        }
    }
}
