//! Shared application state and the bridge from async handlers to blocking diesel work.

use std::sync::Arc;

use anyhow::anyhow;
use apinfer_core::db::{DbConn, Pool};
use apinfer_core::group_commit::GroupCommit;
use apinfer_core::payments::PaymentProvider;
use apinfer_core::Clock;

use crate::config::Config;
use crate::error::ApiError;
use crate::identity::{KeyCache, SessionKeys};
use crate::metrics::Metrics;
use crate::providers::Providers;
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
    /// Builds and checks the signed URLs of generated images.
    pub image_urls: crate::image_urls::ImageUrls,
    /// This process's part of the queue of asynchronous generations.
    pub queue: crate::queue::GenerationQueue,
    /// Image blobs this process knows are stored.
    pub stored_blobs: crate::stored_blobs::StoredBlobs,
    /// The page cache of each per-thread SQLite reader, in KiB.
    pub sqlite_reader_cache_kib: u32,
    /// Admits [`AppState::db`] work in arrival order, no more at once than the pool has
    /// connections to spare beside the group committers (see [`AppState::db`]).
    pub db_gate: Arc<tokio::sync::Semaphore>,
    /// Admits CPU-heavy work (image renders, password hashes), one task per core (see
    /// [`AppState::cpu_work`]).
    pub cpu_gate: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    /// Runs blocking database work on actix's blocking pool with a pooled connection.
    ///
    /// Callers queue first on [`AppState::db_gate`], a fair (first come, first served) queue
    /// with a permit per connection the pool can spare, so that no thread waits in the pool
    /// itself: there, under more callers than connections, whichever waiter a returned
    /// connection happened to wake got it, and on PostgreSQL about 1 % of balance reads under
    /// `bench/run` waited 100 ms or more while others went ahead (see bench/RESULTS.md).
    pub async fn db<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConn) -> apinfer_core::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let _turn = self.db_gate.acquire().await.map_err(|e| ApiError::internal(anyhow!("database queue: {e}")))?;
        let (pool, credits) = (self.pool.clone(), self.metrics.credits().clone());
        actix_web::web::block(move || {
            let mut conn = pool.get()?;
            let outcome = f(&mut conn);
            credits.take_from_this_thread();
            outcome
        })
        .await
        .map_err(|e| ApiError::internal(anyhow!("blocking task failed: {e}")))?
        .map_err(ApiError::from)
    }

    /// Runs CPU-heavy work (a password hash: argon2 takes 19 MiB and tens of milliseconds) on
    /// the blocking pool, at most one task per core at a time: more would not finish sooner,
    /// and each would hold its memory meanwhile.
    pub async fn cpu_work<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let turn = Arc::clone(&self.cpu_gate)
            .acquire_owned()
            .await
            .map_err(|e| ApiError::internal(anyhow!("CPU queue: {e}")))?;
        tokio::task::spawn_blocking(move || {
            let value = f();
            drop(turn);
            value
        })
        .await
        .map_err(|e| ApiError::internal(anyhow!("blocking task failed: {e}")))
    }

    /// A cheap read (a lookup by primary key) for the hottest polled endpoints. On SQLite it
    /// runs right here on the calling worker thread, with a read-only connection of that
    /// thread's own: a few microseconds, which is less than the hop to the blocking pool and
    /// back that it saves (WAL readers never wait for the writer). Should it meet a lock
    /// anyway, or on PostgreSQL (a network round trip), it runs like [`AppState::db`].
    pub async fn read<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: Fn(&mut DbConn) -> apinfer_core::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        if let Some(path) = self.pool.sqlite_path() {
            match read_here(path, self.sqlite_reader_cache_kib, &f) {
                Err(apinfer_core::Error::Unavailable(_)) => {}
                done => return done.map_err(ApiError::from),
            }
        }
        self.db(f).await
    }

    /// Now, at the microsecond precision both databases store, so responses written before
    /// and read after a round-trip agree.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        use chrono::DurationRound;
        let now = self.clock.now();
        now.duration_trunc(chrono::Duration::microseconds(1)).unwrap_or(now)
    }
}

thread_local! {
    /// This thread's read-only SQLite connections, by database file.
    static READERS: std::cell::RefCell<std::collections::HashMap<String, DbConn>> = Default::default();
}

/// Runs `f` on this thread's reader of `path` (opened on first use). A connection that failed
/// is dropped, so the next read opens a fresh one.
fn read_here<T>(
    path: &str,
    cache_kib: u32,
    f: &dyn Fn(&mut DbConn) -> apinfer_core::Result<T>,
) -> apinfer_core::Result<T> {
    READERS.with(|readers| {
        let mut readers = readers.borrow_mut();
        if !readers.contains_key(path) {
            readers.insert(path.to_string(), apinfer_core::db::open_sqlite_reader(path, cache_kib)?);
        }
        let conn = readers.get_mut(path).expect("inserted above");
        let outcome = f(conn);
        if matches!(outcome, Err(apinfer_core::Error::Unavailable(_))) {
            readers.remove(path);
        }
        outcome
    })
}
