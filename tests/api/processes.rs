//! Real `apinfer` processes for the reliability and security tests: started with fixed secrets
//! (so a session token issued by one process works on another), killed and reaped on drop.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

/// The session-token secret every test process shares.
pub const JWT_SECRET: &str = "a-fixed-jwt-secret-for-process-tests";
/// The payment-webhook secret every test process shares.
pub const WEBHOOK_SECRET: &str = "a-fixed-webhook-secret-for-process-tests";

/// A running `apinfer serve`, killed (SIGKILL) and reaped when dropped.
pub struct ServerProcess {
    child: Child,
    pub base: String,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `apinfer` with the test environment: this database, fixed secrets, no config file, high
/// rate limits, warnings only; output discarded unless the caller redirects it.
pub fn apinfer(url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_apinfer"));
    cmd.env("APINFER_DATABASE_URL", url)
        .env("APINFER_JWT_SECRET", JWT_SECRET)
        .env("APINFER_PAYMENTS_WEBHOOK_SECRET", WEBHOOK_SECRET)
        .env("APINFER_CONFIG", "/nonexistent/apinfer.toml")
        .env("APINFER_RATE_LIMIT_PER_SECOND", "100000")
        .env("APINFER_RATE_LIMIT_BURST", "100000")
        .env("APINFER_AUTH_RATE_LIMIT_PER_MINUTE", "100000")
        .env("APINFER_DB_POOL_SIZE", "8")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// Sends stdout and stderr of `cmd` to `log` (appending).
pub fn log_to(cmd: &mut Command, log: &Path) {
    let file = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("log file");
    cmd.stdout(file.try_clone().expect("log file")).stderr(file);
}

/// Creates an apinfer administrator with the CLI, as an operator would.
pub fn create_admin(mut cmd: Command, email: &str, password: &str) {
    let status = cmd
        .args(["admin", "create-user", "--email", email, "--password", password, "--admin"])
        .status()
        .expect("apinfer admin create-user runs");
    assert!(status.success(), "admin create-user failed");
}

/// Starts `apinfer serve` from `cmd` on a free port and waits until it is ready.
pub async fn serve(mut cmd: Command) -> ServerProcess {
    let port = free_port();
    let child = cmd.args(["serve", "--addr", &format!("127.0.0.1:{port}")]).spawn().expect("apinfer starts");
    // The guard kills and reaps the process on every path, including a failed start.
    let server = ServerProcess { child, base: format!("http://127.0.0.1:{port}") };
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client.get(format!("{}/readyz", server.base)).send().await.is_ok_and(|r| r.status() == 200) {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("apinfer did not become ready");
}

/// A minimal JSON client for a server process.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    http: reqwest::Client,
}

impl Client {
    pub fn new(base: &str) -> Self {
        Client { base: base.to_string(), http: reqwest::Client::new() }
    }

    /// Sends a request; returns the status and the JSON body (`Null` if none).
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status().as_u16();
        let text = res.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, token, Some(&body)).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, token, None).await
    }

    /// Logs in; returns the session token.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let (status, body) = self.post("/v1/auth/login", None, json!({"email": email, "password": password})).await;
        assert_eq!(status, 200, "{body}");
        body["token"].as_str().unwrap().to_string()
    }

    /// Signs up; returns (session token, account id).
    pub async fn signup(&self, email: &str, password: &str) -> (String, String) {
        let (status, body) = self.post("/v1/auth/signup", None, json!({"email": email, "password": password})).await;
        assert_eq!(status, 201, "{body}");
        (body["token"].as_str().unwrap().to_string(), body["account"]["id"].as_str().unwrap().to_string())
    }
}

impl Client {
    /// Delivers a payment provider event to the sandbox webhook, signed with [`WEBHOOK_SECRET`]
    /// at `at` (unix seconds); returns the status and the JSON body.
    pub async fn payment_webhook(&self, event_id: &str, event_type: &str, purchase_id: &str, at: i64) -> (u16, Value) {
        let body = json!({"id": event_id, "type": event_type, "data": {"purchase_id": purchase_id}}).to_string();
        let signature = apinfer_core::signature::sign(WEBHOOK_SECRET.as_bytes(), at, body.as_bytes());
        let res = self
            .http
            .post(format!("{}/v1/webhooks/payments/sandbox", self.base))
            .header("content-type", "application/json")
            .header("Apinfer-Signature", signature)
            .body(body)
            .send()
            .await
            .expect("request sent");
        let status = res.status().as_u16();
        let text = res.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}
