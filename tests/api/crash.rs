//! A real `apinfer serve` process killed (SIGKILL) while a generation holds credits: after a
//! restart, the sweeper releases the hold once it expires; no credit is lost or charged.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{Backend, TestDb};
use crate::per_backend;

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn command(url: &str, upstream: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_apinfer"));
    cmd.env("APINFER_DATABASE_URL", url)
        .env("APINFER_JWT_SECRET", "a-fixed-secret-for-the-crash-test")
        .env("APINFER_UPSTREAM_BASE_URL", upstream)
        .env("APINFER_UPSTREAM_API_KEY", "upstream-key")
        .env("APINFER_UPSTREAM_TIMEOUT_SECONDS", "60")
        .env("APINFER_HOLD_TIMEOUT_SECONDS", "3")
        .env("APINFER_SWEEP_INTERVAL_SECONDS", "1")
        .env("APINFER_CONFIG", "/nonexistent/apinfer.toml")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

async fn start(url: &str, upstream: &str) -> Server {
    let port = free_port();
    let child =
        command(url, upstream).args(["serve", "--addr", &format!("127.0.0.1:{port}")]).spawn().expect("apinfer starts");
    // The guard kills and reaps the process on every path, including a failed start.
    let server = Server { child, base: format!("http://127.0.0.1:{port}") };
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client.get(format!("{}/readyz", server.base)).send().await.is_ok_and(|r| r.status() == 200) {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("apinfer did not become ready");
}

async fn killed_mid_generation_loses_no_credit(backend: Backend) {
    let Some((url, _db)) = TestDb::create(backend) else { return };
    let upstream = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(60)))
        .mount(&upstream)
        .await;
    let upstream_url = format!("{}/v1", upstream.uri());
    let created = command(&url, &upstream_url)
        .args(["admin", "create-user", "--email", "ops@example.com", "--password", "ops password 1", "--admin"])
        .status()
        .expect("admin create-user runs");
    assert!(created.success());
    let server = start(&url, &upstream_url).await;
    let client = reqwest::Client::new();
    let post = |path: &str, token: Option<&str>, body: serde_json::Value| {
        let mut req = client.post(format!("{}{path}", server.base)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let login: serde_json::Value =
        post("/v1/auth/login", None, json!({"email": "ops@example.com", "password": "ops password 1"}))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let admin = login["token"].as_str().unwrap().to_string();
    let signup: serde_json::Value =
        post("/v1/auth/signup", None, json!({"email": "ada@example.com", "password": "ada password 1"}))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let (token, account) =
        (signup["token"].as_str().unwrap().to_string(), signup["account"]["id"].as_str().unwrap().to_string());
    let grant = post(
        &format!("/v1/admin/accounts/{account}/adjustments"),
        Some(&admin),
        json!({"credits": "10", "reason": "t"}),
    )
    .await
    .unwrap();
    assert_eq!(grant.status(), 201);
    // Start a generation that the upstream will never finish, and kill the server mid-way.
    let in_flight = tokio::spawn(post(
        "/v1/generations",
        Some(&token),
        json!({"model": "qwen-image", "prompt": "x", "quality": "ultra"}),
    ));
    let mut held = String::new();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let b: serde_json::Value = client
            .get(format!("{}/v1/balance", server.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        held = b["held"].as_str().unwrap().to_string();
        if held == "3.5" {
            break;
        }
    }
    assert_eq!(held, "3.5", "the generation holds its cost");
    drop(server); // SIGKILL
    assert!(in_flight.await.unwrap().is_err(), "the client saw the connection die");
    // Restart: after the hold timeout the sweeper releases it.
    let server = start(&url, &upstream_url).await;
    let mut balance = serde_json::Value::Null;
    for _ in 0..100 {
        balance = client
            .get(format!("{}/v1/balance", server.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if balance["held"] == "0" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        (balance["balance"].as_str(), balance["held"].as_str(), balance["available"].as_str()),
        (Some("10"), Some("0"), Some("10"))
    );
    let entries: serde_json::Value = client
        .get(format!("{}/v1/transactions", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sum: rust_decimal::Decimal = entries["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["credits"].as_str().unwrap().parse::<rust_decimal::Decimal>().unwrap())
        .sum();
    assert_eq!(sum, rust_decimal::Decimal::from(10), "ledger sum = balance");
    let generations: serde_json::Value = client
        .get(format!("{}/v1/generations", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(generations["data"][0]["status"], "failed");
    assert_eq!(generations["data"][0]["error_code"], "hold_expired");
    assert_eq!(generations["data"][0]["credits_charged"], "0");
}

per_backend!(killed_mid_generation_loses_no_credit);
