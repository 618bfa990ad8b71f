//! What an outside attacker of a billing API tries, each as a test of the class it belongs to
//! (issue 17). So far: request-controlled metrics labels, a public `/metrics`, password
//! guessing spread over many addresses, payment-webhook event ids reused, and lists and
//! stores without bounds.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Backend, TestApp};
use crate::per_backend;

/// However many made-up methods arrive, the metrics gain one `OTHER` series per route and
/// status, never one per method.
async fn made_up_methods_add_no_metrics_series(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    for i in 0..40 {
        let method = Method::from_bytes(format!("ATTACK{i}").as_bytes()).unwrap();
        let res = app.request(method, "/v1/balance", None, None, &[]).await;
        assert_eq!(res.status.as_u16(), 405);
    }
    let text = app.get("/metrics", None).await.text;
    assert!(!text.contains("ATTACK"), "a client-chosen method became a label:\n{text}");
    let other: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("apinfer_http_requests_total{") && l.contains("method=\"OTHER\""))
        .collect();
    assert_eq!(other.len(), 1, "{other:?}");
    assert!(other[0].ends_with(" 40"), "{other:?}");
}

/// With `APINFER_METRICS_TOKEN`, `/metrics` answers only that bearer token.
async fn metrics_need_the_token_when_one_is_set(backend: Backend) {
    let token = "metrics-token-of-some-length";
    let Some(app) = TestApp::spawn_with(backend, |c| c.metrics_token = Some(token.to_string().into())).await else {
        return;
    };
    app.get("/metrics", None).await.expect_error(401, "authentication_required", "invalid_token");
    app.get("/metrics", Some("metrics-token-of-some-lengtX")).await.expect_error(
        401,
        "authentication_required",
        "invalid_token",
    );
    let ada = app.signup("ada@example.com").await;
    app.get("/metrics", Some(&ada.token)).await.expect_error(401, "authentication_required", "invalid_token");
    let res = app.get("/metrics", Some(token)).await;
    assert_eq!(res.status.as_u16(), 200);
    assert!(res.text.contains("apinfer_http_requests_total"), "{}", res.text);
}

/// Failed logins are throttled per account, with a growing delay, whatever addresses the
/// guesses come from, and an address without an account is answered the same way.
async fn failed_logins_are_throttled_per_account(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let ada = app.signup("ada@example.com").await;
    let bob = app.signup("bob@example.com").await;
    let login = |email: &'static str, password: String| {
        let app = &app;
        async move { app.post("/v1/auth/login", None, json!({"email": email, "password": password})).await }
    };
    for email in ["ada@example.com", "nobody@example.com"] {
        for _ in 0..5 {
            login(email, "wrong password 1".into()).await.expect_error(
                401,
                "authentication_required",
                "invalid_credentials",
            );
        }
        // Now even the right password waits, and an unknown address looks the same.
        let res = login(email, ada.password.clone()).await;
        assert_eq!(res.header("retry-after"), Some("1"), "{email}");
        res.expect_error(429, "rate_limited", "too_many_failed_logins");
    }
    // Another account is not affected.
    login("bob@example.com", bob.password.clone()).await.expect(200);
    // After the delay, the right password works and clears the count.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    login("ADA@example.com", ada.password.clone()).await.expect(200);
    login("ada@example.com", "wrong password 2".into()).await.expect_error(
        401,
        "authentication_required",
        "invalid_credentials",
    );
    login("ada@example.com", ada.password.clone()).await.expect(200);
}

/// A payment webhook names its provider before anything else is looked at, and an event id
/// is one event: reused with another body it is refused, and credits nothing.
async fn webhook_event_ids_name_one_event(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let unsigned = json!({"id": "evt_x", "type": "payment.succeeded", "data": {"purchase_id": "pur_x"}}).to_string();
    app.raw_post("/v1/webhooks/payments/nope", unsigned, &[("Apinfer-Signature", "t=1,v1=00")]).await.expect_error(
        404,
        "not_found",
        "resource_missing",
    );
    let ada = app.signup("ada@example.com").await;
    let t = Some(ada.token.as_str());
    let wallet = |package: &'static str| {
        let app = &app;
        async move {
            let body = json!({"package_id": package, "payment_method": {"type": "alipay"}});
            app.post("/v1/purchases", t, body).await.expect(201)["id"].as_str().unwrap().to_string()
        }
    };
    let (first, second) = (wallet("basic").await, wallet("standard").await);
    let now = chrono::Utc::now().timestamp();
    app.payment_webhook("evt_once", "payment.succeeded", &first, now).await.expect(200);
    // The same event again: a duplicate, acknowledged.
    assert_eq!(app.payment_webhook("evt_once", "payment.succeeded", &first, now).await.expect(200)["duplicate"], true);
    // The same id with another body: refused, and the second purchase is not credited.
    app.payment_webhook("evt_once", "payment.succeeded", &second, now).await.expect_error(
        409,
        "conflict",
        "event_id_reused",
    );
    assert_eq!(app.balance(&ada.token).await["balance"], "100");
    app.assert_ledger_consistent(&ada.token).await;
}

/// Every list pages (`limit`, `cursor`), and nothing an account keeps grows without bound:
/// at most 100 live API keys and 20 saved cards.
async fn lists_page_and_what_an_account_keeps_is_capped(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let ada = app.signup("ada@example.com").await;
    let t = Some(ada.token.as_str());
    let mut made = Vec::new();
    for i in 0..100 {
        let body = json!({"name": format!("key {i}"), "scopes": ["balance:read"]});
        made.push(app.post("/v1/api-keys", t, body).await.expect(201)["id"].as_str().unwrap().to_string());
    }
    let one_more = json!({"name": "one more", "scopes": ["balance:read"]});
    app.post("/v1/api-keys", t, one_more.clone()).await.expect_error(409, "conflict", "too_many_api_keys");
    // Pages of 30, newest first, every key once.
    let mut seen = Vec::new();
    let mut path = "/v1/api-keys?limit=30".to_string();
    loop {
        let page = app.get(&path, t).await.expect(200);
        let items = page["data"].as_array().unwrap();
        assert!(items.len() <= 30);
        seen.extend(items.iter().map(|k| k["id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/api-keys?limit=30&cursor={cursor}"),
            None => break,
        }
    }
    made.reverse();
    assert_eq!(seen, made);
    // Revoking one makes room for one.
    app.request(Method::DELETE, &format!("/v1/api-keys/{}", made[0]), t, None, &[]).await.expect(200);
    app.post("/v1/api-keys", t, one_more).await.expect(201);

    let card = json!({"type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123"}});
    for _ in 0..20 {
        app.post("/v1/payment-methods", t, card.clone()).await.expect(201);
    }
    app.post("/v1/payment-methods", t, card).await.expect_error(409, "conflict", "too_many_payment_methods");
    let first = app.get("/v1/payment-methods?limit=15", t).await.expect(200);
    assert_eq!(first["data"].as_array().unwrap().len(), 15);
    assert_eq!(first["has_more"], true);
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = app.get(&format!("/v1/payment-methods?limit=15&cursor={cursor}"), t).await.expect(200);
    assert_eq!(rest["data"].as_array().unwrap().len(), 5);
    assert_eq!(rest["has_more"], false);
    app.get("/v1/payment-methods?limit=101", t).await.expect_error(400, "invalid_request", "invalid_limit");
}

/// The members list pages too, in the order they joined (the owner first).
async fn members_page(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let admin = app.admin().await;
    let owner = app.signup("owner@example.com").await;
    app.request(
        Method::PATCH,
        &format!("/v1/admin/accounts/{}", owner.account_id),
        Some(&admin.token),
        Some(json!({"type": "family"})),
        &[],
    )
    .await
    .expect(200);
    let mut joined = vec![owner.user_id.clone()];
    for i in 0..4 {
        let user = app.signup(&format!("member{i}@example.com")).await;
        let body = json!({"email": format!("member{i}@example.com"), "role": "member"});
        app.post("/v1/account/members", Some(&owner.token), body).await.expect(201);
        joined.push(user.user_id);
    }
    let mut seen = Vec::new();
    let mut path = "/v1/account/members?limit=2".to_string();
    loop {
        let page = app.get(&path, Some(&owner.token)).await.expect(200);
        assert!(page["data"].as_array().unwrap().len() <= 2);
        seen.extend(page["data"].as_array().unwrap().iter().map(|m| m["user_id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/account/members?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, joined);
}

per_backend!(
    members_page,
    lists_page_and_what_an_account_keeps_is_capped,
    webhook_event_ids_name_one_event,
    made_up_methods_add_no_metrics_series,
    metrics_need_the_token_when_one_is_set,
    failed_logins_are_throttled_per_account,
);
