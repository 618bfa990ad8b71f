//! The retention task: deletes generated images past `APINFER_IMAGE_RETENTION_SECONDS`, then
//! the blobs no image references any more, then (on SQLite) gives surplus free pages back to
//! the file system; and events, finished webhook deliveries and expired sessions past
//! `APINFER_EVENT_RETENTION_SECONDS`, so that storage stops growing under a steady load. See `apinfer_core::store::images` for the rules that make this safe while
//! generations keep storing and referencing blobs, from this process or another.
//!
//! Each step is a series of small transactions with a pause between them, so that the writers
//! serving requests never wait long behind it; a round stops after [`ROUND_BUDGET`] and goes on
//! at the next tick.

use std::time::{Duration, Instant};

use actix_web::web;
use apinfer_core::db::DbConn;
use apinfer_core::store::images::{self, BlobCursor};
use apinfer_core::store::{events, sessions, webhook_endpoints};

use crate::state::AppState;

/// Image rows looked at per transaction.
const IMAGE_BATCH: i64 = 500;
/// Blobs looked at per transaction (their bytes are freed in it, so fewer).
const BLOB_BATCH: i64 = 100;
/// Events, deliveries or sessions deleted per transaction.
const RECORD_BATCH: i64 = 500;
/// Free pages returned to the file system per transaction (4 MiB).
const VACUUM_STEP_PAGES: i64 = 1024;
/// The pause between two transactions of a round.
const PAUSE: Duration = Duration::from_millis(5);
/// The longest a round works before leaving the rest to the next tick.
const ROUND_BUDGET: Duration = Duration::from_secs(2);

/// Runs a retention round every `sweep_interval_seconds`.
pub fn spawn(state: web::Data<AppState>) {
    let interval = Duration::from_secs(state.config.sweep_interval_seconds.max(1));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        let mut cursor = None;
        loop {
            tick.tick().await;
            match round(&state, &mut cursor).await {
                Ok((0, 0)) => {}
                Ok((images, blobs)) => {
                    state.metrics.observe_retention(images, blobs);
                    tracing::info!(images, blobs, "deleted images past their retention");
                }
                Err(e) => tracing::warn!(error = %e, "the image retention round failed"),
            }
            match expire_records(&state).await {
                Ok(0) => {}
                Ok(records) => tracing::info!(records, "deleted events, deliveries and sessions past their retention"),
                Err(e) => tracing::warn!(error = %e, "the event retention round failed"),
            }
        }
    });
}

/// One round: returns how many image rows and blobs it deleted.
async fn round(state: &web::Data<AppState>, cursor: &mut Option<BlobCursor>) -> Result<(usize, usize), String> {
    let started = Instant::now();
    let now = state.now();
    let retention = i64::try_from(state.config.image_retention_seconds).unwrap_or(i64::MAX);
    let kept_since = now - chrono::Duration::seconds(retention);
    let mut images = 0;
    while started.elapsed() < ROUND_BUDGET {
        let deleted = state
            .db(move |conn| images::expire_images(conn, kept_since, IMAGE_BATCH))
            .await
            .map_err(|e| e.to_string())?;
        images += deleted;
        if deleted == 0 {
            break;
        }
        tokio::time::sleep(PAUSE).await;
    }
    let longest_generation = i64::try_from(state.config.hold_timeout_seconds).unwrap_or(i64::MAX);
    let touched_before = now.timestamp() - images::collection_grace_seconds(longest_generation);
    let mut blobs = 0;
    while started.elapsed() < ROUND_BUDGET {
        let after = cursor.take();
        let (deleted, next) = state
            .db(move |conn| images::collect_blobs(conn, after.as_ref(), touched_before, BLOB_BATCH))
            .await
            .map_err(|e| e.to_string())?;
        blobs += deleted;
        *cursor = next;
        if cursor.is_none() {
            break;
        }
        tokio::time::sleep(PAUSE).await;
    }
    if blobs > 0 {
        while started.elapsed() < ROUND_BUDGET {
            let surplus = state
                .db(|conn| apinfer_core::db::return_free_pages(conn, VACUUM_STEP_PAGES))
                .await
                .map_err(|e| e.to_string())?;
            if surplus.unwrap_or(0) == 0 {
                break;
            }
            tokio::time::sleep(PAUSE).await;
        }
    }
    Ok((images, blobs))
}

/// Deletes events, finished webhook deliveries and expired sessions older than the event
/// retention, a batch per transaction, within one round's budget; returns how many rows.
async fn expire_records(state: &web::Data<AppState>) -> Result<usize, String> {
    type Expire = fn(&mut DbConn, chrono::DateTime<chrono::Utc>, i64) -> apinfer_core::Result<usize>;
    const KINDS: [Expire; 3] = [events::expire, webhook_endpoints::expire_deliveries, sessions::expire];
    let started = Instant::now();
    let retention = i64::try_from(state.config.event_retention_seconds).unwrap_or(i64::MAX);
    let before = state.now() - chrono::Duration::seconds(retention);
    let mut total = 0;
    for expire in KINDS {
        while started.elapsed() < ROUND_BUDGET {
            let deleted = state.db(move |conn| expire(conn, before, RECORD_BATCH)).await.map_err(|e| e.to_string())?;
            total += deleted;
            if deleted < RECORD_BATCH as usize {
                break;
            }
            tokio::time::sleep(PAUSE).await;
        }
    }
    Ok(total)
}
