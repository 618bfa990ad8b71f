//! HTTP semantics every route shares: request bodies must be JSON (415 otherwise), a wrong
//! method answers 405 with `Allow`, an unknown path 404, and CORS lets browser pages of any
//! origin call the API with a bearer token (never with credentials: cookies are not sent
//! cross-origin and no response to a credentialed request is readable there).

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use futures_util::Stream;

use crate::error::{ApiError, ErrorKind};

/// Headers a browser page may read from a cross-origin response.
const EXPOSED: &[&str] = &[
    "X-Request-Id",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "Retry-After",
    "Idempotent-Replayed",
    "Content-Disposition",
];

/// CORS for bearer-token requests from any origin: `Access-Control-Allow-Origin: *` and never
/// `Access-Control-Allow-Credentials`, so a browser sends no cookie cross-origin and reads no
/// answer to one that carried credentials.
pub fn cors() -> Cors {
    Cors::default()
        .allow_any_origin()
        .send_wildcard()
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::HeaderName::from_static("idempotency-key"),
            header::HeaderName::from_static("x-request-id"),
            header::HeaderName::from_static("prefer"),
        ])
        .expose_headers(EXPOSED.iter().copied())
        .max_age(600)
}

/// Refuses bodies that are not JSON (415) before any handler runs, gives the body a deadline
/// (408 past it, however slowly the bytes trickle in), and answers a CORS preflight with 204
/// (actix-cors answers it 200).
pub async fn rules(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let timed_out = Rc::new(Cell::new(false));
    if has_body(&req) {
        if !is_json(req.headers().get(header::CONTENT_TYPE)) {
            return Err(ApiError::new(
                ErrorKind::UnsupportedMediaType,
                "unsupported_media_type",
                "the request body must be JSON: send it with `Content-Type: application/json`",
            )
            .into());
        }
        let timeout = req
            .app_data::<actix_web::web::Data<crate::state::AppState>>()
            .map_or(Duration::from_secs(10), |s| Duration::from_secs(s.config.body_timeout_seconds));
        let body = TimedBody {
            inner: req.take_payload(),
            deadline: Box::pin(tokio::time::sleep(timeout)),
            timed_out: timed_out.clone(),
        };
        let body: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(body);
        req.set_payload(Payload::from(body));
    }
    let preflight =
        req.method() == Method::OPTIONS && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let result = next.call(req).await;
    if timed_out.get() {
        return Err(ApiError::new(
            ErrorKind::RequestTimeout,
            "body_timeout",
            "the request body did not arrive in time; send it at once after the headers",
        )
        .into());
    }
    let mut res = result?;
    if preflight && res.status() == StatusCode::OK {
        *res.response_mut().status_mut() = StatusCode::NO_CONTENT;
    }
    Ok(res)
}

/// A request body that fails once its deadline passes.
struct TimedBody {
    inner: Payload,
    deadline: Pin<Box<tokio::time::Sleep>>,
    timed_out: Rc<Cell<bool>>,
}

impl Stream for TimedBody {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Poll::Ready(item) = Pin::new(&mut this.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            this.timed_out.set(true);
            let error = std::io::Error::new(std::io::ErrorKind::TimedOut, "request body timed out");
            return Poll::Ready(Some(Err(PayloadError::Io(error))));
        }
        Poll::Pending
    }
}

/// Whether the request carries a body (a length above zero, or a chunked one).
fn has_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    let length = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    match length {
        Some(n) => n > 0,
        None => headers.contains_key(header::TRANSFER_ENCODING),
    }
}

/// `application/json` or any `+json` type; a body without a content type is read as JSON too.
fn is_json(content_type: Option<&HeaderValue>) -> bool {
    let Some(value) = content_type else { return true };
    let Ok(value) = value.to_str() else { return false };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// What no route matched: 405 with `Allow` when the path exists under other methods, else 404.
pub async fn fallback(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let allowed = allowed_methods(req.path());
    // Empty, or the method is served there after all (the path differs by a trailing slash
    // or an empty segment, which the router does not match): no route.
    if allowed.is_empty() || allowed.contains(&req.method().as_str()) {
        return Err(ApiError::new(ErrorKind::NotFound, "route_not_found", "no route matches this path"));
    }
    let allow = allowed.join(", ");
    let mut error = ApiError::new(
        ErrorKind::MethodNotAllowed,
        "method_not_allowed",
        format!("{} is not allowed here; use {allow}", req.method()),
    );
    error.allow = Some(allow);
    Err(error)
}

/// The methods the route table serves at `path`.
fn allowed_methods(path: &str) -> Vec<&'static str> {
    static TABLE: OnceLock<Vec<(Vec<String>, Vec<&'static str>)>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut table: Vec<(Vec<String>, Vec<&'static str>)> =
            vec![(segments("/docs"), vec!["GET"]), (segments("/openapi.json"), vec!["GET"])];
        if let Some(paths) = crate::openapi::document()["paths"].as_object() {
            for (template, item) in paths {
                let methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
                    .into_iter()
                    .filter(|m| item.get(m.to_ascii_lowercase()).is_some())
                    .collect();
                table.push((segments(template), methods));
            }
        }
        table
    });
    let wanted = segments(path);
    let matching: Vec<&(Vec<String>, Vec<&'static str>)> = table
        .iter()
        .filter(|(template, _)| {
            template.len() == wanted.len()
                && template.iter().zip(&wanted).all(|(t, w)| t == w || (t.starts_with('{') && !w.is_empty()))
        })
        .collect();
    // As in OpenAPI, a concrete path wins over a templated one (`/v1/api-keys/current` over
    // `/v1/api-keys/{id}`): only the most specific templates that match say what is allowed.
    let literals = |template: &[String]| template.iter().filter(|t| !t.starts_with('{')).count();
    let most = matching.iter().map(|(template, _)| literals(template)).max().unwrap_or(0);
    let mut allowed: Vec<&'static str> = matching
        .iter()
        .filter(|(template, _)| literals(template) == most)
        .flat_map(|(_, methods)| methods.iter().copied())
        .collect();
    allowed.sort_unstable();
    allowed.dedup();
    allowed
}

fn segments(path: &str) -> Vec<String> {
    path.trim_end_matches('/').split('/').map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_media_types() {
        assert!(is_json(None));
        assert!(is_json(Some(&HeaderValue::from_static("application/json; charset=utf-8"))));
        assert!(is_json(Some(&HeaderValue::from_static("Application/JSON"))));
        assert!(is_json(Some(&HeaderValue::from_static("application/merge-patch+json"))));
        assert!(!is_json(Some(&HeaderValue::from_static("text/plain"))));
        assert!(!is_json(Some(&HeaderValue::from_static("application/x-www-form-urlencoded"))));
    }

    #[test]
    fn allowed_methods_follow_the_route_table() {
        assert_eq!(allowed_methods("/v1/api-keys"), ["GET", "POST"]);
        assert_eq!(allowed_methods("/v1/api-keys/key_abc"), ["DELETE"]);
        assert_eq!(allowed_methods("/v1/api-keys/current"), ["GET"], "the concrete path wins");
        assert_eq!(allowed_methods("/v1/generations/gen_1/images/0"), ["GET"]);
        assert!(allowed_methods("/v1/nothing-here").is_empty());
    }
}
