//! API keys: created by the account's owner or admins with a session, shown once.
//!
//! `POST /v1/api-keys` does not honour `Idempotency-Key`: its response holds a secret that is
//! never stored, so it cannot be replayed. A retried creation makes a second key, which its
//! owner can revoke.

use actix_web::{delete, get, post, web, HttpResponse};
use apinfer_core::ids::ApiKeyId;
use apinfer_core::store::api_keys::{self, ApiKey, LimitReset, NewKey, Scope};
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
    /// Most credits the key may spend in total, or in each period of `spend_limit_reset`; no
    /// limit when absent.
    #[schema(value_type = Option<String>, format = "decimal", example = "500")]
    pub spend_limit: Option<Credits>,
    /// When `spend_limit` starts again from zero: `daily`, `weekly` (Mondays) or `monthly`, at
    /// 00:00 UTC. Absent, the limit is for the key's lifetime. Needs a `spend_limit`.
    #[schema(value_type = Option<crate::enums::LimitReset>, example = "monthly")]
    pub spend_limit_reset: Option<String>,
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
    /// Credits the key may spend (in total, or per `spend_limit_reset` period), or null for no
    /// limit.
    #[schema(value_type = Option<String>, format = "decimal", example = "500")]
    pub spend_limit: Option<Credits>,
    /// When the limit starts again from zero (`daily`, `weekly`, `monthly`, UTC), or null for a
    /// lifetime limit.
    #[schema(value_type = Option<crate::enums::LimitReset>, example = "monthly")]
    pub spend_limit_reset: Option<String>,
    /// When `spent` next starts again from zero, or null if it never does.
    pub spend_limit_resets_at: Option<DateTime<Utc>>,
    /// Credits spent (or held) through this key: in the current period when the limit resets,
    /// else so far.
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

impl ApiKeyView {
    /// The key as it stands at `now` (its spent in the current period).
    pub fn new(k: ApiKey, now: DateTime<Utc>) -> Self {
        let (spent, resets_at) = (k.spent_at(now), k.resets_at(now));
        ApiKeyView {
            id: k.id.to_string(),
            name: k.name,
            prefix: k.prefix,
            scopes: k.scopes.iter().map(|s| s.as_str().to_string()).collect(),
            spend_limit: k.spend_limit,
            spend_limit_reset: k.spend_limit_reset.map(|r| r.as_str().to_string()),
            spend_limit_resets_at: resets_at,
            spent,
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
    (status = 422, description = "An expiry in the past, or a `spend_limit_reset` without a `spend_limit`", body = ErrorBody),
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
    let spend_limit_reset = request
        .spend_limit_reset
        .as_deref()
        .map(|text| {
            LimitReset::parse(text).ok_or_else(|| {
                ApiError::invalid(
                    "invalid_parameter",
                    format!("spend_limit_reset must be daily, weekly or monthly, not {text:?}"),
                    Some("spend_limit_reset"),
                )
            })
        })
        .transpose()?;
    let now = state.now();
    let (key, secret) = state
        .db(move |conn| {
            let new = NewKey {
                account_id: &caller.account_id,
                user_id: &caller.user_id,
                name: &request.name,
                scopes: &scopes,
                spend_limit: request.spend_limit,
                spend_limit_reset,
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
                        json!({
                            "name": key.name,
                            "scopes": scopes,
                            "spend_limit": key.spend_limit,
                            "spend_limit_reset": key.spend_limit_reset.map(LimitReset::as_str),
                        }),
                    )
                },
            )
        })
        .await?;
    Ok(HttpResponse::Created().json(CreatedApiKey { api_key: ApiKeyView::new(key, now), key: secret }))
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
    let now = state.now();
    Ok(HttpResponse::Ok().json(ApiKeyList {
        data: page.items.into_iter().map(|k| ApiKeyView::new(k, now)).collect(),
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
    Ok(HttpResponse::Ok().json(ApiKeyView::new(key, now)))
}

/// The key a request is made with, and what it can still spend (OpenRouter's `/key`).
#[derive(Serialize, ToSchema)]
pub struct CurrentApiKey {
    #[serde(flatten)]
    pub api_key: ApiKeyView,
    /// What the key may still spend under its own `spend_limit` (in this period, when it
    /// resets), or null when it has none.
    #[schema(value_type = Option<String>, format = "decimal", example = "487.75")]
    pub remaining: Option<Credits>,
    /// The account's available credits (its balance less what is held for work under way).
    #[schema(value_type = String, format = "decimal", example = "1250.5")]
    pub account_available: Credits,
    /// What the key's creator may still spend this calendar month (UTC) under their monthly
    /// limit in the account, or null when they have none.
    #[schema(value_type = Option<String>, format = "decimal", example = "20")]
    pub member_monthly_remaining: Option<Credits>,
    /// What a spend through this key can take right now: the least of `remaining`,
    /// `account_available` and `member_monthly_remaining`.
    #[schema(value_type = String, format = "decimal", example = "20")]
    pub effective_remaining: Credits,
}

/// The API key this request is made with: its scopes, its spend limit and what it has spent,
/// and what it can still spend once the account's credits and its creator's monthly limit are
/// counted. Any live key may ask, whatever its scopes.
#[utoipa::path(tag = "api_keys", operation_id = "api_keys_current", security(("bearer" = [])), responses(
    (status = 200, description = "The calling key", body = CurrentApiKey),
    (status = 401, description = "Missing or invalid token", body = ErrorBody),
    (status = 403, description = "Called with a session token, not an API key (`api_key_required`)", body = ErrorBody),
))]
#[get("/api-keys/current")]
pub async fn current(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let Some(key_id) = caller.api_key_id().cloned() else {
        return Err(ApiError::forbidden(
            "api_key_required",
            "this endpoint describes the API key it is called with; call it with an API key, not a session token",
        ));
    };
    let now = state.now();
    let account = caller.account_id.clone();
    let (key, available, member) = state
        .db(move |conn| {
            let key = api_keys::get(conn, &account, &key_id)?;
            let available = apinfer_core::store::entries::balance(conn, &account)?.available();
            let member = apinfer_core::store::members::get(conn, &account, &key.user_id, now)?;
            Ok((key, available, member))
        })
        .await?;
    let left = |limit: Credits, spent: Credits| Credits::from_units((limit.units() - spent.units()).max(0));
    let remaining = key.spend_limit.map(|limit| left(limit, key.spent_at(now)));
    let member_monthly_remaining = member.monthly_spend_limit.map(|limit| left(limit, member.spent_this_month));
    let effective_remaining =
        [remaining, member_monthly_remaining].into_iter().flatten().fold(available, |least, bound| least.min(bound));
    Ok(HttpResponse::Ok().json(CurrentApiKey {
        api_key: ApiKeyView::new(key, now),
        remaining,
        account_available: available,
        member_monthly_remaining,
        effective_remaining,
    }))
}
