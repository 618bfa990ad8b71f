//! Payment providers' webhook events already received, so that a redelivery changes nothing.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::naive;
use crate::db::schema::webhook_events;
use crate::db::DbConn;
use crate::{Error, Result};

/// Remembers a provider webhook event; false if it was seen before (a redelivery).
pub fn remember_event(
    conn: &mut DbConn,
    provider: &str,
    event_id: &str,
    body_sha256: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let insert = diesel::insert_into(webhook_events::table)
        .values((
            webhook_events::provider.eq(provider),
            webhook_events::event_id.eq(event_id),
            webhook_events::received_at.eq(naive(now)),
            webhook_events::body_sha256.eq(body_sha256),
        ))
        .on_conflict_do_nothing();
    // ON CONFLICT cannot be expressed over the multi-backend, so run it on the concrete one.
    let inserted = match conn {
        DbConn::Sqlite(c) => insert.execute(c)?,
        DbConn::Pg(c) => insert.execute(c)?,
    };
    if inserted == 1 {
        return Ok(true);
    }
    // Seen before: the same event again, unless its body differs (an id is one event).
    let stored: Option<String> = webhook_events::table
        .filter(webhook_events::provider.eq(provider))
        .filter(webhook_events::event_id.eq(event_id))
        .select(webhook_events::body_sha256)
        .first(conn)?;
    match stored {
        Some(stored) if stored != body_sha256 => Err(Error::conflict(
            "event_id_reused",
            "this event id was received before with a different body; nothing changed",
        )),
        _ => Ok(false),
    }
}
