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

/// Applies `entry.credits` to the balance and appends the entry, inside the caller's write
/// transaction: a set of one ([`append_entries`]). A debit that would take `available` below
/// zero fails with [`Error::InsufficientCredits`], and a credit past the maximum balance with
/// `balance_limit_exceeded`; either changes nothing.
pub fn append_entry(conn: &mut DbConn, entry: NewEntry<'_>, now: DateTime<Utc>) -> Result<LedgerEntry> {
    append_entries(conn, &[entry], now)?.pop().expect("one outcome per entry")
}

/// Credits and debits as one set, inside the caller's write transaction: on PostgreSQL the
/// accounts are locked first, in id order (so sets never deadlock); then each entry is applied
/// in the order given, with the outcome it would have had alone (a refused one changes
/// nothing), and the accepted entries are appended in one statement, each with the balance
/// after it. An `Err` means the set failed as a whole: the caller rolls back.
pub fn append_entries(
    conn: &mut DbConn,
    entries: &[NewEntry<'_>],
    now: DateTime<Utc>,
) -> Result<Vec<Result<LedgerEntry>>> {
    if matches!(conn, DbConn::Pg(_)) && entries.len() > 1 {
        let accounts: Vec<&str> = entries.iter().map(|entry| entry.account_id.as_str()).collect();
        crate::store::locks::lock_accounts(conn, &accounts)?;
    }
    let mut applied = Vec::with_capacity(entries.len());
    for entry in entries {
        applied.push(apply(conn, entry, now)?);
    }
    let accepted: Vec<(NewEntry<'_>, Credits)> = entries
        .iter()
        .zip(&applied)
        .filter_map(|(entry, after)| after.as_ref().ok().map(|after| (entry.clone(), *after)))
        .collect();
    let mut appended = insert_entries(conn, &accepted, now)?.into_iter();
    Ok(applied
        .into_iter()
        .map(|after| after.map(|_| appended.next().expect("one appended entry per accepted one")))
        .collect())
}

/// Applies one entry's change to its account's balance; returns the balance after it, or why
/// it was refused (having changed nothing). `Err` means something failed after the balance
/// changed, or the database did: the set fails as a whole.
fn apply(conn: &mut DbConn, entry: &NewEntry<'_>, now: DateTime<Utc>) -> Result<Result<Credits>> {
    let amount = entry.credits.units();
    let account = accounts::table.find(entry.account_id.as_str());
    if amount >= 0 {
        // Never past the maximum balance (checked here, and by the table's CHECK constraint).
        let room = crate::credits::MAX_BALANCE.units().checked_sub(amount).filter(|r| *r >= 0);
        let credited: Option<i64> = match room {
            Some(room) => diesel::update(account.filter(accounts::balance.le(room)))
                .set((accounts::balance.eq(accounts::balance + amount), accounts::updated_at.eq(naive(now))))
                .returning(accounts::balance)
                .get_result(conn)
                .optional()?,
            None => None,
        };
        return Ok(match credited {
            Some(after) => Ok(Credits::from_units(after)),
            None => balance(conn, entry.account_id).and(Err(Error::unprocessable(
                "balance_limit_exceeded",
                format!("this would take the balance past the maximum of {} credits", crate::credits::MAX_BALANCE),
                None,
            ))),
        });
    }
    let debit = -amount;
    let after: Option<AfterDebit> = diesel::update(account.filter((accounts::balance - accounts::held).ge(debit)))
        .set((accounts::balance.eq(accounts::balance - debit), accounts::updated_at.eq(naive(now))))
        .returning(AFTER_DEBIT)
        .get_result(conn)
        .optional()?;
    let Some((balance_after, held, low, auto)) = after else {
        let current = balance(conn, entry.account_id);
        return Ok(current.and_then(|current| {
            Err(Error::InsufficientCredits { required: Credits::from_units(debit), available: current.available() })
        }));
    };
    let overflow = || Error::Internal(anyhow::anyhow!("credits arithmetic overflowed"));
    let available = balance_after.checked_sub(held).ok_or_else(overflow)?;
    let before = available.checked_add(debit).ok_or_else(overflow)?;
    crate::store::alerts::on_available_drop(conn, entry.account_id, before, available, low, auto, now)?;
    Ok(Ok(Credits::from_units(balance_after)))
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
