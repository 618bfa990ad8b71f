//! The audit trail: who did what to the account, and when, from which key or session (owner
//! or admin sessions only). [`audited`] runs a change and records it in one transaction.

use actix_web::{get, web, HttpResponse};
use apinfer_core::db::DbConn;
use apinfer_core::ids::{AccountId, AuditEventId};
use apinfer_core::store::audit::{self, Action, Actor, AuditEvent};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::views::{list_view, PageParams};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// Runs `change` and records `action` by `actor` in `account`'s audit trail, in one
/// transaction: `describe` names the target and the details from what `change` returned.
pub async fn audited<T, F, D>(
    state: &AppState,
    (account, actor): (AccountId, Actor),
    action: Action,
    change: F,
    describe: D,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConn, DateTime<Utc>) -> apinfer_core::Result<T> + Send + 'static,
    D: FnOnce(&T) -> (Option<String>, serde_json::Value) + Send + 'static,
{
    let now = state.now();
    state
        .db(move |conn| audit::audited(conn, (&account, &actor), action, now, |conn| change(conn, now), describe))
        .await
}

/// Who acted.
#[derive(Serialize, ToSchema)]
pub struct AuditActorView {
    /// The user (`usr_...`): the session's, or the key's creator.
    pub user_id: Option<String>,
    /// The API key used (`key_...`), if one was.
    pub api_key_id: Option<String>,
    /// The session used (`sess_...`), if one was.
    pub session_id: Option<String>,
}

/// One record of the audit trail.
#[derive(Serialize, ToSchema)]
pub struct AuditEventView {
    /// `aud_...`
    pub id: String,
    #[schema(value_type = crate::enums::AuditAction)]
    pub action: String,
    pub actor: AuditActorView,
    /// What was acted on (`key_...`, `usr_...`, `pm_...`, `ref_...`, `txn_...`, `acct_...`).
    pub target_id: Option<String>,
    /// What changed (e.g. a key's name and scopes, a member's role).
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl From<AuditEvent> for AuditEventView {
    fn from(e: AuditEvent) -> Self {
        AuditEventView {
            id: e.id.to_string(),
            action: e.action,
            actor: AuditActorView {
                user_id: e.actor.user_id.map(|u| u.to_string()),
                api_key_id: e.actor.api_key_id.map(|k| k.to_string()),
                session_id: e.actor.session_id.map(|s| s.to_string()),
            },
            target_id: e.target_id,
            details: e.details,
            created_at: e.created_at,
        }
    }
}

list_view!(AuditEventList, AuditEventView, "A page of the audit trail.");

/// Filters for the audit trail.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// Only records of this action.
    #[param(value_type = Option<crate::enums::AuditAction>)]
    pub action: Option<String>,
}

/// The account's audit trail, newest first (owner or admin session): keys created and revoked,
/// members added and removed, settings changed, cards saved and removed, refunds requested,
/// admin adjustments, sessions revoked.
#[utoipa::path(tag = "audit", operation_id = "audit_events_list", security(("bearer" = [])), params(AuditFilter, PageParams), responses(
    (status = 200, description = "A page of audit events", body = AuditEventList),
    (status = 400, description = "Invalid action, limit or cursor", body = ErrorBody),
    (status = 403, description = "Not an owner/admin session", body = ErrorBody),
))]
#[get("/audit-events")]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    filter: web::Query<AuditFilter>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require_manager()?;
    let limit = page.limit()?;
    let action = match filter.action.as_deref() {
        None => None,
        Some(a) => Some(Action::parse(a).ok_or_else(|| {
            ApiError::invalid("invalid_action", format!("unknown audit action {a:?}"), Some("action"))
        })?),
    };
    let cursor = page.cursor_as(AuditEventId::parse)?;
    let page = state.db(move |conn| audit::list(conn, &caller.account_id, action, cursor.as_ref(), limit)).await?;
    let next_cursor = page.has_more.then(|| page.items.last().map(|e| e.id.to_string())).flatten();
    Ok(HttpResponse::Ok().json(AuditEventList {
        data: page.items.into_iter().map(AuditEventView::from).collect(),
        has_more: page.has_more,
        next_cursor,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spec's enum of audit actions is core's list, value for value.
    #[test]
    fn the_spec_names_every_action() {
        let documented = &crate::openapi::document()["components"]["schemas"]["AuditAction"]["enum"];
        let actions: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(documented, &serde_json::json!(actions));
    }
}
