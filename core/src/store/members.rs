//! Members of family and business accounts, and their monthly spending limits.
//!
//! A personal account has only its owner. Once an admin makes an account `family` or
//! `business`, its owner and admins add existing users by email as `admin` or `member`, each
//! with an optional monthly limit (calendar month, UTC). Members spend from the shared
//! balance; what they spend (through their sessions or the keys they made) is counted in
//! `member_spend` by the ledger engine ([`crate::ledger`]) in the same transaction as the spend's hold, with a
//! conditional update, so concurrent spends can never pass the limit.

use chrono::{DateTime, Datelike, Utc};
use diesel::prelude::*;

use super::accounts::{self, AccountType, Role};
use super::naive;
use crate::db::schema::{member_spend, memberships, users};
use crate::db::{is_unique_violation, write_transaction, DbConn};
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
