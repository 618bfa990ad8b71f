//! Generated images' bytes and how long they are kept.
//!
//! **Storage.** Bytes are content-addressed: a blob (`image_blobs`, keyed `sha256:<hex>`) is
//! stored once however many generations produced it (a popular prompt on a deterministic model,
//! a retried request), and `generation_images` records which generation showed which blob. A
//! process stores a generation's blobs before its capture transaction, outside any transaction,
//! and the capture then inserts the image rows that reference them.
//!
//! **Retention.** An image is kept for the configured retention after its generation was
//! created. [`expire_images`] then deletes the generation's image rows: the generation itself and
//! its ledger entry stay, and the API answers 410 for the image. [`collect_blobs`] deletes the
//! blobs that no image references any more. Both work in small batches, each its own short
//! transaction, so that writers never wait long behind them.
//!
//! **Why an unreferenced blob is not deleted at once.** A process that knows a blob is stored
//! does not send its bytes again, and references it a moment later in a capture transaction
//! (a generation takes at most its hold timeout). Were the blob deleted in between, the capture
//! would fail on the foreign key. So a process relies on a blob only after *touching* it
//! ([`stored`] reports when it was last touched, [`touch`] refreshes a touch older than
//! [`TOUCH_EVERY_SECONDS`]; [`store`] touches what it writes), relies on it for at most
//! [`TRUST_SECONDS`], and collection spares every blob touched within its grace period, which
//! must exceed `TOUCH_EVERY_SECONDS + TRUST_SECONDS` plus the longest a generation can take
//! ([`collection_grace_seconds`]).

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::naive;
use crate::db::schema::{generation_images, generations, image_blobs};
use crate::db::DbConn;
use crate::ids::GenerationId;
use crate::Result;

/// A touch older than this is refreshed by a process about to rely on the blob.
pub const TOUCH_EVERY_SECONDS: i64 = 600;
/// How long a process relies on a blob it touched without looking again.
pub const TRUST_SECONDS: i64 = 600;

/// How long an unreferenced blob is spared after its last touch, for generations that take up
/// to `longest_generation_seconds` (the hold timeout): at least an hour.
pub fn collection_grace_seconds(longest_generation_seconds: i64) -> i64 {
    (TOUCH_EVERY_SECONDS + TRUST_SECONDS + longest_generation_seconds + 600).max(3600)
}

/// The content address of image bytes: `sha256:<hex>`. Compute it before the write
/// transaction: hashing is CPU work that needs no lock.
pub fn blob_id(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    blob_id_of_sha256(&Sha256::digest(data).into())
}

/// [`blob_id`] of bytes whose SHA-256 is known already.
pub fn blob_id_of_sha256(sha256: &[u8; 32]) -> String {
    format!("sha256:{}", hex::encode(sha256))
}

/// Which of these blobs are stored, each with when it was last touched (unix seconds). One
/// read; blobs not listed are not stored.
pub fn stored(conn: &mut DbConn, ids: &[String]) -> Result<Vec<(String, i64)>> {
    Ok(image_blobs::table
        .filter(image_blobs::id.eq_any(ids))
        .select((image_blobs::id, image_blobs::touched_at))
        .load(conn)?)
}

/// Marks these blobs touched `now` (see the module), unless touched since
/// `now - TOUCH_EVERY_SECONDS`. Returns the ids that are no longer stored (to be stored again).
pub fn touch(conn: &mut DbConn, ids: &[String], now: DateTime<Utc>) -> Result<Vec<String>> {
    let now = now.timestamp();
    diesel::update(
        image_blobs::table
            .filter(image_blobs::id.eq_any(ids))
            .filter(image_blobs::touched_at.lt(now - TOUCH_EVERY_SECONDS)),
    )
    .set(image_blobs::touched_at.eq(now))
    .execute(conn)?;
    let present = stored(conn, ids)?;
    Ok(ids.iter().filter(|id| !present.iter().any(|(p, _)| p == *id)).cloned().collect())
}

/// Stores image bytes under their [`blob_id`]s, touched `now`. Ask [`stored`] first, so that
/// bytes stored already are not sent again; one stored meanwhile by another request is only
/// touched. Call it before the capture transaction, outside any transaction: each blob is one
/// statement of its own, so captures of the same image on different accounts never wait on
/// each other's uncommitted rows (and cannot deadlock over two images stored in opposite
/// orders). A blob whose capture then fails stays, unreferenced, until it is collected.
pub fn store(conn: &mut DbConn, blobs: &[(&str, &[u8])], now: DateTime<Utc>) -> Result<()> {
    let now = now.timestamp();
    for &(id, data) in blobs {
        let insert = diesel::insert_into(image_blobs::table)
            .values((image_blobs::id.eq(id), image_blobs::data.eq(data), image_blobs::touched_at.eq(now)))
            .on_conflict(image_blobs::id)
            .do_update()
            .set(image_blobs::touched_at.eq(now));
        // ON CONFLICT cannot be expressed over the multi-backend, so run it on the concrete one.
        match conn {
            DbConn::Sqlite(c) => insert.execute(c)?,
            DbConn::Pg(c) => insert.execute(c)?,
        };
    }
    Ok(())
}

/// Deletes the image rows of up to `limit` images of generations created before
/// `created_before` (with every other image of those generations); returns how many rows went.
///
/// Ids sort by their creation time (see `ids`), so only image rows whose generation id was made
/// before the cutoff are looked at: a run that finds nothing to delete reads next to nothing,
/// never the whole table. (A generation whose `created_at` was taken a moment before its id
/// goes a moment later, when the cutoff has passed its id too.)
pub fn expire_images(conn: &mut DbConn, created_before: DateTime<Utc>, limit: i64) -> Result<usize> {
    let bound = GenerationId::sorting_after(created_before);
    let expired = generation_images::table
        .inner_join(generations::table)
        .filter(generation_images::generation_id.lt(bound))
        .filter(generations::created_at.lt(naive(created_before)))
        .select(generation_images::generation_id)
        .limit(limit);
    let ids: Vec<String> = expired.load(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(diesel::delete(generation_images::table.filter(generation_images::generation_id.eq_any(&ids))).execute(conn)?)
}

/// Where [`collect_blobs`] goes on from: the last blob it looked at, in `(touched_at, id)` order.
pub type BlobCursor = (i64, String);

/// Looks at up to `limit` blobs last touched before `touched_before` (unix seconds), in touch
/// order after `after`, and deletes those no image references. Returns how many went, and
/// where to go on from (`None` once past the last such blob: start again from the first).
///
/// Each call reads a bounded stretch of the blobs, so a table of millions costs a little per
/// call; calls that follow their cursor around visit every old blob in turn.
pub fn collect_blobs(
    conn: &mut DbConn,
    after: Option<&BlobCursor>,
    touched_before: i64,
    limit: i64,
) -> Result<(usize, Option<BlobCursor>)> {
    let mut query = image_blobs::table
        .filter(image_blobs::touched_at.lt(touched_before))
        .select((image_blobs::touched_at, image_blobs::id))
        .order((image_blobs::touched_at, image_blobs::id))
        .limit(limit)
        .into_boxed();
    if let Some((touched_at, id)) = after {
        query = query.filter(
            image_blobs::touched_at
                .gt(*touched_at)
                .or(image_blobs::touched_at.eq(*touched_at).and(image_blobs::id.gt(id.clone()))),
        );
    }
    let seen: Vec<(i64, String)> = query.load(conn)?;
    let next = match seen.last() {
        Some(last) if seen.len() as i64 == limit => Some(last.clone()),
        _ => None,
    };
    let ids: Vec<&str> = seen.iter().map(|(_, id)| id.as_str()).collect();
    if ids.is_empty() {
        return Ok((0, next));
    }
    let referenced: Vec<String> = generation_images::table
        .filter(generation_images::blob_id.eq_any(&ids))
        .select(generation_images::blob_id)
        .distinct()
        .load(conn)?;
    let unreferenced: Vec<&str> = ids.into_iter().filter(|id| !referenced.iter().any(|r| r == id)).collect();
    if unreferenced.is_empty() {
        return Ok((0, next));
    }
    // Checked again in the DELETE itself: an image may have come to reference one meanwhile.
    let deleted = diesel::delete(
        image_blobs::table
            .filter(image_blobs::id.eq_any(&unreferenced))
            .filter(image_blobs::touched_at.lt(touched_before))
            .filter(diesel::dsl::not(diesel::dsl::exists(
                generation_images::table.filter(generation_images::blob_id.eq(image_blobs::id)),
            ))),
    )
    .execute(conn)?;
    Ok((deleted, next))
}
