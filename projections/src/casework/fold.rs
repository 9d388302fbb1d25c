//! Folding one need-case event into the model: the need case's view, the
//! directory's load, the equity cube and the set of unfinished need cases —
//! the path every need-case event takes, kept cheap (ARCHITECTURE, "Folding is
//! kept cheap").

use super::Casework;
use careledger_domain::ids::{NeedCaseId, ReferralId};
use careledger_domain::need_case::NeedCaseEvent;
use careledger_domain::store::{RecordedEvent, StreamName};

/// The referral an event moves, if it moves one.
pub(super) fn referral_of(ev: &NeedCaseEvent) -> Option<ReferralId> {
    use NeedCaseEvent as E;
    match ev {
        E::ReferralRequested(e) => Some(e.referral),
        E::ReferralAccepted(e) => Some(e.referral),
        E::ReferralRejected(e) => Some(e.referral),
        E::ReferralWaitlisted(e) => Some(e.referral),
        E::ReferralStarted(e) => Some(e.referral),
        E::ReferralCompleted(e) => Some(e.referral),
        E::ReferralFailed(e) => Some(e.referral),
        E::ReferralCancelled(e) => Some(e.referral),
        E::EnteredInError(e) => match e.target {
            careledger_domain::need_case::ErrorTarget::Referral { referral } => Some(referral),
            careledger_domain::need_case::ErrorTarget::NeedCase => None,
        },
        // A consent withdrawal, a note or an answer link moves no referral.
        E::NeedIdentified(_)
        | E::ServicesSuggested(_)
        | E::NeedClosed(_)
        | E::ReferralConsentWithdrawn(_)
        | E::ReferralNoteAdded(_)
        | E::AnswerLinkIssued(_) => None,
    }
}

/// The need case of a `need-<uuid>` stream. A stream name's id was checked
/// when the name was made (it parses as a UUID, so it has no spaces around it),
/// so it is parsed as it stands: what `NeedCaseId::parse` gives, without the
/// trimming.
pub(super) fn need_case_of(stream: &StreamName) -> Option<NeedCaseId> {
    let id = stream.as_str().strip_prefix("need-")?;
    uuid::Uuid::try_parse(id).ok().map(NeedCaseId::from_uuid)
}

impl Casework {
    /// Folds `ev`, the need-case event of `e`.
    pub(super) fn need_case_event(&mut self, ev: &NeedCaseEvent, e: &RecordedEvent) {
        let Some(id) = need_case_of(&e.stream) else {
            return;
        };
        let view = self.need_cases.entry(id).or_default();
        // What a need case contributes to the equity cube changes with its
        // identification, referrals requested, ended or entered in error,
        // and its closing; not with suggestions, a referral moving
        // between open states, consent or notes (checked in debug builds).
        let may_change = !matches!(
            ev,
            NeedCaseEvent::ServicesSuggested(_)
                | NeedCaseEvent::ReferralAccepted(_)
                | NeedCaseEvent::ReferralWaitlisted(_)
                | NeedCaseEvent::ReferralStarted(_)
                | NeedCaseEvent::ReferralConsentWithdrawn(_)
                | NeedCaseEvent::ReferralNoteAdded(_)
                | NeedCaseEvent::AnswerLinkIssued(_)
        );
        // What it contributed so far is what its cube row was last written
        // from: read back, not worked out again (checked in debug builds).
        // (Not wrapped in options of options: a contribution is ~140
        // bytes, and every wrapping and unwrapping copied it.)
        let tracked = may_change || cfg!(debug_assertions);
        let measures_before = if tracked {
            let worked_out =
                || crate::equity::cube::measures(&view.state, view.rejections.counts());
            match view.equity_row().and_then(|r| self.equity.measures_of(r)) {
                Some(m) => {
                    debug_assert_eq!(m, worked_out(), "a cube row out of step");
                    m
                }
                None => worked_out(),
            }
        } else {
            None
        };
        let moved = referral_of(ev);
        let before = moved.and_then(|r| view.state.referral(r)).map(|r| r.status);
        // Whether the case was open (`None`: nothing folded yet).
        let open_before = view.state.status().map(|s| !s.is_finished());
        view.apply_recorded(ev, e);
        if let Some(r) = moved.and_then(|r| view.state.referral(r)) {
            self.directory.referral_moved(
                r.service,
                before,
                r.status,
                r.requested_at,
                e.metadata.occurred_at,
            );
        }
        if let NeedCaseEvent::NeedIdentified(n) = ev
            && let Some(r) = self.recipients.get_mut(n.recipient.recipient)
        {
            r.add_need_case(id);
            view.state.share_recipient(&r.profile);
        }
        if tracked {
            let measures_after =
                crate::equity::cube::measures(&view.state, view.rejections.counts());
            debug_assert!(may_change || measures_before == measures_after);
            if may_change && measures_before != measures_after {
                // A case's labels are fixed at identification: intern them once.
                let row = match view.equity_row() {
                    Some(r) => Some(r),
                    None => crate::equity::cube::labels(&view.state)
                        .map(|l| self.equity.intern(&l).row()),
                };
                view.equity_row = super::CubeRow::of(row);
                if let Some(key) = row.and_then(|r| self.equity.case_key(r)) {
                    self.equity
                        .replace(&key, measures_before.as_ref(), measures_after.as_ref());
                }
            }
        }
        // The open set changes only when the case opens or finishes
        // (most events do neither: no search of the set for them).
        let open_after = !view.status().is_finished();
        if open_before != Some(open_after) {
            if open_after {
                self.open.insert(id);
            } else {
                self.open.remove(&id);
            }
        }
        if let NeedCaseEvent::ReferralNoteAdded(n) = ev {
            self.note_added(id, n, e.metadata.occurred_at);
        }
    }
}
