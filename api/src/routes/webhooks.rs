//! Payment providers' signed webhooks: a payment succeeded (credit the purchase) or failed.
//!
//! Signed with `APINFER_PAYMENTS_WEBHOOK_SECRET` (`Apinfer-Signature: t=...,v1=...`, HMAC-SHA256
//! over `"<t>.<raw body>"`, 300 s tolerance). Event ids are remembered in the same transaction
//! that acts on them, so a redelivery (even a concurrent one) changes nothing.

use actix_web::{post, web, HttpRequest, HttpResponse};
use apinfer_core::db::write_transaction;
use apinfer_core::ids::PurchaseId;
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
    #[schema(value_type = super::enums::PaymentEventType, example = "payment.succeeded")]
    pub event_type: String,
    pub data: PaymentEventData,
}

/// The acknowledgement.
#[derive(Serialize, ToSchema)]
pub struct WebhookAck {
    pub received: bool,
    /// True when this event id had been processed before (nothing changed).
    pub duplicate: bool,
    /// The purchase's status after the event.
    #[schema(value_type = super::enums::PurchaseStatus)]
    pub purchase_status: String,
}

/// Receive a payment provider's event (signed; see the description of `Apinfer-Signature`).
#[utoipa::path(tag = "webhooks", operation_id = "webhooks_receive_payment_event", request_body = PaymentEvent,
    params(
        ("provider" = String, Path, description = "The provider that sent it: `sandbox`"),
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
    let header = req.headers().get(signature::HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let secret = state.config.payments_webhook_secret.expose_secret().as_bytes().to_vec();
    signature::verify(&secret, header, &body, state.now().timestamp()).map_err(|e| {
        ApiError::invalid("invalid_signature", format!("webhook signature refused: {e}"), Some("Apinfer-Signature"))
    })?;
    let event: PaymentEvent = parse_json(&body)?;
    let purchase_id = PurchaseId::parse(&event.data.purchase_id).ok_or_else(|| ApiError::not_found("purchase"))?;
    let succeeded = match event.event_type.as_str() {
        "payment.succeeded" => true,
        "payment.failed" => false,
        other => {
            return Err(ApiError::invalid("invalid_event_type", format!("unknown event type {other:?}"), Some("type")))
        }
    };
    let provider = provider.into_inner();
    let body_sha256 = hex::encode(sha2::Sha256::digest(&body));
    let now = state.now();
    let (duplicate, purchase, credited) = state
        .db(move |conn| {
            write_transaction(conn, |conn| {
                let purchase = purchases::get_any(conn, &purchase_id)?;
                if purchase.provider != provider {
                    return Err(apinfer_core::Error::NotFound("purchase"));
                }
                if !purchases::remember_event(conn, &provider, &event.id, &body_sha256, now)? {
                    return Ok((true, purchase, false));
                }
                if succeeded {
                    let (purchase, credited) = purchases::credit_in_transaction(conn, &purchase_id, None, now)?;
                    Ok((false, purchase, credited))
                } else {
                    Ok((
                        false,
                        purchases::mark_failed(
                            conn,
                            &purchase_id,
                            "payment_failed",
                            "the payment provider reported a failure",
                        )?,
                        false,
                    ))
                }
            })
        })
        .await?;
    if credited {
        state.metrics.observe_credits(apinfer_core::store::ledger::EntryType::Purchase, purchase.credits);
    }
    Ok(HttpResponse::Ok().json(WebhookAck {
        received: true,
        duplicate,
        purchase_status: purchase.status.as_str().to_string(),
    }))
}
