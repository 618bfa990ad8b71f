//! Two `apinfer serve` processes on one PostgreSQL database: racing spends on one account whose
//! balance fits exactly k of them (exactly k succeed, whichever process serves them, and the
//! ledger still explains the balance), and the mixed race of `races.rs` split over both
//! processes, with both processes' workers running the automatic top-ups.

use futures::future::join_all;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::helpers::{dec, metric, Backend, Client, TestApp};
use crate::races::race_on_one_account;

/// Spends that fit in the balance.
const K: usize = 12;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_postgres_never_overdraw() {
    let Some(app) = TestApp::builder(Backend::Postgres).processes(2).spawn().await else { return };
    let (ca, cb) = (app.server(0).clone(), app.server(1).clone());
    let admin = app.admin().await.token;
    let user = ca.signup("ada@example.com").await;
    let token = user.token.clone();
    // Sessions are valid on both processes (shared secret, shared database).
    cb.get("/v1/balance", Some(&token)).await.expect(200);
    let grant = format!("{}", Decimal::new(175, 2) * Decimal::from(K));
    let path = format!("/v1/admin/accounts/{}/adjustments", user.account_id);
    cb.post(&path, Some(&admin), json!({"credits": grant, "reason": "k spends"})).await.expect(201);

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
    let results: Vec<(u16, Value)> =
        join_all(attempts).await.into_iter().map(|r| (r.status.as_u16(), r.body)).collect();
    for (status, body) in &results {
        assert!(
            *status == 201 || (*status == 402 && body["error"]["code"] == "insufficient_credits"),
            "{status}: {body}"
        );
    }
    let succeeded = results.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(succeeded, K, "exactly the spends that fit succeed");

    for client in [&ca, &cb] {
        let balance = client.balance(&token).await;
        assert_eq!(
            (balance["balance"].as_str(), balance["held"].as_str(), balance["available"].as_str()),
            (Some("0"), Some("0"), Some("0"))
        );
    }
    let entries = cb.all_transactions(&token).await;
    assert_eq!(entries.len(), 1 + K, "the grant and one entry per successful spend");
    let sum: Decimal = entries.iter().map(|e| dec(&e["credits"])).sum();
    assert_eq!(sum, Decimal::ZERO, "ledger sum = balance");
    let mut after = Decimal::new(175, 2) * Decimal::from(K);
    for e in entries.iter().rev().skip(1) {
        after -= Decimal::new(175, 2);
        assert_eq!(dec(&e["balance_after"]), after, "{e}");
    }
}

/// The 100 mixed operations of `races.rs` (generations, card purchases, wallet webhooks
/// delivered to both processes at once, refunds requested on both at once, admin adjustments
/// up and down, a key with a spend limit, automatic top-ups), half of them served by each
/// process, then every invariant checked through the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_postgres_keep_every_invariant_in_a_mixed_race() {
    // Both workers poll for top-ups often (every 50 ms, the harness's default), so the race's
    // top-ups are contended across processes.
    let Some(app) = TestApp::builder(Backend::Postgres).processes(2).spawn().await else { return };
    let admin = app.admin().await;
    let ada = app.server(0).signup("ada@example.com").await;
    let servers: Vec<&Client> = app.servers().iter().collect();
    race_on_one_account(&servers, &app.pool, &admin.token, &ada.token, &ada.account_id).await;
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
    let Some(app) = TestApp::builder(Backend::Postgres).processes(2).spawn().await else { return };
    let clients = app.servers();
    let admin = app.admin().await;
    let grant = format!("{}", Decimal::new(175, 2) * Decimal::from(FITS));
    let mut tokens = Vec::new();
    for n in 0..ACCOUNTS {
        let user = clients[n % 2].signup(&format!("user{n}@example.com")).await;
        clients[0].grant(&admin, &user.account_id, &grant).await;
        tokens.push(user.token);
    }

    let attempts = (0..ACCOUNTS * 12).map(|i| {
        let client = clients[(i / ACCOUNTS) % 2].clone();
        let token = tokens[i % ACCOUNTS].clone();
        let generation = json!({"model": "qwen-image", "prompt": format!("batch {}", i % 3), "size": "512x512"});
        async move {
            let resp = client.post("/v1/generations", Some(&token), generation).await;
            (i % ACCOUNTS, (resp.status.as_u16(), resp.body))
        }
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
        let balance = clients[n % 2].balance(token).await;
        assert_eq!((balance["balance"].as_str(), balance["held"].as_str()), (Some("0"), Some("0")), "account {n}");
        let entries = clients[1 - n % 2].all_transactions(token).await;
        assert_eq!(entries.len(), 1 + FITS, "account {n}: the grant and one entry per generation");
        let sum: Decimal = entries.iter().map(|e| dec(&e["credits"])).sum();
        assert_eq!(sum, Decimal::ZERO, "account {n}: ledger sum = balance");
    }
    // What was checked above went through sets (batches of several requests' holds or captures).
    let mut set_units = 0.0;
    for server in clients {
        let metrics = reqwest::get(format!("{}/metrics", server.base)).await.unwrap().text().await.unwrap();
        set_units += metric(&metrics, "apinfer_group_commit_set_units_total");
    }
    assert!(set_units > 0.0, "no request ran as part of a set");
}
