//! Health, readiness, metrics and the OpenAPI document.

use actix_web::{get, web, HttpResponse};

use crate::error::ApiError;
use crate::state::AppState;

/// Whether the process is up.
#[utoipa::path(tag = "operations", operation_id = "operations_health", responses((status = 200, description = "The process is up", body = String, content_type = "text/plain")))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// Whether the database answers.
#[utoipa::path(tag = "operations", operation_id = "operations_readiness", responses(
    (status = 200, description = "The database answers", body = String, content_type = "text/plain"),
    (status = 503, description = "The database is unreachable", body = crate::error::ErrorBody),
))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.db(apinfer_core::db::ping).await?;
    Ok(HttpResponse::Ok().content_type("text/plain").body("ready"))
}

/// Prometheus metrics: requests and latencies by route and status, credits moved.
#[utoipa::path(tag = "operations", operation_id = "operations_metrics", responses((status = 200, description = "Prometheus text exposition", body = String, content_type = "text/plain")))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let mut text = state.metrics.render();
    state.writes.stats().render(&mut text);
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(text)
}

/// This API's OpenAPI 3.1 document, as YAML (JSON at `/openapi.json`).
#[utoipa::path(tag = "operations", operation_id = "operations_openapi", responses((status = 200, description = "The OpenAPI document", body = String, content_type = "application/yaml")))]
#[get("/openapi.yaml")]
pub async fn openapi_yaml() -> HttpResponse {
    HttpResponse::Ok().content_type("application/yaml").body(crate::openapi::yaml())
}
