//! Image retention and the cache memory budget (issue 22): images past
//! `APINFER_IMAGE_RETENTION_SECONDS` answer 410, their blobs are collected once nothing uses
//! them, SQLite gives the space back, and the money history is untouched; events, finished
//! webhook deliveries and expired sessions go after `APINFER_EVENT_RETENTION_SECONDS`.

use std::time::Duration;

use apinfer_api::config::Config;
use serde_json::{json, Value};

use crate::helpers::{metric, Backend, TestApp};
use crate::per_backend;

const RETENTION: i64 = 3600;

async fn spawn(backend: Backend, configure: impl FnOnce(&mut Config)) -> Option<TestApp> {
    TestApp::spawn_with(backend, |config| {
        config.image_retention_seconds = RETENTION as u64;
        config.sweep_interval_seconds = 1;
        configure(config);
    })
    .await
}

/// Runs `sql` (a single-column BIGINT query, aliased `n`) on the app's database.
async fn count(app: &TestApp, sql: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let (pool, sql) = (app.pool.clone(), sql.to_string());
    tokio::task::spawn_blocking(move || {
        use diesel::RunQueryDsl;
        diesel::sql_query(sql).get_result::<N>(&mut *pool.get().unwrap()).unwrap().n
    })
    .await
    .unwrap()
}

/// Waits (up to 20 s) for `sql`'s count to become `expected`.
async fn eventually(app: &TestApp, sql: &str, expected: i64) {
    let mut last = 0;
    for _ in 0..200 {
        last = count(app, sql).await;
        if last == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{sql}: {last}, expected {expected}");
}

async fn image(app: &TestApp, key: &str, generation: &Value, index: usize) -> u16 {
    let id = generation["id"].as_str().unwrap();
    app.get(&format!("/v1/generations/{id}/images/{index}"), Some(key)).await.status.as_u16()
}

/// An image expires after its retention: 410 `gone` at once, its rows and blob deleted by the
/// background task, a blob another generation still shows kept; the generations, their charges
/// and the balance stay as they were; the same image generated again is stored afresh.
async fn images_expire_and_their_blobs_are_collected(backend: Backend) {
    let Some(app) = spawn(backend, |_| {}).await else { return };
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    app.grant(&admin, &ada.account_id, "100").await;
    let (_, key) = app.api_key(&ada, &["generations:write", "balance:read", "usage:read"]).await;
    let body = |n: u32| json!({"model": "qwen-image", "prompt": "a lighthouse at dusk", "n": n, "size": "512x512"});
    let first = app.post("/v1/generations", Some(&key), body(2)).await.expect(201);
    assert_eq!((image(&app, &key, &first, 0).await, image(&app, &key, &first, 1).await), (200, 200));
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM image_blobs").await, 2);

    // Half-way through, the same prompt again: its image 0 is the same blob.
    app.clock.advance(chrono::Duration::seconds(RETENTION / 2));
    let second = app.post("/v1/generations", Some(&key), body(1)).await.expect(201);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM image_blobs").await, 2, "the shared image is stored once");
    let balance = app.balance(&key).await;
    let history = app.all_transactions(&key).await;

    // The first generation's retention ends.
    app.clock.advance(chrono::Duration::seconds(RETENTION / 2 + 1));
    let gone = app.get(&format!("/v1/generations/{}/images/1", first["id"].as_str().unwrap()), Some(&key)).await;
    let error = gone.expect_error(410, "not_found", "gone");
    assert!(error["error"]["message"].as_str().unwrap().contains("retention"), "{error}");
    assert_eq!(image(&app, &key, &first, 0).await, 410);
    assert_eq!(image(&app, &key, &second, 0).await, 200, "the second generation is within its retention");
    let first_id = first["id"].as_str().unwrap();
    eventually(&app, &format!("SELECT COUNT(*) AS n FROM generation_images WHERE generation_id = '{first_id}'"), 0)
        .await;
    // Image 1's blob nothing uses any more; image 0's the second generation still shows.
    eventually(&app, "SELECT COUNT(*) AS n FROM image_blobs", 1).await;
    assert_eq!(image(&app, &key, &second, 0).await, 200);

    // The second one's ends too: nothing is left of either image.
    app.clock.advance(chrono::Duration::seconds(RETENTION / 2 + 1));
    assert_eq!(image(&app, &key, &second, 0).await, 410);
    eventually(&app, "SELECT COUNT(*) AS n FROM image_blobs", 0).await;
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM generation_images").await, 0);

    // The money history is untouched.
    assert_eq!(app.balance(&key).await, balance);
    assert_eq!(app.all_transactions(&key).await, history);
    for generation in [&first, &second] {
        let id = generation["id"].as_str().unwrap();
        let kept = app.get(&format!("/v1/generations/{id}"), Some(&key)).await.expect(200);
        assert_eq!(
            (&kept["status"], &kept["credits_charged"]),
            (&generation["status"], &generation["credits_charged"])
        );
    }
    app.assert_ledger_consistent(&key).await;

    // The process knew that blob as stored: generating the image again stores it afresh.
    let again = app.post("/v1/generations", Some(&key), body(1)).await.expect(201);
    assert_eq!(image(&app, &key, &again, 0).await, 200);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM image_blobs").await, 1);
    let metrics = app.get("/metrics", None).await.text;
    assert_eq!(metric(&metrics, "apinfer_images_expired_total"), 3.0);
    assert_eq!(metric(&metrics, "apinfer_image_blobs_collected_total"), 2.0);
}

/// Blobs nothing ever referenced (a generation whose capture failed after storing its image)
/// are collected once their grace has passed, not before; on SQLite the file then shrinks.
async fn stray_blobs_are_collected_and_sqlite_returns_the_space(backend: Backend) {
    let Some(app) = spawn(backend, |_| {}).await else { return };
    let now = app.state().now().timestamp();
    // 24 blobs of 1 MiB: 8 touched long ago, 16 just now.
    let insert = |id: usize, touched: i64| match backend {
        Backend::Sqlite => format!(
            "INSERT INTO image_blobs (id, data, touched_at) VALUES ('stray:{id}', randomblob(1048576), {touched})"
        ),
        Backend::Postgres => format!(
            "INSERT INTO image_blobs (id, data, touched_at) \
             SELECT 'stray:{id}', decode(string_agg(md5(random()::text), ''), 'hex'), {touched} \
             FROM generate_series(1, 65536)"
        ),
    };
    let statements: Vec<String> = (0..24).map(|i| insert(i, if i < 8 { 0 } else { now })).collect();
    let pool = app.pool.clone();
    tokio::task::spawn_blocking(move || {
        use diesel::RunQueryDsl;
        let mut conn = pool.get().unwrap();
        for sql in statements {
            diesel::sql_query(sql).execute(&mut *conn).unwrap();
        }
    })
    .await
    .unwrap();
    let pages = "SELECT page_count AS n FROM pragma_page_count()";
    let before = if backend == Backend::Sqlite { count(&app, pages).await } else { 0 };
    eventually(&app, "SELECT COUNT(*) AS n FROM image_blobs", 16).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM image_blobs").await, 16, "touched lately: kept");
    // Past the grace, the rest go too.
    app.clock.advance(chrono::Duration::seconds(2 * RETENTION));
    eventually(&app, "SELECT COUNT(*) AS n FROM image_blobs", 0).await;
    if backend == Backend::Sqlite {
        assert_eq!(count(&app, "SELECT auto_vacuum AS n FROM pragma_auto_vacuum()").await, 2, "incremental");
        // 24 MiB freed; all but the 4 MiB reserve kept for reuse goes back to the file system,
        // in 4 MiB steps (one transaction each), so wait for the last step.
        let free = "SELECT freelist_count AS n FROM pragma_freelist_count()";
        let (mut after, mut left) = (before, i64::MAX);
        for _ in 0..100 {
            (after, left) = (count(&app, pages).await, count(&app, free).await);
            if after <= before - 4096 && left <= 1024 + 1024 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(after <= before - 4096, "{before} pages before, {after} after");
        assert!(left <= 1024 + 1024, "{left} free pages kept");
    }
}

/// The cache budget is shared out as documented and the render cache keeps within its share.
async fn caches_keep_within_the_memory_budget(backend: Backend) {
    let Some(app) = spawn(backend, |config| config.cache_memory_mb = 8).await else { return };
    let budget = app.config.cache_budget();
    let metrics = app.get("/metrics", None).await.text;
    let budget_of = |cache: &str| metric(&metrics, &format!("apinfer_cache_budget_bytes{{cache=\"{cache}\"}}"));
    let connections = metric(&metrics, "apinfer_sqlite_connections_max");
    match backend {
        Backend::Sqlite => {
            assert_eq!(budget_of("render"), (2 << 20) as f64, "a quarter of 8 MiB");
            let pages = budget_of("sqlite_pages");
            assert_eq!(pages, f64::from(budget.sqlite_cache_kib) * 1024.0);
            assert!(connections > 8.0 && pages * connections <= (6 << 20) as f64, "{pages} x {connections}");
            // Every pool connection has that page cache.
            let pool = app.pool.clone();
            let sizes = tokio::task::spawn_blocking(move || {
                #[derive(diesel::QueryableByName)]
                struct Size {
                    #[diesel(sql_type = diesel::sql_types::BigInt)]
                    cache_size: i64,
                }
                use diesel::RunQueryDsl;
                let held: Vec<_> = (0..3).map(|_| pool.get().unwrap()).collect();
                held.into_iter()
                    .map(|mut conn| {
                        diesel::sql_query("PRAGMA cache_size").get_result::<Size>(&mut *conn).unwrap().cache_size
                    })
                    .collect::<Vec<_>>()
            })
            .await
            .unwrap();
            assert_eq!(sizes, vec![-i64::from(budget.sqlite_cache_kib); 3]);
        }
        Backend::Postgres => {
            assert_eq!(budget_of("render"), (2 << 20) as f64, "a quarter of 8 MiB");
            assert_eq!(connections, 0.0);
        }
    }
    // Images rendered past the render cache's share: it keeps the newest, within the share.
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    app.grant(&admin, &ada.account_id, "1000").await;
    let (_, key) = app.api_key(&ada, &["generations:write"]).await;
    let mut rendered = 0;
    let limit = budget.render_cache_bytes;
    for i in 0..200 {
        let body = json!({"model": "qwen-image", "prompt": format!("budget {i}"), "n": 4, "size": "512x512", "response_format": "b64_json"});
        let g = app.post("/v1/generations", Some(&key), body).await.expect(201);
        rendered += g["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["b64_json"].as_str().unwrap().len() * 3 / 4)
            .sum::<usize>();
        if rendered > limit + (1 << 20) {
            break;
        }
    }
    assert!(rendered > limit + (1 << 20), "rendered {rendered} bytes");
    let held = metric(&app.get("/metrics", None).await.text, "apinfer_cache_bytes{cache=\"render\"}");
    assert!(held > 0.0 && held <= limit as f64, "the render cache holds {held} of {limit} bytes");
}

/// Events, finished webhook deliveries (with their attempts) and expired sessions are deleted
/// once past `APINFER_EVENT_RETENTION_SECONDS`, not before; the money history is untouched.
async fn events_deliveries_and_sessions_expire(backend: Backend) {
    const EVENTS_KEPT: i64 = 2 * 24 * 3600;
    let Some(app) = spawn(backend, |config| config.event_retention_seconds = EVENTS_KEPT as u64).await else {
        return;
    };
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    app.grant(&admin, &ada.account_id, "100").await;
    let receiver = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let endpoint = json!({"url": format!("{}/hook", receiver.uri()), "enabled_events": ["*"]});
    app.post("/v1/webhook-endpoints", Some(&ada.token), endpoint).await.expect(201);
    let (_, key) = app.api_key(&ada, &["generations:write", "balance:read", "usage:read"]).await;
    app.post("/v1/generations", Some(&key), json!({"model": "qwen-image", "prompt": "kept", "size": "512x512"}))
        .await
        .expect(201);
    // api_key.created and generation.succeeded, each delivered.
    eventually(&app, "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'delivered'", 2).await;
    eventually(&app, "SELECT COUNT(*) AS n FROM webhook_attempts", 2).await;
    let events = count(&app, "SELECT COUNT(*) AS n FROM events").await;
    assert!(events >= 2, "{events}");
    assert!(count(&app, "SELECT COUNT(*) AS n FROM sessions").await >= 2);
    let (balance, history) = (app.balance(&key).await, app.all_transactions(&key).await);

    // Rounds run meanwhile and keep everything within the retention.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM events").await, events);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM webhook_deliveries").await, 2);

    // Past the retention, and past the sessions' expiry by as much: all of it goes.
    let ttl = app.state().config.session_ttl_seconds;
    app.clock.advance(chrono::Duration::seconds(EVENTS_KEPT + ttl + 1));
    eventually(&app, "SELECT COUNT(*) AS n FROM events", 0).await;
    eventually(&app, "SELECT COUNT(*) AS n FROM webhook_deliveries", 0).await;
    eventually(&app, "SELECT COUNT(*) AS n FROM webhook_attempts", 0).await;
    eventually(&app, "SELECT COUNT(*) AS n FROM sessions", 0).await;
    assert_eq!(app.get("/v1/events", Some(&key)).await.expect(200)["data"], json!([]));
    assert_eq!(app.balance(&key).await, balance);
    assert_eq!(app.all_transactions(&key).await, history);
    app.assert_ledger_consistent(&key).await;
}

per_backend!(
    events_deliveries_and_sessions_expire,
    images_expire_and_their_blobs_are_collected,
    stray_blobs_are_collected_and_sqlite_returns_the_space,
    caches_keep_within_the_memory_budget,
);
