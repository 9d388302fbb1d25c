//! The performing organisation's side of the closed loop (issue 16): a
//! provider's inbox of the referrals addressed to their organisation. Answers go
//! through the referral mutations of [`crate::graphql::casework`].

use crate::graphql::casework::types::{
    Referral, ReferralNote, ReferralStatus, age_band_name, referral_notes,
};
use crate::graphql::catalogue::Need;
use crate::graphql::support::ids::clip;
use crate::graphql::support::paging::slice;
use crate::graphql::support::scalars::{PageInfo, Position};
use crate::graphql::support::{access, allow, app, app_error, bad_input, consistent};
use async_graphql::{Context, ID, Object, Result, SimpleObject};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use careledger_app::policy::Action;
use careledger_domain::ids::{NeedCaseId, OrganisationId, ReferralId};
use careledger_projections::casework::inbox::InboxKey;

/// A referral in a provider's inbox: what the performing organisation needs to
/// answer it, and no more — never the recipient's other needs, other referrals
/// or stratifiers.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct InboxReferral {
    /// Pass with `referralId` to the referral mutations to answer.
    pub need_case_id: String,
    pub referral: Referral,
    /// The need, labelled in the request's language.
    pub need: Need,
    /// The recipient's preferred language (a BCP 47 tag).
    pub preferred_language: String,
    /// The recipient's age band when the need was identified.
    pub age_band: String,
    /// Whole days since the referral was requested.
    pub days_waiting: i64,
    /// Still unanswered after the server's `--unanswered-days`.
    pub unanswered_overdue: bool,
    #[graphql(skip)]
    pub need_case: NeedCaseId,
}

/// The recipient's contact details, for the organisation a referral is
/// addressed to, with the recipient's consent.
#[derive(SimpleObject)]
pub struct ReferralContact {
    /// Given and family name.
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

#[async_graphql::ComplexObject]
impl InboxReferral {
    /// The recipient's name, phone and e-mail address — only if they consented
    /// to share them with your organisation (`REFERRAL_AND_CONTACT`, not
    /// withdrawn), while the referral is open and the recipient is not erased;
    /// otherwise null. Opened per request, never cached.
    async fn contact(&self, ctx: &Context<'_>) -> Result<Option<ReferralContact>> {
        let referral = self.referral_id()?;
        let contact = app(ctx)
            .referral_contact(access(ctx)?, self.need_case, referral)
            .await
            .map_err(app_error)?;
        Ok(contact.map(|c| ReferralContact {
            name: c.name,
            phone: c.phone,
            email: c.email,
        }))
    }

    /// The notes between your organisation and the coordinators, oldest first
    /// (as `referral.notes`).
    async fn notes(&self, ctx: &Context<'_>) -> Result<Vec<ReferralNote>> {
        referral_notes(ctx, self.need_case, self.referral_id()?).await
    }
}

impl InboxReferral {
    fn referral_id(&self) -> Result<ReferralId> {
        ReferralId::parse(&self.referral.referral_id)
            .map_err(|_| async_graphql::Error::new("referral id"))
    }
}

#[derive(SimpleObject)]
pub struct InboxReferralEdge {
    pub cursor: String,
    pub node: InboxReferral,
}

#[derive(SimpleObject)]
pub struct ReferralInboxConnection {
    pub edges: Vec<InboxReferralEdge>,
    pub page_info: PageInfo,
    pub total_count: u64,
}

fn cursor(k: &InboxKey) -> String {
    B64.encode(format!(
        "{}:{}:{}",
        u8::from(k.0),
        k.1.timestamp_micros(),
        k.2
    ))
}

fn decode_cursor(c: &str) -> Option<InboxKey> {
    let raw = String::from_utf8(B64.decode(c).ok()?).ok()?;
    let mut parts = raw.splitn(3, ':');
    let answered = match parts.next()? {
        "0" => false,
        "1" => true,
        _ => return None,
    };
    let at = chrono::DateTime::from_timestamp_micros(parts.next()?.parse().ok()?)?;
    Some((answered, at, ReferralId::parse(parts.next()?).ok()?))
}

#[derive(Default)]
pub struct ProviderQuery;

#[Object]
impl ProviderQuery {
    /// The open referrals addressed to `organisation` (one your credential
    /// names), unanswered first, oldest first, optionally only in `status`;
    /// forward paging (`first` ≤ 100, `after`).
    async fn referral_inbox(
        &self,
        ctx: &Context<'_>,
        organisation: ID,
        status: Option<Vec<ReferralStatus>>,
        first: Option<i32>,
        after: Option<String>,
        min_position: Option<Position>,
    ) -> Result<ReferralInboxConnection> {
        let access = allow(ctx, Action::ReadInbox)?;
        let organisation = OrganisationId::parse(organisation.trim()).map_err(|_| {
            bad_input(format!(
                "'{}' is not an organisation id (a UUID)",
                clip(&organisation)
            ))
        })?;
        let slice = slice(first, after, None, None, decode_cursor)?;
        consistent(ctx, min_position).await?;
        let statuses: Option<Vec<_>> = status.map(|s| s.into_iter().map(Into::into).collect());
        let app = app(ctx);
        let inbox = app
            .referral_inbox(access, organisation, statuses.as_deref(), slice)
            .map_err(app_error)?;
        let lang = crate::graphql::support::lang_of(ctx);
        let edges: Vec<InboxReferralEdge> = inbox
            .items
            .into_iter()
            .map(|(k, i)| InboxReferralEdge {
                cursor: cursor(&k),
                node: InboxReferral {
                    need_case_id: i.need_case.to_string(),
                    referral: Referral::of(i.need_case, &i.referral),
                    need_case: i.need_case,
                    need: match app.catalogue.get(&i.need) {
                        Some(def) => Need::from_definition(def).in_lang(lang),
                        None => Need::retired(&i.need),
                    },
                    preferred_language: i.language.to_string(),
                    age_band: age_band_name(i.age_band).into(),
                    days_waiting: i.days_waiting,
                    unanswered_overdue: i.unanswered_overdue,
                },
            })
            .collect();
        Ok(ReferralInboxConnection {
            page_info: PageInfo {
                has_next_page: inbox.has_next,
                has_previous_page: inbox.has_previous,
                start_cursor: edges.first().map(|e| e.cursor.clone()),
                end_cursor: edges.last().map(|e| e.cursor.clone()),
            },
            edges,
            total_count: inbox.total as u64,
        })
    }
}
