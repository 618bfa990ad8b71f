use std::time::Duration;

use futures::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::helpers::{metric, Backend, TestApp, TestUser};
use crate::{backend_tests, per_backend};

async fn setup(app: &TestApp, credits: &str) -> (TestUser, TestUser) {
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    app.grant(&admin, &ada.account_id, credits).await;
    (admin, ada)
}

async fn generate(app: &TestApp, token: &str) -> u16 {
    app.post("/v1/generations", Some(token), json!({"model": "qwen-image", "prompt": "x", "size": "512x512"}))
        .await
        .status
        .as_u16()
}

/// Waits until `check` holds (background workers), up to 10 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn notifications(app: &TestApp, token: &str, kind: &str) -> Vec<Value> {
    let list = app.get("/v1/notifications?limit=100", Some(token)).await.expect(200);
    list["data"].as_array().unwrap().iter().filter(|n| n["type"] == kind).cloned().collect()
}

fn verify(secret: &str, request: &Request) -> Value {
    let header = request.headers.get("apinfer-signature").expect("signed").to_str().unwrap();
    apinfer_core::signature::verify(secret.as_bytes(), header, &request.body, chrono::Utc::now().timestamp())
        .expect("a valid signature");
    serde_json::from_slice(&request.body).unwrap()
}

/// One alert per downward crossing of the threshold, re-armed by a rise above it, delivered to
/// the webhook signed with the account's secret.
async fn low_balance_alerts_fire_once_per_crossing(app: TestApp) {
    let receiver = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&receiver).await;
    let (admin, ada) = setup(&app, "12").await;
    let t = Some(ada.token.as_str());
    let settings = app
        .request(
            Method::PUT,
            "/v1/settings/low-balance-alert",
            t,
            Some(json!({"enabled": true, "threshold": "10", "webhook_url": format!("{}/hook", receiver.uri())})),
            &[],
        )
        .await
        .expect(200);
    let secret = settings["webhook_secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(app.get("/v1/settings/low-balance-alert", t).await.expect(200), settings);
    assert_eq!(app.balance(&ada.token).await["low_balance_threshold"], "10");
    assert_eq!(generate(&app, &ada.token).await, 201); // 12 → 10.25: still above
    assert!(notifications(&app, &ada.token, "low_balance").await.is_empty());
    assert_eq!(generate(&app, &ada.token).await, 201); // 10.25 → 8.5: crossing
    assert_eq!(generate(&app, &ada.token).await, 201); // 8.5 → 6.75: already below, no new alert
    let alerts = notifications(&app, &ada.token, "low_balance").await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["data"], json!({"available": "8.5", "threshold": "10"}));
    // A rise above re-arms it; the next drop alerts again (an adjustment is a drop too).
    app.grant(&admin, &ada.account_id, "20").await;
    let path = format!("/v1/admin/accounts/{}/adjustments", ada.account_id);
    app.post(&path, Some(&admin.token), json!({"credits": "-20", "reason": "x"})).await.expect(201);
    assert_eq!(notifications(&app, &ada.token, "low_balance").await.len(), 2);
    eventually("two webhook deliveries", || async { receiver.received_requests().await.unwrap().len() == 2 }).await;
    let received = receiver.received_requests().await.unwrap();
    let first = verify(&secret, &received[0]);
    assert_eq!(first["type"], "balance.low");
    assert!(first["id"].as_str().unwrap().starts_with("evt_"));
    assert!(first["created"].as_i64().unwrap() > 1_700_000_000);
    assert_eq!(first["data"], json!({"available": "8.5", "threshold": "10"}));
    assert_eq!(verify(&secret, &received[1])["data"]["available"], "6.75");
    // The same events are listed, with the ids the webhook carried.
    let events = app.get("/v1/events?type=balance.low", t).await.expect(200);
    let listed: Vec<&str> = events["data"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(listed, [verify(&secret, &received[1])["id"].as_str().unwrap(), first["id"].as_str().unwrap()]);
    // Disabled: no more alerts.
    app.request(
        Method::PUT,
        "/v1/settings/low-balance-alert",
        t,
        Some(json!({"enabled": false, "threshold": "10"})),
        &[],
    )
    .await
    .expect(200);
    assert!(app.balance(&ada.token).await["low_balance_threshold"].is_null());
    app.grant(&admin, &ada.account_id, "20").await;
    app.post(&path, Some(&admin.token), json!({"credits": "-20", "reason": "x"})).await.expect(201);
    assert_eq!(notifications(&app, &ada.token, "low_balance").await.len(), 2);
}

async fn concurrent_spends_crossing_alert_once(app: TestApp) {
    let (_, ada) = setup(&app, "20").await;
    app.request(
        Method::PUT,
        "/v1/settings/low-balance-alert",
        Some(&ada.token),
        Some(json!({"enabled": true, "threshold": "15"})),
        &[],
    )
    .await
    .expect(200);
    let results = join_all((0..12).map(|_| generate(&app, &ada.token))).await;
    assert_eq!(results.iter().filter(|s| **s == 201).count(), 11);
    assert_eq!(notifications(&app, &ada.token, "low_balance").await.len(), 1, "one crossing, one alert");
}

/// Failed deliveries are retried with backoff; every attempt is recorded and the same event
/// id is sent each time; the request that caused the alert never waits for it.
async fn webhooks_are_retried_until_delivered(app: TestApp) {
    let receiver = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(500)).up_to_n_times(2).mount(&receiver).await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(204)).mount(&receiver).await;
    let (_, ada) = setup(&app, "2").await;
    app.request(
        Method::PUT,
        "/v1/settings/low-balance-alert",
        Some(&ada.token),
        Some(json!({"enabled": true, "threshold": "1", "webhook_url": receiver.uri()})),
        &[],
    )
    .await
    .expect(200);
    assert_eq!(generate(&app, &ada.token).await, 201);
    eventually("three attempts", || async { receiver.received_requests().await.unwrap().len() >= 3 }).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let received = receiver.received_requests().await.unwrap();
    assert_eq!(received.len(), 3, "delivered on the third attempt, then no more");
    let ids: Vec<Value> =
        received.iter().map(|r| serde_json::from_slice::<Value>(&r.body).unwrap()["id"].clone()).collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "retries resend the same event");
}

async fn webhook_urls_are_checked(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.allow_private_webhooks = false).await else { return };
    let ada = app.signup("ada@example.com").await;
    let put = |url: &str| {
        app.request(
            Method::PUT,
            "/v1/settings/low-balance-alert",
            Some(&ada.token),
            Some(json!({"enabled": true, "threshold": "5", "webhook_url": url})),
            &[],
        )
    };
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/x",
        "http://[::1]/x",
    ] {
        let res = put(url).await;
        assert_eq!(
            res.expect_error(422, "invalid_request", "webhook_url_not_allowed")["error"]["param"],
            "webhook_url",
            "{url}"
        );
    }
    put("ftp://example.com/x").await.expect_error(400, "invalid_request", "invalid_webhook_url");
    put("not a url").await.expect_error(400, "invalid_request", "invalid_webhook_url");
    let settings = app.get("/v1/settings/low-balance-alert", Some(&ada.token)).await.expect(200);
    assert_eq!(
        (settings["enabled"].as_bool(), settings["webhook_url"].as_str()),
        (Some(false), None),
        "nothing was saved"
    );
    // Members and keys cannot change settings.
    let (_, key) = app.api_key(&ada, &["usage:read", "balance:read", "generations:write", "purchases:write"]).await;
    app.get("/v1/settings/low-balance-alert", Some(&key)).await.expect_error(
        403,
        "permission_denied",
        "session_required",
    );
}

async fn save_card(app: &TestApp, token: &str, card: &str) -> String {
    let pm = app.post("/v1/payment-methods", Some(token), json!({"type": "card", "token": card})).await.expect(201);
    pm["id"].as_str().unwrap().to_string()
}

/// Concurrent spends that all take `available` below the threshold buy exactly one package;
/// never more than `max_topups_per_day`; each outcome is a notification.
async fn auto_topup_buys_once_per_crossing_within_the_daily_maximum(app: TestApp) {
    let (admin, ada) = setup(&app, "6").await;
    let t = Some(ada.token.as_str());
    let pm = save_card(&app, &ada.token, "tok_visa").await;
    let settings = json!({"enabled": true, "threshold": "5", "package_id": "basic", "payment_method_id": pm, "max_topups_per_day": 2});
    assert_eq!(
        app.request(Method::PUT, "/v1/settings/auto-topup", t, Some(settings.clone()), &[]).await.expect(200),
        settings
    );
    assert_eq!(app.get("/v1/settings/auto-topup", t).await.expect(200), settings);
    let results = join_all((0..10).map(|_| generate(&app, &ada.token))).await;
    let spent = results.iter().filter(|s| **s == 201).count();
    assert!(spent >= 3, "at least the first 3 fit in 6 credits");
    eventually("the top-up", || async { !notifications(&app, &ada.token, "auto_topup_succeeded").await.is_empty() })
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let topups: Vec<Value> =
        app.all_transactions(&ada.token).await.into_iter().filter(|e| e["type"] == "auto_topup").collect();
    assert_eq!(topups.len(), 1, "exactly one top-up for one crossing");
    assert_eq!(topups[0]["credits"], "100");
    let purchases = app.get("/v1/purchases", t).await.expect(200);
    assert_eq!(purchases["data"].as_array().unwrap().iter().filter(|p| p["auto_topup"] == true).count(), 1);
    // Second crossing: the second (and last) top-up of the day.
    let path = format!("/v1/admin/accounts/{}/adjustments", ada.account_id);
    let available =
        app.balance(&ada.token).await["available"].as_str().unwrap().parse::<rust_decimal::Decimal>().unwrap();
    let drain = available - rust_decimal::Decimal::from(1);
    app.post(&path, Some(&admin.token), json!({"credits": format!("-{drain}"), "reason": "drain"})).await.expect(201);
    eventually("the second top-up", || async {
        notifications(&app, &ada.token, "auto_topup_succeeded").await.len() == 2
    })
    .await;
    // Third crossing the same day: skipped, and said so.
    app.post(&path, Some(&admin.token), json!({"credits": "-100", "reason": "drain"})).await.expect(201);
    eventually("the skip notice", || async { !notifications(&app, &ada.token, "auto_topup_skipped").await.is_empty() })
        .await;
    let purchases = app.get("/v1/purchases", t).await.expect(200);
    assert_eq!(purchases["data"].as_array().unwrap().iter().filter(|p| p["auto_topup"] == true).count(), 2);
    app.assert_ledger_consistent(&ada.token).await;
    // Each top-up is an event too, with the purchase it made.
    let events = app.get("/v1/events?type=auto_topup.succeeded", t).await.expect(200);
    let events = events["data"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events.iter().all(|e| e["data"]["purchase_id"].as_str().is_some_and(|p| p.starts_with("pur_"))));
    // The ledger engine reports what it moved, whoever moved it: the background worker's two
    // top-ups are counted like the generations that requests made.
    let text = app.get("/metrics", None).await.text;
    assert_eq!(metric(&text, "apinfer_credits_moved_total{type=\"auto_topup\"}"), 200.0, "{text}");
    let spent: f64 = spent as f64 * 1.75;
    assert_eq!(metric(&text, "apinfer_credits_spent_total"), spent, "{text}");
}

/// A declined off-session charge is one notification: no retry loop, no second try with that
/// card the same day (a new crossing is skipped, and says why), and a try again the next day.
async fn declined_auto_topups_notify_and_wait_for_the_next_day(app: TestApp) {
    let (admin, ada) = setup(&app, "6").await;
    let t = Some(ada.token.as_str());
    let pm = save_card(&app, &ada.token, "tok_chargeDeclined").await;
    let settings = json!({"enabled": true, "threshold": "5", "package_id": "basic", "payment_method_id": pm, "max_topups_per_day": 5});
    app.request(Method::PUT, "/v1/settings/auto-topup", t, Some(settings), &[]).await.expect(200);
    assert_eq!(generate(&app, &ada.token).await, 201);
    eventually("the failure notice", || async {
        !notifications(&app, &ada.token, "auto_topup_failed").await.is_empty()
    })
    .await;
    let failed = notifications(&app, &ada.token, "auto_topup_failed").await;
    assert!(failed[0]["message"].as_str().unwrap().contains("declined"), "{failed:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(notifications(&app, &ada.token, "auto_topup_failed").await.len(), 1, "no retry loop");
    let events = app.get("/v1/events?type=auto_topup.failed", t).await.expect(200);
    assert_eq!(events["data"].as_array().unwrap().len(), 1, "{events}");
    assert_eq!(events["data"][0]["data"]["code"], "card_declined");
    assert_eq!(app.get("/v1/settings/auto-topup", t).await.expect(200)["enabled"], true, "nothing disabled silently");
    assert_eq!(generate(&app, &ada.token).await, 201); // still below: no new crossing
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(notifications(&app, &ada.token, "auto_topup_failed").await.len(), 1);
    // A rise and a new crossing the same day: skipped, saying why; no second charge.
    let cross_again = || async {
        app.grant(&admin, &ada.account_id, "10").await;
        app.post(
            &format!("/v1/admin/accounts/{}/adjustments", ada.account_id),
            Some(&admin.token),
            json!({"credits": "-10", "reason": "x"}),
        )
        .await
        .expect(201);
    };
    cross_again().await;
    eventually("the skip", || async { !notifications(&app, &ada.token, "auto_topup_skipped").await.is_empty() }).await;
    let skipped = notifications(&app, &ada.token, "auto_topup_skipped").await;
    assert_eq!(skipped[0]["data"]["reason"], "declined_today", "{skipped:?}");
    assert_eq!(notifications(&app, &ada.token, "auto_topup_failed").await.len(), 1);
    // The next day, a crossing tries again.
    app.clock.advance(chrono::Duration::days(1));
    cross_again().await;
    eventually("the next day's attempt", || async {
        notifications(&app, &ada.token, "auto_topup_failed").await.len() == 2
    })
    .await;
    app.assert_ledger_consistent(&ada.token).await;
}

async fn auto_topup_settings_are_validated(app: TestApp) {
    let (_, ada) = setup(&app, "1").await;
    let bob = app.signup("bob@example.com").await;
    let t = Some(ada.token.as_str());
    let foreign = save_card(&app, &bob.token, "tok_visa").await;
    let own = save_card(&app, &ada.token, "tok_visa").await;
    let put = |body: Value| app.request(Method::PUT, "/v1/settings/auto-topup", t, Some(body), &[]);
    put(json!({"enabled": true, "threshold": "5", "package_id": "basic", "payment_method_id": foreign, "max_topups_per_day": 1}))
        .await
        .expect_error(404, "not_found", "resource_missing");
    put(json!({"enabled": true, "threshold": "5", "package_id": "gold", "payment_method_id": own, "max_topups_per_day": 1}))
        .await
        .expect_error(404, "not_found", "resource_missing");
    put(json!({"enabled": true, "threshold": "5", "package_id": "basic", "payment_method_id": own, "max_topups_per_day": 0}))
        .await
        .expect_error(400, "invalid_request", "invalid_max_topups");
    put(json!({"enabled": true, "threshold": "-5", "package_id": "basic", "payment_method_id": own, "max_topups_per_day": 1}))
        .await
        .expect_error(400, "invalid_request", "invalid_amount");
    // Nothing was saved: the settings are still off with nothing chosen.
    let settings = app.get("/v1/settings/auto-topup", t).await.expect(200);
    assert_eq!(
        settings,
        json!({"enabled": false, "threshold": null, "package_id": null, "payment_method_id": null, "max_topups_per_day": null})
    );
}

backend_tests!(
    low_balance_alerts_fire_once_per_crossing,
    concurrent_spends_crossing_alert_once,
    webhooks_are_retried_until_delivered,
    auto_topup_buys_once_per_crossing_within_the_daily_maximum,
    declined_auto_topups_notify_and_wait_for_the_next_day,
    auto_topup_settings_are_validated,
    abandoned_top_ups_do_not_block_the_account,
);
per_backend!(webhook_urls_are_checked);

/// A top-up left `running` by a process that died blocks the account's top-ups only until its
/// lease (10 minutes) passes.
async fn abandoned_top_ups_do_not_block_the_account(app: TestApp) {
    use diesel::RunQueryDsl;
    let (_, ada) = setup(&app, "6").await;
    let pm = save_card(&app, &ada.token, "tok_visa").await;
    let settings = json!({"enabled": true, "threshold": "5", "package_id": "basic", "payment_method_id": pm, "max_topups_per_day": 5});
    app.request(Method::PUT, "/v1/settings/auto-topup", Some(&ada.token), Some(settings), &[]).await.expect(200);
    // What a worker killed mid-top-up leaves behind.
    let pool = app.pool.clone();
    let account = ada.account_id.clone();
    let started = chrono::Utc::now().naive_utc().format("%Y-%m-%d %H:%M:%S").to_string();
    tokio::task::spawn_blocking(move || {
        let mut conn = pool.get().unwrap();
        diesel::sql_query(format!(
            "INSERT INTO auto_topup_requests (id, account_id, status, created_at, started_at) \
             VALUES ('atr_crashed', '{account}', 'running', '{started}', '{started}')"
        ))
        .execute(&mut *conn)
        .unwrap();
    })
    .await
    .unwrap();
    assert_eq!(generate(&app, &ada.token).await, 201); // crosses 5: a top-up is queued
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        notifications(&app, &ada.token, "auto_topup_succeeded").await.is_empty(),
        "blocked while the other may still run"
    );
    app.clock.advance(chrono::Duration::minutes(11));
    eventually("the queued top-up", || async {
        !notifications(&app, &ada.token, "auto_topup_succeeded").await.is_empty()
    })
    .await;
    assert_eq!(app.balance(&ada.token).await["balance"], "104.25");
    app.assert_ledger_consistent(&ada.token).await;
}
