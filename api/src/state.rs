//! Shared application state and the bridge from async handlers to blocking diesel work.

use std::sync::Arc;

use anyhow::anyhow;
use apinfer_core::db::{DbConn, Pool};
use apinfer_core::payments::PaymentProvider;
use apinfer_core::Clock;

use crate::auth::{KeyCache, SessionKeys};
use crate::config::Config;
use crate::error::ApiError;
use crate::generation::Providers;
use crate::group_commit::GroupCommit;
use crate::metrics::Metrics;
use crate::rate_limit::RateLimits;

pub struct AppState {
    pub pool: Pool,
    pub config: Config,
    pub clock: Arc<dyn Clock>,
    pub sessions: SessionKeys,
    pub limits: RateLimits,
    pub metrics: Metrics,
    /// Takes payments (the built-in sandbox by default).
    pub payments: Arc<dyn PaymentProvider>,
    /// Render images (local, or an OpenAI-compatible upstream per model).
    pub providers: Providers,
    /// Recently verified API keys.
    pub key_cache: KeyCache,
    /// Batches contending money transactions (generation holds and captures) into one commit.
    pub writes: GroupCommit,
}

impl AppState {
    /// Runs blocking database work on actix's blocking pool with a pooled connection.
    pub async fn db<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConn) -> apinfer_core::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        actix_web::web::block(move || {
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await
        .map_err(|e| ApiError::internal(anyhow!("blocking task failed: {e}")))?
        .map_err(ApiError::from)
    }

    /// Now, at the microsecond precision both databases store, so responses written before
    /// and read after a round-trip agree.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        use chrono::DurationRound;
        let now = self.clock.now();
        now.duration_trunc(chrono::Duration::microseconds(1)).unwrap_or(now)
    }
}
