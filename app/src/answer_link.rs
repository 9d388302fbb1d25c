//! Answer links (issue 16): a small service that runs no software answers a
//! referral through a link the coordinator sends it — signed by the server,
//! for that referral only, expiring, replaced by a newer one, and refused once
//! the referral is closed.
//!
//! * Issuing is a command of the need case (`AnswerLinkIssued`: who issued which
//!   link, until when, in which language) by the coordinators of its site. The
//!   link's token is never stored: it is `al1.<claims>.<HMAC-SHA256>` over the
//!   link id, need case, referral and expiry under the deployment's answer-link
//!   secret (never the token key, so a link is never a bearer token), computed
//!   again from the event whenever it is asked for — a retried issue gives the
//!   same link.
//! * Opening checks the signature (constant time), the expiry (the server's
//!   clock), that the link is still the referral's newest and that the referral
//!   is open, in that order; each refusal is a [`LinkRefusal`], and nothing says
//!   which referral a bad token names.
//! * Answering is the performer's move, recorded with the actor
//!   `answer-link:<link id>` in the provider role: the audit trail says an answer
//!   came through which link. The answers offered are the performer's moves the
//!   referral's status allows.

use crate::command::CommandContext;
use crate::policy::Access;
use crate::{App, AppError};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use careledger_domain::ids::{AnswerLinkId, NeedCaseId, ReferralId, ServiceId};
use careledger_domain::need_case::{
    AnswerLink, FailureReason, MAX_ANSWER_LINK_DAYS, NeedCase, NeedCaseAction, Outcome,
    ReferralStatus, RejectionReason, referral_transition_allowed,
};
use careledger_domain::store::{Actor, Role, StreamName};
use careledger_domain::values::{Lang, NeedCode, SiteId};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

/// The deployment's answer-link secret. `Debug` never shows it.
#[derive(Clone)]
pub struct LinkKey([u8; 32]);

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(redacted)")
    }
}

impl LinkKey {
    /// A key derived from `secret` (at least 32 bytes, checked by the caller).
    pub fn new(secret: &[u8]) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
        mac.update(b"careledger answer links v1");
        Self(mac.finalize().into_bytes().into())
    }

    fn mac(&self, text: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("any key length");
        mac.update(text);
        mac
    }
}

/// What a token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Claims {
    l: AnswerLinkId,
    n: NeedCaseId,
    r: ReferralId,
    /// Expiry, Unix seconds.
    e: i64,
    /// The page's language (so even a refusal is said in it).
    g: Lang,
}

const PREFIX: &str = "al1.";

fn sign(key: &LinkKey, c: &Claims) -> String {
    let body = B64.encode(serde_json::to_vec(c).expect("claims serialise"));
    let tag = B64.encode(key.mac(body.as_bytes()).finalize().into_bytes());
    format!("{PREFIX}{body}.{tag}")
}

fn verify(key: &LinkKey, token: &str) -> Option<Claims> {
    let rest = token.strip_prefix(PREFIX)?;
    let (body, tag) = rest.split_once('.')?;
    if body.len() > 512 || tag.len() > 64 {
        return None;
    }
    let tag = B64.decode(tag).ok()?;
    key.mac(body.as_bytes()).verify_slice(&tag).ok()?;
    serde_json::from_slice(&B64.decode(body).ok()?).ok()
}

/// Why a link does not open. The page says so in the link's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRefusal {
    /// Not a link this server signed (or not for this referral).
    Invalid,
    Expired,
    /// A newer link was issued for the referral.
    Replaced,
    /// The referral was answered to the end, cancelled or withdrawn.
    Closed,
}

/// An answer the performer may give through a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkAnswer {
    Accept,
    Reject(RejectionReason),
    Waitlist(Option<u16>),
    Start,
    Complete(Outcome),
    Fail(FailureReason),
}

/// The kinds of answer, in the order a page offers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerKind {
    Accept,
    Reject,
    Waitlist,
    Start,
    Complete,
    Fail,
}

impl AnswerKind {
    pub const ALL: [AnswerKind; 6] = [
        AnswerKind::Accept,
        AnswerKind::Reject,
        AnswerKind::Waitlist,
        AnswerKind::Start,
        AnswerKind::Complete,
        AnswerKind::Fail,
    ];

    /// The status it moves the referral to.
    fn target(self) -> ReferralStatus {
        match self {
            AnswerKind::Accept => ReferralStatus::Accepted,
            AnswerKind::Reject => ReferralStatus::Rejected,
            AnswerKind::Waitlist => ReferralStatus::OnHold,
            AnswerKind::Start => ReferralStatus::InProgress,
            AnswerKind::Complete => ReferralStatus::Completed,
            AnswerKind::Fail => ReferralStatus::Failed,
        }
    }
}

impl LinkAnswer {
    pub fn kind(self) -> AnswerKind {
        match self {
            LinkAnswer::Accept => AnswerKind::Accept,
            LinkAnswer::Reject(_) => AnswerKind::Reject,
            LinkAnswer::Waitlist(_) => AnswerKind::Waitlist,
            LinkAnswer::Start => AnswerKind::Start,
            LinkAnswer::Complete(_) => AnswerKind::Complete,
            LinkAnswer::Fail(_) => AnswerKind::Fail,
        }
    }

    fn action(self, referral: ReferralId) -> NeedCaseAction {
        match self {
            LinkAnswer::Accept => NeedCaseAction::AcceptReferral { referral },
            LinkAnswer::Reject(reason) => NeedCaseAction::RejectReferral { referral, reason },
            LinkAnswer::Waitlist(estimated_wait_days) => NeedCaseAction::WaitlistReferral {
                referral,
                estimated_wait_days,
            },
            LinkAnswer::Start => NeedCaseAction::StartReferral { referral },
            LinkAnswer::Complete(outcome) => NeedCaseAction::CompleteReferral { referral, outcome },
            LinkAnswer::Fail(reason) => NeedCaseAction::FailReferral { referral, reason },
        }
    }
}

/// An issued link: its token and when it expires.
#[derive(Debug, Clone)]
pub struct IssuedLink {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub lang: Lang,
    pub position: u64,
    pub duplicate: bool,
    /// The need case after issuing.
    pub view: careledger_projections::NeedCaseView,
}

/// What an open link shows: the referral as the performer answers it.
#[derive(Debug, Clone)]
pub struct LinkView {
    pub need: NeedCode,
    pub service: ServiceId,
    pub status: ReferralStatus,
    pub lang: Lang,
    pub expires_at: DateTime<Utc>,
    /// The answers the referral's status allows now.
    pub answers: Vec<AnswerKind>,
}

/// An answer recorded through a link.
#[derive(Debug, Clone, Copy)]
pub struct Answered {
    /// The referral's status after it.
    pub status: ReferralStatus,
    pub lang: Lang,
    /// The same form was sent before: nothing new was written.
    pub duplicate: bool,
}

/// Where a link points, once opened.
struct Opened {
    claims: Claims,
    site: SiteId,
    view: LinkView,
    /// The stream's version the link was checked against: the answer is
    /// refused (`Conflict`) if the stream moved meanwhile.
    version: Option<u64>,
}

impl App {
    /// The token of a link as the referral records it.
    pub fn answer_link_token(
        &self,
        need_case: NeedCaseId,
        referral: ReferralId,
        link: &AnswerLink,
    ) -> String {
        sign(
            &self.settings.answer_links,
            &Claims {
                l: link.link,
                n: need_case,
                r: referral,
                e: link.expires_at.timestamp(),
                g: link.lang,
            },
        )
    }

    /// Issues an answer link for an open referral, valid `valid_days` (1–90)
    /// from the command's time, its page in `lang`; a newer link replaces it.
    /// The coordinators of the need case's site only. A retry with the same
    /// idempotency key gives the same link.
    ///
    /// # Errors
    /// As every need-case command; `ANSWER_LINK_VALIDITY` on `validDays`.
    pub async fn issue_answer_link(
        &self,
        access: &Access,
        ctx: &CommandContext,
        need_case: NeedCaseId,
        referral: ReferralId,
        valid_days: i64,
        lang: Lang,
    ) -> Result<IssuedLink, AppError> {
        access.check(crate::policy::Action::WriteCasework)?;
        if !(1..=MAX_ANSWER_LINK_DAYS).contains(&valid_days) {
            return Err(AppError::rejected(
                Some("validDays"),
                "ANSWER_LINK_VALIDITY",
                format!("a link is valid from 1 to {MAX_ANSWER_LINK_DAYS} days"),
            ));
        }
        let link = AnswerLinkId::from_uuid(ctx.idempotency_key.unwrap_or_else(Uuid::now_v7));
        let at = ctx.occurred_at.unwrap_or_else(|| self.clock.now());
        let action = NeedCaseAction::IssueAnswerLink {
            referral,
            link,
            expires_at: at + chrono::Duration::days(valid_days),
            lang,
        };
        let done = self
            .need_case_command(access, ctx, need_case, action)
            .await?;
        let issued = done
            .view
            .state
            .referral(referral)
            .and_then(|r| r.answer_link.as_deref().copied())
            .ok_or_else(|| AppError::internal_msg("no answer link after issuing one"))?;
        Ok(IssuedLink {
            token: self.answer_link_token(need_case, referral, &issued),
            expires_at: issued.expires_at,
            lang: issued.lang,
            position: done.position,
            duplicate: done.duplicate,
            view: done.view,
        })
    }

    /// The language a link of this server was issued in, whether or not it
    /// still opens (`None` for a token this server did not sign).
    pub fn answer_link_lang(&self, token: &str) -> Option<Lang> {
        verify(&self.settings.answer_links, token).map(|c| c.g)
    }

    /// Checks a link and shows what it answers.
    ///
    /// # Errors
    /// `Ok(Err(refusal))` when the link does not open; `Err` when the log cannot
    /// be read.
    pub async fn open_answer_link(
        &self,
        token: &str,
    ) -> Result<Result<LinkView, LinkRefusal>, AppError> {
        Ok(self.opened(token).await?.map(|o| o.view))
    }

    async fn opened(&self, token: &str) -> Result<Result<Opened, LinkRefusal>, AppError> {
        let Some(claims) = verify(&self.settings.answer_links, token) else {
            return Ok(Err(LinkRefusal::Invalid));
        };
        if self.clock.now().timestamp() >= claims.e {
            return Ok(Err(LinkRefusal::Expired));
        }
        // The log itself, not this process's cache nor the read model: a link
        // replaced, or an answer given, a moment ago through another server must
        // count here too.
        let history = self.read_stream(&StreamName::need_case(claims.n)).await?;
        let case = crate::aggregates::fold::<NeedCase>(&history);
        let (Some(d), Some(r)) = (case.data(), case.referral(claims.r)) else {
            return Ok(Err(LinkRefusal::Invalid));
        };
        let Some(current) = r.answer_link.as_deref().copied() else {
            return Ok(Err(LinkRefusal::Invalid));
        };
        if current.link != claims.l {
            return Ok(Err(LinkRefusal::Replaced));
        }
        // A need case entered in error (or otherwise finished) takes no answer.
        if !r.status.is_open() || case.status().is_none_or(|s| s.is_finished()) {
            return Ok(Err(LinkRefusal::Closed));
        }
        let answers = AnswerKind::ALL
            .into_iter()
            .filter(|k| referral_transition_allowed(r.status, k.target()))
            .collect();
        Ok(Ok(Opened {
            claims,
            version: history.last().map(|e| e.version),
            site: d.recipient.site.clone(),
            view: LinkView {
                need: d.need.clone(),
                service: r.service,
                status: r.status,
                lang: current.lang,
                expires_at: current.expires_at,
                answers,
            },
        }))
    }

    /// Records `answer` as the performer, through the link. `key` (a UUIDv7;
    /// another is ignored) makes a resubmitted form a retry (the page carries
    /// one per rendering) — also once that answer closed the referral.
    ///
    /// # Errors
    /// `Ok(Err(refusal))` when the link does not open; `Err` for a refused
    /// answer (e.g. no longer allowed from the referral's status) or a fault.
    pub async fn answer_by_link(
        &self,
        token: &str,
        answer: LinkAnswer,
        key: Option<Uuid>,
    ) -> Result<Result<Answered, LinkRefusal>, AppError> {
        let key = key.filter(|k| k.get_version_num() == 7);
        let opened = match self.opened(token).await? {
            Ok(o) => o,
            Err(LinkRefusal::Closed) if key.is_some() => {
                // The same form sent again after it closed the referral: the
                // answer is recorded, say so rather than "closed".
                return self.resent(token, key).await;
            }
            Err(r) => return Ok(Err(r)),
        };
        let ctx = CommandContext {
            actor: Actor {
                subject: format!("answer-link:{}", opened.claims.l),
                role: Role::Provider,
            },
            idempotency_key: key,
            expected_version: opened.version,
            occurred_at: None,
            correlation_id: Uuid::now_v7(),
        };
        let site = opened.site;
        // The stream's own site, asked again of the state the command decides on.
        let authorize = move |s: Option<&SiteId>| match s {
            Some(s) if *s != site => Err(AppError::Forbidden(crate::policy::Denied::Organisation)),
            _ => Ok(()),
        };
        let action = answer.action(opened.claims.r);
        debug_assert_eq!(action.side(), careledger_domain::need_case::Side::Performer);
        let x = self
            .execute::<NeedCase>(
                StreamName::need_case(opened.claims.n),
                action,
                &ctx,
                authorize,
            )
            .await?;
        let case = crate::aggregates::fold::<NeedCase>(&x.history);
        let status = case
            .referral(opened.claims.r)
            .map_or(opened.view.status, |r| r.status);
        Ok(Ok(Answered {
            status,
            lang: opened.view.lang,
            duplicate: x.duplicate,
        }))
    }
}

impl App {
    /// A final answer's form sent again (see [`App::answer_by_link`]).
    async fn resent(
        &self,
        token: &str,
        key: Option<Uuid>,
    ) -> Result<Result<Answered, LinkRefusal>, AppError> {
        let (Some(claims), Some(key)) = (verify(&self.settings.answer_links, token), key) else {
            return Ok(Err(LinkRefusal::Closed));
        };
        let history = self.read_stream(&StreamName::need_case(claims.n)).await?;
        if !history.iter().any(|e| e.id.as_uuid() == key) {
            return Ok(Err(LinkRefusal::Closed));
        }
        let case = crate::aggregates::fold::<NeedCase>(&history);
        Ok(match case.referral(claims.r) {
            Some(r) => Ok(Answered {
                status: r.status,
                lang: claims.g,
                duplicate: true,
            }),
            None => Err(LinkRefusal::Closed),
        })
    }
}

/// For tests and tools: a random key.
impl Default for LinkKey {
    fn default() -> Self {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).expect("randomness");
        Self::new(&secret)
    }
}

#[cfg(test)]
mod tests;
