//! Credit lots: every succeeded purchase is one, and `credits_remaining` is its unused part.
//!
//! Spending consumes lots oldest first ([`consume_lots`], called in the same transaction as the
//! debit); credits from admin adjustments are not lots and are consumed after all lots, so
//! `sum(lots' credits_remaining) <= balance` always.

use std::collections::HashMap;

use diesel::prelude::*;

use crate::db::schema::purchases;
use crate::db::{padded, DbConn, Kept};
use crate::ids::{AccountId, PurchaseId};
use crate::{Credits, Error, Result};

/// Opens a purchase's credits as a lot (its `credits_remaining` becomes its credits), in the
/// transaction that credits the purchase.
pub fn open_lot(conn: &mut DbConn, purchase: &PurchaseId) -> Result<()> {
    diesel::update(purchases::table.find(purchase.as_str()))
        .set(purchases::credits_remaining.eq(purchases::credits))
        .execute(conn)?;
    Ok(())
}

/// Takes `credits` back out of one lot, for a refund (in the transaction that debits them);
/// false, changing nothing, if the lot has fewer left.
pub fn take_from_lot(conn: &mut DbConn, purchase: &PurchaseId, credits: Credits) -> Result<bool> {
    let taken = diesel::update(
        purchases::table.find(purchase.as_str()).filter(purchases::credits_remaining.ge(credits.units())),
    )
    .set(purchases::credits_remaining.eq(purchases::credits_remaining - credits.units()))
    .execute(conn)?;
    Ok(taken == 1)
}

/// Takes `amount` out of the account's lots, oldest first. Run in the transaction that debits
/// the balance, after the debit (which holds the account's row lock). What no lot covers came
/// from non-lot credits (adjustments).
pub fn consume_lots(conn: &mut DbConn, account: &AccountId, amount: Credits) -> Result<()> {
    consume_lots_set(conn, &[(account.as_str(), amount.units())])
}

/// [`consume_lots`] for several accounts at once, `(account id, amount)` each (each account
/// once): their lots read in one statement, taken from oldest first in memory, and written back
/// in one statement per distinct amount taken.
pub fn consume_lots_set(conn: &mut DbConn, amounts: &[(&str, i64)]) -> Result<()> {
    let accounts: Vec<&str> = amounts.iter().map(|(account, _)| *account).collect();
    let lots: Vec<(String, String, i64)> = Kept(
        purchases::table
            .filter(purchases::account_id.eq_any(padded(&accounts)))
            .filter(purchases::credits_remaining.gt(0))
            .order((purchases::account_id.asc(), purchases::succeeded_at.asc(), purchases::id.asc()))
            .select((purchases::account_id, purchases::id, purchases::credits_remaining)),
    )
    .load(conn)?;
    let mut left: HashMap<&str, i64> = amounts.iter().copied().collect();
    let mut takes: Vec<(i64, Vec<String>)> = Vec::new();
    for (account, id, remaining) in lots {
        let Some(left) = left.get_mut(account.as_str()) else { continue };
        let take = remaining.min(*left);
        if take == 0 {
            continue;
        }
        *left -= take;
        match takes.iter_mut().find(|(t, _)| *t == take) {
            Some((_, ids)) => ids.push(id),
            None => takes.push((take, vec![id])),
        }
    }
    for (take, ids) in takes {
        let lots: Vec<&str> = ids.iter().map(String::as_str).collect();
        let updated = Kept(
            diesel::update(purchases::table.filter(purchases::id.eq_any(padded(&lots))))
                .set(purchases::credits_remaining.eq(purchases::credits_remaining - take)),
        )
        .execute(conn)?;
        if updated != ids.len() {
            return Err(Error::Internal(anyhow::anyhow!("a lot vanished under its account's row lock")));
        }
    }
    Ok(())
}
