//! Admin adjustments: a manual correction of an account's credits, with a reason.

use chrono::{DateTime, Utc};

use crate::db::{write_transaction, DbConn};
use crate::ids::{AccountId, UserId};
use crate::ledger::{self, EntryType, LedgerEntry, NewEntry};
use crate::{Credits, Error, Result};

/// A manual correction by an apinfer admin: ledger type `adjustment`, with a required reason.
/// Positive adjustments are not credit lots: they are never refundable, and spending consumes
/// purchase lots first. A negative adjustment is a debit like any other: it consumes lots
/// oldest first and cannot take `available` below zero.
pub fn adjust(
    conn: &mut DbConn,
    account: &AccountId,
    credits: Credits,
    reason: &str,
    admin: &UserId,
    now: DateTime<Utc>,
) -> Result<LedgerEntry> {
    if credits == Credits::ZERO {
        return Err(Error::invalid("invalid_amount", "credits must not be zero", "credits"));
    }
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Error::invalid("reason_required", "a reason is required for every adjustment", "reason"));
    }
    write_transaction(conn, |conn| {
        let entry = ledger::append_entry(
            conn,
            NewEntry {
                account_id: account,
                entry_type: EntryType::Adjustment,
                credits,
                reference_id: None,
                description: reason,
                user_id: Some(admin),
                api_key_id: None,
            },
            now,
        )?;
        if credits.is_negative() {
            ledger::consume_lots(conn, account, Credits::from_units(-credits.units()))?;
        }
        Ok(entry)
    })
}
