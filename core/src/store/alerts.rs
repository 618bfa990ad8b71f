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

use super::events::{self, EventType};
use super::webhook_endpoints;
use super::Page;
use super::{naive, utc};
use crate::db::schema::{
    accounts, alert_settings, auto_topup_requests, notifications, webhook_attempts, webhook_deliveries,
    webhook_endpoints as endpoints_table,
};
use crate::db::{write_transaction, DbConn};
use crate::ids::{random_base62, AccountId, NotificationId};
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
        // The URL is a webhook endpoint subscribed to `balance.low`, signed with the secret these
        // settings show.
        let secret = webhook_secret(conn, account)?;
        webhook_endpoints::set_low_balance_endpoint(conn, account, webhook_url, &secret, now)?;
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
    // Its webhook goes to every endpoint subscribed to `balance.low`: the alert's own `webhook_url`
    // is one (see `webhook_endpoints::set_low_balance_endpoint`).
    events::record(conn, account, EventType::BalanceLow, data, now)?;
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
    /// The secrets to sign it with: the endpoint's, and its previous one during a rotation.
    pub secrets: Vec<String>,
    /// The endpoint it goes to (none for deliveries queued before endpoints existed).
    pub endpoint_id: Option<String>,
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
        // A disabled endpoint's deliveries wait until it is enabled again.
        .filter(webhook_deliveries::endpoint_id.is_null().or(webhook_deliveries::endpoint_id.eq_any(
            endpoints_table::table.filter(endpoints_table::status.eq("enabled")).select(endpoints_table::id.nullable()),
        )))
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
        let (account_id, url, payload, attempts, endpoint_id): (String, String, String, i32, Option<String>) =
            webhook_deliveries::table
                .find(&id)
                .select((
                    webhook_deliveries::account_id,
                    webhook_deliveries::url,
                    webhook_deliveries::payload,
                    webhook_deliveries::attempts,
                    webhook_deliveries::endpoint_id,
                ))
                .first(conn)?;
        let (url, secrets) = match &endpoint_id {
            // The endpoint's URL and secrets as they are now (it may have changed since).
            Some(endpoint) => match webhook_endpoints::signing_secrets(conn, endpoint, now)? {
                Some(signing) => signing,
                None => continue,
            },
            None => (url, vec![webhook_secret(conn, &AccountId::from_db(account_id))?]),
        };
        claimed.push(DueDelivery { id, url, payload, secrets, endpoint_id, attempts });
    }
    Ok(claimed)
}

/// How one attempt went.
pub struct AttemptOutcome<'a> {
    pub status_code: Option<u16>,
    pub error: Option<&'a str>,
    pub delivered: bool,
    /// How long the attempt took.
    pub duration: std::time::Duration,
    /// When to try again (None with `delivered` false gives up).
    pub retry_at: Option<DateTime<Utc>>,
    /// How long an endpoint's deliveries may keep failing before it is disabled.
    pub disable_after: Duration,
}

/// Records one attempt, and what it means for its endpoint.
pub fn record_attempt(
    conn: &mut DbConn,
    delivery: &DueDelivery,
    outcome: &AttemptOutcome<'_>,
    now: DateTime<Utc>,
) -> Result<()> {
    let AttemptOutcome { status_code, error, delivered, duration, retry_at, disable_after } = *outcome;
    write_transaction(conn, |conn| {
        let attempt = delivery.attempts + 1;
        diesel::insert_into(webhook_attempts::table)
            .values((
                webhook_attempts::delivery_id.eq(&delivery.id),
                webhook_attempts::attempt.eq(attempt),
                webhook_attempts::status_code.eq(status_code.map(i32::from)),
                webhook_attempts::error.eq(error),
                webhook_attempts::at.eq(naive(now)),
                webhook_attempts::duration_ms.eq(i32::try_from(duration.as_millis()).unwrap_or(i32::MAX)),
            ))
            .execute(conn)?;
        if let Some(endpoint) = &delivery.endpoint_id {
            if let Some(disabled) = webhook_endpoints::record_outcome(conn, endpoint, delivered, disable_after, now)? {
                let webhook_endpoints::Disabled { account, message, data } = disabled;
                notify(conn, &account, "webhook_endpoint_disabled", &message, &data, now)?;
            }
        }
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
