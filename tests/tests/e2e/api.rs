//! A running server and a small GraphQL-over-HTTP client for the tests.

use crate::helpers::{Ready, Running};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

pub struct Server {
    pub running: Running,
    /// `http://127.0.0.1:<port>`
    pub base: String,
    /// What `gql`, `data` and `mutate` send: on a fresh server, a care coordinator's
    /// token for every site (case work is theirs, not the administrator's).
    pub token: String,
    /// The administrator's token the first start printed (else the caller's token).
    pub admin: String,
    agent: ureq::Agent,
    /// Two services of the directory, registered on first use (see `service`).
    services: std::sync::OnceLock<[String; 2]>,
}

/// An HTTP answer: status, content type, body.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build(),
    )
}

impl Server {
    /// Starts `careledger serve <args>` on a fresh data directory, port 0, and reads
    /// the address and the first-start admin token from its ready file.
    pub fn start(data_dir: &Path, args: &[&str]) -> Self {
        let (running, ready) = Running::start_serving(args, data_dir, Duration::from_secs(120));
        let admin = ready
            .admin_token
            .clone()
            .expect("a first start writes the admin token to the ready file");
        let mut s = Self::attach(running, &ready, admin.clone());
        s.admin = admin;
        s.token = mint(data_dir, "e2e-coordinator", "coordinator", &["*"]);
        s
    }

    /// Starts `careledger serve <args>` when no first-start token is printed (a
    /// configured secret): the caller brings the token.
    pub fn start_with_token(data_dir: &Path, args: &[&str], token: &str) -> Self {
        let (running, ready) = Running::start_serving(args, data_dir, Duration::from_secs(120));
        Self::attach(running, &ready, token.to_string())
    }

    /// A gauge from `/metrics` (the first sample whose line starts with `name`).
    pub fn metric(&self, name: &str) -> u64 {
        let text = self.http("/metrics", &[], None).body;
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no metric {name}"))
    }

    /// Starts again on a data directory that has been used (no admin token is
    /// printed then): the caller brings the token.
    pub fn restart(data_dir: &Path, token: &str) -> Self {
        let (running, ready) = Running::start_serving(&[], data_dir, Duration::from_secs(120));
        Self::attach(running, &ready, token.to_string())
    }

    /// As [`Self::restart`], with `args`.
    pub fn restart_with(data_dir: &Path, token: &str, args: &[&str]) -> Self {
        let (running, ready) = Running::start_serving(args, data_dir, Duration::from_secs(120));
        Self::attach(running, &ready, token.to_string())
    }

    fn attach(running: Running, ready: &Ready, token: String) -> Self {
        let base = format!("http://{}", ready.addr);
        Server {
            running,
            base,
            admin: token.clone(),
            token,
            agent: agent(),
            services: std::sync::OnceLock::new(),
        }
    }

    /// Any request. `body: None` sends a GET.
    pub fn http(
        &self,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Answer {
        let url = format!("{}{path_and_query}", self.base);
        let result = match body {
            None => {
                let mut r = self.agent.get(&url);
                for (k, v) in headers {
                    r = r.header(*k, *v);
                }
                r.call()
            }
            Some(b) => {
                let mut r = self.agent.post(&url);
                for (k, v) in headers {
                    r = r.header(*k, *v);
                }
                r.send(b)
            }
        };
        let mut resp = result.unwrap_or_else(|e| panic!("{url}: {e}"));
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        Answer {
            status: resp.status().as_u16(),
            content_type,
            headers,
            body: resp.body_mut().read_to_string().unwrap_or_default(),
        }
    }

    /// POSTs a GraphQL request with the admin token; returns the whole JSON answer
    /// (asserting HTTP 200).
    pub fn gql(&self, query: &str, variables: Value) -> Value {
        self.gql_as(&self.token, query, variables)
    }

    pub fn gql_as(&self, token: &str, query: &str, variables: Value) -> Value {
        let a = self.post_as(token, query, variables);
        assert_eq!(a.status, 200, "{}", a.body);
        a.json()
    }

    /// POSTs a GraphQL request with `token`, whatever the answer's status.
    pub fn post_as(&self, token: &str, query: &str, variables: Value) -> Answer {
        let body = json!({ "query": query, "variables": variables }).to_string();
        let auth = format!("Bearer {token}");
        self.http(
            "/graphql",
            &[
                ("content-type", "application/json"),
                ("authorization", &auth),
            ],
            Some(body.as_bytes()),
        )
    }

    /// As `gql`, asserting there are no top-level errors; returns `data`.
    pub fn data(&self, query: &str, variables: Value) -> Value {
        let v = self.gql(query, variables);
        assert!(v.get("errors").is_none(), "errors: {v}");
        v["data"].clone()
    }

    /// As `data`, with `token`.
    pub fn data_as(&self, token: &str, query: &str, variables: Value) -> Value {
        let v = self.gql_as(token, query, variables);
        assert!(v.get("errors").is_none(), "errors: {v}");
        v["data"].clone()
    }

    /// As `data`, with the administrator's token.
    pub fn admin_data(&self, query: &str, variables: Value) -> Value {
        self.data_as(&self.admin, query, variables)
    }

    /// Runs mutation `name` with `input`, selecting `selection` from its payload.
    pub fn mutate(&self, name: &str, input: Value, selection: &str) -> Value {
        self.mutate_as(&self.token, name, input, selection)
    }

    /// As `mutate`, with the administrator's token.
    pub fn admin_mutate(&self, name: &str, input: Value, selection: &str) -> Value {
        self.mutate_as(&self.admin, name, input, selection)
    }

    /// As `mutate`, with `token`.
    pub fn mutate_as(&self, token: &str, name: &str, input: Value, selection: &str) -> Value {
        let mut input_type = name[..1].to_uppercase();
        input_type.push_str(&name[1..]);
        let q = format!(
            "mutation($input: {input_type}Input!) {{ {name}(input: $input) {{ {selection} position duplicate userErrors {{ field code message }} }} }}"
        );
        self.data_as(token, &q, json!({ "input": input }))[name].clone()
    }

    /// Waits until `/readyz` says the read models caught up with the log as it was
    /// at start.
    pub fn wait_ready(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while self.http("/readyz", &[], None).status != 200 {
            assert!(std::time::Instant::now() < deadline, "never ready");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A service of the directory (two are registered, as the administrator, on
    /// first use): suggestions and referrals name services the directory holds.
    pub fn service(&self) -> String {
        self.services()[0].clone()
    }

    /// Another service of the directory than [`service`](Self::service).
    pub fn other_service(&self) -> String {
        self.services()[1].clone()
    }

    fn services(&self) -> &[String; 2] {
        self.services
            .get_or_init(|| [self.new_service(), self.new_service()])
    }

    /// Loads a cohort through the API: for each (site, language, cases, referred),
    /// that many recipients each with one need case identified, the first
    /// `referred` of them suggested and referred to [`service`](Self::service).
    /// Returns the position of the last write.
    pub fn load_cohort(&self, cohort: &[(&str, &str, u64, u64)]) -> Value {
        let service = self.service();
        let mut last = json!(null);
        for &(site, language, n, referred) in cohort {
            for i in 0..n {
                let r = self.mutate(
                    "registerCareRecipient",
                    json!({ "site": site, "birthYear": 1960, "sex": "FEMALE", "country": "BE", "postalCode": "3000", "language": language }),
                    "careRecipient { recipientId }",
                );
                let nc = self.mutate(
                    "identifyNeed",
                    json!({ "recipientId": r["careRecipient"]["recipientId"], "needCode": "psy.anxiety" }),
                    "needCase { needCaseId }",
                );
                last = nc["position"].clone();
                if i < referred {
                    let id = nc["needCase"]["needCaseId"].clone();
                    self.mutate(
                        "suggestServices",
                        json!({ "needCaseId": id, "services": [{ "serviceId": service }] }),
                        "needCase { status }",
                    );
                    let p = self.mutate(
                        "requestReferral",
                        json!({ "needCaseId": id, "serviceId": service }),
                        "needCase { status }",
                    );
                    assert_eq!(p["userErrors"], json!([]), "{p}");
                    last = p["position"].clone();
                }
            }
        }
        last
    }

    /// Registers a service in the directory (as the administrator); returns its id.
    pub fn new_service(&self) -> String {
        let text = json!({ "en": "E2E service", "fr": "Service", "nl": "Dienst", "de": "Dienst" });
        let v = self.admin_mutate(
            "registerService",
            json!({ "profile": {
                "organisation": "Stichting Voorbeeld",
                "name": text,
                "description": text,
                "needs": ["psy.anxiety"],
                "languages": ["nl"],
                "area": { "countries": ["BE", "NL", "DE", "LU", "FR"] },
                "cost": "FREE",
            } }),
            "service { serviceId }",
        );
        assert_eq!(v["userErrors"], json!([]), "{v}");
        v["service"]["serviceId"].as_str().unwrap().to_string()
    }

    /// The log's head position.
    pub fn head(&self) -> u64 {
        let d = self.data("{ projections { head } }", json!({}));
        d["projections"]["head"].as_str().unwrap().parse().unwrap()
    }
}

/// A fresh UUIDv7 as a string (an idempotency key or a new id).
pub fn v7() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A token signed with the secret a server keeps in `data_dir` (as `careledger
/// token` would mint it, without starting a process: valid for its default 8 h).
/// A provider's token for `organisations` (UUIDs of the directory), signed with
/// the server's secret.
pub fn mint_provider(data_dir: &Path, sub: &str, organisations: &[&str]) -> String {
    let key = careledger_api::http::tokens::TokenKey::load(data_dir).expect("the server's secret");
    let now = chrono::Utc::now().timestamp();
    key.sign(&careledger_api::http::tokens::Claims {
        sub: sub.into(),
        role: "provider".into(),
        sites: Vec::new(),
        organisations: organisations.iter().map(|o| o.to_string()).collect(),
        iat: now,
        exp: now + 3600,
    })
}

pub fn mint(data_dir: &Path, sub: &str, role: &str, sites: &[&str]) -> String {
    let key = careledger_api::http::tokens::TokenKey::load(data_dir).expect("the server's secret");
    let now = chrono::Utc::now().timestamp();
    key.sign(&careledger_api::http::tokens::Claims {
        sub: sub.into(),
        role: role.into(),
        sites: sites.iter().map(|s| s.to_string()).collect(),
        organisations: Vec::new(),
        iat: now,
        exp: now + i64::from(careledger_api::http::tokens::DEFAULT_TOKEN_HOURS) * 3600,
    })
}
