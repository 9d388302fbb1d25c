//! Answer links (issue 16): `issueAnswerLink`, for the coordinators of the need
//! case's site. The link lets a service without an account answer the referral
//! on a small page (`/answer/{token}`, see `http::answer`), as the performing
//! side; a newer link replaces it, and it stops working when it expires or the
//! referral closes.

use super::mutation::{need_case_id, referral_id};
use super::types::{AnswerLink, LinkBase};
use crate::graphql::support::commands::{CommandOptions, Invalid, command_context, refusal};
use crate::graphql::support::scalars::{Lang, Position, UserError};
use crate::graphql::support::{allow, app};
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use careledger_app::policy::Action;

#[derive(InputObject)]
pub struct IssueAnswerLinkInput {
    #[graphql(flatten)]
    pub options: CommandOptions,
    pub need_case_id: ID,
    pub referral_id: ID,
    /// How long the link works, in days (1 to 90).
    #[graphql(default = 14)]
    pub valid_days: i32,
    /// The language its page opens in (the service may switch).
    pub lang: Lang,
}

#[derive(SimpleObject, Default)]
pub struct IssueAnswerLinkPayload {
    /// The link (null when refused).
    pub answer_link: Option<AnswerLink>,
    pub position: Option<Position>,
    /// True when the idempotency key had already issued this very link.
    pub duplicate: bool,
    pub user_errors: Vec<UserError>,
}

#[derive(Default)]
pub struct LinkMutation;

#[Object]
impl LinkMutation {
    /// Issues a link the organisation the referral is addressed to can answer it
    /// through without an account (accept, reject, waitlist, start, complete,
    /// fail — as the referral's status allows), recorded as the performing side.
    /// It replaces any earlier link of the referral.
    async fn issue_answer_link(
        &self,
        ctx: &Context<'_>,
        input: IssueAnswerLinkInput,
    ) -> Result<IssueAnswerLinkPayload> {
        let access = allow(ctx, Action::WriteCasework)?;
        let refused = |e: UserError| IssueAnswerLinkPayload {
            user_errors: vec![e],
            ..Default::default()
        };
        let prepared = (|| -> Result<_, Invalid> {
            let cctx = command_context(access, &input.options)?;
            Ok((
                cctx,
                need_case_id(&input.need_case_id)?,
                referral_id(&input.referral_id)?,
            ))
        })();
        let (cctx, need_case, referral) = match prepared {
            Ok(p) => p,
            Err(Invalid(e)) => return Ok(refused(e)),
        };
        let issued = app(ctx)
            .issue_answer_link(
                access,
                &cctx,
                need_case,
                referral,
                i64::from(input.valid_days),
                input.lang.into(),
            )
            .await;
        match issued {
            Ok(x) => Ok(IssueAnswerLinkPayload {
                answer_link: Some(AnswerLink {
                    url: ctx
                        .data_opt::<LinkBase>()
                        .cloned()
                        .unwrap_or_default()
                        .url(&x.token),
                    expires_at: x.expires_at,
                    lang: x.lang.into(),
                }),
                position: Some(Position(x.position)),
                duplicate: x.duplicate,
                user_errors: vec![],
            }),
            Err(e) => Ok(refused(refusal(e)?)),
        }
    }
}
