//! Why a ranking left services out (issue 19): recomputed on demand, not stored.
//!
//! A ranked `ServicesSuggested` records what it was computed from
//! ([`RankingBasis`]: the directory read model's position, the matcher's version,
//! the matcher's today) instead of every service it left out, which grew with the
//! directory. The matcher is pure and the directory's read model keeps every
//! version of each service by position, so the ranking is made again over the
//! directory as it was then, and its left-out list is the one the event would
//! have stored. The suggestions it gives must be the ones recorded; if they are
//! not, the directory's history is not what it was and nothing is answered (an
//! internal error), rather than a wrong list.
//!
//! A ranking recorded before (schema v2) answers with its stored list; a
//! hand-made list with none. A ranking recorded by another version of the
//! matcher's rules is not recomputed with today's: the answer says so
//! ([`LeftOutAnswer::MatcherChanged`]).

use super::{MAX_RANKED, seeker};
use crate::aggregates::fold;
use crate::{App, AppError};
use careledger_domain::DomainEvent;
use careledger_domain::matching::{self, MATCHER_VERSION, Ranking};
use careledger_domain::need_case::{
    LeftOutService, NeedCase, NeedCaseData, NeedCaseEvent, RankingBasis, ServicesSuggested,
};
use careledger_domain::store::{Position, RecordedEvent, StreamName};
use careledger_projections::directory::Directory;

/// The services a suggestion left out, and how that answer was reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeftOutAnswer {
    /// No suggestion yet, or a list made by hand: the matcher left nothing out.
    NotRanked,
    /// As the event stored them (rankings recorded before schema v3).
    Stored(Vec<LeftOutService>),
    /// Recomputed from the directory as it was at `basis.directory_position`.
    Recomputed {
        basis: RankingBasis,
        left_out: Vec<LeftOutService>,
    },
    /// Ranked by another version of the matcher's rules than this build's: not
    /// recomputed, as today's rules would answer for rules it was not ranked by.
    MatcherChanged { basis: RankingBasis },
}

impl LeftOutAnswer {
    /// The services left out, as far as known (none when `MatcherChanged`).
    pub fn services(&self) -> &[LeftOutService] {
        match self {
            LeftOutAnswer::Stored(l) | LeftOutAnswer::Recomputed { left_out: l, .. } => l,
            LeftOutAnswer::NotRanked | LeftOutAnswer::MatcherChanged { .. } => &[],
        }
    }

    /// What the ranking was computed from (rankings since schema v3).
    pub fn basis(&self) -> Option<RankingBasis> {
        match self {
            LeftOutAnswer::Recomputed { basis, .. } | LeftOutAnswer::MatcherChanged { basis } => {
                Some(*basis)
            }
            LeftOutAnswer::NotRanked | LeftOutAnswer::Stored(_) => None,
        }
    }

    /// Why the list is not given: `MATCHER_CHANGED`.
    pub fn unavailable(&self) -> Option<&'static str> {
        matches!(self, LeftOutAnswer::MatcherChanged { .. }).then_some("MATCHER_CHANGED")
    }
}

/// The services a ranking left out, as codes: what `ServicesSuggested` stored
/// up to schema v2, and what a recomputation answers.
pub fn left_out_services(ranking: &Ranking) -> Vec<LeftOutService> {
    ranking
        .left_out
        .iter()
        .map(|l| LeftOutService {
            service: l.service,
            reasons: l.reasons.iter().map(|r| r.code()).collect(),
        })
        .collect()
}

/// Ranks again, over `directory` as it was at the basis's position, the need
/// case `case` whose suggestion `event` recorded, and gives what it left out.
///
/// # Errors
/// Internal, when the ranking made again does not suggest what `event` recorded
/// (the directory's history is not what it was then).
pub fn recompute(
    directory: &Directory,
    case: &NeedCaseData,
    event: &ServicesSuggested,
    basis: RankingBasis,
) -> Result<Vec<LeftOutService>, AppError> {
    // The limit asked for is not recorded and need not be: the list holds
    // min(limit, eligible) services, and ranking with that many as the limit
    // suggests the same and leaves out the same.
    let limit = event.suggestions.len().clamp(1, MAX_RANKED);
    let ranking = matching::rank(
        seeker(case, basis.at),
        directory.candidates_at(&case.need, basis.directory_position),
        limit,
    );
    let same = ranking.suggested.len() == event.suggestions.len()
        && ranking
            .suggested
            .iter()
            .zip(&event.suggestions)
            .all(|(r, s)| {
                r.service == s.service
                    && u32::from(s.rank) == r.rank
                    && s.score == Some(r.score)
                    && r.reasons
                        .iter()
                        .map(|x| x.code())
                        .eq(s.reasons.iter().map(|a| a.as_str()))
            });
    if !same {
        return Err(AppError::internal_msg(format!(
            "the directory as read at position {} does not give the ranking need case {} recorded",
            basis.directory_position, case.id
        )));
    }
    Ok(left_out_services(&ranking))
}

impl App {
    /// What the suggestion `event` of the need case `case` left out (see the
    /// module documentation). Waits, within the consistency timeout, for the
    /// directory's read model to reach the ranking's position.
    ///
    /// # Errors
    /// `Lagging` when the read model does not reach it in time; internal when the
    /// ranking made again is not the one recorded.
    pub async fn left_out_of(
        &self,
        case: &NeedCaseData,
        event: &ServicesSuggested,
    ) -> Result<LeftOutAnswer, AppError> {
        let Some(basis) = event.ranked else {
            return Ok(if event.left_out.is_empty() {
                LeftOutAnswer::NotRanked
            } else {
                LeftOutAnswer::Stored(event.left_out.clone())
            });
        };
        if basis.matcher_version != MATCHER_VERSION {
            return Ok(LeftOutAnswer::MatcherChanged { basis });
        }
        let wanted = Position::new(basis.directory_position);
        self.projector
            .wait_for(wanted, self.settings.consistency_timeout)
            .await
            .map_err(|e| AppError::Lagging {
                what: "the directory's read model",
                reached: e.reached.raw(),
                wanted: e.wanted.raw(),
            })?;
        let left_out = recompute(self.projector.read().directory(), case, event, basis)?;
        Ok(LeftOutAnswer::Recomputed { basis, left_out })
    }

    /// What the latest suggestion of the need case `case`, as of its stream
    /// version `version` (a read model's view), left out. Its stream is read
    /// through the stream cache, afresh when the cache is older than `version`;
    /// nothing is read before a first suggestion.
    ///
    /// # Errors
    /// As [`App::left_out_of`]; `Unavailable` when the log cannot be read.
    pub async fn need_case_left_out(
        &self,
        case: &NeedCaseData,
        version: u64,
    ) -> Result<LeftOutAnswer, AppError> {
        if case.suggestions.is_empty() {
            return Ok(LeftOutAnswer::NotRanked);
        }
        let stream = StreamName::need_case(case.id);
        let mut history = self.recent_stream(&stream).await?;
        if history.last().is_none_or(|e| e.version < version) {
            history = self.read_stream(&stream).await?;
        }
        let latest = history
            .iter()
            .rev()
            .filter(|e| e.version <= version)
            .find_map(|e| match &e.event {
                DomainEvent::NeedCase(NeedCaseEvent::ServicesSuggested(s)) => Some(s),
                _ => None,
            });
        match latest {
            Some(s) => self.left_out_of(case, s).await,
            None => Ok(LeftOutAnswer::NotRanked),
        }
    }

    /// Gives each ranked `ServicesSuggested` among `events` (a page of the audit
    /// trail or of a stream's history) its recomputed left-out list, so they are
    /// shown as if stored. Rankings of another matcher version keep none (their
    /// rendering says why).
    ///
    /// # Errors
    /// As [`App::left_out_of`].
    pub(crate) async fn with_left_out(&self, events: &mut [RecordedEvent]) -> Result<(), AppError> {
        for e in events.iter_mut() {
            let DomainEvent::NeedCase(NeedCaseEvent::ServicesSuggested(s)) = &e.event else {
                continue;
            };
            if s.ranked.is_none() {
                continue;
            }
            let case = self.case_at(&e.stream).await?;
            let Some(case) = case.data() else { continue };
            let answer = self.left_out_of(case, s).await?;
            if let (
                LeftOutAnswer::Recomputed { left_out, .. },
                DomainEvent::NeedCase(NeedCaseEvent::ServicesSuggested(s)),
            ) = (answer, &mut e.event)
            {
                s.left_out = left_out;
            }
        }
        Ok(())
    }

    /// The need case of a stream, as the log has it (its need and recipient
    /// never change after it was identified).
    async fn case_at(&self, stream: &StreamName) -> Result<NeedCase, AppError> {
        let mut history = self.recent_stream(stream).await?;
        if history.is_empty() {
            // Cached before it was identified? Ask the store.
            history = self.read_stream(stream).await?;
        }
        Ok(fold::<NeedCase>(&history))
    }
}
