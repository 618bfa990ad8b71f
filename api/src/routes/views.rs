//! Response and request shapes shared by several resources.

use apinfer_core::Money;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;

/// An amount of money.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct MoneyView {
    /// Decimal amount, as a string: answers carry two fractional digits; requests may give 0–2.
    #[schema(value_type = String, format = "decimal", pattern = r"^[0-9]{1,12}(\.[0-9]{1,2})?$", example = "50.00")]
    pub amount: String,
    /// ISO 4217 currency code.
    #[schema(value_type = crate::enums::Currency, example = "CNY")]
    pub currency: String,
}

impl From<Money> for MoneyView {
    fn from(m: Money) -> Self {
        MoneyView { amount: m.amount_string(), currency: m.currency().as_str().to_string() }
    }
}

impl MoneyView {
    pub fn to_money(&self, param: &str) -> Result<Money, ApiError> {
        let currency = apinfer_core::credits::Currency::parse(&self.currency).ok_or_else(|| {
            ApiError::invalid("invalid_currency", "currency must be CNY", Some(&format!("{param}.currency")))
        })?;
        Money::parse(&self.amount, currency).ok_or_else(|| {
            ApiError::invalid(
                "invalid_amount",
                "amount must be a decimal string with at most 2 fractional digits",
                Some(&format!("{param}.amount")),
            )
        })
    }
}

/// `?limit=&cursor=` of every list.
#[derive(Deserialize, utoipa::IntoParams, Debug, Default)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page; a cursor that names no item of this list answers 404.
    pub cursor: Option<String>,
}

impl PageParams {
    pub fn limit(&self) -> Result<i64, ApiError> {
        match self.limit {
            None => Ok(20),
            Some(n) if (1..=100).contains(&n) => Ok(n),
            Some(_) => Err(ApiError::invalid("invalid_limit", "limit must be between 1 and 100", Some("limit"))),
        }
    }

    /// The cursor as a typed id; a cursor that cannot be one names no item: 404.
    pub fn cursor_as<T>(&self, parse: impl Fn(&str) -> Option<T>) -> Result<Option<T>, ApiError> {
        match self.cursor.as_deref() {
            None => Ok(None),
            Some(c) => parse(c).map(Some).ok_or_else(|| ApiError::not_found(apinfer_core::store::CURSOR)),
        }
    }
}

/// Declares a list envelope `{data, has_more, next_cursor}` for one item type.
macro_rules! list_view {
    ($name:ident, $item:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(serde::Serialize, utoipa::ToSchema)]
        pub struct $name {
            /// The items, newest first.
            pub data: Vec<$item>,
            /// Whether another page follows.
            pub has_more: bool,
            /// Pass as `cursor` to get the next page; null on the last page.
            pub next_cursor: Option<String>,
        }
    };
}
pub(crate) use list_view;
