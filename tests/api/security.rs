//! Secrets never reach the logs: a real `apinfer serve` at `RUST_LOG=debug` (text and JSON
//! lines), its stdout and stderr captured while users sign up, log in (also with a wrong
//! password), create and use API keys (also an invalid one), buy with cards (also a declined
//! one), save a card and receive a signed webhook. Neither the passwords, the key secrets, the
//! session tokens, the card numbers nor the server's secrets appear anywhere in them.
//!
//! (Timing-safe comparisons: API keys are looked up by SHA-256 digest, never compared as
//! secrets, and webhook signatures are checked with `hmac`'s constant-time `verify_slice`; see
//! the unit tests in `core`. A statistical timing test would be flaky on shared CI machines.)

use reqwest::Method;
use serde_json::json;

use crate::helpers::{card_payment, Backend, TestDb};
use crate::per_backend;
use crate::processes::{apinfer, create_admin, log_to, serve, Client, JWT_SECRET, WEBHOOK_SECRET};

const ADMIN_PASSWORD: &str = "Adm1n-Pa55word-Never-Logged";
const PASSWORD: &str = "S1gnup-Pa55word-Never-Logged";
const WRONG_PASSWORD: &str = "Wr0ng-Gue55-Never-Logged";
const CARDS: [&str; 3] = ["tok_visa", "tok_chargeDeclined", "tok_mastercard"];

async fn run_and_capture(backend: Backend, json_logs: bool) -> Option<(String, Vec<String>)> {
    let (url, _db) = TestDb::create(backend)?;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("apinfer.log");
    let mut cli = apinfer(&url);
    log_to(&mut cli, &log);
    cli.env("RUST_LOG", "debug");
    create_admin(cli, "ops@example.com", ADMIN_PASSWORD);
    let mut cmd = apinfer(&url);
    log_to(&mut cmd, &log);
    cmd.env("RUST_LOG", "debug").env("APINFER_LOG_JSON", if json_logs { "true" } else { "false" });
    let server = serve(cmd).await;
    let c = Client::new(&server.base);
    let mut secrets: Vec<String> = [ADMIN_PASSWORD, PASSWORD, WRONG_PASSWORD, JWT_SECRET, WEBHOOK_SECRET]
        .iter()
        .chain(CARDS.iter())
        .map(|s| s.to_string())
        .collect();

    let admin = c.login("ops@example.com", ADMIN_PASSWORD).await;
    let (token, account) = c.signup("ada@example.com", PASSWORD).await;
    let (status, _) =
        c.post("/v1/auth/login", None, json!({"email": "ada@example.com", "password": WRONG_PASSWORD})).await;
    assert_eq!(status, 401);
    let login = c.login("ada@example.com", PASSWORD).await;
    let (status, created) = c
        .post(
            "/v1/api-keys",
            Some(&token),
            json!({"name": "logged?", "scopes": ["balance:read", "generations:write", "purchases:write"]}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let key = created["key"].as_str().unwrap().to_string();
    let forged_key = format!("sk_{}", "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8");
    assert_eq!(c.get("/v1/balance", Some(&key)).await.0, 200);
    assert_eq!(c.get("/v1/balance", Some(&forged_key)).await.0, 401);
    assert_eq!(c.get("/v1/balance", Some(&token[..token.len() - 4])).await.0, 401);
    let (status, bought) = c
        .post("/v1/purchases", Some(&key), json!({"package_id": "basic", "payment_method": card_payment(CARDS[0])}))
        .await;
    assert_eq!(status, 201, "{bought}");
    let (status, _) = c
        .post("/v1/purchases", Some(&token), json!({"package_id": "basic", "payment_method": card_payment(CARDS[1])}))
        .await;
    assert_eq!(status, 402);
    let card = card_payment(CARDS[2]);
    assert_eq!(c.post("/v1/payment-methods", Some(&token), card).await.0, 201);
    let (status, _) = c
        .post(
            &format!("/v1/admin/accounts/{account}/adjustments"),
            Some(&admin),
            json!({"credits": "5", "reason": "log test"}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = c
        .post("/v1/generations", Some(&key), json!({"model": "qwen-image", "prompt": "a quiet log", "size": "512x512"}))
        .await;
    assert_eq!(status, 201);
    let (status, wallet) = c
        .post("/v1/purchases", Some(&token), json!({"package_id": "basic", "payment_method": {"type": "alipay"}}))
        .await;
    assert_eq!(status, 201);
    let event =
        json!({"id": "evt_log", "type": "payment.succeeded", "data": {"purchase_id": wallet["id"]}}).to_string();
    let signature =
        apinfer_core::signature::sign(WEBHOOK_SECRET.as_bytes(), chrono::Utc::now().timestamp(), event.as_bytes());
    let res = reqwest::Client::new()
        .request(Method::POST, format!("{}/v1/webhooks/payments/sandbox", server.base))
        .header("content-type", "application/json")
        .header("Apinfer-Signature", &signature)
        .body(event)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    drop(server);

    for session in [&admin, &token, &login] {
        secrets.push(session.to_string());
        // The signature part alone is the secret half of a JWT.
        secrets.push(session.rsplit('.').next().unwrap().to_string());
    }
    secrets.push(key.clone());
    secrets.push(key["sk_".len()..].to_string());
    secrets.push(forged_key);
    Some((std::fs::read_to_string(&log).unwrap(), secrets))
}

async fn secrets_never_reach_the_logs(backend: Backend) {
    for json_logs in [false, true] {
        let Some((logs, secrets)) = run_and_capture(backend, json_logs).await else { return };
        // The capture works: the requests were logged, at debug level.
        assert!(logs.contains("served"), "no request was logged:\n{logs}");
        assert!(logs.lines().count() > 20, "too few log lines to judge:\n{logs}");
        for secret in &secrets {
            assert!(!logs.contains(secret.as_str()), "a secret ({}…) is in the logs", &secret[..secret.len().min(6)]);
        }
        assert!(!logs.to_lowercase().contains("bearer "), "an Authorization header is in the logs");
    }
}

per_backend!(secrets_never_reach_the_logs);
