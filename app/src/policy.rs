//! Who may do what (DESIGN §1 and §6): one table, asked by every resolver.
//!
//! | action | coordinator | quality manager | external app | admin | provider |
//! |---|---|---|---|---|---|
//! | read case work (recipients, need cases, worklists, their history) | own sites | — | — | — | — |
//! | write case work (the lifecycle mutations) | own sites | — | — | — | — |
//! | read names and contact details | own sites | — | — | — | — |
//! | read aggregates (equity tables, suppressed) | own sites | own sites | all sites | all sites | — |
//! | read a service's referral load (not suppressed) | yes | yes | — | yes | — |
//! | read the directory's history | yes | yes | — | yes | — |
//! | read where the read models stand (projection status) | yes | yes | — | yes | — |
//! | read the audit trail | — | own sites | — | all sites | — |
//! | read shared data (catalogue, directory) | yes | yes | yes | yes | yes |
//! | manage the directory | — | — | — | yes | — |
//! | manage credentials (API keys) | — | — | — | yes | — |
//! | erase a care recipient | — | — | — | yes | — |
//! | answer a referral as its performer (accept … fail, cancel) | own sites, on the performer's behalf | — | — | — | own organisations |
//! | read the inbox of referrals addressed to an organisation | — | — | — | — | own organisations |
//! | read the notes on a referral | own sites | — | — | — | own organisations |
//! | write a note on a referral | own sites | — | — | — | own organisations |
//! | read a recipient's contact details on a referral (with their consent, while it is open) | — | — | — | — | own organisations |
//!
//! A provider (staff of an organisation of the directory; the token names the
//! organisations) is the performing side of the referrals addressed to their
//! organisation's services: they read what every directory user reads and answer
//! the referrals addressed to their organisations (never the need case or the
//! recipient behind them), which their inbox lists with the minimum necessary —
//! the recipient's name, phone and e-mail address only if the recipient
//! consented to share them, and only while the referral is open. Coordinators
//! and the provider exchange notes on a referral (sealed under the recipient's
//! key). Coordinators record and withdraw consent (case work).
//!
//! Administrators manage; they do not read person-level records (an erasure request
//! names the recipient). The server's own `System` role (imports, demo data) may do
//! everything. A role-level refusal comes before any input is looked at, so a denied
//! call learns nothing about the data and writes nothing; a site-level refusal comes
//! once the record's site is known.

use careledger_domain::ids::OrganisationId;
use careledger_domain::store::{Actor, Role};
use careledger_domain::values::SiteId;

/// The sites a caller may see and act for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteScope {
    All,
    Only(Vec<SiteId>),
}

/// An authenticated caller: who, for which sites and — a provider — for which
/// organisations of the directory. The edges make one from a bearer token or an
/// API key; the use cases ask it through [`Access::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub actor: Actor,
    pub sites: SiteScope,
    /// The organisations a provider works for (empty for every other role).
    pub organisations: Vec<OrganisationId>,
}

impl Access {
    /// A caller of any role but provider: no organisations.
    pub fn new(actor: Actor, sites: SiteScope) -> Self {
        Self {
            actor,
            sites,
            organisations: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    ReadCasework,
    WriteCasework,
    ReadPersonalData,
    ReadAggregates,
    ReadServiceLoad,
    ReadDirectoryHistory,
    ReadProjectionStatus,
    ReadAuditTrail,
    ReadShared,
    ManageDirectory,
    ManageCredentials,
    EraseRecipient,
    /// Answer a referral as its performing side (accept, reject, waitlist,
    /// start, complete, fail, cancel): a provider for their organisation's
    /// referrals, a coordinator of the site on the performer's behalf.
    AnswerReferral,
    /// Read the referrals addressed to one's organisation (a provider's inbox).
    ReadInbox,
    /// Read the notes on a referral: the coordinators of its site, the provider
    /// of the organisation it is addressed to.
    ReadReferralNotes,
    /// Write a note on a referral (same callers as reading them).
    WriteReferralNote,
    /// Read the recipient's contact details on a referral addressed to one's
    /// organisation (only with consent, while the referral is open).
    ReadReferralContact,
    /// Create, list and delete webhook subscriptions (issue 17).
    ManageWebhooks,
}

impl Action {
    pub const ALL: [Action; 18] = [
        Action::ReadCasework,
        Action::WriteCasework,
        Action::ReadPersonalData,
        Action::ReadAggregates,
        Action::ReadServiceLoad,
        Action::ReadDirectoryHistory,
        Action::ReadProjectionStatus,
        Action::ReadAuditTrail,
        Action::ReadShared,
        Action::ManageDirectory,
        Action::ManageCredentials,
        Action::EraseRecipient,
        Action::AnswerReferral,
        Action::ReadInbox,
        Action::ReadReferralNotes,
        Action::WriteReferralNote,
        Action::ReadReferralContact,
        Action::ManageWebhooks,
    ];

    /// Whether the action concerns a site's data (then the caller's sites bound it).
    pub const fn site_bound(self) -> bool {
        matches!(
            self,
            Action::ReadCasework
                | Action::WriteCasework
                | Action::ReadPersonalData
                | Action::ReadAggregates
                | Action::ReadAuditTrail
                | Action::AnswerReferral
                | Action::ReadReferralNotes
                | Action::WriteReferralNote
        )
    }

    /// The refusal's message when the role may not do this at all.
    pub const fn refusal(self) -> &'static str {
        match self {
            Action::ReadCasework => {
                "care recipients and need cases are read by the care coordinators of their site"
            }
            Action::WriteCasework => {
                "care recipients and need cases are written by the care coordinators of their site"
            }
            Action::ReadPersonalData => {
                "names and contact details are read by the care coordinators of the recipient's site"
            }
            Action::ReadAggregates => "aggregate statistics are not available to this role",
            Action::ReadServiceLoad => {
                "a service's referral load is not published to external applications"
            }
            Action::ReadDirectoryHistory => {
                "the directory's history is not published to external applications"
            }
            Action::ReadProjectionStatus => {
                "the read models' status is not published to external applications"
            }
            Action::ReadAuditTrail => "the audit trail is for quality managers and administrators",
            Action::ReadInbox => {
                "an inbox of referrals is read by the staff of the organisation they are addressed to"
            }
            Action::AnswerReferral => {
                "referrals are answered by the organisation they are addressed to, or by the care coordinators of their site"
            }
            Action::ReadReferralNotes | Action::WriteReferralNote => {
                "notes on a referral are for the care coordinators of its site and the organisation it is addressed to"
            }
            Action::ReadReferralContact => {
                "contact details on a referral are for the organisation it is addressed to; coordinators read personal data"
            }
            Action::ReadShared => "this credential reads nothing",
            Action::ManageDirectory => "only administrators manage the service directory",
            Action::ManageCredentials => "only administrators manage API keys",
            Action::EraseRecipient => "only administrators erase care recipients",
            Action::ManageWebhooks => "only administrators manage webhook subscriptions",
        }
    }
}

/// Whether `role` may do `action` at all (sites aside).
pub const fn allowed(role: Role, action: Action) -> bool {
    use Action as A;
    use Role as R;
    match action {
        A::ReadCasework | A::WriteCasework | A::ReadPersonalData => {
            matches!(role, R::Coordinator | R::System)
        }
        // A provider reads what any directory user reads; the referrals addressed
        // to their organisation come with the closed loop (issue 16), never the
        // aggregates, a service's load or the read models' state.
        A::ReadShared => true,
        A::ReadAggregates => !matches!(role, R::Provider),
        A::ReadServiceLoad | A::ReadDirectoryHistory | A::ReadProjectionStatus => {
            !matches!(role, R::ExternalApp | R::Provider)
        }
        A::ReadAuditTrail => matches!(role, R::QualityManager | R::Admin | R::System),
        A::ManageDirectory | A::ManageCredentials | A::EraseRecipient | A::ManageWebhooks => {
            matches!(role, R::Admin | R::System)
        }
        A::AnswerReferral => matches!(role, R::Coordinator | R::Provider | R::System),
        A::ReadInbox | A::ReadReferralContact => matches!(role, R::Provider | R::System),
        A::ReadReferralNotes | A::WriteReferralNote => {
            matches!(role, R::Coordinator | R::Provider | R::System)
        }
    }
}

/// Why a call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// The role may not do this anywhere.
    Role(Action),
    /// The role may, but not at this site.
    Site,
    /// A provider, but the referral is not addressed to their organisations (or
    /// there is no such referral: the two look the same).
    Organisation,
}

impl Denied {
    pub fn message(self) -> &'static str {
        match self {
            Denied::Role(a) => a.refusal(),
            Denied::Site => "this record belongs to a site your credentials do not cover",
            Denied::Organisation => {
                "no referral addressed to an organisation your credentials cover has this id"
            }
        }
    }
}

impl Access {
    /// May the caller do `action` at all?
    pub fn check(&self, action: Action) -> Result<(), Denied> {
        if allowed(self.actor.role, action) {
            Ok(())
        } else {
            Err(Denied::Role(action))
        }
    }

    /// May the caller do `action` on data of `site`?
    pub fn check_at(&self, action: Action, site: &SiteId) -> Result<(), Denied> {
        self.check(action)?;
        if !action.site_bound() || self.sites_for(action).is_none_or(|s| s.contains(site)) {
            Ok(())
        } else {
            Err(Denied::Site)
        }
    }

    /// May the caller do `action` for `organisation`? A provider only for the
    /// organisations their credential names; other roles as the table says.
    pub fn check_for(
        &self,
        action: Action,
        organisation: &careledger_domain::ids::OrganisationId,
    ) -> Result<(), Denied> {
        self.check(action)?;
        if self.actor.role == Role::Provider && !self.organisations.contains(organisation) {
            return Err(Denied::Organisation);
        }
        Ok(())
    }

    /// The sites `action` is bounded to for this caller (`None`: all). External
    /// applications and administrators read aggregates network-wide (they are
    /// suppressed and made to be published); everyone else is bounded to the sites
    /// of their credential.
    pub fn sites_for(&self, action: Action) -> Option<&[SiteId]> {
        if !action.site_bound() {
            return None;
        }
        match (self.actor.role, &self.sites) {
            (Role::Admin | Role::System, _) => None,
            (Role::ExternalApp, _) if action == Action::ReadAggregates => None,
            (_, SiteScope::All) => None,
            (_, SiteScope::Only(s)) => Some(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use careledger_domain::store::Actor;

    fn access(role: Role, sites: SiteScope) -> Access {
        Access::new(
            Actor {
                subject: "t".into(),
                role,
            },
            sites,
        )
    }

    fn site(s: &str) -> SiteId {
        SiteId::parse(s).unwrap()
    }

    /// The table above, cell by cell: a change to the policy must change this too.
    #[test]
    fn the_role_table_is_the_documented_one() {
        use Action as A;
        let expected: &[(A, [bool; 5])] = &[
            // coordinator, quality manager, external app, admin, provider
            (A::ReadCasework, [true, false, false, false, false]),
            (A::WriteCasework, [true, false, false, false, false]),
            (A::ReadPersonalData, [true, false, false, false, false]),
            (A::ReadAggregates, [true, true, true, true, false]),
            (A::ReadServiceLoad, [true, true, false, true, false]),
            (A::ReadDirectoryHistory, [true, true, false, true, false]),
            (A::ReadProjectionStatus, [true, true, false, true, false]),
            (A::ReadAuditTrail, [false, true, false, true, false]),
            (A::ReadShared, [true, true, true, true, true]),
            (A::ManageDirectory, [false, false, false, true, false]),
            (A::ManageCredentials, [false, false, false, true, false]),
            (A::EraseRecipient, [false, false, false, true, false]),
            (A::AnswerReferral, [true, false, false, false, true]),
            (A::ReadInbox, [false, false, false, false, true]),
            (A::ReadReferralNotes, [true, false, false, false, true]),
            (A::WriteReferralNote, [true, false, false, false, true]),
            (A::ReadReferralContact, [false, false, false, false, true]),
            (A::ManageWebhooks, [false, false, false, true, false]),
        ];
        assert_eq!(expected.len(), Action::ALL.len());
        let roles = [
            Role::Coordinator,
            Role::QualityManager,
            Role::ExternalApp,
            Role::Admin,
            Role::Provider,
        ];
        for (action, row) in expected {
            for (role, want) in roles.iter().zip(row) {
                assert_eq!(allowed(*role, *action), *want, "{role:?} {action:?}");
            }
            assert!(
                allowed(Role::System, *action),
                "the server itself may {action:?}"
            );
        }
    }

    #[test]
    fn site_bound_actions_stop_at_the_credential_s_sites() {
        let a = access(Role::Coordinator, SiteScope::Only(vec![site("be-leuven")]));
        assert_eq!(
            a.check_at(Action::WriteCasework, &site("be-leuven")),
            Ok(())
        );
        assert_eq!(
            a.check_at(Action::WriteCasework, &site("nl-utrecht")),
            Err(Denied::Site)
        );
        // Shared data has no site bound.
        assert_eq!(a.check_at(Action::ReadShared, &site("nl-utrecht")), Ok(()));
        let qm = access(
            Role::QualityManager,
            SiteScope::Only(vec![site("be-leuven")]),
        );
        assert_eq!(
            qm.check_at(Action::ReadCasework, &site("be-leuven")),
            Err(Denied::Role(Action::ReadCasework)),
            "a quality manager never reads person-level records, even at their site"
        );
        assert_eq!(
            qm.sites_for(Action::ReadAggregates),
            Some(&[site("be-leuven")][..])
        );
        let app = access(Role::ExternalApp, SiteScope::Only(vec![]));
        assert_eq!(app.sites_for(Action::ReadAggregates), None);
        assert_eq!(
            app.check_at(Action::ReadCasework, &site("be-leuven")),
            Err(Denied::Role(Action::ReadCasework))
        );
        let all = access(Role::Coordinator, SiteScope::All);
        assert_eq!(
            all.check_at(Action::ReadCasework, &site("de-essen")),
            Ok(())
        );
    }
}
