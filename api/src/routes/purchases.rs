//! Buying credit packages, and refunding their unused credits.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use apinfer_core::ids::{PaymentMethodId, PurchaseId};
use apinfer_core::payments::Wallet;
use apinfer_core::purchasing::{self, Payment, PurchaseOutcome, PurchaseRequest};
use apinfer_core::refunding;
use apinfer_core::store::api_keys::Scope;
use apinfer_core::store::purchases::{self, Purchase};
use apinfer_core::store::refunds::{self, Refund};
use apinfer_core::Credits;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::views::{list_view, MoneyView, PageParams};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody, ErrorKind};
use crate::idempotency::{self, parse_json, IdempotencyKey};
use crate::state::AppState;

/// How to pay: `{"type":"card","token":"tok_..."}` (a one-time token from the payment
/// provider's own page or script: apinfer never receives a card number),
/// `{"type":"card","payment_method_id":"pm_..."}`, `{"type":"alipay"}`, `{"type":"wechat_pay"}`
/// or `{"type":"bank_transfer"}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentMethodInput {
    /// `card`, `alipay`, `wechat_pay` or `bank_transfer`.
    #[serde(rename = "type")]
    #[schema(value_type = crate::enums::PaymentMethodType, example = "card")]
    pub method_type: String,
    /// A card token from the payment provider (with `type: card`). The sandbox's test tokens:
    /// `tok_visa`, `tok_mastercard`, `tok_amex` succeed; `tok_chargeDeclined` and
    /// `tok_chargeDeclinedInsufficientFunds` are declined; `tok_discover` is a brand not
    /// accepted; `tok_threeDSecureRequired` needs 3-D Secure (`requires_action`).
    #[schema(example = "tok_visa")]
    pub token: Option<String>,
    /// A saved card to charge (with `type: card`), `pm_...`.
    pub payment_method_id: Option<String>,
}

/// Refuses a body that carries card data (a `card` object, a `number` or a `cvc`, at any
/// depth): apinfer never receives card numbers, and says how to pay instead.
pub fn refuse_card_data(body: &[u8]) -> Result<(), ApiError> {
    fn carries(value: &serde_json::Value) -> bool {
        match value {
            serde_json::Value::Object(map) => {
                map.keys().any(|k| matches!(k.as_str(), "card" | "number" | "cvc")) || map.values().any(carries)
            }
            serde_json::Value::Array(items) => items.iter().any(carries),
            _ => false,
        }
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value) if carries(&value) => Err(ApiError::invalid(
            "card_data_not_accepted",
            "apinfer never accepts card numbers or CVCs: collect the card with the payment provider's own \
             page or script (Stripe.js; in development the sandbox's /sandbox/checkout) and send its token \
             as {\"type\": \"card\", \"token\": \"tok_...\"}, or use a saved card's payment_method_id",
            None,
        )),
        _ => Ok(()),
    }
}

/// A package to buy and how to pay.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePurchaseRequest {
    #[schema(example = "standard")]
    pub package_id: String,
    pub payment_method: PaymentMethodInput,
}

/// How a purchase was paid.
#[derive(Serialize, ToSchema)]
pub struct PaymentMethodSummary {
    /// `card`, `alipay`, `wechat_pay` or `bank_transfer`.
    #[serde(rename = "type")]
    #[schema(value_type = crate::enums::PaymentMethodType)]
    pub method_type: String,
    /// `visa`, `mastercard` or `amex` (cards).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::enums::CardBrand>)]
    pub brand: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last4: Option<String>,
    /// The saved card used, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_method_id: Option<String>,
}

/// What the customer must do to pay (3-D Secure, Alipay, WeChat Pay).
#[derive(Serialize, ToSchema)]
pub struct NextActionView {
    /// `redirect` (3-D Secure, Alipay), `qr_code` (WeChat Pay), or `use_stripe_sdk` (3-D Secure
    /// completed in the browser by Stripe.js: `stripe.handleNextAction({clientSecret})`).
    #[serde(rename = "type")]
    #[schema(value_type = crate::enums::NextActionType)]
    pub action_type: String,
    /// Where to send the customer, or what to encode in the QR code (`redirect`, `qr_code`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The PaymentIntent's client secret, for Stripe.js (`use_stripe_sdk`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

impl From<apinfer_core::payments::NextAction> for NextActionView {
    fn from(a: apinfer_core::payments::NextAction) -> Self {
        // For Stripe.js the stored value is the client secret, not a URL.
        let stripe_sdk = a.action_type == "use_stripe_sdk";
        NextActionView {
            url: (!stripe_sdk).then(|| a.url.clone()),
            client_secret: stripe_sdk.then_some(a.url),
            action_type: a.action_type,
        }
    }
}

/// Where to send a bank transfer.
#[derive(Serialize, ToSchema)]
pub struct BankTransferView {
    /// Quote it with the transfer.
    pub reference: String,
    pub beneficiary: String,
    pub bank_name: String,
    pub account_number: String,
}

/// A purchase of a credit package; once succeeded, a credit lot.
#[derive(Serialize, ToSchema)]
pub struct PurchaseView {
    /// `pur_...`
    pub id: String,
    pub package_id: String,
    /// Credits the package adds.
    #[schema(value_type = String, format = "decimal", example = "5000")]
    pub credits: Credits,
    /// What was (or is to be) paid.
    pub amount: MoneyView,
    /// `succeeded`, `requires_action`, `pending`, `processing`, `failed`, `refunded` or `partially_refunded`.
    #[schema(value_type = crate::enums::PurchaseStatus)]
    pub status: String,
    pub payment_method: PaymentMethodSummary,
    /// For `requires_action`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_action: Option<NextActionView>,
    /// For bank transfers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bank_transfer: Option<BankTransferView>,
    /// The lot's unused credits (spending consumes lots oldest first).
    #[schema(value_type = String, format = "decimal", example = "4998.25")]
    pub credits_remaining: Credits,
    /// Credits refunded from this lot.
    #[schema(value_type = String, format = "decimal", example = "0")]
    pub refunded_credits: Credits,
    /// What the unused credits are worth back (the price paid per credit, rounded down to the
    /// fen); null when the purchase cannot be refunded (not paid, window over, nothing left).
    pub refundable_amount: Option<MoneyView>,
    /// Until when unused credits may be refunded (30 days after payment); null until paid.
    pub refundable_until: Option<DateTime<Utc>>,
    /// Why it failed (`card_declined`, `insufficient_funds`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_message: Option<String>,
    /// Bought by automatic top-up.
    pub auto_topup: bool,
    pub created_at: DateTime<Utc>,
    pub succeeded_at: Option<DateTime<Utc>>,
}

impl PurchaseView {
    /// The purchase as it stands at `now`.
    pub fn at(p: Purchase, now: DateTime<Utc>) -> Self {
        PurchaseView {
            refundable_amount: p.refundable_amount(now).map(MoneyView::from),
            refundable_until: p.refundable_until(),
            id: p.id.to_string(),
            package_id: p.package_id,
            credits: p.credits,
            amount: p.amount.into(),
            status: p.status.as_str().to_string(),
            payment_method: PaymentMethodSummary {
                method_type: p.method_type.as_str().to_string(),
                brand: p.card_brand,
                last4: p.card_last4,
                payment_method_id: p.payment_method_id,
            },
            next_action: p.next_action.map(NextActionView::from),
            bank_transfer: p.bank_transfer.map(|b| BankTransferView {
                reference: b.reference,
                beneficiary: b.beneficiary,
                bank_name: b.bank_name,
                account_number: b.account_number,
            }),
            credits_remaining: p.credits_remaining,
            refunded_credits: p.refunded_credits,
            failure_code: p.failure_code,
            failure_message: p.failure_message,
            auto_topup: p.auto_topup,
            created_at: p.created_at,
            succeeded_at: p.succeeded_at,
        }
    }
}

/// A refund of a purchase's unused credits.
#[derive(Serialize, ToSchema)]
pub struct RefundView {
    /// `ref_...`
    pub id: String,
    pub purchase_id: String,
    /// Credits taken off the balance.
    #[schema(value_type = String, format = "decimal", example = "4000")]
    pub credits: Credits,
    /// Money returned, at the price paid per credit.
    pub amount: MoneyView,
    /// `processing`, then `succeeded` once the money has arrived.
    #[schema(value_type = crate::enums::RefundStatus)]
    pub status: String,
    /// When the money should arrive: 5 business days after the request.
    pub expected_by: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl From<Refund> for RefundView {
    fn from(r: Refund) -> Self {
        RefundView {
            id: r.id.to_string(),
            purchase_id: r.purchase_id.to_string(),
            credits: r.credits,
            amount: r.amount.into(),
            status: r.status.as_str().to_string(),
            expected_by: r.expected_by,
            created_at: r.created_at,
            completed_at: r.completed_at,
        }
    }
}

list_view!(PurchaseList, PurchaseView, "A page of purchases.");
list_view!(RefundList, RefundView, "A page of refunds.");

fn payment(input: PaymentMethodInput) -> Result<Payment, ApiError> {
    let invalid = |code: &str, message: &str, param: &str| ApiError::invalid(code, message, Some(param));
    let card_fields = input.token.is_some() || input.payment_method_id.is_some();
    match input.method_type.as_str() {
        "card" => match (input.token, input.payment_method_id) {
            (Some(token), None) => Ok(Payment::CardToken(token)),
            (None, Some(id)) => Ok(Payment::SavedCard(
                PaymentMethodId::parse(&id).ok_or_else(|| ApiError::not_found("payment method"))?,
            )),
            _ => Err(invalid(
                "invalid_payment_method",
                "a card payment needs exactly one of `token` and `payment_method_id`",
                "payment_method",
            )),
        },
        "alipay" | "wechat_pay" | "bank_transfer" if card_fields => Err(invalid(
            "invalid_payment_method",
            "`token` and `payment_method_id` go only with type `card`",
            "payment_method",
        )),
        "alipay" => Ok(Payment::Wallet(Wallet::Alipay)),
        "wechat_pay" => Ok(Payment::Wallet(Wallet::WechatPay)),
        "bank_transfer" => Ok(Payment::BankTransfer),
        _ => Err(invalid(
            "invalid_payment_method",
            "payment_method.type must be card, alipay, wechat_pay or bank_transfer",
            "payment_method.type",
        )),
    }
}

/// Buy a credit package (scope `purchases:write`; honours `Idempotency-Key`).
///
/// Cards are charged at once and the credits are on the balance before the response; a card
/// that needs 3-D Secure, and Alipay/WeChat Pay, answer `requires_action` with a `next_action`;
/// bank transfers answer `pending` with transfer instructions. Those are credited when the
/// payment is confirmed. A body carrying a card number or CVC answers 400
/// `card_data_not_accepted`.
#[utoipa::path(tag = "purchases", operation_id = "purchases_create", security(("bearer" = [])), request_body = CreatePurchaseRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    responses(
        (status = 201, description = "The purchase", body = PurchaseView),
        (status = 400, description = "An unknown card token, a brand not accepted, card data instead of a token, or an invalid payment method", body = ErrorBody),
        (status = 402, description = "The card was declined (`card_declined`, `insufficient_funds`); a failed purchase is recorded", body = ErrorBody),
        (status = 403, description = "The key lacks `purchases:write`, or a member (or a key whose creator is no longer an owner/admin) spends a saved card", body = ErrorBody),
        (status = 404, description = "No such package or saved card", body = ErrorBody),
        (status = 409, description = "Idempotency conflict", body = ErrorBody),
    ))]
#[post("/purchases")]
pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    key: IdempotencyKey,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    caller.require_scope(Scope::PurchasesWrite)?;
    refuse_card_data(&body)?;
    let request: CreatePurchaseRequest = parse_json(&body)?;
    let run_state = state.clone();
    idempotency::run(state, caller.account_id.clone(), key, &req, &body, move || async move {
        let payment = payment(request.payment_method)?;
        if matches!(payment, Payment::SavedCard(_)) {
            // The account's saved cards are the owner's and admins' to spend.
            caller.require_manager_or_scope(Scope::PurchasesWrite)?;
        }
        let (now, provider) = (run_state.now(), run_state.payments.clone());
        let outcome = run_state
            .db(move |conn| {
                let request = PurchaseRequest {
                    account_id: &caller.account_id,
                    package_id: &request.package_id,
                    payment,
                    user_id: Some(&caller.user_id),
                    api_key_id: caller.api_key_id(),
                    auto_topup: false,
                };
                purchasing::purchase(conn, provider.as_ref(), request, now)
            })
            .await?;
        match outcome {
            PurchaseOutcome::Accepted(purchase) => Ok((StatusCode::CREATED, PurchaseView::at(purchase, now))),
            PurchaseOutcome::Declined(purchase, declined) => Err(ApiError::new(
                ErrorKind::PaymentFailed,
                declined.code,
                format!("{} (purchase {} recorded as failed)", declined.message, purchase.id),
            )),
        }
    })
    .await
}

/// The account's purchases, newest first (scope `usage:read` or `purchases:write`).
#[utoipa::path(tag = "purchases", operation_id = "purchases_list", security(("bearer" = [])), params(PageParams), responses(
    (status = 200, description = "A page of purchases", body = PurchaseList),
    (status = 400, description = "Invalid limit or cursor", body = ErrorBody),
    (status = 403, description = "The key lacks the scope", body = ErrorBody),
))]
#[get("/purchases")]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any_scope(&[Scope::UsageRead, Scope::PurchasesWrite])?;
    let limit = page.limit()?;
    let cursor = page.cursor_as(PurchaseId::parse)?;
    let page = state.db(move |conn| purchases::list(conn, &caller.account_id, cursor.as_ref(), limit)).await?;
    let next_cursor = page.has_more.then(|| page.items.last().map(|p| p.id.to_string())).flatten();
    let now = state.now();
    Ok(HttpResponse::Ok().json(PurchaseList {
        data: page.items.into_iter().map(|p| PurchaseView::at(p, now)).collect(),
        has_more: page.has_more,
        next_cursor,
    }))
}

/// One purchase (scope `usage:read` or `purchases:write`).
#[utoipa::path(tag = "purchases", operation_id = "purchases_retrieve", security(("bearer" = [])), params(("id" = String, Path, description = "`pur_...`")), responses(
    (status = 200, description = "The purchase", body = PurchaseView),
    (status = 404, description = "No such purchase in this account", body = ErrorBody),
))]
#[get("/purchases/{id}")]
pub async fn retrieve(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any_scope(&[Scope::UsageRead, Scope::PurchasesWrite])?;
    let id = PurchaseId::parse(&id).ok_or_else(|| ApiError::not_found("purchase"))?;
    let purchase = state.db(move |conn| purchases::get(conn, &caller.account_id, &id)).await?;
    Ok(HttpResponse::Ok().json(PurchaseView::at(purchase, state.now())))
}

/// Refund a purchase's unused credits (owner/admin session or `purchases:write`; honours
/// `Idempotency-Key`). The credits leave the balance at once; the money follows within 5
/// business days, at the price paid per credit. Within 30 days of the purchase only.
#[utoipa::path(tag = "purchases", operation_id = "purchases_refund", security(("bearer" = [])),
    params(("id" = String, Path, description = "`pur_...`"), ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    responses(
        (status = 201, description = "The refund", body = RefundView),
        (status = 403, description = "Not allowed to refund", body = ErrorBody),
        (status = 404, description = "No such purchase in this account", body = ErrorBody),
        (status = 409, description = "The unused credits are held by generations in flight, or an idempotency conflict", body = ErrorBody),
        (status = 422, description = "`refund_window_expired`, `nothing_to_refund` or `purchase_not_refundable`", body = ErrorBody),
    ))]
#[post("/purchases/{id}/refund")]
pub async fn refund(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    key: IdempotencyKey,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require_manager_or_scope(Scope::PurchasesWrite)?;
    let id = PurchaseId::parse(&id).ok_or_else(|| ApiError::not_found("purchase"))?;
    let run_state = state.clone();
    // The request has no body: the path names the purchase.
    idempotency::run(state, caller.account_id.clone(), key, &req, b"", move || async move {
        let (now, provider) = (run_state.now(), run_state.payments.clone());
        let refund = run_state
            .db(move |conn| refunding::refund(conn, provider.as_ref(), &caller.account_id, &caller.actor(), &id, now))
            .await?;
        Ok((StatusCode::CREATED, RefundView::from(refund)))
    })
    .await
}

/// The account's refunds, newest first (scope `usage:read` or `purchases:write`).
#[utoipa::path(tag = "refunds", operation_id = "refunds_list", security(("bearer" = [])), params(PageParams), responses(
    (status = 200, description = "A page of refunds", body = RefundList),
    (status = 400, description = "Invalid limit or cursor", body = ErrorBody),
))]
#[get("/refunds")]
pub async fn list_refunds(
    caller: Caller,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any_scope(&[Scope::UsageRead, Scope::PurchasesWrite])?;
    let limit = page.limit()?;
    let cursor = page.cursor_as(apinfer_core::ids::RefundId::parse)?;
    let page = state.db(move |conn| refunds::list_refunds(conn, &caller.account_id, cursor.as_ref(), limit)).await?;
    let next_cursor = page.has_more.then(|| page.items.last().map(|r| r.id.to_string())).flatten();
    Ok(HttpResponse::Ok().json(RefundList {
        data: page.items.into_iter().map(RefundView::from).collect(),
        has_more: page.has_more,
        next_cursor,
    }))
}
