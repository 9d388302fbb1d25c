//! The shape every aggregate shares: a pure `decide` that turns a command into
//! events (or a typed refusal) and a pure `apply` that folds an event into state.
//!
//! Time comes in with the command: `occurred_at` is when the thing happened in care
//! (it may be earlier than now), `now` is the server clock read by the caller. The
//! domain never reads a clock itself.

use chrono::{DateTime, Datelike, Duration, Utc};

/// A command: an order to change one aggregate, stamped with its times.
#[derive(Debug, Clone, PartialEq)]
pub struct Command<A> {
    pub action: A,
    /// When it happened in care. Must not lie in the future.
    pub occurred_at: DateTime<Utc>,
    /// The server clock when the command was received.
    pub now: DateTime<Utc>,
}

impl<A> Command<A> {
    /// A command for something that happens now.
    pub fn now(action: A, now: DateTime<Utc>) -> Self {
        Self {
            action,
            occurred_at: now,
            now,
        }
    }
}

/// How far `occurred_at` may run ahead of the server clock (devices' clocks drift).
pub const CLOCK_SKEW_TOLERANCE: Duration = Duration::minutes(5);

/// The earliest year an `occurred_at` may lie in: nothing CareLedger records
/// happened before 2000-01-01T00:00:00Z. A floor keeps mistyped or hostile dates
/// (year 0, year −1) out of the log, where they would put a need in the 0–17 age
/// band and a trend month in year 0000.
pub const EARLIEST_YEAR: i32 = 2000;

/// `2000-01-01T00:00:00Z`, the floor of every `occurred_at`.
pub fn earliest_occurred_at() -> DateTime<Utc> {
    DateTime::from_timestamp(946_684_800, 0).expect("2000-01-01 is a valid time")
}

/// Why a command's `occurred_at` is refused: the one time rule every command of
/// every aggregate follows (case work, recipients, the directory, API keys).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TimeRefusal {
    #[error("occurred_at {occurred_at} lies in the future (server time {now})")]
    InFuture {
        occurred_at: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    #[error(
        "occurred_at {occurred_at} lies before 2000-01-01T00:00:00Z, the earliest date CareLedger records"
    )]
    BeforeFloor { occurred_at: DateTime<Utc> },
    #[error("occurred_at {occurred_at} lies before the recipient's birth year ({birth_year})")]
    BeforeBirthYear {
        occurred_at: DateTime<Utc>,
        birth_year: i32,
    },
}

impl TimeRefusal {
    /// A stable machine-readable code for the API's `userErrors.code`.
    pub fn code(&self) -> &'static str {
        match self {
            TimeRefusal::InFuture { .. } => "OCCURRED_IN_FUTURE",
            TimeRefusal::BeforeFloor { .. } => "OCCURRED_BEFORE_FLOOR",
            TimeRefusal::BeforeBirthYear { .. } => "OCCURRED_BEFORE_BIRTH",
        }
    }
}

/// The time rule: `occurred_at` no later than `now` plus the clock-skew tolerance
/// and not before [`earliest_occurred_at`].
///
/// # Errors
/// The rule broken.
pub fn check_occurred_at(
    occurred_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), TimeRefusal> {
    if occurred_at > now + CLOCK_SKEW_TOLERANCE {
        return Err(TimeRefusal::InFuture { occurred_at, now });
    }
    if occurred_at < earliest_occurred_at() {
        return Err(TimeRefusal::BeforeFloor { occurred_at });
    }
    Ok(())
}

/// The time rule for a command about a person: besides [`check_occurred_at`], not
/// before the first day of their birth year.
///
/// # Errors
/// The rule broken.
pub fn check_occurred_at_for(
    occurred_at: DateTime<Utc>,
    now: DateTime<Utc>,
    birth_year: i32,
) -> Result<(), TimeRefusal> {
    check_occurred_at(occurred_at, now)?;
    if occurred_at.year() < birth_year {
        return Err(TimeRefusal::BeforeBirthYear {
            occurred_at,
            birth_year,
        });
    }
    Ok(())
}

impl<A> Command<A> {
    /// [`check_occurred_at`] for this command.
    ///
    /// # Errors
    /// The rule broken.
    pub fn check_time(&self) -> Result<(), TimeRefusal> {
        check_occurred_at(self.occurred_at, self.now)
    }
}

pub trait Aggregate: Default + Clone + std::fmt::Debug + PartialEq {
    type Action;
    type Event: Clone + std::fmt::Debug + PartialEq;
    type Error: std::error::Error + PartialEq;

    /// Decides what a command means for this state: the events to record, or a
    /// refusal naming the rule it broke. Never has side effects.
    fn decide(&self, command: &Command<Self::Action>) -> Result<Vec<Self::Event>, Self::Error>;

    /// Folds one recorded event into the state. Total: events were validated by
    /// `decide` when they were recorded, so `apply` never refuses.
    fn apply(&mut self, event: &Self::Event, occurred_at: DateTime<Utc>);

    /// Rebuilds a state from its history.
    fn replay<'a>(events: impl IntoIterator<Item = (&'a Self::Event, DateTime<Utc>)>) -> Self
    where
        Self::Event: 'a,
    {
        let mut state = Self::default();
        for (e, at) in events {
            state.apply(e, at);
        }
        state
    }
}

/// Given/when/then for decisions, after cqrs-es' test framework.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    pub struct Given<A: Aggregate> {
        state: A,
    }

    pub fn given<A: Aggregate>(history: &[(A::Event, DateTime<Utc>)]) -> Given<A> {
        Given {
            state: A::replay(history.iter().map(|(e, t)| (e, *t))),
        }
    }

    impl<A: Aggregate> Given<A> {
        pub fn when(self, command: Command<A::Action>) -> Then<A> {
            let result = self.state.decide(&command);
            Then {
                state: self.state,
                result,
                at: command.occurred_at,
            }
        }
    }

    pub struct Then<A: Aggregate> {
        state: A,
        result: Result<Vec<A::Event>, A::Error>,
        at: DateTime<Utc>,
    }

    impl<A: Aggregate> Then<A> {
        #[track_caller]
        pub fn then_expect_events(self, expected: Vec<A::Event>) -> A {
            let events = self.result.expect("command refused");
            assert_eq!(events, expected);
            let mut state = self.state;
            for e in &events {
                state.apply(e, self.at);
            }
            state
        }

        #[track_caller]
        pub fn then_expect_error(self, expected: A::Error) {
            match self.result {
                Ok(events) => panic!("expected {expected:?}, got events {events:?}"),
                Err(e) => assert_eq!(e, expected),
            }
        }
    }
}
