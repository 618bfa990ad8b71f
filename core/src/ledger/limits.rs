//! Spending limits: an API key's spend limit (for its lifetime, or reset each UTC day, week or
//! month) and a member's monthly limit. A reservation
//! counts its amount against both, in the transaction that reserves it, and a release gives it
//! back in the transaction that releases it, so concurrent spends can never pass a limit.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::{api_keys, member_spend, memberships};
use crate::db::{padded, DbConn, Kept};
use crate::domain::limit_reset::{window_of, LimitReset};
use crate::ids::{AccountId, ApiKeyId, UserId};
use crate::store::members::month_of;
use crate::{Credits, Error, Result};

// --- API keys' spend limits ---

/// What [`charge_spend_many`] answers past the key's limit.
pub fn spend_limit_exceeded() -> Error {
    Error::SpendLimitExceeded { message: "this API key's spend_limit would be exceeded".into() }
}

/// A key's limit as a spend at some time sees it.
#[derive(Clone, Debug)]
pub struct KeyBudget {
    /// Spent in the window of that time (zero once a reset period has passed).
    pub spent: i64,
    pub limit: Option<i64>,
    /// `Some` when the stored spend belongs to an earlier window: the window to start.
    pub new_window: Option<String>,
}

/// The keys' spend so far and limits at `now`, as [`charge_spend_many`] would check them,
/// keyed by id; a key that does not exist (which it refuses) is missing from the answer.
pub fn spend_budgets(conn: &mut DbConn, ids: &[&str], now: DateTime<Utc>) -> Result<HashMap<String, KeyBudget>> {
    type Row = (String, i64, Option<i64>, Option<String>, String);
    let rows: Vec<Row> = Kept(api_keys::table.filter(api_keys::id.eq_any(padded(ids))).select((
        api_keys::id,
        api_keys::spent,
        api_keys::spend_limit,
        api_keys::spend_limit_reset,
        api_keys::spent_window,
    )))
    .load(conn)?;
    rows.into_iter()
        .map(|(id, spent, limit, reset, window)| {
            let reset = reset.as_deref().map(LimitReset::from_db).transpose()?;
            let current = window_of(reset, now);
            let budget = if current == window {
                KeyBudget { spent, limit, new_window: None }
            } else {
                KeyBudget { spent: 0, limit, new_window: Some(current) }
            };
            Ok((id, budget))
        })
        .collect()
}

/// Starts a new window for keys whose stored spend is of an earlier one (as
/// [`spend_budgets`] found them, under the accounts' row locks): their spent becomes zero.
pub fn start_windows(conn: &mut DbConn, budgets: &HashMap<String, KeyBudget>) -> Result<()> {
    for (id, window) in budgets.iter().filter_map(|(id, b)| Some((id, b.new_window.as_ref()?))) {
        diesel::update(api_keys::table.find(id))
            .set((api_keys::spent.eq(0_i64), api_keys::spent_window.eq(window)))
            .execute(conn)?;
    }
    Ok(())
}

/// Counts the same `amount` against several keys' limits in one statement (their windows
/// started by [`start_windows`]); fails if any of them would pass its limit (the caller rolls
/// back).
pub fn charge_spend_many(conn: &mut DbConn, ids: &[&str], amount: Credits) -> Result<()> {
    let units = amount.units();
    let updated = Kept(
        diesel::update(api_keys::table.filter(api_keys::id.eq_any(padded(ids))).filter(
            api_keys::spend_limit.is_null().or(api_keys::spend_limit.ge((api_keys::spent + units).nullable())),
        ))
        .set(api_keys::spent.eq(api_keys::spent + units)),
    )
    .execute(conn)?;
    if updated != ids.len() {
        return Err(spend_limit_exceeded());
    }
    Ok(())
}

/// Gives back spend counted by [`charge_spend_many`] at `at` for work that was not done: only
/// while the key is still in that window (a later window started from zero without it).
pub fn uncharge_spend(conn: &mut DbConn, id: &ApiKeyId, amount: Credits, at: DateTime<Utc>) -> Result<()> {
    let reset: Option<Option<String>> =
        api_keys::table.find(id.as_str()).select(api_keys::spend_limit_reset).first(conn).optional()?;
    let Some(reset) = reset else { return Ok(()) };
    let reset = reset.as_deref().map(LimitReset::from_db).transpose()?;
    diesel::update(
        api_keys::table
            .find(id.as_str())
            .filter(api_keys::spent_window.eq(window_of(reset, at)))
            .filter(api_keys::spent.ge(amount.units())),
    )
    .set(api_keys::spent.eq(api_keys::spent - amount.units()))
    .execute(conn)?;
    Ok(())
}

// --- members' monthly limits ---

/// Counts `amount` against the user's monthly limit in this account, atomically; fails with
/// [`Error::SpendLimitExceeded`] (changing nothing) past it. Users without a limit are not
/// counted here (usage reports read the ledger). Run inside the spend's write transaction.
pub fn charge_month(
    conn: &mut DbConn,
    account: &AccountId,
    user: &UserId,
    amount: Credits,
    at: DateTime<Utc>,
) -> Result<()> {
    let limit: Option<Option<i64>> = memberships::table
        .find((account.as_str(), user.as_str()))
        .select(memberships::monthly_spend_limit)
        .first(conn)
        .optional()?;
    let Some(limit) = limit.flatten() else { return Ok(()) };
    let month = month_of(at);
    let insert = diesel::insert_into(member_spend::table)
        .values((
            member_spend::account_id.eq(account.as_str()),
            member_spend::user_id.eq(user.as_str()),
            member_spend::month.eq(&month),
            member_spend::spent.eq(0_i64),
        ))
        .on_conflict_do_nothing();
    // ON CONFLICT cannot be expressed over the multi-backend, so run it on the concrete one.
    match conn {
        DbConn::Sqlite(c) => insert.execute(c)?,
        DbConn::Pg(c) => insert.execute(c)?,
    };
    let counted = diesel::update(
        member_spend::table
            .find((account.as_str(), user.as_str(), &month))
            .filter((member_spend::spent + amount.units()).le(limit)),
    )
    .set(member_spend::spent.eq(member_spend::spent + amount.units()))
    .execute(conn)?;
    if counted == 0 {
        return Err(month_limit_exceeded(limit));
    }
    Ok(())
}

/// What [`charge_month`] answers past a monthly limit of `limit` units.
pub fn month_limit_exceeded(limit: i64) -> Error {
    Error::SpendLimitExceeded {
        message: format!("this would pass your monthly spend limit of {} credits", Credits::from_units(limit)),
    }
}

/// The monthly limits of users in accounts, keyed by (account, user), for the pairs among
/// `accounts` × `users` that have one (the others are not counted: see [`charge_month`]).
///
/// Looked up by user alone (`memberships_user`), the pairs then kept in memory: with both
/// lists as `IN` constraints SQLite seeks the primary key once per pair of the cross product
/// (a thousand seeks for a batch of 32 requests).
pub fn month_limits(conn: &mut DbConn, accounts: &[&str], users: &[&str]) -> Result<HashMap<(String, String), i64>> {
    let mut users = users.to_vec();
    users.sort_unstable();
    users.dedup();
    let rows: Vec<(String, String, Option<i64>)> = Kept(
        memberships::table
            .filter(memberships::user_id.eq_any(padded(&users)))
            .filter(memberships::monthly_spend_limit.is_not_null())
            .select((memberships::account_id, memberships::user_id, memberships::monthly_spend_limit)),
    )
    .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|(account, ..)| accounts.contains(&account.as_str()))
        .filter_map(|(account, user, limit)| Some(((account, user), limit?)))
        .collect())
}

/// What is counted against the user's monthly limit in this account in `month`.
pub fn month_spent(conn: &mut DbConn, account: &AccountId, user: &UserId, month: &str) -> Result<i64> {
    let spent: Option<i64> = member_spend::table
        .find((account.as_str(), user.as_str(), month))
        .select(member_spend::spent)
        .first(conn)
        .optional()?;
    Ok(spent.unwrap_or(0))
}

/// Gives back what [`charge_month`] counted for a spend that did not happen (`at` is when it
/// was counted).
pub fn uncharge_month(
    conn: &mut DbConn,
    account: &AccountId,
    user: &UserId,
    amount: Credits,
    at: DateTime<Utc>,
) -> Result<()> {
    diesel::update(member_spend::table.find((account.as_str(), user.as_str(), month_of(at))))
        .set(member_spend::spent.eq(member_spend::spent - amount.units()))
        .filter(member_spend::spent.ge(amount.units()))
        .execute(conn)?;
    Ok(())
}
