//! What the group-commit lane costs per generation, without HTTP: batches of reservations and
//! of captures (`generating::reserve_set` and `capture_set`, each in its own write transaction,
//! as the API's committer runs them) over 1,000 accounts, each with an API key and a lot, on
//! SQLite. One thread, so the figure is the lane's own time per generation, free of the load
//! generator and the HTTP workers that share the machine in `bench/run`: the number to compare
//! when changing what the lane's statements do.
//!
//! `cargo bench -p apinfer-core --bench batch` prints `BATCH backend=sqlite batch=N
//! generations_per_s=... us_per_generation=...` per batch size. Environment: `BENCH_SECONDS`
//! (per batch size, default 5), `BATCH_SIZES` (default `8,32`), `BENCH_BATCHES` (run exactly
//! this many batches instead, after a quarter as many to warm up: the same work every run, to
//! compare instruction counts under `valgrind --tool=callgrind`), `BENCH_TRACE` (set: print
//! each statement the lane runs, to standard error). Under `cargo test` it only smoke-tests
//! itself for a fraction of a second.

use std::time::{Duration, Instant};

use apinfer_core::db::{write_transaction, DbConn, Pool};
use apinfer_core::domain::Email;
use apinfer_core::generating::{self, Capture, GenerationRequest, Reservation};
use apinfer_core::ids::{AccountId, ApiKeyId, UserId};
use apinfer_core::payments::sandbox::SandboxProvider;
use apinfer_core::pricing::Quality;
use apinfer_core::purchasing::{self, Payment, PurchaseOutcome, PurchaseRequest};
use apinfer_core::store::accounts::{self, NewUser};
use apinfer_core::store::api_keys::{self, NewKey, Scope};
use apinfer_core::store::generations::{GenerationMode, NewImage};
use apinfer_core::Credits;
use chrono::Utc;

/// Accounts the batches spread over.
const ACCOUNTS: usize = 1_000;
/// The stored image every capture shows (the API stores each distinct image once).
const BLOB: &str = "sha256:bench";

/// One account's caller: the account, its owner and the owner's key.
struct Caller {
    account: AccountId,
    user: UserId,
    key: ApiKeyId,
}

/// Seeds `accounts` accounts, each with a key, a lot bought by bank transfer and a large
/// adjusted balance.
fn seed(conn: &mut DbConn, accounts: usize) -> Vec<Caller> {
    let now = Utc::now();
    let callers: Vec<Caller> = (0..accounts)
        .map(|i| {
            let email = Email::parse(&format!("bench{i}@example.com")).expect("email");
            let new = NewUser { email: &email, password_hash: "x", name: None, is_admin: false };
            let (user, account) = accounts::create_user_with_account(conn, new, now).expect("user");
            let (key, _) = api_keys::create(
                conn,
                NewKey {
                    account_id: &account.id,
                    user_id: &user.id,
                    name: "bench",
                    scopes: &[Scope::GenerationsWrite],
                    spend_limit: None,
                    spend_limit_reset: None,
                    expires_at: None,
                },
                now,
            )
            .expect("key");
            let request = PurchaseRequest {
                account_id: &account.id,
                package_id: "basic",
                payment: Payment::BankTransfer,
                user_id: None,
                api_key_id: None,
                auto_topup: false,
            };
            let Ok(PurchaseOutcome::Accepted(purchase)) =
                purchasing::purchase(conn, &SandboxProvider { base_url: "http://127.0.0.1:1".into() }, request, now)
            else {
                panic!("a bank transfer is accepted");
            };
            apinfer_core::crediting::credit(conn, &purchase.id, None, now).expect("credit");
            apinfer_core::adjusting::adjust(
                conn,
                &account.id,
                Credits::from_units(1_000_000_000_000),
                "bench",
                &user.id,
                now,
            )
            .expect("adjust");
            Caller { account: account.id, user: user.id, key: key.id }
        })
        .collect();
    apinfer_core::store::images::store(conn, &[(BLOB, b"\x89PNG".as_slice())], chrono::Utc::now()).expect("blob");
    callers
}

fn request(caller: &Caller) -> GenerationRequest {
    GenerationRequest {
        account_id: caller.account.clone(),
        api_key_id: Some(caller.key.clone()),
        user_id: Some(caller.user.clone()),
        model: "qwen-image".into(),
        prompt: apinfer_core::domain::Prompt::parse("a lighthouse").expect("a valid prompt"),
        size: Some("512x512".into()),
        quality: Quality::Standard,
        n: apinfer_core::domain::ImageCount::ONE,
        response_format: apinfer_core::domain::ResponseFormat::Url,
    }
}

/// How long a measurement runs.
#[derive(Clone, Copy)]
enum Span {
    Time(Duration),
    /// A fixed number of batches: the same work on every run, for instruction counts.
    Batches(usize),
}

impl Span {
    fn done(self, started: Instant, batches: usize) -> bool {
        match self {
            Span::Time(duration) => started.elapsed() >= duration,
            Span::Batches(count) => batches >= count,
        }
    }

    fn warm_up(self) -> Span {
        match self {
            Span::Time(duration) => Span::Time(duration / 4),
            Span::Batches(count) => Span::Batches(count.div_ceil(4)),
        }
    }
}

/// Runs batches of `batch` reservations then captures for `span`; returns generations/s.
fn measure(conn: &mut DbConn, callers: &[Caller], batch: usize, span: Span) -> f64 {
    let prepared = generating::prepare(conn, &request(&callers[0])).expect("prepare");
    let image = || NewImage { content_type: "image/png".into(), width: 512, height: 512, blob_id: BLOB.into() };
    let (started, mut done, mut next) = (Instant::now(), 0_usize, 0_usize);
    while !span.done(started, next) {
        let now = Utc::now();
        let reservations: Vec<Reservation> = (0..batch)
            .map(|i| Reservation {
                // A stride through the accounts, so that a batch's accounts are spread.
                request: request(&callers[(next + i * 37) % callers.len()]),
                prepared: prepared.clone(),
                mode: GenerationMode::Sync,
                hold_expires_at: now + chrono::Duration::minutes(5),
                now,
            })
            .collect();
        next += 1;
        let reservations: Vec<&Reservation> = reservations.iter().collect();
        let reserved = write_transaction(conn, |conn| generating::reserve_set(conn, &reservations)).expect("reserve");
        let captures: Vec<Capture> = reserved
            .into_iter()
            .map(|outcome| outcome.expect("reserved"))
            .map(|(generation, hold)| Capture { generation, hold, images: vec![image()], now: Utc::now() })
            .collect();
        let captures: Vec<&Capture> = captures.iter().collect();
        write_transaction(conn, |conn| generating::capture_set(conn, &captures)).expect("capture");
        done += batch;
    }
    done as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let benching = std::env::args().any(|arg| arg == "--bench");
    let seconds: f64 = std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let span = match std::env::var("BENCH_BATCHES").ok().and_then(|s| s.parse().ok()) {
        Some(batches) => Span::Batches(batches),
        None if benching => Span::Time(Duration::from_secs_f64(seconds)),
        None => Span::Time(Duration::from_millis(200)),
    };
    let sizes: Vec<usize> = std::env::var("BATCH_SIZES")
        .unwrap_or_else(|_| "8,32".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();

    let dir = std::env::temp_dir().join(format!("apinfer-batch-{}", apinfer_core::ids::random_base62(12)));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let pool = Pool::connect(&format!("sqlite://{}", dir.join("batch.db").display()), 2).expect("pool");
    pool.migrate().expect("migrations");
    let mut conn = pool.get().expect("connection");
    let callers = seed(&mut conn, if benching { ACCOUNTS } else { 40 });
    // As the server does: the WAL is copied back in the background, every 200 ms.
    let checkpoints = pool.clone();
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_millis(200));
        if let Ok(mut conn) = checkpoints.get() {
            let _ = apinfer_core::db::checkpoint(&mut conn);
        }
    });
    if std::env::var_os("BENCH_TRACE").is_some() {
        use diesel::connection::{Connection, InstrumentationEvent};
        conn.set_instrumentation(|event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::StartQuery { query, .. } = event {
                eprintln!("{query}");
            }
        });
    }
    for batch in sizes {
        // A first pass warms the page cache and the statement cache.
        measure(&mut conn, &callers, batch, span.warm_up());
        let per_second = measure(&mut conn, &callers, batch, span);
        println!(
            "BATCH backend=sqlite batch={batch} generations_per_s={per_second:.0} us_per_generation={:.1}",
            1e6 / per_second
        );
    }
    drop(conn);
    drop(pool);
    let _ = std::fs::remove_dir_all(&dir);
}
