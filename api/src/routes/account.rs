//! The caller: `/v1/me` and `/v1/account`.

use actix_web::{get, web, HttpResponse};
use apinfer_core::store::accounts::{self, Account, Membership, User};
use apinfer_core::store::members;
use apinfer_core::Credits;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// A user.
#[derive(Serialize, ToSchema)]
pub struct UserView {
    /// `usr_...`
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    /// Whether the user is an apinfer administrator.
    pub is_admin: bool,
    pub created_at: DateTime<Utc>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        UserView { id: u.id.to_string(), email: u.email, name: u.name, is_admin: u.is_admin, created_at: u.created_at }
    }
}

/// An account: the holder of a credit balance.
#[derive(Serialize, ToSchema)]
pub struct AccountView {
    /// `acct_...`
    pub id: String,
    /// `personal` (default), `family` or `business`.
    #[serde(rename = "type")]
    #[schema(value_type = crate::enums::AccountType, example = "personal")]
    pub account_type: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<Account> for AccountView {
    fn from(a: Account) -> Self {
        AccountView {
            id: a.id.to_string(),
            account_type: a.account_type.as_str().to_string(),
            name: a.name,
            created_at: a.created_at,
        }
    }
}

/// One account the user belongs to, with their role in it.
#[derive(Serialize, ToSchema)]
pub struct MembershipView {
    pub account: AccountView,
    /// `owner`, `admin` or `member`.
    #[schema(value_type = crate::enums::Role)]
    pub role: String,
}

impl From<Membership> for MembershipView {
    fn from(m: Membership) -> Self {
        MembershipView { account: m.account.into(), role: m.role.as_str().to_string() }
    }
}

/// The caller: user, the account acted for, the role there, and every account of the user.
#[derive(Serialize, ToSchema)]
pub struct MeView {
    pub user: UserView,
    pub account: AccountView,
    /// The user's role in `account`: `owner`, `admin` or `member`.
    #[schema(value_type = crate::enums::Role)]
    pub role: String,
    /// Every account the user belongs to.
    pub accounts: Vec<MembershipView>,
    /// When authenticated by API key, its id (`key_...`).
    pub api_key_id: Option<String>,
    /// The user's monthly spending limit in `account` (credits; null: none).
    #[schema(value_type = Option<String>, format = "decimal", example = "500")]
    pub monthly_spend_limit: Option<Credits>,
    /// What the user spent (or holds) in `account` this calendar month (UTC), in credits.
    #[schema(value_type = String, format = "decimal", example = "12.5")]
    pub monthly_spent: Credits,
}

/// Who am I: the user, the account the token acts for, and all the user's accounts.
#[utoipa::path(tag = "me", operation_id = "me_retrieve", security(("bearer" = [])), responses(
    (status = 200, description = "The caller", body = MeView),
    (status = 401, description = "Missing or invalid token", body = ErrorBody),
))]
#[get("/me")]
pub async fn me(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let (user_id, account_id, now) = (caller.user_id.clone(), caller.account_id.clone(), state.now());
    let (user, memberships, member) = state
        .db(move |conn| {
            let member = members::get(conn, &account_id, &user_id, now)?;
            Ok((accounts::get_user(conn, &user_id)?, accounts::memberships_of(conn, &user_id)?, member))
        })
        .await?;
    let account_id = &caller.account_id;
    let current = memberships
        .iter()
        .find(|m| &m.account.id == account_id)
        .cloned()
        .ok_or_else(|| ApiError::unauthorized("the session is no longer valid"))?;
    Ok(HttpResponse::Ok().json(MeView {
        user: user.into(),
        role: caller.role().unwrap_or(current.role).as_str().to_string(),
        account: current.account.into(),
        accounts: memberships.into_iter().map(MembershipView::from).collect(),
        api_key_id: caller.api_key_id().map(ToString::to_string),
        monthly_spend_limit: member.monthly_spend_limit,
        monthly_spent: member.spent_this_month,
    }))
}

/// The account the token acts for.
#[utoipa::path(tag = "account", operation_id = "account_retrieve", security(("bearer" = [])), responses(
    (status = 200, description = "The account", body = AccountView),
    (status = 401, description = "Missing or invalid token", body = ErrorBody),
))]
#[get("/account")]
pub async fn account(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let account = state.db(move |conn| accounts::get_account(conn, &caller.account_id)).await?;
    Ok(HttpResponse::Ok().json(AccountView::from(account)))
}
