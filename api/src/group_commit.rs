//! Group commit: write transactions that contend for the same lock run together.
//!
//! Every money transaction on an account starts by locking the account's row, so on one busy
//! account they run strictly one after another, and each pays a whole transaction (on
//! PostgreSQL a commit is a WAL flush) while the others wait. On SQLite every write waits for
//! the database's single write lock the same way. So work is queued per *lane* (the account on
//! PostgreSQL, the whole database on SQLite), and whichever request finds its lane idle becomes
//! its committer: on the blocking pool, it runs everything queued on the lane in one
//! transaction, each request's work in its own savepoint, until the lane is empty (flat
//! combining). Alone, a request's work runs exactly as before, in its own transaction; under
//! contention, one commit serves many requests.
//!
//! Each request's work succeeds or fails on its own: a failure rolls back its savepoint (or
//! its transaction, alone), and its error is its answer. No request hears of success before
//! the commit that makes it durable; if that commit fails, every request of the batch gets the
//! error and nothing of the batch was written.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::anyhow;
use apinfer_core::db::{savepoint, write_transaction, DbConn, Pool};
use apinfer_core::{Error, Result};
use tokio::sync::oneshot;

use crate::error::ApiError;

/// Most units of work in one transaction: bounds how long a batch holds its locks.
const MAX_BATCH: usize = 64;

/// How a unit of work that ran in a batch answers, once the batch's transaction has ended (with
/// the commit's error, if it failed).
type Answer = Box<dyn FnOnce(Option<&Error>) + Send>;

/// Units of work waiting for a committer, per lane. A lane is present while it has a committer.
type Lanes = Mutex<HashMap<String, Vec<Box<dyn Work>>>>;

/// One request's unit of work, type-erased so that different work can share a batch.
trait Work: Send {
    /// Runs alone, in a transaction of its own, and answers.
    fn run_alone(self: Box<Self>, conn: &mut DbConn);
    /// Runs in a savepoint of the batch's transaction; returns how to answer.
    fn run_in_batch(self: Box<Self>, conn: &mut DbConn) -> Answer;
    /// Answers without running (no connection could be had).
    fn abandon(self: Box<Self>, error: &Error);
}

struct Job<F, T> {
    work: F,
    answer: oneshot::Sender<Result<T>>,
}

impl<F, T> Work for Job<F, T>
where
    F: FnOnce(&mut DbConn) -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    fn run_alone(self: Box<Self>, conn: &mut DbConn) {
        let _ = self.answer.send(write_transaction(conn, self.work));
    }

    fn run_in_batch(self: Box<Self>, conn: &mut DbConn) -> Answer {
        let outcome = savepoint(conn, self.work);
        let answer = self.answer;
        Box::new(move |commit_error| {
            let _ = answer.send(match (outcome, commit_error) {
                (Ok(value), None) => Ok(value),
                (Ok(_), Some(error)) => Err(same_error(error)),
                (Err(error), _) => Err(error),
            });
        })
    }

    fn abandon(self: Box<Self>, error: &Error) {
        let _ = self.answer.send(Err(same_error(error)));
    }
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
}

/// What the committers have done, for `/metrics`.
#[derive(Debug, Default)]
pub struct Stats {
    /// Transactions committers ran (or tried to).
    pub transactions: AtomicU64,
    /// Units of work they ran in them.
    pub units: AtomicU64,
}

impl Stats {
    /// Appends the counters in Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let (transactions, units) = (self.transactions.load(Ordering::Relaxed), self.units.load(Ordering::Relaxed));
        out.push_str(
            "# HELP apinfer_group_commit_transactions_total Transactions run by group commit \
             (generation holds, captures, releases).\n\
             # TYPE apinfer_group_commit_transactions_total counter\n",
        );
        out.push_str(&format!("apinfer_group_commit_transactions_total {transactions}\n"));
        out.push_str(
            "# HELP apinfer_group_commit_units_total Requests' units of work those transactions carried \
             (units / transactions = mean batch).\n\
             # TYPE apinfer_group_commit_units_total counter\n",
        );
        out.push_str(&format!("apinfer_group_commit_units_total {units}\n"));
    }
}

impl GroupCommit {
    pub fn new(pool: Pool) -> Self {
        GroupCommit { pool, lanes: Arc::default(), stats: Arc::default() }
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The lane of writes to `account`: the account itself on PostgreSQL (row locks), the
    /// database on SQLite (one writer at a time).
    pub fn lane_of(&self, account: &str) -> String {
        if self.pool.is_postgres() {
            account.to_string()
        } else {
            String::new()
        }
    }

    /// Runs `work` inside a write transaction on `lane`, possibly together with other
    /// requests' work; answers once its outcome is durable (or failed).
    pub async fn run<T, F>(&self, lane: String, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConn) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let job: Box<dyn Work> = Box::new(Job { work, answer });
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
            let unreachable = self.commit(batch);
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

    /// Runs one batch in one transaction and answers each of its requests; the error if no
    /// connection could be had.
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
        self.stats.transactions.fetch_add(1, Ordering::Relaxed);
        self.stats.units.fetch_add(batch.len() as u64, Ordering::Relaxed);
        if batch.len() == 1 {
            batch.pop().expect("one job").run_alone(&mut conn);
            return None;
        }
        let mut answers = Vec::with_capacity(batch.len());
        let committed = write_transaction(&mut conn, |conn| {
            answers.extend(batch.into_iter().map(|job| job.run_in_batch(conn)));
            Ok(())
        });
        let error = committed.err();
        for answer in answers {
            answer(error.as_ref());
        }
        None
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

    /// Work that queues behind a running transaction is committed in one transaction, each unit
    /// in its own savepoint: a unit that fails is undone alone and answers its own error.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_work_shares_one_transaction_and_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let pool = Pool::connect(&format!("sqlite://{}", dir.path().join("t.db").display()), 4).unwrap();
        pool.get().unwrap().batch_execute("CREATE TABLE t (v INTEGER NOT NULL UNIQUE)").unwrap();
        let writes = GroupCommit::new(pool.clone());
        let lane = writes.lane_of("acct_1");

        // The first unit keeps the lane busy until the others have queued.
        let (release, released) = std::sync::mpsc::channel::<()>();
        let first = tokio::spawn({
            let (writes, lane) = (writes.clone(), lane.clone());
            async move {
                writes
                    .run(lane, move |conn| {
                        released.recv().unwrap();
                        insert(conn, 0)
                    })
                    .await
            }
        });
        while queued(&writes, &lane).is_none() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // Ten good units, and one that writes 100 and then breaks a constraint (0 is taken).
        let others: Vec<_> = [1, 2, 3, 4, 5, 0, 6, 7, 8, 9, 10]
            .into_iter()
            .map(|value| {
                let (writes, lane) = (writes.clone(), lane.clone());
                tokio::spawn(async move {
                    writes
                        .run(lane, move |conn| {
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
        let stored: Vec<i64> = diesel::sql_query("SELECT v FROM t ORDER BY v")
            .load::<Value>(&mut pool.get().unwrap())
            .unwrap()
            .into_iter()
            .map(|row| row.v)
            .collect();
        assert_eq!(stored, (0..=10).collect::<Vec<_>>());
        assert_eq!(writes.stats.transactions.load(Ordering::Relaxed), 2, "the first alone, then one batch of 11");
        assert_eq!(writes.stats.units.load(Ordering::Relaxed), 12);
        assert_eq!(queued(&writes, &lane), None, "the lane is given up when idle");
    }

    #[derive(diesel::QueryableByName)]
    struct Value {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        v: i64,
    }
}
