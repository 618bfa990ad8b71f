//! Crediting a confirmed payment: the payment provider's signed event (or an admin who saw a
//! bank transfer arrive) says the money was taken, and the purchase's credits go on the
//! balance, exactly once. An event is remembered in the same transaction as what it changed, so
//! a redelivery changes nothing.

use chrono::{DateTime, Utc};

use diesel::prelude::*;

use crate::db::schema::purchases as purchases_table;
use crate::db::{write_transaction, DbConn};
use crate::ids::{PurchaseId, RefundId};
use crate::ledger::{append_entry, open_lot, EntryType, NewEntry};
use crate::store::events::{self, EventType};
use crate::store::naive;
use crate::store::purchases::PurchaseStatus;
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
                Some(credit_confirmed_by_provider(conn, &id, charge.as_deref(), now)?.0)
            }
            PaymentEvent::Failed { purchase: id, code, message } => {
                ours(conn, &id)?;
                Some(purchases::mark_failed(conn, &id, &code, &message, now)?)
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
    credit(conn, id, None, now)
}

/// Marks a purchase paid and puts its credits on the balance, exactly once: only the call that
/// moves it out of an awaiting status writes the ledger entry. Returns the purchase and whether
/// this call credited it.
pub fn credit(
    conn: &mut DbConn,
    id: &PurchaseId,
    charge: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(Purchase, bool)> {
    write_transaction(conn, |conn| credit_in_transaction(conn, id, charge, now))
}

/// [`credit`] inside the caller's transaction.
pub fn credit_in_transaction(
    conn: &mut DbConn,
    id: &PurchaseId,
    charge: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(Purchase, bool)> {
    credit_from(conn, id, &purchases::AWAITING, charge, now)
}

/// The provider's own word that the money was taken (its signed event, or its record of the
/// charge): credits a purchase awaiting payment, or one marked failed before, when a first
/// attempt failed and a later one on the same payment succeeded (events may arrive in any
/// order). Exactly once, like [`credit`]. Inside the caller's transaction.
pub fn credit_confirmed_by_provider(
    conn: &mut DbConn,
    id: &PurchaseId,
    charge: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(Purchase, bool)> {
    let from =
        [purchases::AWAITING[0], purchases::AWAITING[1], purchases::AWAITING[2], PurchaseStatus::Failed.as_str()];
    credit_from(conn, id, &from, charge, now)
}

fn credit_from(
    conn: &mut DbConn,
    id: &PurchaseId,
    from: &[&str],
    charge: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(Purchase, bool)> {
    // A confirmation without a charge id (the sandbox's webhook) keeps the one already known.
    let charge = match charge {
        Some(charge) => Some(charge.to_string()),
        None => purchases::get_any(conn, id)?.provider_charge,
    };
    let updated = diesel::update(purchases_table::table.find(id.as_str()).filter(purchases_table::status.eq_any(from)))
        .set((
            purchases_table::status.eq(PurchaseStatus::Succeeded.as_str()),
            purchases_table::succeeded_at.eq(naive(now)),
            purchases_table::provider_charge.eq(charge.as_deref()),
        ))
        .execute(conn)?;
    if updated == 0 {
        return Ok((purchases::get_any(conn, id)?, false));
    }
    open_lot(conn, id)?;
    let purchase = purchases::get_any(conn, id)?;
    let (entry_type, description) = if purchase.auto_topup {
        (EntryType::AutoTopup, format!("Automatic top-up: {}", purchase.package_id))
    } else {
        (EntryType::Purchase, format!("Purchase of the {} package", purchase.package_id))
    };
    append_entry(
        conn,
        NewEntry {
            account_id: &purchase.account_id,
            entry_type,
            credits: purchase.credits,
            reference_id: Some(purchase.id.as_str()),
            description: &description,
            user_id: None,
            api_key_id: None,
        },
        now,
    )?;
    events::record(conn, &purchase.account_id, EventType::PurchaseSucceeded, purchases::event_data(&purchase), now)?;
    Ok((purchase, true))
}
