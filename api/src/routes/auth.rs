//! Sign-up and login. Both are limited per client IP against password guessing.

use actix_web::{post, web, HttpResponse};
use apinfer_core::auth::{dummy_password_hash, hash_password, verify_password, MIN_PASSWORD_LEN};
use apinfer_core::ids::AccountId;
use apinfer_core::store::accounts::{self, normalize_email, NewUser};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::account::{AccountView, UserView};
use crate::auth::AuthRateLimited;
use crate::error::{ApiError, ErrorBody, ErrorKind};
use crate::state::AppState;

const MAX_PASSWORD_LEN: usize = 1024;

/// A new user and their personal account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// Email address, used to log in (case-insensitive).
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// At least 8 characters.
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

/// An address of printable ASCII (no spaces, control, zero-width or bidi characters, so no
/// look-alike of another user's address), `local@domain` with a dot in the domain.
fn check_email(email: &str) -> Result<(), ApiError> {
    let valid = email.len() <= 254
        && email.bytes().all(|b| b.is_ascii_graphic())
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.') && !domain.starts_with('.'))
        && !email.chars().any(char::is_whitespace);
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid("invalid_email", "email must be a valid address", Some("email")))
    }
}

fn check_password(password: &str) -> Result<(), ApiError> {
    let len = password.chars().count();
    if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&len) {
        return Err(ApiError::invalid(
            "invalid_password",
            format!("password must be {MIN_PASSWORD_LEN}–{MAX_PASSWORD_LEN} characters"),
            Some("password"),
        ));
    }
    Ok(())
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
    check_email(&email)?;
    check_password(&password)?;
    let name = name.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
    if name.as_ref().is_some_and(|n| n.chars().count() > 100) {
        return Err(ApiError::invalid("invalid_name", "name must be at most 100 characters", Some("name")));
    }
    let now = state.now();
    let (user, account) = state
        .db(move |conn| {
            let password_hash = hash_password(&password)?;
            accounts::create_user_with_account(
                conn,
                NewUser { email: &email, password_hash: &password_hash, name: name.as_deref(), is_admin: false },
                now,
            )
        })
        .await?;
    let (token, expires_at) = state.sessions.issue(&user.id, &account.id, now)?;
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
    let account_key = normalize_email(&email);
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
    let outcome = state
        .db(move |conn| {
            let found = accounts::find_user_by_email(conn, &email)?;
            // Verify against a dummy hash for unknown emails so timing does not reveal them.
            let hash = found.as_ref().map(|(_, h)| h.as_str()).unwrap_or(dummy_password_hash());
            let valid = verify_password(&password, hash);
            let Some((user, _)) = found.filter(|_| valid) else { return Ok(None) };
            let membership = match &requested {
                Some(id) => accounts::membership(conn, id, &user.id)?,
                None => Some(accounts::owned_account(conn, &user.id)?),
            };
            Ok(Some((user, membership)))
        })
        .await?;
    let Some((user, membership)) = outcome else {
        state.limits.login_failures.failed(&account_key);
        return Err(ApiError::new(ErrorKind::AuthenticationRequired, "invalid_credentials", "wrong email or password"));
    };
    state.limits.login_failures.succeeded(&account_key);
    let membership = membership.ok_or_else(|| ApiError::not_found("account"))?;
    let (token, expires_at) = state.sessions.issue(&user.id, &membership.account.id, state.now())?;
    Ok(HttpResponse::Ok().json(LoginResponse { token, expires_at, account_id: membership.account.id.to_string() }))
}
