//! Rate limits (governor, GCRA): per API key or session, per client IP on `/v1/auth/*` (against
//! password guessing), and per client IP on the public endpoints (catalog, quotes, webhooks).
//! Keyed state is pruned by [`RateLimits::prune`], called periodically, so memory stays
//! bounded by the number of recently active clients.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::config::Config;
use crate::error::ApiError;

type Keyed = RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

/// What the `X-RateLimit-*` headers report for the request.
#[derive(Clone, Copy, Debug)]
pub struct RateLimitStatus {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the allowance is whole again (`X-RateLimit-Reset`).
    pub reset: u64,
}

/// Failed logins per account (by normalized email, whether or not it exists, so the answer
/// reveals nothing): after [`LOGIN_FREE_FAILURES`] failures in a row, each further attempt
/// must wait a delay that doubles with every failure, from one second up to 15 minutes. A
/// success clears the count. This holds however many addresses the guesses come from; the
/// per-IP limit of `/v1/auth/*` is the other half.
#[derive(Default)]
pub struct LoginFailures {
    accounts: std::sync::Mutex<std::collections::HashMap<String, Failures>>,
}

/// Failures allowed in a row before the backoff starts.
pub const LOGIN_FREE_FAILURES: u32 = 5;
const LOGIN_MAX_DELAY: Duration = Duration::from_secs(15 * 60);

struct Failures {
    count: u32,
    /// No attempt is taken before this.
    not_before: std::time::Instant,
}

impl LoginFailures {
    /// Whether an attempt for `account` may go ahead now; otherwise the seconds to wait.
    pub fn check(&self, account: &str) -> Result<(), u64> {
        let accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        match accounts.get(account) {
            Some(f) => {
                let wait = f.not_before.saturating_duration_since(std::time::Instant::now());
                if wait.is_zero() {
                    Ok(())
                } else {
                    Err(whole_seconds(wait))
                }
            }
            None => Ok(()),
        }
    }

    /// Records a failed attempt for `account`.
    pub fn failed(&self, account: &str) {
        let mut accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        let now = std::time::Instant::now();
        let f = accounts.entry(account.to_string()).or_insert(Failures { count: 0, not_before: now });
        f.count = f.count.saturating_add(1);
        if f.count >= LOGIN_FREE_FAILURES {
            let doublings = (f.count - LOGIN_FREE_FAILURES).min(20);
            f.not_before = now + Duration::from_secs(1 << doublings).min(LOGIN_MAX_DELAY);
        }
    }

    /// A successful login clears the account's failures.
    pub fn succeeded(&self, account: &str) {
        self.accounts.lock().unwrap_or_else(|p| p.into_inner()).remove(account);
    }

    /// Forgets accounts whose last failure is long past (bounded memory).
    pub fn prune(&self) {
        let horizon = std::time::Instant::now().checked_sub(Duration::from_secs(3600));
        let mut accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        accounts.retain(|_, f| horizon.is_none_or(|h| f.not_before > h));
        accounts.shrink_to_fit();
    }
}

pub struct RateLimits {
    per_client: Keyed,
    per_client_burst: u32,
    auth_per_ip: Keyed,
    auth_per_minute: u32,
    public_per_ip: Keyed,
    public_per_minute: u32,
    /// Failed logins per account.
    pub login_failures: LoginFailures,
    clock: DefaultClock,
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

impl RateLimits {
    pub fn new(config: &Config) -> Self {
        let per_client =
            Quota::per_second(nonzero(config.rate_limit_per_second)).allow_burst(nonzero(config.rate_limit_burst));
        let auth = Quota::per_minute(nonzero(config.auth_rate_limit_per_minute));
        let public = Quota::per_minute(nonzero(config.public_rate_limit_per_minute));
        RateLimits {
            per_client: RateLimiter::keyed(per_client).with_middleware::<StateInformationMiddleware>(),
            per_client_burst: config.rate_limit_burst,
            auth_per_ip: RateLimiter::keyed(auth).with_middleware::<StateInformationMiddleware>(),
            auth_per_minute: config.auth_rate_limit_per_minute,
            public_per_ip: RateLimiter::keyed(public).with_middleware::<StateInformationMiddleware>(),
            public_per_minute: config.public_rate_limit_per_minute,
            login_failures: LoginFailures::default(),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one request by an API key or session (`key` names it).
    pub fn check_client(&self, key: &str) -> Result<RateLimitStatus, (RateLimitStatus, ApiError)> {
        Self::check(&self.per_client, &self.clock, self.per_client_burst, key)
    }

    /// Counts one request to `/v1/auth/*` from a client IP.
    pub fn check_auth_ip(&self, ip: &str) -> Result<RateLimitStatus, (RateLimitStatus, ApiError)> {
        Self::check(&self.auth_per_ip, &self.clock, self.auth_per_minute, ip)
    }

    /// Counts one request to a public endpoint from a client IP.
    pub fn check_public_ip(&self, ip: &str) -> Result<RateLimitStatus, (RateLimitStatus, ApiError)> {
        Self::check(&self.public_per_ip, &self.clock, self.public_per_minute, ip)
    }

    fn check(
        limiter: &Keyed,
        clock: &DefaultClock,
        limit: u32,
        key: &str,
    ) -> Result<RateLimitStatus, (RateLimitStatus, ApiError)> {
        match limiter.check_key(&key.to_string()) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                // Each used unit of the burst comes back after one replenish interval.
                let used = limit.saturating_sub(remaining);
                let reset = snapshot.quota().replenish_interval().saturating_mul(used);
                Ok(RateLimitStatus { limit, remaining, reset: whole_seconds(reset) })
            }
            Err(not_until) => {
                let wait: Duration = not_until.wait_time_from(clock.now());
                let full = not_until.quota().replenish_interval().saturating_mul(limit);
                let status = RateLimitStatus { limit, remaining: 0, reset: whole_seconds(full.max(wait)) };
                Err((status, ApiError::rate_limited(whole_seconds(wait))))
            }
        }
    }

    /// Forgets clients whose state has fully recovered.
    pub fn prune(&self) {
        self.per_client.retain_recent();
        self.per_client.shrink_to_fit();
        self.auth_per_ip.retain_recent();
        self.auth_per_ip.shrink_to_fit();
        self.public_per_ip.retain_recent();
        self.public_per_ip.shrink_to_fit();
        self.login_failures.prune();
    }

    /// Clients currently tracked (for tests of bounded memory).
    pub fn tracked(&self) -> usize {
        self.per_client.len() + self.auth_per_ip.len() + self.public_per_ip.len()
    }
}

/// A duration in whole seconds, rounded up.
fn whole_seconds(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}
