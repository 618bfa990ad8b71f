//! The ledger as the account sees it: every credit movement, newest first.

use actix_web::{get, web, HttpResponse};
use apinfer_core::ids::TransactionId;
use apinfer_core::ledger::{EntryType, LedgerEntry};
use apinfer_core::store::api_keys::Scope;
use apinfer_core::store::entries::{self, EntryFilter};
use apinfer_core::Credits;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::views::{list_view, PageParams};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// One ledger entry.
#[derive(Serialize, ToSchema)]
pub struct TransactionView {
    /// `txn_...`
    pub id: String,
    /// `purchase`, `generation`, `refund`, `adjustment` or `auto_topup`.
    #[serde(rename = "type")]
    #[schema(value_type = crate::enums::TransactionType, example = "generation")]
    pub entry_type: String,
    /// Signed: positive added credits, negative removed them.
    #[schema(value_type = String, format = "decimal", example = "-1.75")]
    pub credits: Credits,
    /// The balance right after this entry.
    #[schema(value_type = String, format = "decimal", example = "98.25")]
    pub balance_after: Credits,
    /// The purchase, generation or refund this entry belongs to.
    pub reference_id: Option<String>,
    pub description: String,
    /// The API key that caused it, if any.
    pub api_key_id: Option<String>,
    /// The user who caused it, if any.
    pub user_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<LedgerEntry> for TransactionView {
    fn from(e: LedgerEntry) -> Self {
        TransactionView {
            id: e.id.to_string(),
            entry_type: e.entry_type.as_str().to_string(),
            credits: e.credits,
            balance_after: e.balance_after,
            reference_id: e.reference_id,
            description: e.description,
            api_key_id: e.api_key_id.map(|k| k.to_string()),
            user_id: e.user_id.map(|u| u.to_string()),
            created_at: e.created_at,
        }
    }
}

list_view!(TransactionList, TransactionView, "A page of ledger entries.");

/// Filters for the ledger.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TransactionFilter {
    /// Only entries of this type.
    #[serde(rename = "type")]
    #[param(rename = "type", value_type = Option<crate::enums::TransactionType>)]
    pub entry_type: Option<String>,
    /// Only entries at or after this time (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Only entries before this time (RFC 3339).
    pub to: Option<DateTime<Utc>>,
}

/// The account's ledger, newest first (scope `usage:read`). The entries sum to the balance.
#[utoipa::path(tag = "transactions", operation_id = "transactions_list", security(("bearer" = [])), params(TransactionFilter, PageParams), responses(
    (status = 200, description = "A page of entries", body = TransactionList),
    (status = 400, description = "Invalid filter, limit or cursor", body = ErrorBody),
    (status = 401, description = "Missing or invalid token", body = ErrorBody),
    (status = 403, description = "The key lacks `usage:read`", body = ErrorBody),
))]
#[get("/transactions")]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    filter: web::Query<TransactionFilter>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require_scope(Scope::UsageRead)?;
    let limit = page.limit()?;
    let entry_type = match filter.entry_type.as_deref() {
        None => None,
        Some(t) => Some(EntryType::parse(t).ok_or_else(|| {
            ApiError::invalid(
                "invalid_type",
                "type must be purchase, generation, refund, adjustment or auto_topup",
                Some("type"),
            )
        })?),
    };
    let filter = EntryFilter { entry_type, from: filter.from, to: filter.to };
    let cursor = page.cursor_as(TransactionId::parse)?;
    let page =
        state.db(move |conn| entries::list_entries(conn, &caller.account_id, &filter, cursor.as_ref(), limit)).await?;
    let next_cursor = if page.has_more { page.items.last().map(|e| e.id.to_string()) } else { None };
    Ok(HttpResponse::Ok().json(TransactionList {
        data: page.items.into_iter().map(TransactionView::from).collect(),
        has_more: page.has_more,
        next_cursor,
    }))
}
