//! The test harness, one for every integration test: [`TestApp::builder`] starts a real
//! apinfer with a fresh database per test, SQLite (a temp file) or PostgreSQL (a new database
//! on `APINFER_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432`), either in this
//! process (the same `startup::build` as `main`, on port 0) or as `apinfer serve` processes of
//! the built binary, one or several on the one database, all with the same configuration. Where
//! no PostgreSQL answers, PostgreSQL tests print a notice and pass, except under `CI=true`.
//!
//! The API's tests (`tests/api`, as `helpers`) and the SDKs' end-to-end tests
//! (`sdk-gen/tests/e2e.rs`) include this one file; each uses part of it.
#![allow(dead_code)]

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use apinfer_api::config::Config;
use apinfer_api::startup::{self, Application};
use apinfer_api::state::AppState;
use apinfer_core::auth::hash_password;
use apinfer_core::clock::OffsetClock;
use apinfer_core::db::Pool;
use apinfer_core::store::accounts::{self, NewUser};
use diesel::{Connection, RunQueryDsl};
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The value of the unlabelled metric `name` in a `/metrics` text.
pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

/// A running apinfer (in this process, or one or more processes of the binary) on a fresh
/// database. Requests go to its first server through [`Client`] (which it derefs to); the
/// others are [`TestApp::server`]`(i)`.
pub struct TestApp {
    servers: Vec<Client>,
    pub clock: OffsetClock,
    pub config: Config,
    /// The app's database, for what a test checks or sets up beneath the API.
    pub pool: Pool,
    /// The separate metrics listener's origin, when `metrics_addr` is configured (in process).
    pub metrics_base: Option<String>,
    state: Option<actix_web::web::Data<AppState>>,
    processes: Vec<ServerProcess>,
    launch: Option<Launch>,
    _db: TestDb,
}

impl Deref for TestApp {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.servers[0]
    }
}

/// A change to the test configuration.
type Configure<'a> = Box<dyn FnOnce(&mut Config) + 'a>;

/// How [`TestApp`] starts: [`TestApp::builder`], then [`Builder::spawn`].
pub struct Builder<'a> {
    backend: Backend,
    configure: Vec<Configure<'a>>,
    processes: Option<usize>,
    env: Vec<(String, String)>,
    log: Option<PathBuf>,
}

impl<'a> Builder<'a> {
    /// Changes the test configuration (in either mode: processes get it as their environment).
    pub fn configure(mut self, configure: impl FnOnce(&mut Config) + 'a) -> Self {
        self.configure.push(Box::new(configure));
        self
    }

    /// Runs `n` processes of the `apinfer` binary (`apinfer serve`) on the one database,
    /// instead of the app in this process.
    pub fn processes(mut self, n: usize) -> Self {
        self.processes = Some(n);
        self
    }

    /// One process of the binary: [`Builder::processes`]`(1)`.
    pub fn binary(self) -> Self {
        self.processes(1)
    }

    /// An environment variable for the processes beyond the configuration (`RUST_LOG`).
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    /// Appends the processes' standard output and error to `log` (else they are discarded).
    pub fn log_to(mut self, log: &Path) -> Self {
        self.log = Some(log.to_path_buf());
        self
    }

    /// Starts it; `None` when the backend is unavailable here.
    pub async fn spawn(self) -> Option<TestApp> {
        let (url, db) = TestDb::create(self.backend)?;
        let mut config = Config::development(url);
        config.addr = "127.0.0.1:0".into();
        config.rate_limit_per_second = 10_000;
        config.rate_limit_burst = 10_000;
        config.auth_rate_limit_per_minute = 10_000;
        config.public_rate_limit_per_minute = 10_000;
        config.db_pool_size = 8;
        // Background workers run often so tests see their effects quickly; webhook receivers
        // in tests listen on loopback, which production refuses by default.
        config.worker_interval_ms = 50;
        config.webhook_backoff_base_ms = 50;
        config.webhook_timeout_seconds = 2;
        config.allow_private_webhooks = true;
        for configure in self.configure {
            configure(&mut config);
        }
        let clock = OffsetClock::default();
        let Some(count) = self.processes else {
            if std::env::var("TEST_LOG").is_ok() {
                apinfer_api::telemetry::init(false);
            }
            let app: Application =
                startup::build_with_clock(config.clone(), Arc::new(clock.clone())).await.expect("app builds");
            let server = Client::new(&format!("http://127.0.0.1:{}", app.port()), &config);
            let metrics_base = app.metrics_port().map(|port| format!("http://127.0.0.1:{port}"));
            let state = app.state();
            tokio::spawn(app.run());
            return Some(TestApp {
                servers: vec![server],
                clock,
                pool: state.pool.clone(),
                config,
                metrics_base,
                state: Some(state),
                processes: Vec::new(),
                launch: None,
                _db: db,
            });
        };
        // Migrated once here, so that the processes do not all migrate at once.
        let pool = Pool::connect(&config.database_url, 2).expect("the test database");
        pool.migrate().expect("migrations run");
        let launch = Launch { config: config.clone(), env: self.env, log: self.log };
        let started = futures::future::join_all((0..count).map(|_| launch.serve(free_port()))).await;
        let (processes, servers) = started
            .into_iter()
            .map(|process| (Client::new(&process.base, &config), process))
            .map(|(c, p)| (p, c))
            .unzip();
        Some(TestApp {
            servers,
            clock,
            config,
            pool,
            metrics_base: None,
            state: None,
            processes,
            launch: Some(launch),
            _db: db,
        })
    }
}

/// What starts a process of the binary: the configuration, as its environment.
struct Launch {
    config: Config,
    env: Vec<(String, String)>,
    log: Option<PathBuf>,
}

impl Launch {
    /// `apinfer` with this configuration and no config file; output to the log or discarded.
    fn command(&self) -> Command {
        let mut cmd = Command::new(apinfer_bin());
        // Only this configuration: none of the test runner's own settings.
        for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("APINFER_")) {
            cmd.env_remove(name);
        }
        cmd.envs(self.config.to_env())
            .env("APINFER_CONFIG", "/nonexistent/apinfer.toml")
            .env("RUST_LOG", "warn")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        match &self.log {
            Some(log) => {
                let file = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("log file");
                cmd.stdout(file.try_clone().expect("log file")).stderr(file);
            }
            None => {
                cmd.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        cmd
    }

    /// Starts `apinfer serve` on `port` and waits until it is ready.
    async fn serve(&self, port: u16) -> ServerProcess {
        let child =
            self.command().args(["serve", "--addr", &format!("127.0.0.1:{port}")]).spawn().expect("apinfer starts");
        // The guard kills and reaps the process on every path, including a failed start.
        let server = ServerProcess { child, base: format!("http://127.0.0.1:{port}"), port };
        let client = reqwest::Client::new();
        for _ in 0..200 {
            if client.get(format!("{}/readyz", server.base)).send().await.is_ok_and(|r| r.status() == 200) {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("apinfer did not become ready");
    }
}

/// A running `apinfer serve`, killed (SIGKILL) and reaped when dropped.
struct ServerProcess {
    child: Child,
    base: String,
    port: u16,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `apinfer` binary: the one cargo built for these tests (the API's), else `APINFER_BIN`,
/// else the workspace's debug build beside the test executable (`target/debug/apinfer`).
pub fn apinfer_bin() -> PathBuf {
    if let Some(bin) = option_env!("CARGO_BIN_EXE_apinfer") {
        return PathBuf::from(bin);
    }
    if let Some(bin) = std::env::var_os("APINFER_BIN") {
        return PathBuf::from(bin);
    }
    // Test executables live in target/<profile>/deps.
    let exe = std::env::current_exe().expect("the test executable's path");
    exe.parent().and_then(Path::parent).expect("target/<profile>").join("apinfer")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A fresh database for one test, dropped (PostgreSQL) or deleted (SQLite) afterwards.
pub enum TestDb {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    /// A new empty database and its URL; `None` (with a notice) where PostgreSQL is absent
    /// outside CI.
    pub fn create(backend: Backend) -> Option<(String, TestDb)> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("apinfer.db").display());
                Some((url, TestDb::Sqlite(dir)))
            }
            Backend::Postgres => {
                let admin_url = postgres_admin_url();
                let mut conn = match diesel::PgConnection::establish(&format!("{admin_url}/postgres")) {
                    Ok(conn) => conn,
                    Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
                        eprintln!("NOTICE: skipping PostgreSQL test, no server at {admin_url}: {e}");
                        return None;
                    }
                    Err(e) => panic!("CI=true and PostgreSQL at {admin_url} is unreachable: {e}"),
                };
                let name = format!("apinfer_test_{}", apinfer_core::ids::random_base62(16).to_lowercase());
                diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut conn).expect("create test database");
                Some((
                    format!("{admin_url}/{name}"),
                    TestDb::Postgres { admin_url: format!("{admin_url}/postgres"), name },
                ))
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { admin_url, name } = self {
            if let Ok(mut conn) = diesel::PgConnection::establish(admin_url) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn);
            }
        }
    }
}

fn postgres_admin_url() -> String {
    std::env::var("APINFER_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A user logged in through the API, with their account and session token.
#[derive(Clone, Debug)]
pub struct TestUser {
    pub password: String,
    pub user_id: String,
    pub account_id: String,
    pub token: String,
}

/// A response as the tests look at it.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status and returns the JSON body.
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.text);
        self.body
    }

    /// Asserts an error of the contract's shape, with this status, type and code.
    #[track_caller]
    pub fn expect_error(self, status: u16, error_type: &str, code: &str) -> Value {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.text);
        let e = &self.body["error"];
        assert_eq!(e["type"], error_type, "{}", self.text);
        assert_eq!(e["code"], code, "{}", self.text);
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", self.text);
        assert!(e.get("param").is_some(), "param must be present (maybe null): {}", self.text);
        assert_eq!(e["request_id"].as_str(), self.header("x-request-id"), "request_id must match X-Request-Id");
        self.body
    }
}

impl TestApp {
    /// How to start one: the default test configuration on `backend`, in this process.
    pub fn builder<'a>(backend: Backend) -> Builder<'a> {
        Builder { backend, configure: Vec::new(), processes: None, env: Vec::new(), log: None }
    }

    /// Spawns with default test configuration; `None` when the backend is unavailable here.
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::builder(backend).spawn().await
    }

    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Config)) -> Option<TestApp> {
        Self::builder(backend).configure(configure).spawn().await
    }

    /// Server `i` (its processes, in the order started; 0 is the one requests go to by default).
    pub fn server(&self, i: usize) -> &Client {
        &self.servers[i]
    }

    /// Every server.
    pub fn servers(&self) -> &[Client] {
        &self.servers
    }

    /// The app's state, when it runs in this process.
    #[track_caller]
    pub fn state(&self) -> &actix_web::web::Data<AppState> {
        self.state.as_ref().expect("the app runs in this process (not built with .processes())")
    }

    /// The `apinfer` binary with the processes' environment, for its other commands (`admin
    /// create-user`, ...).
    #[track_caller]
    pub fn cli(&self) -> Command {
        self.launch.as_ref().expect("the app runs as processes (built with .processes())").command()
    }

    /// Kills process `i` (SIGKILL): what a crash or a power cut leaves.
    pub fn kill(&mut self, i: usize) {
        let process = &mut self.processes[i];
        let _ = process.child.kill();
        let _ = process.child.wait();
    }

    /// Starts process `i` again, on its port, and waits until it is ready.
    pub async fn restart(&mut self, i: usize) {
        let launch = self.launch.as_ref().expect("the app runs as processes");
        let process = launch.serve(self.processes[i].port).await;
        self.processes[i] = process;
    }

    /// Creates an apinfer administrator (as `apinfer admin create-user --admin` does) and logs in.
    pub async fn admin(&self) -> TestUser {
        let email = format!("admin-{}@apinfer.test", apinfer_core::ids::random_base62(8).to_lowercase());
        let password = "admin password 123".to_string();
        let pool = self.pool.clone();
        let e = apinfer_core::domain::Email::parse(&email).unwrap();
        let p = apinfer_core::domain::Password::new(password.clone(), &e).unwrap();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().unwrap();
            let hash = hash_password(&p).unwrap();
            accounts::create_user_with_account(
                &mut conn,
                NewUser { email: &e, password_hash: &hash, name: Some("Admin"), is_admin: true },
                chrono::Utc::now(),
            )
            .unwrap();
        })
        .await
        .unwrap();
        let login = self.post("/v1/auth/login", None, json!({"email": email, "password": password})).await.expect(200);
        let me = self.get("/v1/me", login["token"].as_str()).await.expect(200);
        TestUser {
            password,
            user_id: me["user"]["id"].as_str().unwrap().to_string(),
            account_id: me["account"]["id"].as_str().unwrap().to_string(),
            token: login["token"].as_str().unwrap().to_string(),
        }
    }
}

/// One server's HTTP client, with the helpers tests call it through.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub client: reqwest::Client,
    /// The payment-webhook secret of the server.
    webhook_secret: String,
}

impl Client {
    fn new(base: &str, config: &Config) -> Self {
        Client {
            base: base.to_string(),
            client: reqwest::Client::new(),
            webhook_secret: config.payments_webhook_secret.expose_secret().to_string(),
        }
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = self.client.request(method, format!("{}{}", self.base, path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body read");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp { status, headers, body, text }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.request(Method::GET, path, token, None, &[]).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.request(Method::POST, path, token, Some(body), &[]).await
    }

    /// Signs a new user up through the API.
    pub async fn signup(&self, email: &str) -> TestUser {
        self.signup_with(email, "correct horse battery").await
    }

    /// Signs a new user up through the API with this password.
    pub async fn signup_with(&self, email: &str, password: &str) -> TestUser {
        let body = self.post("/v1/auth/signup", None, json!({"email": email, "password": password})).await.expect(201);
        TestUser {
            password: password.to_string(),
            user_id: body["user"]["id"].as_str().unwrap().to_string(),
            account_id: body["account"]["id"].as_str().unwrap().to_string(),
            token: body["token"].as_str().unwrap().to_string(),
        }
    }

    /// Logs in; returns the session token.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let body = self.post("/v1/auth/login", None, json!({"email": email, "password": password})).await.expect(200);
        body["token"].as_str().unwrap().to_string()
    }

    /// Creates an API key for the user's account with these scopes; returns (id, secret).
    pub async fn api_key(&self, user: &TestUser, scopes: &[&str]) -> (String, String) {
        let body =
            self.post("/v1/api-keys", Some(&user.token), json!({"name": "test", "scopes": scopes})).await.expect(201);
        (body["id"].as_str().unwrap().to_string(), body["key"].as_str().unwrap().to_string())
    }

    /// Adds credits to an account through an admin adjustment.
    pub async fn grant(&self, admin: &TestUser, account_id: &str, credits: &str) {
        self.post(
            &format!("/v1/admin/accounts/{account_id}/adjustments"),
            Some(&admin.token),
            json!({"credits": credits, "reason": "test grant"}),
        )
        .await
        .expect(201);
    }

    /// Buys a package with a card (a sandbox test token) through the API; returns the purchase.
    pub async fn buy(&self, token: &str, package: &str, card: &str) -> Value {
        self.post("/v1/purchases", Some(token), json!({"package_id": package, "payment_method": card_payment(card)}))
            .await
            .expect(201)
    }

    /// Delivers a payment provider event, signed with the server's webhook secret at `at`.
    pub async fn payment_webhook(&self, event_id: &str, event_type: &str, purchase_id: &str, at: i64) -> Resp {
        let body = json!({"id": event_id, "type": event_type, "data": {"purchase_id": purchase_id}}).to_string();
        let signature = apinfer_core::signature::sign(self.webhook_secret.as_bytes(), at, body.as_bytes());
        self.raw_post("/v1/webhooks/payments/sandbox", body, &[("Apinfer-Signature", &signature)]).await
    }

    /// POSTs a raw body.
    pub async fn raw_post(&self, path: &str, body: String, headers: &[(&str, &str)]) -> Resp {
        let mut req =
            self.client.post(format!("{}{}", self.base, path)).header("content-type", "application/json").body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body read");
        Resp { status, headers, body: serde_json::from_str(&text).unwrap_or(Value::Null), text }
    }

    pub async fn balance(&self, token: &str) -> Value {
        self.get("/v1/balance", Some(token)).await.expect(200)
    }

    /// Every ledger entry of the caller's account, walking all pages.
    pub async fn all_transactions(&self, token: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/v1/transactions?limit=100&cursor={c}"),
                None => "/v1/transactions?limit=100".to_string(),
            };
            let page = self.get(&path, Some(token)).await.expect(200);
            out.extend(page["data"].as_array().unwrap().iter().cloned());
            if !page["has_more"].as_bool().unwrap() {
                break;
            }
            cursor = page["next_cursor"].as_str().map(str::to_string);
        }
        out
    }

    /// Asserts the ledger invariant through the API: entries sum to the balance, and
    /// `available = balance − held ≥ 0`.
    pub async fn assert_ledger_consistent(&self, token: &str) {
        let balance = self.balance(token).await;
        let entries = self.all_transactions(token).await;
        let sum: rust_decimal::Decimal = entries.iter().map(|e| dec(&e["credits"])).sum();
        assert_eq!(sum, dec(&balance["balance"]), "ledger sum must equal the balance");
        assert_eq!(dec(&balance["available"]), dec(&balance["balance"]) - dec(&balance["held"]));
        assert!(dec(&balance["available"]) >= rust_decimal::Decimal::ZERO);
    }
}

/// A card payment method with one of the sandbox's test tokens (`tok_visa`, ...).
pub fn card_payment(token: &str) -> Value {
    json!({"type": "card", "token": token})
}

/// A JSON credits string as an exact decimal.
pub fn dec(v: &Value) -> rust_decimal::Decimal {
    v.as_str().unwrap_or_else(|| panic!("expected a decimal string, got {v}")).parse().unwrap()
}

/// Declares each named `async fn(Backend)` test once per backend:
/// `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(app) = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Sqlite).await {
                        super::$name(app).await;
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(app) = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Postgres).await {
                        super::$name(app).await;
                    }
                }
            )*
        }
    };
}

/// Like [`backend_tests!`] for tests that build their own app: each named
/// `async fn(Backend)` runs once per backend.
#[macro_export]
macro_rules! per_backend {
    ($($name:ident),* $(,)?) => {
        mod per_backend_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name($crate::helpers::Backend::Sqlite).await; }
            )*
        }
        mod per_backend_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name($crate::helpers::Backend::Postgres).await; }
            )*
        }
    };
}
