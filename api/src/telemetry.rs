//! Request ids, structured logs, metrics and response headers, in one middleware that wraps
//! every request.
//!
//! Each request gets an id (`req_...`, or the client's own `X-Request-Id` when sane), available to any code it runs as
//! [`request_id::current`] and returned in `X-Request-Id`. Error responses that did not come
//! from [`ApiError`] (framework rejections, unknown routes) are rewritten into the contract's
//! error shape here, so every error a client sees has one shape.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, ResponseError};
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

use crate::error::{from_framework_status, ApiError};
use crate::rate_limit::RateLimitStatus;
use crate::request_id;
use crate::state::AppState;

/// Installs the global subscriber: human-readable or JSON lines (`APINFER_LOG_JSON`), filtered
/// by `RUST_LOG` (default `info`), on standard output. Colours only on a terminal (and never
/// with `NO_COLOR`), so a log file or a collector gets plain text. Safe to call more than once.
pub fn init(json: bool) {
    use std::io::IsTerminal;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_ansi(colour && !json);
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}

/// The middleware: id, span, metrics, rate-limit headers, error shape.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_sane_request_id(v))
        .map_or_else(|| format!("req_{}", apinfer_core::ids::random_base62(20)), str::to_owned);
    let started = Instant::now();
    let method = req.method().to_string();
    let method_label = metric_method(req.method());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let span = tracing::info_span!("request", request_id = %request_id, method = %method, path = %req.path());
    let result = request_id::scope(request_id.clone(), async move {
        let res = next.call(req).await?.map_into_boxed_body();
        Ok::<_, actix_web::Error>(normalize_error(res))
    })
    .instrument(span.clone())
    .await;
    let mut res = match result {
        Ok(res) => res,
        Err(e) => return Err(e),
    };
    let status = res.status();
    let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".to_string());
    let elapsed = started.elapsed();
    if let Some(state) = state {
        state.metrics.observe_request(method_label, &route, status.as_u16(), elapsed);
    }
    let limit = res.request().extensions().get::<RateLimitStatus>().copied();
    let headers = res.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert(HeaderName::from_static("x-request-id"), value);
    }
    if let Some(limit) = limit {
        headers.insert(HeaderName::from_static("x-ratelimit-limit"), HeaderValue::from(limit.limit));
        headers.insert(HeaderName::from_static("x-ratelimit-remaining"), HeaderValue::from(limit.remaining));
        headers.insert(HeaderName::from_static("x-ratelimit-reset"), HeaderValue::from(limit.reset));
    }
    span.in_scope(|| {
        tracing::info!(status = status.as_u16(), route = %route, elapsed_ms = elapsed.as_secs_f64() * 1e3, "served");
    });
    Ok(res)
}

/// The method as a metrics label: one of a closed set, so that no request can add a series
/// (a made-up method, however many, is `OTHER`).
fn metric_method(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// A client's own `X-Request-Id` is kept when it is 1–128 visible ASCII characters (so it
/// cannot split a log line or a header); otherwise the server makes one.
fn is_sane_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

/// Rewrites a framework error response into the contract's error body.
fn normalize_error(res: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let api_error = match res.response().error() {
        Some(err) if err.as_error::<ApiError>().is_some() => return res,
        Some(err) => from_framework_status(status, &err.to_string()),
        None => {
            let is_json = res
                .headers()
                .get(actix_web::http::header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
            if is_json {
                return res;
            }
            from_framework_status(status, "")
        }
    };
    let (req, _) = res.into_parts();
    let mut response = api_error.error_response();
    *response.status_mut() = status;
    ServiceResponse::new(req, response)
}
