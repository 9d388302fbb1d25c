//! The answer page (issue 16): `GET /answer/{token}` shows a service without an
//! account the referral an answer link was issued for — the need, in the link's
//! language (fr, nl, de, en; `?lang=` switches) — and the answers its status
//! allows; `POST /answer/{token}` records one, as the performing side
//! (`App::answer_by_link`). Server-rendered HTML, no script, no style, no
//! third-party anything: a CSP of `default-src 'none'; form-action 'self'`.
//!
//! A link that is not this server's is `404`; expired, replaced by a newer one
//! or for a closed referral `410`, each said plainly and in the page's
//! language; an answer the status no longer allows `409`; a malformed form
//! `400`. Each rendering carries a fresh idempotency key, so a form sent twice
//! records one answer. The token is in the path, which the request log records
//! only as its route (`/answer/{token}`); the page is never cached and sends no
//! referrer.

mod strings;

use super::HttpState;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use careledger_app::answer_link::{AnswerKind, LinkAnswer, LinkRefusal, LinkView};
use careledger_domain::need_case::{FailureReason, Outcome, ReferralStatus, RejectionReason};
use careledger_domain::values::Lang;
use std::collections::HashMap;
use std::sync::Arc;
use strings::{Text, t};

const CSP: &str = "default-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

fn lang_of(query: &HashMap<String, String>, headers: &HeaderMap, link: Option<Lang>) -> Lang {
    query
        .get("lang")
        .and_then(|l| Lang::ALL.into_iter().find(|x| x.code() == l))
        .or(link)
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|h| h.to_str().ok())
                .map(crate::graphql::support::lang_from_accept_language)
        })
        .unwrap_or(Lang::En)
}

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn html(status: StatusCode, lang: Lang, title: &str, body: &str) -> Response {
    let page = format!(
        "<!doctype html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{} — CareLedger</title></head><body><main><h1>{}</h1>{}</main></body></html>\n",
        lang.code(),
        esc(title),
        esc(title),
        body
    );
    let mut r = (status, page).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    r
}

fn refused(r: LinkRefusal, lang: Lang) -> Response {
    let (status, text) = match r {
        LinkRefusal::Invalid => (StatusCode::NOT_FOUND, Text::Invalid),
        LinkRefusal::Expired => (StatusCode::GONE, Text::Expired),
        LinkRefusal::Replaced => (StatusCode::GONE, Text::Replaced),
        LinkRefusal::Closed => (StatusCode::GONE, Text::Closed),
    };
    html(
        status,
        lang,
        t(lang, Text::Unavailable),
        &format!("<p>{}</p>", esc(t(lang, text))),
    )
}

fn unavailable(lang: Lang) -> Response {
    html(
        StatusCode::SERVICE_UNAVAILABLE,
        lang,
        t(lang, Text::Unavailable),
        &format!("<p>{}</p>", esc(t(lang, Text::TryLater))),
    )
}

fn status_text(s: ReferralStatus) -> Text {
    match s {
        ReferralStatus::Requested => Text::StatusRequested,
        ReferralStatus::Accepted => Text::StatusAccepted,
        ReferralStatus::OnHold => Text::StatusOnHold,
        ReferralStatus::InProgress => Text::StatusInProgress,
        _ => Text::StatusClosed,
    }
}

fn options<T: Copy>(lang: Lang, name: &str, items: &[(T, &str, Text)]) -> String {
    let mut o = format!("<select name=\"{name}\" required>");
    for (_, value, text) in items {
        o.push_str(&format!(
            "<option value=\"{value}\">{}</option>",
            esc(t(lang, *text))
        ));
    }
    o.push_str("</select>");
    o
}

const REJECT: [(RejectionReason, &str, Text); 5] = [
    (RejectionReason::NoCapacity, "no_capacity", Text::NoCapacity),
    (
        RejectionReason::NotEligible,
        "not_eligible",
        Text::NotEligible,
    ),
    (RejectionReason::OutOfArea, "out_of_area", Text::OutOfArea),
    (
        RejectionReason::MissingInformation,
        "missing_information",
        Text::MissingInformation,
    ),
    (RejectionReason::Other, "other", Text::Other),
];
const OUTCOME: [(Outcome, &str, Text); 3] = [
    (Outcome::NeedMet, "need_met", Text::NeedMet),
    (
        Outcome::NeedPartlyMet,
        "need_partly_met",
        Text::NeedPartlyMet,
    ),
    (Outcome::NeedNotMet, "need_not_met", Text::NeedNotMet),
];
const FAIL: [(FailureReason, &str, Text); 3] = [
    (FailureReason::NoShow, "no_show", Text::NoShow),
    (FailureReason::Unreachable, "unreachable", Text::Unreachable),
    (FailureReason::Declined, "declined", Text::Declined),
];

fn kind_value(k: AnswerKind) -> (&'static str, Text) {
    match k {
        AnswerKind::Accept => ("accept", Text::Accept),
        AnswerKind::Reject => ("reject", Text::Reject),
        AnswerKind::Waitlist => ("waitlist", Text::Waitlist),
        AnswerKind::Start => ("start", Text::Start),
        AnswerKind::Complete => ("complete", Text::Complete),
        AnswerKind::Fail => ("fail", Text::Fail),
    }
}

/// The page of an open link: what is asked, and one form per allowed answer.
fn page(s: &HttpState, token: &str, v: &LinkView, lang: Lang, note: Option<&str>) -> String {
    let need = s
        .app
        .catalogue
        .get(&v.need)
        .map_or_else(|| v.need.to_string(), |d| d.label(lang).to_string());
    let service = s
        .app
        .projector
        .read()
        .directory()
        .service(v.service)
        .and_then(|x| x.state.data())
        .map(|d| d.profile.name.get(lang).to_string());
    let mut b = String::new();
    if let Some(n) = note {
        b.push_str(&format!(
            "<p role=\"status\"><strong>{}</strong></p>",
            esc(n)
        ));
    }
    b.push_str(&format!(
        "<p>{}</p><dl><dt>{}</dt><dd>{}</dd>",
        esc(t(lang, Text::Intro)),
        esc(t(lang, Text::Need)),
        esc(&need)
    ));
    if let Some(name) = service {
        b.push_str(&format!(
            "<dt>{}</dt><dd>{}</dd>",
            esc(t(lang, Text::Service)),
            esc(&name)
        ));
    }
    b.push_str(&format!(
        "<dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd></dl>",
        esc(t(lang, Text::Status)),
        esc(t(lang, status_text(v.status))),
        esc(t(lang, Text::ValidUntil)),
        esc(&v.expires_at.format("%Y-%m-%d %H:%M UTC").to_string())
    ));
    let action = format!("/answer/{}", esc(token));
    let key = uuid::Uuid::now_v7();
    for k in &v.answers {
        let (value, label) = kind_value(*k);
        let extra = match k {
            AnswerKind::Reject => format!(
                "<label>{} {}</label> ",
                esc(t(lang, Text::Reason)),
                options(lang, "reason", &REJECT)
            ),
            AnswerKind::Complete => format!(
                "<label>{} {}</label> ",
                esc(t(lang, Text::Outcome)),
                options(lang, "outcome", &OUTCOME)
            ),
            AnswerKind::Fail => format!(
                "<label>{} {}</label> ",
                esc(t(lang, Text::Reason)),
                options(lang, "reason", &FAIL)
            ),
            AnswerKind::Waitlist => format!(
                "<label>{} <input type=\"number\" name=\"days\" min=\"0\" max=\"730\"></label> ",
                esc(t(lang, Text::WaitDays))
            ),
            AnswerKind::Accept | AnswerKind::Start => String::new(),
        };
        b.push_str(&format!(
            "<form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"answer\" value=\"{value}\"><input type=\"hidden\" name=\"key\" value=\"{key}\"><input type=\"hidden\" name=\"lang\" value=\"{}\">{extra}<button type=\"submit\">{}</button></form>",
            lang.code(),
            esc(t(lang, label))
        ));
    }
    b.push_str("<p>");
    for l in Lang::ALL {
        b.push_str(&format!(
            "<a href=\"{action}?lang={0}\" hreflang=\"{0}\" lang=\"{0}\">{1}</a> ",
            l.code(),
            esc(t(l, Text::LanguageName))
        ));
    }
    b.push_str("</p>");
    b
}

/// `GET /answer/{token}`.
pub async fn show(
    State(s): State<Arc<HttpState>>,
    Path(token): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    match s.app.open_answer_link(&token).await {
        Ok(Ok(v)) => {
            let lang = lang_of(&query, &headers, Some(v.lang));
            html(
                StatusCode::OK,
                lang,
                t(lang, Text::Title),
                &page(&s, &token, &v, lang, None),
            )
        }
        Ok(Err(r)) => refused(r, lang_of(&query, &headers, s.app.answer_link_lang(&token))),
        Err(_) => unavailable(lang_of(&query, &headers, s.app.answer_link_lang(&token))),
    }
}

/// The answer a form asks for; `None` when it is malformed.
fn answer_of(form: &HashMap<String, String>) -> Option<LinkAnswer> {
    Some(match form.get("answer")?.as_str() {
        "accept" => LinkAnswer::Accept,
        "start" => LinkAnswer::Start,
        "reject" => {
            let v = form.get("reason")?;
            LinkAnswer::Reject(REJECT.iter().find(|(_, s, _)| s == v)?.0)
        }
        "complete" => {
            let v = form.get("outcome")?;
            LinkAnswer::Complete(OUTCOME.iter().find(|(_, s, _)| s == v)?.0)
        }
        "fail" => {
            let v = form.get("reason")?;
            LinkAnswer::Fail(FAIL.iter().find(|(_, s, _)| s == v)?.0)
        }
        "waitlist" => LinkAnswer::Waitlist(match form.get("days").map(|d| d.trim()) {
            None | Some("") => None,
            Some(d) => Some(d.parse::<u16>().ok().filter(|d| *d <= 730)?),
        }),
        _ => return None,
    })
}

/// `POST /answer/{token}` (an HTML form).
pub async fn answer(
    State(s): State<Arc<HttpState>>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    // The signature first (no I/O): a token this server did not sign is refused
    // before it is rate-limited, read or looked up.
    let Some(link_lang) = s.app.answer_link_lang(&token) else {
        return refused(LinkRefusal::Invalid, lang_of(&form, &headers, None));
    };
    let lang = lang_of(&form, &headers, Some(link_lang));
    // A link is a credential of its own: its answers are rate-limited as one.
    if s.limiter.take(&format!("answer-link:{token}"), 1).is_err() {
        return html(
            StatusCode::TOO_MANY_REQUESTS,
            lang,
            t(lang, Text::Unavailable),
            &format!("<p>{}</p>", esc(t(lang, Text::TryLater))),
        );
    }
    let Some(answer) = answer_of(&form) else {
        return match s.app.open_answer_link(&token).await {
            Ok(Ok(view)) => html(
                StatusCode::BAD_REQUEST,
                lang,
                t(lang, Text::Title),
                &page(&s, &token, &view, lang, Some(t(lang, Text::Malformed))),
            ),
            Ok(Err(r)) => refused(r, lang),
            Err(_) => unavailable(lang),
        };
    };
    let key = form.get("key").and_then(|k| uuid::Uuid::parse_str(k).ok());
    match s.app.answer_by_link(&token, answer, key).await {
        Ok(Ok(done)) => html(
            StatusCode::OK,
            lang,
            t(lang, Text::Thanks),
            &format!(
                "<p>{}</p><p>{}: {}</p>",
                esc(t(lang, Text::Recorded)),
                esc(t(lang, Text::Status)),
                esc(t(lang, status_text(done.status)))
            ),
        ),
        Ok(Err(r)) => refused(r, lang),
        Err(
            careledger_app::AppError::Rejected { .. } | careledger_app::AppError::Conflict { .. },
        ) => {
            // Answered meanwhile (by the coordinator, another form): show where it stands.
            match s.app.open_answer_link(&token).await {
                Ok(Ok(v)) => html(
                    StatusCode::CONFLICT,
                    lang,
                    t(lang, Text::Title),
                    &page(&s, &token, &v, lang, Some(t(lang, Text::NotAllowedNow))),
                ),
                Ok(Err(r)) => refused(r, lang),
                Err(_) => unavailable(lang),
            }
        }
        Err(_) => unavailable(lang),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_forms_are_read_strictly() {
        assert_eq!(esc("<b a=\"x\">&'"), "&lt;b a=&quot;x&quot;&gt;&amp;&#39;");
        let f = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>()
        };
        assert_eq!(
            answer_of(&f(&[("answer", "accept")])),
            Some(LinkAnswer::Accept)
        );
        assert_eq!(
            answer_of(&f(&[("answer", "reject"), ("reason", "out_of_area")])),
            Some(LinkAnswer::Reject(RejectionReason::OutOfArea))
        );
        assert_eq!(
            answer_of(&f(&[
                ("answer", "complete"),
                ("outcome", "need_partly_met")
            ])),
            Some(LinkAnswer::Complete(Outcome::NeedPartlyMet))
        );
        assert_eq!(
            answer_of(&f(&[("answer", "fail"), ("reason", "no_show")])),
            Some(LinkAnswer::Fail(FailureReason::NoShow))
        );
        assert_eq!(
            answer_of(&f(&[("answer", "waitlist"), ("days", "21")])),
            Some(LinkAnswer::Waitlist(Some(21)))
        );
        assert_eq!(
            answer_of(&f(&[("answer", "waitlist"), ("days", "")])),
            Some(LinkAnswer::Waitlist(None))
        );
        for bad in [
            f(&[("answer", "reject")]),
            f(&[("answer", "reject"), ("reason", "bored")]),
            f(&[("answer", "complete"), ("outcome", "no_show")]),
            f(&[("answer", "waitlist"), ("days", "-1")]),
            f(&[("answer", "waitlist"), ("days", "9999")]),
            f(&[("answer", "cancel")]),
            f(&[]),
        ] {
            assert_eq!(answer_of(&bad), None, "{bad:?}");
        }
    }
}
