//! Automatic top-up: when `available` crosses the threshold downwards, a request is queued in
//! that same transaction (see `store::alerts::on_available_drop`); this buys the package with
//! the saved card off-session, at most one at a time per account and never more than
//! `max_topups_per_day` (UTC day). Every outcome is a notification. A declined card disables
//! nothing: the notification says so, and the next attempt waits for the next crossing.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::db::{write_transaction, DbConn};
use crate::ids::{AccountId, PaymentMethodId};
use crate::payments::PaymentProvider;
use crate::purchasing::{self, Payment, PurchaseOutcome, PurchaseRequest};
use crate::store::alerts::notify;
use crate::store::autotopup;
use crate::store::events::{self, EventType};
use crate::Result;

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
    let mut handled = 0;
    for (id, account) in autotopup::pending(conn, 50)? {
        let started = now();
        if autotopup::claim(conn, &id, &account, started)? {
            run_one(conn, provider, &id, &account, started)?;
            handled += 1;
        }
    }
    Ok(handled)
}

fn run_one(
    conn: &mut DbConn,
    provider: &dyn PaymentProvider,
    id: &str,
    account: &AccountId,
    now: DateTime<Utc>,
) -> Result<()> {
    let finish = autotopup::finish;
    let Some(settings) = autotopup::get(conn, account)?.filter(|s| s.enabled) else {
        return finish(conn, id, "skipped", None, "automatic top-up is disabled", now);
    };
    let day_start = now.date_naive().and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let (today, declined_today) = autotopup::bought_since(conn, account, day_start, &settings.payment_method_id)?;
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
    if declined_today > 0 {
        let message = "Automatic top-up skipped: the saved card was declined earlier today. It tries again \
                       tomorrow, or at once with another card.";
        let data = json!({"reason": "declined_today", "payment_method_id": settings.payment_method_id});
        notify(conn, account, "auto_topup_skipped", message, &data, now)?;
        return finish(conn, id, "skipped", None, "declined earlier today", now);
    }
    let Some(pm) = PaymentMethodId::parse(&settings.payment_method_id) else {
        let data = json!({"object": "auto_topup", "purchase_id": null, "code": "invalid_payment_method"});
        let report = (EventType::AutoTopupFailed, data);
        return finish_reporting(conn, (id, account), "failed", None, "invalid payment method", report, now);
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
            let data = json!({
                "object": "auto_topup",
                "purchase_id": p.id.as_str(),
                "package_id": p.package_id,
                "credits": p.credits.to_string(),
                "status": p.status.as_str(),
            });
            let report = (EventType::AutoTopupSucceeded, data);
            finish_reporting(conn, (id, account), "succeeded", Some(p.id.as_str()), "purchased", report, now)
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
            let data = json!({"object": "auto_topup", "purchase_id": p.id.as_str(), "code": declined.code});
            let report = (EventType::AutoTopupFailed, data);
            finish_reporting(conn, (id, account), "failed", Some(p.id.as_str()), declined.code, report, now)
        }
        Err(e) => {
            let message = format!("Automatic top-up failed: {e}");
            notify(conn, account, "auto_topup_failed", &message, &json!({"code": "error"}), now)?;
            let data = json!({"object": "auto_topup", "purchase_id": null, "code": "error"});
            let report = (EventType::AutoTopupFailed, data);
            finish_reporting(conn, (id, account), "failed", None, &e.to_string(), report, now)
        }
    }
}

/// Ends a top-up request (`(id, account)`) as `status`, with the event that reports it, in one
/// transaction.
fn finish_reporting(
    conn: &mut DbConn,
    (id, account): (&str, &AccountId),
    status: &str,
    purchase: Option<&str>,
    why: &str,
    (event, data): (EventType, serde_json::Value),
    now: DateTime<Utc>,
) -> Result<()> {
    write_transaction(conn, |conn| {
        events::record(conn, account, event, data, now)?;
        autotopup::finish(conn, id, status, purchase, why, now)
    })
}
