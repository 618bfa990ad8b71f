//! The raw spend-transaction ceiling: what the database can do for the generation path's money
//! movement with no HTTP in front of it.
//!
//! Each transaction is exactly what `ledger::append_entry` does for a debit, inside
//! `db::write_transaction`: the conditional `UPDATE accounts ... WHERE balance - held >= x` and the
//! `INSERT INTO ledger_entries`, through the application's own pool (same SQLite pragmas, same
//! `BEGIN IMMEDIATE`). It runs with N threads, spread over 1,000 accounts and on one hot account,
//! on SQLite (a temp file) and PostgreSQL (a fresh database on `APINFER_TEST_POSTGRES_URL`,
//! default `postgres://postgres@127.0.0.1:5432`, dropped afterwards).
//!
//! `cargo bench -p apinfer-core --bench spend` prints one `SPEND ...` line per run and one
//! `SPEND_CEILING ...` line (the best thread count) per backend and scenario; `bench/run` reads
//! those. Environment: `BENCH_SECONDS` (per run, default 5), `SPEND_THREADS` (default `1,4,16`),
//! `SPEND_BACKENDS` (default `sqlite,postgres`). Under `cargo test` (no `--bench` argument) it
//! only smoke-tests itself on SQLite for a fraction of a second.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use apinfer_core::db::schema::accounts;
use apinfer_core::db::{write_transaction, Pool, PoolOptions, SqliteDurability};
use apinfer_core::ids::AccountId;
use apinfer_core::ledger::{append_entry, EntryType, NewEntry};
use apinfer_core::Credits;
use diesel::{Connection, ExpressionMethods, RunQueryDsl};

/// Accounts in the spread scenario.
const ACCOUNTS: usize = 1_000;
/// What one spend takes: a standard 1024x1024 Qwen-Image generation, 1.75 credits.
const SPEND_UNITS: i64 = 17_500;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scenario {
    Spread,
    Hot,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Spread => "spread",
            Scenario::Hot => "hot",
        }
    }
}

/// One measured run.
struct Run {
    threads: usize,
    tx_per_second: f64,
    p50_us: u64,
    p99_us: u64,
    errors: u64,
}

/// A database made for this benchmark, removed on drop.
enum BenchDb {
    Sqlite { dir: std::path::PathBuf },
    Postgres { admin_url: String, name: String },
}

impl Drop for BenchDb {
    fn drop(&mut self) {
        match self {
            BenchDb::Sqlite { dir } => {
                let _ = std::fs::remove_dir_all(dir);
            }
            BenchDb::Postgres { admin_url, name } => {
                if let Ok(mut conn) = diesel::PgConnection::establish(admin_url) {
                    let _ =
                        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn);
                }
            }
        }
    }
}

fn create_db(backend: &str) -> Option<(String, BenchDb)> {
    let suffix = apinfer_core::ids::random_base62(12).to_lowercase();
    match backend {
        "sqlite" => {
            let dir = std::env::temp_dir().join(format!("apinfer-spend-{suffix}"));
            std::fs::create_dir_all(&dir).expect("temp dir");
            let url = format!("sqlite://{}", dir.join("spend.db").display());
            Some((url, BenchDb::Sqlite { dir }))
        }
        "postgres" => {
            let base = std::env::var("APINFER_TEST_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
            let admin_url = format!("{base}/postgres");
            let mut conn = match diesel::PgConnection::establish(&admin_url) {
                Ok(conn) => conn,
                Err(e) => {
                    eprintln!("NOTICE: skipping PostgreSQL, no server at {base}: {e}");
                    return None;
                }
            };
            let name = format!("apinfer_bench_{suffix}");
            diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut conn).expect("create bench database");
            Some((format!("{base}/{name}"), BenchDb::Postgres { admin_url, name }))
        }
        other => panic!("unknown backend {other:?} (use sqlite or postgres)"),
    }
}

/// Seeds `ACCOUNTS` accounts with a balance no run can exhaust.
fn seed(pool: &Pool) -> Vec<AccountId> {
    let mut conn = pool.get().expect("connection");
    let now = chrono::Utc::now().naive_utc();
    let ids: Vec<AccountId> = (0..ACCOUNTS).map(|i| AccountId::from_db(format!("acct_b{i}"))).collect();
    write_transaction(&mut conn, |conn| {
        for id in &ids {
            diesel::insert_into(accounts::table)
                .values((
                    accounts::id.eq(id.as_str()),
                    accounts::name.eq("bench"),
                    accounts::balance.eq(1_000_000_000_000_000_i64),
                    accounts::created_at.eq(now),
                    accounts::updated_at.eq(now),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
    .expect("seeding accounts");
    ids
}

fn measure(pool: &Pool, ids: &Arc<Vec<AccountId>>, scenario: Scenario, threads: usize, duration: Duration) -> Run {
    let stop = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(threads + 1));
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (pool, ids, stop, start) = (pool.clone(), ids.clone(), stop.clone(), start.clone());
            std::thread::spawn(move || {
                let mut conn = pool.get().expect("connection");
                let mut latencies = Vec::with_capacity(1 << 16);
                let mut errors = 0_u64;
                // A cheap per-thread LCG spreads the accounts without a shared RNG.
                let mut state = 0x9E37_79B9_7F4A_7C15_u64 ^ (t as u64).wrapping_mul(0xD1B5_4A32_D192_ED03);
                start.wait();
                while !stop.load(Ordering::Relaxed) {
                    state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                    let account = match scenario {
                        Scenario::Spread => &ids[(state >> 33) as usize % ids.len()],
                        Scenario::Hot => &ids[0],
                    };
                    let began = Instant::now();
                    let outcome = write_transaction(&mut conn, |conn| {
                        append_entry(
                            conn,
                            NewEntry {
                                account_id: account,
                                entry_type: EntryType::Generation,
                                credits: Credits::from_units(-SPEND_UNITS),
                                reference_id: Some("gen_bench"),
                                description: "1 × standard 1024x1024 image(s) of qwen-image",
                                user_id: None,
                                api_key_id: None,
                            },
                            chrono::Utc::now(),
                        )
                    });
                    match outcome {
                        Ok(_) => latencies.push(began.elapsed().as_micros() as u64),
                        Err(_) => errors += 1,
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    start.wait();
    let began = Instant::now();
    std::thread::sleep(duration);
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in workers {
        let (l, e) = worker.join().expect("worker thread");
        latencies.extend(l);
        errors += e;
    }
    let elapsed = began.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let percentile = |p: f64| {
        if latencies.is_empty() {
            0
        } else {
            latencies[((latencies.len() - 1) as f64 * p).round() as usize]
        }
    };
    Run {
        threads,
        tx_per_second: latencies.len() as f64 / elapsed,
        p50_us: percentile(0.50),
        p99_us: percentile(0.99),
        errors,
    }
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| default.to_string())
}

fn main() {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let (seconds, threads, backends) = if bench_mode {
        let seconds: f64 = env_or("BENCH_SECONDS", "5").parse().expect("BENCH_SECONDS is a number");
        (seconds, env_or("SPEND_THREADS", "1,4,16"), env_or("SPEND_BACKENDS", "sqlite,postgres"))
    } else {
        // `cargo test --all-targets` runs this binary without `--bench`: just prove it works.
        (0.1, "2".to_string(), "sqlite".to_string())
    };
    let threads: Vec<usize> =
        threads.split(',').map(|t| t.trim().parse().expect("SPEND_THREADS is a list of numbers")).collect();
    let duration = Duration::from_secs_f64(seconds);
    for backend in backends.split(',').map(str::trim) {
        let Some((url, db)) = create_db(backend) else { continue };
        let max_threads = *threads.iter().max().unwrap_or(&1) as u32;
        // The ceiling of the transaction's own work: on SQLite without an fsync per commit
        // (`synchronous = NORMAL`), which one transaction per commit would otherwise pay in full
        // while the server's group commit pays it once per batch (bench/RESULTS.md, 2026-12-02).
        let options =
            PoolOptions { sqlite_durability: SqliteDurability::Normal, ..PoolOptions::new(max_threads.max(1)) };
        let pool = Pool::connect_with(&url, options).expect("pool");
        pool.migrate().expect("migrations");
        let ids = Arc::new(seed(&pool));
        for scenario in [Scenario::Spread, Scenario::Hot] {
            let mut best: Option<Run> = None;
            for &t in &threads {
                let run = measure(&pool, &ids, scenario, t, duration);
                println!(
                    "SPEND backend={backend} scenario={} threads={} tx_per_s={:.0} p50_us={} p99_us={} errors={}",
                    scenario.name(),
                    run.threads,
                    run.tx_per_second,
                    run.p50_us,
                    run.p99_us,
                    run.errors
                );
                assert!(run.tx_per_second > 0.0, "no transaction committed on {backend}");
                if run.tx_per_second > best.as_ref().map(|b| b.tx_per_second).unwrap_or(-1.0) {
                    best = Some(run);
                }
            }
            if let Some(best) = best {
                println!(
                    "SPEND_CEILING backend={backend} scenario={} tx_per_s={:.0} threads={} p50_us={} p99_us={}",
                    scenario.name(),
                    best.tx_per_second,
                    best.threads,
                    best.p50_us,
                    best.p99_us
                );
            }
        }
        drop(pool);
        drop(db);
    }
}
