//! Crediting a confirmed payment: the payment provider's signed event (or an admin who saw a
//! bank transfer arrive) says the money was taken, and the purchase's credits go on the
//! balance, exactly once. An event is remembered in the same transaction as what it changed, so
//! a redelivery changes nothing.

use chrono::{DateTime, Utc};

use crate::db::{write_transaction, DbConn};
use crate::ids::{PurchaseId, RefundId};
use crate::store::purchases::{self, Purchase};
use crate::store::{refunds, webhook_events};
use crate::{Error, Result};

/// What a provider's event says happened.
pub enum PaymentEvent {
    /// The purchase was paid (through `charge`, when the event names it).
    Succeeded { purchase: PurchaseId, charge: Option<String> },
    /// The payment failed.
    Failed { purchase: PurchaseId, code: String, message: String },
    /// These refunds reached the customer.
    RefundsSettled(Vec<RefundId>),
    /// Nothing apinfer acts on.
    Ignored,
}

/// A provider's event, as received.
pub struct ProviderEvent<'a> {
    /// The provider that sent it (`sandbox`, `stripe`): it may only name its own purchases.
    pub provider: &'a str,
    /// Its id: an event is applied once.
    pub id: &'a str,
    /// Its body's digest: the same id with another body is refused.
    pub body_sha256: &'a str,
    pub event: PaymentEvent,
}

/// What applying an event did.
pub struct Applied {
    /// The event was received before: nothing changed.
    pub duplicate: bool,
    /// The purchase it named, as it is now.
    pub purchase: Option<Purchase>,
}

/// Applies a provider's event in one transaction.
pub fn apply(conn: &mut DbConn, received: ProviderEvent<'_>, now: DateTime<Utc>) -> Result<Applied> {
    write_transaction(conn, |conn| {
        if !webhook_events::remember_event(conn, received.provider, received.id, received.body_sha256, now)? {
            return Ok(Applied { duplicate: true, purchase: None });
        }
        let ours = |conn: &mut DbConn, id: &PurchaseId| {
            purchases::get_any(conn, id).and_then(|p| {
                if p.provider == received.provider {
                    Ok(p)
                } else {
                    Err(Error::NotFound("purchase"))
                }
            })
        };
        let purchase = match received.event {
            PaymentEvent::Succeeded { purchase: id, charge } => {
                let purchase = ours(conn, &id)?;
                if let (Some(known), Some(charge)) = (purchase.provider_charge.as_deref(), charge.as_deref()) {
                    if known != charge {
                        return Err(Error::conflict("payment_mismatch", "this payment is not the purchase's"));
                    }
                }
                Some(purchases::credit_confirmed_by_provider(conn, &id, charge.as_deref(), now)?.0)
            }
            PaymentEvent::Failed { purchase: id, code, message } => {
                ours(conn, &id)?;
                Some(purchases::mark_failed(conn, &id, &code, &message)?)
            }
            PaymentEvent::RefundsSettled(ids) => {
                for id in ids {
                    refunds::complete_refund(conn, &id, now)?;
                }
                None
            }
            PaymentEvent::Ignored => None,
        };
        Ok(Applied { duplicate: false, purchase })
    })
}

/// An admin saw a payment arrive (a bank transfer): credits the purchase, exactly once. Returns
/// the purchase and whether this call credited it.
pub fn confirm_by_admin(conn: &mut DbConn, id: &PurchaseId, now: DateTime<Utc>) -> Result<(Purchase, bool)> {
    purchases::credit(conn, id, None, now)
}
