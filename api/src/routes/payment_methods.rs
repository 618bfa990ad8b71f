//! Saved cards, for purchases by `payment_method_id` and automatic top-up.

use actix_web::{delete, get, post, web, HttpResponse};
use apinfer_core::ids::PaymentMethodId;
use apinfer_core::purchasing::token_error;
use apinfer_core::store::api_keys::Scope;
use apinfer_core::store::audit::Action;
use apinfer_core::store::payment_methods::{self, PaymentMethod};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::audit::audited;

use super::purchases::refuse_card_data;
use super::views::{list_view, PageParams};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody, ErrorKind};
use crate::idempotency::parse_json;
use crate::state::AppState;

/// A card to save, as a one-time token from the payment provider's own page or script
/// (apinfer never receives the number).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePaymentMethodRequest {
    /// `card`: only cards can be saved.
    #[serde(rename = "type")]
    #[schema(value_type = crate::enums::SavedPaymentMethodType)]
    pub method_type: String,
    /// The provider's card token (the sandbox's: `tok_visa`, `tok_mastercard`, `tok_amex`, ...).
    #[schema(example = "tok_visa")]
    pub token: String,
}

/// A saved card (the number is kept only by the payment provider).
#[derive(Serialize, ToSchema)]
pub struct PaymentMethodView {
    /// `pm_...`
    pub id: String,
    /// `card`.
    #[serde(rename = "type")]
    pub method_type: String,
    /// `visa`, `mastercard` or `amex`.
    #[schema(value_type = crate::enums::CardBrand)]
    pub brand: String,
    pub last4: String,
    #[serde(deserialize_with = "crate::extract::integer")]
    pub exp_month: i32,
    #[serde(deserialize_with = "crate::extract::integer")]
    pub exp_year: i32,
    pub created_at: DateTime<Utc>,
}

impl From<PaymentMethod> for PaymentMethodView {
    fn from(pm: PaymentMethod) -> Self {
        PaymentMethodView {
            id: pm.id.to_string(),
            method_type: "card".into(),
            brand: pm.brand,
            last4: pm.last4,
            exp_month: pm.exp_month,
            exp_year: pm.exp_year,
            created_at: pm.created_at,
        }
    }
}

list_view!(PaymentMethodList, PaymentMethodView, "The account's saved cards.");

/// Save a card (owner/admin session or `purchases:write`).
#[utoipa::path(tag = "payment_methods", operation_id = "payment_methods_create", security(("bearer" = [])), request_body = CreatePaymentMethodRequest, responses(
    (status = 201, description = "The saved card", body = PaymentMethodView),
    (status = 409, description = "The account already keeps 20 saved cards (`too_many_payment_methods`)", body = ErrorBody),
    (status = 400, description = "An unknown card token, a brand not accepted, or card data instead of a token", body = ErrorBody),
    (status = 402, description = "The provider refused the card", body = ErrorBody),
    (status = 403, description = "Not allowed", body = ErrorBody),
))]
#[post("/payment-methods")]
pub async fn create(caller: Caller, state: web::Data<AppState>, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    caller.require_manager_or_scope(Scope::PurchasesWrite)?;
    refuse_card_data(&body)?;
    let request: CreatePaymentMethodRequest = parse_json(&body)?;
    if request.method_type != "card" {
        return Err(ApiError::invalid("invalid_payment_method", "only cards can be saved", Some("type")));
    }
    let now = state.now();
    let id = PaymentMethodId::generate();
    // The provider call blocks (a real provider is a network round trip): off the executor.
    let (provider, reference) = (state.payments.clone(), id.to_string());
    let saved = web::block(move || {
        provider.card_token(&request.token).map_err(|e| ApiError::from(token_error(&e)).with_param("token"))?;
        provider
            .save_card(&request.token, &reference)
            .map_err(|d| ApiError::new(ErrorKind::PaymentFailed, d.code, d.message))
    })
    .await
    .map_err(|e| ApiError::internal(anyhow::anyhow!("saving a card: {e}")))??;
    let (caller_account, caller_actor) = (caller.account_id.clone(), caller.actor());
    let pm = PaymentMethod {
        id,
        account_id: caller.account_id,
        provider: state.payments.name().to_string(),
        token: saved.token,
        brand: saved.card.brand.as_str().to_string(),
        last4: saved.card.last4,
        exp_month: saved.card.exp_month as i32,
        exp_year: saved.card.exp_year,
        created_at: now,
    };
    let who = (caller_account.clone(), caller_actor);
    let pm = audited(
        &state,
        who,
        Action::PaymentMethodSaved,
        move |conn, _| payment_methods::save_payment_method(conn, &pm),
        |pm| (Some(pm.id.to_string()), json!({"brand": pm.brand, "last4": pm.last4})),
    )
    .await?;
    Ok(HttpResponse::Created().json(PaymentMethodView::from(pm)))
}

/// The account's saved cards.
#[utoipa::path(tag = "payment_methods", operation_id = "payment_methods_list", security(("bearer" = [])), params(PageParams), responses(
    (status = 200, description = "Saved cards, newest first", body = PaymentMethodList),
))]
#[get("/payment-methods")]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require_manager_or_scope(Scope::PurchasesWrite)?;
    let limit = page.limit()?;
    let cursor = page.cursor_as(PaymentMethodId::parse)?;
    let page = state
        .db(move |conn| payment_methods::list_payment_methods(conn, &caller.account_id, cursor.as_ref(), limit))
        .await?;
    let next_cursor = page.has_more.then(|| page.items.last().map(|pm| pm.id.to_string())).flatten();
    Ok(HttpResponse::Ok().json(PaymentMethodList {
        data: page.items.into_iter().map(PaymentMethodView::from).collect(),
        has_more: page.has_more,
        next_cursor,
    }))
}

/// Forget a saved card.
#[utoipa::path(tag = "payment_methods", operation_id = "payment_methods_delete", security(("bearer" = [])), params(("id" = String, Path, description = "`pm_...`")), responses(
    (status = 200, description = "The deleted card", body = PaymentMethodView),
    (status = 404, description = "No such card in this account", body = ErrorBody),
))]
#[delete("/payment-methods/{id}")]
pub async fn remove(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require_manager_or_scope(Scope::PurchasesWrite)?;
    let id = PaymentMethodId::parse(&id).ok_or_else(|| ApiError::not_found("payment method"))?;
    let who = (caller.account_id.clone(), caller.actor());
    let pm = audited(
        &state,
        who,
        Action::PaymentMethodRemoved,
        move |conn, now| payment_methods::delete_payment_method(conn, &caller.account_id, &id, now),
        |pm| (Some(pm.id.to_string()), json!({"brand": pm.brand, "last4": pm.last4})),
    )
    .await?;
    Ok(HttpResponse::Ok().json(PaymentMethodView::from(pm)))
}

/// How a client collects a card for this server's payment provider.
#[derive(Serialize, ToSchema)]
pub struct PaymentProviderView {
    /// `sandbox` or `stripe`.
    #[schema(value_type = crate::enums::PaymentProviderName)]
    pub provider: String,
    /// Stripe's publishable key, to initialise Stripe.js with (`stripe` only).
    pub publishable_key: Option<String>,
    /// The sandbox's card form, which hands back test tokens (`sandbox` only).
    pub checkout_url: Option<String>,
    /// Stripe.js, to load from Stripe (`stripe` only).
    pub script_url: Option<String>,
}

/// Which payment provider takes the money, and what a browser needs to collect a card for it
/// (public). Cards reach apinfer only as that provider's tokens.
#[utoipa::path(tag = "payment_methods", operation_id = "payment_provider_retrieve", security(()), responses(
    (status = 200, description = "The provider and its client-side settings", body = PaymentProviderView),
))]
#[get("/payment-provider")]
pub async fn payment_provider(_limit: crate::auth::PublicRateLimited, state: web::Data<AppState>) -> HttpResponse {
    let name = state.payments.name();
    HttpResponse::Ok().json(PaymentProviderView {
        provider: name.to_string(),
        publishable_key: (name == "stripe").then(|| state.config.stripe.publishable_key.clone()).flatten(),
        checkout_url: (name == "sandbox").then(|| format!("{}/sandbox/checkout", state.config.base_url())),
        script_url: (name == "stripe").then(|| state.config.stripe.js_url.clone()),
    })
}
