//! API keys: created by the account's owner or admins with a session, shown once.
//!
//! `POST /v1/api-keys` does not honour `Idempotency-Key`: its response holds a secret that is
//! never stored, so it cannot be replayed. A retried creation makes a second key, which its
//! owner can revoke.

use actix_web::{delete, get, post, web, HttpResponse};
use apinfer_core::ids::ApiKeyId;
use apinfer_core::store::api_keys::{self, ApiKey, NewKey, Scope};
use apinfer_core::store::audit::{self, Action};
use apinfer_core::Credits;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::views::{list_view, PageParams};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// A new key.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// A label, 1–100 characters.
    #[schema(example = "nightly batch")]
    pub name: String,
    /// What the key may do: `balance:read`, `usage:read`, `generations:write`, `purchases:write`.
    #[schema(value_type = Vec<crate::enums::Scope>, example = json!(["balance:read", "generations:write"]))]
    pub scopes: Vec<String>,
    /// Most credits the key may spend in total; no limit when absent.
    #[schema(value_type = Option<String>, format = "decimal", example = "500")]
    pub spend_limit: Option<Credits>,
    /// When the key stops working; never when absent.
    pub expires_at: Option<DateTime<Utc>>,
}

/// An API key (the secret is only in the creation response).
#[derive(Serialize, ToSchema)]
pub struct ApiKeyView {
    /// `key_...`
    pub id: String,
    pub name: String,
    /// The first characters of the secret, to recognise it.
    #[schema(example = "sk_AbC12345")]
    pub prefix: String,
    pub scopes: Vec<String>,
    /// Credits the key may spend in total, or null for no limit.
    #[schema(value_type = Option<String>, format = "decimal", example = "500")]
    pub spend_limit: Option<Credits>,
    /// Credits spent (or held) through this key so far.
    #[schema(value_type = String, format = "decimal", example = "12.25")]
    pub spent: Credits,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// Set once the key is revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// The user who made the key (`usr_...`); their monthly limit applies to its spends.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

impl From<ApiKey> for ApiKeyView {
    fn from(k: ApiKey) -> Self {
        ApiKeyView {
            id: k.id.to_string(),
            name: k.name,
            prefix: k.prefix,
            scopes: k.scopes.iter().map(|s| s.as_str().to_string()).collect(),
            spend_limit: k.spend_limit,
            spent: k.spent,
            expires_at: k.expires_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
            created_by: k.user_id.to_string(),
            created_at: k.created_at,
        }
    }
}

/// A newly created key, with its secret shown this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub api_key: ApiKeyView,
    /// The secret (`sk_...`). Store it now: it cannot be shown again.
    pub key: String,
}

list_view!(ApiKeyList, ApiKeyView, "A list of API keys.");

/// Create an API key (owner or admin session).
#[utoipa::path(tag = "api_keys", operation_id = "api_keys_create", security(("bearer" = [])), request_body = CreateApiKeyRequest, responses(
    (status = 201, description = "The key, with its secret", body = CreatedApiKey),
    (status = 409, description = "The account already has 100 live keys (`too_many_api_keys`)", body = ErrorBody),
    (status = 400, description = "Invalid name, scopes, limit or expiry", body = ErrorBody),
    (status = 401, description = "Missing or invalid token", body = ErrorBody),
    (status = 403, description = "Not an owner/admin session", body = ErrorBody),
))]
#[post("/api-keys")]
pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    body: crate::extract::Json<CreateApiKeyRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require_manager()?;
    let request = body.into_inner();
    let mut scopes = Vec::with_capacity(request.scopes.len());
    for (i, text) in request.scopes.iter().enumerate() {
        let scope = Scope::parse(text).ok_or_else(|| {
            ApiError::invalid("invalid_scope", format!("unknown scope {text:?}"), Some(&format!("scopes.{i}")))
        })?;
        scopes.push(scope);
    }
    let now = state.now();
    let (key, secret) = state
        .db(move |conn| {
            let new = NewKey {
                account_id: &caller.account_id,
                user_id: &caller.user_id,
                name: &request.name,
                scopes: &scopes,
                spend_limit: request.spend_limit,
                expires_at: request.expires_at,
            };
            let by = (&caller.account_id, &caller.actor());
            audit::audited(
                conn,
                by,
                Action::ApiKeyCreated,
                now,
                |conn| api_keys::create(conn, new, now),
                |(key, _)| {
                    let scopes: Vec<&str> = key.scopes.iter().map(|s| s.as_str()).collect();
                    (
                        Some(key.id.to_string()),
                        json!({"name": key.name, "scopes": scopes, "spend_limit": key.spend_limit}),
                    )
                },
            )
        })
        .await?;
    Ok(HttpResponse::Created().json(CreatedApiKey { api_key: key.into(), key: secret }))
}

/// List the account's live API keys (never their secrets).
#[utoipa::path(tag = "api_keys", operation_id = "api_keys_list", security(("bearer" = [])), params(PageParams), responses(
    (status = 200, description = "The keys, newest first", body = ApiKeyList),
    (status = 401, description = "Missing or invalid token", body = ErrorBody),
    (status = 403, description = "Not an owner/admin session", body = ErrorBody),
))]
#[get("/api-keys")]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require_manager()?;
    let limit = page.limit()?;
    let cursor = page.cursor_as(ApiKeyId::parse)?;
    let page = state.db(move |conn| api_keys::list(conn, &caller.account_id, cursor.as_ref(), limit)).await?;
    let next_cursor = page.has_more.then(|| page.items.last().map(|k| k.id.to_string())).flatten();
    Ok(HttpResponse::Ok().json(ApiKeyList {
        data: page.items.into_iter().map(ApiKeyView::from).collect(),
        has_more: page.has_more,
        next_cursor,
    }))
}

/// Revoke an API key; it stops working at once.
#[utoipa::path(tag = "api_keys", operation_id = "api_keys_revoke", security(("bearer" = [])), params(("id" = String, Path, description = "`key_...`")), responses(
    (status = 200, description = "The revoked key", body = ApiKeyView),
    (status = 401, description = "Missing or invalid token", body = ErrorBody),
    (status = 403, description = "Not an owner/admin session", body = ErrorBody),
    (status = 404, description = "No such live key in this account", body = ErrorBody),
))]
#[delete("/api-keys/{id}")]
pub async fn revoke(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require_manager()?;
    let id = ApiKeyId::parse(&id).ok_or_else(|| ApiError::not_found("api key"))?;
    let now = state.now();
    let key = state
        .db(move |conn| {
            let by = (&caller.account_id, &caller.actor());
            let revoke = |conn: &mut _| api_keys::revoke(conn, &caller.account_id, &id, now);
            audit::audited(conn, by, Action::ApiKeyRevoked, now, revoke, |key| {
                (Some(key.id.to_string()), json!({"name": key.name}))
            })
        })
        .await?;
    state.key_cache.invalidate(&key.id);
    Ok(HttpResponse::Ok().json(ApiKeyView::from(key)))
}
