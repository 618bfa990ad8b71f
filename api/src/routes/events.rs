//! Events: what happened to the account (`generation.succeeded`, `purchase.failed`, ...), each
//! recorded in the transaction of the change it reports, kept at least 30 days.

use actix_web::{get, web, HttpResponse};
use apinfer_core::ids::EventId;
use apinfer_core::store::api_keys::Scope;
use apinfer_core::store::events::{self, Event, EventFilter, EventType};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::views::{list_view, PageParams};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// Something that happened to the account.
#[derive(Serialize, ToSchema)]
pub struct EventView {
    /// `evt_...`
    pub id: String,
    #[schema(value_type = crate::enums::EventType)]
    pub r#type: String,
    /// When it happened (unix seconds).
    pub created: i64,
    /// The object the event is about, as it was then, with an `object` field naming its kind:
    /// `generation` (`generation.*`: its `id`, `status`, `model`, `n`, `credits_charged` and, if
    /// it failed, `error_code`; `GET /v1/generations/{id}` has the rest), `purchase`, `refund`,
    /// `api_key`, `auto_topup`; for `balance.low`, `available` and `threshold`.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

impl From<Event> for EventView {
    fn from(e: Event) -> Self {
        EventView {
            id: e.id.to_string(),
            r#type: e.event_type.as_str().to_string(),
            created: e.created_at.timestamp(),
            data: e.data,
        }
    }
}

list_view!(EventList, EventView, "A page of events.");

/// Which events to list.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Only events of this type.
    #[param(value_type = Option<crate::enums::EventType>)]
    pub r#type: Option<String>,
    /// Only events created at or after this time (RFC 3339).
    pub created_gte: Option<DateTime<Utc>>,
    /// Only events created before this time (RFC 3339).
    pub created_lt: Option<DateTime<Utc>>,
}

/// The account's events, newest first (scope `usage:read`).
#[utoipa::path(tag = "events", operation_id = "events_list", security(("bearer" = [])), params(EventQuery, PageParams), responses(
    (status = 200, description = "A page of events", body = EventList),
    (status = 400, description = "Invalid type, time, limit or cursor", body = ErrorBody),
    (status = 403, description = "The key lacks `usage:read`", body = ErrorBody),
))]
#[get("/events")]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<EventQuery>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require_scope(Scope::UsageRead)?;
    let limit = page.limit()?;
    let query = query.into_inner();
    let event_type = match query.r#type.as_deref() {
        None => None,
        Some(text) => Some(EventType::parse(text).ok_or_else(|| {
            ApiError::invalid("invalid_parameter", format!("unknown event type {text:?}"), Some("type"))
        })?),
    };
    let filter = EventFilter { event_type, created_gte: query.created_gte, created_lt: query.created_lt };
    let cursor = page.cursor_as(EventId::parse)?;
    let page = state.db(move |conn| events::list(conn, &caller.account_id, &filter, cursor.as_ref(), limit)).await?;
    let next_cursor = page.has_more.then(|| page.items.last().map(|e| e.id.to_string())).flatten();
    Ok(HttpResponse::Ok().json(EventList {
        data: page.items.into_iter().map(EventView::from).collect(),
        has_more: page.has_more,
        next_cursor,
    }))
}

/// One event (scope `usage:read`).
#[utoipa::path(tag = "events", operation_id = "events_retrieve", security(("bearer" = [])), params(("id" = String, Path, description = "`evt_...`")), responses(
    (status = 200, description = "The event", body = EventView),
    (status = 403, description = "The key lacks `usage:read`", body = ErrorBody),
    (status = 404, description = "No such event in this account", body = ErrorBody),
))]
#[get("/events/{id}")]
pub async fn retrieve(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require_scope(Scope::UsageRead)?;
    let id = EventId::parse(&id).ok_or_else(|| ApiError::not_found("event"))?;
    let event = state.db(move |conn| events::get(conn, &caller.account_id, &id)).await?;
    Ok(HttpResponse::Ok().json(EventView::from(event)))
}

#[cfg(test)]
mod tests {
    /// The spec's enum of event types is core's list, value for value.
    #[test]
    fn the_spec_names_every_event_type() {
        let documented = &crate::openapi::document()["components"]["schemas"]["EventType"]["enum"];
        let types: Vec<&str> = super::EventType::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(documented, &serde_json::json!(types));
    }
}
