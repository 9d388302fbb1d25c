//! Case work's use cases: recipients, need cases and their referrals, through the
//! command path, with the checks that come before a command (authorisation, the
//! directory's services, the time rule) and the answers the edges show.

use crate::aggregates::fold;
use crate::{App, AppError};
use careledger_domain::directory::Service;
use careledger_domain::ids::{NeedCaseId, RecipientId, ServiceId};
use careledger_domain::matching::{self, Ranking, Seeker};
use careledger_domain::need_case::{
    NeedCase, NeedCaseAction, NeedCaseData, RankingBasis, Side, SuggestedService,
};
use careledger_domain::recipient::CareRecipient;
use careledger_domain::store::{RecordedEvent, StreamName};
use chrono::{DateTime, Datelike, Utc};
use std::sync::Arc;

pub mod left_out;
mod reads;
pub mod sharing;

/// The most services one ranked suggestion proposes.
pub const MAX_RANKED: usize = 50;

impl App {
    /// A need case's events as the log has them (through the stream cache).
    pub async fn need_case_history(
        &self,
        id: NeedCaseId,
    ) -> Result<Arc<Vec<RecordedEvent>>, AppError> {
        self.recent_stream(&StreamName::need_case(id)).await
    }

    /// Refuses services a command names that are not in the directory, or are
    /// retired (`SERVICE_NOT_FOUND`, `SERVICE_RETIRED`, on `field`). The directory's
    /// read model answers first (no read on the command path: reading each service
    /// stream from the log cost the lifecycle benchmark ~40% of its mutations/s);
    /// a service it does not know yet (registered a moment ago, perhaps through
    /// another server) is read from the log before it is refused. A service retired
    /// within the projection's lag may still be named — the same race a log read
    /// has with a retirement committed just after it, only wider by milliseconds.
    pub async fn check_services(
        &self,
        services: &[ServiceId],
        field: &'static str,
    ) -> Result<(), AppError> {
        for &id in services {
            match self.service_fact(id, |d| d.retired).await? {
                None => {
                    return Err(AppError::rejected(
                        Some(field),
                        "SERVICE_NOT_FOUND",
                        format!("service {id} is not in the directory"),
                    ));
                }
                Some(true) => {
                    return Err(AppError::rejected(
                        Some(field),
                        "SERVICE_RETIRED",
                        format!("service {id} is retired: it takes no referrals or suggestions"),
                    ));
                }
                Some(false) => {}
            }
        }
        Ok(())
    }

    /// `pick` of a service of the directory (`None`: no such service). The
    /// directory's read model answers first; a service it does not know yet
    /// (registered a moment ago, perhaps through another server) is read from the
    /// log.
    async fn service_fact<T>(
        &self,
        id: ServiceId,
        pick: impl Fn(&careledger_domain::directory::ServiceData) -> T,
    ) -> Result<Option<T>, AppError> {
        let known = {
            let model = self.projector.read();
            model
                .directory()
                .service(id)
                .and_then(|v| v.state.data().map(&pick))
        };
        match known {
            Some(fact) => Ok(Some(fact)),
            None => {
                let history = self.read_stream(&StreamName::service(id)).await?;
                Ok(fold::<Service>(&history).data().map(&pick))
            }
        }
    }

    /// The need case as the log has it (through the stream cache).
    pub async fn load_need_case(&self, id: NeedCaseId) -> Result<NeedCase, AppError> {
        let history = self.recent_stream(&StreamName::need_case(id)).await?;
        Ok(fold::<NeedCase>(&history))
    }

    /// Ranks the directory's services for a need case (see `domain::matching`),
    /// as the read model knows the directory now, and what the ranking was
    /// computed from (the read model's position, the matcher's version, `now`):
    /// what its left-out services are recomputed from ([`left_out`]).
    pub fn rank_services(
        &self,
        case: &NeedCaseData,
        now: DateTime<Utc>,
        limit: usize,
    ) -> (Ranking, RankingBasis) {
        let model = self.projector.read();
        let ranking = matching::rank(
            seeker(case, now),
            model.directory().candidates(&case.need),
            limit.clamp(1, MAX_RANKED),
        );
        let basis = RankingBasis {
            directory_position: model.position().raw(),
            matcher_version: matching::MATCHER_VERSION,
            at: now,
        };
        (ranking, basis)
    }
}

/// What the matcher knows of the need case at `now`.
pub(crate) fn seeker(case: &NeedCaseData, now: DateTime<Utc>) -> Seeker<'_> {
    Seeker {
        need: &case.need,
        recipient: &case.recipient,
        age: now.year() - case.recipient.birth_year.year(),
    }
}

/// The command that records a ranking: the suggested services with their scores
/// and reasons, and what the ranking was computed from (the services it left
/// out are recomputed from that on demand, not stored: [`left_out`]).
pub fn ranked_suggestion(ranking: &Ranking, basis: RankingBasis) -> NeedCaseAction {
    NeedCaseAction::SuggestServices {
        services: ranking
            .suggested
            .iter()
            .map(|s| SuggestedService {
                service: s.service,
                reasons: s.reasons.iter().map(|r| r.code()).collect(),
                score: Some(s.score),
            })
            .collect(),
        ranked: Some(basis),
    }
}

// ---------------------------------------------------------------------------
// Commands: the steps around the command path that every edge shares.
// ---------------------------------------------------------------------------

use crate::command::{CommandContext, Executed};
use crate::policy::{Access, Action, Denied};
use careledger_domain::personal::{PersonalData, VaultError};
use careledger_domain::recipient::{RecipientAction, RecipientKind, RegisterCareRecipient};
use careledger_domain::values::{NeedCode, SiteId};
use careledger_projections::{NeedCaseView, RecipientView};

/// A need-case command done: the need case as the log now has it.
#[derive(Debug)]
pub struct NeedCaseDone {
    pub view: NeedCaseView,
    /// Whether the caller may see the need case itself (a provider sees only the
    /// referral they answered).
    pub case_visible: bool,
    /// Global position of the last event written (or written before, for a retry).
    pub position: u64,
    /// An idempotent retry: nothing new was written.
    pub duplicate: bool,
}

impl NeedCaseDone {
    fn from(x: Executed) -> Self {
        Self {
            view: NeedCaseView::from_history(x.history.iter()),
            case_visible: true,
            position: x.position.raw(),
            duplicate: x.duplicate,
        }
    }
}

/// A registration done: the recipient as the log now has it.
#[derive(Debug)]
pub struct Registered {
    pub view: Option<RecipientView>,
    pub position: u64,
    pub duplicate: bool,
}

/// An erasure done (or found done before).
#[derive(Debug)]
pub struct Erased {
    pub recipient: RecipientId,
    pub erased_at: Option<DateTime<Utc>>,
    pub position: u64,
    pub duplicate: bool,
    /// Already erased: nothing new was recorded.
    pub unchanged: bool,
}

/// The command path's authorisation for case work: the record's site must be one
/// the caller works for.
fn casework_at(access: &Access) -> impl Fn(Option<&SiteId>) -> Result<(), AppError> + '_ {
    move |site| match site {
        Some(s) => access
            .check_at(Action::WriteCasework, s)
            .map_err(AppError::from),
        None => Ok(()),
    }
}

/// The key vault failed to seal or destroy: the caller may retry.
fn vault_failed(e: VaultError) -> AppError {
    AppError::unavailable(e)
}

impl App {
    /// The time rule every command follows (`domain::aggregate::check_occurred_at`),
    /// checked before a command that acts outside the log first (sealing personal
    /// data, destroying a key): a refused date then changes nothing at all. The
    /// aggregates check it again when they decide.
    pub fn check_time(&self, c: &CommandContext) -> Result<(), AppError> {
        let Some(at) = c.occurred_at else {
            return Ok(());
        };
        careledger_domain::aggregate::check_occurred_at(at, self.clock.now())
            .map_err(|e| AppError::rejected(Some("occurredAt"), e.code(), e.to_string()))
    }

    /// Registers a care recipient at a site: the caller must work there; a
    /// relative's patient must be a patient registered at a site the caller works
    /// for; names and contact details are sealed under the recipient's key before
    /// the event that carries them is written.
    pub async fn register_care_recipient(
        &self,
        access: &Access,
        ctx: &CommandContext,
        mut register: RegisterCareRecipient,
        personal: Option<PersonalData>,
    ) -> Result<Registered, AppError> {
        access.check_at(Action::WriteCasework, &register.site)?;
        self.check_time(ctx)?;
        // An unknown id and another site's patient get the same answer, so the
        // refusal tells nothing about other sites. (A relative naming themself is
        // the domain's RELATIVE_OF_THEMSELF.)
        if let RecipientKind::Relative { patient } = register.kind
            && patient != register.recipient
        {
            let state = self.load_recipient(patient).await?;
            let known = state.profile().is_some_and(|p| {
                p.kind == RecipientKind::Patient
                    && access.check_at(Action::WriteCasework, &p.site).is_ok()
            });
            if !known {
                return Err(AppError::rejected(
                    Some("patientId"),
                    "PATIENT_NOT_FOUND",
                    "no patient with this id is registered at a site you work for",
                ));
            }
        }
        if let Some(p) = &personal {
            register.personal = match self.vault.seal(register.recipient, p).await {
                Ok(s) => Some(s),
                Err(VaultError::Erased) => {
                    return Err(AppError::rejected(
                        Some("recipientId"),
                        "RECIPIENT_ERASED",
                        "this care recipient was erased; their personal data cannot be recorded again",
                    ));
                }
                Err(e) => return Err(vault_failed(e)),
            };
        }
        let stream = StreamName::recipient(register.recipient);
        let x = self
            .execute::<CareRecipient>(
                stream,
                RecipientAction::Register(register),
                ctx,
                casework_at(access),
            )
            .await?;
        let state = fold::<CareRecipient>(&x.history);
        let last = x
            .history
            .last()
            .expect("a registered recipient has an event");
        let sealed = x.history.iter().find_map(|e| match &e.event {
            careledger_domain::DomainEvent::Recipient(
                careledger_domain::recipient::RecipientEvent::CareRecipientRegistered(r),
            ) => r.personal.clone(),
            _ => None,
        });
        let view = state.profile().map(|p| RecipientView {
            personal: match (state.erased_at(), sealed) {
                (Some(at), _) => careledger_projections::PersonalData::Erased(at),
                (None, Some(s)) => careledger_projections::PersonalData::Sealed(Box::new(s)),
                (None, None) => careledger_projections::PersonalData::None,
            },
            profile: std::sync::Arc::new(p.clone()),
            registered_at: state.registered_at().unwrap_or(last.metadata.occurred_at),
            version: careledger_projections::view_version(last.version),
            position: last.position.raw(),
            need_cases: self
                .projector
                .read()
                .recipient(p.recipient)
                .map(|r| r.need_cases.clone())
                .unwrap_or_default(),
        });
        Ok(Registered {
            view,
            position: x.position.raw(),
            duplicate: x.duplicate,
        })
    }

    /// Erases a care recipient's names and contact details: their key is
    /// destroyed first (should recording the erasure then fail, the data is
    /// already unreadable, and a retry records it), then `CareRecipientErased`.
    pub async fn erase_care_recipient(
        &self,
        access: &Access,
        ctx: &CommandContext,
        id: RecipientId,
    ) -> Result<Erased, AppError> {
        access.check(Action::EraseRecipient)?;
        self.check_time(ctx)?;
        if self.load_recipient(id).await?.profile().is_none() {
            return Err(AppError::rejected(
                Some("recipientId"),
                "RECIPIENT_NOT_FOUND",
                format!("care recipient {id} is not registered"),
            ));
        }
        self.vault.destroy(id).await.map_err(vault_failed)?;
        let x = self
            .execute::<CareRecipient>(
                StreamName::recipient(id),
                RecipientAction::Erase { recipient: id },
                ctx,
                |_| Ok(()),
            )
            .await?;
        let state = fold::<CareRecipient>(&x.history);
        Ok(Erased {
            recipient: id,
            erased_at: state.erased_at(),
            position: x.position.raw(),
            duplicate: x.duplicate,
            unchanged: x.unchanged,
        })
    }

    /// Opens a need case: a need of the catalogue identified for a registered
    /// recipient at a site the caller works for.
    pub async fn identify_need(
        &self,
        access: &Access,
        ctx: &CommandContext,
        need_case: NeedCaseId,
        recipient: RecipientId,
        need: NeedCode,
    ) -> Result<NeedCaseDone, AppError> {
        access.check(Action::WriteCasework)?;
        if let Err(e) = self.catalogue.resolve(&need) {
            return Err(AppError::rejected(
                Some("needCode"),
                e.code(),
                e.to_string(),
            ));
        }
        let state = self.load_recipient(recipient).await?;
        let profile = state
            .require(recipient)
            .map_err(|e| AppError::rejected(Some("recipientId"), e.code(), e.to_string()))?
            .clone();
        access.check_at(Action::WriteCasework, &profile.site)?;
        let action = NeedCaseAction::IdentifyNeed {
            need_case,
            recipient: profile,
            need,
        };
        self.need_case_command(access, ctx, need_case, action).await
    }

    /// Runs a command on a need case the caller works on. A command that names
    /// services (a hand-made suggestion list, a referral) has them checked first:
    /// authorisation — the caller must work at the need case's site — and then
    /// every service named must be in the directory and active. A retry of a
    /// command already recorded (its key is in the need case's history) is left
    /// to the command path, which answers it as the first time even if the
    /// service was retired since.
    pub async fn need_case_command(
        &self,
        access: &Access,
        ctx: &CommandContext,
        id: NeedCaseId,
        action: NeedCaseAction,
    ) -> Result<NeedCaseDone, AppError> {
        if access.actor.role == careledger_domain::store::Role::Provider {
            return self.answer_as_performer(access, ctx, id, action).await;
        }
        access.check(Action::WriteCasework)?;
        let named: Option<(Vec<ServiceId>, &'static str)> = match &action {
            NeedCaseAction::RequestReferral { service, .. } => Some((vec![*service], "serviceId")),
            NeedCaseAction::SuggestServices { services, .. } => {
                Some((services.iter().map(|s| s.service).collect(), "services"))
            }
            _ => None,
        };
        if let Some((services, field)) = named {
            let history = self.need_case_history(id).await?;
            if let Some(d) = fold::<NeedCase>(&history).data() {
                access.check_at(Action::WriteCasework, &d.recipient.site)?;
            }
            let retry = ctx
                .idempotency_key
                .is_some_and(|key| history.iter().any(|e| e.id.as_uuid() == key));
            if !retry {
                self.check_services(&services, field).await?;
            }
        }
        self.run_need_case(access, ctx, id, action).await
    }

    /// A provider answers a referral addressed to one of their organisations, as
    /// its performing side (HL7 SDOH IG "Set By"): accept, reject, waitlist,
    /// start, complete, fail, or cancel as the performer. The referral's service
    /// must belong, in the directory, to an organisation the credential names;
    /// an unknown need case, an unknown referral and another organisation's
    /// referral get the same refusal, so nothing is learnt about them. The
    /// answer comes back without the need case (`case_visible: false`).
    async fn answer_as_performer(
        &self,
        access: &Access,
        ctx: &CommandContext,
        id: NeedCaseId,
        action: NeedCaseAction,
    ) -> Result<NeedCaseDone, AppError> {
        access.check(Action::AnswerReferral)?;
        if action.side() != Side::Performer {
            return Err(AppError::Forbidden(Denied::Role(Action::WriteCasework)));
        }
        let not_theirs = || AppError::Forbidden(Denied::Organisation);
        let referral = action.referral().ok_or_else(not_theirs)?;
        let history = self.need_case_history(id).await?;
        let case = fold::<NeedCase>(&history);
        let (site, service) = case
            .data()
            .zip(case.referral(referral))
            .map(|(d, r)| (d.recipient.site.clone(), r.service))
            .ok_or_else(not_theirs)?;
        let organisation = self.service_organisation(service).await?;
        if !organisation.is_some_and(|o| access.organisations.contains(&o)) {
            return Err(not_theirs());
        }
        // The command path asks again of the state it decides on: the same site
        // (a record's site never changes), and nothing else.
        let authorize = move |s: Option<&SiteId>| match s {
            Some(s) if *s == site => Ok(()),
            None => Ok(()),
            Some(_) => Err(not_theirs()),
        };
        let x = self
            .execute::<NeedCase>(StreamName::need_case(id), action, ctx, authorize)
            .await?;
        Ok(NeedCaseDone {
            case_visible: false,
            ..NeedCaseDone::from(x)
        })
    }

    /// The organisation a service of the directory belongs to, if it records one.
    pub async fn service_organisation(
        &self,
        service: ServiceId,
    ) -> Result<Option<careledger_domain::ids::OrganisationId>, AppError> {
        Ok(self
            .service_fact(service, |d| d.profile.organisation_id)
            .await?
            .flatten())
    }

    /// The command path for a need case, authorised at its site.
    async fn run_need_case(
        &self,
        access: &Access,
        ctx: &CommandContext,
        id: NeedCaseId,
        action: NeedCaseAction,
    ) -> Result<NeedCaseDone, AppError> {
        let x = self
            .execute::<NeedCase>(StreamName::need_case(id), action, ctx, casework_at(access))
            .await?;
        Ok(NeedCaseDone::from(x))
    }

    /// `suggestServices` without a list: ranks the directory for the need case
    /// (as committed now, not as the read model lags behind it) and records the
    /// ranking with what it was computed from (its left-out services are
    /// recomputed from that on demand).
    pub async fn suggest_ranked(
        &self,
        access: &Access,
        ctx: &CommandContext,
        id: NeedCaseId,
        limit: usize,
    ) -> Result<NeedCaseDone, AppError> {
        access.check(Action::WriteCasework)?;
        if !(1..=MAX_RANKED).contains(&limit) {
            return Err(AppError::rejected(
                Some("limit"),
                "INVALID_LIMIT",
                format!("limit must be between 1 and {MAX_RANKED}"),
            ));
        }
        let case = self.load_need_case(id).await?;
        let action = match case.data() {
            // Not identified: the command path refuses it with the usual error.
            None => NeedCaseAction::SuggestServices {
                services: vec![],
                ranked: None,
            },
            Some(d) => {
                access.check_at(Action::WriteCasework, &d.recipient.site)?;
                let head = self.store.head().await?;
                self.projector
                    .wait_for(head, self.settings.consistency_timeout)
                    .await
                    .map_err(|e| AppError::Lagging {
                        what: "the directory's read model",
                        reached: e.reached.raw(),
                        wanted: e.wanted.raw(),
                    })?;
                let (ranking, basis) = self.rank_services(d, self.clock.now(), limit);
                if ranking.suggested.is_empty() {
                    return Err(AppError::rejected(
                        None,
                        "NO_ELIGIBLE_SERVICE",
                        format!(
                            "no active service of the directory addresses {} for this recipient ({} left out; see the services query for the directory)",
                            d.need,
                            ranking.left_out.len()
                        ),
                    ));
                }
                ranked_suggestion(&ranking, basis)
            }
        };
        // Ranked from the directory's active services just now: no second check.
        self.run_need_case(access, ctx, id, action).await
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod sharing_tests;

#[cfg(test)]
mod left_out_tests;
