//! Abuse limits of the HTTP edge: a rate per credential (GCRA, `governor`) and a
//! cap on requests one credential may have running at once.

use std::time::Duration;

/// Abuse limits of the HTTP edge.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Requests per second per credential (0: no limit).
    pub rate_per_sec: f64,
    /// The bucket's size: requests a credential may make at once.
    pub burst: f64,
    /// The longest a GraphQL request may run.
    pub request_timeout: Duration,
    /// Requests one credential may have running at once.
    pub max_in_flight: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            rate_per_sec: 0.0,
            burst: 1.0,
            request_timeout: Duration::from_secs(30),
            max_in_flight: 8,
        }
    }
}

/// The per-credential rate limit: a GCRA token bucket (the `governor` crate) keyed
/// by role and subject. Each mutation field of a request costs one token (a query
/// costs one), so a document of aliased mutations is charged for every write.
pub struct RateLimiter<C: governor::clock::Clock = governor::clock::DefaultClock> {
    /// `None`: no limit.
    inner: Option<KeyedLimiter<C>>,
    clock: C,
}

type KeyedLimiter<C> = governor::RateLimiter<
    String,
    governor::state::keyed::DefaultKeyedStateStore<String>,
    C,
    governor::middleware::NoOpMiddleware<<C as governor::clock::Clock>::Instant>,
>;

/// Credentials are forgotten once this many are tracked and their buckets are full.
const MAX_BUCKETS: usize = 100_000;

/// Why the rate limiter said no.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Throttled {
    /// Retry after this long.
    Wait(Duration),
    /// The request alone costs more than the bucket holds.
    OverBurst,
}

impl RateLimiter {
    pub fn new(limits: &Limits) -> Self {
        Self::with_clock(limits, governor::clock::DefaultClock::default())
    }
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new(&Limits::default())
    }
}

impl<C: governor::clock::Clock + Clone> RateLimiter<C> {
    pub fn with_clock(limits: &Limits, clock: C) -> Self {
        let inner = (limits.rate_per_sec > 0.0).then(|| {
            let period =
                Duration::from_secs_f64(1.0 / limits.rate_per_sec).max(Duration::from_nanos(1));
            let burst =
                std::num::NonZeroU32::new(limits.burst.max(1.0).min(f64::from(u32::MAX)) as u32)
                    .unwrap_or(std::num::NonZeroU32::MIN);
            let quota = governor::Quota::with_period(period)
                .expect("a positive period")
                .allow_burst(burst);
            governor::RateLimiter::new(quota, Default::default(), clock.clone())
        });
        Self { inner, clock }
    }

    /// Takes `cost` tokens from `key`'s bucket (at least one).
    pub fn take(&self, key: &str, cost: u32) -> Result<(), Throttled> {
        let Some(limiter) = &self.inner else {
            return Ok(());
        };
        if limiter.len() >= MAX_BUCKETS {
            limiter.retain_recent();
        }
        let cost = std::num::NonZeroU32::new(cost).unwrap_or(std::num::NonZeroU32::MIN);
        match limiter.check_key_n(&key.to_string(), cost) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(Throttled::Wait(not_until.wait_time_from(self.clock.now()))),
            Err(_) => Err(Throttled::OverBurst),
        }
    }
}

/// Requests each credential has running, capped so that one caller cannot hold
/// every worker (a refused request is answered `429 TOO_MANY_IN_FLIGHT` at once).
#[derive(Default)]
pub struct InFlight {
    running: std::sync::Mutex<std::collections::HashMap<String, usize>>,
}

/// One running request; leaving it (dropping) frees its place.
pub struct InFlightGuard<'a> {
    owner: &'a InFlight,
    key: String,
}

impl InFlight {
    /// A place for one more request of `key`, if it has fewer than `max` running.
    pub fn enter(&self, key: &str, max: usize) -> Option<InFlightGuard<'_>> {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let n = running.entry(key.to_string()).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(InFlightGuard {
            owner: self,
            key: key.to_string(),
        })
    }
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        let mut running = self.owner.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = running.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                running.remove(&self.key);
            }
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    /// The bucket (governor's GCRA) gives a credential its burst, then its rate;
    /// each credential has its own; a request costs one token per mutation field.
    #[test]
    fn a_credential_gets_its_burst_then_its_rate_and_others_are_not_touched() {
        use governor::clock::FakeRelativeClock;
        let limits = Limits {
            rate_per_sec: 2.0,
            burst: 3.0,
            ..Limits::default()
        };
        let clock = FakeRelativeClock::default();
        let l = RateLimiter::with_clock(&limits, clock.clone());
        for _ in 0..3 {
            assert!(l.take("coordinator:a", 1).is_ok());
        }
        let Err(Throttled::Wait(wait)) = l.take("coordinator:a", 1) else {
            panic!("the fourth request must wait")
        };
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-6, "{wait:?}");
        // Another credential has its own bucket.
        assert!(l.take("coordinator:b", 1).is_ok());
        // Half a second later one request is allowed again, not two.
        clock.advance(Duration::from_millis(500));
        assert!(l.take("coordinator:a", 1).is_ok());
        assert!(l.take("coordinator:a", 1).is_err());
        // A long pause refills the bucket up to the burst, no more.
        clock.advance(Duration::from_secs(60));
        assert!(
            l.take("coordinator:a", 3).is_ok(),
            "three mutation fields at once"
        );
        assert!(l.take("coordinator:a", 1).is_err());
        // More than the burst at once can never pass.
        clock.advance(Duration::from_secs(60));
        assert_eq!(l.take("coordinator:a", 4), Err(Throttled::OverBurst));
        // Rate 0: no limit.
        let off = RateLimiter::with_clock(&Limits::default(), clock);
        for _ in 0..1_000 {
            assert!(off.take("x", 10).is_ok());
        }
    }

    #[test]
    fn a_credential_has_at_most_its_cap_of_requests_running() {
        let f = InFlight::default();
        let a1 = f.enter("a", 2).unwrap();
        let _a2 = f.enter("a", 2).unwrap();
        assert!(f.enter("a", 2).is_none());
        assert!(f.enter("b", 2).is_some(), "others are not touched");
        drop(a1);
        assert!(
            f.enter("a", 2).is_some(),
            "a finished request frees its place"
        );
    }
}
