//! Sign-up and login. Both are limited per client IP against password guessing.

use actix_web::{get, post, web, HttpMessage, HttpRequest, HttpResponse};
use apinfer_core::auth::{dummy_password_hash, hash_password, verify_password};
use apinfer_core::domain::{Email, Password};
use apinfer_core::ids::{AccountId, UserId};
use apinfer_core::store::accounts::{self, NewUser};
use apinfer_core::store::audit::{self, Action};
use apinfer_core::store::sessions;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::account::{AccountView, UserView};
use crate::auth::{
    check_same_origin, expired_session_cookie, session_cookie_for, start_session, AuthRateLimited, Caller, ViaCookie,
};
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
    let (user, account) = check_credentials(&state, email, password, account_id).await?;
    let (token, expires_at) = start_session(&state, &user, &account).await?;
    Ok(HttpResponse::Ok().json(LoginResponse { token, expires_at, account_id: account.to_string() }))
}

/// Checks a login: the password (throttled per account as well as per IP), and that the user
/// belongs to `account_id` (default: their own account). Returns the user and the account.
async fn check_credentials(
    state: &AppState,
    email: String,
    password: String,
    account_id: Option<String>,
) -> Result<(UserId, AccountId), ApiError> {
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
    Ok((user.id, membership.account.id))
}

/// A dashboard session, started or switched: its token is only in the `Set-Cookie`.
#[derive(Serialize, ToSchema)]
pub struct CookieSessionView {
    /// The logged-in user (`usr_...`).
    pub user_id: String,
    /// The account the session acts for (`acct_...`).
    pub account_id: String,
    /// When the session ends.
    pub expires_at: DateTime<Utc>,
}

/// Which of the user's accounts the dashboard session should act for.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchAccountRequest {
    /// An account the user belongs to (`acct_...`; see `GET /v1/me`'s `accounts`).
    pub account_id: String,
}

/// Answers a started session as its cookie (the token is in no body).
fn cookie_answer(
    state: &AppState,
    status: actix_web::http::StatusCode,
    (user, account): (&UserId, &AccountId),
    (token, expires_at): (String, DateTime<Utc>),
) -> HttpResponse {
    let view = CookieSessionView { user_id: user.to_string(), account_id: account.to_string(), expires_at };
    HttpResponse::build(status).cookie(session_cookie_for(state, token, expires_at)).json(view)
}

/// Log in to the dashboard: like `POST /v1/auth/login`, but the session token is set as an
/// HttpOnly, SameSite=Strict cookie (`apinfer_session`, path `/v1`, Secure over HTTPS) that page
/// scripts cannot read, and is not in the body. Requests with the cookie that change state must
/// come from this server's own origin (`Origin`), else 403 `cross_site_request`. Scripts and
/// servers use `POST /v1/auth/login` and `Authorization: Bearer` instead.
#[utoipa::path(tag = "auth", operation_id = "auth_create_session", request_body = LoginRequest, responses(
    (status = 201, description = "Logged in; the session is in the `Set-Cookie` header", body = CookieSessionView,
        headers(("Set-Cookie" = String, description = "`apinfer_session=...; Path=/v1; HttpOnly; SameSite=Strict`"))),
    (status = 401, description = "Wrong email or password", body = ErrorBody),
    (status = 403, description = "Sent from another site's page (`cross_site_request`)", body = ErrorBody),
    (status = 404, description = "The user is not a member of `account_id`", body = ErrorBody),
    (status = 429, description = "Too many attempts from this IP, or too many failed logins for this account", body = ErrorBody),
))]
#[post("/auth/session")]
pub async fn create_session(
    _limit: AuthRateLimited,
    req: HttpRequest,
    state: web::Data<AppState>,
    body: crate::extract::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    // Login CSRF: another site must not log a browser into an account of its choosing. (A
    // client that is no browser sends no `Origin`; it gets a cookie it could as well not use.)
    check_same_origin(&req, &state, true)?;
    let LoginRequest { email, password, account_id } = body.into_inner();
    let (user, account) = check_credentials(&state, email, password, account_id).await?;
    let started = start_session(&state, &user, &account).await?;
    Ok(cookie_answer(&state, actix_web::http::StatusCode::CREATED, (&user, &account), started))
}

/// Whether the request carries a live session.
#[derive(Serialize, ToSchema)]
pub struct SessionStatusView {
    /// True when the session cookie (or a bearer session token) is valid.
    pub signed_in: bool,
    /// The session's user (`usr_...`), when signed in.
    pub user_id: Option<String>,
    /// The account the session acts for (`acct_...`), when signed in.
    pub account_id: Option<String>,
}

/// Is this browser signed in? Answers 200 either way (a page that starts signed out need not
/// provoke a 401 to find out); the session itself stays in its HttpOnly cookie.
#[utoipa::path(tag = "auth", operation_id = "auth_retrieve_session", security(()), responses(
    (status = 200, description = "Whether a live session came with the request", body = SessionStatusView),
))]
#[get("/auth/session")]
pub async fn retrieve_session(caller: Option<Caller>) -> HttpResponse {
    let session = caller.filter(|c| c.session_id().is_some());
    HttpResponse::Ok().json(SessionStatusView {
        signed_in: session.is_some(),
        user_id: session.as_ref().map(|c| c.user_id.to_string()),
        account_id: session.as_ref().map(|c| c.account_id.to_string()),
    })
}

/// Switch the dashboard session to another of the user's accounts (the account switcher): ends
/// this session and sets a new cookie for `account_id`. Needs the session cookie.
#[utoipa::path(tag = "auth", operation_id = "auth_switch_account", security(("bearer" = [])), request_body = SwitchAccountRequest, responses(
    (status = 200, description = "The new session is in the `Set-Cookie` header", body = CookieSessionView,
        headers(("Set-Cookie" = String, description = "`apinfer_session=...; Path=/v1; HttpOnly; SameSite=Strict`"))),
    (status = 400, description = "A malformed body", body = ErrorBody),
    (status = 401, description = "Missing or invalid session", body = ErrorBody),
    (status = 403, description = "Sent from another site's page (`cross_site_request`), or not a cookie session (`cookie_session_required`, `session_required`)", body = ErrorBody),
    (status = 404, description = "The user is not a member of `account_id`", body = ErrorBody),
))]
#[post("/auth/switch-account")]
pub async fn switch_account(
    caller: Caller,
    req: HttpRequest,
    state: web::Data<AppState>,
    body: crate::extract::Json<SwitchAccountRequest>,
) -> Result<HttpResponse, ApiError> {
    let session = caller.session_id().cloned().ok_or_else(session_required)?;
    if req.extensions().get::<ViaCookie>().is_none() {
        return Err(ApiError::forbidden(
            "cookie_session_required",
            "switching accounts is for the dashboard's cookie session; with a token, log in again with `account_id`",
        ));
    }
    let account = AccountId::parse(&body.account_id).ok_or_else(|| ApiError::not_found("account"))?;
    let (user, now) = (caller.user_id.clone(), state.now());
    let expires_at = now + state.sessions.ttl();
    let (a, u) = (account.clone(), user.clone());
    let new = state.db(move |conn| sessions::switch(conn, &session, &u, &a, now, expires_at)).await?;
    let new = new.ok_or_else(|| ApiError::not_found("account"))?;
    let started = state.sessions.sign(&user, &account, &new, now, expires_at)?;
    Ok(cookie_answer(&state, actix_web::http::StatusCode::OK, (&user, &account), started))
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
pub async fn logout(caller: Caller, req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let session = caller.session_id().cloned().ok_or_else(session_required)?;
    let now = state.now();
    let revoked = state.db(move |conn| sessions::revoke(conn, &session, &caller.user_id, now)).await?;
    let mut answer = HttpResponse::Ok();
    if req.extensions().get::<ViaCookie>().is_some() {
        answer.cookie(expired_session_cookie(&state));
    }
    Ok(answer.json(LogoutResponse { revoked_sessions: revoked as u64 }))
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
