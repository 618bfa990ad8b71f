//! Automatic top-up: when `available` crosses the threshold downwards, a request is queued in
//! that same transaction (see `alerts::on_available_drop`); the worker buys the package with
//! the saved card off-session, at most one at a time per account and never more than
//! `max_topups_per_day` (UTC day). Every outcome is a notification. A declined card disables
//! nothing: the notification says so, and the next attempt waits for the next crossing.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::json;

use super::alerts::notify;
use super::naive;
use crate::db::schema::{accounts, auto_topup_requests, auto_topup_settings, purchases as purchases_table};
use crate::db::{write_transaction, DbConn};
use crate::ids::{AccountId, PaymentMethodId};
use crate::ledger::lock_account_row;
use crate::payments::PaymentProvider;
use crate::purchasing::{self, Payment, PurchaseOutcome, PurchaseRequest};
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

/// Runs pending top-up requests; returns how many were handled.
///
/// `now` is read for each request as it starts: a round can take long (a slow card provider,
/// many accounts), and a request must not start with a stale `started_at` that another process
/// would take for an abandoned one, nor share its purchase time with the round's others.
pub fn run_pending(
    conn: &mut DbConn,
    provider: &dyn PaymentProvider,
    now: &dyn Fn() -> DateTime<Utc>,
) -> Result<usize> {
    let pending: Vec<(String, String)> = auto_topup_requests::table
        .filter(auto_topup_requests::status.eq("pending"))
        .order(auto_topup_requests::created_at.asc())
        .limit(50)
        .select((auto_topup_requests::id, auto_topup_requests::account_id))
        .load(conn)?;
    let mut handled = 0;
    for (id, account) in pending {
        let account = AccountId::from_db(account);
        let started = now();
        if claim(conn, &id, &account, started)? {
            run_one(conn, provider, &id, &account, started)?;
            handled += 1;
        }
    }
    Ok(handled)
}

/// Marks a request running unless another of the account's is (one in flight per account;
/// the account row lock serializes claimers across processes).
fn claim(conn: &mut DbConn, id: &str, account: &AccountId, now: DateTime<Utc>) -> Result<bool> {
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

fn finish(
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

fn run_one(
    conn: &mut DbConn,
    provider: &dyn PaymentProvider,
    id: &str,
    account: &AccountId,
    now: DateTime<Utc>,
) -> Result<()> {
    let Some(settings) = get(conn, account)?.filter(|s| s.enabled) else {
        return finish(conn, id, "skipped", None, "automatic top-up is disabled", now);
    };
    let day_start = naive(now.date_naive().and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    let today: i64 = purchases_table::table
        .filter(purchases_table::account_id.eq(account.as_str()))
        .filter(purchases_table::auto_topup.eq(true))
        .filter(purchases_table::created_at.ge(day_start))
        .count()
        .get_result(conn)?;
    if today >= i64::from(settings.max_topups_per_day) {
        let message =
            format!("Automatic top-up skipped: the daily maximum of {} was reached", settings.max_topups_per_day);
        notify(
            conn,
            account,
            "auto_topup_skipped",
            &message,
            &json!({"max_topups_per_day": settings.max_topups_per_day}),
            now,
        )?;
        return finish(conn, id, "skipped", None, "daily maximum reached", now);
    }
    // A declined off-session charge stops the tries with that card for the rest of the day
    // (never a retry loop against a declining card); another card may try at once.
    let declined_today: i64 = purchases_table::table
        .filter(purchases_table::account_id.eq(account.as_str()))
        .filter(purchases_table::auto_topup.eq(true))
        .filter(purchases_table::created_at.ge(day_start))
        .filter(purchases_table::status.eq("failed"))
        .filter(purchases_table::payment_method_id.eq(&settings.payment_method_id))
        .count()
        .get_result(conn)?;
    if declined_today > 0 {
        let message = "Automatic top-up skipped: the saved card was declined earlier today. It tries again \
                       tomorrow, or at once with another card.";
        let data = json!({"reason": "declined_today", "payment_method_id": settings.payment_method_id});
        notify(conn, account, "auto_topup_skipped", message, &data, now)?;
        return finish(conn, id, "skipped", None, "declined earlier today", now);
    }
    let Some(pm) = PaymentMethodId::parse(&settings.payment_method_id) else {
        return finish(conn, id, "failed", None, "invalid payment method", now);
    };
    let outcome = purchasing::purchase(
        conn,
        provider,
        PurchaseRequest {
            account_id: account,
            package_id: &settings.package_id,
            payment: Payment::SavedCard(pm),
            user_id: None,
            api_key_id: None,
            auto_topup: true,
        },
        now,
    );
    match outcome {
        Ok(PurchaseOutcome::Accepted(p)) => {
            let message = format!("Automatic top-up: bought the {} package ({} credits)", p.package_id, p.credits);
            notify(
                conn,
                account,
                "auto_topup_succeeded",
                &message,
                &json!({"purchase_id": p.id.as_str(), "credits": p.credits.to_string()}),
                now,
            )?;
            finish(conn, id, "succeeded", Some(p.id.as_str()), "purchased", now)
        }
        Ok(PurchaseOutcome::Declined(p, declined)) => {
            let message = format!(
                "Automatic top-up failed: {} ({}). It stays enabled; with this card it tries again tomorrow, the next time the balance falls below the threshold.",
                declined.message, declined.code
            );
            notify(
                conn,
                account,
                "auto_topup_failed",
                &message,
                &json!({"purchase_id": p.id.as_str(), "code": declined.code}),
                now,
            )?;
            finish(conn, id, "failed", Some(p.id.as_str()), declined.code, now)
        }
        Err(e) => {
            let message = format!("Automatic top-up failed: {e}");
            notify(conn, account, "auto_topup_failed", &message, &json!({"code": "error"}), now)?;
            finish(conn, id, "failed", None, &e.to_string(), now)
        }
    }
}
