//! Notes on a referral (issue 16): `addReferralNote`, for the coordinators of
//! the need case's site and the provider of the organisation the referral is
//! addressed to. The text is sealed under the recipient's key before it is
//! recorded; a refusal never quotes it. Notes are read on `Referral.notes` and
//! `InboxReferral.notes`.

use super::mutation::{need_case_id, referral_id};
use super::types::ReferralNote;
use crate::graphql::support::commands::{
    CommandOptions, Invalid, command_context, invalid, new_id, refusal,
};
use crate::graphql::support::scalars::{Position, UserError};
use crate::graphql::support::{allow, app};
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use careledger_app::policy::Action;
use careledger_domain::ids::NoteId;
use careledger_domain::need_case::NoteText;
use chrono::{DateTime, Utc};

#[derive(InputObject)]
pub struct AddReferralNoteInput {
    /// A UUIDv7 minted by the client when it first tries this command; it is also
    /// the note's id. Retrying with the same key returns the original answer and
    /// writes nothing.
    pub idempotency_key: Option<String>,
    /// When it was written in care (now by default; never later).
    pub occurred_at: Option<DateTime<Utc>>,
    pub need_case_id: ID,
    pub referral_id: ID,
    /// 1 to 2,000 characters; line breaks allowed, other control characters not.
    pub text: String,
}

#[derive(SimpleObject, Default)]
pub struct AddReferralNotePayload {
    /// The note written (null when refused).
    pub note: Option<ReferralNote>,
    /// Global position of the event written; pass it as `minPosition` to read
    /// your write.
    pub position: Option<Position>,
    /// True when the idempotency key had already been used for this very note.
    pub duplicate: bool,
    pub user_errors: Vec<UserError>,
}

#[derive(Default)]
pub struct NoteMutation;

#[Object]
impl NoteMutation {
    /// Writes a note on a referral, between the coordinators of its site and
    /// the organisation it is addressed to (side REQUESTER or PERFORMER, by
    /// who writes). The text is sealed under the recipient's key: erasing the
    /// recipient makes it unreadable, and it is never in the audit trail, a
    /// history or a log in clear.
    async fn add_referral_note(
        &self,
        ctx: &Context<'_>,
        input: AddReferralNoteInput,
    ) -> Result<AddReferralNotePayload> {
        let access = allow(ctx, Action::WriteReferralNote)?;
        let refused = |e: UserError| AddReferralNotePayload {
            user_errors: vec![e],
            ..Default::default()
        };
        let options = CommandOptions {
            idempotency_key: input.idempotency_key.clone(),
            expected_version: None,
            occurred_at: input.occurred_at,
        };
        let prepared = (|| -> Result<_, Invalid> {
            let cctx = command_context(access, &options)?;
            let need_case = need_case_id(&input.need_case_id)?;
            let referral = referral_id(&input.referral_id)?;
            let text =
                NoteText::new(&input.text).map_err(|e| invalid("text", e.code(), e.to_string()))?;
            let note = NoteId::from_uuid(new_id(None, &cctx, None, "noteId")?);
            Ok((cctx, need_case, referral, note, text))
        })();
        let (cctx, need_case, referral, note, text) = match prepared {
            Ok(p) => p,
            Err(Invalid(e)) => return Ok(refused(e)),
        };
        match app(ctx)
            .add_referral_note(access, &cctx, need_case, referral, note, text)
            .await
        {
            Ok(x) => Ok(AddReferralNotePayload {
                note: Some(x.note.into()),
                position: Some(Position(x.position)),
                duplicate: x.duplicate,
                user_errors: vec![],
            }),
            Err(e) => Ok(refused(refusal(e)?)),
        }
    }
}
