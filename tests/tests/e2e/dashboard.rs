//! The equity dashboard (issue 18) over HTTP: sign-in exchanges a token for a
//! `Secure; HttpOnly; SameSite=Strict` session cookie; the page holds one SVG
//! mark per released group with the API's own figures; a coordinator of one
//! site never sees another's; cross-site POSTs and a sign-out without the
//! session's CSRF token are refused; sign-out ends the session. (The browser
//! test drives the same page in Chromium.)

use crate::api::{Server, mint};
use serde_json::json;
use std::time::Duration;

pub(crate) struct Browserless {
    agent: ureq::Agent,
    base: String,
}

pub(crate) struct Reply {
    pub status: u16,
    pub location: Option<String>,
    pub set_cookie: Option<String>,
    pub body: String,
}

impl Browserless {
    pub(crate) fn new(s: &Server) -> Self {
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .timeout_global(Some(Duration::from_secs(60)))
                .build(),
        );
        Self {
            agent,
            base: s.base.clone(),
        }
    }

    fn reply(mut r: ureq::http::Response<ureq::Body>) -> Reply {
        let h = |n: &str| {
            r.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (location, set_cookie) = (h("location"), h("set-cookie"));
        Reply {
            status: r.status().as_u16(),
            location,
            set_cookie,
            body: r.body_mut().read_to_string().unwrap_or_default(),
        }
    }

    pub(crate) fn get(&self, path: &str, cookie: Option<&str>) -> Reply {
        let mut r = self.agent.get(&format!("{}{path}", self.base));
        if let Some(c) = cookie {
            r = r.header("cookie", c);
        }
        Self::reply(r.call().unwrap())
    }

    pub(crate) fn post(
        &self,
        path: &str,
        form: &str,
        cookie: Option<&str>,
        origin: Option<&str>,
    ) -> Reply {
        let mut r = self
            .agent
            .post(&format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(c) = cookie {
            r = r.header("cookie", c);
        }
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        Self::reply(r.send(form.as_bytes()).unwrap())
    }

    /// Signs in with `token`; the cookie to send back (`name=value`).
    pub(crate) fn sign_in(&self, token: &str) -> String {
        let r = self.post(
            "/dashboard/session",
            &format!("token={token}&lang=en"),
            None,
            Some(&self.base),
        );
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(r.location.as_deref(), Some("/dashboard?lang=en"));
        let set = r.set_cookie.expect("a session cookie");
        for attr in [
            "Secure",
            "HttpOnly",
            "SameSite=Strict",
            "Path=/dashboard",
            "Max-Age=28800",
        ] {
            assert!(set.contains(attr), "{set}");
        }
        set.split(';').next().unwrap().to_string()
    }
}

/// The `data-` attribute values of the marks in a chart's SVG (`id`).
pub(crate) fn marks(page: &str, chart: &str, attr: &str) -> Vec<String> {
    let start = page
        .find(&format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"{chart}\""
        ))
        .unwrap();
    let svg = &page[start..start + page[start..].find("</svg>").unwrap()];
    svg.split("class=\"mark\"")
        .skip(1)
        .map(|m| {
            let k = format!("{attr}=\"");
            let i = m.find(&k).unwrap() + k.len();
            m[i..i + m[i..].find('"').unwrap()].to_string()
        })
        .collect()
}

#[test]
fn the_dashboard_signs_in_shows_the_apis_figures_and_keeps_sites_and_sessions_apart() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        dir.path(),
        &["--rate-limit", "0", "--demo", "--demo-recipients", "400"],
    );
    s.wait_ready();
    let b = Browserless::new(&s);
    let qm = mint(dir.path(), "qm-network", "quality_manager", &["*"]);

    // Without a session: the sign-in page, no data.
    let page = b.get("/dashboard", None);
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("action=\"/dashboard/session\"") && !page.body.contains("<svg"),
        "{}",
        page.body
    );

    // Its stylesheet comes from the server itself.
    let css = b.get("/dashboard/style.css", None);
    assert_eq!(css.status, 200);
    assert!(css.body.contains("@media print"));

    // A cross-site sign-in, an API key, a provider's token and a bad token are refused.
    assert_eq!(
        b.post(
            "/dashboard/session",
            &format!("token={qm}"),
            None,
            Some("http://evil.example")
        )
        .status,
        403
    );
    assert_eq!(
        b.post("/dashboard/session", &format!("token={qm}"), None, None)
            .status,
        403
    );
    let provider = crate::api::mint_provider(
        dir.path(),
        "staff",
        &["0192f0c4-7c5e-7a31-9f4e-1c2d3e4f5a00"],
    );
    assert_eq!(
        b.post(
            "/dashboard/session",
            &format!("token={provider}"),
            None,
            Some(&b.base)
        )
        .status,
        403
    );
    assert_eq!(
        b.post("/dashboard/session", "token=nonsense", None, Some(&b.base))
            .status,
        401
    );

    // Behind a TLS proxy the browser's origin says https: the same host is accepted.
    let https = b.base.replace("http://", "https://");
    assert_eq!(
        b.post(
            "/dashboard/session",
            &format!("token={qm}"),
            None,
            Some(&https)
        )
        .status,
        303
    );

    // A quality manager's page: one mark per released group, the API's figures.
    let cookie = b.sign_in(&qm);
    let page = b.get(
        "/dashboard?by=language&outcome=referral_rate&lang=fr",
        Some(&cookie),
    );
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<html lang=\"fr\"") && page.body.contains("Équité d&#39;accès"));
    let api = s.data_as(
        &qm,
        "{ equity(by: LANGUAGE, outcome: REFERRAL_RATE) { groups { group rate suppressed } } }",
        json!({}),
    );
    let released: Vec<(String, f64)> = api["equity"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["suppressed"] == false)
        .map(|g| {
            (
                g["group"].as_str().unwrap().to_string(),
                g["rate"].as_f64().unwrap(),
            )
        })
        .collect();
    let groups = marks(&page.body, "rates", "data-group");
    let rates: Vec<f64> = marks(&page.body, "rates", "data-rate")
        .iter()
        .map(|r| r.parse().unwrap())
        .collect();
    assert_eq!(groups.len(), released.len(), "one mark per released group");
    // (serde_json parses floats to within an ulp: compare to 1e-12.)
    for ((g, r), (ag, ar)) in groups.iter().zip(&rates).zip(&released) {
        assert_eq!(g, ag);
        assert!((r - ar).abs() < 1e-12, "{g}: {r} vs {ar}");
    }
    for chart in ["rates", "ratios", "survival", "trend", "heatmap"] {
        let i = page
            .body
            .find(&format!("id=\"{chart}\""))
            .unwrap_or_else(|| panic!("no {chart}"));
        let svg = &page.body[i..];
        assert!(
            svg.find("<title").unwrap() < svg.find("</svg>").unwrap() && svg.contains("<desc"),
            "{chart}"
        );
    }
    // The summary measures of inequality: the API's, defined and linked.
    let summary = s.data_as(
        &qm,
        "{ equity(by: LANGUAGE, outcome: REFERRAL_RATE) { summary { bgv theil mld maxDifference } } }",
        json!({}),
    );
    let sum = &summary["equity"]["summary"];
    for (code, field) in [
        ("BGV", "bgv"),
        ("TI", "theil"),
        ("MLD", "mld"),
        ("D", "maxDifference"),
    ] {
        let row = format!("<tr data-code=\"{code}\"");
        let i = page
            .body
            .find(&row)
            .unwrap_or_else(|| panic!("no {code} row"));
        let tail = &page.body[i..];
        match sum[field].as_f64() {
            Some(v) => {
                let k = tail.find("data-value=\"").unwrap() + 12;
                let shown: f64 = tail[k..k + tail[k..].find('"').unwrap()].parse().unwrap();
                assert!((shown - v).abs() < 1e-12, "{code}: {shown} vs {v}");
            }
            None => assert!(
                !tail[..tail.find('>').unwrap()].contains("data-value"),
                "{code}"
            ),
        }
        assert!(
            tail[..tail.find("</tr>").unwrap()].contains("href=\"https://whoequity.github.io/"),
            "{code} not linked"
        );
    }

    // A view the page cannot honour is refused, not ignored; so is an unknown CSV table.
    for bad in [
        "/dashboard?by=shoe_size",
        "/dashboard?colour=red",
        "/dashboard?lang=es",
        "/dashboard/csv?table=everything",
    ] {
        let r = b.get(bad, Some(&cookie));
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert!(!r.body.contains("<svg"), "{bad}");
    }

    // CSV download of a table.
    let csv = b.get(
        "/dashboard/csv?by=language&outcome=referral_rate&table=rates",
        Some(&cookie),
    );
    assert_eq!(csv.status, 200);
    assert!(
        csv.body
            .lines()
            .next()
            .unwrap()
            .contains("disclosure_control"),
        "{}",
        csv.body
    );

    // A coordinator of one site: their site's figures only; naming another is refused.
    let demo_sites = s.data_as(
        &qm,
        "{ equity(by: SITE, outcome: REFERRAL_RATE) { groups { group } } }",
        json!({}),
    );
    let sites: Vec<String> = demo_sites["equity"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["group"].as_str().unwrap().to_string())
        .collect();
    assert!(sites.len() >= 2, "{demo_sites}");
    let nurse = mint(dir.path(), "nurse", "coordinator", &[&sites[0]]);
    let theirs = b.sign_in(&nurse);
    let page = b.get("/dashboard?by=site", Some(&theirs));
    assert_eq!(page.status, 200);
    assert_eq!(
        marks(&page.body, "rates", "data-group")
            .into_iter()
            .filter(|g| g != &sites[0])
            .count(),
        0
    );
    assert!(
        !page.body.contains(&format!(">{}<", sites[1])),
        "another site appears"
    );
    let other = b.get(&format!("/dashboard?sites={}", sites[1]), Some(&theirs));
    assert_eq!(other.status, 403, "{}", other.body);
    assert!(!other.body.contains("<svg"));

    // Sign-out: refused without the session's CSRF token or from another origin; then ends it.
    let csrf = {
        let p = b.get("/dashboard", Some(&cookie)).body;
        let i = p.find("name=\"csrf\" value=\"").unwrap() + 19;
        p[i..i + p[i..].find('"').unwrap()].to_string()
    };
    assert_eq!(
        b.post(
            "/dashboard/signout",
            "csrf=wrong",
            Some(&cookie),
            Some(&b.base)
        )
        .status,
        403
    );
    assert_eq!(
        b.post(
            "/dashboard/signout",
            &format!("csrf={csrf}"),
            Some(&cookie),
            Some("http://evil.example")
        )
        .status,
        403
    );
    let out = b.post(
        "/dashboard/signout",
        &format!("csrf={csrf}"),
        Some(&cookie),
        Some(&b.base),
    );
    assert_eq!(out.status, 303);
    assert!(out.set_cookie.unwrap().contains("Max-Age=0"));
    let after = b.get("/dashboard", Some(&cookie));
    assert!(
        !after.body.contains("<svg") && after.body.contains("/dashboard/session"),
        "the session outlived sign-out"
    );
    assert_eq!(
        b.get("/dashboard/csv?table=rates", Some(&cookie)).status,
        401
    );
}

/// A session lives no longer than its token: signed in with a token that
/// expires in a few seconds, the page asks to sign in again once it has.
#[test]
fn a_session_ends_when_its_token_expires() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &["--rate-limit", "0"]);
    let b = Browserless::new(&s);
    let key = careledger_api::http::tokens::TokenKey::load(dir.path()).unwrap();
    let now = chrono::Utc::now().timestamp();
    let short = key.sign(&careledger_api::http::tokens::Claims {
        sub: "qm-short".into(),
        role: "quality_manager".into(),
        sites: vec!["*".into()],
        organisations: Vec::new(),
        iat: now,
        // Tokens are accepted up to LEEWAY_SECS past their expiry (clock skew).
        exp: now + 3 - careledger_api::http::tokens::LEEWAY_SECS,
    });
    let cookie = b.sign_in(&short);
    let page = b.get("/dashboard", Some(&cookie));
    assert!(page.body.contains("<svg"), "{}", page.body);
    std::thread::sleep(Duration::from_secs(4));
    let after = b.get("/dashboard", Some(&cookie));
    assert!(!after.body.contains("<svg") && after.body.contains("/dashboard/session"));
    assert!(
        after.set_cookie.unwrap_or_default().contains("Max-Age=0"),
        "the dead cookie is cleared"
    );
}
