//! Trying to lose (or mint) credits with races: 100 parallel mixed operations on one account
//! (card purchases, payment webhooks delivered twice at once, refunds requested twice at once,
//! generations, generations with a spend-limited key, admin adjustments up and down) while
//! automatic top-up buys packages in the background, then every invariant checked through the
//! API:
//!
//! - `balance − held` never goes below zero, at any moment of the race;
//! - the ledger explains the balance entry by entry (each `balance_after` continues the running
//!   sum), and the balance is exactly what the successful operations and top-ups add up to;
//! - no purchase is credited twice: one `purchase` or `auto_topup` entry per paid purchase;
//! - automatic top-ups: the race certainly crosses the threshold; every request it queued ends
//!   with its package bought (and credited once, as ledger type `auto_topup`) or skipped at the
//!   daily maximum, never more top-ups than that maximum, one notification per outcome;
//! - every lot's remaining credits are its credits minus what the ledger's debits consumed from
//!   it (oldest lot first) minus what was refunded from it.
//!
//! [`race_on_one_account`] spreads the operations over the servers it is given, so
//! `multi_process.rs` runs the same race across two `apinfer serve` processes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use apinfer_core::db::Pool;
use chrono::{DateTime, Utc};
use futures::future::join_all;
use futures::FutureExt;
use rand::seq::SliceRandom;
use reqwest::Method;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::helpers::{card_payment, dec, Client, TestApp};

/// Card lots (the 100-credit `basic` package) bought before the race; each is refunded twice
/// at once during it.
const LOTS: usize = 5;
/// Wallet purchases awaiting their webhook before the race; each webhook arrives twice at once.
const WALLETS: usize = 10;
/// Credits granted before the race: not a lot, so debits beyond what the lots hold take from
/// them. Low enough that the race's charges are sometimes refused for want of credits.
const BONUS: &str = "500";
const ADJUST_UP: &str = "7.5";
/// Ten of these (3,000 credits) outweigh everything the race can add (25 packages of 100 and
/// ten 7.5-credit bonuses: 2,575), which is what guarantees a top-up (see the threshold).
const ADJUST_DOWN: &str = "300";
const KEY_SPEND_LIMIT: &str = "10";
const MAX_TOPUPS_PER_DAY: usize = 2;
const SANDBOX_VISA: &str = "tok_visa";

/// What the race asks of a server: the status and JSON body of a request, and a signed
/// `payment.succeeded` event delivered for a purchase.
impl Client {
    async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let resp = self.request(method, path, token, body, &[]).await;
        (resp.status.as_u16(), resp.body)
    }

    async fn confirm_payment(&self, event_id: &str, purchase_id: &str) -> (u16, Value) {
        let resp = self.payment_webhook(event_id, "payment.succeeded", purchase_id, now()).await;
        (resp.status.as_u16(), resp.body)
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

async fn get(server: &Client, path: &str, token: &str) -> Value {
    let (status, body) = server.call(Method::GET, path, Some(token), None).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

async fn created(server: &Client, path: &str, token: &str, body: Value) -> Value {
    let (status, body) = server.call(Method::POST, path, Some(token), Some(body)).await;
    assert_eq!(status, 201, "POST {path}: {body}");
    body
}

/// Every page of a list endpoint.
async fn all_pages(server: &Client, path: &str, token: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page_path = match &cursor {
            Some(c) => format!("{path}?limit=100&cursor={c}"),
            None => format!("{path}?limit=100"),
        };
        let page = get(server, &page_path, token).await;
        out.extend(page["data"].as_array().unwrap().iter().cloned());
        if page["has_more"] != true {
            return out;
        }
        cursor = page["next_cursor"].as_str().map(str::to_string);
    }
}

fn credits(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Op {
    CardPurchase,
    /// A delivery of the success webhook of wallet purchase number `.0` (each is sent twice at once).
    Webhook(usize),
    /// A refund of pre-made card purchase number `.0` (each is requested twice at once).
    Refund(usize),
    Generation,
    /// A generation with the key whose spend limit is [`KEY_SPEND_LIMIT`].
    LimitedGeneration,
    AdjustUp,
    AdjustDown,
}

/// The 100 operations in random order, each with the index of the server that serves it:
/// consecutive ones before shuffling, so the two copies of a webhook or of a refund go to
/// different servers when there are two.
fn operations(servers: usize) -> Vec<(Op, usize)> {
    let mut ops = Vec::new();
    ops.extend([Op::CardPurchase; 15]);
    for i in 0..WALLETS {
        ops.extend([Op::Webhook(i), Op::Webhook(i)]);
    }
    for i in 0..LOTS {
        ops.extend([Op::Refund(i), Op::Refund(i)]);
    }
    ops.extend([Op::Generation; 25]);
    ops.extend([Op::LimitedGeneration; 10]);
    ops.extend([Op::AdjustUp; 10]);
    ops.extend([Op::AdjustDown; 10]);
    assert_eq!(ops.len(), 100);
    let mut ops: Vec<(Op, usize)> = ops.into_iter().enumerate().map(|(i, op)| (op, i % servers)).collect();
    ops.shuffle(&mut rand::thread_rng());
    ops
}

/// The account's automatic top-up requests as (status, purchase id). Read from the database:
/// the API does not list them (it reports their outcomes as notifications).
async fn topup_requests(pool: &Pool, account: &str) -> Vec<(String, Option<String>)> {
    use apinfer_core::db::schema::auto_topup_requests as requests;
    use diesel::prelude::*;
    let (pool, account) = (pool.clone(), account.to_string());
    tokio::task::spawn_blocking(move || {
        let mut conn = pool.get().expect("a database connection");
        requests::table
            .filter(requests::account_id.eq(&account))
            .select((requests::status, requests::purchase_id))
            .load(&mut *conn)
            .expect("top-up requests")
    })
    .await
    .unwrap()
}

/// Waits (up to 30 s) until no top-up request is pending or running; returns them all.
async fn finished_topup_requests(pool: &Pool, account: &str) -> Vec<(String, Option<String>)> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let requests = topup_requests(pool, account).await;
        if requests.iter().all(|(status, _)| status != "pending" && status != "running") {
            return requests;
        }
        assert!(Instant::now() < deadline, "automatic top-ups still unfinished after 30 s: {requests:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs the race on a new account (`user` is its owner's session) through `servers`, spreading
/// the operations evenly over them, then checks every invariant. `pool` opens the database the
/// servers share, to wait for the background top-ups.
pub(crate) async fn race_on_one_account(servers: &[&Client], pool: &Pool, admin: &str, user: &str, account: &str) {
    let day = Utc::now().date_naive();
    let first = servers[0];
    let adjust_path = format!("/v1/admin/accounts/{account}/adjustments");

    // Before the race: the card lots, a bonus, the wallet purchases awaiting their webhook, a
    // key with a spend limit, and automatic top-up with a saved card.
    let mut lots = Vec::new();
    for _ in 0..LOTS {
        let body = json!({"package_id": "basic", "payment_method": card_payment(SANDBOX_VISA)});
        lots.push(created(first, "/v1/purchases", user, body).await);
    }
    created(first, &adjust_path, admin, json!({"credits": BONUS, "reason": "race bonus"})).await;
    let mut wallets = Vec::new();
    for _ in 0..WALLETS {
        let body = json!({"package_id": "basic", "payment_method": {"type": "alipay"}});
        let wallet = created(first, "/v1/purchases", user, body).await;
        assert_eq!(wallet["status"], "requires_action");
        wallets.push(wallet);
    }
    let capped = json!({"name": "capped", "scopes": ["generations:write"], "spend_limit": KEY_SPEND_LIMIT});
    let capped = created(first, "/v1/api-keys", user, capped).await;
    let capped_key = capped["key"].as_str().unwrap().to_string();
    let card = created(first, "/v1/payment-methods", user, card_payment(SANDBOX_VISA)).await;
    let start = get(first, "/v1/balance", user).await;
    let lot_credits: Decimal = lots.iter().map(|p| dec(&p["credits"])).sum();
    assert_eq!(dec(&start["available"]), lot_credits + credits(BONUS), "{start}");
    // The threshold is `available` at the start, which makes a top-up request certain: if every
    // 300-credit charge succeeds, the race takes away more than it adds, so without a top-up
    // `available` ends below where it started; if one is refused for want of credits,
    // `available` was below 300 then. Either way it fell from the threshold to below it.
    let topup = json!({
        "enabled": true,
        "threshold": start["available"],
        "package_id": "basic",
        "payment_method_id": card["id"],
        "max_topups_per_day": MAX_TOPUPS_PER_DAY,
    });
    let (status, saved) = first.call(Method::PUT, "/v1/settings/auto-topup", Some(user), Some(topup.clone())).await;
    assert_eq!((status, &saved), (200, &topup));

    // The race, watched by a reader of the balance that never sees `balance − held` below zero.
    let generation = json!({"model": "qwen-image", "prompt": "a race", "size": "512x512"});
    let operations = operations(servers.len());
    let attempts = operations.iter().map(|&(op, server)| {
        let server = servers[server];
        let (lots, wallets, adjust_path, generation, capped_key) =
            (&lots, &wallets, &adjust_path, &generation, &capped_key);
        async move {
            let (status, body) = match op {
                Op::CardPurchase => {
                    let body = json!({"package_id": "basic", "payment_method": card_payment(SANDBOX_VISA)});
                    server.call(Method::POST, "/v1/purchases", Some(user), Some(body)).await
                }
                Op::Webhook(i) => {
                    let wallet = wallets[i]["id"].as_str().unwrap();
                    server.confirm_payment(&format!("evt_race_{i}"), wallet).await
                }
                Op::Refund(i) => {
                    let path = format!("/v1/purchases/{}/refund", lots[i]["id"].as_str().unwrap());
                    server.call(Method::POST, &path, Some(user), Some(json!({}))).await
                }
                Op::Generation => {
                    server.call(Method::POST, "/v1/generations", Some(user), Some(generation.clone())).await
                }
                Op::LimitedGeneration => {
                    server.call(Method::POST, "/v1/generations", Some(capped_key), Some(generation.clone())).await
                }
                Op::AdjustUp => {
                    let body = json!({"credits": ADJUST_UP, "reason": "race bonus"});
                    server.call(Method::POST, adjust_path, Some(admin), Some(body)).await
                }
                Op::AdjustDown => {
                    let body = json!({"credits": format!("-{ADJUST_DOWN}"), "reason": "race charge"});
                    server.call(Method::POST, adjust_path, Some(admin), Some(body)).await
                }
            };
            (op, status, body)
        }
        .boxed()
    });
    let done = AtomicBool::new(false);
    let observed = AtomicUsize::new(0);
    let race = async {
        let results = join_all(attempts).await;
        done.store(true, Ordering::SeqCst);
        results
    };
    let observe = async {
        while !done.load(Ordering::SeqCst) {
            let server = servers[observed.fetch_add(1, Ordering::SeqCst) % servers.len()];
            let b = get(server, "/v1/balance", user).await;
            let (balance, held, available) = (dec(&b["balance"]), dec(&b["held"]), dec(&b["available"]));
            assert!(held >= Decimal::ZERO && balance - held >= Decimal::ZERO, "overdrawn mid-race: {b}");
            assert_eq!(available, balance - held, "{b}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let (results, ()) = tokio::join!(race, observe);
    assert!(observed.load(Ordering::SeqCst) > 0, "the balance was read during the race");

    // Every answer is one the contract allows for that operation; none is a 5xx.
    let mut ok: HashMap<Op, usize> = HashMap::new();
    let (mut bought, mut charged, mut key_charged) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    let mut refunded_credits = Decimal::ZERO;
    let mut refunds_per_lot: HashMap<usize, usize> = HashMap::new();
    let mut first_deliveries: HashMap<usize, usize> = HashMap::new();
    for (op, status, body) in &results {
        let code = body["error"]["code"].as_str().unwrap_or("");
        let allowed = match op {
            Op::CardPurchase | Op::AdjustUp => *status == 201,
            Op::Webhook(_) => *status == 200,
            Op::Refund(_) => {
                *status == 201
                    || (*status == 422 && matches!(code, "nothing_to_refund" | "purchase_not_refundable"))
                    || (*status == 409 && code == "credits_held")
            }
            Op::Generation | Op::AdjustDown => *status == 201 || (*status == 402 && code == "insufficient_credits"),
            Op::LimitedGeneration => {
                *status == 201 || (*status == 402 && matches!(code, "insufficient_credits" | "spend_limit_exceeded"))
            }
        };
        assert!(allowed, "{op:?} answered {status}: {body}");
        if *status == 200 || *status == 201 {
            *ok.entry(*op).or_default() += 1;
        }
        match op {
            Op::CardPurchase => {
                assert_eq!(body["status"], "succeeded", "{body}");
                bought += dec(&body["credits"]);
            }
            Op::Generation if *status == 201 => charged += dec(&body["credits_charged"]),
            Op::LimitedGeneration if *status == 201 => key_charged += dec(&body["credits_charged"]),
            Op::Refund(i) if *status == 201 => {
                refunded_credits += dec(&body["credits"]);
                *refunds_per_lot.entry(*i).or_default() += 1;
            }
            Op::Webhook(i) if body["duplicate"] == false => *first_deliveries.entry(*i).or_default() += 1,
            _ => {}
        }
    }
    let count = |op: Op| ok.get(&op).copied().unwrap_or(0);
    let webhooks_ok: usize = (0..WALLETS).map(|i| count(Op::Webhook(i))).sum();
    assert_eq!(webhooks_ok, 2 * WALLETS, "every delivery is acknowledged");
    assert_eq!(
        (0..WALLETS).map(|i| first_deliveries.get(&i).copied().unwrap_or(0)).collect::<Vec<_>>(),
        vec![1; WALLETS],
        "exactly one delivery of each event is processed, the other is a duplicate"
    );
    assert!(refunds_per_lot.values().all(|&n| n == 1), "one refund per lot at most: {refunds_per_lot:?}");
    let limited = count(Op::LimitedGeneration);
    assert!(
        key_charged <= credits(KEY_SPEND_LIMIT),
        "the capped key was charged {key_charged} in {limited} generations"
    );
    let generations = count(Op::Generation) + limited;

    // Automatic top-ups: wait until the worker has handled every request the race queued (no
    // request can be queued after the race: only a drop of `available` queues one).
    let requests = finished_topup_requests(pool, account).await;
    let same_day = Utc::now().date_naive() == day;

    let balance = get(first, "/v1/balance", user).await;
    assert_eq!(balance["held"], "0", "no hold outlives its request: {balance}");
    assert_eq!(balance["available"], balance["balance"], "{balance}");
    let entries = all_pages(first, "/v1/transactions", user).await;
    let purchases = all_pages(first, "/v1/purchases", user).await;
    let refunds = all_pages(first, "/v1/refunds", user).await;
    let notifications = all_pages(first, "/v1/notifications", user).await;

    // The lots, replayed from the ledger: this also checks that each entry's `balance_after`
    // continues the running sum and that no purchase is credited twice.
    let replayed = replay_lots(&entries, &purchases, &refunds);
    assert_eq!(replayed.balance, dec(&balance["balance"]), "ledger sum = balance");

    let autos: Vec<&Value> = purchases.iter().filter(|p| p["auto_topup"] == true).collect();
    let auto_ids: HashSet<&str> = autos.iter().map(|p| p["id"].as_str().unwrap()).collect();
    let mut per_day: HashMap<chrono::NaiveDate, usize> = HashMap::new();
    for p in &autos {
        let created: DateTime<Utc> = p["created_at"].as_str().unwrap().parse().unwrap();
        *per_day.entry(created.date_naive()).or_default() += 1;
    }
    assert!(per_day.values().all(|&n| n <= MAX_TOPUPS_PER_DAY), "top-ups per UTC day: {per_day:?}");
    assert!(!requests.is_empty(), "the race crossed the threshold, so a top-up was requested");
    assert!(
        requests.iter().all(|(status, _)| status == "succeeded" || status == "skipped"),
        "every top-up bought its package or was skipped at the daily maximum: {requests:?}"
    );
    let bought_by_requests: Vec<&str> =
        requests.iter().filter(|(s, _)| s == "succeeded").map(|(_, p)| p.as_deref().expect("its purchase")).collect();
    let skipped = requests.iter().filter(|(s, _)| s == "skipped").count();
    assert_eq!(bought_by_requests.len(), autos.len(), "one purchase per succeeded request: {requests:?}");
    assert_eq!(bought_by_requests.iter().copied().collect::<HashSet<_>>(), auto_ids);
    if same_day {
        assert_eq!(
            autos.len(),
            requests.len().min(MAX_TOPUPS_PER_DAY),
            "requests buy until the daily maximum, the rest are skipped: {requests:?}"
        );
    }
    for p in &autos {
        assert_eq!(
            (&p["status"], &p["payment_method"]["payment_method_id"]),
            (&json!("succeeded"), &card["id"]),
            "{p}"
        );
    }
    let noted = |kind: &str| notifications.iter().filter(|n| n["type"] == kind).collect::<Vec<_>>();
    let mut noted_purchases: Vec<&str> =
        noted("auto_topup_succeeded").iter().map(|n| n["data"]["purchase_id"].as_str().unwrap()).collect();
    noted_purchases.sort_unstable();
    let mut auto_sorted: Vec<&str> = auto_ids.iter().copied().collect();
    auto_sorted.sort_unstable();
    assert_eq!(noted_purchases, auto_sorted, "one notification per top-up");
    assert_eq!(noted("auto_topup_skipped").len(), skipped, "one notification per skipped top-up");
    assert!(noted("auto_topup_failed").is_empty(), "{notifications:?}");

    // The balance is exactly what the successful operations and the top-ups add up to.
    let wallet_credits: Decimal = wallets.iter().map(|p| dec(&p["credits"])).sum();
    let topped_up: Decimal = autos.iter().map(|p| dec(&p["credits"])).sum();
    let expected = lot_credits + credits(BONUS) + bought + wallet_credits + topped_up - refunded_credits
        + credits(ADJUST_UP) * Decimal::from(count(Op::AdjustUp))
        - credits(ADJUST_DOWN) * Decimal::from(count(Op::AdjustDown))
        - charged
        - key_charged;
    assert_eq!(dec(&balance["balance"]), expected, "{balance}");

    // The ledger explains every movement once.
    let of_type = |ty: &str| entries.iter().filter(|e| e["type"] == ty).collect::<Vec<_>>();
    assert_eq!(of_type("generation").len(), generations);
    assert_eq!(of_type("generation").iter().map(|e| dec(&e["credits"])).sum::<Decimal>(), -(charged + key_charged));
    assert_eq!(of_type("refund").len(), refunds_per_lot.len());
    assert_eq!(of_type("adjustment").len(), 1 + count(Op::AdjustUp) + count(Op::AdjustDown));
    assert_eq!(of_type("purchase").len(), LOTS + count(Op::CardPurchase) + WALLETS);
    let topup_entries: HashSet<&str> =
        of_type("auto_topup").iter().map(|e| e["reference_id"].as_str().unwrap()).collect();
    assert_eq!(of_type("auto_topup").len(), autos.len(), "each top-up credited exactly once");
    assert_eq!(topup_entries, auto_ids, "each top-up's entry references it");
    assert_eq!(purchases.len(), LOTS + WALLETS + count(Op::CardPurchase) + autos.len());
    assert_eq!(replayed.credited.len(), purchases.len(), "every purchase was paid, and credited once");

    // Refunds: one per refunded lot, each of a pre-made lot, adding up to what was answered.
    assert_eq!(refunds.len(), refunds_per_lot.len());
    assert_eq!(refunds.iter().map(|r| dec(&r["credits"])).sum::<Decimal>(), refunded_credits);
    let refunded_lots: HashSet<&str> = refunds.iter().map(|r| r["purchase_id"].as_str().unwrap()).collect();
    let expected_lots: HashSet<&str> = refunds_per_lot.keys().map(|&i| lots[i]["id"].as_str().unwrap()).collect();
    assert_eq!(refunded_lots, expected_lots);

    // The capped key spent exactly what its generations cost, within its cap.
    let keys = get(first, "/v1/api-keys", user).await;
    let key = keys["data"].as_array().unwrap().iter().find(|k| k["id"] == capped["id"]).unwrap();
    assert_eq!(dec(&key["spent"]), key_charged);
    assert!(dec(&key["spent"]) <= credits(KEY_SPEND_LIMIT));
}

/// What replaying the ledger found.
struct Replayed {
    /// The sum of the entries.
    balance: Decimal,
    /// The purchases with a `purchase` or `auto_topup` entry.
    credited: HashSet<String>,
}

/// Replays the ledger oldest first, modelling the lots as the server keeps them, and checks
/// every lot against the model.
///
/// Every balance change takes the account's row lock before writing its entry and keeps it to
/// the commit, so the ledger's order is the order in which the changes happened. In that order:
/// a `purchase` or `auto_topup` entry opens its purchase's lot; a debit (`generation`, negative
/// `adjustment`) consumes lots oldest first, by `succeeded_at` then id (`consume_lots`), and
/// takes what no lot covers from non-lot credits (positive adjustments); a `refund` takes its
/// credits from its own lot. After every entry, the lots never hold more than the balance (the
/// non-lot part is never negative). At the end, each lot's `credits_remaining` and
/// `refunded_credits` are exactly the model's.
///
/// Lots paid in the same microsecond are compared as one group: among them the server picks by
/// id in the database's collation, which the test does not reproduce; within the group the
/// totals are still exact. (This happens: the top-ups one worker round runs share its clock
/// reading, so they have the same `succeeded_at`.)
fn replay_lots(entries: &[Value], purchases: &[Value], refunds: &[Value]) -> Replayed {
    let purchase: HashMap<&str, &Value> = purchases.iter().map(|p| (p["id"].as_str().unwrap(), p)).collect();
    let refund: HashMap<&str, &Value> = refunds.iter().map(|r| (r["id"].as_str().unwrap(), r)).collect();
    let paid_at = |p: &Value| -> DateTime<Utc> {
        p["succeeded_at"].as_str().unwrap_or_else(|| panic!("a credited purchase was paid: {p}")).parse().unwrap()
    };
    // Credits left and consumed per group of lots paid at the same time; refunded per lot.
    let mut left: BTreeMap<DateTime<Utc>, Decimal> = BTreeMap::new();
    let mut consumed: BTreeMap<DateTime<Utc>, Decimal> = BTreeMap::new();
    let mut refunded: HashMap<&str, Decimal> = HashMap::new();
    let mut credited: HashSet<String> = HashSet::new();
    let mut balance = Decimal::ZERO;
    // The listing is newest first.
    for e in entries.iter().rev() {
        let amount = dec(&e["credits"]);
        balance += amount;
        assert_eq!(dec(&e["balance_after"]), balance, "balance_after continues the running sum: {e}");
        assert!(balance >= Decimal::ZERO, "{e}");
        let reference = e["reference_id"].as_str();
        match e["type"].as_str().unwrap() {
            kind @ ("purchase" | "auto_topup") => {
                let p = purchase[reference.unwrap()];
                assert!(credited.insert(id_of(p)), "{p} credited twice: {e}");
                assert_eq!(p["auto_topup"] == true, kind == "auto_topup", "{e} for {p}");
                assert_eq!(amount, dec(&p["credits"]), "{e} for {p}");
                *left.entry(paid_at(p)).or_default() += amount;
            }
            "adjustment" if amount > Decimal::ZERO => {}
            "adjustment" | "generation" => {
                let mut debit = -amount;
                for (at, lot) in left.iter_mut() {
                    let take = debit.min(*lot);
                    *lot -= take;
                    *consumed.entry(*at).or_default() += take;
                    debit -= take;
                }
            }
            "refund" => {
                let r = refund[reference.unwrap()];
                assert_eq!(-amount, dec(&r["credits"]), "{e} for {r}");
                let p = purchase[r["purchase_id"].as_str().unwrap()];
                assert!(credited.contains(p["id"].as_str().unwrap()), "{r} refunds an unpaid purchase");
                let lot = left.get_mut(&paid_at(p)).unwrap();
                assert!(*lot >= -amount, "{r} refunds more than its lot has left");
                *lot += amount;
                *refunded.entry(p["id"].as_str().unwrap()).or_default() -= amount;
            }
            other => panic!("unexpected entry type {other}: {e}"),
        }
        let in_lots: Decimal = left.values().sum();
        assert!(in_lots <= balance, "after {e} the lots hold {in_lots}, more than the balance {balance}");
    }

    let mut groups: BTreeMap<DateTime<Utc>, Vec<&Value>> = BTreeMap::new();
    for p in purchases {
        let id = p["id"].as_str().unwrap();
        let (bought, remaining, returned) =
            (dec(&p["credits"]), dec(&p["credits_remaining"]), dec(&p["refunded_credits"]));
        if !credited.contains(id) {
            assert_eq!((remaining, returned), (Decimal::ZERO, Decimal::ZERO), "an unpaid purchase is no lot: {p}");
            continue;
        }
        assert_eq!(returned, refunded.get(id).copied().unwrap_or_default(), "the lot records its refunds: {p}");
        let status = match returned {
            r if r == Decimal::ZERO => "succeeded",
            r if r == bought => "refunded",
            _ => "partially_refunded",
        };
        assert_eq!(p["status"], status, "{p}");
        assert!(remaining >= Decimal::ZERO && remaining + returned <= bought, "{p}");
        groups.entry(paid_at(p)).or_default().push(p);
    }
    assert_eq!(groups.keys().collect::<Vec<_>>(), left.keys().collect::<Vec<_>>());
    for (at, lots) in &groups {
        let remaining: Decimal = lots.iter().map(|p| dec(&p["credits_remaining"])).sum();
        let used: Decimal =
            lots.iter().map(|p| dec(&p["credits"]) - dec(&p["credits_remaining"]) - dec(&p["refunded_credits"])).sum();
        assert_eq!(remaining, left[at], "credits left in the lot(s) paid at {at}: {lots:?}");
        assert_eq!(
            used,
            consumed.get(at).copied().unwrap_or_default(),
            "credits consumed from the lot(s) paid at {at}"
        );
    }
    Replayed { balance, credited }
}

async fn a_hundred_mixed_operations_on_one_account_keep_every_invariant(app: TestApp) {
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    race_on_one_account(&[app.server(0)], &app.pool, &admin.token, &ada.token, &ada.account_id).await;
}

backend_tests!(a_hundred_mixed_operations_on_one_account_keep_every_invariant);
