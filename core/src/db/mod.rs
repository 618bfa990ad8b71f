//! One storage layer over two databases: SQLite (embedded default) and PostgreSQL.
//!
//! Connections come from an r2d2 pool of [`DbConn`], chosen by URL scheme (never by trial, so a
//! PostgreSQL outage can never silently fall back to a new SQLite file). Each backend has its
//! own migration set under `migrations/`. Money-moving work runs in [`write_transaction`],
//! which on SQLite takes the write lock up front (`BEGIN IMMEDIATE`) so that concurrent writers
//! queue on `busy_timeout` instead of failing on a lock upgrade.

pub mod moved;
pub mod schema;

use std::time::Duration;

use anyhow::Context;
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::{Error, Result};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");

/// A query whose prepared statement the connection keeps (by its SQL text), although it has
/// an `IN` list: diesel re-prepares such statements on every run, since a list of another
/// length is another statement. Give it lists made by [`padded`], or the connection keeps one
/// statement per length.
pub struct Kept<Q>(pub Q);

impl<Q> diesel::query_builder::QueryId for Kept<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q, DB> diesel::query_builder::QueryFragment<DB> for Kept<Q>
where
    DB: diesel::backend::Backend,
    Q: diesel::query_builder::QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, pass: diesel::query_builder::AstPass<'_, 'b, DB>) -> diesel::QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> diesel::QueryResult<bool> {
        Ok(true)
    }
}

impl<Q: diesel::query_builder::Query> diesel::query_builder::Query for Kept<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, C> RunQueryDsl<C> for Kept<Q> {}

/// `ids` for an `IN` list of a [`Kept`] statement: lengthened to the next power of two by
/// repeating the last id (which changes no `IN` test), so that a connection keeps a handful of
/// statements whatever the sizes of the lists it is given.
pub(crate) fn padded<'a>(ids: &[&'a str]) -> Vec<&'a str> {
    let mut padded = ids.to_vec();
    if let Some(&last) = ids.last() {
        padded.resize(ids.len().next_power_of_two(), last);
    }
    padded
}

/// A connection to either backend.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// Which database a URL names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite file path (or `:memory:`).
    Sqlite(String),
    /// A libpq URL.
    Postgres(String),
}

impl DatabaseUrl {
    /// `postgres://` / `postgresql://` → PostgreSQL; `sqlite://path`, `sqlite:path` or a bare
    /// path → SQLite.
    pub fn parse(url: &str) -> Result<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.to_string()));
        }
        let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
        if path.is_empty() || url.contains("://") && !url.starts_with("sqlite://") {
            return Err(Error::Internal(anyhow::anyhow!(
                "unsupported database URL (use sqlite://FILE or postgres://...)"
            )));
        }
        Ok(DatabaseUrl::Sqlite(path.to_string()))
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, DatabaseUrl::Postgres(_))
    }
}

/// When a SQLite commit is on disk (`PRAGMA synchronous`, in WAL mode).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SqliteDurability {
    /// Every commit is fsynced before it returns (`FULL`): a commit that was answered survives
    /// a power loss. With group commit that is one fsync per batch, not per request.
    #[default]
    Full,
    /// Commits are fsynced only at checkpoints (`NORMAL`): they survive a crash of the process,
    /// but a power loss may roll back the last ones, after their requests were answered (a card
    /// charged at the provider whose credits vanish). An opt-in for tests and benchmarks;
    /// production refuses it.
    Normal,
}

impl SqliteDurability {
    /// The value of `APINFER_SQLITE_SYNCHRONOUS`: `full` or `normal`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "full" => Some(SqliteDurability::Full),
            "normal" => Some(SqliteDurability::Normal),
            _ => None,
        }
    }

    fn pragma(self) -> &'static str {
        match self {
            SqliteDurability::Full => "FULL",
            SqliteDurability::Normal => "NORMAL",
        }
    }
}

/// How a [`Pool`] is opened.
#[derive(Clone, Copy, Debug)]
pub struct PoolOptions {
    /// Connections in the pool.
    pub max_size: u32,
    /// Each SQLite connection's page cache, in KiB (its share of the cache memory budget).
    pub sqlite_cache_kib: u32,
    /// When a SQLite commit is on disk.
    pub sqlite_durability: SqliteDurability,
}

impl PoolOptions {
    /// `max_size` connections, SQLite's default page cache, every commit durable.
    pub fn new(max_size: u32) -> Self {
        PoolOptions { max_size, sqlite_cache_kib: DEFAULT_SQLITE_CACHE_KIB, sqlite_durability: SqliteDurability::Full }
    }
}

/// r2d2 manager that opens the backend its URL names and sets SQLite up for concurrent use.
#[derive(Clone, Debug)]
pub struct Manager {
    url: DatabaseUrl,
    /// Each SQLite connection's page cache, in KiB (its share of the cache memory budget).
    sqlite_cache_kib: u32,
    sqlite_durability: SqliteDurability,
}

/// A SQLite connection's page cache when no budget is given (SQLite's own default is 2 MiB).
pub const DEFAULT_SQLITE_CACHE_KIB: u32 = 2048;

impl r2d2::ManageConnection for Manager {
    type Connection = DbConn;
    type Error = diesel::ConnectionError;

    fn connect(&self) -> Result<DbConn, Self::Error> {
        match &self.url {
            DatabaseUrl::Postgres(url) => {
                let mut conn = PgConnection::establish(url)?;
                // Every statement is planned for its own values and the tables' current size.
                // Diesel keeps statements prepared, and after five runs PostgreSQL may switch a
                // prepared statement to a generic plan, kept for the connection's life: chosen
                // while the holds and generations tables were small (a new database), it went
                // on scanning them whole as they grew (holds: 300–540 sequential scans in 10 s
                // of `gen_spread`, and `gen_hot` at 60–80 % of pgbench's one-row ceiling). With
                // custom plans both benchmark figures rose above their targets.
                conn.batch_execute("SET plan_cache_mode = force_custom_plan")
                    .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
                Ok(DbConn::Pg(conn))
            }
            DatabaseUrl::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(path)?;
                // WAL lets readers run beside the writer; busy_timeout makes writers queue. The
                // WAL is checkpointed in the background (`checkpoint`, `restart_wal`): the
                // automatic checkpoint at `AUTOCHECKPOINT_PAGES` is only the backstop, because
                // once the log is past it every commit checkpoints, copying pages and fsyncing
                // on the committing thread. The page cache is this connection's share of the
                // cache memory budget (`APINFER_CACHE_MEMORY_MB`), and savepoints' journals stay
                // in memory instead of temp files. The log file keeps its size after a restart
                // (no `journal_size_limit`): cut back, it had to grow again on fresh blocks, and
                // the fsyncs of the next checkpoints, with the file system's metadata to write,
                // tripled SQLite's generation p99 (bench/RESULTS.md, 2026-12-02). Its size is
                // bounded by how often it restarts (`APINFER_SQLITE_WAL_RESTART_PAGES`).
                // Commits are fsynced before they return unless the operator opted out
                // ([`SqliteDurability`]).
                let (cache_kib, synchronous) = (self.sqlite_cache_kib, self.sqlite_durability.pragma());
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = {synchronous}; PRAGMA foreign_keys = ON; \
                     PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}; \
                     \
                     PRAGMA cache_size = -{cache_kib}; PRAGMA temp_store = MEMORY;",
                ))
                .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), Self::Error> {
        conn.batch_execute("SELECT 1").map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        match conn {
            DbConn::Pg(c) => AnsiTransactionManager::is_broken_transaction_manager(c),
            DbConn::Sqlite(c) => AnsiTransactionManager::is_broken_transaction_manager(c),
        }
    }
}

/// The shared connection pool.
#[derive(Clone)]
pub struct Pool {
    inner: r2d2::Pool<Manager>,
    url: DatabaseUrl,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").field("postgres", &self.url.is_postgres()).finish()
    }
}

/// A connection checked out of the pool.
pub type PooledConn = r2d2::PooledConnection<Manager>;

impl Pool {
    /// Opens a pool of `max_size` connections with [`PoolOptions::new`]'s defaults.
    pub fn connect(url: &str, max_size: u32) -> Result<Pool> {
        Pool::connect_with(url, PoolOptions::new(max_size))
    }

    /// Opens a pool of `options.max_size` connections; on SQLite each has a page cache of
    /// `options.sqlite_cache_kib` KiB, so that the pool's caches together stay within
    /// `max_size * sqlite_cache_kib`.
    pub fn connect_with(url: &str, options: PoolOptions) -> Result<Pool> {
        let url = DatabaseUrl::parse(url)?;
        let manager = Manager {
            url: url.clone(),
            sqlite_cache_kib: options.sqlite_cache_kib.max(64),
            sqlite_durability: options.sqlite_durability,
        };
        let inner = r2d2::Pool::builder()
            .max_size(options.max_size)
            .connection_timeout(Duration::from_secs(5))
            .test_on_check_out(false)
            .build(manager)
            .context("opening the database")
            .map_err(Error::Unavailable)?;
        Ok(Pool { inner, url })
    }

    pub fn get(&self) -> Result<PooledConn> {
        Ok(self.inner.get()?)
    }

    pub fn is_postgres(&self) -> bool {
        self.url.is_postgres()
    }

    /// On SQLite, the database file; `None` on PostgreSQL.
    pub fn sqlite_path(&self) -> Option<&str> {
        match &self.url {
            DatabaseUrl::Sqlite(path) => Some(path),
            DatabaseUrl::Postgres(_) => None,
        }
    }

    /// Applies pending migrations for this backend.
    pub fn migrate(&self) -> Result<()> {
        let mut conn = self.get()?;
        let migrations = if self.is_postgres() { POSTGRES_MIGRATIONS } else { SQLITE_MIGRATIONS };
        conn.run_pending_migrations(migrations)
            .map_err(|e| Error::Internal(anyhow::anyhow!("running migrations: {e}")))?;
        Ok(())
    }
}

/// Opens a read-only SQLite connection for point reads made outside the pool (see the API's
/// `AppState::read`). In WAL mode readers never wait for the writer; the short busy timeout
/// bounds the rare wait (a checkpoint resetting the log) so that a caller can fall back. No
/// memory map: a reader that finds the database file changed since its last read unmaps all of
/// it, and under a stream of writes and checkpoints that `munmap` (a TLB shootdown across the
/// cores) cost more than the `pread`s it saves; without it a generation took ~11 % less server
/// CPU and balance reads none more.
/// Its page cache is `cache_kib` KiB.
pub fn open_sqlite_reader(path: &str, cache_kib: u32) -> Result<DbConn> {
    let mut conn = SqliteConnection::establish(path).map_err(|e| Error::Unavailable(e.into()))?;
    let cache_kib = cache_kib.max(64);
    conn.batch_execute(&format!("PRAGMA busy_timeout = 20; PRAGMA query_only = ON; PRAGMA cache_size = -{cache_kib};"))
        .map_err(|e| Error::Unavailable(e.into()))?;
    Ok(DbConn::Sqlite(conn))
}

/// What a checkpoint left in SQLite's write-ahead log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WalState {
    /// Frames (pages) the log holds.
    pub frames: i64,
    /// Of those, the ones now copied into the database file.
    pub checkpointed: i64,
    /// The checkpoint could not finish: a writer or a reader was in the way.
    pub busy: bool,
}

#[derive(diesel::QueryableByName)]
struct CheckpointRow {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    busy: i32,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    log: i32,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    checkpointed: i32,
}

fn wal_checkpoint(conn: &mut SqliteConnection, sql: &str) -> Result<WalState> {
    let row: CheckpointRow = diesel::sql_query(sql).get_result(conn).map_err(|e| Error::Unavailable(e.into()))?;
    Ok(WalState { frames: row.log.into(), checkpointed: row.checkpointed.into(), busy: row.busy != 0 })
}

/// On SQLite, copies what the WAL holds into the database file without waiting for readers
/// or writers (`PRAGMA wal_checkpoint(PASSIVE)`), so that writers need not do it themselves;
/// returns what the log then holds. Nothing to do on PostgreSQL (`None`).
///
/// A passive checkpoint never lets the log start over while writes keep coming: that takes
/// a moment with no writer, which [`restart_wal`] makes.
pub fn checkpoint(conn: &mut DbConn) -> Result<Option<WalState>> {
    match conn {
        DbConn::Sqlite(c) => wal_checkpoint(c, "PRAGMA wal_checkpoint(PASSIVE)").map(Some),
        DbConn::Pg(_) => Ok(None),
    }
}

/// On SQLite, checkpoints the whole WAL and waits (briefly) for the readers still using it to
/// finish, so that the next write starts the log over from its beginning
/// (`PRAGMA wal_checkpoint(RESTART)`). Run it where no write transaction is open on this
/// connection; other writers wait for it. If readers do not finish within
/// [`RESTART_WAIT_MS`] it gives up (`busy`), changing nothing a later try cannot finish.
pub fn restart_wal(conn: &mut DbConn) -> Result<Option<WalState>> {
    let DbConn::Sqlite(c) = conn else { return Ok(None) };
    let set_wait = |c: &mut SqliteConnection, ms: u64| {
        c.batch_execute(&format!("PRAGMA busy_timeout = {ms}")).map_err(|e| Error::Unavailable(e.into()))
    };
    set_wait(c, RESTART_WAIT_MS)?;
    let restarted = wal_checkpoint(c, "PRAGMA wal_checkpoint(RESTART)");
    set_wait(c, BUSY_TIMEOUT_MS)?;
    restarted.map(Some)
}

/// How long a SQLite connection waits for another writer before failing with busy.
const BUSY_TIMEOUT_MS: u64 = 15_000;
/// How long [`restart_wal`] waits for writers and readers before giving up.
pub const RESTART_WAIT_MS: u64 = 50;
/// WAL pages (4 KiB each) past which a committing SQLite connection checkpoints by itself:
/// ~400 MB, well past where the API restarts the log (`sqlite_wal_restart_pages`, which must
/// stay below it).
pub const AUTOCHECKPOINT_PAGES: u32 = 100_000;

#[derive(diesel::QueryableByName)]
struct PragmaValue {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    value: i64,
}

fn pragma(conn: &mut SqliteConnection, name: &str) -> Result<i64> {
    let row: PragmaValue = diesel::sql_query(format!("SELECT {name} AS value FROM pragma_{name}"))
        .get_result(conn)
        .map_err(|e| Error::Unavailable(e.into()))?;
    Ok(row.value)
}

/// On SQLite, gives free pages back to the file system, at most `max_pages` of them and only
/// those past a reserve kept for reuse (a tenth of the file, at least 4 MiB): under a steady
/// load, writes reuse the pages that deletions free, and returning them would only make the
/// file grow again. Needs `auto_vacuum = INCREMENTAL` (migration 000009); each call is one
/// short write. Returns how many surplus free pages remain; `None` on PostgreSQL, whose
/// vacuum does this.
pub fn return_free_pages(conn: &mut DbConn, max_pages: i64) -> Result<Option<i64>> {
    let DbConn::Sqlite(c) = conn else { return Ok(None) };
    let (pages, free) = (pragma(c, "page_count")?, pragma(c, "freelist_count")?);
    let surplus = free - (pages / 10).max(1024);
    let step = surplus.min(max_pages);
    if step > 0 {
        c.batch_execute(&format!("PRAGMA incremental_vacuum({step})")).map_err(|e| Error::Unavailable(e.into()))?;
    }
    Ok(Some((surplus - step).max(0)))
}

/// Checks that the database answers.
pub fn ping(conn: &mut DbConn) -> Result<()> {
    diesel::sql_query("SELECT 1").execute(conn).map_err(|e| Error::Unavailable(e.into()))?;
    Ok(())
}

/// Runs `f` in one transaction that may write. On SQLite the write lock is taken first
/// (`BEGIN IMMEDIATE`); on PostgreSQL it is an ordinary READ COMMITTED transaction whose
/// conditional updates re-check their predicate after any row lock wait.
///
/// Inside a transaction already open (a use case joining a store function to its audit
/// record, say) `f` simply runs in it: the outer transaction commits or rolls back the whole.
pub fn write_transaction<T, F>(conn: &mut DbConn, f: F) -> Result<T>
where
    F: FnOnce(&mut DbConn) -> Result<T>,
{
    if in_transaction(conn) {
        return f(conn);
    }
    match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE"),
        DbConn::Pg(c) => AnsiTransactionManager::begin_transaction(c),
    }
    .map_err(map_begin_error)?;
    // Movements the ledger engine notes in this transaction are counted if it commits.
    let mark = moved::mark();
    match f(conn) {
        Ok(value) => match <DbConn as Connection>::TransactionManager::commit_transaction(conn) {
            Ok(()) => {
                moved::committed();
                Ok(value)
            }
            Err(e) => {
                let _ = <DbConn as Connection>::TransactionManager::rollback_transaction(conn);
                moved::rolled_back_to(mark);
                Err(e.into())
            }
        },
        Err(e) => {
            // If the rollback fails too (the connection died), the original error is the one
            // worth reporting; the pool discards the broken connection.
            let _ = <DbConn as Connection>::TransactionManager::rollback_transaction(conn);
            moved::rolled_back_to(mark);
            Err(e)
        }
    }
}

/// Whether a transaction is open on the connection.
pub(crate) fn in_transaction(conn: &mut DbConn) -> bool {
    let status = match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth(),
        DbConn::Pg(c) => AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth(),
    };
    matches!(status, Ok(Some(_)))
}

/// Runs `f` in a savepoint of the caller's open write transaction: if `f` fails, what it wrote
/// is undone and the transaction goes on without it.
pub fn savepoint<T, F>(conn: &mut DbConn, f: F) -> Result<T>
where
    F: FnOnce(&mut DbConn) -> Result<T>,
{
    type Manager = <DbConn as Connection>::TransactionManager;
    Manager::begin_transaction(conn)?;
    let mark = moved::mark();
    let outcome = f(conn).and_then(|value| Manager::commit_transaction(conn).map(|()| value).map_err(Error::from));
    if outcome.is_err() {
        let _ = Manager::rollback_transaction(conn);
        moved::rolled_back_to(mark);
    }
    outcome
}

fn map_begin_error(e: diesel::result::Error) -> Error {
    Error::Unavailable(anyhow::Error::new(e).context("beginning a transaction"))
}

/// Whether a diesel error is a unique-constraint violation.
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(e, diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _))
}

#[cfg(test)]
mod tests {
    use diesel::sql_types::{Binary, Text};

    use super::*;

    #[derive(diesel::QueryableByName)]
    struct Image {
        #[diesel(sql_type = Text)]
        blob_id: String,
        #[diesel(sql_type = Binary)]
        data: Vec<u8>,
    }

    /// Images stored before the content-addressed store keep their bytes, under a per-image id.
    fn migrates_stored_images(url: &str, migrations: fn() -> EmbeddedMigrations) {
        let pool = Pool::connect(url, 1).unwrap();
        let mut conn = pool.get().unwrap();
        let applied_before = 5;
        for _ in 0..applied_before {
            conn.run_next_migration(migrations()).unwrap();
        }
        conn.batch_execute(
            "INSERT INTO accounts (id, name, balance, created_at, updated_at) \
               VALUES ('acct_m', 'm', 0, '2026-11-01 00:00:00', '2026-11-01 00:00:00'); \
             INSERT INTO generations (id, account_id, model, prompt, size, width, height, quality, n, \
               response_format, status, credits_cost, hold_id, created_at) \
               VALUES ('gen_m', 'acct_m', 'qwen-image', 'p', '64x64', 64, 64, 'standard', 2, 'url', \
               'succeeded', 10000, 'hold_m', '2026-11-01 00:00:00');",
        )
        .unwrap();
        for (idx, data) in [(0, "'png zero'"), (1, "'png one'")] {
            let bytes = if pool.is_postgres() {
                format!("convert_to({data}, 'UTF8')")
            } else {
                format!("CAST({data} AS BLOB)")
            };
            conn.batch_execute(&format!(
                "INSERT INTO generation_images (generation_id, idx, content_type, width, height, data) \
                 VALUES ('gen_m', {idx}, 'image/png', 64, 64, {bytes})"
            ))
            .unwrap();
        }
        conn.run_pending_migrations(migrations()).unwrap();
        let images: Vec<Image> = diesel::sql_query(
            "SELECT i.blob_id, b.data FROM generation_images i JOIN image_blobs b ON b.id = i.blob_id \
             WHERE i.generation_id = 'gen_m' ORDER BY i.idx",
        )
        .load(&mut conn)
        .unwrap();
        let images: Vec<(String, Vec<u8>)> = images.into_iter().map(|i| (i.blob_id, i.data)).collect();
        assert_eq!(
            images,
            [("legacy:gen_m:0".to_string(), b"png zero".to_vec()), ("legacy:gen_m:1".to_string(), b"png one".to_vec())]
        );
        // And back down (through every later migration): the bytes return to generation_images.
        while conn.applied_migrations().unwrap().len() > applied_before {
            conn.revert_last_migration(migrations()).unwrap();
        }
        let back: Vec<Image> =
            diesel::sql_query("SELECT generation_id AS blob_id, data FROM generation_images WHERE idx = 1")
                .load(&mut conn)
                .unwrap();
        assert_eq!(back[0].data, b"png one");
    }

    #[derive(diesel::QueryableByName, Debug, PartialEq)]
    struct MigratedEndpoint {
        #[diesel(sql_type = Text)]
        url: String,
        #[diesel(sql_type = Text)]
        enabled_events: String,
        #[diesel(sql_type = Text)]
        secret: String,
        #[diesel(sql_type = Text)]
        status: String,
    }

    /// A low-balance alert's webhook URL becomes an endpoint subscribed to `balance.low`, signed
    /// with the secret its receiver already has; an alert without a URL gets none.
    fn migrates_alert_webhooks(url: &str, migrations: fn() -> EmbeddedMigrations) {
        let pool = Pool::connect(url, 1).unwrap();
        let mut conn = pool.get().unwrap();
        let before_endpoints = 12;
        for _ in 0..before_endpoints {
            conn.run_next_migration(migrations()).unwrap();
        }
        conn.batch_execute(
            "INSERT INTO accounts (id, name, balance, created_at, updated_at, webhook_secret) VALUES                ('acct_w', 'w', 0, '2026-11-01 00:00:00', '2026-11-01 00:00:00', 'whsec_kept'),                ('acct_n', 'n', 0, '2026-11-01 00:00:00', '2026-11-01 00:00:00', NULL);              INSERT INTO alert_settings (account_id, enabled, threshold, webhook_url, updated_at) VALUES                ('acct_w', true, 1000000, 'https://example.com/hook', '2026-11-02 00:00:00'),                ('acct_n', true, 1000000, NULL, '2026-11-02 00:00:00');",
        )
        .unwrap();
        conn.run_pending_migrations(migrations()).unwrap();
        let endpoints: Vec<MigratedEndpoint> = diesel::sql_query(
            "SELECT url, enabled_events, secret, status FROM webhook_endpoints              WHERE managed_by = 'low_balance_alert' ORDER BY account_id",
        )
        .load(&mut conn)
        .unwrap();
        assert_eq!(
            endpoints,
            [MigratedEndpoint {
                url: "https://example.com/hook".into(),
                enabled_events: "balance.low".into(),
                secret: "whsec_kept".into(),
                status: "enabled".into(),
            }]
        );
    }

    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }

    /// A fresh SQLite database file `name` in a new temporary directory, and a pool on it.
    fn temp_sqlite(name: &str, size: u32) -> (std::path::PathBuf, Pool) {
        let dir = std::env::temp_dir().join(format!("apinfer-{name}-{}", crate::ids::random_base62(10)));
        std::fs::create_dir_all(&dir).unwrap();
        let pool = Pool::connect(&format!("sqlite://{}", dir.join(name).display()), size).unwrap();
        (dir, pool)
    }

    #[derive(diesel::QueryableByName)]
    struct Synchronous {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        synchronous: i32,
    }

    /// SQLite commits are fsynced before they return unless the pool was opened with
    /// [`SqliteDurability::Normal`] (`PRAGMA synchronous`: 2 is FULL, 1 is NORMAL).
    #[test]
    fn sqlite_commits_are_durable_unless_opted_out() {
        let dir = std::env::temp_dir().join(format!("apinfer-sync-{}", crate::ids::random_base62(10)));
        std::fs::create_dir_all(&dir).unwrap();
        let level = |options: PoolOptions| {
            let pool = Pool::connect_with(&format!("sqlite://{}", dir.join("sync.db").display()), options).unwrap();
            let row: Synchronous =
                diesel::sql_query("PRAGMA synchronous").get_result(&mut pool.get().unwrap()).unwrap();
            row.synchronous
        };
        assert_eq!(level(PoolOptions::new(1)), 2);
        assert_eq!(level(PoolOptions { sqlite_durability: SqliteDurability::Normal, ..PoolOptions::new(1) }), 1);
        assert_eq!(SqliteDurability::parse("FULL"), Some(SqliteDurability::Full));
        assert_eq!(SqliteDurability::parse("off"), None);
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// The background checkpoint copies the committed WAL into the database file: a copy of
    /// the file alone, without its WAL, has the rows.
    #[test]
    fn checkpoint_copies_the_wal_into_the_database_file() {
        let (dir, pool) = temp_sqlite("c.db", 2);
        let mut conn = pool.get().unwrap();
        conn.batch_execute("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1), (2), (3);").unwrap();
        let copy_alone = |name: &str| {
            std::fs::copy(dir.join("c.db"), dir.join(name)).unwrap();
            let mut copy = SqliteConnection::establish(dir.join(name).to_str().unwrap()).unwrap();
            diesel::sql_query("SELECT COUNT(*) AS n FROM t").get_result::<Count>(&mut copy).map(|c| c.n)
        };
        assert!(copy_alone("before.db").is_err(), "before the checkpoint the table is only in the WAL");
        checkpoint(&mut conn).unwrap();
        assert_eq!(copy_alone("after.db").unwrap(), 3);
        drop(conn);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[derive(diesel::QueryableByName)]
    struct BusyTimeout {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        timeout: i64,
    }

    /// `restart_wal` waits (briefly) for the readers still on the log, checkpoints all of it,
    /// and so the next write starts the log over, where a passive checkpoint would have stopped
    /// at the readers' snapshot and the log would have kept growing. A reader that stays gives
    /// up the restart within its short wait, not the connection's long one, which it puts back.
    #[test]
    fn restart_wal_waits_for_readers_and_starts_the_log_over() {
        let (dir, pool) = temp_sqlite("r.db", 3);
        let (mut writer, mut reader) = (pool.get().unwrap(), pool.get().unwrap());
        writer.batch_execute("CREATE TABLE t (v INTEGER)").unwrap();
        let write = |conn: &mut DbConn, n: i32| {
            for v in 0..n {
                conn.batch_execute(&format!("INSERT INTO t VALUES ({v})")).unwrap();
            }
        };
        let frames = |conn: &mut DbConn| checkpoint(conn).unwrap().unwrap();

        // A reader that began before the last writes, and stays: the restart gives up quickly.
        write(&mut writer, 5);
        reader.batch_execute("BEGIN; SELECT COUNT(*) FROM t;").unwrap();
        write(&mut writer, 40);
        let started = std::time::Instant::now();
        let pinned = restart_wal(&mut writer).unwrap().unwrap();
        assert!(pinned.busy, "{pinned:?}");
        assert!(started.elapsed() < Duration::from_millis(RESTART_WAIT_MS * 20), "{:?}", started.elapsed());
        let timeout = diesel::sql_query("PRAGMA busy_timeout").get_result::<BusyTimeout>(&mut writer).unwrap();
        assert_eq!(timeout.timeout, BUSY_TIMEOUT_MS as i64);

        // The same reader finishing a moment later: the restart waits for it.
        let finishing = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(RESTART_WAIT_MS / 5));
            reader.batch_execute("COMMIT").unwrap();
            reader
        });
        let restarted = restart_wal(&mut writer).unwrap().unwrap();
        let mut reader = finishing.join().unwrap();
        assert!(!restarted.busy && restarted.frames >= 40, "{restarted:?}");
        assert_eq!(restarted.checkpointed, restarted.frames);
        write(&mut writer, 1);
        let after = frames(&mut reader);
        assert!(after.frames < 5, "the log started over: {after:?} after {restarted:?}");
        let count = diesel::sql_query("SELECT COUNT(*) AS n FROM t").get_result::<Count>(&mut reader).unwrap();
        assert_eq!(count.n, 46);
        drop((writer, reader));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn sqlite_migrates_stored_images_to_the_blob_store() {
        let dir = std::env::temp_dir().join(format!("apinfer-migrate-{}", crate::ids::random_base62(10)));
        std::fs::create_dir_all(&dir).unwrap();
        migrates_stored_images(&format!("sqlite://{}", dir.join("m.db").display()), || SQLITE_MIGRATIONS);
        migrates_alert_webhooks(&format!("sqlite://{}", dir.join("w.db").display()), || SQLITE_MIGRATIONS);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = Text)]
        plan_cache_mode: String,
    }

    /// PostgreSQL connections plan every prepared statement for its values (see `connect`).
    #[test]
    fn postgres_connections_plan_each_statement_for_its_values() {
        let base =
            std::env::var("APINFER_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
        if PgConnection::establish(&format!("{base}/postgres")).is_err() {
            assert!(std::env::var("CI").is_err(), "no PostgreSQL at {base}");
            eprintln!("NOTICE: skipped, no PostgreSQL at {base}");
            return;
        }
        let pool = Pool::connect(&format!("{base}/postgres"), 2).unwrap();
        let mut conns = [pool.get().unwrap(), pool.get().unwrap()];
        for conn in &mut conns {
            let setting = diesel::sql_query("SHOW plan_cache_mode").get_result::<Setting>(&mut **conn).unwrap();
            assert_eq!(setting.plan_cache_mode, "force_custom_plan");
        }
    }

    #[test]
    fn postgres_migrates_stored_images_to_the_blob_store() {
        let base =
            std::env::var("APINFER_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
        let Ok(mut admin) = PgConnection::establish(&format!("{base}/postgres")) else {
            assert!(std::env::var("CI").is_err(), "no PostgreSQL at {base}");
            eprintln!("NOTICE: skipped, no PostgreSQL at {base}");
            return;
        };
        let name = format!("apinfer_migrate_{}", crate::ids::random_base62(10).to_lowercase());
        diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut admin).unwrap();
        let second = format!("{name}_w");
        diesel::sql_query(format!("CREATE DATABASE {second}")).execute(&mut admin).unwrap();
        let outcome = std::panic::catch_unwind(|| {
            migrates_stored_images(&format!("{base}/{name}"), || POSTGRES_MIGRATIONS);
            migrates_alert_webhooks(&format!("{base}/{second}"), || POSTGRES_MIGRATIONS);
        });
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {second} WITH (FORCE)")).execute(&mut admin);
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin);
        outcome.unwrap();
    }
}
