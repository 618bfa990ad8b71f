//! The account's balance.

use actix_web::{get, web, HttpResponse};
use apinfer_core::store::api_keys::Scope;
use apinfer_core::store::entries::{self, Balance};
use apinfer_core::Credits;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// Credits on the account.
#[derive(Serialize, ToSchema)]
pub struct BalanceView {
    pub account_id: String,
    /// All credits on the account.
    #[schema(value_type = String, format = "decimal", example = "5000")]
    pub balance: Credits,
    /// Reserved by generations in flight.
    #[schema(value_type = String, format = "decimal", example = "3.5")]
    pub held: Credits,
    /// `balance − held`: what can be spent now; never below 0.
    #[schema(value_type = String, format = "decimal", example = "4996.5")]
    pub available: Credits,
    /// Below this `available`, a low-balance alert fires (null when alerts are off).
    #[schema(value_type = Option<String>, format = "decimal", example = "100")]
    pub low_balance_threshold: Option<Credits>,
    pub updated_at: DateTime<Utc>,
}

impl From<Balance> for BalanceView {
    fn from(b: Balance) -> Self {
        BalanceView {
            account_id: b.account_id.to_string(),
            available: b.available(),
            balance: b.balance,
            held: b.held,
            low_balance_threshold: b.low_balance_threshold,
            updated_at: b.updated_at,
        }
    }
}

/// The account's balance (scope `balance:read`).
#[utoipa::path(tag = "balance", operation_id = "balance_retrieve", security(("bearer" = [])), responses(
    (status = 200, description = "The balance", body = BalanceView),
    (status = 401, description = "Missing or invalid token", body = ErrorBody),
    (status = 403, description = "The key lacks `balance:read`", body = ErrorBody),
    (status = 429, description = "Rate limited", body = ErrorBody),
))]
#[get("/balance")]
pub async fn balance(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    caller.require_scope(Scope::BalanceRead)?;
    let balance = state.read(move |conn| entries::balance(conn, &caller.account_id)).await?;
    Ok(HttpResponse::Ok().json(BalanceView::from(balance)))
}
