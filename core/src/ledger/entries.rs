//! Ledger entries: every change of a balance appends one, carrying the balance after it.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::{accounts, ledger_entries};
use crate::db::DbConn;
use crate::ids::{AccountId, ApiKeyId, TransactionId, UserId};
use crate::store::entries::{balance, AfterDebit, EntryType, LedgerEntry, AFTER_DEBIT};
use crate::store::naive;
use crate::{Credits, Error, Result};

/// A ledger entry to append.
#[derive(Clone, Debug)]
pub struct NewEntry<'a> {
    pub account_id: &'a AccountId,
    pub entry_type: EntryType,
    pub credits: Credits,
    pub reference_id: Option<&'a str>,
    pub description: &'a str,
    pub user_id: Option<&'a UserId>,
    pub api_key_id: Option<&'a ApiKeyId>,
}

/// Applies `entry.credits` to the balance and appends the entry. Must run inside a write
/// transaction. A debit that would take `available` below zero fails with
/// [`Error::InsufficientCredits`] and changes nothing.
pub fn append_entry(conn: &mut DbConn, entry: NewEntry<'_>, now: DateTime<Utc>) -> Result<LedgerEntry> {
    let amount = entry.credits.units();
    let account = accounts::table.find(entry.account_id.as_str());
    let updated: Option<i64> = if amount >= 0 {
        // Never past the maximum balance (checked here, and by the table's CHECK constraint).
        let room = crate::credits::MAX_BALANCE.units().checked_sub(amount).filter(|r| *r >= 0);
        let credited = match room {
            Some(room) => diesel::update(account.filter(accounts::balance.le(room)))
                .set((accounts::balance.eq(accounts::balance + amount), accounts::updated_at.eq(naive(now))))
                .returning(accounts::balance)
                .get_result(conn)
                .optional()?,
            None => None,
        };
        if credited.is_none() {
            balance(conn, entry.account_id)?;
            return Err(Error::unprocessable(
                "balance_limit_exceeded",
                format!("this would take the balance past the maximum of {} credits", crate::credits::MAX_BALANCE),
                None,
            ));
        }
        credited
    } else {
        let debit = -amount;
        let after: Option<AfterDebit> = diesel::update(account.filter((accounts::balance - accounts::held).ge(debit)))
            .set((accounts::balance.eq(accounts::balance - debit), accounts::updated_at.eq(naive(now))))
            .returning(AFTER_DEBIT)
            .get_result(conn)
            .optional()?;
        if let Some((balance_after, held, low, auto)) = after {
            let overflow = || Error::Internal(anyhow::anyhow!("credits arithmetic overflowed"));
            let available = balance_after.checked_sub(held).ok_or_else(overflow)?;
            let before = available.checked_add(debit).ok_or_else(overflow)?;
            crate::store::alerts::on_available_drop(conn, entry.account_id, before, available, low, auto, now)?;
        }
        after.map(|(balance_after, ..)| balance_after)
    };
    let Some(balance_after) = updated else {
        let current = balance(conn, entry.account_id)?;
        return Err(Error::InsufficientCredits {
            required: Credits::from_units(-amount),
            available: current.available(),
        });
    };
    insert_entry(conn, &entry, Credits::from_units(balance_after), now)
}

/// Appends an entry whose balance change the caller has already applied in this transaction
/// (e.g. capturing a hold moves `balance` and `held` together).
pub fn insert_entry(
    conn: &mut DbConn,
    entry: &NewEntry<'_>,
    balance_after: Credits,
    now: DateTime<Utc>,
) -> Result<LedgerEntry> {
    let mut entries = insert_entries(conn, &[(entry.clone(), balance_after)], now)?;
    Ok(entries.pop().expect("one entry inserted"))
}

/// [`insert_entry`] for several entries, in one statement, appended in the order given (each
/// with the `balance_after` the caller computed for that point of the sequence).
pub fn insert_entries(
    conn: &mut DbConn,
    entries: &[(NewEntry<'_>, Credits)],
    now: DateTime<Utc>,
) -> Result<Vec<LedgerEntry>> {
    let ids: Vec<TransactionId> = entries.iter().map(|_| TransactionId::generate()).collect();
    let rows: Vec<_> = entries
        .iter()
        .zip(&ids)
        .map(|((entry, balance_after), id)| {
            (
                ledger_entries::id.eq(id.as_str().to_owned()),
                ledger_entries::account_id.eq(entry.account_id.as_str().to_owned()),
                ledger_entries::entry_type.eq(entry.entry_type.as_str()),
                ledger_entries::credits.eq(entry.credits.units()),
                ledger_entries::balance_after.eq(balance_after.units()),
                ledger_entries::reference_id.eq(entry.reference_id.map(str::to_owned)),
                ledger_entries::description.eq(entry.description.to_owned()),
                ledger_entries::user_id.eq(entry.user_id.map(|user| user.as_str().to_owned())),
                ledger_entries::api_key_id.eq(entry.api_key_id.map(|key| key.as_str().to_owned())),
                ledger_entries::created_at.eq(naive(now)),
            )
        })
        .collect();
    let in_transaction = crate::db::in_transaction(conn);
    for (entry, _) in entries {
        crate::db::moved::note(entry.entry_type, entry.credits, in_transaction);
    }
    // Multi-row inserts cannot be expressed over the multi-backend, so run on the concrete one.
    match conn {
        DbConn::Sqlite(c) => {
            insert_kept_sqlite!(c, rows, |rows| diesel::insert_into(ledger_entries::table).values(rows))
        }
        DbConn::Pg(c) => diesel::insert_into(ledger_entries::table).values(rows).execute(c)?,
    };
    Ok(entries
        .iter()
        .zip(ids)
        .map(|((entry, balance_after), id)| LedgerEntry {
            id,
            account_id: entry.account_id.clone(),
            entry_type: entry.entry_type,
            credits: entry.credits,
            balance_after: *balance_after,
            reference_id: entry.reference_id.map(str::to_string),
            description: entry.description.to_string(),
            user_id: entry.user_id.cloned(),
            api_key_id: entry.api_key_id.cloned(),
            created_at: now,
        })
        .collect())
}
