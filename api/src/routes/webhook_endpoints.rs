//! Webhook endpoints, managed by API (owner or admin session): where the account's events are
//! sent, each signed (`Apinfer-Signature`) with the endpoint's own secret, retried with backoff,
//! checked against the SSRF guard when set and before each attempt, with a log of deliveries
//! and their attempts, and redelivery on request.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use apinfer_core::ids::{WebhookDeliveryId, WebhookEndpointId};
use apinfer_core::store::webhook_endpoints::{self, Delivery, Endpoint, EndpointStatus, EndpointUpdate, NewEndpoint};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::views::{list_view, PageParams};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::outbound::check_webhook_url;
use crate::state::AppState;

/// A new endpoint.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookEndpointRequest {
    /// Where to send events: an http(s) URL on the public internet (one that does not parse,
    /// resolve, or resolves inside the network is 422).
    #[schema(example = "https://example.com/apinfer/webhooks", format = "uri", pattern = "^https?://")]
    pub url: String,
    /// Event types to send (`generation.succeeded`, ...), or `["*"]` for all.
    #[schema(value_type = Vec<crate::enums::EnabledEvent>, min_items = 1,
        example = json!(["generation.succeeded", "generation.failed", "balance.low"]))]
    pub enabled_events: Vec<String>,
    /// A note for people, up to 500 characters.
    #[schema(max_length = 500)]
    pub description: Option<String>,
}

/// Changes to an endpoint; what is absent stays.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookEndpointRequest {
    #[schema(format = "uri", pattern = "^https?://")]
    pub url: Option<String>,
    #[schema(value_type = Option<Vec<crate::enums::EnabledEvent>>, min_items = 1)]
    pub enabled_events: Option<Vec<String>>,
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// `enabled` (which clears a failure record, and resumes its waiting deliveries) or
    /// `disabled`.
    #[schema(value_type = Option<crate::enums::WebhookEndpointStatus>)]
    pub status: Option<String>,
}

/// A webhook endpoint (its secret is only in the creation and rotation responses).
#[derive(Serialize, ToSchema)]
pub struct WebhookEndpointView {
    /// `we_...`
    pub id: String,
    pub url: String,
    pub description: String,
    /// Event types sent here, or `["*"]`.
    pub enabled_events: Vec<String>,
    /// `enabled`, or `disabled` (by the account, or after its deliveries kept failing for
    /// `APINFER_WEBHOOK_DISABLE_AFTER_SECONDS`, three days by default).
    #[schema(value_type = crate::enums::WebhookEndpointStatus)]
    pub status: String,
    pub disabled_reason: Option<String>,
    /// Since when its deliveries have been failing, when the last one failed.
    pub failing_since: Option<DateTime<Utc>>,
    /// Until when deliveries also carry a signature with the previous secret (after a rotation).
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Endpoint> for WebhookEndpointView {
    fn from(e: Endpoint) -> Self {
        WebhookEndpointView {
            id: e.id.to_string(),
            url: e.url,
            description: e.description,
            enabled_events: e.enabled_events,
            status: e.status.as_str().to_string(),
            disabled_reason: e.disabled_reason,
            failing_since: e.failing_since,
            previous_secret_expires_at: e.previous_secret_expires_at,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// An endpoint with its secret, shown this once.
#[derive(Serialize, ToSchema)]
pub struct WebhookEndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: WebhookEndpointView,
    /// Signs every delivery (`whsec_...`): verify `Apinfer-Signature` with it. Store it now.
    pub secret: String,
}

/// One attempt at a delivery.
#[derive(Serialize, ToSchema)]
pub struct WebhookAttemptView {
    /// From 1.
    pub attempt: i32,
    /// `succeeded` (a 2xx answer) or `failed`.
    pub status: String,
    /// The endpoint's HTTP status, if it answered.
    pub response_code: Option<i32>,
    /// Why it failed (`HTTP 500`, `timed out`, `connection failed`, a refused address).
    pub error: Option<String>,
    /// How long the attempt took, in milliseconds.
    pub duration_ms: Option<i32>,
    pub at: DateTime<Utc>,
}

/// One event's delivery to the endpoint.
#[derive(Serialize, ToSchema)]
pub struct WebhookDeliveryView {
    /// `whd_...`
    pub id: String,
    /// `evt_...`
    pub event_id: String,
    #[schema(value_type = crate::enums::EventType)]
    pub event_type: String,
    /// `pending` (an attempt is due), `delivered` or `failed` (given up after its attempts).
    #[schema(value_type = crate::enums::WebhookDeliveryStatus)]
    pub status: String,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub attempts: Vec<WebhookAttemptView>,
    pub created_at: DateTime<Utc>,
}

impl From<Delivery> for WebhookDeliveryView {
    fn from(d: Delivery) -> Self {
        WebhookDeliveryView {
            id: d.id.to_string(),
            event_id: d.event_id,
            event_type: d.event_type,
            status: d.status,
            next_attempt_at: d.next_attempt_at,
            attempts: d
                .attempts
                .into_iter()
                .map(|a| WebhookAttemptView {
                    attempt: a.attempt,
                    status: if a.status_code.is_some_and(|c| (200..300).contains(&c)) { "succeeded" } else { "failed" }
                        .to_string(),
                    response_code: a.status_code,
                    error: a.error,
                    duration_ms: a.duration_ms,
                    at: a.at,
                })
                .collect(),
            created_at: d.created_at,
        }
    }
}

list_view!(WebhookEndpointList, WebhookEndpointView, "A page of webhook endpoints.");
list_view!(WebhookDeliveryList, WebhookDeliveryView, "A page of an endpoint's deliveries.");

/// How long the previous secret keeps signing.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RotateWebhookSecretRequest {
    /// Seconds the previous secret keeps signing beside the new one (0–604800; default 86400,
    /// a day): deliveries meanwhile carry both signatures.
    #[schema(minimum = 0, maximum = 604800)]
    pub grace_period_seconds: Option<i64>,
}

/// The URL, checked by the SSRF guard, with errors naming `url`: 400 if it is not even http(s)
/// (the schema's pattern), else 422 for one that does not parse, resolve, or may not be used.
async fn checked_url(state: &AppState, url: &str) -> Result<String, ApiError> {
    let http = url.starts_with("http://") || url.starts_with("https://");
    check_webhook_url(url, state.config.allow_private_webhooks).await.map_err(|mut e| {
        e.param = Some("url".into());
        e.message = e.message.replace("webhook_url", "url");
        if http {
            e.kind = crate::error::ErrorKind::Unprocessable;
        }
        e
    })?;
    Ok(url.to_string())
}

fn endpoint_id(id: &str) -> Result<WebhookEndpointId, ApiError> {
    WebhookEndpointId::parse(id).ok_or_else(|| ApiError::not_found("webhook endpoint"))
}

/// Create a webhook endpoint (owner or admin session); its secret is shown once.
#[utoipa::path(tag = "webhook_endpoints", operation_id = "webhook_endpoints_create", security(("bearer" = [])), request_body = CreateWebhookEndpointRequest, responses(
    (status = 201, description = "The endpoint, with its secret", body = WebhookEndpointWithSecret),
    (status = 400, description = "Invalid URL, event types or description", body = ErrorBody),
    (status = 403, description = "Not an owner/admin session", body = ErrorBody),
    (status = 409, description = "The account has 16 endpoints already", body = ErrorBody),
    (status = 422, description = "The URL does not parse, its host does not resolve, or resolves inside the network", body = ErrorBody),
))]
#[post("/webhook-endpoints")]
pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    body: crate::extract::Json<CreateWebhookEndpointRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require_manager()?;
    let request = body.into_inner();
    let url = checked_url(&state, &request.url).await?;
    let now = state.now();
    let (endpoint, secret) = state
        .db(move |conn| {
            let description = request.description.as_deref().unwrap_or("");
            let new = NewEndpoint { url: &url, description, enabled_events: &request.enabled_events };
            webhook_endpoints::create(conn, &caller.account_id, new, now)
        })
        .await?;
    Ok(HttpResponse::Created().json(WebhookEndpointWithSecret { endpoint: endpoint.into(), secret }))
}

/// The account's webhook endpoints (owner or admin session).
#[utoipa::path(tag = "webhook_endpoints", operation_id = "webhook_endpoints_list", security(("bearer" = [])), params(PageParams), responses(
    (status = 200, description = "The endpoints, oldest first", body = WebhookEndpointList),
    (status = 400, description = "Invalid limit or cursor", body = ErrorBody),
    (status = 403, description = "Not an owner/admin session", body = ErrorBody),
))]
#[get("/webhook-endpoints")]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require_manager()?;
    let limit = page.limit()?;
    let cursor = page.cursor_as(WebhookEndpointId::parse)?;
    let page = state.db(move |conn| webhook_endpoints::list(conn, &caller.account_id, cursor.as_ref(), limit)).await?;
    let next_cursor = page.has_more.then(|| page.items.last().map(|e| e.id.to_string())).flatten();
    Ok(HttpResponse::Ok().json(WebhookEndpointList {
        data: page.items.into_iter().map(WebhookEndpointView::from).collect(),
        has_more: page.has_more,
        next_cursor,
    }))
}

/// One webhook endpoint (owner or admin session).
#[utoipa::path(tag = "webhook_endpoints", operation_id = "webhook_endpoints_retrieve", security(("bearer" = [])), params(("id" = String, Path, description = "`we_...`")), responses(
    (status = 200, description = "The endpoint", body = WebhookEndpointView),
    (status = 403, description = "Not an owner/admin session", body = ErrorBody),
    (status = 404, description = "No such endpoint in this account", body = ErrorBody),
))]
#[get("/webhook-endpoints/{id}")]
pub async fn retrieve(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require_manager()?;
    let id = endpoint_id(&id)?;
    let endpoint = state.db(move |conn| webhook_endpoints::get(conn, &caller.account_id, &id)).await?;
    Ok(HttpResponse::Ok().json(WebhookEndpointView::from(endpoint)))
}

/// Change a webhook endpoint (owner or admin session): its URL, event types, description, or
/// status (enabling a disabled endpoint resumes its waiting deliveries).
#[utoipa::path(tag = "webhook_endpoints", operation_id = "webhook_endpoints_update", security(("bearer" = [])), params(("id" = String, Path, description = "`we_...`")), request_body = UpdateWebhookEndpointRequest, responses(
    (status = 200, description = "The endpoint", body = WebhookEndpointView),
    (status = 400, description = "Invalid URL, event types, description or status", body = ErrorBody),
    (status = 403, description = "Not an owner/admin session", body = ErrorBody),
    (status = 404, description = "No such endpoint in this account", body = ErrorBody),
    (status = 422, description = "The URL's host does not resolve, or resolves inside the network", body = ErrorBody),
))]
#[patch("/webhook-endpoints/{id}")]
pub async fn update(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: crate::extract::Json<UpdateWebhookEndpointRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require_manager()?;
    let id = endpoint_id(&id)?;
    let request = body.into_inner();
    let url = match &request.url {
        Some(url) => Some(checked_url(&state, url).await?),
        None => None,
    };
    let status = request
        .status
        .as_deref()
        .map(|s| {
            EndpointStatus::parse(s).ok_or_else(|| {
                ApiError::invalid("invalid_parameter", "status must be enabled or disabled", Some("status"))
            })
        })
        .transpose()?;
    let change =
        EndpointUpdate { url, description: request.description, enabled_events: request.enabled_events, status };
    let now = state.now();
    let endpoint = state.db(move |conn| webhook_endpoints::update(conn, &caller.account_id, &id, &change, now)).await?;
    Ok(HttpResponse::Ok().json(WebhookEndpointView::from(endpoint)))
}

/// Delete a webhook endpoint (owner or admin session); its waiting deliveries are given up.
#[utoipa::path(tag = "webhook_endpoints", operation_id = "webhook_endpoints_delete", security(("bearer" = [])), params(("id" = String, Path, description = "`we_...`")), responses(
    (status = 200, description = "The deleted endpoint", body = WebhookEndpointView),
    (status = 403, description = "Not an owner/admin session", body = ErrorBody),
    (status = 404, description = "No such endpoint in this account", body = ErrorBody),
))]
#[delete("/webhook-endpoints/{id}")]
pub async fn remove(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require_manager()?;
    let id = endpoint_id(&id)?;
    let endpoint = state.db(move |conn| webhook_endpoints::delete(conn, &caller.account_id, &id)).await?;
    Ok(HttpResponse::Ok().json(WebhookEndpointView::from(endpoint)))
}

/// Give a webhook endpoint a new secret (owner or admin session), shown once. The previous one
/// keeps signing for the grace period: deliveries meanwhile carry two `v1` signatures, so a
/// receiver can switch secrets without missing one.
#[utoipa::path(tag = "webhook_endpoints", operation_id = "webhook_endpoints_rotate_secret", security(("bearer" = [])), params(("id" = String, Path, description = "`we_...`")), request_body(content = RotateWebhookSecretRequest, description = "The grace period (`{}` for a day)"), responses(
    (status = 200, description = "The endpoint, with its new secret", body = WebhookEndpointWithSecret),
    (status = 400, description = "Invalid grace period", body = ErrorBody),
    (status = 403, description = "Not an owner/admin session", body = ErrorBody),
    (status = 404, description = "No such endpoint in this account", body = ErrorBody),
))]
#[post("/webhook-endpoints/{id}/rotate-secret")]
pub async fn rotate_secret(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    caller.require_manager()?;
    let id = endpoint_id(&id)?;
    let request: RotateWebhookSecretRequest = if body.iter().all(u8::is_ascii_whitespace) {
        Default::default()
    } else {
        crate::idempotency::parse_json(&body)?
    };
    let grace = chrono::Duration::seconds(request.grace_period_seconds.unwrap_or(86_400));
    let now = state.now();
    let (endpoint, secret) =
        state.db(move |conn| webhook_endpoints::rotate_secret(conn, &caller.account_id, &id, grace, now)).await?;
    Ok(HttpResponse::Ok().json(WebhookEndpointWithSecret { endpoint: endpoint.into(), secret }))
}

/// An endpoint's deliveries, newest first, each with its attempts: status, response code and
/// duration (owner or admin session).
#[utoipa::path(tag = "webhook_endpoints", operation_id = "webhook_endpoints_list_deliveries", security(("bearer" = [])), params(("id" = String, Path, description = "`we_...`"), PageParams), responses(
    (status = 200, description = "A page of deliveries", body = WebhookDeliveryList),
    (status = 400, description = "Invalid limit or cursor", body = ErrorBody),
    (status = 403, description = "Not an owner/admin session", body = ErrorBody),
    (status = 404, description = "No such endpoint in this account", body = ErrorBody),
))]
#[get("/webhook-endpoints/{id}/deliveries")]
pub async fn list_deliveries(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require_manager()?;
    let id = endpoint_id(&id)?;
    let limit = page.limit()?;
    let cursor = page.cursor_as(WebhookDeliveryId::parse)?;
    let page = state
        .db(move |conn| webhook_endpoints::list_deliveries(conn, &caller.account_id, &id, cursor.as_ref(), limit))
        .await?;
    let next_cursor = page.has_more.then(|| page.items.last().map(|d| d.id.to_string())).flatten();
    Ok(HttpResponse::Ok().json(WebhookDeliveryList {
        data: page.items.into_iter().map(WebhookDeliveryView::from).collect(),
        has_more: page.has_more,
        next_cursor,
    }))
}

/// Send a delivery again, whatever became of it (owner or admin session): it is due at once.
#[utoipa::path(tag = "webhook_endpoints", operation_id = "webhook_endpoints_retry_delivery", security(("bearer" = [])),
    params(("id" = String, Path, description = "`we_...`"), ("delivery_id" = String, Path, description = "`whd_...`")),
    responses(
        (status = 202, description = "The delivery, due again", body = WebhookDeliveryView),
        (status = 403, description = "Not an owner/admin session", body = ErrorBody),
        (status = 404, description = "No such endpoint or delivery in this account", body = ErrorBody),
    ))]
#[post("/webhook-endpoints/{id}/deliveries/{delivery_id}/retry")]
pub async fn retry_delivery(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    caller.require_manager()?;
    let (id, delivery) = path.into_inner();
    let id = endpoint_id(&id)?;
    let delivery = WebhookDeliveryId::parse(&delivery).ok_or_else(|| ApiError::not_found("webhook delivery"))?;
    let now = state.now();
    let retried =
        state.db(move |conn| webhook_endpoints::retry_delivery(conn, &caller.account_id, &id, &delivery, now)).await?;
    Ok(HttpResponse::Accepted().json(WebhookDeliveryView::from(retried)))
}

#[cfg(test)]
mod tests {
    /// The spec's subscribable events are `*` and core's event types, value for value.
    #[test]
    fn the_spec_names_every_subscribable_event() {
        let documented = &crate::openapi::document()["components"]["schemas"]["EnabledEvent"]["enum"];
        let mut subscribable = vec!["*"];
        subscribable.extend(apinfer_core::domain::EventType::ALL.iter().map(|t| t.as_str()));
        assert_eq!(documented, &serde_json::json!(subscribable));
    }
}
