//! Webhook endpoints: where an account's events are sent, each signed with the endpoint's own
//! secret (`whsec_...`, shown once). A rotation keeps the previous secret valid for a grace
//! period, during which deliveries carry both signatures. An endpoint whose deliveries keep
//! failing for longer than a limit is disabled, and its account notified. The deliveries
//! themselves (one per event and endpoint, written with the event) and their attempts are in
//! [`super::alerts`]' outbox.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

use super::Page;
use super::{naive, utc};
use crate::db::schema::{webhook_attempts, webhook_deliveries, webhook_endpoints};
use crate::db::DbConn;
use crate::domain::EventType;
use crate::ids::{random_base62, AccountId, WebhookDeliveryId, WebhookEndpointId};
use crate::{Error, Result};

/// Most endpoints an account may have.
pub const MAX_ENDPOINTS: i64 = 16;

/// The longest grace period a rotation may keep the previous secret for.
pub const MAX_ROTATION_GRACE: Duration = Duration::days(7);

/// Marks the endpoint that the low-balance alert's settings manage.
pub const LOW_BALANCE_ALERT: &str = "low_balance_alert";

text_enum! {
    pub enum EndpointStatus {
        Enabled = "enabled",
        Disabled = "disabled",
    }
}

/// An endpoint as its account sees it (never its secret, but on creation and rotation).
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub id: WebhookEndpointId,
    pub account_id: AccountId,
    pub url: String,
    pub description: String,
    /// Event types, or `["*"]` for all.
    pub enabled_events: Vec<String>,
    pub status: EndpointStatus,
    pub disabled_reason: Option<String>,
    /// Until when the previous secret still signs deliveries (after a rotation).
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// Since when its deliveries have been failing, if the last one failed.
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

type Row = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<chrono::NaiveDateTime>,
    Option<chrono::NaiveDateTime>,
    chrono::NaiveDateTime,
    chrono::NaiveDateTime,
);

macro_rules! endpoint_columns {
    () => {
        (
            webhook_endpoints::id,
            webhook_endpoints::account_id,
            webhook_endpoints::url,
            webhook_endpoints::description,
            webhook_endpoints::enabled_events,
            webhook_endpoints::status,
            webhook_endpoints::disabled_reason,
            webhook_endpoints::previous_secret_expires_at,
            webhook_endpoints::failing_since,
            webhook_endpoints::created_at,
            webhook_endpoints::updated_at,
        )
    };
}

fn endpoint(row: Row) -> Result<Endpoint> {
    let (id, account, url, description, events, status, reason, previous_until, failing, created, updated) = row;
    Ok(Endpoint {
        id: WebhookEndpointId::from_db(id),
        account_id: AccountId::from_db(account),
        url,
        description,
        enabled_events: events.split(',').map(str::to_string).collect(),
        status: EndpointStatus::from_db(&status)?,
        disabled_reason: reason,
        previous_secret_expires_at: previous_until.map(utc),
        failing_since: failing.map(utc),
        created_at: utc(created),
        updated_at: utc(updated),
    })
}

/// A new secret, `whsec_` and 32 random characters.
pub fn generate_secret() -> String {
    format!("whsec_{}", random_base62(32))
}

/// Checks a list of event types (or `*`), answering it as stored.
pub fn enabled_events(events: &[String]) -> Result<String> {
    if events.is_empty() {
        return Err(Error::invalid(
            "invalid_parameter",
            "enabled_events needs at least one type, or \"*\"",
            "enabled_events",
        ));
    }
    let mut kept: Vec<&str> = Vec::new();
    for event in events {
        if event != "*" && EventType::parse(event).is_none() {
            return Err(Error::invalid("invalid_parameter", format!("unknown event type {event:?}"), "enabled_events"));
        }
        if !kept.contains(&event.as_str()) {
            kept.push(event);
        }
    }
    if kept.contains(&"*") {
        kept = vec!["*"];
    }
    Ok(kept.join(","))
}

fn check_description(description: &str) -> Result<()> {
    if description.chars().count() > 500 {
        return Err(Error::invalid("invalid_parameter", "description must be at most 500 characters", "description"));
    }
    Ok(())
}

/// A new endpoint, its URL already checked by the caller (see the API's SSRF guard).
pub struct NewEndpoint<'a> {
    pub url: &'a str,
    pub description: &'a str,
    pub enabled_events: &'a [String],
}

/// Creates an endpoint; answers it with its secret, shown this once.
pub fn create(
    conn: &mut DbConn,
    account: &AccountId,
    new: NewEndpoint<'_>,
    now: DateTime<Utc>,
) -> Result<(Endpoint, String)> {
    check_description(new.description)?;
    let events = enabled_events(new.enabled_events)?;
    let count: i64 =
        webhook_endpoints::table.filter(webhook_endpoints::account_id.eq(account.as_str())).count().get_result(conn)?;
    if count >= MAX_ENDPOINTS {
        return Err(Error::conflict(
            "too_many_webhook_endpoints",
            format!("an account has at most {MAX_ENDPOINTS} webhook endpoints; delete one first"),
        ));
    }
    let id = WebhookEndpointId::generate();
    let secret = generate_secret();
    insert(conn, account, &id, (new.url, new.description, &events), &secret, None, now)?;
    Ok((get(conn, account, &id)?, secret))
}

fn insert(
    conn: &mut DbConn,
    account: &AccountId,
    id: &WebhookEndpointId,
    (url, description, events): (&str, &str, &str),
    secret: &str,
    managed_by: Option<&str>,
    now: DateTime<Utc>,
) -> Result<()> {
    diesel::insert_into(webhook_endpoints::table)
        .values((
            webhook_endpoints::id.eq(id.as_str()),
            webhook_endpoints::account_id.eq(account.as_str()),
            webhook_endpoints::url.eq(url),
            webhook_endpoints::description.eq(description),
            webhook_endpoints::enabled_events.eq(events),
            webhook_endpoints::status.eq(EndpointStatus::Enabled.as_str()),
            webhook_endpoints::secret.eq(secret),
            webhook_endpoints::managed_by.eq(managed_by),
            webhook_endpoints::created_at.eq(naive(now)),
            webhook_endpoints::updated_at.eq(naive(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// One of the account's endpoints.
pub fn get(conn: &mut DbConn, account: &AccountId, id: &WebhookEndpointId) -> Result<Endpoint> {
    let row: Row = webhook_endpoints::table
        .find(id.as_str())
        .filter(webhook_endpoints::account_id.eq(account.as_str()))
        .select(endpoint_columns!())
        .first(conn)
        .optional()?
        .ok_or(Error::NotFound("webhook endpoint"))?;
    endpoint(row)
}

/// The account's endpoints, oldest first.
pub fn list(
    conn: &mut DbConn,
    account: &AccountId,
    after: Option<&WebhookEndpointId>,
    limit: i64,
) -> Result<Page<Endpoint>> {
    let mut query = webhook_endpoints::table.filter(webhook_endpoints::account_id.eq(account.as_str())).into_boxed();
    if let Some(after) = after {
        query = query.filter(webhook_endpoints::id.gt(after.as_str().to_string()));
    }
    let rows: Vec<Row> =
        query.order(webhook_endpoints::id.asc()).limit(limit + 1).select(endpoint_columns!()).load(conn)?;
    Ok(Page::from_overfetch(rows.into_iter().map(endpoint).collect::<Result<_>>()?, limit))
}

/// What a `PATCH` changes (absent: unchanged).
#[derive(Default)]
pub struct EndpointUpdate {
    pub url: Option<String>,
    pub description: Option<String>,
    pub enabled_events: Option<Vec<String>>,
    pub status: Option<EndpointStatus>,
}

/// Changes an endpoint. Enabling it again clears its failure record; its deliveries that were
/// waiting resume.
pub fn update(
    conn: &mut DbConn,
    account: &AccountId,
    id: &WebhookEndpointId,
    change: &EndpointUpdate,
    now: DateTime<Utc>,
) -> Result<Endpoint> {
    let current = get(conn, account, id)?;
    if let Some(description) = &change.description {
        check_description(description)?;
    }
    let events = change.enabled_events.as_deref().map(enabled_events).transpose()?;
    let target = webhook_endpoints::table.find(id.as_str());
    diesel::update(target)
        .set((
            webhook_endpoints::url.eq(change.url.as_deref().unwrap_or(&current.url)),
            webhook_endpoints::description.eq(change.description.as_deref().unwrap_or(&current.description)),
            webhook_endpoints::enabled_events.eq(events.unwrap_or_else(|| current.enabled_events.join(","))),
            webhook_endpoints::updated_at.eq(naive(now)),
        ))
        .execute(conn)?;
    match change.status {
        Some(EndpointStatus::Enabled) if current.status == EndpointStatus::Disabled => {
            diesel::update(target)
                .set((
                    webhook_endpoints::status.eq(EndpointStatus::Enabled.as_str()),
                    webhook_endpoints::disabled_reason.eq(None::<String>),
                    webhook_endpoints::failing_since.eq(None::<chrono::NaiveDateTime>),
                ))
                .execute(conn)?;
        }
        Some(EndpointStatus::Disabled) if current.status == EndpointStatus::Enabled => {
            diesel::update(target)
                .set((
                    webhook_endpoints::status.eq(EndpointStatus::Disabled.as_str()),
                    webhook_endpoints::disabled_reason.eq("disabled by the account"),
                ))
                .execute(conn)?;
        }
        _ => {}
    }
    get(conn, account, id)
}

/// Deletes an endpoint; its deliveries still waiting are given up.
pub fn delete(conn: &mut DbConn, account: &AccountId, id: &WebhookEndpointId) -> Result<Endpoint> {
    let endpoint = get(conn, account, id)?;
    diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::endpoint_id.eq(id.as_str()))
            .filter(webhook_deliveries::status.eq("pending")),
    )
    .set(webhook_deliveries::status.eq("failed"))
    .execute(conn)?;
    diesel::delete(webhook_endpoints::table.find(id.as_str())).execute(conn)?;
    Ok(endpoint)
}

/// Gives an endpoint a new secret; the previous one keeps signing (beside it) for `grace`.
/// Answers the endpoint and its new secret, shown this once.
pub fn rotate_secret(
    conn: &mut DbConn,
    account: &AccountId,
    id: &WebhookEndpointId,
    grace: Duration,
    now: DateTime<Utc>,
) -> Result<(Endpoint, String)> {
    if grace < Duration::zero() || grace > MAX_ROTATION_GRACE {
        return Err(Error::invalid(
            "invalid_parameter",
            "grace_period_seconds must be between 0 and 604800 (7 days)",
            "grace_period_seconds",
        ));
    }
    get(conn, account, id)?;
    let secret = generate_secret();
    let (previous, until) = if grace > Duration::zero() {
        let old: String = webhook_endpoints::table.find(id.as_str()).select(webhook_endpoints::secret).first(conn)?;
        (Some(old), Some(naive(now + grace)))
    } else {
        (None, None)
    };
    diesel::update(webhook_endpoints::table.find(id.as_str()))
        .set((
            webhook_endpoints::secret.eq(&secret),
            webhook_endpoints::previous_secret.eq(previous),
            webhook_endpoints::previous_secret_expires_at.eq(until),
            webhook_endpoints::updated_at.eq(naive(now)),
        ))
        .execute(conn)?;
    Ok((get(conn, account, id)?, secret))
}

/// The secrets that sign an endpoint's deliveries at `now`: its own, then the previous one
/// during a rotation's grace period.
pub fn signing_secrets(conn: &mut DbConn, id: &str, now: DateTime<Utc>) -> Result<Option<(String, Vec<String>)>> {
    type Signing = (String, String, Option<String>, Option<chrono::NaiveDateTime>, String);
    let row: Option<Signing> = webhook_endpoints::table
        .find(id)
        .select((
            webhook_endpoints::url,
            webhook_endpoints::secret,
            webhook_endpoints::previous_secret,
            webhook_endpoints::previous_secret_expires_at,
            webhook_endpoints::status,
        ))
        .first(conn)
        .optional()?;
    let Some((url, secret, previous, until, status)) = row else { return Ok(None) };
    if status != EndpointStatus::Enabled.as_str() {
        return Ok(None);
    }
    let mut secrets = vec![secret];
    if let (Some(previous), Some(until)) = (previous, until) {
        if utc(until) > now {
            secrets.push(previous);
        }
    }
    Ok(Some((url, secrets)))
}

/// Keeps the low-balance alert's endpoint (subscribed to `balance.low`, signed with `secret`)
/// at `url`, or deletes it when there is none.
pub fn set_low_balance_endpoint(
    conn: &mut DbConn,
    account: &AccountId,
    url: Option<&str>,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let existing: Option<String> = webhook_endpoints::table
        .filter(webhook_endpoints::account_id.eq(account.as_str()))
        .filter(webhook_endpoints::managed_by.eq(LOW_BALANCE_ALERT))
        .select(webhook_endpoints::id)
        .first(conn)
        .optional()?;
    match (existing, url) {
        (Some(id), Some(url)) => {
            diesel::update(webhook_endpoints::table.find(&id))
                .set((webhook_endpoints::url.eq(url), webhook_endpoints::updated_at.eq(naive(now))))
                .execute(conn)?;
        }
        (Some(id), None) => {
            delete(conn, account, &WebhookEndpointId::from_db(id))?;
        }
        (None, Some(url)) => {
            let id = WebhookEndpointId::generate();
            let described = (url, "Low-balance alert", EventType::BalanceLow.as_str());
            insert(conn, account, &id, described, secret, Some(LOW_BALANCE_ALERT), now)?;
        }
        (None, None) => {}
    }
    Ok(())
}

/// An endpoint this attempt disabled: whom to tell, and what.
pub struct Disabled {
    pub account: AccountId,
    pub message: String,
    pub data: serde_json::Value,
}

/// What one attempt's outcome does to its endpoint: a success clears its failure record; a
/// failure starts one, and a record older than `disable_after` disables the endpoint (answered,
/// for the caller to notify its account). Inside the attempt's transaction.
pub fn record_outcome(
    conn: &mut DbConn,
    id: &str,
    delivered: bool,
    disable_after: Duration,
    now: DateTime<Utc>,
) -> Result<Option<Disabled>> {
    let row: Option<(String, String, Option<chrono::NaiveDateTime>, String)> = webhook_endpoints::table
        .find(id)
        .select((
            webhook_endpoints::account_id,
            webhook_endpoints::url,
            webhook_endpoints::failing_since,
            webhook_endpoints::status,
        ))
        .first(conn)
        .optional()?;
    let Some((account, url, failing_since, status)) = row else { return Ok(None) };
    let target = webhook_endpoints::table.find(id);
    if delivered {
        diesel::update(target).set(webhook_endpoints::failing_since.eq(None::<chrono::NaiveDateTime>)).execute(conn)?;
        return Ok(None);
    }
    let Some(since) = failing_since.map(utc) else {
        diesel::update(target).set(webhook_endpoints::failing_since.eq(naive(now))).execute(conn)?;
        return Ok(None);
    };
    if now - since >= disable_after && status == EndpointStatus::Enabled.as_str() {
        let days = disable_after.num_hours() as f64 / 24.0;
        let reason = format!("every delivery failed for {days} days");
        diesel::update(target)
            .set((
                webhook_endpoints::status.eq(EndpointStatus::Disabled.as_str()),
                webhook_endpoints::disabled_reason.eq(&reason),
                webhook_endpoints::updated_at.eq(naive(now)),
            ))
            .execute(conn)?;
        let message = format!("Webhook endpoint {url} was disabled: {reason}. Fix it, then enable it again.");
        let data = serde_json::json!({"webhook_endpoint_id": id, "url": url, "failing_since": since});
        return Ok(Some(Disabled { account: AccountId::from_db(account), message, data }));
    }
    Ok(None)
}

/// One attempt at a delivery.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub attempt: i32,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: Option<i32>,
    pub at: DateTime<Utc>,
}

/// One event's delivery to an endpoint, with its attempts.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub id: WebhookDeliveryId,
    pub event_id: String,
    pub event_type: String,
    /// `pending`, `delivered` or `failed` (given up).
    pub status: String,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub attempts: Vec<Attempt>,
    pub created_at: DateTime<Utc>,
}

type DeliveryRow = (String, Option<String>, Option<String>, String, chrono::NaiveDateTime, chrono::NaiveDateTime);

fn delivery(conn: &mut DbConn, row: DeliveryRow) -> Result<Delivery> {
    let (id, event_id, event_type, status, next_attempt_at, created_at) = row;
    let attempts = webhook_attempts::table
        .filter(webhook_attempts::delivery_id.eq(&id))
        .order(webhook_attempts::attempt.asc())
        .select((
            webhook_attempts::attempt,
            webhook_attempts::status_code,
            webhook_attempts::error,
            webhook_attempts::duration_ms,
            webhook_attempts::at,
        ))
        .load::<(i32, Option<i32>, Option<String>, Option<i32>, chrono::NaiveDateTime)>(conn)?
        .into_iter()
        .map(|(attempt, status_code, error, duration_ms, at)| Attempt {
            attempt,
            status_code,
            error,
            duration_ms,
            at: utc(at),
        })
        .collect();
    Ok(Delivery {
        id: WebhookDeliveryId::from_db(id),
        event_id: event_id.unwrap_or_default(),
        event_type: event_type.unwrap_or_default(),
        next_attempt_at: (status == "pending").then(|| utc(next_attempt_at)),
        status,
        attempts,
        created_at: utc(created_at),
    })
}

macro_rules! delivery_columns {
    () => {
        (
            webhook_deliveries::id,
            webhook_deliveries::event_id,
            webhook_deliveries::event_type,
            webhook_deliveries::status,
            webhook_deliveries::next_attempt_at,
            webhook_deliveries::created_at,
        )
    };
}

/// An endpoint's deliveries, newest first, each with its attempts.
pub fn list_deliveries(
    conn: &mut DbConn,
    account: &AccountId,
    endpoint: &WebhookEndpointId,
    after: Option<&WebhookDeliveryId>,
    limit: i64,
) -> Result<Page<Delivery>> {
    get(conn, account, endpoint)?;
    let mut query =
        webhook_deliveries::table.filter(webhook_deliveries::endpoint_id.eq(endpoint.as_str())).into_boxed();
    if let Some(after) = after {
        query = query.filter(webhook_deliveries::id.lt(after.as_str().to_string()));
    }
    let rows: Vec<DeliveryRow> =
        query.order(webhook_deliveries::id.desc()).limit(limit + 1).select(delivery_columns!()).load(conn)?;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        items.push(delivery(conn, row)?);
    }
    Ok(Page::from_overfetch(items, limit))
}

/// Sends a delivery again (whatever became of it): it is due at once, and its attempts go on
/// being numbered after the earlier ones.
pub fn retry_delivery(
    conn: &mut DbConn,
    account: &AccountId,
    endpoint: &WebhookEndpointId,
    id: &WebhookDeliveryId,
    now: DateTime<Utc>,
) -> Result<Delivery> {
    get(conn, account, endpoint)?;
    let target = webhook_deliveries::table
        .find(id.as_str())
        .filter(webhook_deliveries::endpoint_id.eq(endpoint.as_str()))
        .filter(webhook_deliveries::account_id.eq(account.as_str()));
    let updated = diesel::update(target)
        .set((
            webhook_deliveries::status.eq("pending"),
            webhook_deliveries::next_attempt_at.eq(naive(now)),
            webhook_deliveries::lease_until.eq(None::<chrono::NaiveDateTime>),
        ))
        .execute(conn)?;
    if updated == 0 {
        return Err(Error::NotFound("webhook delivery"));
    }
    let row: DeliveryRow = webhook_deliveries::table.find(id.as_str()).select(delivery_columns!()).first(conn)?;
    delivery(conn, row)
}

/// Deletes up to `batch` finished deliveries (delivered, or failed for good) queued before
/// `before`, with their attempts; returns how many deliveries. Pending ones stay, however old:
/// they still have a receiver to reach.
pub fn expire_deliveries(conn: &mut DbConn, before: DateTime<Utc>, batch: i64) -> Result<usize> {
    let expired = |conn: &mut DbConn| -> Result<Vec<String>> {
        Ok(webhook_deliveries::table
            .filter(webhook_deliveries::created_at.lt(naive(before)))
            .filter(webhook_deliveries::status.eq_any(["delivered", "failed"]))
            .select(webhook_deliveries::id)
            .limit(batch)
            .load(conn)?)
    };
    // Looked for first outside a write transaction: most rounds find nothing, and on SQLite a
    // write transaction would take the one write lock the generations' commits queue for.
    if expired(conn)?.is_empty() {
        return Ok(0);
    }
    crate::db::write_transaction(conn, |conn| {
        // Again under the lock: a retry may have made a failed one pending meanwhile.
        let ids = expired(conn)?;
        diesel::delete(webhook_attempts::table.filter(webhook_attempts::delivery_id.eq_any(&ids))).execute(conn)?;
        Ok(diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::id.eq_any(&ids))).execute(conn)?)
    })
}
