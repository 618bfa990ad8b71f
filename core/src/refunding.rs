//! Refunding a purchase's unused credits: the credits leave the balance at once (ledger type
//! `refund`, in one transaction with its audit record), then the payment provider returns the
//! money. If the provider fails, the refund stays `processing` for an admin to settle; the
//! credits do not come back.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::db::{write_transaction, DbConn};
use crate::ids::{AccountId, PurchaseId};
use crate::payments::PaymentProvider;
use crate::store::audit::{self, Action, Actor};
use crate::store::purchases;
use crate::store::refunds::{self, Refund};
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
        let refund = refunds::refund(conn, account, id, now)?;
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
