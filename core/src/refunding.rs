//! Refunding a purchase's unused credits: the credits leave the balance at once (ledger type
//! `refund`, in one transaction with its audit record), then the payment provider returns the
//! money. If the provider fails, the refund stays `processing` for an admin to settle; the
//! credits do not come back.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::db::{write_transaction, DbConn};
use crate::ids::RefundId;
use crate::ids::{AccountId, PurchaseId};
use crate::ledger::{append_entry, take_from_lot, EntryType, NewEntry};
use crate::payments::PaymentProvider;
use crate::store::audit::{self, Action, Actor};
use crate::store::locks::lock_account;
use crate::store::purchases;
use crate::store::purchases::PurchaseStatus;
use crate::store::refunds::{self, Refund};
use crate::Error;
use crate::Result;

/// Refunds the unused credits of `account`'s purchase `id`, on behalf of `actor`.
pub fn refund(
    conn: &mut DbConn,
    provider: &dyn PaymentProvider,
    account: &AccountId,
    actor: &Actor,
    id: &PurchaseId,
    now: DateTime<Utc>,
) -> Result<Refund> {
    let refund = write_transaction(conn, |conn| {
        let refund = take_back(conn, account, id, now)?;
        let details = json!({"purchase_id": refund.purchase_id.as_str(), "credits": refund.credits});
        audit::record(conn, account, actor, Action::RefundRequested, Some(refund.id.as_str()), details, now)?;
        Ok(refund)
    })?;
    let purchase = purchases::get_any(conn, &refund.purchase_id)?;
    match provider.refund(purchase.provider_charge.as_deref(), refund.amount, refund.id.as_str()) {
        Ok(provider_refund) => {
            refunds::set_provider_refund(conn, &refund.id, &provider_refund.id)?;
            if provider_refund.settled {
                return refunds::complete_refund(conn, &refund.id, now);
            }
        }
        Err(e) => tracing::warn!(refund = %refund.id, error = %e, "provider refund failed; left processing"),
    }
    Ok(refund)
}

/// Refunds a purchase's unused credits at the price paid per credit. The credits leave the
/// balance at once (ledger type `refund`); never more than `available`, so credits held by
/// generations in flight stay.
fn take_back(conn: &mut DbConn, account: &AccountId, id: &PurchaseId, now: DateTime<Utc>) -> Result<Refund> {
    write_transaction(conn, |conn| {
        let balance = lock_account(conn, account, now)?;
        let purchase = purchases::get(conn, account, id)?;
        if !matches!(purchase.status, PurchaseStatus::Succeeded | PurchaseStatus::PartiallyRefunded) {
            return Err(Error::unprocessable(
                "purchase_not_refundable",
                format!("a {} purchase has nothing to refund", purchase.status.as_str()),
                None,
            ));
        }
        if purchase.refundable_until().is_some_and(|until| now > until) {
            return Err(Error::unprocessable(
                "refund_window_expired",
                "unused credits can be refunded within 30 days of the purchase",
                None,
            ));
        }
        if !purchase.credits_remaining.is_positive() {
            return Err(Error::unprocessable("nothing_to_refund", "every credit of this purchase has been used", None));
        }
        let credits = purchase.credits_remaining.min(balance.available());
        if !credits.is_positive() {
            return Err(Error::conflict(
                "credits_held",
                "this purchase's unused credits are reserved by generations in flight; retry when they finish",
            ));
        }
        let amount = purchase.refund_value(credits);
        let refund_id = RefundId::generate();
        if !take_from_lot(conn, &purchase.id, credits)? {
            return Err(Error::conflict("concurrent_change", "the purchase changed; retry"));
        }
        refunds::record(conn, &refund_id, &purchase, credits, amount, now)?;
        append_entry(
            conn,
            NewEntry {
                account_id: account,
                entry_type: EntryType::Refund,
                credits: credits.checked_neg().ok_or_else(|| Error::Internal(anyhow::anyhow!("refund overflow")))?,
                reference_id: Some(refund_id.as_str()),
                description: &format!("Refund of unused credits from {}", purchase.id),
                user_id: None,
                api_key_id: None,
            },
            now,
        )?;
        refunds::get_refund_any(conn, &refund_id)
    })
}
