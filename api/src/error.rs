//! The API's one error type and its one mapping to HTTP.
//!
//! Layering: `core` returns [`apinfer_core::Error`] (business outcomes as variants,
//! infrastructure failures as opaque causes); handlers convert with `?` into [`ApiError`];
//! [`ResponseError`] turns an `ApiError` into the contract's body
//! `{"error": {type, code, message, param, request_id}}` with the status fixed by its
//! [`ErrorKind`]. Internal causes are logged with the request id, never sent to the client.

use std::fmt;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use apinfer_core::Error as CoreError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::request_id;

/// The contract's error `type`s; each fixes the status code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidRequest,
    Unprocessable,
    PayloadTooLarge,
    RequestTimeout,
    AuthenticationRequired,
    PermissionDenied,
    NotFound,
    Gone,
    MethodNotAllowed,
    UnsupportedMediaType,
    Conflict,
    IdempotencyConflict,
    InsufficientCredits,
    PaymentFailed,
    RateLimited,
    UpstreamError,
    Unavailable,
    Internal,
}

impl ErrorKind {
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::InvalidRequest => StatusCode::BAD_REQUEST,
            ErrorKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ErrorKind::AuthenticationRequired => StatusCode::UNAUTHORIZED,
            ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Gone => StatusCode::GONE,
            ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorKind::Conflict | ErrorKind::IdempotencyConflict => StatusCode::CONFLICT,
            ErrorKind::InsufficientCredits | ErrorKind::PaymentFailed => StatusCode::PAYMENT_REQUIRED,
            ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::UpstreamError => StatusCode::BAD_GATEWAY,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The contract's `type` string.
    pub fn type_name(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest
            | ErrorKind::Unprocessable
            | ErrorKind::PayloadTooLarge
            | ErrorKind::RequestTimeout
            | ErrorKind::MethodNotAllowed
            | ErrorKind::UnsupportedMediaType => "invalid_request",
            ErrorKind::AuthenticationRequired => "authentication_required",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::NotFound | ErrorKind::Gone => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::IdempotencyConflict => "idempotency_conflict",
            ErrorKind::InsufficientCredits => "insufficient_credits",
            ErrorKind::PaymentFailed => "payment_failed",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::UpstreamError => "upstream_error",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Internal => "internal",
        }
    }
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub code: String,
    pub message: String,
    pub param: Option<String>,
    /// Seconds to wait, for 429 (`Retry-After`).
    pub retry_after: Option<u64>,
    /// The methods the path allows, for 405 (`Allow`).
    pub allow: Option<String>,
    /// The cause, logged for 5xx, never shown.
    pub source: Option<anyhow::Error>,
    /// The generation a failure is about (502 `upstream_error`).
    pub generation_id: Option<String>,
}

/// The contract's error body.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Broad class: `invalid_request`, `authentication_required`, `permission_denied`, `not_found`,
    /// `conflict`, `idempotency_conflict`, `insufficient_credits`, `payment_failed`,
    /// `rate_limited`, `upstream_error`, `unavailable` or `internal`.
    #[serde(rename = "type")]
    #[schema(value_type = crate::enums::ErrorType)]
    pub error_type: String,
    /// Finer reason, e.g. `card_declined`, `refund_window_expired`, `spend_limit_exceeded`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// The request field at fault, as a dotted path, when there is one.
    pub param: Option<String>,
    /// The id of the request (also in `X-Request-Id`).
    pub request_id: String,
    /// For a failed generation (502): its id. It was not charged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation_id: Option<String>,
}

impl ApiError {
    pub fn new(kind: ErrorKind, code: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            code: code.into(),
            message: message.into(),
            param: None,
            retry_after: None,
            allow: None,
            source: None,
            generation_id: None,
        }
    }

    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub fn invalid(code: &str, message: impl Into<String>, param: Option<&str>) -> Self {
        let mut e = ApiError::new(ErrorKind::InvalidRequest, code, message);
        e.param = param.map(str::to_string);
        e
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::new(ErrorKind::AuthenticationRequired, "invalid_token", message)
    }

    pub fn forbidden(code: &str, message: impl Into<String>) -> Self {
        ApiError::new(ErrorKind::PermissionDenied, code, message)
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::new(ErrorKind::NotFound, "resource_missing", format!("no such {what}"))
    }

    pub fn rate_limited(retry_after: u64) -> Self {
        let mut e = ApiError::new(
            ErrorKind::RateLimited,
            "rate_limited",
            "too many requests; retry after the Retry-After delay",
        );
        e.retry_after = Some(retry_after.max(1));
        e
    }

    pub fn internal(source: anyhow::Error) -> Self {
        let mut e = ApiError::new(ErrorKind::Internal, "internal_error", "an internal error occurred");
        e.source = Some(source);
        e
    }

    pub fn unavailable(source: anyhow::Error) -> Self {
        let mut e = ApiError::new(
            ErrorKind::Unavailable,
            "service_unavailable",
            "the service is temporarily unavailable; retry shortly",
        );
        e.source = Some(source);
        e
    }

    /// The JSON body for this error under the current request id.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                error_type: self.kind.type_name().to_string(),
                code: self.code.clone(),
                message: self.message.clone(),
                param: self.param.clone(),
                request_id: request_id::current(),
                generation_id: self.generation_id.clone(),
            },
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.kind.type_name(), self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.kind.status()
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(source) = &self.source {
            tracing::error!(request_id = %request_id::current(), error = ?source, "{}", self);
        }
        let mut response = HttpResponse::build(self.status_code());
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        if let Some(allow) = &self.allow {
            response.insert_header((header::ALLOW, allow.as_str()));
        }
        response.json(self.body())
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::NotFound(what) => ApiError::not_found(what),
            CoreError::Gone { message } => ApiError::new(ErrorKind::Gone, "gone", message),
            CoreError::Invalid { code, message, param } => {
                let mut err = ApiError::new(ErrorKind::InvalidRequest, code, message);
                err.param = param;
                err
            }
            CoreError::Unprocessable { code, message, param } => {
                let mut err = ApiError::new(ErrorKind::Unprocessable, code, message);
                err.param = param;
                err
            }
            CoreError::InsufficientCredits { required, available } => ApiError::new(
                ErrorKind::InsufficientCredits,
                "insufficient_credits",
                format!("this needs {required} credits but only {available} are available"),
            ),
            CoreError::SpendLimitExceeded { message } => {
                ApiError::new(ErrorKind::InsufficientCredits, "spend_limit_exceeded", message)
            }
            CoreError::Conflict { code, message } => ApiError::new(ErrorKind::Conflict, code, message),
            CoreError::Unavailable(source) => ApiError::unavailable(source),
            CoreError::Internal(source) => ApiError::internal(source),
        }
    }
}

/// Turns an error response that did not come from [`ApiError`] (a framework extractor, an
/// unknown route) into the contract's shape, keeping its status.
pub fn from_framework_status(status: StatusCode, detail: &str) -> ApiError {
    let (kind, code) = match status {
        StatusCode::NOT_FOUND => (ErrorKind::NotFound, "route_not_found"),
        StatusCode::METHOD_NOT_ALLOWED => (ErrorKind::MethodNotAllowed, "method_not_allowed"),
        StatusCode::PAYLOAD_TOO_LARGE => (ErrorKind::PayloadTooLarge, "payload_too_large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (ErrorKind::UnsupportedMediaType, "unsupported_media_type"),
        StatusCode::UNAUTHORIZED => (ErrorKind::AuthenticationRequired, "invalid_token"),
        s if s.is_server_error() => (ErrorKind::Internal, "internal_error"),
        _ => (ErrorKind::InvalidRequest, "invalid_request"),
    };
    let message = match kind {
        ErrorKind::NotFound => "no route matches this path".to_string(),
        ErrorKind::Internal => "an internal error occurred".to_string(),
        _ if detail.is_empty() => status.canonical_reason().unwrap_or("invalid request").to_string(),
        _ => detail.to_string(),
    };
    ApiError::new(kind, code, message)
}
