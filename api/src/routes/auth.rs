//! Sign-up and login. Both are limited per client IP against password guessing.

use actix_web::{post, web, HttpResponse};
use apinfer_core::auth::{dummy_password_hash, hash_password, verify_password};
use apinfer_core::domain::{Email, Password};
use apinfer_core::ids::AccountId;
use apinfer_core::store::accounts::{self, NewUser};
use apinfer_core::store::audit::{self, Action};
use apinfer_core::store::sessions;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::account::{AccountView, UserView};
use crate::auth::{start_session, AuthRateLimited, Caller};
use crate::error::{ApiError, ErrorBody, ErrorKind};
use crate::state::AppState;

/// A new user and their personal account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// Email address, used to log in (case-insensitive).
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// 8–1,024 characters, not all blank, not a commonly used password (a shipped list of
    /// 10,000) and not the email itself.
    #[schema(example = "correct horse battery staple")]
    pub password: String,
    /// Display name; also names the personal account.
    pub name: Option<String>,
}

/// The created user, their account, and a session token.
#[derive(Serialize, ToSchema)]
pub struct SignupResponse {
    /// The new user.
    pub user: UserView,
    /// The user's personal account (they are its owner).
    pub account: AccountView,
    /// A session token for `Authorization: Bearer`.
    pub token: String,
    /// When the token expires.
    pub expires_at: DateTime<Utc>,
}

/// Credentials, and optionally which of the user's accounts the session acts for.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(example = "ada@example.com")]
    pub email: String,
    pub password: String,
    /// An account the user belongs to; default: the user's own (personal) account.
    pub account_id: Option<String>,
}

/// A session token.
#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    /// A session token for `Authorization: Bearer`.
    pub token: String,
    /// When the token expires.
    pub expires_at: DateTime<Utc>,
    /// The account the session acts for.
    pub account_id: String,
}

/// Create a user with a personal account, and log them in.
#[utoipa::path(tag = "auth", operation_id = "auth_signup", request_body = SignupRequest, responses(
    (status = 201, description = "User, account and session token", body = SignupResponse),
    (status = 400, description = "Invalid email, password or name", body = ErrorBody),
    (status = 409, description = "The email is taken", body = ErrorBody),
    (status = 429, description = "Too many attempts from this IP", body = ErrorBody),
))]
#[post("/auth/signup")]
pub async fn signup(
    _limit: AuthRateLimited,
    state: web::Data<AppState>,
    body: crate::extract::Json<SignupRequest>,
) -> Result<HttpResponse, ApiError> {
    let SignupRequest { email, password, name } = body.into_inner();
    let email = Email::parse(&email)?;
    let password = Password::new(password, &email)?;
    let name = name.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
    if name.as_ref().is_some_and(|n| n.chars().count() > 100) {
        return Err(ApiError::invalid("invalid_name", "name must be at most 100 characters", Some("name")));
    }
    let now = state.now();
    let password_hash = state.cpu_work(move || hash_password(&password)).await?.map_err(ApiError::internal)?;
    let (user, account) = state
        .db(move |conn| {
            accounts::create_user_with_account(
                conn,
                NewUser { email: &email, password_hash: &password_hash, name: name.as_deref(), is_admin: false },
                now,
            )
        })
        .await?;
    let (token, expires_at) = start_session(&state, &user.id, &account.id).await?;
    Ok(HttpResponse::Created().json(SignupResponse { user: user.into(), account: account.into(), token, expires_at }))
}

/// Exchange email and password for a session token.
#[utoipa::path(tag = "auth", operation_id = "auth_login", request_body = LoginRequest, responses(
    (status = 200, description = "A session token", body = LoginResponse),
    (status = 401, description = "Wrong email or password", body = ErrorBody),
    (status = 404, description = "The user is not a member of `account_id`", body = ErrorBody),
    (status = 429, description = "Too many attempts from this IP, or too many failed logins for this account (`too_many_failed_logins`, whether or not it exists)", body = ErrorBody),
))]
#[post("/auth/login")]
pub async fn login(
    _limit: AuthRateLimited,
    state: web::Data<AppState>,
    body: crate::extract::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let LoginRequest { email, password, account_id } = body.into_inner();
    // Throttled per account as well as per IP; the same for an address that has no account.
    let account_key = Email::normalize(&email);
    if let Err(seconds) = state.limits.login_failures.check(&account_key) {
        let mut e = ApiError::rate_limited(seconds);
        e.code = "too_many_failed_logins".into();
        e.message = "too many failed logins for this account; retry after Retry-After seconds".into();
        return Err(e);
    }
    let requested = match account_id {
        Some(id) => Some(AccountId::parse(&id).ok_or_else(|| ApiError::not_found("account"))?),
        None => None,
    };
    let found = state.db(move |conn| accounts::find_user_by_email(conn, &email)).await?;
    // Verify against a dummy hash for unknown emails so timing does not reveal them.
    let (found, valid) = state
        .cpu_work(move || {
            let hash = found.as_ref().map(|(_, h)| h.as_str()).unwrap_or(dummy_password_hash());
            let valid = verify_password(&password, hash);
            (found, valid)
        })
        .await?;
    let outcome = match found.filter(|_| valid) {
        None => None,
        Some((user, _)) => {
            let user_id = user.id.clone();
            let membership = state
                .db(move |conn| match &requested {
                    Some(id) => accounts::membership(conn, id, &user_id),
                    None => accounts::owned_account(conn, &user_id).map(Some),
                })
                .await?;
            Some((user, membership))
        }
    };
    let Some((user, membership)) = outcome else {
        state.limits.login_failures.failed(&account_key);
        return Err(ApiError::new(ErrorKind::AuthenticationRequired, "invalid_credentials", "wrong email or password"));
    };
    state.limits.login_failures.succeeded(&account_key);
    let membership = membership.ok_or_else(|| ApiError::not_found("account"))?;
    let (token, expires_at) = start_session(&state, &user.id, &membership.account.id).await?;
    Ok(HttpResponse::Ok().json(LoginResponse { token, expires_at, account_id: membership.account.id.to_string() }))
}

/// How many sessions a logout ended.
#[derive(Serialize, ToSchema)]
pub struct LogoutResponse {
    /// Sessions ended by this request (0 when there was nothing left to end).
    pub revoked_sessions: u64,
}

/// Log out: end this session. Its token stops working at once (a session token, not an API
/// key; revoke keys with `DELETE /v1/api-keys/{id}`).
#[utoipa::path(tag = "auth", operation_id = "auth_logout", security(("bearer" = [])), responses(
    (status = 200, description = "The session is over", body = LogoutResponse),
    (status = 403, description = "An API key, not a session token (`session_required`)", body = ErrorBody),
))]
#[post("/auth/logout")]
pub async fn logout(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let session = caller.session_id().cloned().ok_or_else(session_required)?;
    let now = state.now();
    let revoked = state.db(move |conn| sessions::revoke(conn, &session, &caller.user_id, now)).await?;
    Ok(HttpResponse::Ok().json(LogoutResponse { revoked_sessions: revoked as u64 }))
}

/// Log out everywhere: end every session of this user, in every account, this one included.
#[utoipa::path(tag = "auth", operation_id = "auth_logout_all", security(("bearer" = [])), responses(
    (status = 200, description = "Every session of the user is over", body = LogoutResponse),
    (status = 403, description = "An API key, not a session token (`session_required`)", body = ErrorBody),
))]
#[post("/auth/logout-all")]
pub async fn logout_all(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    caller.session_id().ok_or_else(session_required)?;
    let now = state.now();
    let actor = caller.actor();
    let revoked = state
        .db(move |conn| {
            let revoke = |conn: &mut _| sessions::revoke_all(conn, &caller.user_id, None, now);
            audit::audited(conn, (&caller.account_id, &actor), Action::SessionsRevoked, now, revoke, |revoked| {
                (Some(caller.user_id.to_string()), json!({"revoked_sessions": revoked, "scope": "everywhere"}))
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(LogoutResponse { revoked_sessions: revoked as u64 }))
}

fn session_required() -> ApiError {
    ApiError::forbidden("session_required", "this endpoint needs a session token from /v1/auth/login, not an API key")
}
