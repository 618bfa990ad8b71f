//! `Idempotency-Key` for every POST that creates or spends: one mechanism, used by handlers
//! through [`run`].
//!
//! The first request with a key claims it (see `apinfer_core::store::idempotency`), runs, and
//! stores its status and body; the same key with the same request (method, path, canonical
//! JSON body) within 24 h gets that response again with `Idempotent-Replayed: true`; with a
//! different request, or while the first is still running, 409 `idempotency_conflict`. Keys
//! are scoped to the account. Responses worth retrying (429, 5xx) are not stored: the claim
//! is released so the client's retry runs afresh.
//!
//! The work runs in its own task, so a client that disconnects mid-request cannot cancel it
//! between the money moving and the response being stored.

use std::future::Future;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use apinfer_core::ids::AccountId;
use apinfer_core::store::idempotency::{self, Claim};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ErrorKind};
use crate::request_id;
use crate::state::AppState;

pub const HEADER: &str = "Idempotency-Key";
const MAX_KEY_LEN: usize = 255;

/// The validated `Idempotency-Key` header, if sent.
pub struct IdempotencyKey(pub Option<String>);

impl FromRequest for IdempotencyKey {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let outcome = match req.headers().get(HEADER) {
            None => Ok(IdempotencyKey(None)),
            Some(value) => match value.to_str() {
                Ok(key) if !key.is_empty() && key.len() <= MAX_KEY_LEN && key.bytes().all(|b| b.is_ascii_graphic()) => {
                    Ok(IdempotencyKey(Some(key.to_string())))
                }
                _ => Err(ApiError::invalid(
                    "invalid_idempotency_key",
                    "Idempotency-Key must be 1–255 visible ASCII characters",
                    Some("Idempotency-Key"),
                )),
            },
        };
        std::future::ready(outcome)
    }
}

/// What a handler's work produces: a status and a JSON body.
pub type Outcome<T> = Result<(StatusCode, T), ApiError>;

/// Runs `work` at most once per idempotency key and answers with its (possibly replayed) result.
pub async fn run<T, F, Fut>(
    state: web::Data<AppState>,
    account: AccountId,
    key: IdempotencyKey,
    req: &HttpRequest,
    body: &[u8],
    work: F,
) -> Result<HttpResponse, ApiError>
where
    F: FnOnce() -> Fut + 'static,
    Fut: Future<Output = Outcome<T>> + 'static,
    T: Serialize + 'static,
{
    // Only a keyed request is compared with an earlier one, so only it is fingerprinted.
    let request_hash = key.0.as_ref().map(|_| fingerprint(req, body));
    let request_id = request_id::current();
    let task = async move {
        let (Some(key), Some(request_hash)) = (key.0, request_hash) else {
            return respond(work().await);
        };
        let claim = {
            let (account, key, hash, now) = (account.clone(), key.clone(), request_hash, state.now());
            state.db(move |conn| idempotency::claim(conn, &account, &key, &hash, now)).await?
        };
        match claim {
            Claim::Replay { status, body } => {
                Ok(HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
                    .insert_header(("Idempotent-Replayed", "true"))
                    .content_type("application/json")
                    .body(body))
            }
            Claim::Mismatch => Err(ApiError::new(
                ErrorKind::IdempotencyConflict,
                "idempotency_key_reused",
                "this Idempotency-Key was already used with a different request",
            )),
            Claim::InFlight => Err(ApiError::new(
                ErrorKind::IdempotencyConflict,
                "request_in_progress",
                "a request with this Idempotency-Key is still being processed; retry later",
            )),
            Claim::Acquired => {
                let outcome = work().await;
                let stored = match &outcome {
                    Ok((status, value)) => Some((*status, serde_json::to_string(value))),
                    Err(e) if e.kind.status().is_server_error() || e.kind == ErrorKind::RateLimited => None,
                    Err(e) => Some((e.kind.status(), serde_json::to_string(&e.body()))),
                };
                let (account_c, key_c) = (account.clone(), key.clone());
                let saved = match stored {
                    Some((status, Ok(body))) => {
                        state
                            .db(move |conn| idempotency::complete(conn, &account_c, &key_c, status.as_u16(), &body))
                            .await
                    }
                    _ => state.db(move |conn| idempotency::release(conn, &account_c, &key_c)).await,
                };
                if let Err(e) = saved {
                    tracing::error!(error = %e, "could not record the idempotency outcome");
                }
                respond(outcome)
            }
        }
    };
    actix_web::rt::spawn(request_id::scope(request_id, task))
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("idempotent task failed: {e}")))?
}

fn respond<T: Serialize>(outcome: Outcome<T>) -> Result<HttpResponse, ApiError> {
    outcome.map(|(status, value)| HttpResponse::build(status).json(value))
}

/// Hash of what makes two requests "the same": method, path with query, and the body as
/// canonical JSON (keys sorted, whitespace dropped), or its raw bytes if it is not JSON.
fn fingerprint(req: &HttpRequest, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(req.method().as_str());
    hasher.update(b" ");
    hasher.update(req.uri().path_and_query().map(|p| p.as_str()).unwrap_or(""));
    hasher.update(b"\n");
    match serde_json::from_slice::<Value>(body) {
        Ok(value) => hasher.update(canonical(&value)),
        Err(_) => hasher.update(body),
    }
    hex::encode(hasher.finalize())
}

fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> =
                entries.iter().map(|(k, v)| format!("{}:{}", Value::String((*k).clone()), canonical(v))).collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(canonical).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

/// Parses a JSON request body into `T`, answering 400 with the field at fault.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let param = (path != "." && path != "?" && !path.is_empty()).then_some(path);
        let inner = e.into_inner();
        let code = if inner.is_syntax() || inner.is_eof() { "invalid_json" } else { "invalid_parameter" };
        let mut err = ApiError::invalid(code, format!("invalid request body: {inner}"), None);
        if inner.to_string().starts_with(apinfer_core::credits::TOO_LARGE_MESSAGE) {
            // Well-formed, past the documented maximum.
            err.kind = crate::error::ErrorKind::Unprocessable;
            err.code = "amount_too_large".into();
        }
        err.param = param;
        err
    })
}

impl From<ApiError> for HttpResponse {
    fn from(e: ApiError) -> Self {
        e.error_response()
    }
}
