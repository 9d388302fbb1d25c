//! API keys for external applications: issued by administrators (GraphQL and
//! CLI), shown once, stored hashed, usable as bearer credentials with an external
//! application's reach, revoked at once.

use crate::api::{Server, mint, v7};
use crate::helpers::run_to_end;
use serde_json::{Value, json};

const ISSUE: &str = "mutation($i: IssueApiKeyInput!) { issueApiKey(input: $i) { apiKey { id name revoked issuedBy } secret position duplicate userErrors { code field } } }";
const REVOKE: &str = "mutation($i: RevokeApiKeyInput!) { revokeApiKey(input: $i) { apiKey { revoked } unchanged userErrors { code } } }";

fn status_and_body(s: &Server, token: &str, query: &str, vars: Value) -> (u16, Value) {
    let a = s.post_as(token, query, vars);
    (
        a.status,
        serde_json::from_str(&a.body).unwrap_or(Value::Null),
    )
}

#[test]
fn an_issued_key_works_once_shown_reaches_only_shared_data_and_stops_when_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    // Only administrators issue keys; a refusal writes nothing.
    let nurse = mint(dir.path(), "nurse-1", "coordinator", &["*"]);
    let head = s.head();
    let (_, v) = status_and_body(&s, &nurse, ISSUE, json!({ "i": { "name": "portal" } }));
    assert_eq!(v["errors"][0]["extensions"]["code"], "FORBIDDEN", "{v}");
    assert_eq!(s.head(), head);
    // Bad names are refused, naming the field.
    let bad = s.admin_data(ISSUE, json!({ "i": { "name": "   " } }));
    assert_eq!(
        bad["issueApiKey"]["userErrors"][0]["field"], "name",
        "{bad}"
    );

    let key = v7();
    let issued = s.admin_data(
        ISSUE,
        json!({ "i": { "name": "Statistics portal", "idempotencyKey": key } }),
    )["issueApiKey"]
        .clone();
    assert_eq!(issued["userErrors"], json!([]), "{issued}");
    let secret = issued["secret"].as_str().unwrap().to_string();
    let id = issued["apiKey"]["id"].as_str().unwrap().to_string();
    assert!(secret.starts_with("clk_"), "{secret}");
    assert_eq!(issued["apiKey"]["issuedBy"], "admin");
    // A retry gets the same key, without its secret.
    let again = s.admin_data(
        ISSUE,
        json!({ "i": { "name": "Statistics portal", "idempotencyKey": key } }),
    )["issueApiKey"]
        .clone();
    assert_eq!(
        (again["duplicate"].clone(), again["secret"].clone()),
        (json!(true), Value::Null),
        "{again}"
    );
    assert_eq!(again["apiKey"]["id"], json!(id));

    // The key reads the catalogue and the directory…
    let (status, v) = status_and_body(
        &s,
        &secret,
        "{ catalogue { version } services(first: 1) { totalCount } }",
        json!({}),
    );
    assert_eq!(status, 200, "{v}");
    assert!(v["errors"].is_null(), "{v}");
    // …but no site's records, and writes nothing.
    let head = s.head();
    let (_, v) = status_and_body(
        &s,
        &secret,
        "mutation($i: RegisterCareRecipientInput!) { registerCareRecipient(input: $i) { userErrors { code } } }",
        json!({ "i": { "site": "be-leuven", "birthYear": 1950, "sex": "FEMALE", "country": "BE", "postalCode": "3000", "language": "nl" } }),
    );
    assert!(v.to_string().contains("FORBIDDEN"), "{v}");
    assert_eq!(s.head(), head);
    // Neither the listing nor the key's history shows the secret or its hash.
    let listed = s.admin_data("{ apiKeys { id name revoked } }", json!({}));
    assert_eq!(listed["apiKeys"][0]["id"], json!(id));
    let history = s.admin_data(
        "query($s: String!) { history(stream: $s) { type data } }",
        json!({ "s": format!("apikey-{id}") }),
    );
    assert_eq!(history["history"][0]["type"], "ApiKeyIssued");
    assert!(!history.to_string().contains("secret"), "{history}");
    let (_, v) = status_and_body(&s, &secret, "{ apiKeys { id } }", json!({}));
    assert_eq!(v["errors"][0]["extensions"]["code"], "FORBIDDEN", "{v}");

    // Revoked: refused at once; revoking again changes nothing.
    let r = s.admin_data(REVOKE, json!({ "i": { "apiKeyId": id } }))["revokeApiKey"].clone();
    assert_eq!(r["apiKey"]["revoked"], json!(true), "{r}");
    let (status, v) = status_and_body(&s, &secret, "{ catalogue { version } }", json!({}));
    assert_eq!(status, 401, "{v}");
    assert_eq!(v["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    let r = s.admin_data(REVOKE, json!({ "i": { "apiKeyId": id } }))["revokeApiKey"].clone();
    assert_eq!(r["unchanged"], json!(true), "{r}");
    // Revoking what is not a key id, or no key, is refused in words.
    let r = s.admin_data(REVOKE, json!({ "i": { "apiKeyId": "nope" } }))["revokeApiKey"].clone();
    assert_eq!(r["userErrors"][0]["code"], "INVALID_ID", "{r}");
    let r = s.admin_data(REVOKE, json!({ "i": { "apiKeyId": v7() } }))["revokeApiKey"].clone();
    assert_eq!(r["userErrors"][0]["code"], "API_KEY_NOT_FOUND", "{r}");
    let (_, v) = status_and_body(&s, &nurse, REVOKE, json!({ "i": { "apiKeyId": id } }));
    assert_eq!(v["errors"][0]["extensions"]["code"], "FORBIDDEN", "{v}");
    // A forged key with a real id and a wrong secret is refused too.
    let forged = format!("{}{}", &secret[..secret.len() - 4], "AAAA");
    assert_eq!(
        status_and_body(&s, &forged, "{ catalogue { version } }", json!({})).0,
        401
    );
}

#[test]
fn the_cli_issues_lists_and_revokes_keys() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_to_end(
        &["api-key", "issue", "--name", "Regional dashboard"],
        dir.path(),
    );
    assert!(out.success, "{}", out.stderr);
    let secret = out
        .stdout
        .lines()
        .find(|l| l.starts_with("clk_"))
        .expect("the key is printed")
        .to_string();
    let listed = run_to_end(&["api-key", "list"], dir.path());
    assert!(
        listed.stdout.contains("Regional dashboard") && listed.stdout.contains("active"),
        "{}",
        listed.stdout
    );
    assert!(
        !listed.stdout.contains(&secret),
        "the list never shows a secret"
    );
    let id = listed.stdout.split('\t').next().unwrap().to_string();
    {
        let s = Server::start(dir.path(), &[]);
        // Keys are checked against the read model: once it has caught up (/readyz).
        s.wait_ready();
        let (status, v) = status_and_body(&s, &secret, "{ catalogue { version } }", json!({}));
        assert_eq!(status, 200, "{v}");
    }
    let bad = run_to_end(&["api-key", "revoke", "not-a-uuid"], dir.path());
    assert!(
        !bad.success && bad.stderr.contains("is not an API key id"),
        "{}",
        bad.stderr
    );
    let revoked = run_to_end(&["api-key", "revoke", &id], dir.path());
    assert!(
        revoked.success && revoked.stdout.contains("revoked"),
        "{}",
        revoked.stderr
    );
    let listed = run_to_end(&["api-key", "list"], dir.path());
    assert!(listed.stdout.contains("revoked"), "{}", listed.stdout);
}
