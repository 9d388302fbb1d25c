//! `/dashboard` over HTTP (issue 18): sign-in (a bearer token exchanged for a
//! session cookie, [`session`]), the page, its CSV downloads, sign-out.
//!
//! The page is for quality managers, administrators and care coordinators (of
//! their sites): the role the token names decides, and the equity use cases
//! apply the same rules and disclosure control as the GraphQL API — the page
//! calls nothing else. CSRF: the cookie is `SameSite=Strict`; the two POSTs
//! (sign-in, sign-out) must come from this origin (`Origin`, or `Referer`), and
//! sign-out must carry the session's CSRF token. GETs change nothing.

#![allow(clippy::result_large_err)] // the refusals are the responses sent

pub mod session;

use super::HttpState;
use super::graphql::authenticate;
use crate::dashboard::page::{self, Tables, View};
use crate::dashboard::strings::{Text, t};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use careledger_app::equity::released::{ReleasedTable, ReleasedTwoWay, TrendPoint};
use careledger_app::equity::{AggregatePool, Outcome, TableRequest, TrendRequest, TwoWayRequest};
use careledger_app::{Access, AppError};
use careledger_domain::store::Role;
use careledger_domain::values::Lang;
use std::sync::Arc;
use std::time::Instant;

/// The dashboard's own state: its sessions and the pool its tables are
/// computed on (one table at a time per credential, as GraphQL's).
#[derive(Default)]
pub struct DashboardState {
    pub sessions: session::Sessions,
    pub pool: AggregatePool,
}

/// The page may load its stylesheet and submit its forms to itself; nothing else.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

pub fn router() -> Router<Arc<HttpState>> {
    Router::new()
        .route("/dashboard", get(show))
        .route("/dashboard/csv", get(csv))
        .route("/dashboard/style.css", get(style))
        .route("/dashboard/session", post(sign_in))
        .route("/dashboard/signout", post(sign_out))
}

fn html(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The forms' POSTs must name their origin (checked on arrival); under the
    // server's default `no-referrer` a browser sends `Origin: null` instead.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    r
}

fn see_other(to: &str, cookie: Option<String>) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        r.headers_mut().insert(header::SET_COOKIE, c);
    }
    r
}

fn lang_of(headers: &HeaderMap, pairs: &[(String, String)]) -> Lang {
    pairs
        .iter()
        .find(|(k, _)| k == "lang")
        .and_then(|(_, v)| Lang::from_tag(v))
        .unwrap_or_else(|| super::fhir::lang_of(headers))
}

/// Whether the dashboard is for this role.
fn may_use(access: &Access) -> bool {
    matches!(
        access.actor.role,
        Role::QualityManager | Role::Admin | Role::Coordinator
    )
}

/// The signed-in caller: the session's token authenticated now, and its CSRF
/// token; `None` when there is no live session (or its token no longer works).
fn signed_in(s: &HttpState, headers: &HeaderMap) -> Option<(Access, String)> {
    let id = session::cookie_id(headers)?;
    let sess = s.dashboard.sessions.get(&id, Instant::now())?;
    match authenticate(s, Some(&sess.token)) {
        Ok(a) if may_use(&a) => Some((a, sess.csrf)),
        _ => {
            s.dashboard.sessions.close(&id);
            None
        }
    }
}

/// The `host[:port]` of a URL (`https://a.example:8443/x` → `a.example:8443`).
fn authority(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    Some(rest.split(['/', '?', '#']).next().unwrap_or(rest))
}

/// A POST from another origin (a cross-site form) is refused. The origin's
/// host and port must be this server's — `--public-url`'s, else the request's
/// `Host` — whatever the scheme (behind a TLS proxy the browser says `https`
/// while the server is reached over plain HTTP).
fn same_origin(s: &HttpState, headers: &HeaderMap) -> bool {
    let ours = match &s.public_url {
        Some(u) => authority(u).map(str::to_string),
        None => headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string),
    };
    let theirs = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok())
        .and_then(authority);
    matches!((ours, theirs), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b))
}

/// The per-credential rate limit, as for the API (a page costs one request).
fn throttled(s: &HttpState, access: &Access, lang: Lang) -> Option<Response> {
    let key = format!("{}:{}", access.actor.role.name(), access.actor.subject);
    s.limiter.take(&key, 1).err().map(|_| {
        let mut r = refusal(
            StatusCode::TOO_MANY_REQUESTS,
            lang,
            "too many requests for this credential; retry in a moment",
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(1u64));
        r
    })
}

fn pairs(raw: &RawQuery) -> Vec<(String, String)> {
    serde_urlencoded::from_str(raw.0.as_deref().unwrap_or("")).unwrap_or_default()
}

/// One one-way table of the view (`outcome` by the view's stratifier).
async fn one_way(
    s: &HttpState,
    access: &Access,
    v: &View,
    outcome: Outcome,
) -> Result<ReleasedTable, AppError> {
    let app = &s.app;
    let request = TableRequest {
        filter: v.filter(),
        by: v.by,
        outcome,
        reference: v.reference,
        reference_group: v.reference_group.clone(),
        k: None,
    };
    let checked = app.check_equity_table(access, request)?;
    app.equity_table(checked, Some(&s.dashboard.pool), deadline(s))
        .await
}

/// The view's monthly trend.
async fn trend(s: &HttpState, access: &Access, v: &View) -> Result<Vec<TrendPoint>, AppError> {
    let app = &s.app;
    let request = TrendRequest {
        filter: v.filter(),
        by: v.by,
        outcome: v.outcome,
        k: None,
    };
    let checked = app.check_equity_trend(access, request)?;
    app.equity_trend(checked, Some(&s.dashboard.pool), deadline(s))
        .await
}

/// The view's two-way table (its stratifier by the second one).
async fn two_way(s: &HttpState, access: &Access, v: &View) -> Result<ReleasedTwoWay, AppError> {
    let app = &s.app;
    let request = TwoWayRequest {
        filter: v.filter(),
        rows: v.by,
        columns: v.by2,
        outcome: v.outcome,
        k: None,
    };
    let checked = app.check_equity_two_way(access, request)?;
    app.equity_two_way(checked, Some(&s.dashboard.pool), deadline(s))
        .await
}

fn deadline(s: &HttpState) -> Option<Instant> {
    Some(Instant::now() + s.limits.request_timeout)
}

/// The view's tables, as the equity use cases release them to `access`.
async fn tables(s: &HttpState, access: &Access, v: &View) -> Result<Tables, AppError> {
    Ok(Tables {
        rates: one_way(s, access, v, v.outcome).await?,
        time: one_way(s, access, v, v.time).await?,
        trend: trend(s, access, v).await?,
        two_way: two_way(s, access, v).await?,
    })
}

/// A refusal shown on the page's frame.
fn refusal(status: StatusCode, lang: Lang, message: &str) -> Response {
    let body = format!(
        "<main><h1>{}</h1><p class=\"error\" role=\"alert\">{}</p><p><a href=\"/dashboard?lang={}\">{}</a></p></main>",
        crate::dashboard::svg::esc(t(lang, Text::Title)),
        crate::dashboard::svg::esc(message),
        lang.code(),
        crate::dashboard::svg::esc(t(lang, Text::Title)),
    );
    html(status, page::frame(lang, t(lang, Text::Title), &body))
}

fn app_refusal(e: AppError, lang: Lang) -> Response {
    match &e {
        AppError::Forbidden(_) => refusal(StatusCode::FORBIDDEN, lang, &e.to_string()),
        AppError::Rejected {
            code: "FORBIDDEN", ..
        } => refusal(StatusCode::FORBIDDEN, lang, &e.to_string()),
        AppError::Rejected { .. } | AppError::Conflict { .. } => {
            refusal(StatusCode::BAD_REQUEST, lang, &e.to_string())
        }
        AppError::Lagging { .. } | AppError::Unavailable(_) => {
            tracing::warn!(error = %e, "dashboard unavailable");
            refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                lang,
                "the server cannot answer just now; retry shortly",
            )
        }
        AppError::Internal(_) => {
            if e.code() == Some("REQUEST_TIMEOUT") {
                return refusal(StatusCode::SERVICE_UNAVAILABLE, lang, &e.to_string());
            }
            tracing::error!(error = %e, "dashboard failed");
            refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                lang,
                "internal error (logged on the server)",
            )
        }
    }
}

/// The page's stylesheet (its own: the GraphiQL page's assets are another set).
const STYLE: &str = include_str!("../../../web/dashboard.css");

/// `GET /dashboard/style.css`.
pub async fn style() -> Response {
    let mut r = STYLE.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// `GET /dashboard`: the page, or the sign-in page.
pub async fn show(State(s): State<Arc<HttpState>>, headers: HeaderMap, raw: RawQuery) -> Response {
    let pairs = pairs(&raw);
    let lang = lang_of(&headers, &pairs);
    let Some((access, csrf)) = signed_in(&s, &headers) else {
        let mut r = html(StatusCode::OK, page::sign_in(lang, None));
        if session::cookie_id(&headers).is_some()
            && let Ok(c) = HeaderValue::from_str(&session::clear_cookie())
        {
            r.headers_mut().insert(header::SET_COOKIE, c);
        }
        return r;
    };
    if let Some(r) = throttled(&s, &access, lang) {
        return r;
    }
    let view = match View::parse(&pairs, lang) {
        Ok(v) => v,
        Err(e) => return refusal(StatusCode::BAD_REQUEST, lang, &e),
    };
    match tables(&s, &access, &view).await {
        Ok(tables) => html(
            StatusCode::OK,
            page::dashboard(&view, &tables, &access.actor.subject, &csrf),
        ),
        Err(e) => app_refusal(e, view.lang),
    }
}

/// `GET /dashboard/csv?table=rates|time|trend|twoway&…`: one table as CSV.
pub async fn csv(State(s): State<Arc<HttpState>>, headers: HeaderMap, raw: RawQuery) -> Response {
    let mut pairs = pairs(&raw);
    let lang = lang_of(&headers, &pairs);
    let Some((access, _)) = signed_in(&s, &headers) else {
        return refusal(StatusCode::UNAUTHORIZED, lang, t(lang, Text::SignInTitle));
    };
    if let Some(r) = throttled(&s, &access, lang) {
        return r;
    }
    let which = pairs
        .iter()
        .position(|(k, _)| k == "table")
        .map(|i| pairs.remove(i).1);
    let view = match View::parse(&pairs, lang) {
        Ok(v) => v,
        Err(e) => return refusal(StatusCode::BAD_REQUEST, lang, &e),
    };
    // Only the table asked for is computed.
    let made = match which.as_deref() {
        Some("rates") => one_way(&s, &access, &view, view.outcome)
            .await
            .map(|t| ("rates", t.csv)),
        Some("time") => one_way(&s, &access, &view, view.time)
            .await
            .map(|t| ("time", t.csv)),
        Some("twoway") => two_way(&s, &access, &view)
            .await
            .map(|t| ("two-way", t.csv)),
        Some("trend") => trend(&s, &access, &view)
            .await
            .map(|t| ("trend", careledger_app::equity::csv_text::trend(&t))),
        _ => {
            return refusal(
                StatusCode::BAD_REQUEST,
                lang,
                "table: one of rates, time, trend, twoway",
            );
        }
    };
    let (name, text) = match made {
        Ok(x) => x,
        Err(e) => return app_refusal(e, lang),
    };
    let mut r = (StatusCode::OK, text).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"careledger-{name}-{}.csv\"",
        view.by.name()
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

#[derive(serde::Deserialize)]
pub struct SignIn {
    token: String,
    #[serde(default)]
    lang: Option<String>,
}

/// `POST /dashboard/session`: a token for a session cookie.
pub async fn sign_in(State(s): State<Arc<HttpState>>, headers: HeaderMap, body: Bytes) -> Response {
    let f: SignIn = match serde_urlencoded::from_bytes(&body) {
        Ok(f) => f,
        Err(_) => {
            let lang = super::fhir::lang_of(&headers);
            return html(
                StatusCode::BAD_REQUEST,
                page::sign_in(lang, Some(t(lang, Text::SignInHelp))),
            );
        }
    };
    let lang = f
        .lang
        .as_deref()
        .and_then(Lang::from_tag)
        .unwrap_or_else(|| super::fhir::lang_of(&headers));
    if !same_origin(&s, &headers) {
        return refusal(
            StatusCode::FORBIDDEN,
            lang,
            "this form must be sent from the dashboard's own page",
        );
    }
    let token = f.token.trim();
    let token = token.strip_prefix("Bearer ").unwrap_or(token);
    if token.starts_with(careledger_app::credentials::PREFIX) {
        return html(
            StatusCode::FORBIDDEN,
            page::sign_in(lang, Some(t(lang, Text::SignInRefused))),
        );
    }
    match authenticate(&s, Some(token)) {
        Ok(a) if may_use(&a) => {
            let id = s
                .dashboard
                .sessions
                .open(token, session::SESSION_LIFETIME, Instant::now());
            see_other(
                &format!("/dashboard?lang={}", lang.code()),
                Some(session::set_cookie(&id, session::SESSION_LIFETIME)),
            )
        }
        Ok(_) => html(
            StatusCode::FORBIDDEN,
            page::sign_in(lang, Some(t(lang, Text::SignInRefused))),
        ),
        Err(e) => html(
            StatusCode::UNAUTHORIZED,
            page::sign_in(lang, Some(&e.to_string())),
        ),
    }
}

#[derive(serde::Deserialize)]
pub struct SignOut {
    #[serde(default)]
    csrf: String,
}

/// `POST /dashboard/signout`: ends the session (with its CSRF token only).
pub async fn sign_out(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f: SignOut = serde_urlencoded::from_bytes(&body).unwrap_or(SignOut {
        csrf: String::new(),
    });
    let lang = super::fhir::lang_of(&headers);
    let Some(id) = session::cookie_id(&headers) else {
        return see_other("/dashboard", None);
    };
    let Some(sess) = s.dashboard.sessions.get(&id, Instant::now()) else {
        return see_other("/dashboard", Some(session::clear_cookie()));
    };
    if !same_origin(&s, &headers) || f.csrf.is_empty() || f.csrf != sess.csrf {
        return refusal(
            StatusCode::FORBIDDEN,
            lang,
            "sign-out refused: the form did not come from this session's page",
        );
    }
    s.dashboard.sessions.close(&id);
    see_other("/dashboard", Some(session::clear_cookie()))
}
