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

pub struct RateLimits {
    per_client: Keyed,
    per_client_burst: u32,
    auth_per_ip: Keyed,
    auth_per_minute: u32,
    public_per_ip: Keyed,
    public_per_minute: u32,
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
