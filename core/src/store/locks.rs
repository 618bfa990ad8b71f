//! Account row locks: every transaction that moves an account's credits takes its account's
//! row lock first, so that transactions on one account run one after another.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::entries::{balance, AfterDebit, Balance};
use super::naive;
use crate::db::schema::accounts;
use crate::db::{padded, DbConn, Kept};
use crate::ids::AccountId;
use crate::{Error, Result};

/// Takes the account's row lock for the rest of the transaction. Every transaction that moves
/// an account's credits takes this lock before any other row of that account (its holds, lots,
/// key and member counters), so that transactions on one account (several requests' work
/// batched in one transaction included, see [`crate::group_commit`]) always lock in the same
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
