//! Trying to lose (or mint) credits with races: 100 parallel mixed operations on one account,
//! then every invariant checked through the API. (Automatic top-ups are not part of the mix:
//! the feature does not exist yet.)

use std::collections::{HashMap, HashSet};

use futures::future::{join_all, BoxFuture};
use futures::FutureExt;
use rand::seq::SliceRandom;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::helpers::{card_payment, dec, Resp, TestApp};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Op {
    CardPurchase,
    /// A delivery of the success webhook of wallet purchase number `.0` (each is sent twice at once).
    Webhook(usize),
    /// A refund of pre-made card purchase number `.0` (each is requested twice at once).
    Refund(usize),
    Generation,
    /// A generation with the key whose spend limit is 10 credits.
    LimitedGeneration,
    AdjustUp,
    AdjustDown,
}

/// Every page of a list endpoint.
async fn all_pages(app: &TestApp, path: &str, token: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page_path = match &cursor {
            Some(c) => format!("{path}?limit=100&cursor={c}"),
            None => format!("{path}?limit=100"),
        };
        let page = app.get(&page_path, Some(token)).await.expect(200);
        out.extend(page["data"].as_array().unwrap().iter().cloned());
        if page["has_more"] != true {
            return out;
        }
        cursor = page["next_cursor"].as_str().map(str::to_string);
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

async fn a_hundred_mixed_operations_on_one_account_keep_every_invariant(app: TestApp) {
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    let t = ada.token.as_str();
    // Before the race: 5 card lots of 100, a 50-credit bonus, 10 wallet purchases awaiting
    // their webhook, and a key capped at 10 credits.
    let mut lots = Vec::new();
    for _ in 0..5 {
        lots.push(app.buy(t, "basic", "4242424242424242").await["id"].as_str().unwrap().to_string());
    }
    app.grant(&admin, &ada.account_id, "50").await;
    let mut wallets = Vec::new();
    for _ in 0..10 {
        let p = app
            .post("/v1/purchases", Some(t), json!({"package_id": "basic", "payment_method": {"type": "alipay"}}))
            .await
            .expect(201);
        wallets.push(p["id"].as_str().unwrap().to_string());
    }
    let capped = app
        .post("/v1/api-keys", Some(t), json!({"name": "capped", "scopes": ["generations:write"], "spend_limit": "10"}))
        .await
        .expect(201);
    let capped_key = capped["key"].as_str().unwrap().to_string();
    let capped_id = capped["id"].as_str().unwrap().to_string();

    let mut ops = Vec::new();
    ops.extend([Op::CardPurchase; 15]);
    for i in 0..wallets.len() {
        ops.extend([Op::Webhook(i), Op::Webhook(i)]);
    }
    for i in 0..lots.len() {
        ops.extend([Op::Refund(i), Op::Refund(i)]);
    }
    ops.extend([Op::Generation; 25]);
    ops.extend([Op::LimitedGeneration; 10]);
    ops.extend([Op::AdjustUp; 10]);
    ops.extend([Op::AdjustDown; 10]);
    assert_eq!(ops.len(), 100);
    ops.shuffle(&mut rand::thread_rng());

    let adjust_path = format!("/v1/admin/accounts/{}/adjustments", ada.account_id);
    let generation = json!({"model": "qwen-image", "prompt": "a race", "size": "512x512"});
    let app_ref = &app;
    let futures: Vec<BoxFuture<'_, (Op, Resp)>> = ops
        .iter()
        .map(|&op| {
            let (lots, wallets, adjust_path, generation, capped_key, admin) =
                (&lots, &wallets, &adjust_path, &generation, &capped_key, &admin);
            async move {
                let resp = match op {
                    Op::CardPurchase => {
                        let body = json!({"package_id": "basic", "payment_method": card_payment("4242424242424242")});
                        app_ref.post("/v1/purchases", Some(t), body).await
                    }
                    Op::Webhook(i) => {
                        app_ref.payment_webhook(&format!("evt_race_{i}"), "payment.succeeded", &wallets[i], now()).await
                    }
                    Op::Refund(i) => {
                        app_ref.post(&format!("/v1/purchases/{}/refund", lots[i]), Some(t), json!({})).await
                    }
                    Op::Generation => app_ref.post("/v1/generations", Some(t), generation.clone()).await,
                    Op::LimitedGeneration => {
                        app_ref.post("/v1/generations", Some(capped_key), generation.clone()).await
                    }
                    Op::AdjustUp => {
                        app_ref
                            .post(adjust_path, Some(&admin.token), json!({"credits": "7.5", "reason": "race bonus"}))
                            .await
                    }
                    Op::AdjustDown => {
                        app_ref
                            .post(adjust_path, Some(&admin.token), json!({"credits": "-3.25", "reason": "race charge"}))
                            .await
                    }
                };
                (op, resp)
            }
            .boxed()
        })
        .collect();
    let results = join_all(futures).await;

    // Every answer is one the contract allows for that operation; none is a 5xx.
    let mut ok: HashMap<Op, usize> = HashMap::new();
    let mut refunded_credits = Decimal::ZERO;
    let mut refunds_per_lot: HashMap<usize, usize> = HashMap::new();
    let mut first_deliveries: HashMap<usize, usize> = HashMap::new();
    for (op, resp) in &results {
        let status = resp.status.as_u16();
        let code = resp.body["error"]["code"].as_str().unwrap_or("");
        let allowed = match op {
            Op::CardPurchase | Op::AdjustUp => status == 201,
            Op::Webhook(_) => status == 200,
            Op::Refund(_) => {
                status == 201
                    || (status == 422 && matches!(code, "nothing_to_refund" | "purchase_not_refundable"))
                    || (status == 409 && code == "credits_held")
            }
            Op::Generation | Op::AdjustDown => status == 201 || (status == 402 && code == "insufficient_credits"),
            Op::LimitedGeneration => {
                status == 201 || (status == 402 && matches!(code, "insufficient_credits" | "spend_limit_exceeded"))
            }
        };
        assert!(allowed, "{op:?} answered {status}: {}", resp.text);
        if status == 200 || status == 201 {
            *ok.entry(*op).or_default() += 1;
        }
        match op {
            Op::Refund(i) if status == 201 => {
                refunded_credits += dec(&resp.body["credits"]);
                *refunds_per_lot.entry(*i).or_default() += 1;
            }
            Op::Webhook(i) if resp.body["duplicate"] == false => *first_deliveries.entry(*i).or_default() += 1,
            _ => {}
        }
    }
    let count = |op: Op| ok.get(&op).copied().unwrap_or(0);
    let webhooks_ok: usize = (0..wallets.len()).map(|i| count(Op::Webhook(i))).sum();
    assert_eq!(webhooks_ok, 20, "every delivery is acknowledged");
    assert!(refunds_per_lot.values().all(|&n| n == 1), "one refund per lot at most: {refunds_per_lot:?}");
    assert_eq!(
        (0..wallets.len()).map(|i| first_deliveries.get(&i).copied().unwrap_or(0)).collect::<Vec<_>>(),
        vec![1; wallets.len()],
        "exactly one delivery of each event credits"
    );
    let limited = count(Op::LimitedGeneration);
    assert!(limited <= 5, "a 10-credit cap allows at most five 1.75-credit generations, {limited} succeeded");

    // The balance is exactly what the successful operations add up to.
    let generations = count(Op::Generation) + limited;
    let expected = Decimal::from(500 + 50 + 100 * 15 + 100 * 10) - refunded_credits
        + Decimal::new(75, 1) * Decimal::from(count(Op::AdjustUp))
        - Decimal::new(325, 2) * Decimal::from(count(Op::AdjustDown))
        - Decimal::new(175, 2) * Decimal::from(generations);
    let balance = app.balance(t).await;
    assert_eq!(dec(&balance["balance"]), expected, "{balance}");
    assert_eq!(balance["held"], "0", "no hold outlives its request");
    assert!(dec(&balance["available"]) >= Decimal::ZERO);
    app.assert_ledger_consistent(t).await;

    // The ledger explains every movement once.
    let entries = app.all_transactions(t).await;
    let of_type = |ty: &str| entries.iter().filter(|e| e["type"] == ty).collect::<Vec<_>>();
    assert_eq!(of_type("generation").len(), generations);
    assert!(of_type("generation").iter().all(|e| e["credits"] == "-1.75"));
    assert_eq!(of_type("refund").len(), refunds_per_lot.len());
    assert_eq!(of_type("adjustment").len(), 1 + count(Op::AdjustUp) + count(Op::AdjustDown));
    let purchases = all_pages(&app, "/v1/purchases", t).await;
    assert_eq!(purchases.len(), 5 + 10 + 15);
    let credited: HashSet<&str> = purchases
        .iter()
        .filter(|p| matches!(p["status"].as_str(), Some("succeeded" | "refunded" | "partially_refunded")))
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(credited.len(), 30, "every purchase was paid");
    let purchase_entries = of_type("purchase");
    let referenced: HashSet<&str> = purchase_entries.iter().map(|e| e["reference_id"].as_str().unwrap()).collect();
    assert_eq!(purchase_entries.len(), credited.len(), "no purchase credited twice");
    assert_eq!(referenced, credited, "each credited purchase has exactly its one entry");

    // Lots: what is left and what was refunded never exceed what was bought, and the unused
    // parts of the lots are covered by the balance.
    let mut remaining = Decimal::ZERO;
    for p in &purchases {
        let (credits, left, refunded) = (dec(&p["credits"]), dec(&p["credits_remaining"]), dec(&p["refunded_credits"]));
        assert!(left >= Decimal::ZERO && left <= credits, "{p}");
        assert!(refunded >= Decimal::ZERO && left + refunded <= credits, "{p}");
        remaining += left;
    }
    assert!(remaining <= dec(&balance["balance"]), "lots hold {remaining}, more than the balance");
    let refunds = all_pages(&app, "/v1/refunds", t).await;
    assert_eq!(refunds.len(), refunds_per_lot.len());
    let refunds_sum: Decimal = refunds.iter().map(|r| dec(&r["credits"])).sum();
    assert_eq!(refunds_sum, refunded_credits);
    let lot_refunds: Decimal = purchases.iter().map(|p| dec(&p["refunded_credits"])).sum();
    assert_eq!(lot_refunds, refunded_credits, "the lots record every refunded credit");

    // The capped key spent exactly what its generations cost, within its cap.
    let keys = app.get("/v1/api-keys", Some(t)).await.expect(200);
    let key = keys["data"].as_array().unwrap().iter().find(|k| k["id"] == capped_id.as_str()).unwrap();
    assert_eq!(dec(&key["spent"]), Decimal::new(175, 2) * Decimal::from(limited));
    assert!(dec(&key["spent"]) <= Decimal::from(10));
}

backend_tests!(a_hundred_mixed_operations_on_one_account_keep_every_invariant);
