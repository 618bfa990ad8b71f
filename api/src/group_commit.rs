//! Group commit: write transactions that contend for the same lock run together.
//!
//! Every money transaction on an account starts by locking the account's row, so on one busy
//! account they run strictly one after another, and each pays a whole transaction (on
//! PostgreSQL a commit is a WAL flush) while the others wait. On SQLite every write waits for
//! the database's single write lock the same way. So work is queued per *lane* (on SQLite the
//! whole database; on PostgreSQL one of a few shards of the accounts, see
//! [`GroupCommit::lane_of`]), and whichever request finds its lane idle becomes its committer:
//! on the blocking pool, it runs everything queued on the lane in one transaction, until the
//! lane is empty (flat combining). Alone, a request's work runs exactly as before, in its own
//! transaction; under contention, one commit serves many requests. On PostgreSQL a batch first
//! locks all its accounts, in id order, so batches never deadlock with each other.
//!
//! Work that knows how to run as a set of its kind ([`SetWork`]: generation holds and
//! captures) does so inside a batch: one set's statements (a few per batch, whatever its size)
//! instead of all of the statements per request. Other work runs in a savepoint per request.
//! Should a set fail as a whole, it is rolled back and its requests run one by one in
//! savepoints too.
//!
//! Each request's work succeeds or fails on its own: a failure rolls back its savepoint (or
//! its transaction, alone), and its error is its answer. No request hears of success before
//! the commit that makes it durable; if that commit fails, every request of the batch gets the
//! error and nothing of the batch was written.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::anyhow;
use apinfer_core::db::{savepoint, write_transaction, DbConn, Pool};
use apinfer_core::ledger;
use apinfer_core::{Error, Result};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio::sync::oneshot;

use crate::credits_moved::CreditsMoved;
use crate::error::ApiError;

/// Most units of work in one transaction: bounds how long a batch holds its locks.
const MAX_BATCH: usize = 64;

/// Lanes on PostgreSQL (see [`GroupCommit::lane_of`]).
const POSTGRES_LANES: u32 = 2;

/// How a unit of work that ran in a batch answers, once the batch's transaction has ended (with
/// the commit's error, if it failed).
type Answer = Box<dyn FnOnce(Option<&Error>) + Send>;

/// Units of work waiting for a committer, per lane. A lane is present while it has a committer.
type Lanes = Mutex<HashMap<String, Vec<Box<dyn Work>>>>;

/// Work that can also run together with other work of its kind as one set, in fewer
/// statements than one by one.
pub trait SetWork: Send + Sized + 'static {
    type Output: Send + 'static;
    /// Runs this alone (in its own transaction, or a savepoint of a batch).
    fn run_one(&self, conn: &mut DbConn) -> Result<Self::Output>;
    /// Runs several as one set inside the batch's transaction: one outcome per item, in order,
    /// each the one it would have had alone. `Err` means the set failed as a whole: it is rolled
    /// back, and the items run one by one.
    fn run_set(items: &[&Self], conn: &mut DbConn) -> Result<Vec<Result<Self::Output>>>;
}

/// How a set of one kind of work runs, given its units (all of that kind).
type SetRunner = fn(Vec<Box<dyn Work>>, &mut DbConn, &Stats) -> Vec<Answer>;

/// One request's unit of work, type-erased so that different work can share a batch.
trait Work: Send {
    /// Runs alone, in a transaction of its own, calls `ended` and answers.
    fn run_alone(self: Box<Self>, conn: &mut DbConn, ended: &dyn Fn());
    /// Runs in a savepoint of the batch's transaction; returns how to answer.
    fn run_in_batch(self: Box<Self>, conn: &mut DbConn) -> Answer;
    /// Answers without running (no connection could be had).
    fn abandon(self: Box<Self>, error: &Error);
    /// The account whose credits this work moves (its row is locked first in a batch).
    fn account(&self) -> &str;
    /// For work that can run as a set: its kind, and how a set of that kind runs.
    fn set_kind(&self) -> Option<(TypeId, SetRunner)> {
        None
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
}

struct Job<F, T> {
    account: String,
    work: F,
    answer: oneshot::Sender<Result<T>>,
}

impl<F, T> Work for Job<F, T>
where
    F: FnOnce(&mut DbConn) -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    fn run_alone(self: Box<Self>, conn: &mut DbConn, ended: &dyn Fn()) {
        let outcome = write_transaction(conn, self.work);
        ended();
        let _ = self.answer.send(outcome);
    }

    fn run_in_batch(self: Box<Self>, conn: &mut DbConn) -> Answer {
        let outcome = savepoint(conn, self.work);
        answer_after_commit(self.answer, outcome)
    }

    fn abandon(self: Box<Self>, error: &Error) {
        let _ = self.answer.send(Err(same_error(error)));
    }

    fn account(&self) -> &str {
        &self.account
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

struct SetJob<S: SetWork> {
    account: String,
    work: S,
    answer: oneshot::Sender<Result<S::Output>>,
}

impl<S: SetWork> Work for SetJob<S> {
    fn run_alone(self: Box<Self>, conn: &mut DbConn, ended: &dyn Fn()) {
        let work = &self.work;
        let outcome = write_transaction(conn, |conn| work.run_one(conn));
        ended();
        let _ = self.answer.send(outcome);
    }

    fn run_in_batch(self: Box<Self>, conn: &mut DbConn) -> Answer {
        let outcome = savepoint(conn, |conn| self.work.run_one(conn));
        answer_after_commit(self.answer, outcome)
    }

    fn abandon(self: Box<Self>, error: &Error) {
        let _ = self.answer.send(Err(same_error(error)));
    }

    fn set_kind(&self) -> Option<(TypeId, SetRunner)> {
        Some((TypeId::of::<S>(), run_set::<S>))
    }

    fn account(&self) -> &str {
        &self.account
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

/// Runs units of work of kind `S` as one set in a savepoint; if the set fails as a whole, one
/// by one instead.
fn run_set<S: SetWork>(units: Vec<Box<dyn Work>>, conn: &mut DbConn, stats: &Stats) -> Vec<Answer> {
    let jobs: Vec<SetJob<S>> = units
        .into_iter()
        .map(|unit| *unit.into_any().downcast::<SetJob<S>>().expect("a set holds work of one kind"))
        .collect();
    let items: Vec<&S> = jobs.iter().map(|job| &job.work).collect();
    let ran = savepoint(conn, |conn| {
        let outcomes = S::run_set(&items, conn)?;
        if outcomes.len() != items.len() {
            return Err(Error::Internal(anyhow!("a set answered {} of {} items", outcomes.len(), items.len())));
        }
        Ok(outcomes)
    });
    match ran {
        Ok(outcomes) => {
            stats.set_units.inc_by(jobs.len() as u64);
            jobs.into_iter().zip(outcomes).map(|(job, outcome)| answer_after_commit(job.answer, outcome)).collect()
        }
        Err(error) => {
            tracing::warn!(error = %error, units = jobs.len(), "a set of work failed as a whole; running it one by one");
            stats.set_fallbacks.inc();
            jobs.into_iter().map(|job| Box::new(job).run_in_batch(conn)).collect()
        }
    }
}

/// How a unit that ran in a batch answers once the batch's transaction has ended: its own
/// outcome if the commit succeeded, else the commit's error.
fn answer_after_commit<T: Send + 'static>(answer: oneshot::Sender<Result<T>>, outcome: Result<T>) -> Answer {
    Box::new(move |commit_error| {
        let _ = answer.send(match (outcome, commit_error) {
            (Ok(value), None) => Ok(value),
            (Ok(_), Some(error)) => Err(same_error(error)),
            (Err(error), _) => Err(error),
        });
    })
}

/// Units of one set kind in a batch.
struct Set {
    kind: TypeId,
    runner: SetRunner,
    units: Vec<Box<dyn Work>>,
}

/// Runs a batch's units inside its transaction: work of a set kind as sets (a kind with one
/// unit in the batch as a single unit), the rest each in its own savepoint. The batch's
/// requests were all waiting at once, so any order is one they could have run in.
fn run_batch(batch: Vec<Box<dyn Work>>, conn: &mut DbConn, stats: &Stats) -> Vec<Answer> {
    let mut answers = Vec::with_capacity(batch.len());
    let mut sets: Vec<Set> = Vec::new();
    for unit in batch {
        match unit.set_kind() {
            Some((kind, runner)) => match sets.iter_mut().find(|set| set.kind == kind) {
                Some(set) => set.units.push(unit),
                None => sets.push(Set { kind, runner, units: vec![unit] }),
            },
            None => answers.push(unit.run_in_batch(conn)),
        }
    }
    for Set { runner, mut units, .. } in sets {
        if units.len() == 1 {
            answers.push(units.pop().expect("one unit").run_in_batch(conn));
        } else {
            answers.extend(runner(units, conn, stats));
        }
    }
    answers
}

/// A copy of a batch-wide error for each request of the batch.
fn same_error(error: &Error) -> Error {
    match error {
        Error::Unavailable(e) => Error::Unavailable(anyhow!("{e:#}")),
        other => Error::Internal(anyhow!("{other:#}")),
    }
}

/// The per-lane queues of one database.
#[derive(Clone)]
pub struct GroupCommit {
    pool: Pool,
    lanes: Arc<Lanes>,
    stats: Arc<Stats>,
    /// Set when SQLite's write-ahead log should start over: the next committer does it
    /// between two batches (see [`GroupCommit::restart_wal_soon`]).
    restart_wal: Arc<AtomicBool>,
}

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

impl GroupCommit {
    pub fn new(pool: Pool) -> Self {
        GroupCommit { pool, lanes: Arc::default(), stats: Arc::default(), restart_wal: Arc::default() }
    }

    /// Asks the committer to let SQLite's write-ahead log start over after its next batch.
    ///
    /// While batches commit back to back, a checkpoint from another connection never finds a
    /// moment without a writer, so the log never starts over: it grows past the connection's
    /// automatic checkpoint, and from then on every commit checkpoints (and fsyncs) on the
    /// committer, the one serial stage. The committer restarts it instead, once, between two
    /// batches, after the background checkpoints have copied nearly all of it.
    pub fn restart_wal_soon(&self) {
        self.restart_wal.store(true, Ordering::Relaxed);
    }

    /// Whether a restart asked for has not been tried yet.
    pub fn restart_wal_pending(&self) -> bool {
        self.restart_wal.load(Ordering::Relaxed)
    }

    /// How many lanes commit at once, each on a connection of its own.
    pub fn lanes(&self) -> u32 {
        if self.pool.is_postgres() {
            POSTGRES_LANES
        } else {
            1
        }
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The lane of writes to `account`: on SQLite the database (one writer at a time); on
    /// PostgreSQL one of [`POSTGRES_LANES`], by account, so that busy accounts share batches
    /// while lanes commit in parallel (their accounts are disjoint, so they never wait on each
    /// other's row locks).
    fn lane_of(&self, account: &str) -> String {
        if self.pool.is_postgres() {
            let hash = account.bytes().fold(0_u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
            (hash % POSTGRES_LANES).to_string()
        } else {
            String::new()
        }
    }

    /// Runs `work`, which moves `account`'s credits, inside a write transaction, possibly
    /// together with other requests' work; answers once its outcome is durable (or failed).
    pub async fn run<T, F>(&self, account: &str, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConn) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        self.submit(Box::new(Job { account: account.to_string(), work, answer }));
        Self::outcome(answered).await
    }

    /// [`run`](Self::run) for work that runs as a set with other work of its kind in a batch.
    pub async fn run_set<S: SetWork>(&self, account: &str, work: S) -> Result<S::Output, ApiError> {
        let (answer, answered) = oneshot::channel();
        self.submit(Box::new(SetJob { account: account.to_string(), work, answer }));
        Self::outcome(answered).await
    }

    /// Queues `job` on its lane, becoming the lane's committer if it was idle.
    fn submit(&self, job: Box<dyn Work>) {
        let lane = self.lane_of(job.account());
        let lead = {
            let mut lanes = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
            match lanes.get_mut(&lane) {
                Some(queue) => {
                    queue.push(job);
                    None
                }
                None => {
                    lanes.insert(lane.clone(), Vec::new());
                    Some(job)
                }
            }
        };
        if let Some(job) = lead {
            let this = self.clone();
            tokio::task::spawn_blocking(move || this.commit_until_idle(&lane, vec![job]));
        }
    }

    async fn outcome<T>(answered: oneshot::Receiver<Result<T>>) -> Result<T, ApiError> {
        answered
            .await
            .map_err(|_| ApiError::internal(anyhow!("the committer stopped before answering")))?
            .map_err(ApiError::from)
    }

    /// The committer's loop: runs `batch`, then whatever queued meanwhile, until the lane is
    /// idle, and then gives the lane up.
    fn commit_until_idle(&self, lane: &str, mut batch: Vec<Box<dyn Work>>) {
        let _unwinding = GiveUpOnPanic { lanes: &self.lanes, lane };
        loop {
            let started = std::time::Instant::now();
            let unreachable = self.commit(batch);
            let took = started.elapsed().as_secs_f64();
            self.stats.busy_seconds.inc_by(took);
            self.stats.batch_seconds.observe(took);
            let mut lanes = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
            let queue = lanes.get_mut(lane).expect("a lane with a committer is present");
            if let Some(error) = unreachable {
                // No connection could be had: what queued meanwhile would wait for it in vain
                // (and outlive its holds), so it fails now too, as it would have alone.
                let waiting = std::mem::take(queue);
                lanes.remove(lane);
                drop(lanes);
                for job in waiting {
                    job.abandon(&error);
                }
                return;
            }
            if queue.is_empty() {
                lanes.remove(lane);
                return;
            }
            let take = queue.len().min(MAX_BATCH);
            batch = queue.drain(..take).collect();
        }
    }

    /// Runs one batch in one transaction and answers each of its requests, then restarts the
    /// WAL if asked to; the error if no connection could be had.
    fn commit(&self, mut batch: Vec<Box<dyn Work>>) -> Option<Error> {
        let mut conn = match self.pool.get() {
            Ok(conn) => conn,
            Err(error) => {
                for job in batch {
                    job.abandon(&error);
                }
                return Some(error);
            }
        };
        self.stats.transactions.inc();
        self.stats.units.inc_by(batch.len() as u64);
        if batch.len() == 1 {
            // What the ledger engine moved is counted before anyone hears of it.
            batch.pop().expect("one job").run_alone(&mut conn, &|| self.stats.credits.take_from_this_thread());
        } else {
            self.commit_batch(batch, &mut conn);
        }
        if self.restart_wal.swap(false, Ordering::Relaxed) {
            match apinfer_core::db::restart_wal(&mut conn) {
                Ok(Some(wal)) if !wal.busy => {
                    self.stats.wal_restarts.inc();
                }
                // Readers or another writer were in the way: the checkpointer asks again.
                Ok(_) => {}
                Err(error) => tracing::warn!(error = %error, "restarting the SQLite WAL failed"),
            }
        }
        None
    }

    /// Runs several units in one transaction, then answers each.
    fn commit_batch(&self, batch: Vec<Box<dyn Work>>, conn: &mut DbConn) {
        let mut answers = Vec::new();
        let committed = write_transaction(conn, |conn| {
            // The batch's accounts are locked first, all at once in id order, so that its
            // units, which lock accounts in whatever order they run, never wait for a row
            // another batch (or process) holds while holding one it waits for.
            if matches!(conn, DbConn::Pg(_)) {
                let accounts: Vec<&str> = batch.iter().map(|job| job.account()).collect();
                ledger::lock_accounts(conn, &accounts)?;
            }
            answers = run_batch(batch, conn, &self.stats);
            Ok(())
        });
        self.stats.credits.take_from_this_thread();
        let error = committed.err();
        for answer in answers {
            answer(error.as_ref());
        }
    }
}

/// If a committer panics, its lane is given up and what waited on it is dropped (those requests
/// answer 500), so the lane does not stay blocked for good.
struct GiveUpOnPanic<'a> {
    lanes: &'a Lanes,
    lane: &'a str,
}

impl Drop for GiveUpOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut lanes = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
            lanes.remove(self.lane);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use diesel::connection::SimpleConnection;
    use diesel::RunQueryDsl;

    use super::*;

    fn insert(conn: &mut DbConn, value: i64) -> Result<i64> {
        diesel::sql_query(format!("INSERT INTO t (v) VALUES ({value})")).execute(conn)?;
        Ok(value)
    }

    fn queued(writes: &GroupCommit, lane: &str) -> Option<usize> {
        writes.lanes.lock().unwrap().get(lane).map(Vec::len)
    }

    const ACCOUNT: &str = "acct_1";

    /// Group commit over a fresh SQLite database with a table `t` of unique values.
    fn writes() -> (tempfile::TempDir, Pool, GroupCommit) {
        let dir = tempfile::tempdir().unwrap();
        let pool = Pool::connect(&format!("sqlite://{}", dir.path().join("t.db").display()), 4).unwrap();
        pool.get().unwrap().batch_execute("CREATE TABLE t (v INTEGER NOT NULL UNIQUE)").unwrap();
        let writes = GroupCommit::new(pool.clone());
        (dir, pool, writes)
    }

    /// Starts a unit that inserts `value` but keeps the lane busy until the sender is used (or
    /// dropped), and waits until it has the lane.
    async fn busy_lane(writes: &GroupCommit, value: i64) -> (std::sync::mpsc::Sender<()>, JoinHandle) {
        let (release, released) = std::sync::mpsc::channel::<()>();
        let first = tokio::spawn({
            let writes = writes.clone();
            async move {
                writes
                    .run(ACCOUNT, move |conn| {
                        let _ = released.recv();
                        insert(conn, value)
                    })
                    .await
            }
        });
        while queued(writes, &writes.lane_of(ACCOUNT)).is_none() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        (release, first)
    }

    type JoinHandle = tokio::task::JoinHandle<Result<i64, ApiError>>;

    /// The values in `t`, in order.
    fn stored(pool: &Pool) -> Vec<i64> {
        diesel::sql_query("SELECT v FROM t ORDER BY v")
            .load::<Value>(&mut pool.get().unwrap())
            .unwrap()
            .into_iter()
            .map(|row| row.v)
            .collect()
    }

    /// Work that queues behind a running transaction is committed in one transaction, each unit
    /// in its own savepoint: a unit that fails is undone alone and answers its own error.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_work_shares_one_transaction_and_fails_alone() {
        let (_dir, pool, writes) = writes();
        let (account, lane) = (ACCOUNT, writes.lane_of(ACCOUNT));
        // The first unit keeps the lane busy until the others have queued.
        let (release, first) = busy_lane(&writes, 0).await;
        // Ten good units, and one that writes 100 and then breaks a constraint (0 is taken).
        let others: Vec<_> = [1, 2, 3, 4, 5, 0, 6, 7, 8, 9, 10]
            .into_iter()
            .map(|value| {
                let writes = writes.clone();
                tokio::spawn(async move {
                    writes
                        .run(account, move |conn| {
                            if value == 0 {
                                insert(conn, 100)?;
                            }
                            insert(conn, value)
                        })
                        .await
                })
            })
            .collect();
        while queued(&writes, &lane) != Some(11) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        release.send(()).unwrap();

        assert_eq!(first.await.unwrap().ok(), Some(0));
        let mut answers = Vec::new();
        for other in others {
            answers.push(other.await.unwrap().ok());
        }
        assert_eq!(
            answers,
            [Some(1), Some(2), Some(3), Some(4), Some(5), None, Some(6), Some(7), Some(8), Some(9), Some(10)]
        );
        let stored = stored(&pool);
        assert_eq!(stored, (0..=10).collect::<Vec<_>>());
        assert_eq!(writes.stats.transactions.get(), 2, "the first alone, then one batch of 11");
        assert_eq!(writes.stats.units.get(), 12);
        // The committer answers before it looks at the queue again, so it gives the lane up
        // just after the last answer.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while queued(&writes, &lane).is_some() && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(queued(&writes, &lane), None, "the lane is given up when idle");
    }

    /// Test work that runs as a set: one multi-row insert for the set; a negative value is
    /// refused (an answer, writing nothing), as a set refuses one request without failing.
    struct Put(i64);

    impl SetWork for Put {
        type Output = i64;

        fn run_one(&self, conn: &mut DbConn) -> Result<i64> {
            if self.0 < 0 {
                return Err(Error::invalid("negative", "negative", "v"));
            }
            insert(conn, self.0)
        }

        fn run_set(items: &[&Self], conn: &mut DbConn) -> Result<Vec<Result<i64>>> {
            let values: Vec<String> = items.iter().filter(|p| p.0 >= 0).map(|p| format!("({})", p.0)).collect();
            diesel::sql_query(format!("INSERT INTO t (v) VALUES {}", values.join(", "))).execute(conn)?;
            Ok(items
                .iter()
                .map(|p| if p.0 < 0 { Err(Error::invalid("negative", "negative", "v")) } else { Ok(p.0) })
                .collect())
        }
    }

    /// Set work queued behind a running transaction runs as one set; a set that fails as a
    /// whole (here a duplicate value breaks its one statement) is rolled back and runs one by
    /// one, so only the offending unit fails.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_set_work_runs_as_a_set_and_falls_back_one_by_one() {
        let (_dir, pool, writes) = writes();
        let (account, lane) = (ACCOUNT, writes.lane_of(ACCOUNT));
        for (round, values) in [[1, 2, -3, 4], [5, 6, 1, 7]].into_iter().enumerate() {
            let (release, first) = busy_lane(&writes, 100 + round as i64).await;
            let puts: Vec<_> = values
                .into_iter()
                .map(|value| {
                    let writes = writes.clone();
                    tokio::spawn(async move { writes.run_set(account, Put(value)).await })
                })
                .collect();
            while queued(&writes, &lane) != Some(4) {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            release.send(()).unwrap();
            assert!(first.await.unwrap().is_ok());
            let mut answers = Vec::new();
            for put in puts {
                answers.push(put.await.unwrap().ok());
            }
            // The committer gives the lane up just after answering: wait, so that the next
            // round's first unit finds it idle.
            while queued(&writes, &lane).is_some() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            if round == 0 {
                assert_eq!(answers, [Some(1), Some(2), None, Some(4)], "the negative one refused alone");
                assert_eq!(writes.stats.set_units.get(), 4, "the four ran as a set");
                assert_eq!(writes.stats.set_fallbacks.get(), 0);
            } else {
                assert_eq!(answers, [Some(5), Some(6), None, Some(7)], "the duplicate fails alone");
                assert_eq!(writes.stats.set_units.get(), 4, "this set fell back");
                assert_eq!(writes.stats.set_fallbacks.get(), 1);
            }
        }
        let stored = stored(&pool);
        assert_eq!(stored, [1, 2, 4, 5, 6, 7, 100, 101]);
    }

    #[derive(diesel::QueryableByName)]
    struct Value {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        v: i64,
    }
}
