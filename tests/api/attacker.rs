//! What an outside attacker of a billing API tries, each as a test of the class it belongs to
//! (issue 17). So far: request-controlled metrics labels, a public `/metrics`, and password
//! guessing spread over many addresses.

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

per_backend!(
    made_up_methods_add_no_metrics_series,
    metrics_need_the_token_when_one_is_set,
    failed_logins_are_throttled_per_account,
);
