//! Who is calling: API keys (`sk_...`, looked up by digest) and session JWTs (HS256, with
//! expiry, naming a session row that logging out revokes), both as `Authorization: Bearer`. The [`Caller`] extractor authenticates, applies the
//! per-client rate limit, and answers 401 for anything missing, malformed, expired or revoked.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite};
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

/// The dashboard's session cookie: HttpOnly (page scripts never see the token), SameSite=Strict,
/// Secure when the public base URL is HTTPS, sent only to `/v1`.
pub const SESSION_COOKIE: &str = "apinfer_session";

/// Marks a request authenticated by the session cookie (see [`session_cookie`]).
#[derive(Clone, Copy)]
pub struct ViaCookie;

/// The session cookie of a request: a session token (never an API key: keys are bearer only).
fn session_cookie(req: &HttpRequest) -> Option<String> {
    let value = req.cookie(SESSION_COOKIE)?.value().to_string();
    (!value.is_empty() && !looks_like_api_key(&value)).then_some(value)
}

/// The `Set-Cookie` that carries a new dashboard session.
pub fn session_cookie_for(state: &AppState, token: String, expires_at: DateTime<Utc>) -> Cookie<'static> {
    let max_age = (expires_at - state.now()).num_seconds().max(0);
    Cookie::build(SESSION_COOKIE, token)
        .path("/v1")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.config.base_url().starts_with("https://"))
        .max_age(actix_web::cookie::time::Duration::seconds(max_age))
        .finish()
}

/// The `Set-Cookie` that ends the dashboard session in the browser.
pub fn expired_session_cookie(state: &AppState) -> Cookie<'static> {
    let mut cookie = session_cookie_for(state, String::new(), state.now());
    cookie.make_removal();
    cookie
}

/// CSRF defence for cookie-authenticated requests (on top of SameSite=Strict): a request that
/// changes state must come from a page of this server's own origin, as browsers tell by
/// `Origin` (sent with every non-GET fetch) or `Sec-Fetch-Site`; with `unknown_ok`, a request
/// that says neither (not a browser's) passes too. Requests that carry their token in
/// `Authorization` need no such check: another site cannot make a browser send one.
pub fn check_same_origin(req: &HttpRequest, state: &AppState, unknown_ok: bool) -> Result<(), ApiError> {
    if req.method().is_safe() {
        return Ok(());
    }
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let own = reqwest::Url::parse(&state.config.base_url()).map(|u| u.origin().ascii_serialization()).ok();
    let same = match (header("origin"), header("sec-fetch-site")) {
        (Some(origin), _) => own.as_deref() == Some(origin),
        (None, Some(site)) => site == "same-origin",
        (None, None) => unknown_ok,
    };
    if same {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "cross_site_request",
            "a request with the session cookie must come from this server's own pages; scripts and servers authenticate with `Authorization: Bearer`",
        ))
    }
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
            let token = match bearer(&req) {
                Some(token) => token,
                None => {
                    let token = session_cookie(&req).ok_or_else(|| {
                        ApiError::new(
                            crate::error::ErrorKind::AuthenticationRequired,
                            "missing_token",
                            "send an API key or session token as `Authorization: Bearer <token>`",
                        )
                    })?;
                    check_same_origin(&req, &state, false)?;
                    req.extensions_mut().insert(ViaCookie);
                    token
                }
            };
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
