//! Users, accounts and the memberships that join them.
//!
//! A user belongs to accounts through memberships with a role; a personal account has exactly
//! its owner, while family and business accounts (changed to by an admin) may have members.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::{naive, utc};
use crate::db::schema::{accounts, memberships, users};
use crate::db::{is_unique_violation, write_transaction, DbConn};
use crate::domain::Email;
use crate::ids::{AccountId, UserId};
use crate::{Credits, Error, Result};

text_enum! {
    /// A user's role in one account.
    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum Role {
        Owner = "owner",
        Admin = "admin",
        Member = "member",
    }
}

impl Role {
    /// Owners and admins manage keys, members and settings.
    pub fn can_manage(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
}

text_enum! {
    /// What kind of account: personal (default), or family/business (shared balance, members).
    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum AccountType {
        Personal = "personal",
        Family = "family",
        Business = "business",
    }
}

#[derive(Clone, Debug)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub name: Option<String>,
    pub is_admin: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct Account {
    pub id: AccountId,
    pub account_type: AccountType,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// An account as one of its users sees it.
#[derive(Clone, Debug)]
pub struct Membership {
    pub account: Account,
    pub role: Role,
    pub monthly_spend_limit: Option<Credits>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = users)]
struct UserRow {
    id: String,
    email: String,
    password_hash: String,
    name: Option<String>,
    is_admin: bool,
    created_at: chrono::NaiveDateTime,
}

impl UserRow {
    fn into_user(self) -> (User, String) {
        let user = User {
            id: UserId::from_db(self.id),
            email: self.email,
            name: self.name,
            is_admin: self.is_admin,
            created_at: utc(self.created_at),
        };
        (user, self.password_hash)
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = accounts)]
struct AccountRow {
    id: String,
    account_type: String,
    name: String,
    created_at: chrono::NaiveDateTime,
}

impl TryFrom<AccountRow> for Account {
    type Error = Error;

    fn try_from(row: AccountRow) -> Result<Self> {
        Ok(Account {
            id: AccountId::from_db(row.id),
            account_type: AccountType::from_db(&row.account_type)?,
            name: row.name,
            created_at: utc(row.created_at),
        })
    }
}

/// A new user to create.
pub struct NewUser<'a> {
    pub email: &'a Email,
    pub password_hash: &'a str,
    pub name: Option<&'a str>,
    pub is_admin: bool,
}

/// Creates a user and their personal account (owned by them), atomically.
pub fn create_user_with_account(conn: &mut DbConn, new: NewUser<'_>, now: DateTime<Utc>) -> Result<(User, Account)> {
    let email = new.email.as_str().to_string();
    let user_id = UserId::generate();
    let account_id = AccountId::generate();
    let account_name = new.name.map(str::to_string).unwrap_or_else(|| email.clone());
    write_transaction(conn, |conn| {
        diesel::insert_into(users::table)
            .values((
                users::id.eq(user_id.as_str()),
                users::email.eq(&email),
                users::password_hash.eq(new.password_hash),
                users::name.eq(new.name),
                users::is_admin.eq(new.is_admin),
                users::created_at.eq(naive(now)),
            ))
            .execute(conn)
            .map_err(|e| {
                if is_unique_violation(&e) {
                    Error::conflict("email_taken", "a user with this email already exists")
                } else {
                    e.into()
                }
            })?;
        diesel::insert_into(accounts::table)
            .values((
                accounts::id.eq(account_id.as_str()),
                accounts::account_type.eq(AccountType::Personal.as_str()),
                accounts::name.eq(&account_name),
                accounts::created_at.eq(naive(now)),
                accounts::updated_at.eq(naive(now)),
            ))
            .execute(conn)?;
        diesel::insert_into(memberships::table)
            .values((
                memberships::account_id.eq(account_id.as_str()),
                memberships::user_id.eq(user_id.as_str()),
                memberships::role.eq(Role::Owner.as_str()),
                memberships::created_at.eq(naive(now)),
            ))
            .execute(conn)?;
        Ok(())
    })?;
    let user = User { id: user_id, email, name: new.name.map(str::to_string), is_admin: new.is_admin, created_at: now };
    let account = Account { id: account_id, account_type: AccountType::Personal, name: account_name, created_at: now };
    Ok((user, account))
}

/// The user with this email and their password hash.
pub fn find_user_by_email(conn: &mut DbConn, email: &str) -> Result<Option<(User, String)>> {
    Ok(users::table
        .filter(users::email.eq(Email::normalize(email)))
        .select(UserRow::as_select())
        .first(conn)
        .optional()?
        .map(UserRow::into_user))
}

pub fn get_user(conn: &mut DbConn, id: &UserId) -> Result<User> {
    users::table
        .find(id.as_str())
        .select(UserRow::as_select())
        .first(conn)
        .optional()?
        .map(|r| r.into_user().0)
        .ok_or(Error::NotFound("user"))
}

pub fn get_account(conn: &mut DbConn, id: &AccountId) -> Result<Account> {
    accounts::table
        .find(id.as_str())
        .select(AccountRow::as_select())
        .first(conn)
        .optional()?
        .map(Account::try_from)
        .ok_or(Error::NotFound("account"))?
}

/// The user's membership in one account, if any.
pub fn membership(conn: &mut DbConn, account: &AccountId, user: &UserId) -> Result<Option<Membership>> {
    let row: Option<(AccountRow, String, Option<i64>)> = memberships::table
        .inner_join(accounts::table)
        .filter(memberships::account_id.eq(account.as_str()))
        .filter(memberships::user_id.eq(user.as_str()))
        .select((AccountRow::as_select(), memberships::role, memberships::monthly_spend_limit))
        .first(conn)
        .optional()?;
    row.map(into_membership).transpose()
}

/// Every account the user belongs to, oldest membership first.
pub fn memberships_of(conn: &mut DbConn, user: &UserId) -> Result<Vec<Membership>> {
    let rows: Vec<(AccountRow, String, Option<i64>)> = memberships::table
        .inner_join(accounts::table)
        .filter(memberships::user_id.eq(user.as_str()))
        .order((memberships::created_at.asc(), memberships::account_id.asc()))
        .select((AccountRow::as_select(), memberships::role, memberships::monthly_spend_limit))
        .load(conn)?;
    rows.into_iter().map(into_membership).collect()
}

fn into_membership((account, role, limit): (AccountRow, String, Option<i64>)) -> Result<Membership> {
    Ok(Membership {
        account: account.try_into()?,
        role: Role::from_db(&role)?,
        monthly_spend_limit: limit.map(Credits::from_units),
    })
}

/// The user's own account: the one they own, created with them.
pub fn owned_account(conn: &mut DbConn, user: &UserId) -> Result<Membership> {
    memberships_of(conn, user)?.into_iter().find(|m| m.role == Role::Owner).ok_or(Error::NotFound("account"))
}

/// Changes an account's type (admin only, by the API layer's check).
pub fn set_account_type(
    conn: &mut DbConn,
    id: &AccountId,
    account_type: AccountType,
    now: DateTime<Utc>,
) -> Result<Account> {
    write_transaction(conn, |conn| {
        if account_type == AccountType::Personal {
            let members: i64 =
                memberships::table.filter(memberships::account_id.eq(id.as_str())).count().get_result(conn)?;
            if members > 1 {
                return Err(Error::conflict(
                    "account_has_members",
                    "an account with members cannot become personal; remove its members first",
                ));
            }
        }
        let updated = diesel::update(accounts::table.find(id.as_str()))
            .set((accounts::account_type.eq(account_type.as_str()), accounts::updated_at.eq(naive(now))))
            .execute(conn)?;
        if updated == 0 {
            return Err(Error::NotFound("account"));
        }
        get_account(conn, id)
    })
}
