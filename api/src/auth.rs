//! Who is calling: API keys (`sk_...`, looked up by digest) and session JWTs (HS256, with
//! expiry, naming a session row that logging out revokes), both as `Authorization: Bearer`. The [`Caller`] extractor authenticates, applies the
//! per-client rate limit, and answers 401 for anything missing, malformed, expired or revoked.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use apinfer_core::auth::looks_like_api_key;
use apinfer_core::group_commit::KeyTouch;
use apinfer_core::ids::{AccountId, UserId};
use apinfer_core::store::accounts::{self};
use apinfer_core::store::api_keys::{self};
use apinfer_core::store::sessions;
use chrono::{DateTime, Utc};

use crate::error::ApiError;
pub use crate::identity::{Caller, Credential};
use crate::rate_limit::{RateLimitStatus, RateLimits};
use crate::state::AppState;

/// Opens a session of `user` acting for `account` (a row in `sessions`) and signs its token;
/// returns the token and when it expires.
pub async fn start_session(
    state: &AppState,
    user: &UserId,
    account: &AccountId,
) -> Result<(String, DateTime<Utc>), ApiError> {
    let now = state.now();
    let expires_at = now + state.sessions.ttl();
    let (u, a) = (user.clone(), account.clone());
    let session = state.db(move |conn| sessions::create(conn, &u, &a, now, expires_at)).await?;
    state.sessions.sign(user, account, &session, now, expires_at)
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string()).filter(|t| !t.is_empty())
}

async fn authenticate(state: &AppState, token: String) -> Result<Caller, ApiError> {
    let now = state.now();
    if looks_like_api_key(&token) {
        let digest = apinfer_core::auth::api_key_sha256(&token);
        if let Some(caller) = state.key_cache.get(&digest, now) {
            return Ok(caller);
        }
        let found = state
            .db(move |conn| {
                let Some(key) = api_keys::find_by_secret(conn, &token)? else { return Ok(None) };
                if !key.is_usable(now) {
                    return Ok(None);
                }
                // A key acts with its creator's standing: none once they left the account.
                let Some(creator) = accounts::membership(conn, &key.account_id, &key.user_id)? else {
                    return Ok(None);
                };
                let touch = api_keys::needs_touch(&key, now).then(|| key.id.clone());
                let caller = Caller {
                    account_id: key.account_id,
                    user_id: key.user_id,
                    credential: Credential::ApiKey { key_id: key.id, scopes: key.scopes, creator_role: creator.role },
                };
                Ok(Some((caller, key.expires_at, touch)))
            })
            .await?;
        let (caller, expires_at, touch) =
            found.ok_or_else(|| ApiError::unauthorized("the API key is invalid, expired or revoked"))?;
        if let Some(key) = touch {
            // A write: on SQLite it queues with the generations' writes (one writer) instead of
            // polling for the write lock.
            let touch = KeyTouch { account: caller.account_id.clone(), key, now };
            state.writes.touch_key(touch).await?;
        }
        state.key_cache.put(digest, caller.clone(), expires_at);
        return Ok(caller);
    }
    let (user_id, account_id, session_id) = state.sessions.verify(&token)?;
    state
        .db(move |conn| {
            if !sessions::is_open(conn, &session_id, &user_id, &account_id)? {
                return Ok(None);
            }
            let user = accounts::get_user(conn, &user_id);
            let membership = accounts::membership(conn, &account_id, &user_id)?;
            Ok(match (user, membership) {
                (Ok(user), Some(m)) => Some(Caller {
                    account_id,
                    user_id,
                    credential: Credential::Session { role: m.role, is_admin: user.is_admin, session_id },
                }),
                _ => None,
            })
        })
        .await?
        .ok_or_else(|| ApiError::unauthorized("the session is no longer valid"))
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Caller, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .cloned()
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("application state missing")))?;
            let token = bearer(&req).ok_or_else(|| {
                ApiError::new(
                    crate::error::ErrorKind::AuthenticationRequired,
                    "missing_token",
                    "send an API key or session token as `Authorization: Bearer <token>`",
                )
            })?;
            let caller = authenticate(&state, token).await?;
            match state.limits.check_client(&caller.rate_limit_key()) {
                Ok(status) => {
                    req.extensions_mut().insert(status);
                    Ok(caller)
                }
                Err((status, error)) => {
                    req.extensions_mut().insert(status);
                    Err(error)
                }
            }
        })
    }
}

/// Applies the per-IP limit of `/v1/auth/*` (against password guessing). Extract it first in
/// auth handlers.
pub struct AuthRateLimited;

impl FromRequest for AuthRateLimited {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(limit_by_ip(req, RateLimits::check_auth_ip).map(|()| AuthRateLimited))
    }
}

/// Applies the per-IP limit of the public endpoints (catalog, quotes, payment webhooks).
pub struct PublicRateLimited;

impl FromRequest for PublicRateLimited {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(limit_by_ip(req, RateLimits::check_public_ip).map(|()| PublicRateLimited))
    }
}

type IpCheck = fn(&RateLimits, &str) -> Result<RateLimitStatus, (RateLimitStatus, ApiError)>;

/// Counts the request against one of the per-IP limits, and keeps the outcome for the
/// `X-RateLimit-*` headers.
fn limit_by_ip(req: &HttpRequest, check: IpCheck) -> Result<(), ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("application state missing")))?;
    let ip = req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_else(|| "unknown".into());
    let (status, outcome) = match check(&state.limits, &ip) {
        Ok(status) => (status, Ok(())),
        Err((status, error)) => (status, Err(error)),
    };
    req.extensions_mut().insert(status);
    outcome
}
