use reqwest::Method;
use serde_json::json;

use crate::backend_tests;
use crate::helpers::TestApp;

async fn keys_are_shown_once_listed_without_secret_and_scoped(app: TestApp) {
    let ada = app.signup("ada@example.com").await;
    let created = app
        .post(
            "/v1/api-keys",
            Some(&ada.token),
            json!({"name": "script", "scopes": ["balance:read"], "spend_limit": "50"}),
        )
        .await
        .expect(201);
    let secret = created["key"].as_str().unwrap();
    assert!(secret.starts_with("sk_") && secret.len() >= 35, "{secret}");
    assert!(secret.starts_with(created["prefix"].as_str().unwrap()));
    assert_eq!(created["spend_limit"], "50");
    assert_eq!(created["spent"], "0");
    assert_eq!(created["created_by"], ada.user_id.as_str(), "a key records the user who made it");
    let list = app.get("/v1/api-keys", Some(&ada.token)).await.expect(200);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains(secret), "the secret must never be listed");
    assert!(list["data"][0].get("key").is_none());
    // The key works for its scope, and is rejected (403) outside it.
    let balance = app.get("/v1/balance", Some(secret)).await.expect(200);
    assert_eq!(balance["account_id"], ada.account_id.as_str());
    app.get("/v1/transactions", Some(secret)).await.expect_error(403, "permission_denied", "missing_scope");
    // Keys cannot manage keys.
    app.post("/v1/api-keys", Some(secret), json!({"name": "x", "scopes": ["balance:read"]})).await.expect_error(
        403,
        "permission_denied",
        "session_required",
    );
    // last_used_at is recorded.
    let list = app.get("/v1/api-keys", Some(&ada.token)).await.expect(200);
    assert!(list["data"][0]["last_used_at"].as_str().is_some());
}

async fn revocation_is_immediate_and_foreign_keys_are_404(app: TestApp) {
    let ada = app.signup("ada@example.com").await;
    let bob = app.signup("bob@example.com").await;
    let (id, secret) = app.api_key(&ada, &["balance:read"]).await;
    app.get("/v1/balance", Some(&secret)).await.expect(200);
    // Bob cannot see or revoke Ada's key: 404, not 403.
    app.request(Method::DELETE, &format!("/v1/api-keys/{id}"), Some(&bob.token), None, &[]).await.expect_error(
        404,
        "not_found",
        "resource_missing",
    );
    app.get("/v1/balance", Some(&secret)).await.expect(200);
    let revoked =
        app.request(Method::DELETE, &format!("/v1/api-keys/{id}"), Some(&ada.token), None, &[]).await.expect(200);
    assert!(revoked["revoked_at"].as_str().is_some());
    app.get("/v1/balance", Some(&secret)).await.expect_error(401, "authentication_required", "invalid_token");
    app.request(Method::DELETE, &format!("/v1/api-keys/{id}"), Some(&ada.token), None, &[]).await.expect_error(
        404,
        "not_found",
        "resource_missing",
    );
    assert!(app.get("/v1/api-keys", Some(&ada.token)).await.expect(200)["data"].as_array().unwrap().is_empty());
}

async fn keys_expire(app: TestApp) {
    let ada = app.signup("ada@example.com").await;
    let expires = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let created = app
        .post(
            "/v1/api-keys",
            Some(&ada.token),
            json!({"name": "short-lived", "scopes": ["balance:read"], "expires_at": expires}),
        )
        .await
        .expect(201);
    let secret = created["key"].as_str().unwrap();
    app.get("/v1/balance", Some(secret)).await.expect(200);
    app.clock.advance(chrono::Duration::hours(2));
    app.get("/v1/balance", Some(secret)).await.expect_error(401, "authentication_required", "invalid_token");
}

async fn key_creation_validates_input(app: TestApp) {
    let ada = app.signup("ada@example.com").await;
    let bad_scope =
        app.post("/v1/api-keys", Some(&ada.token), json!({"name": "k", "scopes": ["balance:read", "root"]})).await;
    assert_eq!(bad_scope.expect_error(400, "invalid_request", "invalid_scope")["error"]["param"], "scopes.1");
    app.post("/v1/api-keys", Some(&ada.token), json!({"name": "k", "scopes": []})).await.expect_error(
        400,
        "invalid_request",
        "invalid_scopes",
    );
    app.post("/v1/api-keys", Some(&ada.token), json!({"name": "", "scopes": ["usage:read"]})).await.expect_error(
        400,
        "invalid_request",
        "invalid_name",
    );
    let precise = app
        .post(
            "/v1/api-keys",
            Some(&ada.token),
            json!({"name": "k", "scopes": ["usage:read"], "spend_limit": "1.00001"}),
        )
        .await;
    assert_eq!(precise.expect_error(400, "invalid_request", "invalid_parameter")["error"]["param"], "spend_limit");
    app.post("/v1/api-keys", Some(&ada.token), json!({"name": "k", "scopes": ["usage:read"], "spend_limit": 1.5}))
        .await
        .expect_error(400, "invalid_request", "invalid_parameter");
    app.post(
        "/v1/api-keys",
        Some(&ada.token),
        json!({"name": "k", "scopes": ["usage:read"], "expires_at": "2001-01-01T00:00:00Z"}),
    )
    .await
    .expect_error(422, "invalid_request", "invalid_expiry");
    assert!(app.get("/v1/api-keys", Some(&ada.token)).await.expect(200)["data"].as_array().unwrap().is_empty());
}

/// `GET /v1/api-keys/current` describes the calling key: its limit and what it spent, and what it
/// can still spend, the least of its own remaining, the account's available credits and its
/// creator's monthly remaining. Any key may ask; a session is told to use one.
async fn the_current_key_knows_what_it_can_still_spend(app: TestApp) {
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    let bob = app.signup("bob@example.com").await;
    let family = json!({"type": "family"});
    let path = format!("/v1/admin/accounts/{}", ada.account_id);
    app.request(Method::PATCH, &path, Some(&admin.token), Some(family), &[]).await.expect(200);
    let member = json!({"email": "bob@example.com", "role": "admin", "monthly_spend_limit": "3"});
    app.post("/v1/account/members", Some(&ada.token), member).await.expect(201);
    let login = json!({"email": "bob@example.com", "password": bob.password, "account_id": ada.account_id});
    let bob_token = app.post("/v1/auth/login", None, login).await.expect(200)["token"].as_str().unwrap().to_string();
    app.grant(&admin, &ada.account_id, "10").await;
    let limited = json!({"name": "bob's", "scopes": ["generations:write"], "spend_limit": "5"});
    let bob_key =
        app.post("/v1/api-keys", Some(&bob_token), limited).await.expect(201)["key"].as_str().unwrap().to_string();
    let shown = |body: &serde_json::Value| {
        ["spend_limit", "spent", "remaining", "account_available", "member_monthly_remaining", "effective_remaining"]
            .map(|field| body[field].as_str().map(str::to_string))
    };
    let some = |v: &str| Some(v.to_string());

    let current = app.get("/v1/api-keys/current", Some(&bob_key)).await.expect(200);
    assert_eq!(current["scopes"], json!(["generations:write"]));
    assert_eq!(shown(&current), [some("5"), some("0"), some("5"), some("10"), some("3"), some("3")], "{current}");
    let generation = json!({"model": "qwen-image", "prompt": "introspection", "size": "512x512"});
    app.post("/v1/generations", Some(&bob_key), generation).await.expect(201);
    let current = app.get("/v1/api-keys/current", Some(&bob_key)).await.expect(200);
    assert_eq!(
        shown(&current),
        [some("5"), some("1.75"), some("3.25"), some("8.25"), some("1.25"), some("1.25")],
        "the member's month is what binds: {current}"
    );

    // The owner's key: no limit of its own and none on its creator; only a read scope.
    let (_, ada_key) = app.api_key(&ada, &["balance:read"]).await;
    let current = app.get("/v1/api-keys/current", Some(&ada_key)).await.expect(200);
    assert_eq!(shown(&current), [None, some("0"), None, some("8.25"), None, some("8.25")], "{current}");

    app.get("/v1/api-keys/current", Some(&ada.token)).await.expect_error(403, "permission_denied", "api_key_required");
}

/// A key's `spend_limit_reset` starts its spend again from zero at 00:00 UTC each day, Monday or
/// first of the month, checked in the transaction that reserves (with the clock injected): a
/// key at its limit is refused until its period ends, and only its own period's end frees it.
async fn a_keys_limit_resets_at_the_period_boundary(app: TestApp) {
    use apinfer_core::clock::Clock;
    use chrono::{Datelike, Duration, NaiveTime, Utc};
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    app.grant(&admin, &ada.account_id, "20").await;
    // Sessions last a day and the clock travels up to a month: the rest is done with keys.
    let (_, reader) = app.api_key(&ada, &["balance:read", "usage:read"]).await;
    let mut keys = Vec::new();
    for reset in ["daily", "weekly", "monthly"] {
        let body =
            json!({"name": reset, "scopes": ["generations:write"], "spend_limit": "2", "spend_limit_reset": reset});
        let created = app.post("/v1/api-keys", Some(&ada.token), body).await.expect(201);
        assert_eq!(created["spend_limit_reset"], reset);
        keys.push(created["key"].as_str().unwrap().to_string());
    }
    let generation = json!({"model": "qwen-image", "prompt": "a period", "size": "512x512"});
    let spend = |key: String| {
        let generation = generation.clone();
        let app = &app;
        async move { app.post("/v1/generations", Some(&key), generation).await }
    };
    for key in &keys {
        spend(key.clone()).await.expect(201);
        spend(key.clone()).await.expect_error(402, "insufficient_credits", "spend_limit_exceeded");
    }
    let midnight = |day: chrono::NaiveDate| day.and_time(NaiveTime::MIN).and_utc();
    let today = app.clock.now().date_naive();
    let tomorrow = midnight(today + Duration::days(1));
    let monday = midnight(today + Duration::days(7 - i64::from(today.weekday().num_days_from_monday())));
    let first = midnight(today.with_day(1).unwrap().checked_add_months(chrono::Months::new(1)).unwrap());
    let ends = [tomorrow, monday, first];
    for (key, end) in keys.iter().zip(ends) {
        let current = app.get("/v1/api-keys/current", Some(key)).await.expect(200);
        let shown: chrono::DateTime<Utc> = current["spend_limit_resets_at"].as_str().unwrap().parse().unwrap();
        assert_eq!(shown, end, "{current}");
        assert_eq!((current["spent"].as_str(), current["remaining"].as_str()), (Some("1.75"), Some("0.25")));
    }

    // Each boundary in turn: just before it the key is still refused; just after it the key
    // spends again, and a key whose period has not ended is still refused.
    let mut order: Vec<usize> = (0..3).collect();
    order.sort_by_key(|&i| ends[i]);
    let mut freed = [false; 3];
    for i in order {
        if freed[i] {
            continue;
        }
        let before = ends[i] - Duration::seconds(30) - app.clock.now();
        if before > Duration::zero() {
            app.clock.advance(before);
            spend(keys[i].clone()).await.expect_error(402, "insufficient_credits", "spend_limit_exceeded");
        }
        app.clock.advance(ends[i] + Duration::seconds(1) - app.clock.now());
        for j in 0..3 {
            if !freed[j] && ends[j] <= app.clock.now() {
                let current = app.get("/v1/api-keys/current", Some(&keys[j])).await.expect(200);
                assert_eq!(current["spent"], "0", "after its reset: {current}");
                spend(keys[j].clone()).await.expect(201);
                let current = app.get("/v1/api-keys/current", Some(&keys[j])).await.expect(200);
                assert_eq!((current["spent"].as_str(), current["remaining"].as_str()), (Some("1.75"), Some("0.25")));
                freed[j] = true;
            } else if !freed[j] {
                spend(keys[j].clone()).await.expect_error(402, "insufficient_credits", "spend_limit_exceeded");
            }
        }
    }
    assert_eq!(freed, [true; 3]);
    // Six generations of 1.75: what the limits let through, never more.
    assert_eq!(app.balance(&reader).await["balance"], "9.5");
    app.assert_ledger_consistent(&reader).await;

    let ada_token = app.login("ada@example.com", &ada.password).await;
    let lifetime = json!({"name": "x", "scopes": ["balance:read"], "spend_limit_reset": "daily"});
    let refused = app.post("/v1/api-keys", Some(&ada_token), lifetime).await;
    refused.expect_error(422, "invalid_request", "invalid_parameter");
    let unknown = json!({"name": "x", "scopes": ["balance:read"], "spend_limit": "1", "spend_limit_reset": "hourly"});
    app.post("/v1/api-keys", Some(&ada_token), unknown).await.expect_error(400, "invalid_request", "invalid_parameter");
}

backend_tests!(
    a_keys_limit_resets_at_the_period_boundary,
    the_current_key_knows_what_it_can_still_spend,
    keys_are_shown_once_listed_without_secret_and_scoped,
    revocation_is_immediate_and_foreign_keys_are_404,
    keys_expire,
    key_creation_validates_input,
);
