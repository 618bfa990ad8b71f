use serde_json::json;

use crate::helpers::{Backend, TestApp};
use crate::per_backend;

async fn keys_and_sessions_are_rate_limited(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.rate_limit_per_second = 1;
        c.rate_limit_burst = 3;
    })
    .await
    else {
        return;
    };
    let ada = app.signup("ada@example.com").await;
    let (_, key) = app.api_key(&ada, &["balance:read"]).await;
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let res = app.get("/v1/balance", Some(&key)).await;
        assert_eq!(res.status, 200, "{}", res.text);
        assert_eq!(res.header("x-ratelimit-limit"), Some("3"));
        remaining.push(res.header("x-ratelimit-remaining").unwrap().parse::<u32>().unwrap());
    }
    assert_eq!(remaining, vec![2, 1, 0]);
    let limited = app.get("/v1/balance", Some(&key)).await;
    let retry_after: u64 = limited.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert_eq!(limited.header("x-ratelimit-remaining"), Some("0"));
    limited.expect_error(429, "rate_limited", "rate_limited");
    // Another key of the same account has its own allowance.
    let (_, other) = app.api_key(&ada, &["balance:read"]).await;
    app.get("/v1/balance", Some(&other)).await.expect(200);
    // After waiting as told, the key works again.
    tokio::time::sleep(std::time::Duration::from_secs(retry_after)).await;
    app.get("/v1/balance", Some(&key)).await.expect(200);
}

async fn auth_endpoints_are_limited_per_ip(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.auth_rate_limit_per_minute = 3).await else { return };
    app.signup("ada@example.com").await;
    for _ in 0..2 {
        app.post("/v1/auth/login", None, json!({"email": "ada@example.com", "password": "guess guess"}))
            .await
            .expect_error(401, "authentication_required", "invalid_credentials");
    }
    let limited = app
        .post("/v1/auth/login", None, json!({"email": "ada@example.com", "password": "correct horse battery"}))
        .await;
    assert!(limited.header("retry-after").is_some());
    limited.expect_error(429, "rate_limited", "rate_limited");
}

async fn limiter_memory_is_bounded(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.rate_limit_per_second = 1000;
        c.rate_limit_burst = 1;
    })
    .await
    else {
        return;
    };
    let ada = app.signup("ada@example.com").await;
    for _ in 0..5 {
        // The session's own bucket refills one request a millisecond: on a fast machine two
        // key creations could come closer than that and the second be refused.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let (_, key) = app.api_key(&ada, &["balance:read"]).await;
        app.get("/v1/balance", Some(&key)).await.expect(200);
    }
    assert!(app.state().limits.tracked() >= 5);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    app.state().limits.prune();
    assert_eq!(app.state().limits.tracked(), 0, "idle clients are forgotten");
}

per_backend!(keys_and_sessions_are_rate_limited, auth_endpoints_are_limited_per_ip, limiter_memory_is_bounded);
