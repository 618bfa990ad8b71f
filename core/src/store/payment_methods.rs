//! Saved cards: the provider's token for a card, with what a person recognises it by.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::Page;
use super::{naive, utc};
use crate::db::schema::payment_methods;
use crate::db::{is_unique_violation, write_transaction, DbConn};
use crate::ids::{AccountId, PaymentMethodId};
use crate::{Error, Result};

/// A saved card.
#[derive(Clone, Debug)]
pub struct PaymentMethod {
    pub id: PaymentMethodId,
    pub account_id: AccountId,
    pub provider: String,
    pub token: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: i32,
    pub exp_year: i32,
    pub created_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = payment_methods)]
struct PaymentMethodRow {
    id: String,
    account_id: String,
    provider: String,
    token: String,
    brand: String,
    last4: String,
    exp_month: i32,
    exp_year: i32,
    created_at: chrono::NaiveDateTime,
}

impl From<PaymentMethodRow> for PaymentMethod {
    fn from(r: PaymentMethodRow) -> Self {
        PaymentMethod {
            id: PaymentMethodId::from_db(r.id),
            account_id: AccountId::from_db(r.account_id),
            provider: r.provider,
            token: r.token,
            brand: r.brand,
            last4: r.last4,
            exp_month: r.exp_month,
            exp_year: r.exp_year,
            created_at: utc(r.created_at),
        }
    }
}

/// Saves a card the provider tokenized: at most [`MAX_SAVED_CARDS`] per account, counted under
/// the account's row lock so concurrent saves cannot both pass the count.
pub fn save_payment_method(conn: &mut DbConn, pm: &PaymentMethod) -> Result<PaymentMethod> {
    write_transaction(conn, |conn| {
        super::locks::lock_account_row(conn, &pm.account_id, pm.created_at)?;
        let saved: i64 = payment_methods::table
            .filter(payment_methods::account_id.eq(pm.account_id.as_str()))
            .filter(payment_methods::deleted_at.is_null())
            .count()
            .get_result(conn)?;
        if saved >= MAX_SAVED_CARDS {
            return Err(Error::conflict(
                "too_many_payment_methods",
                format!("an account keeps at most {MAX_SAVED_CARDS} saved cards; remove one first"),
            ));
        }
        insert_payment_method(conn, pm)
    })
}

fn insert_payment_method(conn: &mut DbConn, pm: &PaymentMethod) -> Result<PaymentMethod> {
    diesel::insert_into(payment_methods::table)
        .values((
            payment_methods::id.eq(pm.id.as_str()),
            payment_methods::account_id.eq(pm.account_id.as_str()),
            payment_methods::provider.eq(&pm.provider),
            payment_methods::token.eq(&pm.token),
            payment_methods::brand.eq(&pm.brand),
            payment_methods::last4.eq(&pm.last4),
            payment_methods::exp_month.eq(pm.exp_month),
            payment_methods::exp_year.eq(pm.exp_year),
            payment_methods::created_at.eq(naive(pm.created_at)),
        ))
        .execute(conn)
        .map_err(|e| {
            if is_unique_violation(&e) {
                Error::conflict("duplicate", "payment method exists")
            } else {
                e.into()
            }
        })?;
    get_payment_method(conn, &pm.account_id, &pm.id)
}

/// One of the account's saved cards (not deleted).
pub fn get_payment_method(conn: &mut DbConn, account: &AccountId, id: &PaymentMethodId) -> Result<PaymentMethod> {
    payment_methods::table
        .find(id.as_str())
        .filter(payment_methods::account_id.eq(account.as_str()))
        .filter(payment_methods::deleted_at.is_null())
        .select(PaymentMethodRow::as_select())
        .first(conn)
        .optional()?
        .map(PaymentMethod::from)
        .ok_or(Error::NotFound("payment method"))
}

/// The account's saved cards, newest first, a page at a time (`after`: the previous page's last).
pub fn list_payment_methods(
    conn: &mut DbConn,
    account: &AccountId,
    after: Option<&PaymentMethodId>,
    limit: i64,
) -> Result<Page<PaymentMethod>> {
    let mut query = payment_methods::table
        .filter(payment_methods::account_id.eq(account.as_str()))
        .filter(payment_methods::deleted_at.is_null())
        .into_boxed();
    if let Some(after) = after {
        let at: chrono::NaiveDateTime = payment_methods::table
            .find(after.as_str())
            .filter(payment_methods::account_id.eq(account.as_str()))
            .select(payment_methods::created_at)
            .first(conn)
            .optional()?
            .ok_or(Error::NotFound(super::CURSOR))?;
        query = query.filter(
            payment_methods::created_at
                .lt(at)
                .or(payment_methods::created_at.eq(at).and(payment_methods::id.lt(after.as_str().to_string()))),
        );
    }
    let items: Vec<PaymentMethod> = query
        .order((payment_methods::created_at.desc(), payment_methods::id.desc()))
        .limit(limit + 1)
        .select(PaymentMethodRow::as_select())
        .load(conn)?
        .into_iter()
        .map(PaymentMethod::from)
        .collect();
    Ok(Page::from_overfetch(items, limit))
}

/// Saved cards an account may have at once.
pub const MAX_SAVED_CARDS: i64 = 20;

/// Forgets a saved card (purchases made with it keep their brand and last4).
pub fn delete_payment_method(
    conn: &mut DbConn,
    account: &AccountId,
    id: &PaymentMethodId,
    now: DateTime<Utc>,
) -> Result<PaymentMethod> {
    let pm = get_payment_method(conn, account, id)?;
    diesel::update(payment_methods::table.find(id.as_str()))
        .set(payment_methods::deleted_at.eq(naive(now)))
        .execute(conn)?;
    Ok(pm)
}
