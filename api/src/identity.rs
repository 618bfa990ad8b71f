//! Who a caller is, once authenticated: the [`Caller`] and its [`Credential`] (a session or an
//! API key) with the permission checks handlers make, the session tokens' keys, and the cache of
//! verified API keys. Authenticating a request is [`crate::auth`]'s.

use apinfer_core::ids::{AccountId, ApiKeyId, SessionId, UserId};
use apinfer_core::store::accounts::Role;
use apinfer_core::store::api_keys::Scope;
use apinfer_core::store::audit::Actor;
use chrono::{DateTime, Utc};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::ApiError;

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

    /// How long a session lasts.
    pub fn ttl(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.ttl_seconds)
    }

    /// Signs the token of a session (see [`crate::auth::start_session`]); returns the token and
    /// when it expires.
    pub(crate) fn sign(
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
    pub(crate) fn verify(&self, token: &str) -> Result<(UserId, AccountId, SessionId), ApiError> {
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
    pub(crate) fn rate_limit_key(&self) -> String {
        match &self.credential {
            Credential::ApiKey { key_id, .. } => key_id.to_string(),
            Credential::Session { .. } => format!("{}:{}", self.user_id, self.account_id),
        }
    }
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
pub(crate) type KeyDigest = [u8; 32];

impl KeyCache {
    pub fn new(ttl: std::time::Duration) -> Self {
        KeyCache { ttl, entries: Default::default() }
    }

    pub(crate) fn get(&self, digest: &KeyDigest, now: DateTime<Utc>) -> Option<Caller> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        let hit = entries.get(digest)?;
        (hit.verified_at.elapsed() < self.ttl && hit.expires_at.is_none_or(|e| e > now)).then(|| hit.caller.clone())
    }

    pub(crate) fn put(&self, digest: KeyDigest, caller: Caller, expires_at: Option<DateTime<Utc>>) {
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
