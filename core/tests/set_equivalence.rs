//! Holds, captures, credits and debits run as sets (`reserve_set`, `capture_set`, used by group
//! commit when requests queue together, and `append_entries`) must leave exactly what running
//! them one by one leaves. The
//! same scenario runs both ways on two fresh databases of one backend, and everything a user or
//! the ledger can see is compared: each request's outcome, balances, key and member counters,
//! holds, generations, ledger entries in order with their running balances, lots, the usage
//! rollup, alerts and automatic top-up requests.

use apinfer_core::db::{write_transaction, DbConn, Pool};
use apinfer_core::generating::{self, Capture, Captured, GenerationRequest, Prepared, Reservation};
use apinfer_core::ids::{AccountId, ApiKeyId, UserId};
use apinfer_core::ledger::holds::{self, Hold};
use apinfer_core::ledger::{self, EntryType, NewEntry};
use apinfer_core::payments::sandbox::SandboxProvider;
use apinfer_core::pricing::Quality;
use apinfer_core::purchasing::{self, Payment, PurchaseOutcome, PurchaseRequest};
use apinfer_core::store::accounts::{self, AccountType, NewUser, Role};
use apinfer_core::store::api_keys::{self, NewKey, Scope};
use apinfer_core::store::entries::LedgerEntry;
use apinfer_core::store::generations::{Generation, GenerationMode, NewImage};
use apinfer_core::store::members;
use apinfer_core::Credits;
use chrono::{DateTime, TimeZone, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;

fn at(minute: u32, second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 12, minute, second).unwrap()
}

/// Who is who in one database.
struct World {
    a: AccountId,
    b: AccountId,
    owner: UserId,
    member: UserId,
    other: UserId,
    key: ApiKeyId,
}

fn user(conn: &mut DbConn, email: &str) -> (UserId, AccountId) {
    let email = apinfer_core::domain::Email::parse(email).unwrap();
    let new = NewUser { email: &email, password_hash: "x", name: None, is_admin: false };
    let (user, account) = accounts::create_user_with_account(conn, new, at(0, 0)).unwrap();
    (user.id, account.id)
}

/// A basic package bought by bank transfer and credited, as an admin confirming the transfer
/// would.
fn buy(conn: &mut DbConn, account: &AccountId, now: DateTime<Utc>) {
    let request = PurchaseRequest {
        account_id: account,
        package_id: "basic",
        payment: Payment::BankTransfer,
        user_id: None,
        api_key_id: None,
        auto_topup: false,
    };
    let PurchaseOutcome::Accepted(purchase) =
        purchasing::purchase(conn, &SandboxProvider { base_url: "http://127.0.0.1:1".into() }, request, now).unwrap()
    else {
        panic!("a bank transfer is accepted");
    };
    apinfer_core::crediting::credit(conn, &purchase.id, None, now).unwrap();
}

/// Account A (business): a 100-credit lot, then −85 adjusted (15 left, all from the lot), then a
/// second lot not yet reached; alert at 10 and automatic top-up at 5 available. Its owner has a
/// key limited to 6 credits; a member is limited to 5 a month. Account B: 10 adjusted credits,
/// no lots.
fn world(conn: &mut DbConn) -> World {
    let (owner, a) = user(conn, "owner@example.com");
    let (member, _) = user(conn, "member@example.com");
    let (other, b) = user(conn, "other@example.com");
    accounts::set_account_type(conn, &a, AccountType::Business, at(0, 1)).unwrap();
    members::add(conn, &a, "member@example.com", Role::Member, Some(Credits::from_units(50_000)), at(0, 2)).unwrap();
    let (key, _) = api_keys::create(
        conn,
        NewKey {
            account_id: &a,
            user_id: &owner,
            name: "limited",
            scopes: &[Scope::GenerationsWrite],
            spend_limit: Some(Credits::from_units(60_000)),
            spend_limit_reset: None,
            expires_at: None,
        },
        at(0, 3),
    )
    .unwrap();
    buy(conn, &a, at(0, 4));
    apinfer_core::adjusting::adjust(conn, &a, Credits::from_units(-850_000), "test", &owner, at(0, 5)).unwrap();
    apinfer_core::adjusting::adjust(conn, &b, Credits::from_units(100_000), "test", &other, at(0, 6)).unwrap();
    buy(conn, &a, at(0, 7));
    apinfer_core::adjusting::adjust(conn, &a, Credits::from_units(-1_000_000), "test", &owner, at(0, 8)).unwrap();
    conn.batch_execute(&format!(
        "UPDATE accounts SET low_balance_threshold = 100000, auto_topup_threshold = 50000 WHERE id = '{}'",
        a.as_str()
    ))
    .unwrap();
    World { a, b, owner, member, other, key: key.id }
}

/// One request of the scenario: account (A, B or a missing one), who, through the key or not,
/// and how many images.
#[derive(Clone, Copy)]
enum Who {
    OwnerKey,
    Owner,
    Member,
    Other,
    Nobody,
}

const ASKED: [(Who, u32); 9] = [
    (Who::OwnerKey, 2), // A: 3.5 of the key's 6; 15 → 11.5 available
    (Who::Other, 1),    // B: 10 → 8.25
    (Who::OwnerKey, 2), // A: refused, the key's limit (7 > 6)
    (Who::Member, 2),   // A: 3.5 of the member's 5; 11.5 → 8, the alert at 10
    (Who::Nobody, 1),   // no such account
    (Who::Member, 1),   // A: refused, the member's limit (5.25 > 5)
    (Who::Owner, 4),    // A: 8 → 1, the top-up at 5
    (Who::Owner, 1),    // A: refused, insufficient (1 available)
    (Who::Other, 4),    // B: 8.25 → 1.25
];

fn prepare(conn: &mut DbConn, world: &World, missing: &AccountId) -> Vec<(GenerationRequest, Prepared)> {
    ASKED
        .iter()
        .map(|(who, n)| {
            let (account, key, user) = match who {
                Who::OwnerKey => (world.a.clone(), Some(world.key.clone()), world.owner.clone()),
                Who::Owner => (world.a.clone(), None, world.owner.clone()),
                Who::Member => (world.a.clone(), None, world.member.clone()),
                Who::Other => (world.b.clone(), None, world.other.clone()),
                Who::Nobody => (missing.clone(), None, world.other.clone()),
            };
            let request = GenerationRequest {
                account_id: account,
                api_key_id: key,
                user_id: Some(user),
                model: "qwen-image".into(),
                prompt: apinfer_core::domain::Prompt::parse("a lighthouse").unwrap(),
                size: Some("512x512".into()),
                quality: Quality::Standard,
                n: apinfer_core::domain::ImageCount::new(*n).unwrap(),
                response_format: apinfer_core::domain::ResponseFormat::Url,
            };
            let prepared = generating::prepare(conn, &request).unwrap();
            (request, prepared)
        })
        .collect()
}

/// What one database looked like, with ids replaced by who or which request they are.
#[derive(Debug, PartialEq)]
struct Seen {
    reserved: Vec<String>,
    appended: Vec<String>,
    captured: Vec<String>,
    tables: Vec<Vec<String>>,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    line: String,
}

/// Runs the scenario: reserve everything, release one hold (as the sweeper would after its
/// expiry), capture the rest. `sets` chooses the set functions or one by one.
fn run(pool: &Pool, sets: bool) -> Seen {
    let mut conn = pool.get().unwrap();
    let conn = &mut *conn;
    let world = world(conn);
    let missing = AccountId::from_db("acct_missing".into());
    let asked = prepare(conn, &world, &missing);
    let reservations: Vec<Reservation> = asked
        .into_iter()
        .enumerate()
        .map(|(i, (request, prepared))| Reservation {
            request,
            prepared,
            mode: GenerationMode::Sync,
            hold_expires_at: at(30, 0),
            now: at(1, i as u32),
        })
        .collect();
    let reserved: Vec<Result<(Generation, Hold), String>> = if sets {
        let all: Vec<&Reservation> = reservations.iter().collect();
        write_transaction(conn, |conn| generating::reserve_set(conn, &all))
            .unwrap()
            .into_iter()
            .map(|outcome| outcome.map_err(|e| format!("{e:?}")))
            .collect()
    } else {
        reservations
            .iter()
            .map(|r| write_transaction(conn, |conn| generating::reserve(conn, r)).map_err(|e| format!("{e:?}")))
            .collect()
    };

    let ok: Vec<&(Generation, Hold)> = reserved.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(ok.len(), 5, "the scenario accepts five of its nine requests");
    // The member's hold expires and is released before its capture.
    let expired = &ok[2].1;
    assert!(
        write_transaction(conn, |conn| holds::release_set(conn, &[(&expired.account_id, &expired.id)], at(31, 0)))
            .unwrap()[0]
    );

    let blob = "sha256:0000";
    let image = || NewImage { content_type: "image/png".into(), width: 512, height: 512, blob_id: blob.into() };
    apinfer_core::store::images::store(conn, &[(blob, b"\x89PNG".as_slice())], chrono::Utc::now()).unwrap();
    let captures: Vec<Capture> = ok
        .iter()
        .map(|(generation, hold)| Capture {
            generation: generation.clone(),
            hold: hold.clone(),
            images: (0..generation.n).map(|_| image()).collect(),
            now: at(2, 0),
        })
        .collect();
    let captured: Vec<Captured> = if sets {
        let all: Vec<&Capture> = captures.iter().collect();
        write_transaction(conn, |conn| generating::capture_set(conn, &all)).unwrap()
    } else {
        captures.iter().map(|c| write_transaction(conn, |conn| generating::capture(conn, c)).unwrap()).collect()
    };

    // Credits and debits: accepted ones on both accounts (a debit crossing nothing new), and
    // each kind of refusal: insufficient, past the maximum balance, no such account.
    let entry = |account_id, units: i64, description| NewEntry {
        account_id,
        entry_type: EntryType::Adjustment,
        credits: Credits::from_units(units),
        reference_id: None,
        description,
        user_id: None,
        api_key_id: None,
    };
    let entries = [
        entry(&world.b, 20_000, "credit b"),
        entry(&world.a, -5_000, "debit a"),
        entry(&world.a, -1_000_000, "too much"),
        entry(&world.b, apinfer_core::credits::MAX_BALANCE.units(), "past the maximum"),
        entry(&missing, 10_000, "nobody"),
        entry(&world.a, 30_000, "credit a"),
    ];
    let appended: Vec<Result<LedgerEntry, String>> = if sets {
        write_transaction(conn, |conn| ledger::append_entries(conn, &entries, at(3, 0)))
            .unwrap()
            .into_iter()
            .map(|outcome| outcome.map_err(|e| format!("{e:?}")))
            .collect()
    } else {
        entries
            .iter()
            .map(|e| {
                write_transaction(conn, |conn| ledger::append_entry(conn, e.clone(), at(3, 0)))
                    .map_err(|e| format!("{e:?}"))
            })
            .collect()
    };

    // Names for ids: accounts, users and the key by role, generations by request number.
    let mut names: Vec<(String, String)> = vec![
        (world.a.as_str().into(), "A".into()),
        (world.b.as_str().into(), "B".into()),
        (world.owner.as_str().into(), "owner".into()),
        (world.member.as_str().into(), "member".into()),
        (world.other.as_str().into(), "other".into()),
        (world.key.as_str().into(), "key".into()),
    ];
    let lots: Vec<Row> =
        diesel::sql_query("SELECT id AS line FROM purchases ORDER BY succeeded_at").load(conn).unwrap();
    for (i, lot) in lots.iter().enumerate() {
        names.push((lot.line.clone(), format!("lot{i}")));
    }
    for (i, outcome) in reserved.iter().enumerate() {
        if let Ok((generation, hold)) = outcome {
            names.push((generation.id.as_str().into(), format!("gen{i}")));
            names.push((hold.id.as_str().into(), format!("hold{i}")));
        }
    }
    let rename = |mut text: String| {
        for (id, name) in &names {
            text = text.replace(id.as_str(), name);
        }
        text
    };
    let queries = [
        "SELECT a.name || ' ' || a.balance || ' ' || a.held AS line FROM accounts a ORDER BY a.name",
        "SELECT id || ' ' || spent AS line FROM api_keys ORDER BY id",
        "SELECT user_id || ' ' || month || ' ' || spent AS line FROM member_spend",
        "SELECT reference_id || ' ' || amount || ' ' || status || ' ' || COALESCE(api_key_id, '-') || ' ' \
           || COALESCE(user_id, '-') AS line FROM holds",
        "SELECT id || ' ' || status || ' ' || credits_cost || ' ' || credits_charged || ' ' \
           || COALESCE(error_code, '-') || ' ' || (SELECT COUNT(*) FROM generation_images i WHERE i.generation_id = g.id) \
           AS line FROM generations g",
        "SELECT e.account_id || ' ' || entry_type || ' ' || credits || ' ' || balance_after || ' ' || description \
           || ' ' || COALESCE(reference_id, '-') || ' ' || COALESCE(user_id, '-') || ' ' || COALESCE(api_key_id, '-') \
           AS line FROM ledger_entries e JOIN accounts a ON a.id = e.account_id ORDER BY a.name, e.seq",
        "SELECT account_id || ' ' || credits || ' ' || credits_remaining AS line FROM purchases ORDER BY succeeded_at",
        "SELECT account_id || ' ' || day || ' ' || model || ' ' || api_key_id || ' ' || user_id || ' ' || credits \
           || ' ' || generations || ' ' || images AS line FROM usage_daily",
        "SELECT account_id || ' ' || kind || ' ' || message AS line FROM notifications",
        "SELECT account_id || ' ' || status AS line FROM auto_topup_requests",
    ];
    let tables = queries
        .iter()
        .map(|query| {
            let rows: Vec<Row> = diesel::sql_query(*query).load(conn).unwrap();
            // Rows are compared by content: the two runs write some in a different order.
            let mut lines: Vec<String> = rows.into_iter().map(|row| rename(row.line)).collect();
            if !query.contains("ORDER BY") {
                lines.sort();
            }
            lines
        })
        .collect();
    Seen {
        appended: appended
            .iter()
            .map(|outcome| match outcome {
                Ok(entry) => {
                    rename(format!("ok {} {} {}", entry.account_id.as_str(), entry.credits, entry.balance_after))
                }
                Err(e) => e.clone(),
            })
            .collect(),
        reserved: reserved
            .iter()
            .enumerate()
            .map(|(i, r)| match r {
                Ok((g, h)) => rename(format!("ok {} {} {:?} {}", g.id.as_str(), h.id.as_str(), g.status, h.amount)),
                Err(e) => format!("{i}: {e}"),
            })
            .collect(),
        captured: captured
            .iter()
            .map(|c| match c {
                Captured::Succeeded(g) => rename(format!(
                    "succeeded {} {} {} images {:?}",
                    g.id.as_str(),
                    g.credits_charged,
                    g.images.len(),
                    g.completed_at
                )),
                Captured::HoldExpired { message } => format!("expired {message}"),
            })
            .collect(),
        tables,
    }
}

fn equivalent(url_one_by_one: &str, url_sets: &str) {
    let one_by_one = run(&Pool::connect(url_one_by_one, 2).unwrap(), false);
    let sets = run(&Pool::connect(url_sets, 2).unwrap(), true);
    // The scenario is what it claims to be: each kind of refusal, both alerts, an expired hold.
    let refusals = one_by_one.reserved.iter().filter(|r| !r.starts_with("ok")).cloned().collect::<Vec<_>>();
    assert_eq!(refusals.len(), 4, "{refusals:#?}");
    for expected in ["spend_limit", "monthly spend limit", "InsufficientCredits", "NotFound(\"account\")"] {
        assert!(refusals.iter().any(|r| r.contains(expected)), "no refusal like {expected}: {refusals:#?}");
    }
    assert_eq!(one_by_one.tables[8].len(), 1, "one low-balance alert: {:?}", one_by_one.tables[8]);
    assert_eq!(one_by_one.tables[9].len(), 1, "one top-up request: {:?}", one_by_one.tables[9]);
    assert_eq!(one_by_one.captured.iter().filter(|c| c.starts_with("expired")).count(), 1);
    let refused: Vec<&String> = one_by_one.appended.iter().filter(|a| !a.starts_with("ok")).collect();
    assert_eq!(refused.len(), 3, "{:#?}", one_by_one.appended);
    for expected in ["InsufficientCredits", "balance_limit_exceeded", "NotFound(\"account\")"] {
        assert!(refused.iter().any(|r| r.contains(expected)), "no refusal like {expected}: {refused:#?}");
    }
    assert_eq!(one_by_one.reserved, sets.reserved);
    assert_eq!(one_by_one.appended, sets.appended);
    assert_eq!(one_by_one.captured, sets.captured);
    for (table, (expected, got)) in one_by_one.tables.iter().zip(&sets.tables).enumerate() {
        assert_eq!(expected, got, "table {table} differs");
    }
}

#[test]
fn sqlite_sets_leave_what_one_by_one_leaves() {
    let dir = std::env::temp_dir().join(format!("apinfer-sets-{}", apinfer_core::ids::random_base62(10)));
    std::fs::create_dir_all(&dir).unwrap();
    let urls: Vec<String> =
        ["one.db", "sets.db"].iter().map(|name| format!("sqlite://{}", dir.join(name).display())).collect();
    for url in &urls {
        Pool::connect(url, 1).unwrap().migrate().unwrap();
    }
    equivalent(&urls[0], &urls[1]);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn postgres_sets_leave_what_one_by_one_leaves() {
    let base =
        std::env::var("APINFER_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let Ok(mut admin) = PgConnection::establish(&format!("{base}/postgres")) else {
        assert!(std::env::var("CI").is_err(), "no PostgreSQL at {base}");
        eprintln!("NOTICE: skipped, no PostgreSQL at {base}");
        return;
    };
    let suffix = apinfer_core::ids::random_base62(10).to_lowercase();
    let names = [format!("apinfer_sets_one_{suffix}"), format!("apinfer_sets_set_{suffix}")];
    for name in &names {
        diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut admin).unwrap();
    }
    let urls: Vec<String> = names.iter().map(|name| format!("{base}/{name}")).collect();
    let outcome = std::panic::catch_unwind(|| {
        for url in &urls {
            Pool::connect(url, 1).unwrap().migrate().unwrap();
        }
        equivalent(&urls[0], &urls[1])
    });
    for name in &names {
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin);
    }
    outcome.unwrap();
}
