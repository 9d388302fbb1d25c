//! What the two sides of a referral share (issue 16): the recipient's contact
//! details, for the provider, only with the consent recorded with the request
//! and only while the referral is open; and notes, sealed under the recipient's
//! key like their personal data, so erasing the recipient makes them unreadable.
//! Both are opened per request through the key vault and never cached; neither
//! a note's text nor a contact detail reaches a log or an error message.

use super::vault_failed;
use crate::aggregates::{StreamAggregate, fold};
use crate::command::CommandContext;
use crate::personal::NotOpened;
use crate::policy::{Access, Action, Denied};
use crate::{App, AppError};
use careledger_domain::ids::{NeedCaseId, NoteId, OrganisationId, ReferralId};
use careledger_domain::need_case::{
    NeedCase, NeedCaseAction, NeedCaseError, NoteText, ShareConsent, Side,
};
use careledger_domain::personal::VaultError;
use careledger_domain::store::{Role, StreamName};
use careledger_domain::values::SiteId;
use careledger_projections::casework::Casework;
use chrono::{DateTime, Utc};

/// A recipient's contact details as the provider of a referral sees them: a
/// name, a phone number and an e-mail address (never the postal address).
/// `Debug` never shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct ReferralContact {
    /// Given and family name, as recorded.
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

impl std::fmt::Debug for ReferralContact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReferralContact(redacted)")
    }
}

/// A note on a referral as a reader sees it: its text opened, or — once the
/// recipient was erased — no text and `erased`.
#[derive(Debug, Clone, PartialEq)]
pub struct NoteRead {
    pub note: NoteId,
    pub side: Side,
    pub written_at: DateTime<Utc>,
    pub text: Option<NoteText>,
    pub erased: bool,
}

/// A note written (or found written before, for a retry).
#[derive(Debug)]
pub struct NoteAdded {
    pub note: NoteRead,
    pub position: u64,
    pub duplicate: bool,
}

fn not_opened(e: VaultError) -> AppError {
    match e {
        VaultError::Unavailable(_) => AppError::unavailable(NotOpened(e)),
        _ => AppError::internal(NotOpened(e)),
    }
}

/// Where a referral stands for sharing, from the read model: its need case's
/// site and recipient, its service's organisation.
struct Addressed {
    site: SiteId,
    organisation: Option<OrganisationId>,
}

fn addressed(m: &Casework, need_case: NeedCaseId, referral: ReferralId) -> Option<Addressed> {
    let v = m.need_case(need_case)?;
    let d = v.data()?;
    let r = v.state.referral(referral)?;
    Some(Addressed {
        site: d.recipient.site.clone(),
        organisation: m
            .directory()
            .service(r.service)
            .and_then(|s| s.state.data())
            .and_then(|s| s.profile.organisation_id),
    })
}

/// Whether the caller may `action` on a referral so addressed: a provider of
/// its organisation, a coordinator of its site (the server itself always). A
/// provider learns nothing about referrals not addressed to them: an unknown
/// one and another organisation's are refused alike.
fn may(access: &Access, action: Action, at: Option<&Addressed>) -> Result<(), AppError> {
    access.check(action)?;
    match (access.actor.role, at) {
        (Role::Provider, Some(a))
            if a.organisation
                .is_some_and(|o| access.organisations.contains(&o)) =>
        {
            Ok(())
        }
        (Role::Provider, _) => Err(AppError::Forbidden(Denied::Organisation)),
        (_, Some(a)) => Ok(access.check_at(action, &a.site)?),
        (_, None) => Ok(()),
    }
}

impl App {
    /// The recipient's name, phone and e-mail address for the provider of a
    /// referral addressed to their organisation — `None` unless the recipient
    /// consented to share them (`ReferralAndContact`, not withdrawn), the
    /// referral is open and the recipient is not erased. Opened per request.
    pub async fn referral_contact(
        &self,
        access: &Access,
        need_case: NeedCaseId,
        referral: ReferralId,
    ) -> Result<Option<ReferralContact>, AppError> {
        access.check(Action::ReadReferralContact)?;
        let (recipient, sealed) = {
            let m = self.projector.read();
            may(
                access,
                Action::ReadReferralContact,
                addressed(&m, need_case, referral).as_ref(),
            )?;
            let Some(v) = m.need_case(need_case) else {
                return Ok(None);
            };
            let (Some(d), Some(r)) = (v.data(), v.state.referral(referral)) else {
                return Ok(None);
            };
            if r.consent != ShareConsent::ReferralAndContact || !r.status.is_open() {
                return Ok(None);
            }
            let rec = d.recipient.recipient;
            match m.recipient(rec) {
                Some(p) => match p.sealed() {
                    Some(s) => (rec, s.clone()),
                    None => return Ok(None),
                },
                _ => return Ok(None),
            }
        };
        let Some(p) = self
            .vault
            .open(recipient, &sealed)
            .await
            .map_err(not_opened)?
        else {
            return Ok(None);
        };
        let name = match (p.given_name, p.family_name) {
            (Some(g), Some(f)) => Some(format!("{g} {f}")),
            (g, f) => g.or(f),
        };
        Ok(Some(ReferralContact {
            name,
            phone: p.phone,
            email: p.email,
        }))
    }

    /// The notes on a referral, oldest first, opened per request: for the
    /// coordinators of its site and the provider of its organisation. Once the
    /// recipient is erased, each note has no text and is marked erased.
    pub async fn referral_notes(
        &self,
        access: &Access,
        need_case: NeedCaseId,
        referral: ReferralId,
    ) -> Result<Vec<NoteRead>, AppError> {
        access.check(Action::ReadReferralNotes)?;
        let (recipient, notes) = {
            let m = self.projector.read();
            let at = addressed(&m, need_case, referral);
            may(access, Action::ReadReferralNotes, at.as_ref())?;
            let Some(d) = m.need_case(need_case).and_then(|v| v.data()) else {
                return Ok(vec![]);
            };
            let erased = m
                .recipient(d.recipient.recipient)
                .is_none_or(|r| r.erased_at().is_some());
            let notes: Vec<_> = m
                .referral_notes(need_case, referral)
                .map(|n| {
                    (
                        n.note,
                        n.side,
                        n.written_at,
                        n.text.clone().filter(|_| !erased),
                    )
                })
                .collect();
            (d.recipient.recipient, notes)
        };
        let mut out = Vec::with_capacity(notes.len());
        for (note, side, written_at, sealed) in notes {
            let text = match sealed {
                Some(s) => self
                    .vault
                    .open_note(recipient, note, &s)
                    .await
                    .map_err(not_opened)?,
                None => None,
            };
            out.push(NoteRead {
                note,
                side,
                written_at,
                erased: text.is_none(),
                text,
            });
        }
        Ok(out)
    }

    /// Writes a note on a referral: a coordinator of the need case's site (the
    /// requester side) or the provider of the organisation it is addressed to
    /// (the performer side). The text is sealed under the recipient's key —
    /// after authorisation and the time rule, so a refused note seals nothing —
    /// and only the sealed text is recorded. `note` is the new note's id (the
    /// idempotency key, so a retry names the same note and seals to the same
    /// bytes).
    pub async fn add_referral_note(
        &self,
        access: &Access,
        ctx: &CommandContext,
        need_case: NeedCaseId,
        referral: ReferralId,
        note: NoteId,
        text: NoteText,
    ) -> Result<NoteAdded, AppError> {
        access.check(Action::WriteReferralNote)?;
        self.check_time(ctx)?;
        let provider = access.actor.role == Role::Provider;
        let stream = StreamName::need_case(need_case);
        let mut history = self.recent_stream(&stream).await?;
        if fold::<NeedCase>(&history).referral(referral).is_none() {
            // Requested a moment ago, perhaps through another server?
            history = self.read_stream(&stream).await?;
        }
        let case = fold::<NeedCase>(&history);
        let Some(d) = case.data() else {
            if provider {
                return Err(AppError::Forbidden(Denied::Organisation));
            }
            return Err(NeedCase::refusal(NeedCaseError::NotIdentified));
        };
        let (site, recipient) = (d.recipient.site.clone(), d.recipient.recipient);
        let organisation = match case.referral(referral) {
            Some(r) => self.service_organisation(r.service).await?,
            None if provider => return Err(AppError::Forbidden(Denied::Organisation)),
            None => {
                access.check_at(Action::WriteReferralNote, &site)?;
                return Err(NeedCase::refusal(NeedCaseError::ReferralNotFound {
                    referral,
                }));
            }
        };
        may(
            access,
            Action::WriteReferralNote,
            Some(&Addressed {
                site: site.clone(),
                organisation,
            }),
        )?;
        let side = if provider {
            Side::Performer
        } else {
            Side::Requester
        };
        let sealed = match self.vault.seal_note(recipient, note, &text).await {
            Ok(s) => s,
            Err(VaultError::Erased) => {
                return Err(AppError::rejected(
                    Some("needCaseId"),
                    "RECIPIENT_ERASED",
                    "the care recipient was erased: notes on their referrals can no longer be written",
                ));
            }
            Err(e) => return Err(vault_failed(e)),
        };
        let action = NeedCaseAction::AddReferralNote {
            referral,
            note,
            side,
            text: sealed,
        };
        // The command path asks again of the state it decides on: the same site.
        let authorize = move |s: Option<&SiteId>| match s {
            Some(s) if *s != site => Err(AppError::Forbidden(if provider {
                Denied::Organisation
            } else {
                Denied::Site
            })),
            _ => Ok(()),
        };
        let x = self
            .execute::<NeedCase>(stream, action, ctx, authorize)
            .await?;
        let written_at = x
            .history
            .iter()
            .rev()
            .find(|e| {
                matches!(&e.event, careledger_domain::DomainEvent::NeedCase(
                    careledger_domain::need_case::NeedCaseEvent::ReferralNoteAdded(n)) if n.note == note)
            })
            .map_or_else(|| self.clock.now(), |e| e.metadata.occurred_at);
        Ok(NoteAdded {
            note: NoteRead {
                note,
                side,
                written_at,
                text: Some(text),
                erased: false,
            },
            position: x.position.raw(),
            duplicate: x.duplicate,
        })
    }
}
