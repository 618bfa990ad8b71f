//! Usage-query benchmark: one account with 1,000,000 generation ledger entries (and the daily
//! rollup their captures would have written: a year × 4 models × 10 keys × 3 members), on
//! SQLite and PostgreSQL; prints the time of `/v1/usage`'s query for each `group_by` and of
//! the first page of `/v1/transactions`.
//!
//! `cargo bench -p apinfer-core --bench usage` (PostgreSQL from `APINFER_TEST_POSTGRES_URL`,
//! default `postgres://postgres@127.0.0.1:5432`; `USAGE_BENCH_ENTRIES` overrides the count; under
//! `cargo test` it seeds 10,000 as a smoke check).

use std::time::{Duration, Instant};

use apinfer_core::db::{DbConn, Pool};
use apinfer_core::ids::AccountId;
use apinfer_core::store::accounts::{create_user_with_account, NewUser};
use apinfer_core::store::entries::{list_entries, EntryFilter};
use apinfer_core::store::usage::{query, GroupBy};
use chrono::{Duration as Days, NaiveDate, Utc};
use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl};

fn seed(conn: &mut DbConn, account: &AccountId, entries: i64) {
    let pg = matches!(conn, DbConn::Pg(_));
    let series = if pg {
        format!("SELECT g AS i FROM generate_series(1, {entries}) AS g")
    } else {
        format!("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {entries}) SELECT i FROM s")
    };
    let ts = if pg {
        "TIMESTAMP '2026-01-01' + (i % 365) * INTERVAL '1 day'"
    } else {
        "datetime('2026-01-01', '+' || (i % 365) || ' days')"
    };
    conn.batch_execute(&format!(
        "INSERT INTO ledger_entries (id, account_id, entry_type, credits, balance_after, reference_id, description, created_at) \
         SELECT 'txn_bench' || i, '{account}', 'generation', -17500, 0, 'gen_bench' || i, 'bench', {ts} FROM ({series}) AS s"
    ))
    .expect("seeding ledger entries");
    let per_row = entries / (365 * 4 * 10 * 3);
    let days = if pg {
        "SELECT to_char(DATE '2026-01-01' + d, 'YYYY-MM-DD') AS day FROM generate_series(0, 364) AS d".to_string()
    } else {
        "WITH RECURSIVE s(d) AS (SELECT 0 UNION ALL SELECT d + 1 FROM s WHERE d < 364) SELECT date('2026-01-01', '+' || d || ' days') AS day FROM s".to_string()
    };
    let small = |n: i64| {
        if pg {
            format!("SELECT g AS v FROM generate_series(0, {}) AS g", n - 1)
        } else {
            format!(
                "WITH RECURSIVE s(v) AS (SELECT 0 UNION ALL SELECT v + 1 FROM s WHERE v < {}) SELECT v FROM s",
                n - 1
            )
        }
    };
    conn.batch_execute(&format!(
        "INSERT INTO usage_daily (account_id, day, model, api_key_id, user_id, credits, generations, images) \
         SELECT '{account}', days.day, 'model-' || m.v, 'key_' || k.v, 'usr_' || u.v, {credits}, {per_row}, {per_row} \
         FROM ({days}) AS days, ({models}) AS m, ({keys}) AS k, ({users}) AS u",
        credits = per_row.max(1) * 17500,
        per_row = per_row.max(1),
        models = small(4),
        keys = small(10),
        users = small(3),
    ))
    .expect("seeding the rollup");
    conn.batch_execute("ANALYZE").expect("analyze");
}

fn time<T>(runs: u32, mut f: impl FnMut() -> T) -> Duration {
    f();
    let mut best = Duration::MAX;
    for _ in 0..runs {
        let start = Instant::now();
        std::hint::black_box(f());
        best = best.min(start.elapsed());
    }
    best
}

fn run(name: &str, url: &str, entries: i64) {
    let pool = Pool::connect(url, 2).expect("pool");
    pool.migrate().expect("migrations");
    let mut conn = pool.get().expect("connection");
    let (_, account) = create_user_with_account(
        &mut conn,
        NewUser {
            email: &apinfer_core::domain::Email::parse(&format!(
                "bench-{}@example.com",
                apinfer_core::ids::random_base62(6)
            ))
            .expect("email"),
            password_hash: "x",
            name: None,
            is_admin: false,
        },
        Utc::now(),
    )
    .expect("account");
    let started = Instant::now();
    seed(&mut conn, &account.id, entries);
    println!("{name}: seeded {entries} ledger entries in {:.1} s", started.elapsed().as_secs_f64());
    let (from, to) = (
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default(),
        NaiveDate::from_ymd_opt(2027, 1, 1).unwrap_or_default(),
    );
    for group_by in [GroupBy::Model, GroupBy::Day, GroupBy::ApiKey, GroupBy::Member] {
        let mut buckets = 0;
        let took = time(10, || {
            let rows = query(&mut conn, &account.id, from, to, group_by).expect("usage query");
            buckets = rows.len();
        });
        println!(
            "{name}: GET /v1/usage?group_by={:<8} {:>8.2} ms  ({buckets} buckets, a full year)",
            group_by.as_str(),
            took.as_secs_f64() * 1e3
        );
    }
    let last_month =
        time(10, || query(&mut conn, &account.id, to - Days::days(30), to, GroupBy::Day).expect("usage query"));
    println!("{name}: GET /v1/usage?group_by=day (last 30 days) {:>8.2} ms", last_month.as_secs_f64() * 1e3);
    let page = time(10, || list_entries(&mut conn, &account.id, &EntryFilter::default(), None, 20).expect("list"));
    println!("{name}: GET /v1/transactions (first page of 20) {:>8.2} ms", page.as_secs_f64() * 1e3);
}

fn main() {
    // `cargo test --all-targets` runs this binary without `--bench`: a small smoke run then.
    let default = if std::env::args().any(|a| a == "--bench") { 1_000_000 } else { 10_000 };
    let entries: i64 = std::env::var("USAGE_BENCH_ENTRIES").ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let dir = std::env::temp_dir().join(format!("apinfer-usage-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    run("sqlite", &format!("sqlite://{}", dir.join("bench.db").display()), entries);
    let _ = std::fs::remove_dir_all(&dir);
    let admin =
        std::env::var("APINFER_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let name = format!("apinfer_usage_bench_{}", std::process::id());
    match diesel::PgConnection::establish(&format!("{admin}/postgres")) {
        Ok(mut conn) => {
            diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut conn).expect("create database");
            run("postgres", &format!("{admin}/{name}"), entries);
            let _ = diesel::sql_query(format!("DROP DATABASE {name} WITH (FORCE)")).execute(&mut conn);
        }
        Err(e) => println!("postgres: skipped ({e})"),
    }
}
