//! Webhook endpoints managed by API: each endpoint gets the event types it asked for, signed with
//! its own secret; a rotation sends both signatures during its grace period (the clock is
//! injected); a failing endpoint is retried with backoff, its attempts logged with status,
//! response code and duration, redelivered on request, then disabled with a notification. On
//! both databases, with real local HTTP receivers.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::helpers::{Backend, TestApp};
use crate::per_backend;

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..300 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// The request's signatures (`v1` values) and whether `secret` verifies it.
fn signed_with(secret: &str, request: &Request) -> (usize, bool) {
    let header = request.headers.get("apinfer-signature").expect("signed").to_str().unwrap();
    let count = header.split(',').filter(|part| part.starts_with("v1=")).count();
    let now = chrono::Utc::now().timestamp();
    (count, apinfer_core::signature::verify(secret.as_bytes(), header, &request.body, now).is_ok())
}

fn body(request: &Request) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

async fn receiver(status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(status)).mount(&server).await;
    server
}

async fn received(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

fn generation() -> Value {
    json!({"model": "qwen-image", "prompt": "a webhook", "size": "512x512"})
}

async fn each_endpoint_gets_its_events_signed_with_its_own_secret(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    app.grant(&admin, &ada.account_id, "50").await;
    let (_, key) = app.api_key(&ada, &["generations:write", "usage:read"]).await;
    let t = Some(ada.token.as_str());
    let (a, b) = (receiver(200).await, receiver(200).await);
    let create = |url: String, events: Value| {
        let app = &app;
        async move {
            let body = json!({"url": url, "enabled_events": events, "description": "test"});
            app.post("/v1/webhook-endpoints", t, body).await.expect(201)
        }
    };
    let first = create(format!("{}/a", a.uri()), json!(["generation.succeeded"])).await;
    let second = create(format!("{}/b", b.uri()), json!(["*"])).await;
    let (a_secret, b_secret) = (first["secret"].as_str().unwrap(), second["secret"].as_str().unwrap());
    assert!(a_secret.starts_with("whsec_") && b_secret.starts_with("whsec_") && a_secret != b_secret);
    assert_eq!(
        (first["status"].as_str(), first["enabled_events"].clone()),
        (Some("enabled"), json!(["generation.succeeded"]))
    );
    let a_id = first["id"].as_str().unwrap().to_string();
    let listed = app.get("/v1/webhook-endpoints", t).await.expect(200);
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    assert!(listed["data"][0].get("secret").is_none(), "the secret is shown once: {listed}");

    // A generation: A (generation.succeeded) and B (everything) each get it, each signed with
    // its own secret only.
    let made = app.post("/v1/generations", Some(&key), generation()).await.expect(201);
    eventually("both deliveries", || async { received(&a).await.len() == 1 && received(&b).await.len() == 1 }).await;
    let (to_a, to_b) = (&received(&a).await[0], &received(&b).await[0]);
    assert_eq!(signed_with(a_secret, to_a), (1, true));
    assert_eq!(signed_with(b_secret, to_a), (1, false));
    assert_eq!(signed_with(b_secret, to_b), (1, true));
    let event = body(to_a);
    assert_eq!(
        (event["type"].as_str(), event["data"]["id"].as_str()),
        (Some("generation.succeeded"), made["id"].as_str())
    );
    let listed = app.get(&format!("/v1/events/{}", event["id"].as_str().unwrap()), Some(&key)).await.expect(200);
    assert_eq!(listed, event, "the webhook carries the event as the API shows it");
    let deliveries = app.get(&format!("/v1/webhook-endpoints/{a_id}/deliveries"), t).await.expect(200);
    let delivery = &deliveries["data"][0];
    assert_eq!((delivery["status"].as_str(), delivery["event_id"].as_str()), (Some("delivered"), event["id"].as_str()));
    let attempt = &delivery["attempts"][0];
    assert_eq!((attempt["status"].as_str(), attempt["response_code"].as_i64()), (Some("succeeded"), Some(200)));
    assert!(attempt["duration_ms"].as_i64().is_some_and(|ms| ms >= 0), "{attempt}");

    // Rotation: during the grace period both signatures; after it, the new one alone.
    let rotate = format!("/v1/webhook-endpoints/{a_id}/rotate-secret");
    let rotated = app.post(&rotate, t, json!({"grace_period_seconds": 3600}));
    let rotated = rotated.await.expect(200);
    let new_secret = rotated["secret"].as_str().unwrap();
    assert_ne!(new_secret, a_secret);
    assert!(rotated["previous_secret_expires_at"].is_string());
    app.post("/v1/generations", Some(&key), generation()).await.expect(201);
    eventually("the second delivery", || async { received(&a).await.len() == 2 }).await;
    let during = &received(&a).await[1];
    assert_eq!(signed_with(new_secret, during), (2, true));
    assert_eq!(signed_with(a_secret, during), (2, true), "the old secret still verifies");
    app.clock.advance(chrono::Duration::hours(2));
    app.post("/v1/generations", Some(&key), generation()).await.expect(201);
    eventually("the third delivery", || async { received(&a).await.len() == 3 }).await;
    let after = &received(&a).await[2];
    assert_eq!(signed_with(new_secret, after), (1, true));
    assert_eq!(signed_with(a_secret, after), (1, false));

    // Changing what it wants, and deleting the other.
    let path = format!("/v1/webhook-endpoints/{a_id}");
    let changed = app.request(Method::PATCH, &path, t, Some(json!({"enabled_events": ["balance.low"]})), &[]).await;
    assert_eq!(changed.expect(200)["enabled_events"], json!(["balance.low"]));
    let b_path = format!("/v1/webhook-endpoints/{}", second["id"].as_str().unwrap());
    app.request(Method::DELETE, &b_path, t, None, &[]).await.expect(200);
    app.get(&b_path, t).await.expect_error(404, "not_found", "resource_missing");
    app.post("/v1/generations", Some(&key), generation()).await.expect(201);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!((received(&a).await.len(), received(&b).await.len()), (3, 3), "nothing more to either");

    // Bad input; another account sees nothing.
    let bad = json!({"url": a.uri(), "enabled_events": ["generation.exploded"]});
    app.post("/v1/webhook-endpoints", t, bad).await.expect_error(400, "invalid_request", "invalid_parameter");
    let bad = json!({"url": "ftp://example.com/x", "enabled_events": ["*"]});
    app.post("/v1/webhook-endpoints", t, bad).await.expect_error(400, "invalid_request", "invalid_webhook_url");
    let bob = app.signup("bob@example.com").await;
    app.get(&path, Some(&bob.token)).await.expect_error(404, "not_found", "resource_missing");

    // The low-balance alert's URL is an endpoint subscribed to balance.low.
    let alert = json!({"enabled": true, "threshold": "10", "webhook_url": format!("{}/alert", b.uri())});
    app.request(Method::PUT, "/v1/settings/low-balance-alert", t, Some(alert), &[]).await.expect(200);
    let listed = app.get("/v1/webhook-endpoints", t).await.expect(200);
    let managed: Vec<&Value> =
        listed["data"].as_array().unwrap().iter().filter(|e| e["description"] == "Low-balance alert").collect();
    assert_eq!(managed.len(), 1, "{listed}");
    assert_eq!(managed[0]["enabled_events"], json!(["balance.low"]));
}

async fn latest_delivery(app: &TestApp, path: &str, token: Option<&str>) -> Value {
    app.get(path, token).await.expect(200)["data"][0].clone()
}

async fn a_failing_endpoint_is_retried_then_disabled(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.webhook_max_attempts = 3;
        // Waits of 200 and 400 ms, well apart at the worker's 50 ms tick.
        c.webhook_backoff_base_ms = 200;
        c.webhook_disable_after_seconds = 3600;
    })
    .await
    else {
        return;
    };
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    app.grant(&admin, &ada.account_id, "50").await;
    let (_, key) = app.api_key(&ada, &["generations:write"]).await;
    let t = Some(ada.token.as_str());
    let down = receiver(500).await;
    let created = app.post("/v1/webhook-endpoints", t, json!({"url": down.uri(), "enabled_events": ["*"]})).await;
    let id = created.expect(201)["id"].as_str().unwrap().to_string();
    let deliveries = format!("/v1/webhook-endpoints/{id}/deliveries");

    // Retried with backoff, each attempt logged, then given up.
    app.post("/v1/generations", Some(&key), generation()).await.expect(201);
    let latest = || latest_delivery(&app, &deliveries, t);
    eventually("three failed attempts", || async { latest().await["status"] == "failed" }).await;
    let delivery = latest().await;
    let attempts = delivery["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3, "{delivery}");
    for (i, attempt) in attempts.iter().enumerate() {
        assert_eq!(attempt["attempt"], i as i64 + 1);
        assert_eq!((attempt["status"].as_str(), attempt["response_code"].as_i64()), (Some("failed"), Some(500)));
        assert!(attempt["duration_ms"].is_i64());
    }
    let at = |i: usize| attempts[i]["at"].as_str().unwrap().parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    assert!(at(2) - at(1) > at(1) - at(0), "the waits grow");
    assert_eq!(received(&down).await.len(), 3);

    // Sent again on request: a fourth attempt.
    let delivery_id = delivery["id"].as_str().unwrap();
    let retry = app.post(&format!("{deliveries}/{delivery_id}/retry"), t, json!({})).await.expect(202);
    assert_eq!(retry["status"], "pending");
    eventually("the fourth attempt", || async { latest().await["attempts"].as_array().unwrap().len() == 4 }).await;
    let endpoint = app.get(&format!("/v1/webhook-endpoints/{id}"), t).await.expect(200);
    assert_eq!(endpoint["status"], "enabled");
    assert!(endpoint["failing_since"].is_string());

    // Still failing past the limit: disabled, and the account told.
    app.clock.advance(chrono::Duration::hours(2));
    app.post("/v1/generations", Some(&key), generation()).await.expect(201);
    let path = format!("/v1/webhook-endpoints/{id}");
    eventually("the endpoint disabled", || async { app.get(&path, t).await.expect(200)["status"] == "disabled" }).await;
    let endpoint = app.get(&path, t).await.expect(200);
    assert!(endpoint["disabled_reason"].as_str().unwrap().contains("failed"), "{endpoint}");
    let notes = app.get("/v1/notifications?limit=100", t).await.expect(200);
    let disabled: Vec<&Value> =
        notes["data"].as_array().unwrap().iter().filter(|n| n["type"] == "webhook_endpoint_disabled").collect();
    assert_eq!(disabled.len(), 1, "{notes}");
    assert_eq!(disabled[0]["data"]["webhook_endpoint_id"], id.as_str());

    // Disabled: no more attempts; enabled again, it starts afresh.
    let before = received(&down).await.len();
    app.post("/v1/generations", Some(&key), generation()).await.expect(201);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(received(&down).await.len(), before, "nothing sent to a disabled endpoint");
    let enabled = app.request(Method::PATCH, &path, t, Some(json!({"status": "enabled"})), &[]).await.expect(200);
    assert_eq!((enabled["status"].as_str(), enabled["failing_since"].as_str()), (Some("enabled"), None));
}

per_backend!(each_endpoint_gets_its_events_signed_with_its_own_secret, a_failing_endpoint_is_retried_then_disabled);
