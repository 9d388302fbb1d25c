use super::*;
use serde_json::json;

const SECRET: &str = "0123456789abcdef0123456789abcdef";

fn key() -> TokenKey {
    TokenKey::from_secret(SECRET).unwrap()
}

/// Any JSON payload signed HS256 with `secret` (for claims `sign` would not
/// produce: no `exp`, an `nbf`, another algorithm).
fn hs(alg: Algorithm, secret: &str, payload: &serde_json::Value) -> String {
    jsonwebtoken::encode(
        &Header::new(alg),
        payload,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// A token the key signed grants its role and sites until `exp` (plus the leeway).
#[test]
fn a_signed_token_verifies_and_grants_its_role_and_sites() {
    let k = key();
    let t = k.sign(&Claims {
        sub: "c-17".into(),
        role: "coordinator".into(),
        sites: vec!["be-leuven".into()],
        organisations: Vec::new(),
        iat: 0,
        exp: 100,
    });
    let a = k.authenticate(&t, 50).unwrap();
    assert_eq!(a.actor.role, Role::Coordinator);
    assert_eq!(
        a.sites,
        SiteScope::Only(vec![SiteId::parse("be-leuven").unwrap()])
    );
    // Past `exp` by less than the leeway it still passes; then it is refused.
    assert!(k.authenticate(&t, 100 + LEEWAY_SECS - 1).is_ok());
    assert_eq!(
        k.authenticate(&t, 100 + LEEWAY_SECS),
        Err(AuthError::Expired)
    );
}

/// Another secret's token, a payload changed after signing and tokens that are
/// not JWTs are refused; a secret shorter than 32 bytes is not accepted.
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
        B64.encode(br#"{"sub":"x","role":"admin","sites":["*"],"iat":0,"exp":60}"#)
    );
    assert_eq!(k.verify(&forged, 0), Err(AuthError::BadSignature));
    for bad in ["", "a.b", "a.b.c.d", "!!.!!.!!"] {
        assert_eq!(k.verify(bad, 0), Err(AuthError::Malformed), "{bad}");
    }
    assert!(TokenKey::from_secret("short").is_err());
}

/// The first start creates the secret file; later starts read the same secret.
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

/// Issue 13: a correctly signed token naming the internal `system` role, an
/// unknown role, or none at all grants nothing; the four roles of the
/// authorisation table do.
#[test]
fn a_token_naming_the_system_role_or_an_unknown_or_empty_role_is_refused() {
    let k = key();
    for role in ["system", "", "root", "Admin", "admin ", "superuser"] {
        let t = k.sign(&Claims {
            sub: "mallory".into(),
            role: role.into(),
            sites: vec!["*".into()],
            organisations: Vec::new(),
            iat: 0,
            exp: 3_600,
        });
        assert!(k.verify(&t, 10).is_ok(), "the signature itself is fine");
        assert_eq!(
            k.authenticate(&t, 10),
            Err(AuthError::UnknownRole(role.into())),
            "{role:?}"
        );
    }
    for role in TOKEN_ROLES {
        let provider = role == Role::Provider;
        let t = k.sign(&Claims {
            sub: "someone".into(),
            role: role.name().into(),
            sites: if provider { vec![] } else { vec!["*".into()] },
            organisations: if provider {
                vec!["0192f0c4-7c5e-7a31-9f4e-1c2d3e4f5a6b".into()]
            } else {
                Vec::new()
            },
            iat: 0,
            exp: 3_600,
        });
        let a = k.authenticate(&t, 10).unwrap();
        assert_eq!(a.actor.role, role);
        assert_eq!(a.organisations.len(), usize::from(provider), "{role:?}");
    }
    assert_eq!(token_role("system"), None);
    assert_eq!(
        token_role_names(),
        "coordinator, quality_manager, external_app, admin or provider"
    );
}

/// Issue 16: a provider's token names organisations (UUIDs) and no sites; no
/// other role's token may name organisations.
#[test]
fn a_provider_token_names_organisations_and_only_a_provider_token_does() {
    let k = key();
    let org = "0192f0c4-7c5e-7a31-9f4e-1c2d3e4f5a6b";
    let token = |role: &str, sites: &[&str], orgs: &[&str]| {
        k.sign(&Claims {
            sub: "someone".into(),
            role: role.into(),
            sites: sites.iter().map(|s| s.to_string()).collect(),
            organisations: orgs.iter().map(|s| s.to_string()).collect(),
            iat: 0,
            exp: 3_600,
        })
    };
    let a = k.authenticate(&token("provider", &[], &[org]), 10).unwrap();
    assert_eq!(
        a.organisations,
        vec![careledger_domain::ids::OrganisationId::parse(org).unwrap()]
    );
    assert_eq!(a.sites, SiteScope::Only(vec![]));
    for (t, want) in [
        (token("provider", &[], &[]), AuthError::ProviderScope),
        (token("provider", &["*"], &[org]), AuthError::ProviderScope),
        (
            token("provider", &[], &["x"]),
            AuthError::BadOrganisation("x".into()),
        ),
        (
            token("coordinator", &["*"], &[org]),
            AuthError::OrganisationsNotForRole,
        ),
    ] {
        assert_eq!(k.authenticate(&t, 10), Err(want));
    }
}

/// Issue 13: every token must expire. One without `exp` is refused (not
/// treated as eternal), and so is one whose `exp` lies beyond the longest
/// lifetime; the first-start admin token expires after a day.
#[test]
fn a_token_without_exp_or_living_longer_than_the_maximum_is_refused() {
    let k = key();
    let eternal = hs(
        Algorithm::HS256,
        SECRET,
        &json!({ "sub": "admin", "role": "admin", "sites": ["*"], "iat": 0 }),
    );
    assert_eq!(k.verify(&eternal, 10), Err(AuthError::NoExpiry));
    assert_eq!(k.authenticate(&eternal, 10), Err(AuthError::NoExpiry));
    let now = 1_000_000;
    let max = now + i64::from(MAX_TOKEN_HOURS) * 3600;
    let with_exp = |exp: i64| {
        k.sign(&Claims {
            exp,
            ..admin_claims(now)
        })
    };
    assert!(k.verify(&with_exp(max), now).is_ok());
    assert_eq!(
        k.verify(&with_exp(max + LEEWAY_SECS + 1), now),
        Err(AuthError::TooLongLived)
    );
    assert_eq!(
        k.verify(&with_exp(i64::MAX), now),
        Err(AuthError::TooLongLived)
    );
    let admin = k.sign(&admin_claims(now));
    let day = i64::from(ADMIN_TOKEN_HOURS) * 3600;
    assert_eq!(admin_claims(now).exp, now + day);
    assert!(k.authenticate(&admin, now + day - 1).is_ok());
    assert_eq!(
        k.authenticate(&admin, now + day + LEEWAY_SECS),
        Err(AuthError::Expired)
    );
}

/// A token may say when it starts to be valid (`nbf`); before then (beyond
/// the leeway for clock skew) it is refused.
#[test]
fn a_token_is_refused_before_its_not_before_time() {
    let k = key();
    let t = hs(
        Algorithm::HS256,
        SECRET,
        &json!({ "sub": "s", "role": "coordinator", "sites": ["*"], "iat": 0, "nbf": 1_000, "exp": 5_000 }),
    );
    assert_eq!(
        k.verify(&t, 1_000 - LEEWAY_SECS - 1),
        Err(AuthError::NotYetValid)
    );
    assert!(k.verify(&t, 1_000 - LEEWAY_SECS).is_ok());
    assert!(k.verify(&t, 2_000).is_ok());
}

/// Only HS256 is accepted for the secret: the same secret under HS384 or
/// HS512, or a header naming RS256 with no public key configured, is refused.
#[test]
fn a_token_whose_algorithm_is_not_the_keys_is_refused() {
    let k = key();
    let payload = json!({ "sub": "s", "role": "admin", "sites": ["*"], "iat": 0, "exp": 5_000 });
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        assert_eq!(
            k.verify(&hs(alg, SECRET, &payload), 10),
            Err(AuthError::Algorithm(format!("{alg:?}")))
        );
    }
    let t = k.sign(&admin_claims(0));
    let (_, rest) = t.split_once('.').unwrap();
    let as_rs256 = format!(
        "{}.{rest}",
        B64.encode(r#"{"alg":"RS256","typ":"JWT","kid":"x"}"#)
    );
    assert_eq!(
        k.verify(&as_rs256, 10),
        Err(AuthError::Algorithm("RS256".into()))
    );
    let critical = format!(
        "{}.{rest}",
        B64.encode(r#"{"alg":"HS256","typ":"JWT","crit":["exp"]}"#)
    );
    assert_eq!(k.verify(&critical, 10), Err(AuthError::Malformed));
}

mod rs256 {
    use super::super::*;
    use rsa::pkcs8::{EncodePublicKey, LineEnding};
    use rsa::signature::{SignatureEncoding, Signer};
    use serde_json::json;

    fn keypair() -> rsa::RsaPrivateKey {
        rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 1024).unwrap()
    }

    /// An RS256 token as an identity provider would sign it (signed here by
    /// hand, independently of the code under test).
    fn rs256(private: &rsa::RsaPrivateKey, kid: Option<&str>, claims: &impl Serialize) -> String {
        let header = match kid {
            Some(k) => format!(r#"{{"alg":"RS256","typ":"JWT","kid":"{k}"}}"#),
            None => r#"{"alg":"RS256","typ":"JWT"}"#.to_string(),
        };
        let input = format!(
            "{}.{}",
            B64.encode(header),
            B64.encode(serde_json::to_vec(claims).unwrap())
        );
        let key = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(private.clone());
        let sig = key.sign(input.as_bytes()).to_bytes();
        format!("{input}.{}", B64.encode(sig))
    }

    fn claims(exp: i64) -> Claims {
        Claims {
            sub: "idp-user-7".into(),
            role: "quality_manager".into(),
            sites: vec!["be-leuven".into()],
            organisations: Vec::new(),
            iat: 1_000,
            exp,
        }
    }

    /// A verified RS256 token is kept (its signature is not checked again), but
    /// its times are: once expired it is refused (and forgotten), before its
    /// `nbf` it is refused although kept; a token whose `kid` names no key, or
    /// whose signature does not verify, is never kept and stays refused; a key
    /// with other requirements (issuer, audience, other keys) keeps its own.
    #[test]
    fn a_kept_rs256_token_is_still_checked_against_the_clock_and_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let (idp, stranger) = (keypair(), keypair());
        let key = TokenKey::public_only(&[pem(dir.path(), "idp", &idp)]).unwrap();
        let t = rs256(&idp, Some("idp"), &claims(5_000));
        assert!(key.authenticate(&t, 2_000).is_ok());
        assert_eq!(key.verified.len(), 1);
        assert!(key.authenticate(&t, 2_000).is_ok());
        assert!(key.authenticate(&t, 5_000 + LEEWAY_SECS - 1).is_ok());
        assert_eq!(
            key.authenticate(&t, 5_000 + LEEWAY_SECS),
            Err(AuthError::Expired)
        );
        assert_eq!(key.verified.len(), 0);
        // Expired stays expired, kept or not.
        assert_eq!(
            key.authenticate(&t, 5_000 + LEEWAY_SECS),
            Err(AuthError::Expired)
        );
        // nbf ahead: refused on every request, although the signature was kept.
        let mut c = serde_json::to_value(claims(5_000)).unwrap();
        c["nbf"] = json!(3_000);
        let later = rs256(&idp, Some("idp"), &c);
        assert!(key.authenticate(&later, 3_000).is_ok());
        assert_eq!(
            key.authenticate(&later, 3_000 - LEEWAY_SECS - 1),
            Err(AuthError::NotYetValid)
        );
        // A token whose lifetime exceeds the maximum from `now` is refused, kept or not.
        assert_eq!(
            key.authenticate(
                &t,
                5_000 - i64::from(MAX_TOKEN_HOURS) * 3600 - LEEWAY_SECS - 1
            ),
            Err(AuthError::TooLongLived)
        );
        // Unknown key id, a stranger's signature: refused each time, never kept.
        let kept = key.verified.len();
        let unknown = rs256(&idp, Some("retired"), &claims(5_000));
        let forged = rs256(&stranger, Some("idp"), &claims(5_000));
        for _ in 0..2 {
            assert_eq!(
                key.authenticate(&unknown, 2_000),
                Err(AuthError::UnknownKeyId("retired".into()))
            );
            assert_eq!(
                key.authenticate(&forged, 2_000),
                Err(AuthError::BadSignature)
            );
        }
        assert_eq!(key.verified.len(), kept);
        // A key requiring an issuer does not take the other key's word for it.
        let strict = key
            .clone()
            .with_rs256_claims(Some("https://idp.example".into()), None);
        assert_eq!(
            strict.verify(&later, 3_000),
            Err(AuthError::NotForThisServer)
        );
        // Nor does a key that no longer holds the signer's public key.
        let other = TokenKey::public_only(&[pem(dir.path(), "idp", &stranger)]).unwrap();
        assert_eq!(other.verify(&later, 3_000), Err(AuthError::BadSignature));
    }

    /// The kept tokens are bounded: once full, the cache starts again.
    #[test]
    fn the_kept_tokens_are_bounded() {
        let k = super::key();
        for i in 0..(MAX_VERIFIED_TOKENS + 10) {
            let mut c = admin_claims(0);
            c.sub = format!("s-{i}");
            assert!(k.verify(&k.sign(&c), 0).is_ok());
            assert!(k.verified.len() <= MAX_VERIFIED_TOKENS);
        }
    }

    /// Writes the public key to `<dir>/<kid>.pem`.
    fn pem(dir: &std::path::Path, kid: &str, private: &rsa::RsaPrivateKey) -> std::path::PathBuf {
        let path = dir.join(format!("{kid}.pem"));
        let text = private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// With an issuer and an audience configured, an RS256 token the same
    /// identity provider signed for another application (other `iss` or `aud`,
    /// or none) is refused; one naming both is accepted.
    #[test]
    fn rs256_tokens_must_name_the_configured_issuer_and_audience() {
        let dir = tempfile::tempdir().unwrap();
        let idp = keypair();
        let key = TokenKey::public_only(&[pem(dir.path(), "idp", &idp)])
            .unwrap()
            .with_rs256_claims(
                Some("https://idp.example".into()),
                Some("careledger".into()),
            );
        let token = |iss: Option<&str>, aud: Option<&str>| {
            let mut c = serde_json::to_value(claims(10_000)).unwrap();
            if let Some(i) = iss {
                c["iss"] = json!(i);
            }
            if let Some(a) = aud {
                c["aud"] = json!(a);
            }
            rs256(&idp, Some("idp"), &c)
        };
        assert!(
            key.verify(
                &token(Some("https://idp.example"), Some("careledger")),
                5_000
            )
            .is_ok()
        );
        for (iss, aud) in [
            (Some("https://idp.example"), Some("another-app")),
            (Some("https://other.example"), Some("careledger")),
            (None, Some("careledger")),
            (Some("https://idp.example"), None),
        ] {
            assert_eq!(
                key.verify(&token(iss, aud), 5_000),
                Err(AuthError::NotForThisServer),
                "{iss:?} {aud:?}"
            );
        }
    }

    /// RS256 tokens verify with the configured public keys only (the `kid` picks
    /// one), and neither `none` nor HS256 keyed with the public key gets through.
    #[test]
    fn rs256_tokens_verify_against_the_configured_keys_only() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, stranger) = (keypair(), keypair(), keypair());
        let key =
            TokenKey::public_only(&[pem(dir.path(), "idp-a", &a), pem(dir.path(), "idp-b", &b)])
                .unwrap();
        assert!(!key.can_sign());
        // Either key, with or without a kid; the claims become the access.
        for t in [
            rs256(&a, Some("idp-a"), &claims(5_000)),
            rs256(&b, None, &claims(5_000)),
        ] {
            let access = key.authenticate(&t, 2_000).unwrap();
            assert_eq!(access.actor.role, Role::QualityManager);
            assert_eq!(access.actor.subject, "idp-user-7");
            assert_eq!(
                access.sites,
                SiteScope::Only(vec![SiteId::parse("be-leuven").unwrap()])
            );
        }
        // An unknown signer, a kid naming the other key or no key, an expired
        // token.
        assert_eq!(
            key.verify(&rs256(&stranger, None, &claims(5_000)), 2_000),
            Err(AuthError::BadSignature)
        );
        assert_eq!(
            key.verify(&rs256(&a, Some("idp-b"), &claims(5_000)), 2_000),
            Err(AuthError::BadSignature)
        );
        assert_eq!(
            key.verify(&rs256(&a, Some("idp-c"), &claims(5_000)), 2_000),
            Err(AuthError::UnknownKeyId("idp-c".into()))
        );
        assert_eq!(
            key.verify(&rs256(&a, Some("idp-a"), &claims(1_500)), 2_000),
            Err(AuthError::Expired)
        );
        // Without a configured secret, HS256 is refused — even one "signed" with
        // the public key's text (algorithm confusion) — and so is "none".
        let public_text = std::fs::read_to_string(dir.path().join("idp-a.pem")).unwrap();
        let forged = TokenKey::from_secret(&public_text)
            .unwrap()
            .sign(&claims(5_000));
        assert_eq!(
            key.verify(&forged, 2_000),
            Err(AuthError::Algorithm("HS256".into()))
        );
        let unsigned = format!(
            "{}.{}.",
            B64.encode(r#"{"alg":"none"}"#),
            B64.encode(serde_json::to_vec(&claims(5_000)).unwrap())
        );
        assert!(key.verify(&unsigned, 2_000).is_err());
        // A tampered payload fails.
        let good = rs256(&a, None, &claims(5_000));
        let mut parts: Vec<&str> = good.split('.').collect();
        let other = B64.encode(
            serde_json::to_vec(&Claims {
                role: "admin".into(),
                ..claims(5_000)
            })
            .unwrap(),
        );
        parts[1] = &other;
        assert_eq!(
            key.verify(&parts.join("."), 2_000),
            Err(AuthError::BadSignature)
        );
    }

    /// Issue 13: the identity provider's tokens obey the same rules as the
    /// server's own: `exp` required, `nbf` honoured, and only the roles of
    /// the authorisation table (never `system`).
    #[test]
    fn rs256_tokens_without_exp_or_with_an_internal_or_unknown_role_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = keypair();
        let key = TokenKey::public_only(&[pem(dir.path(), "idp", &a)]).unwrap();
        let eternal = json!({ "sub": "idp-admin", "role": "admin", "sites": ["*"], "iat": 0 });
        assert_eq!(
            key.authenticate(&rs256(&a, Some("idp"), &eternal), 2_000),
            Err(AuthError::NoExpiry)
        );
        let early = json!({ "sub": "u", "role": "admin", "sites": ["*"], "iat": 0, "nbf": 3_000, "exp": 5_000 });
        assert_eq!(
            key.authenticate(&rs256(&a, None, &early), 2_000),
            Err(AuthError::NotYetValid)
        );
        for role in ["system", "", "owner"] {
            let t = rs256(
                &a,
                Some("idp"),
                &Claims {
                    role: role.into(),
                    ..claims(5_000)
                },
            );
            assert_eq!(
                key.authenticate(&t, 2_000),
                Err(AuthError::UnknownRole(role.into())),
                "{role:?}"
            );
        }
    }

    /// A secret plus public keys accepts both kinds; unreadable or non-RSA key
    /// files are refused at start with the file named.
    #[test]
    fn a_secret_and_public_keys_accept_both_kinds_and_bad_key_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = keypair();
        let key = TokenKey::from_secret("0123456789abcdef0123456789abcdef")
            .unwrap()
            .with_public_keys(&[pem(dir.path(), "idp", &a)])
            .unwrap();
        assert!(key.can_sign());
        assert!(key.verify(&key.sign(&claims(5_000)), 2_000).is_ok());
        assert!(key.verify(&rs256(&a, None, &claims(5_000)), 2_000).is_ok());
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
