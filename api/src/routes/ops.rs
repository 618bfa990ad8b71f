//! Health, readiness, metrics and the OpenAPI document.

use actix_web::{get, web, HttpRequest, HttpResponse};
use secrecy::ExposeSecret;

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

/// Marks the app of the separate metrics listener (`APINFER_METRICS_ADDR`).
#[derive(Clone, Copy)]
pub struct MetricsListener;

/// Prometheus metrics (OpenMetrics text): requests and latencies by route and status class,
/// credits moved, group commit.
///
/// With `APINFER_METRICS_TOKEN` set (required in production) it answers only
/// `Authorization: Bearer <that token>`; in development without one it is open.
#[utoipa::path(tag = "operations", operation_id = "operations_metrics", security(("metrics_token" = []), ()),
    responses(
        (status = 200, description = "OpenMetrics text exposition", body = String, content_type = "application/openmetrics-text"),
        (status = 404, description = "Metrics are served on their own listener (`APINFER_METRICS_ADDR`)", body = crate::error::ErrorBody),
        (status = 401, description = "A metrics token is configured and this request lacks it", body = crate::error::ErrorBody),
    ))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    // With a metrics listener of their own, the API's listener does not serve them.
    if state.config.metrics_addr.is_some() && req.app_data::<MetricsListener>().is_none() {
        return Err(ApiError::new(crate::error::ErrorKind::NotFound, "route_not_found", "no route matches this path"));
    }
    if let Some(token) = &state.config.metrics_token {
        let given = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        let expected = token.expose_secret().as_bytes();
        // Constant-time, so the comparison does not tell how much of a guess was right.
        if !bool::from(subtle::ConstantTimeEq::ct_eq(given.as_bytes(), expected)) {
            return Err(ApiError::unauthorized("send the metrics token as `Authorization: Bearer <token>`"));
        }
    }
    state.metrics.set_render_cache_bytes(state.providers.render_cache_bytes());
    let (text, content_type) = state.metrics.render();
    Ok(HttpResponse::Ok().content_type(content_type).body(text))
}

/// This API's OpenAPI 3.1 document, as YAML (JSON at `/openapi.json`).
#[utoipa::path(tag = "operations", operation_id = "operations_openapi", responses((status = 200, description = "The OpenAPI document", body = String, content_type = "application/yaml")))]
#[get("/openapi.yaml")]
pub async fn openapi_yaml(spec: web::Data<OpenApiYaml>) -> HttpResponse {
    HttpResponse::Ok().content_type("application/yaml").body(spec.0)
}

/// The document `/openapi.yaml` serves: given by the app that mounts these routes, since the
/// document is built from them.
pub struct OpenApiYaml(pub &'static str);
