//! Who is calling: API keys (`sk_...`, looked up by digest) and session JWTs (HS256, with
//! expiry, naming a session row that logging out revokes), both as `Authorization: Bearer`. The [`Caller`] extractor authenticates, applies the
//! per-client rate limit, and answers 401 for anything missing, malformed, expired or revoked.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use apinfer_core::auth::looks_like_api_key;
use apinfer_core::ids::{AccountId, ApiKeyId, SessionId, UserId};
use apinfer_core::store::accounts::{self, Role};
use apinfer_core::store::api_keys::{self, Scope};
use apinfer_core::store::audit::Actor;
use apinfer_core::store::sessions;
use chrono::{DateTime, Utc};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::ApiError;
use crate::rate_limit::{RateLimitStatus, RateLimits};
use crate::state::AppState;

/// Signing and verification keys for session tokens.
pub struct SessionKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl_seconds: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// The user.
    sub: String,
    /// The account the session acts for.
    acct: String,
    /// The session (a row that logging out revokes).
    sid: String,
    iat: i64,
    exp: i64,
}

impl SessionKeys {
    pub fn new(config: &Config) -> Self {
        let secret = config.jwt_secret.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        SessionKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl_seconds: config.session_ttl_seconds,
        }
    }

    /// Opens a session of `user` acting for `account` (a row in `sessions`) and signs its
    /// token; returns the token and when it expires.
    pub async fn start(
        &self,
        state: &AppState,
        user: &UserId,
        account: &AccountId,
    ) -> Result<(String, DateTime<Utc>), ApiError> {
        let now = state.now();
        let expires_at = now + chrono::Duration::seconds(self.ttl_seconds);
        let (u, a) = (user.clone(), account.clone());
        let session = state.db(move |conn| sessions::create(conn, &u, &a, now, expires_at)).await?;
        self.sign(user, account, &session, now, expires_at)
    }

    fn sign(
        &self,
        user: &UserId,
        account: &AccountId,
        session: &SessionId,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(String, DateTime<Utc>), ApiError> {
        let claims = Claims {
            sub: user.to_string(),
            acct: account.to_string(),
            sid: session.to_string(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ApiError::internal(anyhow::Error::new(e).context("signing a session token")))?;
        Ok((token, expires_at))
    }

    /// Verifies a token: signature (HS256 only, so `alg: none` fails), and expiry. Any
    /// failure is a plain 401, whatever the reason.
    fn verify(&self, token: &str) -> Result<(UserId, AccountId, SessionId), ApiError> {
        let data = decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| ApiError::unauthorized("the bearer token is invalid or expired"))?;
        let claims = data.claims;
        match (UserId::parse(&claims.sub), AccountId::parse(&claims.acct), SessionId::parse(&claims.sid)) {
            (Some(user), Some(account), Some(session)) => Ok((user, account, session)),
            _ => Err(ApiError::unauthorized("the bearer token is invalid or expired")),
        }
    }
}

/// How the caller authenticated.
#[derive(Clone, Debug)]
pub enum Credential {
    Session {
        role: Role,
        is_admin: bool,
        session_id: SessionId,
    },
    /// `creator_role`: the role the key's creator holds in the account now (a key whose
    /// creator left the account does not authenticate at all).
    ApiKey {
        key_id: ApiKeyId,
        scopes: Vec<Scope>,
        creator_role: Role,
    },
}

/// An authenticated caller, acting for one account.
#[derive(Clone, Debug)]
pub struct Caller {
    pub account_id: AccountId,
    /// The session's user, or the user who created the key.
    pub user_id: UserId,
    pub credential: Credential,
}

impl Caller {
    /// Sessions may do whatever their role allows; keys need the scope.
    pub fn require_scope(&self, scope: Scope) -> Result<(), ApiError> {
        match &self.credential {
            Credential::Session { .. } => Ok(()),
            Credential::ApiKey { scopes, .. } if scopes.contains(&scope) => Ok(()),
            Credential::ApiKey { .. } => {
                Err(ApiError::forbidden("missing_scope", format!("this API key lacks the {} scope", scope.as_str())))
            }
        }
    }

    /// Sessions may do whatever their role allows; keys need one of the scopes.
    pub fn require_any_scope(&self, scopes: &[Scope]) -> Result<(), ApiError> {
        match scopes.iter().find_map(|s| self.require_scope(*s).ok()) {
            Some(()) => Ok(()),
            None => self.require_scope(scopes[0]),
        }
    }

    /// Owner/admin sessions, or keys with the scope made by someone who is still an owner or
    /// admin of the account (members' sessions may not; nor may a key whose creator lost the
    /// role). What spending or managing the account's saved cards takes.
    pub fn require_manager_or_scope(&self, scope: Scope) -> Result<(), ApiError> {
        match &self.credential {
            Credential::Session { .. } => self.require_manager(),
            Credential::ApiKey { creator_role, .. } => {
                self.require_scope(scope)?;
                if creator_role.can_manage() {
                    Ok(())
                } else {
                    Err(ApiError::forbidden(
                        "key_creator_not_manager",
                        "this API key's creator is no longer an owner or admin of the account",
                    ))
                }
            }
        }
    }

    /// Who is acting, for the audit trail.
    pub fn actor(&self) -> Actor {
        match &self.credential {
            Credential::Session { session_id, .. } => {
                Actor { user_id: Some(self.user_id.clone()), api_key_id: None, session_id: Some(session_id.clone()) }
            }
            Credential::ApiKey { key_id, .. } => {
                Actor { user_id: Some(self.user_id.clone()), api_key_id: Some(key_id.clone()), session_id: None }
            }
        }
    }

    /// The session, when the caller authenticated with a session token.
    pub fn session_id(&self) -> Option<&SessionId> {
        match &self.credential {
            Credential::Session { session_id, .. } => Some(session_id),
            Credential::ApiKey { .. } => None,
        }
    }

    /// A session of an owner or admin of the account (managing keys, members, settings).
    pub fn require_manager(&self) -> Result<(), ApiError> {
        match &self.credential {
            Credential::Session { role, .. } if role.can_manage() => Ok(()),
            Credential::Session { .. } => {
                Err(ApiError::forbidden("owner_or_admin_required", "only the account's owner or admins may do this"))
            }
            Credential::ApiKey { .. } => Err(ApiError::forbidden(
                "session_required",
                "this endpoint needs a session token from /v1/auth/login, not an API key",
            )),
        }
    }

    /// A session of an apinfer platform admin (users created with `--admin`).
    pub fn require_platform_admin(&self) -> Result<(), ApiError> {
        match &self.credential {
            Credential::Session { is_admin: true, .. } => Ok(()),
            _ => Err(ApiError::forbidden("admin_required", "only apinfer administrators may do this")),
        }
    }

    pub fn api_key_id(&self) -> Option<&ApiKeyId> {
        match &self.credential {
            Credential::ApiKey { key_id, .. } => Some(key_id),
            Credential::Session { .. } => None,
        }
    }

    /// The session's role in the account (keys act with no role of their own).
    pub fn role(&self) -> Option<Role> {
        match &self.credential {
            Credential::Session { role, .. } => Some(*role),
            Credential::ApiKey { .. } => None,
        }
    }

    /// The key the rate limiter counts this caller under.
    fn rate_limit_key(&self) -> String {
        match &self.credential {
            Credential::ApiKey { key_id, .. } => key_id.to_string(),
            Credential::Session { .. } => format!("{}:{}", self.user_id, self.account_id),
        }
    }
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string()).filter(|t| !t.is_empty())
}

/// Verified API keys, kept briefly so that authenticating a key costs no database round-trip
/// on most requests. Revoking a key removes it here at once; other processes sharing the
/// database notice within the TTL (`APINFER_KEY_CACHE_SECONDS`). Expiry is checked on every
/// use. Bounded: when full, the cache is cleared.
pub struct KeyCache {
    ttl: std::time::Duration,
    entries: std::sync::RwLock<std::collections::HashMap<KeyDigest, CachedKey>>,
}

#[derive(Clone)]
struct CachedKey {
    caller: Caller,
    expires_at: Option<DateTime<Utc>>,
    verified_at: std::time::Instant,
}

const KEY_CACHE_CAPACITY: usize = 100_000;

/// SHA-256 of a key's secret: what the cache is keyed by (never the secret itself).
type KeyDigest = [u8; 32];

impl KeyCache {
    pub fn new(ttl: std::time::Duration) -> Self {
        KeyCache { ttl, entries: Default::default() }
    }

    fn get(&self, digest: &KeyDigest, now: DateTime<Utc>) -> Option<Caller> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        let hit = entries.get(digest)?;
        (hit.verified_at.elapsed() < self.ttl && hit.expires_at.is_none_or(|e| e > now)).then(|| hit.caller.clone())
    }

    fn put(&self, digest: KeyDigest, caller: Caller, expires_at: Option<DateTime<Utc>>) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= KEY_CACHE_CAPACITY {
            entries.clear();
        }
        entries.insert(digest, CachedKey { caller, expires_at, verified_at: std::time::Instant::now() });
    }

    /// Forgets a key (on revocation).
    pub fn invalidate(&self, key: &ApiKeyId) {
        self.invalidate_all(std::slice::from_ref(key));
    }

    /// Forgets keys (on revocation).
    pub fn invalidate_all(&self, keys: &[ApiKeyId]) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        entries.retain(|_, e| e.caller.api_key_id().is_none_or(|k| !keys.contains(k)));
    }
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
            state.writes.run(caller.account_id.as_str(), move |conn| api_keys::touch(conn, &key, now)).await?;
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
