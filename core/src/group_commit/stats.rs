//! What the committers have done, for the process's one metrics registry.

use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::metrics::CreditsMoved;

/// What the committers have done, for `/metrics` (counters that share their values with the
/// registry they are registered in).
#[derive(Debug)]
pub struct Stats {
    /// Transactions committers ran (or tried to).
    pub transactions: Counter,
    /// Units of work they ran in them.
    pub units: Counter,
    /// Units that ran as part of a set (see [`SetWork`]).
    pub set_units: Counter,
    /// Sets that failed as a whole and ran one by one instead.
    pub set_fallbacks: Counter,
    /// Seconds committers spent running batches (taking a connection, the transaction,
    /// answering): per second of wall time, how busy the lanes are.
    pub busy_seconds: Counter<f64, AtomicU64>,
    /// Times a committer let SQLite's write-ahead log start over.
    pub wal_restarts: Counter,
    /// How long each batch took (taking a connection, the transaction, answering).
    pub batch_seconds: Histogram,
    /// Credits the ledger engine moved in the batches (and in every other transaction of the
    /// process: `Metrics` shares these counters).
    pub credits: CreditsMoved,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            transactions: Counter::default(),
            units: Counter::default(),
            set_units: Counter::default(),
            set_fallbacks: Counter::default(),
            busy_seconds: Counter::default(),
            wal_restarts: Counter::default(),
            batch_seconds: Histogram::new([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0]),
            credits: CreditsMoved::default(),
        }
    }
}

impl Stats {
    /// Registers the counters in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "apinfer_group_commit_transactions",
            "Transactions run by group commit (generation holds, captures, releases)",
            self.transactions.clone(),
        );
        registry.register(
            "apinfer_group_commit_units",
            "Requests' units of work those transactions carried (units / transactions = mean batch)",
            self.units.clone(),
        );
        registry.register(
            "apinfer_group_commit_set_units",
            "Units of work run as part of a set (holds or captures of one batch, in a few statements \
             for the batch rather than per request)",
            self.set_units.clone(),
        );
        registry.register(
            "apinfer_group_commit_set_fallbacks",
            "Sets that failed as a whole and ran one by one instead",
            self.set_fallbacks.clone(),
        );
        registry.register(
            "apinfer_group_commit_busy_seconds",
            "Time committers spent running batches (its rate is how busy the lanes are; on SQLite, \
             one lane, near 1 means saturated)",
            self.busy_seconds.clone(),
        );
        registry.register(
            "apinfer_sqlite_wal_restarts",
            "Times a committer let SQLite's write-ahead log start over from its beginning (see the checkpointer)",
            self.wal_restarts.clone(),
        );
        registry.register(
            "apinfer_group_commit_batch_seconds",
            "How long each batch took: taking a connection, the transaction, answering",
            self.batch_seconds.clone(),
        );
    }
}
