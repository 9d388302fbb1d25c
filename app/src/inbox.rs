//! A provider's inbox (issue 16): the open referrals addressed to one of their
//! organisations, unanswered first, oldest first, each with the minimum
//! necessary — the need, the recipient's preferred language and age band —
//! never other needs, other referrals or stratifiers.

use crate::policy::{Access, Action};
use crate::{App, AppError};
use careledger_domain::ids::{NeedCaseId, OrganisationId};
use careledger_domain::need_case::{Referral, ReferralStatus};
use careledger_domain::values::{AgeBand, LanguageTag, NeedCode};
use careledger_projections::casework::Slice;
use careledger_projections::casework::inbox::InboxKey;
use chrono::{DateTime, Utc};

/// One inbox entry, as a provider may see it.
#[derive(Debug, Clone)]
pub struct InboxItem {
    pub need_case: NeedCaseId,
    pub referral: Referral,
    pub need: NeedCode,
    pub language: LanguageTag,
    pub age_band: AgeBand,
    /// Whole days since the referral was requested.
    pub days_waiting: i64,
    /// Still unanswered (requested) after `Settings::unanswered_days`.
    pub unanswered_overdue: bool,
}

/// A page of an inbox.
#[derive(Debug)]
pub struct Inbox {
    pub items: Vec<(InboxKey, InboxItem)>,
    pub has_previous: bool,
    pub has_next: bool,
    pub total: usize,
}

/// Whether a referral requested at `requested_at` and still `status` is overdue
/// for an answer at `now` (the rule both sides see).
pub fn unanswered_overdue(
    status: ReferralStatus,
    requested_at: DateTime<Utc>,
    now: DateTime<Utc>,
    days: u32,
) -> bool {
    status == ReferralStatus::Requested && (now - requested_at).num_days() >= i64::from(days)
}

impl App {
    /// The inbox of `organisation`, for a provider who works for it (another
    /// organisation's inbox is refused as a referral of theirs would be).
    pub fn referral_inbox(
        &self,
        access: &Access,
        organisation: OrganisationId,
        statuses: Option<&[ReferralStatus]>,
        slice: Slice<InboxKey>,
    ) -> Result<Inbox, AppError> {
        access.check_for(Action::ReadInbox, &organisation)?;
        let now = self.clock.now();
        let days = self.settings.unanswered_days;
        let m = self.projector.read();
        let page = m.inbox(organisation, statuses, slice);
        let items = page
            .items
            .into_iter()
            .filter_map(|(k, e)| {
                let d = e.view.data()?;
                Some((
                    k,
                    InboxItem {
                        need_case: e.need_case,
                        referral: e.referral.clone(),
                        need: d.need.clone(),
                        language: d.recipient.language.clone(),
                        age_band: d.recipient.age_band_at(d.identified_at),
                        days_waiting: (now - e.referral.requested_at).num_days(),
                        unanswered_overdue: unanswered_overdue(
                            e.referral.status,
                            e.referral.requested_at,
                            now,
                            days,
                        ),
                    },
                ))
            })
            .collect();
        Ok(Inbox {
            items,
            has_previous: page.has_previous,
            has_next: page.has_next,
            total: page.total,
        })
    }
}
