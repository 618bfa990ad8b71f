//! Payment providers' signed webhooks: a payment succeeded (credit the purchase) or failed.
//!
//! Signed with `APINFER_PAYMENTS_WEBHOOK_SECRET` (`Apinfer-Signature: t=...,v1=...`, HMAC-SHA256
//! over `"<t>.<raw body>"`, 300 s tolerance). Event ids are remembered in the same transaction
//! that acts on them, so a redelivery (even a concurrent one) changes nothing.

use actix_web::{post, web, HttpRequest, HttpResponse};
use apinfer_core::crediting::{self, ProviderEvent};
use apinfer_core::ids::{PurchaseId, RefundId};
use apinfer_core::signature;
use apinfer_core::store::purchases;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::Digest;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::idempotency::parse_json;
use crate::state::AppState;

/// The purchase an event is about.
#[derive(Deserialize, ToSchema)]
pub struct PaymentEventData {
    /// `pur_...`
    pub purchase_id: String,
}

/// A payment provider's event.
#[derive(Deserialize, ToSchema)]
pub struct PaymentEvent {
    /// The provider's event id (`evt_...`); a redelivered id is acknowledged and ignored.
    pub id: String,
    /// `payment.succeeded` or `payment.failed`.
    #[serde(rename = "type")]
    #[schema(value_type = crate::enums::PaymentEventType, example = "payment.succeeded")]
    pub event_type: String,
    pub data: PaymentEventData,
}

/// The acknowledgement.
#[derive(Serialize, ToSchema)]
pub struct WebhookAck {
    pub received: bool,
    /// True when this event id had been processed before (nothing changed).
    pub duplicate: bool,
    /// The purchase's status after the event (null for an event about no purchase, which is
    /// acknowledged and ignored).
    #[schema(value_type = Option<crate::enums::PurchaseStatus>)]
    pub purchase_status: Option<String>,
}

/// Receive a payment provider's event (signed; see the description of `Apinfer-Signature`).
#[utoipa::path(tag = "webhooks", operation_id = "webhooks_receive_payment_event", request_body = PaymentEvent,
    params(
        ("provider" = String, Path, description = "The provider that sent it: `sandbox` (this body, `Apinfer-Signature`) or `stripe` (Stripe's event objects, `Stripe-Signature`, verified with `APINFER_STRIPE_WEBHOOK_SECRET`)"),
        ("Apinfer-Signature" = String, Header, description = "`t=<unix>,v1=<hex HMAC-SHA256(secret, \"<t>.<raw body>\")>`"),
    ),
    responses(
        (status = 200, description = "Processed (or a redelivery, ignored)", body = WebhookAck),
        (status = 400, description = "Bad or stale signature, or a malformed event; nothing changed", body = ErrorBody),
        (status = 404, description = "No such provider (checked before the signature), or no such purchase for it", body = ErrorBody),
        (status = 409, description = "The event id came before with a different body (`event_id_reused`); nothing changed", body = ErrorBody),
    ))]
#[post("/webhooks/payments/{provider}")]
pub async fn payments(
    _: crate::auth::PublicRateLimited,
    state: web::Data<AppState>,
    req: HttpRequest,
    provider: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    // Which provider first: a name no provider has is not found, whatever it sends.
    if provider.as_str() != state.payments.name() {
        return Err(ApiError::not_found("payment provider"));
    }
    if provider.as_str() == "stripe" {
        return stripe_event(&state, &req, &body).await;
    }
    let header = req.headers().get(signature::HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let secret = state.config.payments_webhook_secret.expose_secret().as_bytes().to_vec();
    signature::verify(&secret, header, &body, state.now().timestamp()).map_err(|e| {
        ApiError::invalid("invalid_signature", format!("webhook signature refused: {e}"), Some("Apinfer-Signature"))
    })?;
    let event: PaymentEvent = parse_json(&body)?;
    let purchase_id = PurchaseId::parse(&event.data.purchase_id).ok_or_else(|| ApiError::not_found("purchase"))?;
    let payment = match event.event_type.as_str() {
        "payment.succeeded" => crediting::PaymentEvent::Succeeded { purchase: purchase_id.clone(), charge: None },
        "payment.failed" => crediting::PaymentEvent::Failed {
            purchase: purchase_id.clone(),
            code: "payment_failed".into(),
            message: "the payment provider reported a failure".into(),
        },
        other => {
            return Err(ApiError::invalid("invalid_event_type", format!("unknown event type {other:?}"), Some("type")))
        }
    };
    let provider = provider.into_inner();
    let body_sha256 = hex::encode(sha2::Sha256::digest(&body));
    let now = state.now();
    let (duplicate, purchase) = state
        .db(move |conn| {
            let received =
                ProviderEvent { provider: &provider, id: &event.id, body_sha256: &body_sha256, event: payment };
            let applied = crediting::apply(conn, received, now)?;
            // A redelivery answers with the purchase as it is (and only the provider's own).
            let purchase = match applied.purchase {
                Some(purchase) => purchase,
                None => Some(purchases::get_any(conn, &purchase_id)?)
                    .filter(|purchase| purchase.provider == provider)
                    .ok_or(apinfer_core::Error::NotFound("purchase"))?,
            };
            Ok((applied.duplicate, purchase))
        })
        .await?;
    Ok(HttpResponse::Ok().json(WebhookAck {
        received: true,
        duplicate,
        purchase_status: Some(purchase.status.as_str().to_string()),
    }))
}

/// What one of Stripe's events does here.
enum StripeAction {
    /// `payment_intent.succeeded`: credit the purchase (with the PaymentIntent's id).
    Credit(PurchaseId, String),
    /// `payment_intent.payment_failed`: the purchase failed (code, message).
    Fail(PurchaseId, String, String),
    /// `refund.*`, `charge.refund.updated` or `charge.refunded` with refunds whose status is
    /// `succeeded`: those refunds reached the customer.
    RefundsSettled(Vec<RefundId>),
    /// Anything else (or about nothing of apinfer's): acknowledged, ignored.
    Ignore,
}

fn stripe_action(event: &serde_json::Value) -> StripeAction {
    let object = &event["data"]["object"];
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    let purchase = PurchaseId::parse(object["metadata"]["purchase_id"].as_str().unwrap_or_default());
    match (event["type"].as_str().unwrap_or_default(), purchase) {
        ("payment_intent.succeeded", Some(id)) => StripeAction::Credit(id, text(&object["id"]).unwrap_or_default()),
        ("payment_intent.payment_failed", Some(id)) => {
            let error = &object["last_payment_error"];
            let code = text(&error["decline_code"]).or(text(&error["code"])).unwrap_or("payment_failed".into());
            let message = text(&error["message"]).unwrap_or("the payment failed at Stripe".into());
            StripeAction::Fail(id, code, message)
        }
        ("refund.created" | "refund.updated" | "charge.refund.updated" | "charge.refunded", _) => {
            // A refund object, or a charge listing its refunds.
            let refunds = match object["object"].as_str() {
                Some("charge") => object["refunds"]["data"].as_array().cloned().unwrap_or_default(),
                _ => vec![object.clone()],
            };
            let settled: Vec<RefundId> = refunds
                .iter()
                .filter(|r| r["status"] == "succeeded")
                .filter_map(|r| RefundId::parse(r["metadata"]["refund_id"].as_str().unwrap_or_default()))
                .collect();
            if settled.is_empty() {
                StripeAction::Ignore
            } else {
                StripeAction::RefundsSettled(settled)
            }
        }
        _ => StripeAction::Ignore,
    }
}

/// Stripe's events (`POST /v1/webhooks/payments/stripe`): verified with `Stripe-Signature`
/// (the same scheme: timestamp tolerance, any of several `v1` during a secret rotation,
/// constant-time) and `APINFER_STRIPE_WEBHOOK_SECRET`; each event id acts once, in the same
/// transaction as what it does, whatever arrives twice, late, out of order or to two processes.
async fn stripe_event(state: &AppState, req: &HttpRequest, body: &web::Bytes) -> Result<HttpResponse, ApiError> {
    let header = req.headers().get("Stripe-Signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let secret = state.config.stripe.webhook_secret.as_ref().map(|s| s.expose_secret().as_bytes().to_vec());
    let secret =
        secret.ok_or_else(|| ApiError::internal(anyhow::anyhow!("APINFER_STRIPE_WEBHOOK_SECRET is not set")))?;
    signature::verify(&secret, header, body, state.now().timestamp()).map_err(|e| {
        ApiError::invalid("invalid_signature", format!("webhook signature refused: {e}"), Some("Stripe-Signature"))
    })?;
    let event: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid("invalid_json", format!("invalid event: {e}"), None))?;
    let event_id = event["id"].as_str().filter(|id| !id.is_empty()).map(str::to_owned);
    let event_id = event_id.ok_or_else(|| ApiError::invalid("invalid_event", "the event has no id", Some("id")))?;
    let action = stripe_action(&event);
    let body_sha256 = hex::encode(sha2::Sha256::digest(body));
    let now = state.now();
    let event = match action {
        StripeAction::Credit(purchase, intent) => crediting::PaymentEvent::Succeeded { purchase, charge: Some(intent) },
        StripeAction::Fail(purchase, code, message) => crediting::PaymentEvent::Failed { purchase, code, message },
        StripeAction::RefundsSettled(ids) => crediting::PaymentEvent::RefundsSettled(ids),
        StripeAction::Ignore => crediting::PaymentEvent::Ignored,
    };
    let applied = state
        .db(move |conn| {
            let received = ProviderEvent { provider: "stripe", id: &event_id, body_sha256: &body_sha256, event };
            crediting::apply(conn, received, now)
        })
        .await?;
    Ok(HttpResponse::Ok().json(WebhookAck {
        received: true,
        duplicate: applied.duplicate,
        purchase_status: applied.purchase.map(|p| p.status.as_str().to_string()),
    }))
}
