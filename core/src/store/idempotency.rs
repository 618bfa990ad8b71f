//! Idempotency records: the first response to a key is stored and replayed for 24 hours.
//!
//! A request claims its key before doing anything ([`claim`]); the claim is a row without a
//! response. Concurrent claims of one key resolve in the database (insert-if-absent), so
//! exactly one request proceeds. A claim left by a crashed process is taken over after
//! [`IN_FLIGHT_LEASE`], which is longer than any request may run.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

use super::naive;
use crate::db::schema::idempotency_keys as ik;
use crate::db::{write_transaction, DbConn};
use crate::ids::AccountId;
use crate::Result;

/// How long a stored response is replayed.
pub const RETENTION: Duration = Duration::hours(24);
/// How long an unfinished claim blocks its key before it counts as abandoned.
pub const IN_FLIGHT_LEASE: Duration = Duration::minutes(10);

/// The outcome of claiming a key.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// This request owns the key: run it, then [`complete`] or [`release`].
    Acquired,
    /// The key was used for this same request: send this response again.
    Replay { status: u16, body: String },
    /// The key was used for a different request.
    Mismatch,
    /// The first request with this key has not finished.
    InFlight,
}

pub fn claim(
    conn: &mut DbConn,
    account: &AccountId,
    key: &str,
    request_hash: &str,
    now: DateTime<Utc>,
) -> Result<Claim> {
    write_transaction(conn, |conn| {
        let insert = diesel::insert_into(ik::table)
            .values((
                ik::account_id.eq(account.as_str()),
                ik::idem_key.eq(key),
                ik::request_hash.eq(request_hash),
                ik::created_at.eq(naive(now)),
            ))
            .on_conflict_do_nothing();
        // ON CONFLICT cannot be expressed over the multi-backend, so run it on the concrete one.
        let inserted = match conn {
            DbConn::Sqlite(c) => insert.execute(c)?,
            DbConn::Pg(c) => insert.execute(c)?,
        };
        if inserted == 1 {
            return Ok(Claim::Acquired);
        }
        let row = ik::table
            .find((account.as_str(), key))
            .select((ik::request_hash, ik::response_status, ik::response_body, ik::created_at))
            .first::<(String, Option<i32>, Option<String>, chrono::NaiveDateTime)>(conn)
            .optional()?;
        let Some((hash, status, body, created_at)) = row else {
            return Ok(Claim::InFlight);
        };
        let created_at = created_at.and_utc();
        let expired = created_at <= now - RETENTION;
        let abandoned = status.is_none() && created_at <= now - IN_FLIGHT_LEASE;
        if expired || abandoned {
            diesel::update(ik::table.find((account.as_str(), key)))
                .set((
                    ik::request_hash.eq(request_hash),
                    ik::response_status.eq(None::<i32>),
                    ik::response_body.eq(None::<String>),
                    ik::created_at.eq(naive(now)),
                ))
                .execute(conn)?;
            return Ok(Claim::Acquired);
        }
        if hash != request_hash {
            return Ok(Claim::Mismatch);
        }
        Ok(match (status, body) {
            (Some(status), Some(body)) => Claim::Replay { status: status as u16, body },
            _ => Claim::InFlight,
        })
    })
}

/// Stores the response of the request that holds the claim.
pub fn complete(conn: &mut DbConn, account: &AccountId, key: &str, status: u16, body: &str) -> Result<()> {
    diesel::update(ik::table.find((account.as_str(), key)))
        .set((ik::response_status.eq(i32::from(status)), ik::response_body.eq(body)))
        .execute(conn)?;
    Ok(())
}

/// Gives the key up without a stored response (the request failed in a way worth retrying).
pub fn release(conn: &mut DbConn, account: &AccountId, key: &str) -> Result<()> {
    diesel::delete(ik::table.find((account.as_str(), key)).filter(ik::response_status.is_null())).execute(conn)?;
    Ok(())
}

/// Deletes records past their retention; returns how many.
pub fn purge_expired(conn: &mut DbConn, now: DateTime<Utc>) -> Result<usize> {
    Ok(diesel::delete(ik::table.filter(ik::created_at.le(naive(now - RETENTION)))).execute(conn)?)
}
