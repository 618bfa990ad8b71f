use futures::future::join_all;
use reqwest::Method;
use serde_json::json;

use crate::backend_tests;
use crate::helpers::TestApp;

async fn a_replayed_key_returns_the_first_response_and_moves_credits_once(app: TestApp) {
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    let path = format!("/v1/admin/accounts/{}/adjustments", ada.account_id);
    let body = json!({"credits": "40", "reason": "grant"});
    let headers = [("Idempotency-Key", "grant-1")];
    let first = app.request(Method::POST, &path, Some(&admin.token), Some(body.clone()), &headers).await;
    assert_eq!(first.status, 201);
    assert!(first.header("idempotent-replayed").is_none());
    // Same request, keys reordered: the same request.
    let reordered = json!({"reason": "grant", "credits": "40"});
    let second = app.request(Method::POST, &path, Some(&admin.token), Some(reordered), &headers).await;
    assert_eq!(second.status, 201);
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(second.body, first.body, "the replay is the first response");
    assert_eq!(app.balance(&ada.token).await["balance"], "40");
    // Same key, different request: 409 and nothing moves.
    app.request(Method::POST, &path, Some(&admin.token), Some(json!({"credits": "41", "reason": "grant"})), &headers)
        .await
        .expect_error(409, "idempotency_conflict", "idempotency_key_reused");
    assert_eq!(app.balance(&ada.token).await["balance"], "40");
    // Errors are replayed too: a refused removal stays refused under its key.
    let refuse = [("Idempotency-Key", "too-much")];
    let no = json!({"credits": "-100", "reason": "x"});
    app.request(Method::POST, &path, Some(&admin.token), Some(no.clone()), &refuse).await.expect_error(
        402,
        "insufficient_credits",
        "insufficient_credits",
    );
    let again = app.request(Method::POST, &path, Some(&admin.token), Some(no), &refuse).await;
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.status, 402);
    // After 24 hours the key is forgotten and may be used afresh.
    app.clock.advance(chrono::Duration::hours(25));
    let fresh = app.request(Method::POST, &path, Some(&admin.token), Some(body), &headers).await;
    assert_eq!(fresh.status, 201);
    assert!(fresh.header("idempotent-replayed").is_none());
    assert_eq!(app.balance(&ada.token).await["balance"], "80");
    app.assert_ledger_consistent(&ada.token).await;
}

async fn keys_are_scoped_to_the_account(app: TestApp) {
    let admin = app.admin().await;
    let other_admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    let path = format!("/v1/admin/accounts/{}/adjustments", ada.account_id);
    let headers = [("Idempotency-Key", "shared-key")];
    app.request(Method::POST, &path, Some(&admin.token), Some(json!({"credits": "1", "reason": "a"})), &headers)
        .await
        .expect(201);
    // The same key from another account is a different key: it runs.
    let other = app
        .request(Method::POST, &path, Some(&other_admin.token), Some(json!({"credits": "2", "reason": "b"})), &headers)
        .await;
    assert_eq!(other.status, 201);
    assert!(other.header("idempotent-replayed").is_none());
    assert_eq!(app.balance(&ada.token).await["balance"], "3");
}

async fn concurrent_requests_with_one_key_move_credits_once(app: TestApp) {
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    let path = format!("/v1/admin/accounts/{}/adjustments", ada.account_id);
    let requests = (0..20).map(|_| {
        let (app, path, token) = (&app, &path, &admin.token);
        async move {
            app.request(
                Method::POST,
                path,
                Some(token),
                Some(json!({"credits": "7", "reason": "once"})),
                &[("Idempotency-Key", "race")],
            )
            .await
        }
    });
    let results = join_all(requests).await;
    for r in &results {
        assert!(r.status == 201 || r.status == 409, "unexpected {}: {}", r.status, r.text);
        if r.status == 409 {
            assert_eq!(r.body["error"]["code"], "request_in_progress");
        }
    }
    let originals = results.iter().filter(|r| r.status == 201 && r.header("idempotent-replayed").is_none()).count();
    assert_eq!(originals, 1, "exactly one request ran");
    assert_eq!(app.balance(&ada.token).await["balance"], "7");
    assert_eq!(app.all_transactions(&ada.token).await.len(), 1);
}

async fn invalid_keys_are_rejected(app: TestApp) {
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    let path = format!("/v1/admin/accounts/{}/adjustments", ada.account_id);
    let long = "k".repeat(256);
    app.request(
        Method::POST,
        &path,
        Some(&admin.token),
        Some(json!({"credits": "1", "reason": "a"})),
        &[("Idempotency-Key", &long)],
    )
    .await
    .expect_error(400, "invalid_request", "invalid_idempotency_key");
    let max = "k".repeat(255);
    app.request(
        Method::POST,
        &path,
        Some(&admin.token),
        Some(json!({"credits": "1", "reason": "a"})),
        &[("Idempotency-Key", &max)],
    )
    .await
    .expect(201);
}

backend_tests!(
    a_replayed_key_returns_the_first_response_and_moves_credits_once,
    keys_are_scoped_to_the_account,
    concurrent_requests_with_one_key_move_credits_once,
    invalid_keys_are_rejected,
);
