//! Two `apinfer serve` processes on one PostgreSQL database: racing spends on one account whose
//! balance fits exactly k of them (exactly k succeed, whichever process serves them, and the
//! ledger still explains the balance), and the mixed race of `races.rs` split over both
//! processes, with both processes' workers running the automatic top-ups.

use apinfer_core::db::Pool;
use futures::future::join_all;
use rust_decimal::Decimal;
use serde_json::json;

use crate::helpers::{metric, Backend, TestDb};
use crate::processes::{apinfer, create_admin, serve, Client};
use crate::races::race_on_one_account;

/// Spends that fit in the balance.
const K: usize = 12;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_postgres_never_overdraw() {
    let Some((url, _db)) = TestDb::create(Backend::Postgres) else { return };
    create_admin(apinfer(&url), "ops@example.com", "ops password 1");
    let (a, b) = tokio::join!(serve(apinfer(&url)), serve(apinfer(&url)));
    let (ca, cb) = (Client::new(&a.base), Client::new(&b.base));
    let admin = ca.login("ops@example.com", "ops password 1").await;
    let (token, account) = ca.signup("ada@example.com", "ada password 1").await;
    // Sessions are valid on both processes (shared secret, shared database).
    assert_eq!(cb.get("/v1/balance", Some(&token)).await.0, 200);
    let grant = format!("{}", Decimal::new(175, 2) * Decimal::from(K));
    let path = format!("/v1/admin/accounts/{account}/adjustments");
    assert_eq!(cb.post(&path, Some(&admin), json!({"credits": grant, "reason": "k spends"})).await.0, 201);

    // 30 generations and 10 equal negative adjustments (1.75 each), spread over both processes.
    let generation = json!({"model": "qwen-image", "prompt": "two processes", "size": "512x512"});
    let attempts = (0..40).map(|i| {
        let client = if i % 2 == 0 { ca.clone() } else { cb.clone() };
        let (token, admin, path, generation) = (token.clone(), admin.clone(), path.clone(), generation.clone());
        async move {
            if i % 4 == 3 {
                client.post(&path, Some(&admin), json!({"credits": "-1.75", "reason": "race"})).await
            } else {
                client.post("/v1/generations", Some(&token), generation).await
            }
        }
    });
    let results = join_all(attempts).await;
    for (status, body) in &results {
        assert!(
            *status == 201 || (*status == 402 && body["error"]["code"] == "insufficient_credits"),
            "{status}: {body}"
        );
    }
    let succeeded = results.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(succeeded, K, "exactly the spends that fit succeed");

    for client in [&ca, &cb] {
        let (status, balance) = client.get("/v1/balance", Some(&token)).await;
        assert_eq!(status, 200);
        assert_eq!(
            (balance["balance"].as_str(), balance["held"].as_str(), balance["available"].as_str()),
            (Some("0"), Some("0"), Some("0"))
        );
    }
    let (_, page) = cb.get("/v1/transactions?limit=100", Some(&token)).await;
    let entries = page["data"].as_array().unwrap();
    assert_eq!(entries.len(), 1 + K, "the grant and one entry per successful spend");
    let sum: Decimal = entries.iter().map(|e| e["credits"].as_str().unwrap().parse::<Decimal>().unwrap()).sum();
    assert_eq!(sum, Decimal::ZERO, "ledger sum = balance");
    let mut after = Decimal::new(175, 2) * Decimal::from(K);
    for e in entries.iter().rev().skip(1) {
        after -= Decimal::new(175, 2);
        assert_eq!(e["balance_after"].as_str().unwrap().parse::<Decimal>().unwrap(), after, "{e}");
    }
}

/// The 100 mixed operations of `races.rs` (generations, card purchases, wallet webhooks
/// delivered to both processes at once, refunds requested on both at once, admin adjustments
/// up and down, a key with a spend limit, automatic top-ups), half of them served by each
/// process, then every invariant checked through the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_postgres_keep_every_invariant_in_a_mixed_race() {
    let Some((url, _db)) = TestDb::create(Backend::Postgres) else { return };
    create_admin(apinfer(&url), "ops@example.com", "ops password 1");
    // Both workers poll for top-ups often, so the race's top-ups are contended across processes.
    let fast_worker = || {
        let mut cmd = apinfer(&url);
        cmd.env("APINFER_WORKER_INTERVAL_MS", "50");
        cmd
    };
    let (a, b) = tokio::join!(serve(fast_worker()), serve(fast_worker()));
    let (ca, cb) = (Client::new(&a.base), Client::new(&b.base));
    let admin = cb.login("ops@example.com", "ops password 1").await;
    let (token, account) = ca.signup("ada@example.com", "ada password 1").await;
    let pool = Pool::connect(&url, 2).expect("the test database");
    race_on_one_account(&[&ca, &cb], &pool, &admin, &token, &account).await;
}

/// Batches that span accounts, from two processes at once: 96 generations over 8 accounts, each
/// account served by both processes, so each process's batches lock several accounts that the
/// other's batches lock too. Batches lock their accounts in id order, so none deadlocks (which
/// PostgreSQL would break by failing a batch: 5xx answers); each account's balance fits exactly
/// five generations, and exactly five succeed on each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_batch_many_accounts_at_once_without_deadlock() {
    const ACCOUNTS: usize = 8;
    const FITS: usize = 5;
    let Some((url, _db)) = TestDb::create(Backend::Postgres) else { return };
    create_admin(apinfer(&url), "ops@example.com", "ops password 1");
    let (a, b) = tokio::join!(serve(apinfer(&url)), serve(apinfer(&url)));
    let clients = [Client::new(&a.base), Client::new(&b.base)];
    let admin = clients[0].login("ops@example.com", "ops password 1").await;
    let grant = format!("{}", Decimal::new(175, 2) * Decimal::from(FITS));
    let mut tokens = Vec::new();
    for n in 0..ACCOUNTS {
        let (token, account) = clients[n % 2].signup(&format!("user{n}@example.com"), "user password 1").await;
        let path = format!("/v1/admin/accounts/{account}/adjustments");
        assert_eq!(clients[0].post(&path, Some(&admin), json!({"credits": grant, "reason": "five"})).await.0, 201);
        tokens.push(token);
    }

    let attempts = (0..ACCOUNTS * 12).map(|i| {
        let client = clients[(i / ACCOUNTS) % 2].clone();
        let token = tokens[i % ACCOUNTS].clone();
        let generation = json!({"model": "qwen-image", "prompt": format!("batch {}", i % 3), "size": "512x512"});
        async move { (i % ACCOUNTS, client.post("/v1/generations", Some(&token), generation).await) }
    });
    let results = join_all(attempts).await;
    for (_, (status, body)) in &results {
        assert!(
            *status == 201 || (*status == 402 && body["error"]["code"] == "insufficient_credits"),
            "{status}: {body}"
        );
    }
    for (n, token) in tokens.iter().enumerate() {
        let succeeded = results.iter().filter(|(account, (status, _))| *account == n && *status == 201).count();
        assert_eq!(succeeded, FITS, "account {n}");
        let (_, balance) = clients[n % 2].get("/v1/balance", Some(token)).await;
        assert_eq!((balance["balance"].as_str(), balance["held"].as_str()), (Some("0"), Some("0")), "account {n}");
        let (_, page) = clients[1 - n % 2].get("/v1/transactions?limit=100", Some(token)).await;
        let entries = page["data"].as_array().unwrap();
        assert_eq!(entries.len(), 1 + FITS, "account {n}: the grant and one entry per generation");
        let sum: Decimal = entries.iter().map(|e| e["credits"].as_str().unwrap().parse::<Decimal>().unwrap()).sum();
        assert_eq!(sum, Decimal::ZERO, "account {n}: ledger sum = balance");
    }
    // What was checked above went through sets (batches of several requests' holds or captures).
    let mut set_units = 0.0;
    for server in [&a, &b] {
        let metrics = reqwest::get(format!("{}/metrics", server.base)).await.unwrap().text().await.unwrap();
        set_units += metric(&metrics, "apinfer_group_commit_set_units_total");
    }
    assert!(set_units > 0.0, "no request ran as part of a set");
}
