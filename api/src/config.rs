//! Configuration: `APINFER_*` environment variables over an optional `apinfer.toml` (path from
//! `APINFER_CONFIG`, default `./apinfer.toml`), over defaults. CLI flags override both.

use std::path::Path;

use anyhow::{bail, Context};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The contract keeps events at least 30 days.
pub const MIN_EVENT_RETENTION_SECONDS: u64 = 30 * 24 * 3600;

/// Everything the server needs to start.
#[derive(Clone, Debug)]
pub struct Config {
    /// `sqlite://FILE` (default `sqlite://apinfer.db`) or `postgres://...`.
    pub database_url: String,
    /// Listen address, default `127.0.0.1:8080`.
    pub addr: String,
    /// `development` (default) or `production`: production refuses to start without secrets.
    pub environment: Environment,
    pub jwt_secret: SecretString,
    pub payments_webhook_secret: SecretString,
    /// Session token lifetime.
    pub session_ttl_seconds: i64,
    /// Sustained requests per second per API key or session.
    pub rate_limit_per_second: u32,
    /// Burst allowance per API key or session.
    pub rate_limit_burst: u32,
    /// Requests per minute per client IP on `/v1/auth/*`.
    pub auth_rate_limit_per_minute: u32,
    /// Requests per minute per client IP on the public endpoints (catalog, quotes, webhooks).
    pub public_rate_limit_per_minute: u32,
    /// The origin every URL the API returns starts with (`APINFER_PUBLIC_BASE_URL`); in
    /// development it defaults to `http://` + the listen address.
    pub public_base_url: Option<String>,
    /// When set, `/metrics` answers only `Authorization: Bearer <this token>`
    /// (`APINFER_METRICS_TOKEN`); production requires it.
    pub metrics_token: Option<SecretString>,
    /// A separate listen address for `/metrics` alone (`APINFER_METRICS_ADDR`), for a scraper
    /// on a private network; when set, the API's own listener does not serve `/metrics`.
    pub metrics_addr: Option<String>,
    /// Who takes payments (`APINFER_PAYMENTS_PROVIDER`): the built-in `sandbox` (default),
    /// which approves test tokens and never moves money, so production refuses it.
    pub payments_provider: PaymentsProvider,
    /// Stripe's settings (used with `payments_provider = stripe`).
    pub stripe: StripeSettings,
    /// How long a client may take to send a request's body once its headers are in.
    pub body_timeout_seconds: u64,
    /// How long a signed image URL stays valid.
    pub image_url_ttl_seconds: u64,
    /// Accept webhook URLs on loopback/private addresses.
    pub allow_private_webhooks: bool,
    /// How long a hold may stay unresolved before the sweeper releases it.
    pub hold_timeout_seconds: u64,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Connections in the database pool.
    pub db_pool_size: u32,
    /// Emit logs as JSON lines.
    pub log_json: bool,
    /// An OpenAI-compatible upstream image provider, if configured.
    pub upstream: Option<UpstreamConfig>,
    /// How often the sweeper looks for expired holds.
    pub sweep_interval_seconds: u64,
    /// How often the webhook and top-up workers run, and how often the generation queue looks
    /// for work that another process queued or left behind.
    pub worker_interval_ms: u64,
    /// Asynchronous generations running at once, across every process on the database
    /// (`APINFER_ASYNC_CONCURRENCY`); more wait in the queue.
    pub async_concurrency: u32,
    /// Asynchronous generations one account may have running at once
    /// (`APINFER_ASYNC_CONCURRENCY_PER_ACCOUNT`); its others wait in the queue.
    pub async_concurrency_per_account: u32,
    /// How long a running asynchronous generation's claim lasts without its process renewing it
    /// (`APINFER_ASYNC_LEASE_SECONDS`); a process that dies leaves work another picks up after
    /// this.
    pub async_lease_seconds: u64,
    /// How long an asynchronous generation may wait in the queue before its hold expires and
    /// it fails with `hold_expired` (`APINFER_ASYNC_QUEUE_TIMEOUT_SECONDS`).
    pub async_queue_timeout_seconds: u64,
    /// Per-attempt timeout of outbound webhooks.
    pub webhook_timeout_seconds: u64,
    /// Backoff base between webhook attempts (doubles each attempt, capped at 1 h).
    pub webhook_backoff_base_ms: u64,
    /// Attempts before a webhook event is given up.
    pub webhook_max_attempts: i32,
    /// How long a webhook endpoint's deliveries may keep failing before it is disabled (and its
    /// account notified): `APINFER_WEBHOOK_DISABLE_AFTER_SECONDS`, three days by default.
    pub webhook_disable_after_seconds: u64,
    /// How long a verified API key is trusted without a database read (0 disables).
    pub key_cache_seconds: u64,
    /// On SQLite, WAL pages past which the log is made to start over (see `spawn_checkpointer`).
    pub sqlite_wal_restart_pages: u32,
    /// Memory for caches, in MiB: SQLite's page caches and the local renderer's image cache
    /// share it (see [`Config::cache_budget`]).
    pub cache_memory_mb: u32,
    /// How long generated images are kept after their generation was created.
    pub image_retention_seconds: u64,
    /// How long events, finished webhook deliveries (with their attempts) and ended sessions are
    /// kept (`APINFER_EVENT_RETENTION_SECONDS`, default 30 days, at least 30 days in production:
    /// the contract keeps events that long).
    pub event_retention_seconds: u64,
    /// On SQLite, whether every commit is fsynced before it is answered
    /// (`APINFER_SQLITE_SYNCHRONOUS`: `full`, the default, or `normal`, refused in production).
    pub sqlite_durability: apinfer_core::db::SqliteDurability,
}

/// How the cache memory budget (`APINFER_CACHE_MEMORY_MB`) is shared out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheBudget {
    /// The local renderer's cache of recent images.
    pub render_cache_bytes: usize,
    /// The page cache of each SQLite connection (pool and per-thread readers alike).
    pub sqlite_cache_kib: u32,
    /// The SQLite connections that share the page caches' part (0 on PostgreSQL).
    pub sqlite_connections: u32,
}

impl Config {
    /// Shares the cache memory budget out. A quarter goes to the render cache; on SQLite the
    /// rest goes to page caches, split evenly between the pool's connections and one reader per
    /// thread that reads outside the pool (the HTTP workers and the main thread). PostgreSQL's
    /// page cache lives in the database server, so there the rest is simply not used.
    pub fn cache_budget(&self) -> CacheBudget {
        let budget = usize::try_from(self.cache_memory_mb).unwrap_or(usize::MAX).saturating_mul(1 << 20);
        if apinfer_core::db::DatabaseUrl::parse(&self.database_url).is_ok_and(|url| url.is_postgres()) {
            return CacheBudget { render_cache_bytes: budget / 4, sqlite_cache_kib: 0, sqlite_connections: 0 };
        }
        let threads = u32::try_from(std::thread::available_parallelism().map_or(1, usize::from)).unwrap_or(1) + 1;
        let connections = self.db_pool_size.saturating_add(threads);
        let pages = budget - budget / 4;
        CacheBudget {
            render_cache_bytes: budget / 4,
            sqlite_cache_kib: u32::try_from(pages / connections as usize / 1024).unwrap_or(u32::MAX),
            sqlite_connections: connections,
        }
    }

    /// The origin of every URL the API returns: `APINFER_PUBLIC_BASE_URL`, else the listen address.
    pub fn base_url(&self) -> String {
        self.public_base_url.clone().unwrap_or_else(|| format!("http://{}", self.addr))
    }

    /// The webhook backoff base as a duration.
    pub fn webhook_backoff_base(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.webhook_backoff_base_ms)
    }
}

/// The `openai-compatible` provider: where to send which models.
#[derive(Clone, Debug)]
pub struct UpstreamConfig {
    /// e.g. `https://api.example.com/v1`; requests go to `{base_url}/images/generations`.
    pub base_url: String,
    pub api_key: SecretString,
    /// apinfer model ids served by the upstream (`*` for all); the rest render locally.
    pub models: Vec<String>,
    /// The model name sent upstream (default: the apinfer model id).
    pub upstream_model: Option<String>,
    pub timeout_seconds: u64,
    pub max_retries: u32,
}

impl UpstreamConfig {
    /// Whether this apinfer model goes upstream.
    pub fn serves(&self, model: &str) -> bool {
        self.models.iter().any(|m| m == "*" || m == model)
    }
}

/// The payment provider to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaymentsProvider {
    /// Built in: test cards and tokens only, no money moves.
    Sandbox,
    /// Stripe, with the `APINFER_STRIPE_*` settings.
    Stripe,
}

impl PaymentsProvider {
    fn parse(name: &str) -> anyhow::Result<Self> {
        match name {
            "sandbox" => Ok(PaymentsProvider::Sandbox),
            "stripe" => Ok(PaymentsProvider::Stripe),
            other => bail!("APINFER_PAYMENTS_PROVIDER must be sandbox or stripe, not {other:?}"),
        }
    }
}

/// How apinfer reaches Stripe (`APINFER_STRIPE_*`).
#[derive(Clone, Debug, Default)]
pub struct StripeSettings {
    /// `APINFER_STRIPE_SECRET_KEY`: the API key apinfer calls Stripe with.
    pub secret_key: Option<SecretString>,
    /// `APINFER_STRIPE_PUBLISHABLE_KEY`: what browsers initialise Stripe.js with.
    pub publishable_key: Option<String>,
    /// `APINFER_STRIPE_WEBHOOK_SECRET`: verifies `Stripe-Signature` on Stripe's events.
    pub webhook_secret: Option<SecretString>,
    /// `APINFER_STRIPE_API_BASE`, default `https://api.stripe.com`.
    pub api_base: String,
    /// `APINFER_STRIPE_JS_URL`, default `https://js.stripe.com/v3/`: the Stripe.js the dashboard
    /// loads (its origin is the one third party its Content-Security-Policy allows).
    pub js_url: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

/// The optional file, every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<String>,
    addr: Option<String>,
    environment: Option<String>,
    jwt_secret: Option<String>,
    payments_webhook_secret: Option<String>,
    session_ttl_seconds: Option<i64>,
    rate_limit_per_second: Option<u32>,
    rate_limit_burst: Option<u32>,
    auth_rate_limit_per_minute: Option<u32>,
    public_rate_limit_per_minute: Option<u32>,
    public_base_url: Option<String>,
    image_url_ttl_seconds: Option<u64>,
    metrics_token: Option<String>,
    metrics_addr: Option<String>,
    payments_provider: Option<String>,
    stripe_secret_key: Option<String>,
    stripe_publishable_key: Option<String>,
    stripe_webhook_secret: Option<String>,
    stripe_api_base: Option<String>,
    stripe_js_url: Option<String>,
    body_timeout_seconds: Option<u64>,
    allow_private_webhooks: Option<bool>,
    hold_timeout_seconds: Option<u64>,
    max_body_bytes: Option<usize>,
    db_pool_size: Option<u32>,
    log_json: Option<bool>,
    upstream_base_url: Option<String>,
    upstream_api_key: Option<String>,
    upstream_models: Option<String>,
    upstream_model: Option<String>,
    upstream_timeout_seconds: Option<u64>,
    upstream_max_retries: Option<u32>,
    sweep_interval_seconds: Option<u64>,
    worker_interval_ms: Option<u64>,
    async_concurrency: Option<u32>,
    async_concurrency_per_account: Option<u32>,
    async_lease_seconds: Option<u64>,
    async_queue_timeout_seconds: Option<u64>,
    webhook_timeout_seconds: Option<u64>,
    webhook_backoff_base_ms: Option<u64>,
    webhook_max_attempts: Option<i32>,
    webhook_disable_after_seconds: Option<u64>,
    key_cache_seconds: Option<u64>,
    sqlite_wal_restart_pages: Option<u32>,
    cache_memory_mb: Option<u32>,
    image_retention_seconds: Option<u64>,
    event_retention_seconds: Option<u64>,
    sqlite_synchronous: Option<String>,
}

/// Where a secret came from, so start-up can warn about generated ones.
#[derive(Debug, PartialEq, Eq)]
pub enum SecretSource {
    Configured,
    Generated,
}

impl Config {
    /// Defaults suitable for tests and development (secrets generated).
    pub fn development(database_url: impl Into<String>) -> Config {
        Config {
            database_url: database_url.into(),
            addr: "127.0.0.1:8080".into(),
            environment: Environment::Development,
            jwt_secret: generated_secret(),
            payments_webhook_secret: generated_secret(),
            session_ttl_seconds: 24 * 3600,
            rate_limit_per_second: 50,
            rate_limit_burst: 100,
            auth_rate_limit_per_minute: 30,
            public_rate_limit_per_minute: 600,
            public_base_url: None,
            image_url_ttl_seconds: 3600,
            metrics_token: None,
            metrics_addr: None,
            payments_provider: PaymentsProvider::Sandbox,
            stripe: StripeSettings {
                api_base: "https://api.stripe.com".into(),
                js_url: "https://js.stripe.com/v3/".into(),
                ..StripeSettings::default()
            },
            body_timeout_seconds: 10,
            allow_private_webhooks: false,
            hold_timeout_seconds: 300,
            max_body_bytes: 64 * 1024,
            db_pool_size: 16,
            log_json: false,
            upstream: None,
            sweep_interval_seconds: 5,
            worker_interval_ms: 1000,
            async_concurrency: 16,
            async_concurrency_per_account: 4,
            async_lease_seconds: 30,
            async_queue_timeout_seconds: 3600,
            webhook_timeout_seconds: 10,
            webhook_backoff_base_ms: 30_000,
            webhook_max_attempts: 8,
            webhook_disable_after_seconds: 3 * 24 * 3600,
            key_cache_seconds: 10,
            sqlite_wal_restart_pages: 16_384,
            cache_memory_mb: 64,
            image_retention_seconds: 30 * 24 * 3600,
            event_retention_seconds: MIN_EVENT_RETENTION_SECONDS,
            sqlite_durability: apinfer_core::db::SqliteDurability::Full,
        }
    }

    /// Loads file and environment. Returns the config and which secrets were generated.
    pub fn load() -> anyhow::Result<(Config, Vec<&'static str>)> {
        Config::load_from(&|name| std::env::var(name).ok())
    }

    /// [`Config::load`] with the environment variables `vars` gives.
    fn load_from(vars: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<(Config, Vec<&'static str>)> {
        let path = vars("APINFER_CONFIG").unwrap_or_else(|| "apinfer.toml".into());
        let file = read_file(Path::new(&path))?;
        let env = |name: &str| vars(&format!("APINFER_{name}")).filter(|v| !v.is_empty());
        let mut generated = Vec::new();
        let mut config = Config::development(
            env("DATABASE_URL").or(file.database_url).unwrap_or_else(|| "sqlite://apinfer.db".into()),
        );
        if let Some(addr) = env("ADDR").or(file.addr) {
            config.addr = addr;
        }
        config.environment = match env("ENV").or(file.environment).as_deref() {
            None | Some("development") | Some("dev") => Environment::Development,
            Some("production") | Some("prod") => Environment::Production,
            Some(other) => bail!("APINFER_ENV must be development or production, not {other:?}"),
        };
        for (name, value, slot) in [
            ("JWT_SECRET", file.jwt_secret, &mut config.jwt_secret),
            ("PAYMENTS_WEBHOOK_SECRET", file.payments_webhook_secret, &mut config.payments_webhook_secret),
        ] {
            match env(name).or(value) {
                Some(secret) if secret.len() >= 16 => *slot = SecretString::from(secret),
                Some(_) => bail!("APINFER_{name} must be at least 16 characters"),
                None if config.environment == Environment::Production => {
                    bail!("APINFER_{name} is required in production (APINFER_ENV=production)")
                }
                None => generated.push(match name {
                    "JWT_SECRET" => "APINFER_JWT_SECRET",
                    _ => "APINFER_PAYMENTS_WEBHOOK_SECRET",
                }),
            }
        }
        config.session_ttl_seconds =
            parse_var(vars, "SESSION_TTL_SECONDS")?.or(file.session_ttl_seconds).unwrap_or(config.session_ttl_seconds);
        config.rate_limit_per_second = parse_var(vars, "RATE_LIMIT_PER_SECOND")?
            .or(file.rate_limit_per_second)
            .unwrap_or(config.rate_limit_per_second);
        config.rate_limit_burst =
            parse_var(vars, "RATE_LIMIT_BURST")?.or(file.rate_limit_burst).unwrap_or(config.rate_limit_burst);
        config.auth_rate_limit_per_minute = parse_var(vars, "AUTH_RATE_LIMIT_PER_MINUTE")?
            .or(file.auth_rate_limit_per_minute)
            .unwrap_or(config.auth_rate_limit_per_minute);
        config.public_rate_limit_per_minute = parse_var(vars, "PUBLIC_RATE_LIMIT_PER_MINUTE")?
            .or(file.public_rate_limit_per_minute)
            .unwrap_or(config.public_rate_limit_per_minute);
        config.public_base_url = env("PUBLIC_BASE_URL").or(file.public_base_url);
        config.metrics_token = env("METRICS_TOKEN").or(file.metrics_token).map(SecretString::from);
        config.metrics_addr = env("METRICS_ADDR").or(file.metrics_addr);
        if let Some(name) = env("PAYMENTS_PROVIDER").or(file.payments_provider) {
            config.payments_provider = PaymentsProvider::parse(&name)?;
        }
        config.stripe.secret_key = env("STRIPE_SECRET_KEY").or(file.stripe_secret_key).map(SecretString::from);
        config.stripe.publishable_key = env("STRIPE_PUBLISHABLE_KEY").or(file.stripe_publishable_key);
        config.stripe.webhook_secret =
            env("STRIPE_WEBHOOK_SECRET").or(file.stripe_webhook_secret).map(SecretString::from);
        if let Some(url) = env("STRIPE_JS_URL").or(file.stripe_js_url) {
            config.stripe.js_url = url;
        }
        if let Some(base) = env("STRIPE_API_BASE").or(file.stripe_api_base) {
            config.stripe.api_base = base;
        }
        config.body_timeout_seconds = parse_var(vars, "BODY_TIMEOUT_SECONDS")?
            .or(file.body_timeout_seconds)
            .unwrap_or(config.body_timeout_seconds);
        config.image_url_ttl_seconds = parse_var(vars, "IMAGE_URL_TTL_SECONDS")?
            .or(file.image_url_ttl_seconds)
            .unwrap_or(config.image_url_ttl_seconds);
        config.allow_private_webhooks =
            parse_var(vars, "ALLOW_PRIVATE_WEBHOOKS")?.or(file.allow_private_webhooks).unwrap_or(false);
        config.hold_timeout_seconds = parse_var(vars, "HOLD_TIMEOUT_SECONDS")?
            .or(file.hold_timeout_seconds)
            .unwrap_or(config.hold_timeout_seconds);
        config.max_body_bytes =
            parse_var(vars, "MAX_BODY_BYTES")?.or(file.max_body_bytes).unwrap_or(config.max_body_bytes);
        config.db_pool_size = parse_var(vars, "DB_POOL_SIZE")?.or(file.db_pool_size).unwrap_or(config.db_pool_size);
        config.log_json = parse_var(vars, "LOG_JSON")?.or(file.log_json).unwrap_or(false);
        config.sweep_interval_seconds = parse_var(vars, "SWEEP_INTERVAL_SECONDS")?
            .or(file.sweep_interval_seconds)
            .unwrap_or(config.sweep_interval_seconds);
        config.worker_interval_ms =
            parse_var(vars, "WORKER_INTERVAL_MS")?.or(file.worker_interval_ms).unwrap_or(config.worker_interval_ms);
        config.async_concurrency =
            parse_var(vars, "ASYNC_CONCURRENCY")?.or(file.async_concurrency).unwrap_or(config.async_concurrency);
        config.async_concurrency_per_account = parse_var(vars, "ASYNC_CONCURRENCY_PER_ACCOUNT")?
            .or(file.async_concurrency_per_account)
            .unwrap_or(config.async_concurrency_per_account);
        config.async_lease_seconds =
            parse_var(vars, "ASYNC_LEASE_SECONDS")?.or(file.async_lease_seconds).unwrap_or(config.async_lease_seconds);
        config.async_queue_timeout_seconds = parse_var(vars, "ASYNC_QUEUE_TIMEOUT_SECONDS")?
            .or(file.async_queue_timeout_seconds)
            .unwrap_or(config.async_queue_timeout_seconds);
        config.webhook_timeout_seconds = parse_var(vars, "WEBHOOK_TIMEOUT_SECONDS")?
            .or(file.webhook_timeout_seconds)
            .unwrap_or(config.webhook_timeout_seconds);
        config.webhook_backoff_base_ms = parse_var(vars, "WEBHOOK_BACKOFF_BASE_MS")?
            .or(file.webhook_backoff_base_ms)
            .unwrap_or(config.webhook_backoff_base_ms);
        config.webhook_max_attempts = parse_var(vars, "WEBHOOK_MAX_ATTEMPTS")?
            .or(file.webhook_max_attempts)
            .unwrap_or(config.webhook_max_attempts);
        config.webhook_disable_after_seconds = parse_var(vars, "WEBHOOK_DISABLE_AFTER_SECONDS")?
            .or(file.webhook_disable_after_seconds)
            .unwrap_or(config.webhook_disable_after_seconds);
        config.key_cache_seconds =
            parse_var(vars, "KEY_CACHE_SECONDS")?.or(file.key_cache_seconds).unwrap_or(config.key_cache_seconds);
        config.sqlite_wal_restart_pages = parse_var(vars, "SQLITE_WAL_RESTART_PAGES")?
            .or(file.sqlite_wal_restart_pages)
            .unwrap_or(config.sqlite_wal_restart_pages);
        config.cache_memory_mb =
            parse_var(vars, "CACHE_MEMORY_MB")?.or(file.cache_memory_mb).unwrap_or(config.cache_memory_mb);
        config.image_retention_seconds = parse_var(vars, "IMAGE_RETENTION_SECONDS")?
            .or(file.image_retention_seconds)
            .unwrap_or(config.image_retention_seconds);
        config.event_retention_seconds = parse_var(vars, "EVENT_RETENTION_SECONDS")?
            .or(file.event_retention_seconds)
            .unwrap_or(config.event_retention_seconds);
        if let Some(level) = env("SQLITE_SYNCHRONOUS").or(file.sqlite_synchronous) {
            config.sqlite_durability = apinfer_core::db::SqliteDurability::parse(&level)
                .ok_or_else(|| anyhow::anyhow!("APINFER_SQLITE_SYNCHRONOUS must be full or normal, not {level:?}"))?;
        }
        if let Some(base_url) = env("UPSTREAM_BASE_URL").or(file.upstream_base_url) {
            let api_key = env("UPSTREAM_API_KEY").or(file.upstream_api_key).ok_or_else(|| {
                anyhow::anyhow!("APINFER_UPSTREAM_API_KEY is required with APINFER_UPSTREAM_BASE_URL")
            })?;
            let models = env("UPSTREAM_MODELS").or(file.upstream_models).unwrap_or_else(|| "*".into());
            config.upstream = Some(UpstreamConfig {
                base_url,
                api_key: SecretString::from(api_key),
                models: models.split(',').map(|m| m.trim().to_string()).filter(|m| !m.is_empty()).collect(),
                upstream_model: env("UPSTREAM_MODEL").or(file.upstream_model),
                timeout_seconds: parse_var(vars, "UPSTREAM_TIMEOUT_SECONDS")?
                    .or(file.upstream_timeout_seconds)
                    .unwrap_or(60),
                max_retries: parse_var(vars, "UPSTREAM_MAX_RETRIES")?.or(file.upstream_max_retries).unwrap_or(2),
            });
        }
        config.validate()?;
        Ok((config, generated))
    }

    /// The environment variables that make [`Config::load`] (with no `apinfer.toml`) give this
    /// configuration back: how a supervisor, or the test harness, starts `apinfer serve` with a
    /// configuration built in code.
    pub fn to_env(&self) -> Vec<(String, String)> {
        let secret = |s: &SecretString| s.expose_secret().to_string();
        let environment = match self.environment {
            Environment::Development => "development",
            Environment::Production => "production",
        };
        let payments = match self.payments_provider {
            PaymentsProvider::Sandbox => "sandbox",
            PaymentsProvider::Stripe => "stripe",
        };
        let synchronous = match self.sqlite_durability {
            apinfer_core::db::SqliteDurability::Full => "full",
            apinfer_core::db::SqliteDurability::Normal => "normal",
        };
        let mut vars: Vec<(&str, Option<String>)> = vec![
            ("DATABASE_URL", Some(self.database_url.clone())),
            ("ADDR", Some(self.addr.clone())),
            ("ENV", Some(environment.into())),
            ("JWT_SECRET", Some(secret(&self.jwt_secret))),
            ("PAYMENTS_WEBHOOK_SECRET", Some(secret(&self.payments_webhook_secret))),
            ("SESSION_TTL_SECONDS", Some(self.session_ttl_seconds.to_string())),
            ("RATE_LIMIT_PER_SECOND", Some(self.rate_limit_per_second.to_string())),
            ("RATE_LIMIT_BURST", Some(self.rate_limit_burst.to_string())),
            ("AUTH_RATE_LIMIT_PER_MINUTE", Some(self.auth_rate_limit_per_minute.to_string())),
            ("PUBLIC_RATE_LIMIT_PER_MINUTE", Some(self.public_rate_limit_per_minute.to_string())),
            ("PUBLIC_BASE_URL", self.public_base_url.clone()),
            ("METRICS_TOKEN", self.metrics_token.as_ref().map(secret)),
            ("METRICS_ADDR", self.metrics_addr.clone()),
            ("PAYMENTS_PROVIDER", Some(payments.into())),
            ("STRIPE_SECRET_KEY", self.stripe.secret_key.as_ref().map(secret)),
            ("STRIPE_PUBLISHABLE_KEY", self.stripe.publishable_key.clone()),
            ("STRIPE_WEBHOOK_SECRET", self.stripe.webhook_secret.as_ref().map(secret)),
            ("STRIPE_API_BASE", Some(self.stripe.api_base.clone())),
            ("STRIPE_JS_URL", Some(self.stripe.js_url.clone())),
            ("BODY_TIMEOUT_SECONDS", Some(self.body_timeout_seconds.to_string())),
            ("IMAGE_URL_TTL_SECONDS", Some(self.image_url_ttl_seconds.to_string())),
            ("ALLOW_PRIVATE_WEBHOOKS", Some(self.allow_private_webhooks.to_string())),
            ("HOLD_TIMEOUT_SECONDS", Some(self.hold_timeout_seconds.to_string())),
            ("MAX_BODY_BYTES", Some(self.max_body_bytes.to_string())),
            ("DB_POOL_SIZE", Some(self.db_pool_size.to_string())),
            ("LOG_JSON", Some(self.log_json.to_string())),
            ("SWEEP_INTERVAL_SECONDS", Some(self.sweep_interval_seconds.to_string())),
            ("WORKER_INTERVAL_MS", Some(self.worker_interval_ms.to_string())),
            ("ASYNC_CONCURRENCY", Some(self.async_concurrency.to_string())),
            ("ASYNC_CONCURRENCY_PER_ACCOUNT", Some(self.async_concurrency_per_account.to_string())),
            ("ASYNC_LEASE_SECONDS", Some(self.async_lease_seconds.to_string())),
            ("ASYNC_QUEUE_TIMEOUT_SECONDS", Some(self.async_queue_timeout_seconds.to_string())),
            ("WEBHOOK_TIMEOUT_SECONDS", Some(self.webhook_timeout_seconds.to_string())),
            ("WEBHOOK_BACKOFF_BASE_MS", Some(self.webhook_backoff_base_ms.to_string())),
            ("WEBHOOK_MAX_ATTEMPTS", Some(self.webhook_max_attempts.to_string())),
            ("WEBHOOK_DISABLE_AFTER_SECONDS", Some(self.webhook_disable_after_seconds.to_string())),
            ("KEY_CACHE_SECONDS", Some(self.key_cache_seconds.to_string())),
            ("SQLITE_WAL_RESTART_PAGES", Some(self.sqlite_wal_restart_pages.to_string())),
            ("CACHE_MEMORY_MB", Some(self.cache_memory_mb.to_string())),
            ("IMAGE_RETENTION_SECONDS", Some(self.image_retention_seconds.to_string())),
            ("EVENT_RETENTION_SECONDS", Some(self.event_retention_seconds.to_string())),
            ("SQLITE_SYNCHRONOUS", Some(synchronous.into())),
        ];
        if let Some(upstream) = &self.upstream {
            vars.extend([
                ("UPSTREAM_BASE_URL", Some(upstream.base_url.clone())),
                ("UPSTREAM_API_KEY", Some(secret(&upstream.api_key))),
                ("UPSTREAM_MODELS", Some(upstream.models.join(","))),
                ("UPSTREAM_MODEL", upstream.upstream_model.clone()),
                ("UPSTREAM_TIMEOUT_SECONDS", Some(upstream.timeout_seconds.to_string())),
                ("UPSTREAM_MAX_RETRIES", Some(upstream.max_retries.to_string())),
            ]);
        }
        vars.into_iter().filter_map(|(name, value)| Some((format!("APINFER_{name}"), value?))).collect()
    }

    /// What `serve` needs beyond [`Config::validate`]: in production, a payment provider that
    /// takes real money (the sandbox approves test tokens and would hand out free credits).
    pub fn validate_for_serving(&self) -> anyhow::Result<()> {
        if self.payments_provider == PaymentsProvider::Stripe {
            let missing: Vec<&str> = [
                ("APINFER_STRIPE_SECRET_KEY", self.stripe.secret_key.is_none()),
                ("APINFER_STRIPE_PUBLISHABLE_KEY", self.stripe.publishable_key.is_none()),
                ("APINFER_STRIPE_WEBHOOK_SECRET", self.stripe.webhook_secret.is_none()),
            ]
            .into_iter()
            .filter_map(|(name, absent)| absent.then_some(name))
            .collect();
            if !missing.is_empty() {
                bail!("APINFER_PAYMENTS_PROVIDER=stripe needs {}", missing.join(", "));
            }
        }
        if self.environment == Environment::Production && self.payments_provider == PaymentsProvider::Sandbox {
            bail!(
                "APINFER_PAYMENTS_PROVIDER must name a real payment provider in production (APINFER_ENV=production): \
                 the built-in sandbox approves test payments and takes no money; set APINFER_PAYMENTS_PROVIDER=stripe \
                 with APINFER_STRIPE_SECRET_KEY, APINFER_STRIPE_PUBLISHABLE_KEY and APINFER_STRIPE_WEBHOOK_SECRET"
            );
        }
        Ok(())
    }

    /// Checks the values that would otherwise fail obscurely later.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.event_retention_seconds == 0 || i64::try_from(self.event_retention_seconds).is_err() {
            bail!("APINFER_EVENT_RETENTION_SECONDS must be positive");
        }
        if self.environment == Environment::Production && self.event_retention_seconds < MIN_EVENT_RETENTION_SECONDS {
            bail!("APINFER_EVENT_RETENTION_SECONDS must be at least 30 days (2592000) in production: events are kept that long");
        }
        if self.rate_limit_per_second == 0
            || self.rate_limit_burst == 0
            || self.auth_rate_limit_per_minute == 0
            || self.public_rate_limit_per_minute == 0
        {
            bail!("rate limits must be positive");
        }
        if self.session_ttl_seconds <= 0 || self.hold_timeout_seconds == 0 || self.db_pool_size == 0 {
            bail!("session TTL, hold timeout and pool size must be positive");
        }
        if self.async_concurrency == 0 || self.async_concurrency_per_account == 0 || self.async_lease_seconds < 3 {
            bail!("async concurrency bounds must be positive and the async lease at least 3 seconds");
        }
        if self.sqlite_wal_restart_pages >= apinfer_core::db::AUTOCHECKPOINT_PAGES {
            // Past it SQLite's own checkpoint runs on every commit first: what the restart avoids.
            bail!(
                "APINFER_SQLITE_WAL_RESTART_PAGES must be below {}, where SQLite checkpoints on every commit",
                apinfer_core::db::AUTOCHECKPOINT_PAGES
            );
        }
        if let Some(base) = &self.public_base_url {
            let origin = base.strip_prefix("https://").or_else(|| base.strip_prefix("http://"));
            if origin.is_none_or(|rest| rest.is_empty() || rest.contains(['?', '#']) || rest.ends_with('/')) {
                bail!("APINFER_PUBLIC_BASE_URL must be an origin such as https://api.example.com (no trailing slash)");
            }
        } else if self.environment == Environment::Production {
            bail!("APINFER_PUBLIC_BASE_URL is required in production (APINFER_ENV=production)");
        }
        match &self.metrics_token {
            Some(token) if token.expose_secret().len() < 16 => {
                bail!("APINFER_METRICS_TOKEN must be at least 16 characters")
            }
            None if self.environment == Environment::Production && self.metrics_addr.is_none() => {
                // The metrics show request patterns and money totals: never public in production.
                bail!(
                    "APINFER_METRICS_TOKEN (or a separate APINFER_METRICS_ADDR) is required in production \
                     (APINFER_ENV=production)"
                )
            }
            _ => {}
        }
        if self.body_timeout_seconds == 0 {
            bail!("APINFER_BODY_TIMEOUT_SECONDS must be positive");
        }
        if self.image_url_ttl_seconds == 0 {
            bail!("APINFER_IMAGE_URL_TTL_SECONDS must be positive");
        }
        if self.cache_memory_mb < 8 {
            bail!("APINFER_CACHE_MEMORY_MB must be at least 8");
        }
        if self.environment == Environment::Production
            && self.sqlite_durability != apinfer_core::db::SqliteDurability::Full
        {
            // A power loss could take back commits already answered: credits paid for, gone.
            bail!(
                "APINFER_SQLITE_SYNCHRONOUS=normal is refused in production (APINFER_ENV=production): \
                 a power loss could roll back payments and charges that were already answered"
            );
        }
        if self.image_retention_seconds == 0 || i64::try_from(self.image_retention_seconds).is_err() {
            bail!("APINFER_IMAGE_RETENTION_SECONDS must be positive");
        }
        if self.jwt_secret.expose_secret().len() < 16 {
            bail!("the JWT secret must be at least 16 characters");
        }
        Ok(())
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text).with_context(|| format!("reading {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileConfig::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// `APINFER_{name}` from `vars`, parsed; `None` when unset or empty.
fn parse_var<T: std::str::FromStr>(vars: &dyn Fn(&str) -> Option<String>, name: &str) -> anyhow::Result<Option<T>> {
    match vars(&format!("APINFER_{name}")) {
        Some(v) if !v.is_empty() => {
            v.parse().map(Some).map_err(|_| anyhow::anyhow!("APINFER_{name} has an invalid value {v:?}"))
        }
        _ => Ok(None),
    }
}

fn generated_secret() -> SecretString {
    SecretString::from(apinfer_core::ids::random_base62(48))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loads `vars` (and no file) as the binary would.
    fn load_vars(vars: &[(String, String)]) -> Config {
        let lookup = |name: &str| match name {
            "APINFER_CONFIG" => Some("/nonexistent/apinfer.toml".to_string()),
            _ => vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()),
        };
        let (config, generated) = Config::load_from(&lookup).expect("the variables load");
        assert!(generated.is_empty(), "no secret is generated: {generated:?}");
        config
    }

    /// Events are kept at least the contract's 30 days in production; shorter only elsewhere.
    #[test]
    fn production_keeps_events_thirty_days() {
        let mut config = Config::development("sqlite://unused.db");
        config.event_retention_seconds = 3600;
        assert!(config.validate().is_ok(), "development may shorten it");
        config.environment = Environment::Production;
        config.jwt_secret = SecretString::from("a-jwt-secret-of-some-length".to_string());
        config.public_base_url = Some("https://api.example.com".into());
        let about_events = |config: &Config| {
            config.validate().err().is_some_and(|e| e.to_string().contains("APINFER_EVENT_RETENTION_SECONDS"))
        };
        assert!(about_events(&config), "production refuses an hour");
        config.event_retention_seconds = MIN_EVENT_RETENTION_SECONDS;
        assert!(!about_events(&config), "{:?}", config.validate());
        config.event_retention_seconds = 0;
        assert!(about_events(&config));
    }

    /// A configuration with every field away from its default comes back whole from its
    /// environment: what the test harness relies on to start the binary with a test's config.
    #[test]
    fn to_env_loads_back_the_same_configuration() {
        let mut config = Config::development("postgres://someone@db.example.com:5432/apinfer");
        let secret = |s: &str| SecretString::from(s.to_string());
        config.addr = "0.0.0.0:9999".into();
        config.environment = Environment::Production;
        config.jwt_secret = secret("a-jwt-secret-of-some-length");
        config.payments_webhook_secret = secret("a-webhook-secret-of-some-length");
        config.session_ttl_seconds = 3600;
        (config.rate_limit_per_second, config.rate_limit_burst) = (7, 9);
        (config.auth_rate_limit_per_minute, config.public_rate_limit_per_minute) = (11, 13);
        config.public_base_url = Some("https://api.example.com".into());
        config.metrics_token = Some(secret("a-metrics-token-0123"));
        config.metrics_addr = Some("127.0.0.1:9100".into());
        config.payments_provider = PaymentsProvider::Stripe;
        config.stripe = StripeSettings {
            secret_key: Some(secret("sk_test_x")),
            publishable_key: Some("pk_test_x".into()),
            webhook_secret: Some(secret("whsec_x")),
            api_base: "http://127.0.0.1:8420".into(),
            js_url: "http://127.0.0.1:8420/js.stripe.com/v3/".into(),
        };
        (config.body_timeout_seconds, config.image_url_ttl_seconds) = (3, 60);
        config.allow_private_webhooks = true;
        (config.hold_timeout_seconds, config.max_body_bytes, config.db_pool_size) = (30, 1000, 3);
        config.log_json = true;
        (config.sweep_interval_seconds, config.worker_interval_ms) = (2, 20);
        (config.async_concurrency, config.async_concurrency_per_account) = (5, 2);
        (config.async_lease_seconds, config.async_queue_timeout_seconds) = (7, 99);
        (config.webhook_timeout_seconds, config.webhook_backoff_base_ms, config.webhook_max_attempts) = (4, 70, 3);
        config.webhook_disable_after_seconds = 4242;
        (config.key_cache_seconds, config.sqlite_wal_restart_pages) = (0, 100);
        (config.cache_memory_mb, config.image_retention_seconds) = (9, 77);
        config.event_retention_seconds = 3_000_000;
        config.upstream = Some(UpstreamConfig {
            base_url: "http://127.0.0.1:9000/v1".into(),
            api_key: secret("upstream-key"),
            models: vec!["qwen-image".into(), "flux".into()],
            upstream_model: Some("gpt-image-1".into()),
            timeout_seconds: 5,
            max_retries: 1,
        });
        let loaded = load_vars(&config.to_env());
        assert_eq!(format!("{loaded:?}"), format!("{config:?}"));
        let secrets = |c: &Config| {
            let upstream = c.upstream.as_ref().map(|u| u.api_key.expose_secret().to_string());
            let optional = [&c.metrics_token, &c.stripe.secret_key, &c.stripe.webhook_secret]
                .map(|s| s.as_ref().map(|s| s.expose_secret().to_string()));
            (
                c.jwt_secret.expose_secret().to_string(),
                c.payments_webhook_secret.expose_secret().to_string(),
                optional,
                upstream,
            )
        };
        assert_eq!(secrets(&loaded), secrets(&config), "the secrets too");

        // And the development opt-ins production refuses.
        let mut config = Config::development("sqlite://apinfer.db");
        config.sqlite_durability = apinfer_core::db::SqliteDurability::Normal;
        let loaded = load_vars(&config.to_env());
        assert_eq!(format!("{loaded:?}"), format!("{config:?}"));
    }
}
