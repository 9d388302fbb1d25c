//! Bearer tokens (issue 13): every token expires, and only the roles of the
//! authorisation table come from a token — `careledger token`, the first-start
//! admin token and the server's check agree on both.

use crate::api::Server;
use crate::helpers::{Running, run_to_end};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

/// A token's claims, read without checking them (what the test inspects).
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&B64.decode(payload).expect("base64url")).expect("JSON claims")
}

/// Any claims, signed HS256 with the secret the server keeps in `data_dir`.
fn signed(data_dir: &Path, claims: &Value) -> String {
    let secret = std::fs::read_to_string(data_dir.join("jwt-secret")).unwrap();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.trim().as_bytes()),
    )
    .unwrap()
}

/// `careledger token --role system` (the server's internal role), an unknown
/// role and an empty one are refused with an explanation, and no token is printed.
#[test]
fn the_token_command_refuses_the_internal_role_and_unknown_roles_with_an_explanation() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("jwt-secret"),
        "0123456789abcdef0123456789abcdef",
    )
    .unwrap();
    for (role, why) in [
        ("system", "internal role and is never given to a token"),
        ("root", "is not a role"),
        ("", "is not a role"),
    ] {
        let out = run_to_end(&["token", "--sub", "x", "--role", role], dir.path());
        assert!(!out.success, "--role {role:?} minted {}", out.stdout);
        assert!(out.stdout.trim().is_empty(), "{}", out.stdout);
        assert!(
            out.stderr.contains(why)
                && out
                    .stderr
                    .contains("coordinator, quality_manager, external_app, admin or provider"),
            "--role {role:?}: {}",
            out.stderr
        );
    }
}

/// `careledger token` mints tokens that expire: after 8 hours by default, after
/// `--hours` when told, never beyond 90 days (2160 hours), and never without `exp`.
#[test]
fn the_token_command_mints_tokens_that_expire_after_eight_hours_unless_told_and_at_most_ninety_days()
 {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("jwt-secret"),
        "0123456789abcdef0123456789abcdef",
    )
    .unwrap();
    let mint = |extra: &[&str]| {
        let mut args = vec!["token", "--sub", "portal-7", "--role", "external_app"];
        args.extend_from_slice(extra);
        run_to_end(&args, dir.path())
    };
    for (extra, hours) in [(&[][..], 8), (&["--hours", "720"][..], 720)] {
        let out = mint(extra);
        assert!(out.success, "{}", out.stderr);
        let c = claims(out.stdout.trim());
        let (iat, exp) = (c["iat"].as_i64().unwrap(), c["exp"].as_i64().unwrap());
        assert_eq!(exp - iat, hours * 3600, "{extra:?}: {c}");
        assert!(
            out.stderr.contains(&format!("valid {hours} h, until ")),
            "the lifetime is said: {}",
            out.stderr
        );
    }
    for hours in ["0", "2161", "100000"] {
        let out = mint(&["--hours", hours]);
        assert!(!out.success, "--hours {hours} minted {}", out.stdout);
        assert!(out.stdout.trim().is_empty());
        assert!(out.stderr.contains("--hours"), "{}", out.stderr);
    }
}

/// The admin token a first start prints expires after 24 hours, and the line
/// that prints it says so and how to mint another.
#[test]
fn the_first_start_admin_token_expires_after_a_day_and_says_how_to_mint_another() {
    let dir = tempfile::tempdir().unwrap();
    let running = Running::start(&["serve"], dir.path());
    let line = running.wait_for_line("admin token", Duration::from_secs(120));
    let token = line.rsplit(' ').next().unwrap();
    let c = claims(token);
    assert_eq!(c["role"], "admin", "{c}");
    let (iat, exp) = (c["iat"].as_i64().unwrap(), c["exp"].as_i64().unwrap());
    assert_eq!(exp - iat, 24 * 3600, "{c}");
    assert!(
        line.contains("valid 24 h, until ")
            && line.contains("careledger token --role admin --sub admin"),
        "{line}"
    );
}

/// A token signed with the server's own secret is still refused (401
/// `UNAUTHENTICATED`, nothing executed) when it has no `exp`, has expired, would
/// live longer than 90 days, or is not valid yet.
#[test]
fn tokens_without_expiry_expired_too_long_lived_or_not_yet_valid_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let now = chrono::Utc::now().timestamp();
    let base = json!({ "sub": "e2e-admin", "role": "admin", "sites": ["*"], "iat": now });
    let with = |extra: Value| {
        let mut c = base.clone();
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        signed(dir.path(), &c)
    };
    let m = "mutation($i: IssueApiKeyInput!) { issueApiKey(input: $i) { secret } }";
    let vars = json!({ "i": { "name": "token check" } });
    let head = s.head();
    for (what, token, message) in [
        ("no exp", with(json!({})), "no expiry"),
        ("expired", with(json!({ "exp": now - 3600 })), "expired"),
        (
            "ten years",
            with(json!({ "exp": now + 10 * 365 * 86_400 })),
            "longer than any token may live",
        ),
        (
            "not yet valid",
            with(json!({ "exp": now + 7200, "nbf": now + 3600 })),
            "not valid yet",
        ),
    ] {
        let a = s.post_as(&token, m, vars.clone());
        assert_eq!(a.status, 401, "{what}: {}", a.body);
        let v = a.json();
        assert_eq!(
            v["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{what}: {v}"
        );
        assert!(
            v["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains(message),
            "{what}: {v}"
        );
        assert!(v["data"].is_null(), "{what}: {v}");
    }
    assert_eq!(s.head(), head, "a refused token wrote");
    // The same claims with a proper `exp` are accepted.
    let ok = s.post_as(&with(json!({ "exp": now + 3600 })), m, vars);
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(ok.json()["errors"].is_null(), "{}", ok.body);
}

/// Issue 16 (first slice): a provider's token names the organisations of the
/// directory the provider works for, never sites. `careledger token --role
/// provider --organisation <uuid>` mints one; the server grants it what every
/// directory user reads and nothing more; malformed provider tokens, and other
/// roles' tokens naming organisations, are refused whole.
#[test]
fn a_provider_token_names_organisations_and_reads_only_shared_data() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let org = "0192f0c4-7c5e-7a31-9f4e-1c2d3e4f5a6b";

    for (args, why) in [
        (vec!["--role", "provider"], "--organisation <uuid>"),
        (
            vec!["--role", "provider", "--organisation", "not-a-uuid"],
            "is not an organisation id",
        ),
        (
            vec![
                "--role",
                "provider",
                "--organisation",
                org,
                "--sites",
                "be-leuven",
            ],
            "not sites",
        ),
        (
            vec!["--role", "coordinator", "--organisation", org],
            "for a provider's token only",
        ),
    ] {
        let mut all = vec!["token", "--sub", "p"];
        all.extend(args.iter().copied());
        let out = run_to_end(&all, dir.path());
        assert!(
            !out.success && out.stdout.trim().is_empty(),
            "{args:?}: {}",
            out.stdout
        );
        assert!(out.stderr.contains(why), "{args:?}: {}", out.stderr);
    }

    let out = run_to_end(
        &[
            "token",
            "--sub",
            "staff-1",
            "--role",
            "provider",
            "--organisation",
            org,
        ],
        dir.path(),
    );
    assert!(out.success, "{}", out.stderr);
    let token = out.stdout.trim().to_string();
    let c = claims(&token);
    assert_eq!(c["role"], "provider");
    assert_eq!(c["organisations"], json!([org]));
    assert_eq!(c["sites"], json!([]));

    let ok = s.gql_as(&token, "{ catalogue { version } }", json!({}));
    assert!(ok.get("errors").is_none(), "{ok}");
    for q in [
        "{ needCases(first: 1) { totalCount } }",
        "{ equity(by: SITE, outcome: REFERRAL_RATE) { k } }",
        "{ projections { position } }",
    ] {
        let v = s.gql_as(&token, q, json!({}));
        assert_eq!(
            v["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{q}: {v}"
        );
    }

    let now = chrono::Utc::now().timestamp();
    for (claims, what) in [
        (
            json!({"sub": "p", "role": "provider", "sites": [], "iat": now, "exp": now + 600}),
            "no organisations",
        ),
        (
            json!({"sub": "p", "role": "provider", "sites": ["*"], "organisations": [org], "iat": now, "exp": now + 600}),
            "sites",
        ),
        (
            json!({"sub": "p", "role": "provider", "sites": [], "organisations": ["x"], "iat": now, "exp": now + 600}),
            "a bad organisation",
        ),
        (
            json!({"sub": "c", "role": "coordinator", "sites": ["*"], "organisations": [org], "iat": now, "exp": now + 600}),
            "a coordinator with organisations",
        ),
    ] {
        let a = s.post_as(
            &signed(dir.path(), &claims),
            "{ catalogue { version } }",
            json!({}),
        );
        assert_eq!(a.status, 401, "{what}: {}", a.body);
        assert!(a.body.contains("UNAUTHENTICATED"), "{what}: {}", a.body);
    }
}
