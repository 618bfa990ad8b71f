//! Members of family and business accounts (managed by the owner and admins).

use actix_web::{delete, get, post, web, HttpResponse};
use apinfer_core::ids::UserId;
use apinfer_core::store::accounts::Role;
use apinfer_core::store::audit::{self, Action};
use apinfer_core::store::members::{self, Member};
use apinfer_core::store::{api_keys, sessions};
use apinfer_core::Credits;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::views::{list_view, PageParams};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// A user to add.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMemberRequest {
    /// An existing user's email.
    #[schema(example = "bob@example.com")]
    pub email: String,
    /// `admin` (manages keys, members, settings) or `member` (spends and reads).
    #[schema(value_type = crate::enums::MemberRole, example = "member")]
    pub role: String,
    /// Most credits the member may spend per calendar month (UTC); no limit when absent.
    #[schema(value_type = Option<String>, format = "decimal", example = "500")]
    pub monthly_spend_limit: Option<Credits>,
}

/// A member of the account.
#[derive(Serialize, ToSchema)]
pub struct MemberView {
    /// `usr_...`
    pub user_id: String,
    pub email: String,
    pub name: Option<String>,
    /// `owner`, `admin` or `member`.
    #[schema(value_type = crate::enums::Role)]
    pub role: String,
    #[schema(value_type = Option<String>, format = "decimal", example = "500")]
    pub monthly_spend_limit: Option<Credits>,
    /// Spent (or held) this calendar month, counted against the limit.
    #[schema(value_type = String, format = "decimal", example = "12.25")]
    pub spent_this_month: Credits,
    pub joined_at: DateTime<Utc>,
}

impl From<Member> for MemberView {
    fn from(m: Member) -> Self {
        MemberView {
            user_id: m.user_id.to_string(),
            email: m.email,
            name: m.name,
            role: m.role.as_str().to_string(),
            monthly_spend_limit: m.monthly_spend_limit,
            spent_this_month: m.spent_this_month,
            joined_at: m.joined_at,
        }
    }
}

list_view!(MemberList, MemberView, "The account's members.");

/// The account's members (owner or admin session).
#[utoipa::path(tag = "members", operation_id = "members_list", security(("bearer" = [])), params(PageParams), responses(
    (status = 200, description = "Members in the order they joined (the owner first)", body = MemberList),
    (status = 403, description = "Not an owner/admin session", body = ErrorBody),
))]
#[get("/account/members")]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require_manager()?;
    let limit = page.limit()?;
    let cursor = page.cursor_as(UserId::parse)?;
    let now = state.now();
    let page = state.db(move |conn| members::list(conn, &caller.account_id, cursor.as_ref(), limit, now)).await?;
    let next_cursor = page.has_more.then(|| page.items.last().map(|m| m.user_id.to_string())).flatten();
    Ok(HttpResponse::Ok().json(MemberList {
        data: page.items.into_iter().map(MemberView::from).collect(),
        has_more: page.has_more,
        next_cursor,
    }))
}

/// Add an existing user to a family or business account (owner or admin session).
#[utoipa::path(tag = "members", operation_id = "members_create", security(("bearer" = [])), request_body = AddMemberRequest, responses(
    (status = 201, description = "The new member", body = MemberView),
    (status = 400, description = "Invalid role or limit", body = ErrorBody),
    (status = 403, description = "Not an owner/admin session", body = ErrorBody),
    (status = 404, description = "No user with this email", body = ErrorBody),
    (status = 409, description = "A personal account, or already a member", body = ErrorBody),
))]
#[post("/account/members")]
pub async fn add(
    caller: Caller,
    state: web::Data<AppState>,
    body: crate::extract::Json<AddMemberRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require_manager()?;
    let request = body.into_inner();
    let role = Role::parse(&request.role)
        .filter(|r| *r != Role::Owner)
        .ok_or_else(|| ApiError::invalid("invalid_role", "role must be admin or member", Some("role")))?;
    let now = state.now();
    let member = state
        .db(move |conn| {
            let (by, limit) = ((&caller.account_id, &caller.actor()), request.monthly_spend_limit);
            let add = |conn: &mut _| members::add(conn, &caller.account_id, &request.email, role, limit, now);
            audit::audited(conn, by, Action::MemberAdded, now, add, |member| {
                let details = json!({"email": member.email, "role": role.as_str(), "monthly_spend_limit": limit});
                (Some(member.user_id.to_string()), details)
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(MemberView::from(member)))
}

/// Remove a member (owner or admin session); the owner cannot be removed.
///
/// Their sessions for this account end at once, and the API keys they made in it are
/// revoked (keys act with their creator's standing, which leaves with them).
#[utoipa::path(tag = "members", operation_id = "members_delete", security(("bearer" = [])), params(("user_id" = String, Path, description = "`usr_...`")), responses(
    (status = 200, description = "The removed member", body = MemberView),
    (status = 403, description = "Not an owner/admin session", body = ErrorBody),
    (status = 404, description = "No such member", body = ErrorBody),
    (status = 409, description = "The owner cannot be removed", body = ErrorBody),
))]
#[delete("/account/members/{user_id}")]
pub async fn remove(
    caller: Caller,
    state: web::Data<AppState>,
    user_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require_manager()?;
    let user = UserId::parse(&user_id).ok_or_else(|| ApiError::not_found("member"))?;
    let now = state.now();
    let (member, _, revoked_keys) = state
        .db(move |conn| {
            let account = &caller.account_id;
            let remove = |conn: &mut _| {
                let member = members::remove(conn, account, &user, now)?;
                let sessions = sessions::revoke_all(conn, &user, Some(account), now)?;
                let keys = api_keys::revoke_created_by(conn, account, &user, now)?;
                Ok((member, sessions, keys))
            };
            audit::audited(
                conn,
                (account, &caller.actor()),
                Action::MemberRemoved,
                now,
                remove,
                |(member, sessions, keys)| {
                    let key_ids: Vec<&str> = keys.iter().map(|k| k.as_str()).collect();
                    let details =
                        json!({"email": member.email, "revoked_sessions": sessions, "revoked_api_keys": key_ids});
                    (Some(user.to_string()), details)
                },
            )
        })
        .await?;
    state.key_cache.invalidate_all(&revoked_keys);
    Ok(HttpResponse::Ok().json(MemberView::from(member)))
}
