//! Low-balance alerts, notifications, and the outbox of signed webhook events.
//!
//! Thresholds are copied onto the account row (`low_balance_threshold`,
//! `auto_topup_threshold`), so every statement that lowers `available` returns them and
//! [`on_available_drop`] can tell, inside the same transaction, whether this change crossed a
//! threshold downwards (`before >= threshold > after`). Row locking serializes those changes,
//! so each crossing is seen by exactly one transaction: one alert per crossing, re-armed by
//! any rise above the threshold.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use serde_json::json;

use super::Page;
use super::{naive, utc};
use crate::db::schema::{
    accounts, alert_settings, auto_topup_requests, notifications, webhook_attempts, webhook_deliveries,
};
use crate::db::{write_transaction, DbConn};
use crate::ids::{random_base62, AccountId, EventId, NotificationId};
use crate::{Credits, Error, Result};

/// An account's low-balance alert.
#[derive(Clone, Debug)]
pub struct AlertSettings {
    pub enabled: bool,
    pub threshold: Credits,
    pub webhook_url: Option<String>,
    /// Signs the account's webhooks (`whsec_...`).
    pub webhook_secret: String,
}

/// The account's webhook signing secret, created on first use.
pub fn webhook_secret(conn: &mut DbConn, account: &AccountId) -> Result<String> {
    let current: Option<Option<String>> =
        accounts::table.find(account.as_str()).select(accounts::webhook_secret).first(conn).optional()?;
    match current {
        None => Err(Error::NotFound("account")),
        Some(Some(secret)) => Ok(secret),
        Some(None) => {
            let secret = format!("whsec_{}", random_base62(32));
            diesel::update(accounts::table.find(account.as_str()).filter(accounts::webhook_secret.is_null()))
                .set(accounts::webhook_secret.eq(&secret))
                .execute(conn)?;
            // Whoever wrote first wins; read back the stored one.
            let stored: Option<String> =
                accounts::table.find(account.as_str()).select(accounts::webhook_secret).first(conn)?;
            stored.ok_or(Error::NotFound("account"))
        }
    }
}

/// The alert settings (disabled, threshold 0, when never set).
pub fn alert_settings(conn: &mut DbConn, account: &AccountId) -> Result<AlertSettings> {
    let secret = webhook_secret(conn, account)?;
    let row: Option<(bool, i64, Option<String>)> = alert_settings::table
        .find(account.as_str())
        .select((alert_settings::enabled, alert_settings::threshold, alert_settings::webhook_url))
        .first(conn)
        .optional()?;
    let (enabled, threshold, webhook_url) = row.unwrap_or((false, 0, None));
    Ok(AlertSettings { enabled, threshold: Credits::from_units(threshold), webhook_url, webhook_secret: secret })
}

/// Replaces the alert settings (the URL must already have passed the SSRF check).
pub fn put_alert_settings(
    conn: &mut DbConn,
    account: &AccountId,
    enabled: bool,
    threshold: Credits,
    webhook_url: Option<&str>,
    now: DateTime<Utc>,
) -> Result<AlertSettings> {
    if threshold.is_negative() {
        return Err(Error::invalid("invalid_amount", "threshold must not be negative", "threshold"));
    }
    write_transaction(conn, |conn| {
        diesel::delete(alert_settings::table.find(account.as_str())).execute(conn)?;
        diesel::insert_into(alert_settings::table)
            .values((
                alert_settings::account_id.eq(account.as_str()),
                alert_settings::enabled.eq(enabled),
                alert_settings::threshold.eq(threshold.units()),
                alert_settings::webhook_url.eq(webhook_url),
                alert_settings::updated_at.eq(naive(now)),
            ))
            .execute(conn)?;
        diesel::update(accounts::table.find(account.as_str()))
            .set(accounts::low_balance_threshold.eq(enabled.then_some(threshold.units())))
            .execute(conn)?;
        alert_settings(conn, account)
    })
}

/// Called by every statement that lowers `available`, in its transaction, with the values
/// before and after and the account's thresholds. Records an alert (and its webhook) or an
/// automatic top-up request when this change crossed a threshold downwards.
pub fn on_available_drop(
    conn: &mut DbConn,
    account: &AccountId,
    before: i64,
    after: i64,
    low_balance: Option<i64>,
    auto_topup: Option<i64>,
    now: DateTime<Utc>,
) -> Result<()> {
    let crossed = |t: Option<i64>| t.is_some_and(|t| before >= t && after < t);
    if crossed(low_balance) {
        let threshold = Credits::from_units(low_balance.unwrap_or_default());
        record_low_balance(conn, account, Credits::from_units(after), threshold, now)?;
    }
    if crossed(auto_topup) {
        diesel::insert_into(auto_topup_requests::table)
            .values((
                auto_topup_requests::id.eq(format!("atr_{}", random_base62(24))),
                auto_topup_requests::account_id.eq(account.as_str()),
                auto_topup_requests::status.eq("pending"),
                auto_topup_requests::created_at.eq(naive(now)),
            ))
            .execute(conn)?;
    }
    Ok(())
}

fn record_low_balance(
    conn: &mut DbConn,
    account: &AccountId,
    available: Credits,
    threshold: Credits,
    now: DateTime<Utc>,
) -> Result<()> {
    let data = json!({"available": available.to_string(), "threshold": threshold.to_string()});
    notify(
        conn,
        account,
        "low_balance",
        &format!("Available credits fell below {threshold}: {available} left"),
        &data,
        now,
    )?;
    let url: Option<Option<String>> = alert_settings::table
        .find(account.as_str())
        .filter(alert_settings::enabled.eq(true))
        .select(alert_settings::webhook_url)
        .first(conn)
        .optional()?;
    if let Some(Some(url)) = url {
        let id = EventId::generate();
        let event = json!({"id": id.as_str(), "type": "balance.low", "created": now.timestamp(), "data": data});
        diesel::insert_into(webhook_deliveries::table)
            .values((
                webhook_deliveries::id.eq(id.as_str()),
                webhook_deliveries::account_id.eq(account.as_str()),
                webhook_deliveries::url.eq(&url),
                webhook_deliveries::payload.eq(event.to_string()),
                webhook_deliveries::status.eq("pending"),
                webhook_deliveries::next_attempt_at.eq(naive(now)),
                webhook_deliveries::created_at.eq(naive(now)),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// A notification shown in `GET /v1/notifications`.
#[derive(Clone, Debug)]
pub struct Notification {
    pub id: NotificationId,
    pub kind: String,
    pub message: String,
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// Records a notification.
pub fn notify(
    conn: &mut DbConn,
    account: &AccountId,
    kind: &str,
    message: &str,
    data: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<()> {
    diesel::insert_into(notifications::table)
        .values((
            notifications::id.eq(NotificationId::generate().as_str()),
            notifications::account_id.eq(account.as_str()),
            notifications::kind.eq(kind),
            notifications::message.eq(message),
            notifications::data.eq(data.to_string()),
            notifications::created_at.eq(naive(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// The account's notifications, newest first.
pub fn list_notifications(
    conn: &mut DbConn,
    account: &AccountId,
    after: Option<&NotificationId>,
    limit: i64,
) -> Result<Page<Notification>> {
    let mut query = notifications::table.filter(notifications::account_id.eq(account.as_str())).into_boxed();
    if let Some(after) = after {
        let at: chrono::NaiveDateTime = notifications::table
            .find(after.as_str())
            .filter(notifications::account_id.eq(account.as_str()))
            .select(notifications::created_at)
            .first(conn)
            .optional()?
            .ok_or(Error::NotFound(super::CURSOR))?;
        query = query.filter(
            notifications::created_at
                .lt(at)
                .or(notifications::created_at.eq(at).and(notifications::id.lt(after.as_str().to_string()))),
        );
    }
    let rows: Vec<(String, String, String, String, chrono::NaiveDateTime)> = query
        .order((notifications::created_at.desc(), notifications::id.desc()))
        .limit(limit + 1)
        .select((
            notifications::id,
            notifications::kind,
            notifications::message,
            notifications::data,
            notifications::created_at,
        ))
        .load(conn)?;
    let items = rows
        .into_iter()
        .map(|(id, kind, message, data, at)| Notification {
            id: NotificationId::from_db(id),
            kind,
            message,
            data: serde_json::from_str(&data).unwrap_or(serde_json::Value::Null),
            created_at: utc(at),
        })
        .collect();
    Ok(Page::from_overfetch(items, limit))
}

/// A webhook event due for an attempt, leased to one worker.
#[derive(Clone, Debug)]
pub struct DueDelivery {
    pub id: String,
    pub url: String,
    pub payload: String,
    pub secret: String,
    /// Attempts made before this one.
    pub attempts: i32,
}

/// Leases up to `limit` due deliveries for `lease` (so several processes never send one
/// event at once).
pub fn claim_due_deliveries(
    conn: &mut DbConn,
    now: DateTime<Utc>,
    lease: Duration,
    limit: i64,
) -> Result<Vec<DueDelivery>> {
    let due: Vec<String> = webhook_deliveries::table
        .filter(webhook_deliveries::status.eq("pending"))
        .filter(webhook_deliveries::next_attempt_at.le(naive(now)))
        .filter(webhook_deliveries::lease_until.is_null().or(webhook_deliveries::lease_until.lt(naive(now))))
        .order(webhook_deliveries::next_attempt_at.asc())
        .limit(limit)
        .select(webhook_deliveries::id)
        .load(conn)?;
    let mut claimed = Vec::new();
    for id in due {
        let leased = diesel::update(
            webhook_deliveries::table
                .find(&id)
                .filter(webhook_deliveries::status.eq("pending"))
                .filter(webhook_deliveries::lease_until.is_null().or(webhook_deliveries::lease_until.lt(naive(now)))),
        )
        .set(webhook_deliveries::lease_until.eq(naive(now + lease)))
        .execute(conn)?;
        if leased == 0 {
            continue;
        }
        let (account_id, url, payload, attempts): (String, String, String, i32) = webhook_deliveries::table
            .find(&id)
            .select((
                webhook_deliveries::account_id,
                webhook_deliveries::url,
                webhook_deliveries::payload,
                webhook_deliveries::attempts,
            ))
            .first(conn)?;
        let secret = webhook_secret(conn, &AccountId::from_db(account_id))?;
        claimed.push(DueDelivery { id, url, payload, secret, attempts });
    }
    Ok(claimed)
}

/// Records one attempt. `retry_at`: when to try again (None with `delivered` false gives up).
pub fn record_attempt(
    conn: &mut DbConn,
    delivery: &DueDelivery,
    status_code: Option<u16>,
    error: Option<&str>,
    delivered: bool,
    retry_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<()> {
    write_transaction(conn, |conn| {
        let attempt = delivery.attempts + 1;
        diesel::insert_into(webhook_attempts::table)
            .values((
                webhook_attempts::delivery_id.eq(&delivery.id),
                webhook_attempts::attempt.eq(attempt),
                webhook_attempts::status_code.eq(status_code.map(i32::from)),
                webhook_attempts::error.eq(error),
                webhook_attempts::at.eq(naive(now)),
            ))
            .execute(conn)?;
        let status = match (delivered, retry_at) {
            (true, _) => "delivered",
            (false, Some(_)) => "pending",
            (false, None) => "failed",
        };
        diesel::update(webhook_deliveries::table.find(&delivery.id))
            .set((
                webhook_deliveries::status.eq(status),
                webhook_deliveries::attempts.eq(attempt),
                webhook_deliveries::next_attempt_at.eq(naive(retry_at.unwrap_or(now))),
                webhook_deliveries::lease_until.eq(None::<chrono::NaiveDateTime>),
                webhook_deliveries::delivered_at.eq(delivered.then(|| naive(now))),
            ))
            .execute(conn)?;
        Ok(())
    })
}
