//! Time as a dependency, so that rules with deadlines (refund windows, hold expiry, idempotency
//! retention) can be tested without waiting.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

/// The source of "now" for every time-dependent rule.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The real wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The wall clock shifted by an adjustable offset (tests and the admin test hooks use it to
/// travel forward in time).
#[derive(Debug, Clone, Default)]
pub struct OffsetClock {
    offset_seconds: Arc<AtomicI64>,
}

impl OffsetClock {
    pub fn advance(&self, by: Duration) {
        self.offset_seconds.fetch_add(by.num_seconds(), Ordering::SeqCst);
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::seconds(self.offset_seconds.load(Ordering::SeqCst))
    }
}
