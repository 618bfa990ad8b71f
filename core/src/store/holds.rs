//! Two-phase spending: reserve credits (a hold lowers `available`), then capture them when the
//! work is done or release them when it fails or is abandoned.
//!
//! Each phase is its own short transaction, so no row lock is held while the work runs. A
//! hold carries an expiry: [`expired`] lists the holds whose request died with its process,
//! and [`release`] frees them (the server's sweeper does this periodically). Capture and
//! release are conditional on the hold being `active`, so whichever comes first wins and the
//! other changes nothing. An API key's spend limit is charged at reserve time and given back
//! on release, in the same transactions, so concurrent spends cannot pass it; so is a
//! member's monthly limit.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::alerts;
use super::ledger::{
    balance, insert_entry, lock_account_row, AfterDebit, EntryType, LedgerEntry, NewEntry, AFTER_DEBIT,
};
use super::naive;
use super::purchases::consume_lots;
use super::{api_keys, members};
use crate::db::schema::{accounts, holds};
use crate::db::DbConn;
use crate::ids::{AccountId, ApiKeyId, HoldId, UserId};
use crate::{Credits, Error, Result};

/// An active reservation of credits.
#[derive(Clone, Debug)]
pub struct Hold {
    pub id: HoldId,
    pub account_id: AccountId,
    pub amount: Credits,
    pub api_key_id: Option<ApiKeyId>,
    pub user_id: Option<UserId>,
    pub reference_id: String,
}

/// Who reserves what, for what.
pub struct HoldRequest<'a> {
    pub account_id: &'a AccountId,
    pub amount: Credits,
    pub api_key_id: Option<&'a ApiKeyId>,
    pub user_id: Option<&'a UserId>,
    pub reference_id: &'a str,
    pub expires_at: DateTime<Utc>,
}

/// Reserves credits inside the caller's write transaction. Fails with
/// [`Error::InsufficientCredits`] or [`Error::SpendLimitExceeded`], reserving nothing.
pub fn reserve(conn: &mut DbConn, request: HoldRequest<'_>, now: DateTime<Utc>) -> Result<Hold> {
    let amount = request.amount.units();
    let reserved: Option<AfterDebit> = diesel::update(
        accounts::table.find(request.account_id.as_str()).filter((accounts::balance - accounts::held).ge(amount)),
    )
    .set((accounts::held.eq(accounts::held + amount), accounts::updated_at.eq(naive(now))))
    .returning(AFTER_DEBIT)
    .get_result(conn)
    .optional()?;
    let Some((balance_after, held_after, low, auto)) = reserved else {
        let current = balance(conn, request.account_id)?;
        return Err(Error::InsufficientCredits { required: request.amount, available: current.available() });
    };
    let available_after = balance_after - held_after;
    alerts::on_available_drop(conn, request.account_id, available_after + amount, available_after, low, auto, now)?;
    if let Some(key) = request.api_key_id {
        api_keys::charge_spend(conn, key, request.amount)?;
    }
    if let Some(user) = request.user_id {
        members::charge_month(conn, request.account_id, user, request.amount, now)?;
    }
    let id = HoldId::generate();
    diesel::insert_into(holds::table)
        .values((
            holds::id.eq(id.as_str()),
            holds::account_id.eq(request.account_id.as_str()),
            holds::amount.eq(amount),
            holds::api_key_id.eq(request.api_key_id.map(ApiKeyId::as_str)),
            holds::user_id.eq(request.user_id.map(UserId::as_str)),
            holds::reference_id.eq(request.reference_id),
            holds::status.eq("active"),
            holds::expires_at.eq(naive(request.expires_at)),
            holds::created_at.eq(naive(now)),
        ))
        .execute(conn)?;
    Ok(Hold {
        id,
        account_id: request.account_id.clone(),
        amount: request.amount,
        api_key_id: request.api_key_id.cloned(),
        user_id: request.user_id.cloned(),
        reference_id: request.reference_id.to_string(),
    })
}

/// Marks an active hold captured, inside the caller's write transaction (which must already
/// hold the account's row lock: see [`lock_account_row`]); false if it is no longer active
/// (released by the sweeper), and then nothing changed.
pub fn claim_for_capture(conn: &mut DbConn, id: &HoldId, now: DateTime<Utc>) -> Result<bool> {
    let claimed = diesel::update(holds::table.find(id.as_str()).filter(holds::status.eq("active")))
        .set((holds::status.eq("captured"), holds::resolved_at.eq(naive(now))))
        .execute(conn)?;
    Ok(claimed == 1)
}

/// Turns a hold claimed by [`claim_for_capture`] into a spend: `balance` and `held` fall
/// together, a ledger entry `entry_type` is appended, and lots are consumed oldest first.
pub fn settle_captured(
    conn: &mut DbConn,
    hold: &Hold,
    entry_type: EntryType,
    description: &str,
    now: DateTime<Utc>,
) -> Result<LedgerEntry> {
    let amount = hold.amount.units();
    let balance_after: i64 = diesel::update(accounts::table.find(hold.account_id.as_str()))
        .set((
            accounts::balance.eq(accounts::balance - amount),
            accounts::held.eq(accounts::held - amount),
            accounts::updated_at.eq(naive(now)),
        ))
        .returning(accounts::balance)
        .get_result(conn)?;
    let entry = insert_entry(
        conn,
        &NewEntry {
            account_id: &hold.account_id,
            entry_type,
            credits: Credits::from_units(-amount),
            reference_id: Some(&hold.reference_id),
            description,
            user_id: hold.user_id.as_ref(),
            api_key_id: hold.api_key_id.as_ref(),
        },
        Credits::from_units(balance_after),
        now,
    )?;
    consume_lots(conn, &hold.account_id, hold.amount)?;
    Ok(entry)
}

/// Releases an active hold of `account` inside the caller's write transaction (taking the
/// account's row lock first); false if it was already captured or released.
pub fn release(conn: &mut DbConn, account: &AccountId, id: &HoldId, now: DateTime<Utc>) -> Result<bool> {
    type Released = (i64, Option<String>, Option<String>, chrono::NaiveDateTime);
    lock_account_row(conn, account, now)?;
    let row: Option<Released> = diesel::update(
        holds::table
            .find(id.as_str())
            .filter(holds::account_id.eq(account.as_str()))
            .filter(holds::status.eq("active")),
    )
    .set((holds::status.eq("released"), holds::resolved_at.eq(naive(now))))
    .returning((holds::amount, holds::api_key_id, holds::user_id, holds::created_at))
    .get_result(conn)
    .optional()?;
    let Some((amount, api_key_id, user_id, created_at)) = row else { return Ok(false) };
    diesel::update(accounts::table.find(account.as_str()))
        .set((accounts::held.eq(accounts::held - amount), accounts::updated_at.eq(naive(now))))
        .execute(conn)?;
    if let Some(key) = api_key_id {
        api_keys::uncharge_spend(conn, &ApiKeyId::from_db(key), Credits::from_units(amount))?;
    }
    if let Some(user) = user_id {
        members::uncharge_month(
            conn,
            account,
            &UserId::from_db(user),
            Credits::from_units(amount),
            super::utc(created_at),
        )?;
    }
    Ok(true)
}

/// An active hold past its expiry: its account, id, and what it reserved for.
pub struct ExpiredHold {
    pub account_id: AccountId,
    pub id: HoldId,
    pub reference_id: String,
}

/// Active holds past their expiry (their requests died or hung), oldest first.
pub fn expired(conn: &mut DbConn, now: DateTime<Utc>, limit: i64) -> Result<Vec<ExpiredHold>> {
    Ok(holds::table
        .filter(holds::status.eq("active"))
        .filter(holds::expires_at.le(naive(now)))
        .order(holds::expires_at.asc())
        .limit(limit)
        .select((holds::account_id, holds::id, holds::reference_id))
        .load::<(String, String, String)>(conn)?
        .into_iter()
        .map(|(account, id, reference_id)| ExpiredHold {
            account_id: AccountId::from_db(account),
            id: HoldId::from_db(id),
            reference_id,
        })
        .collect())
}
