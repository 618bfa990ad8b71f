use serde_json::json;

use std::time::Duration;

use rust_decimal::Decimal;

use crate::helpers::{metric, Backend, TestApp};
use crate::{backend_tests, per_backend};

async fn health_readiness_and_metrics(app: TestApp) {
    let health = app.get("/healthz", None).await;
    assert_eq!((health.status.as_u16(), health.text.as_str()), (200, "ok"));
    let ready = app.get("/readyz", None).await;
    assert_eq!((ready.status.as_u16(), ready.text.as_str()), (200, "ready"));
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    app.grant(&admin, &ada.account_id, "5").await;
    app.balance(&ada.token).await;
    let generation = json!({"model": "qwen-image", "prompt": "metrics", "size": "512x512"});
    app.post("/v1/generations", Some(&ada.token), generation).await.expect(201);
    let metrics = app.get("/metrics", None).await;
    assert_eq!(metrics.status, 200);
    let text = metrics.text;
    assert!(
        text.contains("apinfer_http_requests_total{method=\"GET\",route=\"/v1/balance\",status=\"2xx\"} 1"),
        "{text}"
    );
    assert!(
        text.contains(
            "apinfer_http_request_duration_seconds_bucket{le=\"+Inf\",method=\"GET\",route=\"/v1/balance\"} 1"
        ),
        "{text}"
    );
    assert!(text.contains("apinfer_credits_moved_total{type=\"adjustment\"} 5.0\n"), "{text}");
    assert!(text.contains("apinfer_credits_spent_total 1.75\n"), "{text}");
    // One generation alone: its hold, its new image's bytes and its capture, one transaction
    // each.
    assert!(text.contains("apinfer_group_commit_transactions_total 3\n"), "{text}");
    assert!(text.contains("apinfer_group_commit_units_total 3\n"), "{text}");
    // The committers' time running those transactions, more than nothing.
    assert!(metric(&text, "apinfer_group_commit_busy_seconds_total") > 0.0, "{text}");
}

/// The committed `openapi.yaml` is exactly what the server serves (regenerate with
/// `cargo run -p apinfer-api -- openapi > openapi.yaml`).
async fn committed_openapi_matches_the_served_document(app: TestApp) {
    let served = app.get("/openapi.yaml", None).await;
    assert_eq!(served.status, 200);
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml"))
        .expect("openapi.yaml at the repository root");
    assert!(
        committed == served.text,
        "openapi.yaml is stale: run `cargo run -p apinfer-api -- openapi > openapi.yaml`"
    );
    let json = app.get("/openapi.json", None).await.expect(200);
    assert_eq!(json["openapi"], "3.1.0");
    let yaml: serde_json::Value = serde_yaml::from_str(&committed).unwrap();
    assert_eq!(yaml, json, "the JSON and YAML documents agree");
    // Every operation documents its responses with descriptions (required by OpenAPI).
    for (path, item) in json["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, response) in op["responses"].as_object().unwrap() {
                // A shared response (`$ref: '#/components/responses/X'`) carries its own.
                let response = match response["$ref"].as_str() {
                    Some(r) => &json["components"]["responses"][r.trim_start_matches("#/components/responses/")],
                    None => response,
                };
                assert!(response["description"].as_str().is_some_and(|d| !d.is_empty()), "{method} {path} {status}");
            }
        }
    }
}

async fn docs_are_served_offline(app: TestApp) {
    let page = app.get("/docs/", None).await;
    assert_eq!(page.status, 200);
    assert!(page.text.to_lowercase().contains("swagger"), "{}", page.text);
    assert!(!page.text.contains("https://"), "the docs page must not load anything from the internet");
    let bundle = app.get("/docs/swagger-ui-bundle.js", None).await;
    assert_eq!(bundle.status, 200);
    assert!(bundle.text.len() > 100_000);
}

/// The SQLite write-ahead log started over by the committer, as `/metrics` counts it.
async fn wal_restarts(app: &TestApp) -> f64 {
    metric(&app.get("/metrics", None).await.text, "apinfer_sqlite_wal_restarts_total")
}

/// On SQLite, once the checkpointer finds the write-ahead log past `sqlite_wal_restart_pages`
/// (0 here: at every checkpoint), the committer makes it start over after its next batch, and
/// nothing committed is lost. PostgreSQL has no such log: the count stays at zero.
async fn the_committer_restarts_the_sqlite_wal(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.sqlite_wal_restart_pages = 0).await else { return };
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    app.grant(&admin, &ada.account_id, "100").await;
    let generation = json!({"model": "qwen-image", "prompt": "a restart", "size": "512x512"});
    let mut made = 0;
    // The checkpointer looks five times a second; the restart follows the next batch.
    while made < 40 && (made < 5 || backend == Backend::Sqlite && wal_restarts(&app).await == 0.0) {
        app.post("/v1/generations", Some(&ada.token), generation.clone()).await.expect(201);
        made += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let restarts = wal_restarts(&app).await;
    match backend {
        Backend::Sqlite => assert!(restarts >= 1.0, "no restart after {made} generations"),
        Backend::Postgres => assert_eq!(restarts, 0.0),
    }
    let balance = app.balance(&ada.token).await;
    let left = Decimal::from(100) - Decimal::new(175, 2) * Decimal::from(made);
    assert_eq!(balance["balance"].as_str().unwrap().parse::<Decimal>().unwrap(), left, "{balance}");
    assert_eq!(balance["held"], "0", "{balance}");
}

backend_tests!(health_readiness_and_metrics, committed_openapi_matches_the_served_document, docs_are_served_offline);
per_backend!(the_committer_restarts_the_sqlite_wal);
