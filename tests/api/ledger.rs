use std::collections::HashSet;

use futures::future::join_all;
use serde_json::json;

use crate::backend_tests;
use crate::helpers::{dec, TestApp};

async fn new_accounts_start_empty(app: TestApp) {
    let ada = app.signup("ada@example.com").await;
    let b = app.balance(&ada.token).await;
    assert_eq!((b["balance"].as_str(), b["held"].as_str(), b["available"].as_str()), (Some("0"), Some("0"), Some("0")));
    assert_eq!(b["account_id"], ada.account_id.as_str());
    assert!(b["low_balance_threshold"].is_null());
    assert!(app.all_transactions(&ada.token).await.is_empty());
}

async fn transactions_paginate_newest_first_without_gaps_or_repeats(app: TestApp) {
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    for i in 1..=25 {
        app.grant(&admin, &ada.account_id, &format!("{i}")).await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/transactions?limit=10&cursor={c}"),
            None => "/v1/transactions?limit=10".into(),
        };
        let page = app.get(&path, Some(&ada.token)).await.expect(200);
        pages += 1;
        let data = page["data"].as_array().unwrap();
        seen.extend(data.iter().map(|e| dec(&e["credits"])));
        if !page["has_more"].as_bool().unwrap() {
            assert!(page["next_cursor"].is_null());
            break;
        }
        assert_eq!(data.len(), 10);
        cursor = Some(page["next_cursor"].as_str().unwrap().to_string());
    }
    assert_eq!(pages, 3);
    let expected: Vec<rust_decimal::Decimal> = (1..=25).rev().map(rust_decimal::Decimal::from).collect();
    assert_eq!(seen, expected, "newest first, each once");
    // balance_after runs exactly along the ledger.
    let all = app.all_transactions(&ada.token).await;
    assert_eq!(all[0]["balance_after"], "325");
    assert_eq!(all[0]["type"], "adjustment");
    assert!(all[0]["id"].as_str().unwrap().starts_with("txn_"));
    app.assert_ledger_consistent(&ada.token).await;
}

async fn transactions_filter_by_type_and_time(app: TestApp) {
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    app.grant(&admin, &ada.account_id, "10").await;
    let between = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    app.grant(&admin, &ada.account_id, "20").await;
    let encoded = between.to_rfc3339_opts(chrono::SecondsFormat::Micros, true).replace('+', "%2B");
    let after = app.get(&format!("/v1/transactions?from={encoded}"), Some(&ada.token)).await.expect(200);
    assert_eq!(after["data"].as_array().unwrap().len(), 1);
    assert_eq!(after["data"][0]["credits"], "20");
    let before = app.get(&format!("/v1/transactions?to={encoded}"), Some(&ada.token)).await.expect(200);
    assert_eq!(before["data"].as_array().unwrap().len(), 1);
    assert_eq!(before["data"][0]["credits"], "10");
    let adjustments = app.get("/v1/transactions?type=adjustment", Some(&ada.token)).await.expect(200);
    assert_eq!(adjustments["data"].as_array().unwrap().len(), 2);
    let purchases = app.get("/v1/transactions?type=purchase", Some(&ada.token)).await.expect(200);
    assert!(purchases["data"].as_array().unwrap().is_empty());
    app.get("/v1/transactions?type=gift", Some(&ada.token)).await.expect_error(400, "invalid_request", "invalid_type");
    app.get("/v1/transactions?limit=0", Some(&ada.token)).await.expect_error(400, "invalid_request", "invalid_limit");
    app.get("/v1/transactions?limit=101", Some(&ada.token)).await.expect_error(400, "invalid_request", "invalid_limit");
    // A cursor that names no item of this list is not found.
    app.get("/v1/transactions?cursor=bogus", Some(&ada.token)).await.expect_error(404, "not_found", "resource_missing");
    app.get("/v1/transactions?from=yesterday", Some(&ada.token)).await.expect_error(
        400,
        "invalid_request",
        "invalid_parameter",
    );
    // Another account's entry id is not a cursor here.
    let bob = app.signup("bob@example.com").await;
    app.grant(&admin, &bob.account_id, "1").await;
    let bobs = app.all_transactions(&bob.token).await;
    let foreign = bobs[0]["id"].as_str().unwrap();
    app.get(&format!("/v1/transactions?cursor={foreign}"), Some(&ada.token)).await.expect_error(
        404,
        "not_found",
        "resource_missing",
    );
}

/// Many parallel debits against one account: exactly as many succeed as the balance covers,
/// never an overdraw, and the ledger still sums to the balance.
async fn concurrent_spends_never_overdraw(app: TestApp) {
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    app.grant(&admin, &ada.account_id, "100").await;
    let path = format!("/v1/admin/accounts/{}/adjustments", ada.account_id);
    let requests = (0..60).map(|i| {
        let app = &app;
        let path = &path;
        let token = &admin.token;
        async move { app.post(path, Some(token), json!({"credits": "-3", "reason": format!("spend {i}")})).await }
    });
    let results = join_all(requests).await;
    let ok = results.iter().filter(|r| r.status == 201).count();
    let short = results.iter().filter(|r| r.status == 402).count();
    assert_eq!(ok, 33, "100 credits cover exactly 33 spends of 3");
    assert_eq!(short, 27, "the rest are refused with 402");
    for r in results.iter().filter(|r| r.status == 402) {
        assert_eq!(r.body["error"]["type"], "insufficient_credits");
    }
    let b = app.balance(&ada.token).await;
    assert_eq!(b["balance"], "1");
    assert_eq!(b["available"], "1");
    let entries = app.all_transactions(&ada.token).await;
    assert_eq!(entries.len(), 34);
    let after: HashSet<_> = entries.iter().map(|e| e["balance_after"].as_str().unwrap().to_string()).collect();
    assert_eq!(after.len(), 34, "every entry has its own balance_after: no two spends saw the same balance");
    app.assert_ledger_consistent(&ada.token).await;
}

backend_tests!(
    new_accounts_start_empty,
    transactions_paginate_newest_first_without_gaps_or_repeats,
    transactions_filter_by_type_and_time,
    concurrent_spends_never_overdraw,
);
