//! A real `apinfer serve` process killed (SIGKILL) while a generation holds credits: after a
//! restart, the sweeper releases the hold once it expires; no credit is lost or charged.

use std::time::Duration;

use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{dec, Backend, TestApp};
use crate::per_backend;

async fn killed_mid_generation_loses_no_credit(backend: Backend) {
    let upstream = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(60)))
        .mount(&upstream)
        .await;
    let upstream_url = format!("{}/v1", upstream.uri());
    let Some(mut app) = TestApp::builder(backend)
        .binary()
        .configure(move |c| {
            c.upstream = Some(apinfer_api::config::UpstreamConfig {
                base_url: upstream_url,
                api_key: "upstream-key".to_string().into(),
                models: vec!["*".into()],
                upstream_model: None,
                timeout_seconds: 60,
                max_retries: 2,
            });
            c.hold_timeout_seconds = 3;
            c.sweep_interval_seconds = 1;
        })
        .spawn()
        .await
    else {
        return;
    };
    let admin = app.admin().await;
    let user = app.signup("ada@example.com").await;
    app.grant(&admin, &user.account_id, "10").await;
    // Start a generation that the upstream will never finish, and kill the server mid-way.
    let in_flight = tokio::spawn({
        let request = app.client.post(format!("{}/v1/generations", app.base)).bearer_auth(&user.token);
        request.json(&json!({"model": "qwen-image", "prompt": "x", "quality": "ultra"})).send()
    });
    let mut held = String::new();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        held = app.balance(&user.token).await["held"].as_str().unwrap().to_string();
        if held == "3.5" {
            break;
        }
    }
    assert_eq!(held, "3.5", "the generation holds its cost");
    app.kill(0);
    assert!(in_flight.await.unwrap().is_err(), "the client saw the connection die");
    // Restart: after the hold timeout the sweeper releases it.
    app.restart(0).await;
    let mut balance = serde_json::Value::Null;
    for _ in 0..100 {
        balance = app.balance(&user.token).await;
        if balance["held"] == "0" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        (balance["balance"].as_str(), balance["held"].as_str(), balance["available"].as_str()),
        (Some("10"), Some("0"), Some("10"))
    );
    let entries = app.all_transactions(&user.token).await;
    let sum: rust_decimal::Decimal = entries.iter().map(|e| dec(&e["credits"])).sum();
    assert_eq!(sum, rust_decimal::Decimal::from(10), "ledger sum = balance");
    let generations = app.get("/v1/generations", Some(&user.token)).await.expect(200);
    assert_eq!(generations["data"][0]["status"], "failed");
    assert_eq!(generations["data"][0]["error_code"], "hold_expired");
    assert_eq!(generations["data"][0]["credits_charged"], "0");
}

per_backend!(killed_mid_generation_loses_no_credit);
