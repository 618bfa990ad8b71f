//! Notifications: low-balance alerts and automatic top-up outcomes.

use actix_web::{get, web, HttpResponse};
use apinfer_core::ids::NotificationId;
use apinfer_core::store::alerts::{self, Notification};
use apinfer_core::store::api_keys::Scope;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::views::{list_view, PageParams};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// A notification.
#[derive(Serialize, ToSchema)]
pub struct NotificationView {
    /// `ntf_...`
    pub id: String,
    /// `low_balance`, `auto_topup_succeeded`, `auto_topup_failed` or `auto_topup_skipped`.
    #[serde(rename = "type")]
    #[schema(value_type = crate::enums::NotificationType)]
    pub kind: String,
    pub message: String,
    /// Details, e.g. `{"available": "99", "threshold": "100"}`.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl From<Notification> for NotificationView {
    fn from(n: Notification) -> Self {
        NotificationView {
            id: n.id.to_string(),
            kind: n.kind,
            message: n.message,
            data: n.data,
            created_at: n.created_at,
        }
    }
}

list_view!(NotificationList, NotificationView, "A page of notifications.");

/// The account's notifications, newest first (scope `usage:read`).
#[utoipa::path(tag = "notifications", operation_id = "notifications_list", security(("bearer" = [])), params(PageParams), responses(
    (status = 200, description = "A page of notifications", body = NotificationList),
    (status = 400, description = "Invalid limit or cursor", body = ErrorBody),
))]
#[get("/notifications")]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require_scope(Scope::UsageRead)?;
    let limit = page.limit()?;
    let cursor = page.cursor_as(NotificationId::parse)?;
    let page =
        state.db(move |conn| alerts::list_notifications(conn, &caller.account_id, cursor.as_ref(), limit)).await?;
    let next_cursor = page.has_more.then(|| page.items.last().map(|n| n.id.to_string())).flatten();
    Ok(HttpResponse::Ok().json(NotificationList {
        data: page.items.into_iter().map(NotificationView::from).collect(),
        has_more: page.has_more,
        next_cursor,
    }))
}
