//! Members of family and business accounts, and their monthly spending limits.
//!
//! A personal account has only its owner. Once an admin makes an account `family` or
//! `business`, its owner and admins add existing users by email as `admin` or `member`, each
//! with an optional monthly limit (calendar month, UTC). Members spend from the shared
//! balance; what they spend (through their sessions or the keys they made) is counted in
//! `member_spend` by [`charge_month`] in the same transaction as the spend's hold, with a
//! conditional update, so concurrent spends can never pass the limit.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Utc};
use diesel::prelude::*;

use super::accounts::{self, AccountType, Role};
use super::naive;
use crate::db::schema::{member_spend, memberships, users};
use crate::db::{is_unique_violation, padded, write_transaction, DbConn, Kept};
use crate::ids::{AccountId, UserId};
use crate::{Credits, Error, Result};

/// The calendar month (UTC) a time falls in: `2026-11`.
pub fn month_of(t: DateTime<Utc>) -> String {
    format!("{:04}-{:02}", t.year(), t.month())
}

/// A member as the account's managers see them.
#[derive(Clone, Debug)]
pub struct Member {
    pub user_id: UserId,
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    pub monthly_spend_limit: Option<Credits>,
    /// Spent (or held) this calendar month.
    pub spent_this_month: Credits,
    pub joined_at: DateTime<Utc>,
}

/// The account's members in the order they joined (the owner first), with this month's
/// spending, a page at a time (`after`: the previous page's last member).
pub fn list(
    conn: &mut DbConn,
    account: &AccountId,
    after: Option<&UserId>,
    limit: i64,
    now: DateTime<Utc>,
) -> Result<super::Page<Member>> {
    let items = load(conn, account, Selection::Page { after, limit }, now)?;
    Ok(super::Page::from_overfetch(items, limit))
}

/// One member of the account, with this month's spending.
pub fn get(conn: &mut DbConn, account: &AccountId, user: &UserId, now: DateTime<Utc>) -> Result<Member> {
    load(conn, account, Selection::One(user), now)?.pop().ok_or(Error::NotFound("member"))
}

enum Selection<'a> {
    /// `limit + 1` members after `after` (so the caller knows whether more follow).
    Page {
        after: Option<&'a UserId>,
        limit: i64,
    },
    One(&'a UserId),
}

fn load(conn: &mut DbConn, account: &AccountId, which: Selection<'_>, now: DateTime<Utc>) -> Result<Vec<Member>> {
    type Row = (String, String, Option<String>, String, Option<i64>, chrono::NaiveDateTime);
    let mut query =
        memberships::table.inner_join(users::table).filter(memberships::account_id.eq(account.as_str())).into_boxed();
    match which {
        Selection::One(user) => query = query.filter(memberships::user_id.eq(user.as_str().to_string())),
        Selection::Page { after, limit } => {
            if let Some(after) = after {
                let at: chrono::NaiveDateTime = memberships::table
                    .find((account.as_str(), after.as_str()))
                    .select(memberships::created_at)
                    .first(conn)
                    .optional()?
                    .ok_or(Error::NotFound(super::CURSOR))?;
                query = query.filter(
                    memberships::created_at
                        .gt(at)
                        .or(memberships::created_at.eq(at).and(memberships::user_id.gt(after.as_str().to_string()))),
                );
            }
            query = query.limit(limit + 1);
        }
    }
    let rows: Vec<Row> = query
        .order((memberships::created_at.asc(), memberships::user_id.asc()))
        .select((
            users::id,
            users::email,
            users::name,
            memberships::role,
            memberships::monthly_spend_limit,
            memberships::created_at,
        ))
        .load(conn)?;
    let month = month_of(now);
    let spent: Vec<(String, i64)> = member_spend::table
        .filter(member_spend::account_id.eq(account.as_str()))
        .filter(member_spend::month.eq(&month))
        .select((member_spend::user_id, member_spend::spent))
        .load(conn)?;
    rows.into_iter()
        .map(|(id, email, name, role, spend_limit, joined)| {
            Ok(Member {
                spent_this_month: Credits::from_units(spent.iter().find(|(u, _)| *u == id).map_or(0, |(_, s)| *s)),
                user_id: UserId::from_db(id),
                email,
                name,
                role: Role::from_db(&role)?,
                monthly_spend_limit: spend_limit.map(Credits::from_units),
                joined_at: super::utc(joined),
            })
        })
        .collect()
}

/// Adds an existing user (by email) to a family or business account.
pub fn add(
    conn: &mut DbConn,
    account: &AccountId,
    email: &str,
    role: Role,
    monthly_spend_limit: Option<Credits>,
    now: DateTime<Utc>,
) -> Result<Member> {
    if role == Role::Owner {
        return Err(Error::invalid("invalid_role", "role must be admin or member", "role"));
    }
    if monthly_spend_limit.is_some_and(|l| l.is_negative()) {
        return Err(Error::invalid(
            "invalid_amount",
            "monthly_spend_limit must not be negative",
            "monthly_spend_limit",
        ));
    }
    write_transaction(conn, |conn| {
        let target = accounts::get_account(conn, account)?;
        if target.account_type == AccountType::Personal {
            return Err(Error::conflict(
                "personal_account",
                "personal accounts cannot have members; family and business accounts are available upon request",
            ));
        }
        let (user, _) = accounts::find_user_by_email(conn, email)?.ok_or(Error::NotFound("user"))?;
        diesel::insert_into(memberships::table)
            .values((
                memberships::account_id.eq(account.as_str()),
                memberships::user_id.eq(user.id.as_str()),
                memberships::role.eq(role.as_str()),
                memberships::monthly_spend_limit.eq(monthly_spend_limit.map(Credits::units)),
                memberships::created_at.eq(naive(now)),
            ))
            .execute(conn)
            .map_err(|e| {
                if is_unique_violation(&e) {
                    Error::conflict("already_member", "this user is already a member of the account")
                } else {
                    e.into()
                }
            })?;
        get(conn, account, &user.id, now)
    })
}

/// Removes a member; the owner cannot be removed.
pub fn remove(conn: &mut DbConn, account: &AccountId, user: &UserId, now: DateTime<Utc>) -> Result<Member> {
    write_transaction(conn, |conn| {
        let member = get(conn, account, user, now)?;
        if member.role == Role::Owner {
            return Err(Error::conflict("cannot_remove_owner", "the account's owner cannot be removed"));
        }
        diesel::delete(memberships::table.find((account.as_str(), user.as_str()))).execute(conn)?;
        Ok(member)
    })
}

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
