//! Balances and ledger entries, as read: the balance an account has now, and its entries a
//! page at a time. What writes them is the ledger engine ([`crate::ledger`]).

use chrono::{DateTime, Utc};
use diesel::prelude::*;

pub use crate::domain::EntryType;

use super::Page;
use super::{naive, utc};
use crate::db::schema::{accounts, ledger_entries};
use crate::db::DbConn;
use crate::ids::{AccountId, ApiKeyId, TransactionId, UserId};
use crate::{Credits, Error, Result};

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

/// Filters for listing entries.
#[derive(Clone, Debug, Default)]
pub struct EntryFilter {
    pub entry_type: Option<EntryType>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
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
