//! Events: what happened to an account, for `GET /v1/events` and webhook endpoints. Each is
//! written in the transaction of the change it reports, by the code that makes the change, so
//! an event exists exactly when its change does. `data` is a JSON object whose fields each type
//! documents.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::Value;

use super::Page;
use super::{naive, utc};
use crate::db::schema::{events, webhook_deliveries, webhook_endpoints};
use crate::db::{padded, DbConn, Kept};
pub use crate::domain::EventType;
use crate::ids::{AccountId, EventId, WebhookDeliveryId};
use crate::{Error, Result};

/// An event as its account reads it.
#[derive(Clone, Debug)]
pub struct Event {
    pub id: EventId,
    pub event_type: EventType,
    pub data: Value,
    pub created_at: DateTime<Utc>,
}

/// An event to record.
pub struct NewEvent<'a> {
    pub account_id: &'a AccountId,
    pub event_type: EventType,
    pub data: Value,
}

/// Records one event, inside the caller's transaction; answers its id.
pub fn record(
    conn: &mut DbConn,
    account: &AccountId,
    event_type: EventType,
    data: Value,
    now: DateTime<Utc>,
) -> Result<EventId> {
    Ok(record_many(conn, vec![NewEvent { account_id: account, event_type, data }], now)?.remove(0))
}

/// Records several events in one statement (in the order given), inside the caller's
/// transaction; answers their ids.
pub fn record_many(conn: &mut DbConn, new: Vec<NewEvent<'_>>, now: DateTime<Utc>) -> Result<Vec<EventId>> {
    let ids: Vec<EventId> = new.iter().map(|_| EventId::generate()).collect();
    if new.is_empty() {
        return Ok(ids);
    }
    let rows: Vec<_> = new
        .iter()
        .zip(&ids)
        .map(|(event, id)| {
            (
                events::id.eq(id.as_str().to_owned()),
                events::account_id.eq(event.account_id.as_str().to_owned()),
                events::event_type.eq(event.event_type.as_str()),
                events::data.eq(event.data.to_string()),
                events::created_at.eq(naive(now)),
            )
        })
        .collect();
    // Multi-row inserts cannot be expressed over the multi-backend, so run on the concrete one.
    match conn {
        DbConn::Sqlite(c) => insert_kept_sqlite!(c, rows, |rows| diesel::insert_into(events::table).values(rows)),
        DbConn::Pg(c) => diesel::insert_into(events::table).values(rows).execute(c)?,
    };
    fan_out(conn, &new, &ids, now)?;
    Ok(ids)
}

/// The body a webhook endpoint receives for an event: the event as `GET /v1/events/{id}` shows it.
pub fn payload(id: &EventId, event_type: EventType, data: &Value, created: DateTime<Utc>) -> Value {
    serde_json::json!({"id": id.as_str(), "type": event_type.as_str(), "created": created.timestamp(), "data": data})
}

/// Queues a delivery of each event to each enabled endpoint of its account that wants its type,
/// in the event's transaction (the outbox the delivery worker sends from).
fn fan_out(conn: &mut DbConn, new: &[NewEvent<'_>], ids: &[EventId], now: DateTime<Utc>) -> Result<()> {
    let mut accounts: Vec<&str> = new.iter().map(|e| e.account_id.as_str()).collect();
    accounts.sort_unstable();
    accounts.dedup();
    let endpoints: Vec<(String, String, String, String)> = Kept(
        webhook_endpoints::table
            .filter(webhook_endpoints::account_id.eq_any(padded(&accounts)))
            .filter(webhook_endpoints::status.eq("enabled"))
            .select((
                webhook_endpoints::id,
                webhook_endpoints::account_id,
                webhook_endpoints::url,
                webhook_endpoints::enabled_events,
            )),
    )
    .load(conn)?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let mut rows = Vec::new();
    for (event, id) in new.iter().zip(ids) {
        let wanting = endpoints.iter().filter(|(_, account, _, wanted)| {
            account == event.account_id.as_str() && event.event_type.wanted_by(wanted)
        });
        for (endpoint, account, url, _) in wanting {
            rows.push((
                webhook_deliveries::id.eq(WebhookDeliveryId::generate().as_str().to_owned()),
                webhook_deliveries::account_id.eq(account.clone()),
                webhook_deliveries::url.eq(url.clone()),
                webhook_deliveries::payload.eq(payload(id, event.event_type, &event.data, now).to_string()),
                webhook_deliveries::status.eq("pending"),
                webhook_deliveries::next_attempt_at.eq(naive(now)),
                webhook_deliveries::created_at.eq(naive(now)),
                webhook_deliveries::endpoint_id.eq(Some(endpoint.clone())),
                webhook_deliveries::event_id.eq(Some(id.as_str().to_owned())),
                webhook_deliveries::event_type.eq(Some(event.event_type.as_str())),
            ));
        }
    }
    if rows.is_empty() {
        return Ok(());
    }
    match conn {
        DbConn::Sqlite(c) => {
            insert_kept_sqlite!(c, rows, |rows| diesel::insert_into(webhook_deliveries::table).values(rows))
        }
        DbConn::Pg(c) => diesel::insert_into(webhook_deliveries::table).values(rows).execute(c)?,
    };
    Ok(())
}

/// Which events to list.
#[derive(Default)]
pub struct EventFilter {
    pub event_type: Option<EventType>,
    /// Created at or after.
    pub created_gte: Option<DateTime<Utc>>,
    /// Created before.
    pub created_lt: Option<DateTime<Utc>>,
}

type Row = (String, String, String, chrono::NaiveDateTime);

fn event(row: Row) -> Result<Event> {
    let (id, event_type, data, created_at) = row;
    Ok(Event {
        id: EventId::from_db(id),
        event_type: EventType::from_db(&event_type)?,
        data: serde_json::from_str(&data).map_err(|e| Error::Internal(e.into()))?,
        created_at: utc(created_at),
    })
}

/// One of the account's events.
pub fn get(conn: &mut DbConn, account: &AccountId, id: &EventId) -> Result<Event> {
    let row: Row = events::table
        .filter(events::id.eq(id.as_str()))
        .filter(events::account_id.eq(account.as_str()))
        .select((events::id, events::event_type, events::data, events::created_at))
        .first(conn)
        .optional()?
        .ok_or(Error::NotFound("event"))?;
    event(row)
}

/// The account's events, newest first.
pub fn list(
    conn: &mut DbConn,
    account: &AccountId,
    filter: &EventFilter,
    after: Option<&EventId>,
    limit: i64,
) -> Result<Page<Event>> {
    let mut query = events::table.filter(events::account_id.eq(account.as_str())).into_boxed();
    if let Some(event_type) = filter.event_type {
        query = query.filter(events::event_type.eq(event_type.as_str()));
    }
    if let Some(from) = filter.created_gte {
        query = query.filter(events::created_at.ge(naive(from)));
    }
    if let Some(until) = filter.created_lt {
        query = query.filter(events::created_at.lt(naive(until)));
    }
    if let Some(after) = after {
        // The cursor must be one of the account's events.
        get(conn, account, after).map_err(super::cursor_error)?;
        query = query.filter(events::id.lt(after.as_str().to_string()));
    }
    let rows: Vec<Row> = query
        .order(events::id.desc())
        .limit(limit + 1)
        .select((events::id, events::event_type, events::data, events::created_at))
        .load(conn)?;
    let items = rows.into_iter().map(event).collect::<Result<Vec<_>>>()?;
    Ok(Page::from_overfetch(items, limit))
}

/// Deletes up to `batch` of the oldest events made before `before` (their time-ordered ids sort
/// before [`EventId::sorting_after`]`(before)`, so the primary key finds them); returns how many.
pub fn expire(conn: &mut DbConn, before: DateTime<Utc>, batch: i64) -> Result<usize> {
    let below = EventId::sorting_after(before);
    let ids: Vec<String> = events::table
        .filter(events::id.lt(&below))
        .order(events::id.asc())
        .select(events::id)
        .limit(batch)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(diesel::delete(events::table.filter(events::id.eq_any(&ids))).execute(conn)?)
}
