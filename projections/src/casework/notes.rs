//! Notes on referrals (issue 16), kept beside the need cases rather than in
//! their views (a need case's view stays small; most referrals have no note):
//! sealed under the recipient's key, as the events carry them, and dropped —
//! the sealed bytes, not the note's id, side and date — once the recipient is
//! erased, so the read model keeps no unreadable copy either (the key vault
//! refusing to open them is the second barrier). Opening is the application's,
//! per request; nothing here is ever in clear.

use super::Casework;
use careledger_domain::ids::{NeedCaseId, NoteId, RecipientId, ReferralId};
use careledger_domain::need_case::{ReferralNoteAdded, Side};
use careledger_domain::personal::Sealed;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One note on a referral.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoteView {
    pub note: NoteId,
    pub referral: ReferralId,
    /// Who wrote it: the coordinators (requester) or the provider (performer).
    pub side: Side,
    /// When it was written (in care time).
    pub written_at: DateTime<Utc>,
    /// The sealed text; `None` once the recipient was erased.
    pub text: Option<Sealed>,
}

impl Casework {
    /// Folds a note. A note folded after its recipient's erasure (it can only
    /// have been sealed before the key was destroyed) is kept without its text.
    pub(super) fn note_added(
        &mut self,
        need_case: NeedCaseId,
        e: &ReferralNoteAdded,
        at: DateTime<Utc>,
    ) {
        let erased = self
            .need_cases
            .get(&need_case)
            .and_then(|v| v.data())
            .and_then(|d| self.recipients.get(d.recipient.recipient))
            .is_some_and(|r| r.erased_at().is_some());
        let notes = self.notes.entry(need_case).or_default();
        notes.reserve_exact(1);
        notes.push(NoteView {
            note: e.note,
            referral: e.referral,
            side: e.side,
            written_at: at,
            text: (!erased).then(|| e.text.clone()),
        });
    }

    /// Drops the sealed text of every note on the recipient's need cases.
    pub(super) fn erase_notes(&mut self, recipient: RecipientId) {
        let Some(r) = self.recipients.get(recipient) else {
            return;
        };
        for id in &r.need_cases {
            for n in self.notes.get_mut(id).into_iter().flatten() {
                n.text = None;
            }
        }
    }

    /// The notes on one referral of a need case, oldest first.
    pub fn referral_notes(
        &self,
        need_case: NeedCaseId,
        referral: ReferralId,
    ) -> impl Iterator<Item = &NoteView> {
        self.notes
            .get(&need_case)
            .into_iter()
            .flatten()
            .filter(move |n| n.referral == referral)
    }
}
