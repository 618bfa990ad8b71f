//! The credit ledger: balances and the append-only entries that explain them.
//!
//! Every change of `accounts.balance` happens in [`append_entry`], which updates the balance
//! with one conditional statement and appends the entry carrying `balance_after`, both inside
//! the caller's transaction. A debit is `UPDATE ... WHERE balance - held >= amount`, so no
//! interleaving of concurrent requests (threads, processes, either database) can overdraw: the
//! database re-checks the predicate under the row lock, and the schema's CHECK constraints back
//! it up. Hence, always: sum(entries.credits) == balance, and balance - held >= 0.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::Page;
use super::{naive, utc};
use crate::db::schema::{accounts, ledger_entries};
use crate::db::{padded, write_transaction, DbConn, Kept};
use crate::ids::{AccountId, ApiKeyId, TransactionId, UserId};
use crate::{Credits, Error, Result};

text_enum! {
    /// Why credits moved.
    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum EntryType {
        Purchase = "purchase",
        Generation = "generation",
        Refund = "refund",
        Adjustment = "adjustment",
        AutoTopup = "auto_topup",
    }
}

/// One ledger entry.
#[derive(Clone, Debug)]
pub struct LedgerEntry {
    pub id: TransactionId,
    pub account_id: AccountId,
    pub entry_type: EntryType,
    /// Signed: positive adds credits, negative removes them.
    pub credits: Credits,
    pub balance_after: Credits,
    pub reference_id: Option<String>,
    pub description: String,
    pub user_id: Option<UserId>,
    pub api_key_id: Option<ApiKeyId>,
    pub created_at: DateTime<Utc>,
}

/// An account's balance as the API reports it.
#[derive(Clone, Debug)]
pub struct Balance {
    pub account_id: AccountId,
    pub balance: Credits,
    /// Reserved by work in flight.
    pub held: Credits,
    pub low_balance_threshold: Option<Credits>,
    pub updated_at: DateTime<Utc>,
}

impl Balance {
    /// `balance − held`, never below zero.
    pub fn available(&self) -> Credits {
        self.balance.checked_sub(self.held).filter(|c| !c.is_negative()).unwrap_or(Credits::ZERO)
    }
}

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

#[derive(Queryable, Selectable)]
#[diesel(table_name = ledger_entries)]
struct EntryRow {
    id: String,
    account_id: String,
    entry_type: String,
    credits: i64,
    balance_after: i64,
    reference_id: Option<String>,
    description: String,
    user_id: Option<String>,
    api_key_id: Option<String>,
    created_at: chrono::NaiveDateTime,
}

impl TryFrom<EntryRow> for LedgerEntry {
    type Error = Error;

    fn try_from(row: EntryRow) -> Result<Self> {
        Ok(LedgerEntry {
            id: TransactionId::from_db(row.id),
            account_id: AccountId::from_db(row.account_id),
            entry_type: EntryType::from_db(&row.entry_type)?,
            credits: Credits::from_units(row.credits),
            balance_after: Credits::from_units(row.balance_after),
            reference_id: row.reference_id,
            description: row.description,
            user_id: row.user_id.map(UserId::from_db),
            api_key_id: row.api_key_id.map(ApiKeyId::from_db),
            created_at: utc(row.created_at),
        })
    }
}

/// What a debit's UPDATE returns: balance, held, and the account's alert and top-up
/// thresholds, so that a threshold crossing is detected without another query.
pub type AfterDebit = (i64, i64, Option<i64>, Option<i64>);

/// The columns of [`AfterDebit`].
pub const AFTER_DEBIT: (
    accounts::balance,
    accounts::held,
    accounts::low_balance_threshold,
    accounts::auto_topup_threshold,
) = (accounts::balance, accounts::held, accounts::low_balance_threshold, accounts::auto_topup_threshold);

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
            super::alerts::on_available_drop(conn, entry.account_id, before, available, low, auto, now)?;
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

/// The account's current balance.
pub fn balance(conn: &mut DbConn, account: &AccountId) -> Result<Balance> {
    let row: Option<(i64, i64, Option<i64>, chrono::NaiveDateTime)> = accounts::table
        .find(account.as_str())
        .select((accounts::balance, accounts::held, accounts::low_balance_threshold, accounts::updated_at))
        .first(conn)
        .optional()?;
    let (balance, held, threshold, updated_at) = row.ok_or(Error::NotFound("account"))?;
    Ok(Balance {
        account_id: account.clone(),
        balance: Credits::from_units(balance),
        held: Credits::from_units(held),
        low_balance_threshold: threshold.map(Credits::from_units),
        updated_at: utc(updated_at),
    })
}

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
        let entry = append_entry(
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
            super::lots::consume_lots(conn, account, Credits::from_units(-credits.units()))?;
        }
        Ok(entry)
    })
}

/// Filters for listing entries.
#[derive(Clone, Debug, Default)]
pub struct EntryFilter {
    pub entry_type: Option<EntryType>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Takes the account's row lock for the rest of the transaction. Every transaction that moves
/// an account's credits takes this lock before any other row of that account (its holds, lots,
/// key and member counters), so that transactions on one account (several requests' work
/// batched in one transaction included, see the API's group commit) always lock in the same
/// order and cannot deadlock.
pub fn lock_account_row(conn: &mut DbConn, account: &AccountId, now: DateTime<Utc>) -> Result<()> {
    let updated = diesel::update(accounts::table.find(account.as_str()))
        .set(accounts::updated_at.eq(naive(now)))
        .execute(conn)?;
    if updated == 0 {
        return Err(Error::NotFound("account"));
    }
    Ok(())
}

/// Locks the rows of several accounts in id order (so that transactions locking several at
/// once cannot deadlock with each other) and returns each one's [`AfterDebit`] columns, keyed
/// by id; an id with no account is missing from the answer. On SQLite the write transaction
/// already excludes every other writer, so this only reads.
pub fn lock_accounts(conn: &mut DbConn, ids: &[&str]) -> Result<HashMap<String, AfterDebit>> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let query = accounts::table.filter(accounts::id.eq_any(padded(&ids))).order(accounts::id).select((
        accounts::id,
        accounts::balance,
        accounts::held,
        accounts::low_balance_threshold,
        accounts::auto_topup_threshold,
    ));
    type Row = (String, i64, i64, Option<i64>, Option<i64>);
    let rows: Vec<Row> = match conn {
        DbConn::Pg(c) => Kept(query.for_update()).load(c)?,
        DbConn::Sqlite(c) => Kept(query).load(c)?,
    };
    Ok(rows.into_iter().map(|(id, balance, held, low, auto)| (id, (balance, held, low, auto))).collect())
}

/// [`lock_account_row`], and the balance as it is under the lock.
pub fn lock_account(conn: &mut DbConn, account: &AccountId, now: DateTime<Utc>) -> Result<Balance> {
    lock_account_row(conn, account, now)?;
    balance(conn, account)
}

/// Entries newest first, strictly older than the `after` entry (the previous page's last id).
/// Ordering is by the append sequence, so pages stay stable while new entries arrive.
pub fn list_entries(
    conn: &mut DbConn,
    account: &AccountId,
    filter: &EntryFilter,
    after: Option<&TransactionId>,
    limit: i64,
) -> Result<Page<LedgerEntry>> {
    let mut query = ledger_entries::table.filter(ledger_entries::account_id.eq(account.as_str())).into_boxed();
    if let Some(t) = filter.entry_type {
        query = query.filter(ledger_entries::entry_type.eq(t.as_str()));
    }
    if let Some(from) = filter.from {
        query = query.filter(ledger_entries::created_at.ge(naive(from)));
    }
    if let Some(to) = filter.to {
        query = query.filter(ledger_entries::created_at.lt(naive(to)));
    }
    if let Some(after) = after {
        let seq: i64 = ledger_entries::table
            .filter(ledger_entries::id.eq(after.as_str()))
            .filter(ledger_entries::account_id.eq(account.as_str()))
            .select(ledger_entries::seq)
            .first(conn)
            .optional()?
            .ok_or(Error::NotFound(super::CURSOR))?;
        query = query.filter(ledger_entries::seq.lt(seq));
    }
    let items: Vec<LedgerEntry> = query
        .order(ledger_entries::seq.desc())
        .limit(limit + 1)
        .select(EntryRow::as_select())
        .load(conn)?
        .into_iter()
        .map(LedgerEntry::try_from)
        .collect::<Result<_>>()?;
    Ok(Page::from_overfetch(items, limit))
}
