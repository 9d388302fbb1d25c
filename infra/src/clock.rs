//! The system clock, for the domain's `Clock` port.

use careledger_domain::store::Clock;
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
