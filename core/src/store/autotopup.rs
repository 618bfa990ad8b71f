//! Automatic top-up: when `available` crosses the threshold downwards, a request is queued in
//! that same transaction (see `alerts::on_available_drop`); the worker buys the package with
//! the saved card off-session, at most one at a time per account and never more than
//! `max_topups_per_day` (UTC day). Every outcome is a notification. A declined card disables
//! nothing: the notification says so, and the next attempt waits for the next crossing.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::locks::lock_account_row;
use super::naive;
use crate::db::schema::{accounts, auto_topup_requests, auto_topup_settings, purchases as purchases_table};
use crate::db::{write_transaction, DbConn};
use crate::ids::{AccountId, PaymentMethodId};
use crate::store::catalog;
use crate::{Credits, Error, Result};

/// How long a running top-up may take before it counts as abandoned.
const RUNNING_LEASE: chrono::Duration = chrono::Duration::minutes(10);

#[derive(Clone, Debug)]
pub struct AutoTopup {
    pub enabled: bool,
    pub threshold: Credits,
    pub package_id: String,
    pub payment_method_id: String,
    pub max_topups_per_day: i32,
}

pub fn get(conn: &mut DbConn, account: &AccountId) -> Result<Option<AutoTopup>> {
    Ok(auto_topup_settings::table
        .find(account.as_str())
        .select((
            auto_topup_settings::enabled,
            auto_topup_settings::threshold,
            auto_topup_settings::package_id,
            auto_topup_settings::payment_method_id,
            auto_topup_settings::max_topups_per_day,
        ))
        .first::<(bool, i64, String, String, i32)>(conn)
        .optional()?
        .map(|(enabled, threshold, package_id, payment_method_id, max)| AutoTopup {
            enabled,
            threshold: Credits::from_units(threshold),
            package_id,
            payment_method_id,
            max_topups_per_day: max,
        }))
}

/// Replaces the settings after checking the package and the saved card exist.
pub fn put(conn: &mut DbConn, account: &AccountId, settings: &AutoTopup, now: DateTime<Utc>) -> Result<AutoTopup> {
    if settings.threshold.is_negative() {
        return Err(Error::invalid("invalid_amount", "threshold must not be negative", "threshold"));
    }
    if !(1..=100).contains(&settings.max_topups_per_day) {
        return Err(Error::invalid("invalid_max_topups", "max_topups_per_day must be 1–100", "max_topups_per_day"));
    }
    let package = catalog::get_package(conn, &settings.package_id)?;
    if !package.active {
        return Err(Error::NotFound("package"));
    }
    let pm = PaymentMethodId::parse(&settings.payment_method_id).ok_or(Error::NotFound("payment method"))?;
    super::payment_methods::get_payment_method(conn, account, &pm)?;
    write_transaction(conn, |conn| {
        diesel::delete(auto_topup_settings::table.find(account.as_str())).execute(conn)?;
        diesel::insert_into(auto_topup_settings::table)
            .values((
                auto_topup_settings::account_id.eq(account.as_str()),
                auto_topup_settings::enabled.eq(settings.enabled),
                auto_topup_settings::threshold.eq(settings.threshold.units()),
                auto_topup_settings::package_id.eq(&settings.package_id),
                auto_topup_settings::payment_method_id.eq(&settings.payment_method_id),
                auto_topup_settings::max_topups_per_day.eq(settings.max_topups_per_day),
                auto_topup_settings::updated_at.eq(naive(now)),
            ))
            .execute(conn)?;
        diesel::update(accounts::table.find(account.as_str()))
            .set(accounts::auto_topup_threshold.eq(settings.enabled.then_some(settings.threshold.units())))
            .execute(conn)?;
        Ok(settings.clone())
    })
}

/// Up to `limit` pending requests, oldest first: (request id, account).
pub fn pending(conn: &mut DbConn, limit: i64) -> Result<Vec<(String, AccountId)>> {
    let pending: Vec<(String, String)> = auto_topup_requests::table
        .filter(auto_topup_requests::status.eq("pending"))
        .order(auto_topup_requests::created_at.asc())
        .limit(limit)
        .select((auto_topup_requests::id, auto_topup_requests::account_id))
        .load(conn)?;
    Ok(pending.into_iter().map(|(id, account)| (id, AccountId::from_db(account))).collect())
}

/// The account's automatic top-up purchases since `since` (each attempt, whatever its outcome),
/// and of those the ones with `payment_method` that failed.
pub fn bought_since(
    conn: &mut DbConn,
    account: &AccountId,
    since: DateTime<Utc>,
    payment_method: &str,
) -> Result<(i64, i64)> {
    let tried = purchases_table::table
        .filter(purchases_table::account_id.eq(account.as_str()))
        .filter(purchases_table::auto_topup.eq(true))
        .filter(purchases_table::created_at.ge(naive(since)));
    let all: i64 = tried.count().get_result(conn)?;
    let declined: i64 = tried
        .filter(purchases_table::status.eq("failed"))
        .filter(purchases_table::payment_method_id.eq(payment_method))
        .count()
        .get_result(conn)?;
    Ok((all, declined))
}

/// Marks a request running unless another of the account's is (one in flight per account;
/// the account row lock serializes claimers across processes).
pub fn claim(conn: &mut DbConn, id: &str, account: &AccountId, now: DateTime<Utc>) -> Result<bool> {
    write_transaction(conn, |conn| {
        lock_account_row(conn, account, now)?;
        // A request left running by a process that died would block the account for ever:
        // past the lease it is marked failed (its purchase, if any, records what happened).
        diesel::update(
            auto_topup_requests::table
                .filter(auto_topup_requests::account_id.eq(account.as_str()))
                .filter(auto_topup_requests::status.eq("running"))
                .filter(auto_topup_requests::started_at.lt(naive(now - RUNNING_LEASE))),
        )
        .set((
            auto_topup_requests::status.eq("failed"),
            auto_topup_requests::detail.eq("abandoned: the process running it stopped"),
            auto_topup_requests::finished_at.eq(naive(now)),
        ))
        .execute(conn)?;
        let running: i64 = auto_topup_requests::table
            .filter(auto_topup_requests::account_id.eq(account.as_str()))
            .filter(auto_topup_requests::status.eq("running"))
            .count()
            .get_result(conn)?;
        if running > 0 {
            return Ok(false);
        }
        let claimed =
            diesel::update(auto_topup_requests::table.find(id).filter(auto_topup_requests::status.eq("pending")))
                .set((auto_topup_requests::status.eq("running"), auto_topup_requests::started_at.eq(naive(now))))
                .execute(conn)?;
        Ok(claimed == 1)
    })
}

/// Records how a request ended.
pub fn finish(
    conn: &mut DbConn,
    id: &str,
    status: &str,
    purchase: Option<&str>,
    detail: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    diesel::update(auto_topup_requests::table.find(id))
        .set((
            auto_topup_requests::status.eq(status),
            auto_topup_requests::purchase_id.eq(purchase),
            auto_topup_requests::detail.eq(detail),
            auto_topup_requests::finished_at.eq(naive(now)),
        ))
        .execute(conn)?;
    Ok(())
}
