//! Secrets never reach the logs: a real `apinfer serve` at `RUST_LOG=debug` (text and JSON
//! lines), its stdout and stderr captured while users sign up, log in (also with a wrong
//! password), create and use API keys (also an invalid one), buy with cards (also a declined
//! one), save a card and receive a signed webhook. Neither the passwords, the key secrets, the
//! session tokens, the card numbers nor the server's secrets appear anywhere in them.
//!
//! (Timing-safe comparisons: API keys are looked up by SHA-256 digest, never compared as
//! secrets, and webhook signatures are checked with `hmac`'s constant-time `verify_slice`; see
//! the unit tests in `core`. A statistical timing test would be flaky on shared CI machines.)

use secrecy::ExposeSecret;
use serde_json::json;

use crate::helpers::{card_payment, Backend, TestApp};
use crate::per_backend;

const ADMIN_PASSWORD: &str = "Adm1n-Pa55word-Never-Logged";
const PASSWORD: &str = "S1gnup-Pa55word-Never-Logged";
const WRONG_PASSWORD: &str = "Wr0ng-Gue55-Never-Logged";
const CARDS: [&str; 3] = ["tok_visa", "tok_chargeDeclined", "tok_mastercard"];

async fn run_and_capture(backend: Backend, json_logs: bool) -> Option<(String, Vec<String>)> {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("apinfer.log");
    let mut app = TestApp::builder(backend)
        .binary()
        .env("RUST_LOG", "debug")
        .log_to(&log)
        .configure(move |c| c.log_json = json_logs)
        .spawn()
        .await?;
    let created = app
        .cli()
        .args(["admin", "create-user", "--email", "ops@example.com", "--password", ADMIN_PASSWORD, "--admin"])
        .status()
        .expect("apinfer admin create-user runs");
    assert!(created.success(), "admin create-user failed");
    let config = &app.config;
    let mut secrets: Vec<String> = [ADMIN_PASSWORD, PASSWORD, WRONG_PASSWORD]
        .iter()
        .chain(CARDS.iter())
        .map(|s| s.to_string())
        .chain([
            config.jwt_secret.expose_secret().to_string(),
            config.payments_webhook_secret.expose_secret().to_string(),
        ])
        .collect();

    let admin = app.login("ops@example.com", ADMIN_PASSWORD).await;
    let ada = app.signup_with("ada@example.com", PASSWORD).await;
    let (token, account) = (ada.token.clone(), ada.account_id.clone());
    let wrong = json!({"email": "ada@example.com", "password": WRONG_PASSWORD});
    app.post("/v1/auth/login", None, wrong).await.expect(401);
    let login = app.login("ada@example.com", PASSWORD).await;
    let scopes = ["balance:read", "generations:write", "purchases:write"];
    let created =
        app.post("/v1/api-keys", Some(&token), json!({"name": "logged?", "scopes": scopes})).await.expect(201);
    let key = created["key"].as_str().unwrap().to_string();
    let forged_key = format!("sk_{}", "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8");
    app.get("/v1/balance", Some(&key)).await.expect(200);
    app.get("/v1/balance", Some(&forged_key)).await.expect(401);
    app.get("/v1/balance", Some(&token[..token.len() - 4])).await.expect(401);
    let buy = |card: &str| json!({"package_id": "basic", "payment_method": card_payment(card)});
    app.post("/v1/purchases", Some(&key), buy(CARDS[0])).await.expect(201);
    app.post("/v1/purchases", Some(&token), buy(CARDS[1])).await.expect(402);
    app.post("/v1/payment-methods", Some(&token), card_payment(CARDS[2])).await.expect(201);
    let adjustment = json!({"credits": "5", "reason": "log test"});
    app.post(&format!("/v1/admin/accounts/{account}/adjustments"), Some(&admin), adjustment).await.expect(201);
    let generation = json!({"model": "qwen-image", "prompt": "a quiet log", "size": "512x512"});
    app.post("/v1/generations", Some(&key), generation).await.expect(201);
    let wallet = json!({"package_id": "basic", "payment_method": {"type": "alipay"}});
    let wallet = app.post("/v1/purchases", Some(&token), wallet).await.expect(201);
    let purchase = wallet["id"].as_str().unwrap();
    app.payment_webhook("evt_log", "payment.succeeded", purchase, chrono::Utc::now().timestamp()).await.expect(200);
    app.kill(0);

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
