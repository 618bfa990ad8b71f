//! Building the application: the pool, migrations, state, background tasks and the server.
//! `main` and the tests both go through [`build`].

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpResponse, HttpServer};
use anyhow::Context;
use apinfer_core::db::Pool;
use apinfer_core::store::idempotency;
use apinfer_core::{Clock, SystemClock};
use utoipa_swagger_ui::SwaggerUi;

use crate::config::{Config, PaymentsProvider};
use crate::error::ApiError;
use crate::identity::{KeyCache, SessionKeys};
use crate::metrics::Metrics;
use crate::rate_limit::RateLimits;
use crate::routes;
use crate::state::AppState;
use apinfer_core::payments::sandbox::SandboxProvider;
use apinfer_core::payments::stripe::{StripeConfig, StripeProvider};
use secrecy::ExposeSecret;

/// A built, not yet running, server.
pub struct Application {
    server: Server,
    port: u16,
    /// The separate `/metrics` listener (`APINFER_METRICS_ADDR`) and its port.
    metrics: Option<(Server, u16)>,
    state: web::Data<AppState>,
}

impl Application {
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// The port of the separate metrics listener, if one is configured.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(_, port)| *port)
    }

    /// Serves until the server is stopped.
    pub async fn run(self) -> std::io::Result<()> {
        match self.metrics {
            Some((metrics, _)) => futures_util::future::try_join(self.server, metrics).await.map(|_| ()),
            None => self.server.await,
        }
    }
}

/// Opens (and migrates) the database and binds the listener, with the real clock.
pub async fn build(config: Config) -> anyhow::Result<Application> {
    build_with_clock(config, Arc::new(SystemClock)).await
}

/// [`build`] with an injected clock (tests travel in time with it).
pub async fn build_with_clock(mut config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Application> {
    config.validate_for_serving()?;
    let pool = open_database(&config).await?;
    let listener = TcpListener::bind(&config.addr).with_context(|| format!("binding {}", config.addr))?;
    let local = listener.local_addr()?;
    let port = local.port();
    if config.public_base_url.is_none() {
        // Development default: the address actually bound (port 0 becomes the real port).
        config.public_base_url = Some(format!("http://{local}"));
    }
    let writes = apinfer_core::group_commit::GroupCommit::new(pool.clone());
    let cpu_gate = crate::providers::cpu_gate();
    let db_permits = config.db_pool_size.saturating_sub(writes.lanes()).max(1) as usize;
    let metrics_listener = match &config.metrics_addr {
        Some(addr) => Some(TcpListener::bind(addr).with_context(|| format!("binding the metrics address {addr}"))?),
        None => None,
    };
    let providers = crate::providers::Providers::from_config(&config, Arc::clone(&cpu_gate))?;
    let metrics = Metrics::new(writes.stats(), config.cache_budget(), providers.local_renders());
    let state = web::Data::new(AppState {
        sessions: SessionKeys::new(&config),
        limits: RateLimits::new(&config),
        metrics,
        payments: match config.payments_provider {
            PaymentsProvider::Sandbox => Arc::new(SandboxProvider { base_url: config.base_url() }),
            PaymentsProvider::Stripe => Arc::new(StripeProvider::new(StripeConfig {
                secret_key: config
                    .stripe
                    .secret_key
                    .as_ref()
                    .map(|k| k.expose_secret().to_string())
                    .unwrap_or_default(),
                api_base: config.stripe.api_base.clone(),
                timeout: Duration::from_secs(20),
                return_base: config.base_url(),
            })),
        },
        providers,
        key_cache: KeyCache::new(Duration::from_secs(config.key_cache_seconds)),
        writes,
        stored_blobs: crate::stored_blobs::StoredBlobs::default(),
        queue: crate::queue::GenerationQueue::default(),
        sqlite_reader_cache_kib: config.cache_budget().sqlite_cache_kib,
        db_gate: Arc::new(tokio::sync::Semaphore::new(db_permits)),
        cpu_gate,
        image_urls: crate::image_urls::ImageUrls::new(&config),
        pool,
        clock,
        config,
    });
    spawn_maintenance(state.clone());
    crate::generation::spawn_hold_sweeper(state.clone());
    crate::dispatcher::spawn_dispatcher(state.clone());
    crate::retention::spawn(state.clone());
    spawn_checkpointer(state.clone());
    crate::outbound::spawn_workers(state.clone());
    let server_state = state.clone();
    let server = HttpServer::new(move || app(server_state.clone())).listen(listener)?.shutdown_timeout(10).run();
    let metrics = match metrics_listener {
        Some(listener) => {
            let port = listener.local_addr()?.port();
            let metrics_state = state.clone();
            let server = HttpServer::new(move || {
                App::new()
                    .app_data(metrics_state.clone())
                    .app_data(routes::ops::MetricsListener)
                    .service(routes::ops::metrics)
                    .wrap(from_fn(crate::telemetry::middleware))
            })
            .workers(1)
            .listen(listener)?
            .shutdown_timeout(1)
            .run();
            Some((server, port))
        }
        None => None,
    };
    Ok(Application { server, port, metrics, state })
}

/// Opens the pool, each SQLite connection with its share of the cache budget, and applies
/// migrations (off the async executor).
pub async fn open_database(config: &Config) -> anyhow::Result<Pool> {
    let url = config.database_url.clone();
    let options = apinfer_core::db::PoolOptions {
        max_size: config.db_pool_size,
        sqlite_cache_kib: config.cache_budget().sqlite_cache_kib,
        sqlite_durability: config.sqlite_durability,
    };
    tokio::task::spawn_blocking(move || {
        let pool = Pool::connect_with(&url, options)?;
        pool.migrate()?;
        Ok::<_, apinfer_core::Error>(pool)
    })
    .await?
    .map_err(|e| anyhow::anyhow!("opening the database: {e:?}"))
}

/// The application: middleware, extractor configuration, routes and docs.
pub fn app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let max_body = state.config.max_body_bytes;
    let sandbox = state.payments.name() == "sandbox";
    let base =
        App::new()
            .app_data(state)
            .app_data(web::Data::new(routes::ops::OpenApiYaml(crate::openapi::yaml())))
            .app_data(web::PayloadConfig::new(max_body))
            .app_data(web::JsonConfig::default().limit(max_body))
            .app_data(web::QueryConfig::default().error_handler(|e, _| {
                ApiError::invalid("invalid_parameter", format!("invalid query string: {e}"), None).into()
            }))
            .app_data(web::PathConfig::default().error_handler(|e, _| {
                ApiError::invalid("invalid_parameter", format!("invalid path: {e}"), None).into()
            }));
    let (app, _) = crate::openapi::route_table(base);
    app.service(
        SwaggerUi::new("/docs/{_:.*}").external_url_unchecked("/openapi.json", crate::openapi::document().clone()),
    )
    .route("/docs", web::get().to(|| async { HttpResponse::Found().insert_header(("Location", "/docs/")).finish() }))
    // The dashboard (`/`, `/app.js`, `/app.css`).
    .configure(crate::dashboard::routes)
    // The sandbox provider's own pages (3-D Secure, wallets, a tokenizing checkout form).
    .configure(|cfg| {
        if sandbox {
            crate::sandbox::routes(cfg)
        }
    })
    .default_service(web::to(crate::http::fallback))
    .wrap(crate::http::cors())
    .wrap(from_fn(crate::http::rules))
    .wrap(from_fn(crate::telemetry::middleware))
}

/// On SQLite, checkpoints the WAL five times a second off the request path, so that the
/// transactions that commit (the group-commit lane above all) do not stop to copy pages and
/// fsync. A passive checkpoint never lets the log start over while the lane commits back to
/// back, so once the log holds `sqlite_wal_restart_pages` pages the committer is asked to
/// restart it between two batches; the connection's automatic checkpoint (at a larger size,
/// see `apinfer_core::db`) is only the backstop.
fn spawn_checkpointer(state: web::Data<AppState>) {
    if state.pool.is_postgres() {
        return;
    }
    let restart_at = i64::from(state.config.sqlite_wal_restart_pages);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if state.writes.restart_wal_pending() {
                // A pass now would hold the checkpoint lock the committer's restart needs.
                continue;
            }
            match state.db(apinfer_core::db::checkpoint).await {
                Ok(Some(wal)) if wal.frames >= restart_at => {
                    catch_up(&state).await;
                    state.writes.restart_wal_soon();
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "checkpointing the SQLite WAL failed"),
            }
        }
    });
}

/// Readies the WAL for a restart by the committer: checkpoints until a pass is quick, makes
/// the database file durable, and checkpoints once more.
///
/// The restart copies what the last checkpoint left and then fsyncs the database file, and the
/// committer, the one writer, waits for it. Passive checkpoints that never catch up (the
/// committer appends meanwhile) do not fsync the database file, so that fsync flushed every
/// page copied since the last restart: 100–170 ms in which every generation in flight waited,
/// the whole of SQLite's p99 under load (bench/RESULTS.md). Here, off the committer, each pass
/// copies what arrived during the one before (less each time: checkpoints copy faster than
/// commits write), the file is synced (any descriptor of the file flushes its dirty pages)
/// while commits go on, and a last pass leaves the restart a few milliseconds of work.
async fn catch_up(state: &web::Data<AppState>) {
    for _ in 0..6 {
        let started = std::time::Instant::now();
        if state.db(apinfer_core::db::checkpoint).await.is_err() || started.elapsed() < CATCH_UP_QUICK {
            break;
        }
    }
    if let Some(path) = state.pool.sqlite_path().map(str::to_string) {
        let synced = tokio::task::spawn_blocking(move || std::fs::File::open(path).and_then(|f| f.sync_data())).await;
        if let Ok(Err(e)) = synced {
            tracing::warn!(error = %e, "syncing the SQLite database file failed");
        }
        let _ = state.db(apinfer_core::db::checkpoint).await;
    }
}

/// A checkpoint pass this short leaves the restart little to do.
const CATCH_UP_QUICK: Duration = Duration::from_millis(5);

/// Periodic upkeep: prune rate-limiter state, purge expired idempotency records.
fn spawn_maintenance(state: web::Data<AppState>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            state.limits.prune();
            let now = state.now();
            if let Err(e) = state.db(move |conn| idempotency::purge_expired(conn, now)).await {
                tracing::warn!(error = %e, "purging idempotency records failed");
            }
        }
    });
}
