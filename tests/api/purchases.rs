use futures::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::helpers::{card_payment, dec, TestApp};

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

async fn card_purchases_credit_before_responding(app: TestApp) {
    let ada = app.signup("ada@example.com").await;
    let (_, key) = app.api_key(&ada, &["purchases:write", "balance:read", "usage:read"]).await;
    let p = app.buy(&key, "standard", "tok_visa").await;
    assert!(p["id"].as_str().unwrap().starts_with("pur_"));
    assert_eq!(p["status"], "succeeded");
    assert_eq!(p["credits"], "5000");
    assert_eq!(p["amount"], json!({"amount": "50.00", "currency": "CNY"}));
    assert_eq!(p["payment_method"], json!({"type": "card", "brand": "visa", "last4": "4242"}));
    assert_eq!(p["credits_remaining"], "5000");
    let succeeded: chrono::DateTime<chrono::Utc> = p["succeeded_at"].as_str().unwrap().parse().unwrap();
    let until: chrono::DateTime<chrono::Utc> = p["refundable_until"].as_str().unwrap().parse().unwrap();
    assert_eq!(until - succeeded, chrono::Duration::days(30));
    assert_eq!(app.balance(&key).await["balance"], "5000");
    let mc = app.buy(&key, "basic", "tok_mastercard").await;
    assert_eq!(mc["payment_method"]["brand"], "mastercard");
    let amex = app.buy(&key, "basic", "tok_amex").await;
    assert_eq!(
        (amex["payment_method"]["brand"].as_str(), amex["payment_method"]["last4"].as_str()),
        (Some("amex"), Some("0005"))
    );
    assert_eq!(app.balance(&key).await["balance"], "5200");
    let entries = app.all_transactions(&key).await;
    assert_eq!(entries.len(), 3);
    assert!(entries.iter().all(|e| e["type"] == "purchase"));
    assert_eq!(entries[2]["reference_id"], p["id"]);
    let got = app.get(&format!("/v1/purchases/{}", p["id"].as_str().unwrap()), Some(&key)).await.expect(200);
    assert_eq!(got, p);
    assert_eq!(app.get("/v1/purchases", Some(&key)).await.expect(200)["data"].as_array().unwrap().len(), 3);
    app.assert_ledger_consistent(&key).await;
}

async fn declined_cards_are_402_and_recorded_as_failed(app: TestApp) {
    let ada = app.signup("ada@example.com").await;
    let declined = app
        .post(
            "/v1/purchases",
            Some(&ada.token),
            json!({"package_id": "basic", "payment_method": card_payment("tok_chargeDeclined")}),
        )
        .await;
    declined.expect_error(402, "payment_failed", "card_declined");
    let funds = app
        .post(
            "/v1/purchases",
            Some(&ada.token),
            json!({"package_id": "basic", "payment_method": card_payment("tok_chargeDeclinedInsufficientFunds")}),
        )
        .await;
    funds.expect_error(402, "payment_failed", "insufficient_funds");
    let list = app.get("/v1/purchases", Some(&ada.token)).await.expect(200);
    let data = list["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert!(data.iter().all(|p| p["status"] == "failed" && p["credits_remaining"] == "0"));
    assert_eq!(data[0]["failure_code"], "insufficient_funds");
    assert_eq!(data[1]["failure_code"], "card_declined");
    assert_eq!(app.balance(&ada.token).await["balance"], "0");
    assert!(app.all_transactions(&ada.token).await.is_empty());
}

async fn invalid_cards_and_requests_are_400_and_record_nothing(app: TestApp) {
    let ada = app.signup("ada@example.com").await;
    let t = Some(ada.token.as_str());
    let post = |pm: Value| app.post("/v1/purchases", t, json!({"package_id": "basic", "payment_method": pm}));
    let discover =
        post(card_payment("tok_discover")).await.expect_error(400, "invalid_request", "unsupported_card_brand");
    assert_eq!(discover["error"]["param"], "payment_method.token");
    for token in ["4242424242424241", "tok_unknown", ""] {
        let unknown = post(card_payment(token)).await.expect_error(400, "invalid_request", "invalid_card_token");
        assert_eq!(unknown["error"]["param"], "payment_method.token");
    }
    // A card number or CVC is never accepted, wherever it is, and the answer says how to pay.
    for pm in [
        json!({"type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123"}}),
        json!({"type": "card", "token": "tok_visa", "cvc": "123"}),
        json!({"type": "card", "number": "4242424242424242"}),
    ] {
        let refused = post(pm).await.expect_error(400, "invalid_request", "card_data_not_accepted");
        assert!(refused["error"]["message"].as_str().unwrap().contains("token"), "{refused}");
    }
    let save = json!({"type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123"}});
    app.post("/v1/payment-methods", t, save).await.expect_error(400, "invalid_request", "card_data_not_accepted");
    let unknown = app.post("/v1/payment-methods", t, json!({"type": "card", "token": "tok_nope"})).await;
    assert_eq!(unknown.expect_error(400, "invalid_request", "invalid_card_token")["error"]["param"], "token");
    post(json!({"type": "card", "token": "tok_visa", "payment_method_id": "pm_x"})).await.expect_error(
        400,
        "invalid_request",
        "invalid_payment_method",
    );
    post(json!({"type": "card"})).await.expect_error(400, "invalid_request", "invalid_payment_method");
    post(json!({"type": "bitcoin"})).await.expect_error(400, "invalid_request", "invalid_payment_method");
    post(json!({"type": "alipay", "payment_method_id": "pm_x"})).await.expect_error(
        400,
        "invalid_request",
        "invalid_payment_method",
    );
    post(json!({"type": "card", "payment_method_id": "pm_doesnotexist"})).await.expect_error(
        404,
        "not_found",
        "resource_missing",
    );
    app.post("/v1/purchases", t, json!({"package_id": "gold", "payment_method": card_payment("tok_visa")}))
        .await
        .expect_error(404, "not_found", "resource_missing");
    let (_, reader) = app.api_key(&ada, &["balance:read"]).await;
    app.post(
        "/v1/purchases",
        Some(&reader),
        json!({"package_id": "basic", "payment_method": card_payment("tok_visa")}),
    )
    .await
    .expect_error(403, "permission_denied", "missing_scope");
    assert!(app.get("/v1/purchases", t).await.expect(200)["data"].as_array().unwrap().is_empty());
    assert_eq!(app.balance(&ada.token).await["balance"], "0");
}

async fn wallets_wait_for_the_signed_webhook(app: TestApp) {
    let ada = app.signup("ada@example.com").await;
    let t = Some(ada.token.as_str());
    let alipay = app
        .post("/v1/purchases", t, json!({"package_id": "standard", "payment_method": {"type": "alipay"}}))
        .await
        .expect(201);
    assert_eq!(alipay["status"], "requires_action");
    assert_eq!(alipay["next_action"]["type"], "redirect");
    // The sandbox plays the provider's side on its own pages.
    let alipay_page = format!("{}/sandbox/alipay/{}", app.base, alipay["id"].as_str().unwrap());
    assert_eq!(alipay["next_action"]["url"], alipay_page.as_str());
    assert!(alipay["refundable_until"].is_null());
    let wechat = app
        .post("/v1/purchases", t, json!({"package_id": "basic", "payment_method": {"type": "wechat_pay"}}))
        .await
        .expect(201);
    assert_eq!(
        (wechat["status"].as_str(), wechat["next_action"]["type"].as_str()),
        (Some("requires_action"), Some("qr_code"))
    );
    assert_eq!(app.balance(&ada.token).await["balance"], "0");
    let id = alipay["id"].as_str().unwrap();
    // A bad signature, a stale one and an unsigned one change nothing.
    let body = json!({"id": "evt_1", "type": "payment.succeeded", "data": {"purchase_id": id}}).to_string();
    let forged = apinfer_core::signature::sign(b"wrong secret", now(), body.as_bytes());
    app.raw_post("/v1/webhooks/payments/sandbox", body.clone(), &[("Apinfer-Signature", &forged)]).await.expect_error(
        400,
        "invalid_request",
        "invalid_signature",
    );
    app.raw_post("/v1/webhooks/payments/sandbox", body, &[]).await.expect_error(
        400,
        "invalid_request",
        "invalid_signature",
    );
    app.payment_webhook("evt_1", "payment.succeeded", id, now() - 301).await.expect_error(
        400,
        "invalid_request",
        "invalid_signature",
    );
    assert_eq!(app.balance(&ada.token).await["balance"], "0");
    // The genuine event credits; its redelivery is acknowledged and ignored.
    let ack = app.payment_webhook("evt_1", "payment.succeeded", id, now()).await.expect(200);
    assert_eq!(ack, json!({"received": true, "duplicate": false, "purchase_status": "succeeded"}));
    let again = app.payment_webhook("evt_1", "payment.succeeded", id, now()).await.expect(200);
    assert_eq!(again["duplicate"], true);
    // A different event for the same purchase does not credit twice either.
    app.payment_webhook("evt_2", "payment.succeeded", id, now()).await.expect(200);
    assert_eq!(app.balance(&ada.token).await["balance"], "5000");
    // payment.failed fails the other one.
    let failed =
        app.payment_webhook("evt_3", "payment.failed", wechat["id"].as_str().unwrap(), now()).await.expect(200);
    assert_eq!(failed["purchase_status"], "failed");
    app.payment_webhook("evt_4", "payment.succeeded", "pur_nosuchpurchase", now()).await.expect_error(
        404,
        "not_found",
        "resource_missing",
    );
    app.assert_ledger_consistent(&ada.token).await;
}

async fn bank_transfers_are_credited_by_an_admin_once(app: TestApp) {
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    let t = Some(ada.token.as_str());
    let p = app
        .post("/v1/purchases", t, json!({"package_id": "premium", "payment_method": {"type": "bank_transfer"}}))
        .await
        .expect(201);
    assert_eq!(p["status"], "pending");
    let bank = &p["bank_transfer"];
    for field in ["reference", "beneficiary", "bank_name", "account_number"] {
        assert!(bank[field].as_str().is_some_and(|v| !v.is_empty()), "{field}");
    }
    let other = app
        .post("/v1/purchases", t, json!({"package_id": "basic", "payment_method": {"type": "bank_transfer"}}))
        .await
        .expect(201);
    assert_ne!(other["bank_transfer"]["reference"], bank["reference"], "references are unique");
    assert_eq!(app.balance(&ada.token).await["balance"], "0");
    let id = p["id"].as_str().unwrap();
    app.post(&format!("/v1/admin/purchases/{id}/confirm"), t, json!({})).await.expect_error(
        403,
        "permission_denied",
        "admin_required",
    );
    let confirmed =
        app.post(&format!("/v1/admin/purchases/{id}/confirm"), Some(&admin.token), json!({})).await.expect(200);
    assert_eq!(confirmed["status"], "succeeded");
    app.post(&format!("/v1/admin/purchases/{id}/confirm"), Some(&admin.token), json!({})).await.expect(200);
    app.payment_webhook("evt_late", "payment.succeeded", id, now()).await.expect(200);
    assert_eq!(app.balance(&ada.token).await["balance"], "50000");
    assert_eq!(app.all_transactions(&ada.token).await.len(), 1);
    let failed = app.payment_webhook("evt_f", "payment.failed", other["id"].as_str().unwrap(), now()).await.expect(200);
    assert_eq!(failed["purchase_status"], "failed");
    app.post(&format!("/v1/admin/purchases/{}/confirm", other["id"].as_str().unwrap()), Some(&admin.token), json!({}))
        .await
        .expect_error(409, "conflict", "purchase_not_awaiting_payment");
    app.assert_ledger_consistent(&ada.token).await;
}

/// Whatever arrives twice, late or concurrently, credits once.
async fn crediting_is_exactly_once_under_races(app: TestApp) {
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    let t = Some(ada.token.as_str());
    // The same webhook delivered 20 times at once.
    let p1 = app
        .post("/v1/purchases", t, json!({"package_id": "standard", "payment_method": {"type": "alipay"}}))
        .await
        .expect(201);
    let id1 = p1["id"].as_str().unwrap().to_string();
    let deliveries = (0..20).map(|_| app.payment_webhook("evt_same", "payment.succeeded", &id1, now()));
    let acks = join_all(deliveries).await;
    assert!(acks.iter().all(|a| a.status == 200), "{:?}", acks.iter().map(|a| &a.text).collect::<Vec<_>>());
    assert_eq!(acks.iter().filter(|a| a.body["duplicate"] == false).count(), 1);
    // Webhooks with distinct ids racing admin confirmations of one bank transfer.
    let p2 = app
        .post("/v1/purchases", t, json!({"package_id": "standard", "payment_method": {"type": "bank_transfer"}}))
        .await
        .expect(201);
    let id2 = p2["id"].as_str().unwrap().to_string();
    let path = format!("/v1/admin/purchases/{id2}/confirm");
    let hooks = (0..10).map(|i| {
        let id2 = id2.clone();
        let app = &app;
        async move { app.payment_webhook(&format!("evt_race_{i}"), "payment.succeeded", &id2, now()).await }
    });
    let confirms = (0..10).map(|_| app.post(&path, Some(&admin.token), json!({})));
    let (hooks, confirms) = futures::join!(join_all(hooks), join_all(confirms));
    assert!(hooks.iter().chain(confirms.iter()).all(|r| r.status == 200));
    // The same card purchase retried concurrently with one Idempotency-Key.
    let body = json!({"package_id": "basic", "payment_method": card_payment("tok_visa")});
    let retries = (0..10)
        .map(|_| app.request(Method::POST, "/v1/purchases", t, Some(body.clone()), &[("Idempotency-Key", "buy-once")]));
    let results = join_all(retries).await;
    assert!(results.iter().all(|r| r.status == 201 || r.status == 409));
    let ids: std::collections::HashSet<_> =
        results.iter().filter(|r| r.status == 201).map(|r| r.body["id"].clone()).collect();
    assert_eq!(ids.len(), 1, "one purchase behind every success");
    assert_eq!(app.balance(&ada.token).await["balance"], "10100");
    let entries = app.all_transactions(&ada.token).await;
    assert_eq!(entries.len(), 3, "{entries:?}");
    assert_eq!(app.get("/v1/purchases", t).await.expect(200)["data"].as_array().unwrap().len(), 3);
    app.assert_ledger_consistent(&ada.token).await;
}

async fn saved_cards_pay_without_the_number(app: TestApp) {
    let ada = app.signup("ada@example.com").await;
    let bob = app.signup("bob@example.com").await;
    let t = Some(ada.token.as_str());
    let pm = app.post("/v1/payment-methods", t, json!({"type": "card", "token": "tok_mastercard"})).await.expect(201);
    assert!(pm["id"].as_str().unwrap().starts_with("pm_"));
    assert_eq!(
        (pm["brand"].as_str(), pm["last4"].as_str(), pm["exp_month"].as_i64()),
        (Some("mastercard"), Some("4444"), Some(12))
    );
    assert!(!pm.to_string().contains("tok_mastercard"));
    let list = app.get("/v1/payment-methods", t).await.expect(200);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let id = pm["id"].as_str().unwrap();
    let p = app
        .post(
            "/v1/purchases",
            t,
            json!({"package_id": "basic", "payment_method": {"type": "card", "payment_method_id": id}}),
        )
        .await
        .expect(201);
    assert_eq!(p["status"], "succeeded");
    assert_eq!(
        p["payment_method"],
        json!({"type": "card", "brand": "mastercard", "last4": "4444", "payment_method_id": id})
    );
    // Another account cannot use or see it.
    app.post(
        "/v1/purchases",
        Some(&bob.token),
        json!({"package_id": "basic", "payment_method": {"type": "card", "payment_method_id": id}}),
    )
    .await
    .expect_error(404, "not_found", "resource_missing");
    app.request(Method::DELETE, &format!("/v1/payment-methods/{id}"), Some(&bob.token), None, &[]).await.expect_error(
        404,
        "not_found",
        "resource_missing",
    );
    // A saved declining card declines off-session too.
    let bad =
        app.post("/v1/payment-methods", t, json!({"type": "card", "token": "tok_chargeDeclined"})).await.expect(201);
    app.post(
        "/v1/purchases",
        t,
        json!({"package_id": "basic", "payment_method": {"type": "card", "payment_method_id": bad["id"]}}),
    )
    .await
    .expect_error(402, "payment_failed", "card_declined");
    app.request(Method::DELETE, &format!("/v1/payment-methods/{id}"), t, None, &[]).await.expect(200);
    app.post(
        "/v1/purchases",
        t,
        json!({"package_id": "basic", "payment_method": {"type": "card", "payment_method_id": id}}),
    )
    .await
    .expect_error(404, "not_found", "resource_missing");
    app.post("/v1/payment-methods", t, json!({"type": "card", "token": "tok_discover"})).await.expect_error(
        400,
        "invalid_request",
        "unsupported_card_brand",
    );
    assert_eq!(app.balance(&ada.token).await["balance"], "100");
}

async fn lots_are_spent_oldest_first_and_refunds_return_the_unused_part(app: TestApp) {
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    let t = Some(ada.token.as_str());
    let first = app.buy(&ada.token, "basic", "tok_visa").await;
    let second = app.buy(&ada.token, "basic", "tok_visa").await;
    // A bonus adjustment is not a lot; spending 150 takes lot 1 whole and 50 of lot 2.
    app.grant(&admin, &ada.account_id, "10").await;
    let path = format!("/v1/admin/accounts/{}/adjustments", ada.account_id);
    app.post(&path, Some(&admin.token), json!({"credits": "-150", "reason": "usage"})).await.expect(201);
    let app_ref = &app;
    let get = |p: &Value| {
        let path = format!("/v1/purchases/{}", p["id"].as_str().unwrap());
        async move { app_ref.get(&path, t).await }
    };
    assert_eq!(get(&first).await.expect(200)["credits_remaining"], "0");
    assert_eq!(get(&second).await.expect(200)["credits_remaining"], "50");
    // What each lot's unused credits are worth back, before asking: nothing, and half of ¥10.
    assert!(get(&first).await.expect(200)["refundable_amount"].is_null());
    assert_eq!(get(&second).await.expect(200)["refundable_amount"], json!({"amount": "5.00", "currency": "CNY"}));
    let first_id = first["id"].as_str().unwrap();
    let second_id = second["id"].as_str().unwrap();
    app.post(&format!("/v1/purchases/{first_id}/refund"), t, json!({})).await.expect_error(
        422,
        "invalid_request",
        "nothing_to_refund",
    );
    let refund = app.post(&format!("/v1/purchases/{second_id}/refund"), t, json!({})).await.expect(201);
    assert!(refund["id"].as_str().unwrap().starts_with("ref_"));
    assert_eq!(refund["purchase_id"], second_id);
    assert_eq!(refund["credits"], "50");
    assert_eq!(refund["amount"], json!({"amount": "5.00", "currency": "CNY"}), "half the lot back at ¥0.10 a credit");
    assert_eq!(refund["status"], "processing");
    let created: chrono::DateTime<chrono::Utc> = refund["created_at"].as_str().unwrap().parse().unwrap();
    let expected: chrono::DateTime<chrono::Utc> = refund["expected_by"].as_str().unwrap().parse().unwrap();
    assert_eq!(expected, apinfer_core::store::refunds::add_business_days(created, 5));
    assert!((expected - created) >= chrono::Duration::days(5) && (expected - created) <= chrono::Duration::days(9));
    let after = get(&second).await.expect(200);
    assert_eq!(
        (after["status"].as_str(), after["credits_remaining"].as_str(), after["refunded_credits"].as_str()),
        (Some("partially_refunded"), Some("0"), Some("50"))
    );
    assert!(after["refundable_amount"].is_null(), "nothing left to refund");
    // The credits left at once; the bonus remains.
    assert_eq!(app.balance(&ada.token).await["balance"], "10");
    let refunds = app.get("/v1/refunds", t).await.expect(200);
    assert_eq!(refunds["data"].as_array().unwrap().len(), 1);
    app.post(&format!("/v1/purchases/{second_id}/refund"), t, json!({})).await.expect_error(
        422,
        "invalid_request",
        "nothing_to_refund",
    );
    let rid = refund["id"].as_str().unwrap();
    app.post(&format!("/v1/admin/refunds/{rid}/complete"), t, json!({})).await.expect_error(
        403,
        "permission_denied",
        "admin_required",
    );
    let done = app.post(&format!("/v1/admin/refunds/{rid}/complete"), Some(&admin.token), json!({})).await.expect(200);
    assert_eq!(done["status"], "succeeded");
    assert!(done["completed_at"].as_str().is_some());
    let entries = app.all_transactions(&ada.token).await;
    assert_eq!(entries[0]["type"], "refund");
    assert_eq!(entries[0]["credits"], "-50");
    assert_eq!(entries[0]["reference_id"], rid);
    app.assert_ledger_consistent(&ada.token).await;
}

async fn refunds_exact_amounts_window_and_idempotency(app: TestApp) {
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    let bob = app.signup("bob@example.com").await;
    let t = Some(ada.token.as_str());
    let p = app.buy(&ada.token, "standard", "tok_visa").await;
    let id = p["id"].as_str().unwrap();
    let path = format!("/v1/admin/accounts/{}/adjustments", ada.account_id);
    app.post(&path, Some(&admin.token), json!({"credits": "-1.75", "reason": "one image"})).await.expect(201);
    // Others cannot refund it: 404.
    app.post(&format!("/v1/purchases/{id}/refund"), Some(&bob.token), json!({})).await.expect_error(
        404,
        "not_found",
        "resource_missing",
    );
    // 29 days on it is still refundable; the retry with the same key replays.
    app.clock.advance(chrono::Duration::days(29));
    let headers = [("Idempotency-Key", "refund-1")];
    let refund = app.request(Method::POST, &format!("/v1/purchases/{id}/refund"), t, None, &headers).await.expect(201);
    assert_eq!(refund["credits"], "4998.25");
    assert_eq!(refund["amount"]["amount"], "49.98", "rounded down to the fen");
    let replay = app.request(Method::POST, &format!("/v1/purchases/{id}/refund"), t, None, &headers).await;
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.body, refund);
    assert_eq!(app.balance(&ada.token).await["balance"], "0");
    // Past 30 days: refused, and nothing moves.
    let late = app.buy(&ada.token, "basic", "tok_visa").await;
    app.clock.advance(chrono::Duration::days(31));
    app.post(&format!("/v1/purchases/{}/refund", late["id"].as_str().unwrap()), t, json!({})).await.expect_error(
        422,
        "invalid_request",
        "refund_window_expired",
    );
    assert_eq!(app.balance(&ada.token).await["balance"], "100");
    // A failed purchase has nothing to refund.
    let declined = app
        .post("/v1/purchases", t, json!({"package_id": "basic", "payment_method": card_payment("tok_chargeDeclined")}))
        .await;
    assert_eq!(declined.status, 402);
    let failed = &app.get("/v1/purchases", t).await.expect(200)["data"][0];
    app.post(&format!("/v1/purchases/{}/refund", failed["id"].as_str().unwrap()), t, json!({})).await.expect_error(
        422,
        "invalid_request",
        "purchase_not_refundable",
    );
    app.assert_ledger_consistent(&ada.token).await;
    assert_eq!(dec(&app.balance(&ada.token).await["balance"]), rust_decimal::Decimal::from(100));
}

/// The sandbox plays the customer's side of a `next_action` on its own pages: 3-D Secure for a
/// card that needs it, Alipay and WeChat Pay. Completing credits exactly once; failing
/// records why; a checkout form turns test card numbers into tokens in the browser.
async fn sandbox_pages_complete_or_fail_next_actions(app: TestApp) {
    let ada = app.signup("ada@example.com").await;
    let t = Some(ada.token.as_str());
    let buy = |pm: Value| app.post("/v1/purchases", t, json!({"package_id": "basic", "payment_method": pm}));
    let three_ds = buy(card_payment("tok_threeDSecureRequired")).await.expect(201);
    assert_eq!(three_ds["status"], "requires_action");
    assert_eq!(three_ds["payment_method"], json!({"type": "card", "brand": "visa", "last4": "3220"}));
    let page = format!("{}/sandbox/3ds/{}", app.base, three_ds["id"].as_str().unwrap());
    assert_eq!(three_ds["next_action"], json!({"type": "redirect", "url": page}));
    assert_eq!(app.balance(&ada.token).await["balance"], "0", "nothing before authentication");
    let html = app.client.get(&page).send().await.unwrap();
    assert!(html.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(html.text().await.unwrap().contains("3-D Secure"));
    let client = &app.client;
    let settle = |url: String| async move { client.post(url).send().await.unwrap() };
    let done = settle(format!("{page}/complete")).await;
    assert_eq!(done.status(), 200);
    assert_eq!(done.json::<Value>().await.unwrap()["status"], "succeeded");
    assert_eq!(settle(format!("{page}/complete")).await.status(), 409, "completed once only");
    assert_eq!(settle(format!("{page}/fail")).await.status(), 409);
    assert_eq!(app.balance(&ada.token).await["balance"], "100");
    let retrieved = app.get(&format!("/v1/purchases/{}", three_ds["id"].as_str().unwrap()), t).await.expect(200);
    assert_eq!(retrieved["status"], "succeeded");
    // Failing authentication records the reason and credits nothing.
    let failing = buy(card_payment("tok_threeDSecureRequired")).await.expect(201);
    let url = failing["next_action"]["url"].as_str().unwrap().to_string();
    assert_eq!(settle(format!("{url}/fail")).await.status(), 200);
    let failed = app.get(&format!("/v1/purchases/{}", failing["id"].as_str().unwrap()), t).await.expect(200);
    assert_eq!(
        (failed["status"].as_str(), failed["failure_code"].as_str()),
        (Some("failed"), Some("authentication_failed"))
    );
    // A wallet's page, and a page of the wrong kind for the purchase.
    let wechat = buy(json!({"type": "wechat_pay"})).await.expect(201);
    let url = wechat["next_action"]["url"].as_str().unwrap().to_string();
    assert!(url.contains("/sandbox/wechat_pay/"), "{url}");
    assert_eq!(settle(url.replace("wechat_pay", "alipay") + "/complete").await.status(), 409);
    assert_eq!(settle(format!("{url}/complete")).await.status(), 200);
    assert_eq!(app.balance(&ada.token).await["balance"], "200");
    // A saved card that needs 3-D Secure asks for it on-session too.
    let pm = app.post("/v1/payment-methods", t, json!({"type": "card", "token": "tok_threeDSecureRequired"})).await;
    let pm = pm.expect(201)["id"].as_str().unwrap().to_string();
    let saved = buy(json!({"type": "card", "payment_method_id": pm})).await.expect(201);
    assert_eq!(saved["status"], "requires_action");
    // The checkout form knows the test cards and their tokens.
    let checkout = app.client.get(format!("{}/sandbox/checkout", app.base)).send().await.unwrap().text().await.unwrap();
    for pair in [r#""4242424242424242": ["tok_visa""#, r#""4000000000003220": ["tok_threeDSecureRequired""#] {
        assert!(checkout.contains(pair), "{pair}");
    }
    app.assert_ledger_consistent(&ada.token).await;
}

backend_tests!(
    sandbox_pages_complete_or_fail_next_actions,
    card_purchases_credit_before_responding,
    declined_cards_are_402_and_recorded_as_failed,
    invalid_cards_and_requests_are_400_and_record_nothing,
    wallets_wait_for_the_signed_webhook,
    bank_transfers_are_credited_by_an_admin_once,
    crediting_is_exactly_once_under_races,
    saved_cards_pay_without_the_number,
    lots_are_spent_oldest_first_and_refunds_return_the_unused_part,
    refunds_exact_amounts_window_and_idempotency,
);

/// A refund never takes credits held by a generation in flight.
async fn refunds_leave_held_credits_alone(backend: crate::helpers::Backend) {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let mock = MockServer::start().await;
    let uri = mock.uri();
    let Some(app) = TestApp::spawn_with(backend, move |c| {
        c.upstream = Some(apinfer_api::config::UpstreamConfig {
            base_url: format!("{uri}/v1"),
            api_key: secrecy::SecretString::from("k"),
            models: vec!["qwen-image".into()],
            upstream_model: None,
            timeout_seconds: 3,
            max_retries: 0,
        });
    })
    .await
    else {
        return;
    };
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_delay(std::time::Duration::from_millis(1500)))
        .mount(&mock)
        .await;
    let ada = app.signup("ada@example.com").await;
    let p = app.buy(&ada.token, "basic", "tok_visa").await;
    let generation = app.post(
        "/v1/generations",
        Some(&ada.token),
        json!({"model": "qwen-image", "prompt": "x", "quality": "ultra", "n": 10}),
    );
    let refund = async {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        assert_eq!(app.balance(&ada.token).await["held"], "35");
        app.post(&format!("/v1/purchases/{}/refund", p["id"].as_str().unwrap()), Some(&ada.token), json!({}))
            .await
            .expect(201)
    };
    let (failed, refund) = futures::join!(generation, refund);
    assert_eq!(refund["credits"], "65", "100 unused, 35 of them held: 65 refundable");
    assert_eq!(refund["amount"]["amount"], "6.50");
    failed.expect_error(502, "upstream_error", "upstream_error");
    let b = app.balance(&ada.token).await;
    assert_eq!((b["balance"].as_str(), b["held"].as_str()), (Some("35"), Some("0")));
    app.assert_ledger_consistent(&ada.token).await;
}

crate::per_backend!(refunds_leave_held_credits_alone);
