//! The HTTP edge's guards: a per-credential rate limit (429 with `Retry-After` and
//! `RATE_LIMITED`, nothing written), a request time limit (503 `REQUEST_TIMEOUT`),
//! and RS256 tokens verified with an identity provider's public key.

use crate::api::{Server, mint, v7};
use serde_json::json;
use std::time::{Duration, Instant};

#[test]
fn a_credential_over_its_rate_is_refused_with_429_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        dir.path(),
        &["--rate-limit", "1", "--rate-limit-burst", "3"],
    );
    let other = mint(dir.path(), "nurse-2", "coordinator", &["*"]);
    let q = "{ projections { head } }";
    for _ in 0..3 {
        assert_eq!(s.post_as(&s.token, q, json!({})).status, 200);
    }
    let head = || {
        let a = s.post_as(&other, q, json!({}));
        assert_eq!(
            a.status, 200,
            "another credential is not limited: {}",
            a.body
        );
        a.json()["data"]["projections"]["head"].clone()
    };
    let before = head();
    // The first credential's bucket is empty: a mutation is refused before it runs.
    let m = "mutation($i: RegisterCareRecipientInput!) { registerCareRecipient(input: $i) { position } }";
    let input = json!({ "i": { "idempotencyKey": v7(), "site": "be-leuven", "birthYear": 1950, "sex": "FEMALE",
        "country": "BE", "postalCode": "3000", "language": "nl" } });
    let a = s.post_as(&s.token, m, input);
    assert_eq!(a.status, 429, "{}", a.body);
    assert_eq!(
        a.json()["errors"][0]["extensions"]["code"],
        "RATE_LIMITED",
        "{}",
        a.body
    );
    let retry: u64 = a
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert_eq!(head(), before, "the refused mutation wrote nothing");
    // After the wait, the credential may go on.
    std::thread::sleep(Duration::from_secs(retry));
    assert_eq!(s.post_as(&s.token, q, json!({})).status, 200);
}

#[test]
fn a_request_running_past_the_time_limit_is_answered_503() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        dir.path(),
        &[
            "--request-timeout-ms",
            "300",
            "--consistency-timeout-ms",
            "5000",
        ],
    );
    // Waiting for a position the log never reaches runs into the request limit first.
    let started = Instant::now();
    let a = s.post_as(
        &s.token,
        "query($p: Position) { needCases(minPosition: $p, first: 1) { totalCount } }",
        json!({ "p": "999999" }),
    );
    let took = started.elapsed();
    assert_eq!(a.status, 503, "{}", a.body);
    assert_eq!(
        a.json()["errors"][0]["extensions"]["code"],
        "REQUEST_TIMEOUT",
        "{}",
        a.body
    );
    assert!(took < Duration::from_secs(3), "{took:?}");
    // The server goes on answering.
    assert_eq!(
        s.post_as(&s.token, "{ projections { head } }", json!({}))
            .status,
        200
    );
}

/// A server configured with an identity provider's public key accepts the RS256
/// tokens it signs, refuses others, and (without a secret) prints no admin token.
#[test]
fn rs256_tokens_from_an_identity_provider_are_accepted_with_its_public_key() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use rsa::pkcs8::{EncodePublicKey, LineEnding};
    use rsa::signature::{SignatureEncoding, Signer};
    let dir = tempfile::tempdir().unwrap();
    let idp = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 1024).unwrap();
    let other = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 1024).unwrap();
    let pem = dir.path().join("idp.pem");
    std::fs::write(
        &pem,
        idp.to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap(),
    )
    .unwrap();
    let now = chrono::Utc::now().timestamp();
    let admin = json!({ "sub": "idp-admin", "role": "admin", "sites": ["*"], "iat": now, "exp": now + 3600 });
    let sign_claims = |key: &rsa::RsaPrivateKey, claims: &serde_json::Value| {
        let input = format!(
            "{}.{}",
            B64.encode(r#"{"alg":"RS256","typ":"JWT","kid":"idp"}"#),
            B64.encode(claims.to_string())
        );
        let sig = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key.clone())
            .sign(input.as_bytes())
            .to_bytes();
        format!("{input}.{}", B64.encode(sig))
    };
    let sign = |key: &rsa::RsaPrivateKey| sign_claims(key, &admin);
    let data = dir.path().join("data");
    let s = Server::start_with_token(
        &data,
        &["--jwt-public-key", pem.to_str().unwrap()],
        &sign(&idp),
    );
    let q = "{ projections { head } }";
    let ok = s.post_as(&s.token, q, json!({}));
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(ok.json()["errors"].is_null(), "{}", ok.body);
    let bad = s.post_as(&sign(&other), q, json!({}));
    assert_eq!(bad.status, 401, "{}", bad.body);
    assert_eq!(
        bad.json()["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
    assert!(
        !data.join("jwt-secret").exists(),
        "no secret file is created"
    );
    // The identity provider's own signature does not make an eternal token, or
    // one with the server's internal role, acceptable (issue 13).
    let mut eternal = admin.clone();
    eternal.as_object_mut().unwrap().remove("exp");
    let mut system = admin.clone();
    system["role"] = json!("system");
    for (what, claims) in [("no exp", eternal), ("role system", system)] {
        let r = s.post_as(&sign_claims(&idp, &claims), q, json!({}));
        assert_eq!(r.status, 401, "{what}: {}", r.body);
        assert_eq!(
            r.json()["errors"][0]["extensions"]["code"],
            "UNAUTHENTICATED",
            "{what}"
        );
    }
}
