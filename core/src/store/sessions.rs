//! Login sessions. A session token (a signed JWT) names a row here, so a session can end
//! before its token expires: logging out ends one, "log out everywhere" all of a user's, and
//! removing a member from an account ends theirs for that account.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::naive;
use crate::db::schema::sessions;
use crate::db::DbConn;
use crate::ids::{AccountId, SessionId, UserId};
use crate::Result;

/// Opens a session of `user` acting for `account`, until `expires_at`.
pub fn create(
    conn: &mut DbConn,
    user: &UserId,
    account: &AccountId,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<SessionId> {
    let id = SessionId::generate();
    diesel::insert_into(sessions::table)
        .values((
            sessions::id.eq(id.as_str()),
            sessions::user_id.eq(user.as_str()),
            sessions::account_id.eq(account.as_str()),
            sessions::created_at.eq(naive(now)),
            sessions::expires_at.eq(naive(expires_at)),
        ))
        .execute(conn)?;
    Ok(id)
}

/// Moves `user` from session `old` to a new session acting for `account`, in one transaction:
/// `None` (and `old` still open) when the user is not a member of `account`.
pub fn switch(
    conn: &mut DbConn,
    old: &SessionId,
    user: &UserId,
    account: &AccountId,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<Option<SessionId>> {
    crate::db::write_transaction(conn, |conn| {
        if super::accounts::membership(conn, account, user)?.is_none() {
            return Ok(None);
        }
        revoke(conn, old, user, now)?;
        create(conn, user, account, now, expires_at).map(Some)
    })
}

/// Whether the session is open: it exists for this user and account and is not revoked. (Its
/// token's own `exp`, checked before, is what expires it.)
pub fn is_open(conn: &mut DbConn, id: &SessionId, user: &UserId, account: &AccountId) -> Result<bool> {
    let found: Option<String> = sessions::table
        .find(id.as_str())
        .filter(sessions::user_id.eq(user.as_str()))
        .filter(sessions::account_id.eq(account.as_str()))
        .filter(sessions::revoked_at.is_null())
        .select(sessions::id)
        .first(conn)
        .optional()?;
    Ok(found.is_some())
}

/// Ends one session of `user` (logging out); the number ended (0 if it was already over).
pub fn revoke(conn: &mut DbConn, id: &SessionId, user: &UserId, now: DateTime<Utc>) -> Result<usize> {
    Ok(diesel::update(
        sessions::table
            .find(id.as_str())
            .filter(sessions::user_id.eq(user.as_str()))
            .filter(sessions::revoked_at.is_null()),
    )
    .set(sessions::revoked_at.eq(naive(now)))
    .execute(conn)?)
}

/// Ends every open session of `user`, in every account, or in `account` only.
pub fn revoke_all(conn: &mut DbConn, user: &UserId, account: Option<&AccountId>, now: DateTime<Utc>) -> Result<usize> {
    let mut open =
        sessions::table.filter(sessions::user_id.eq(user.as_str())).filter(sessions::revoked_at.is_null()).into_boxed();
    if let Some(account) = account {
        open = open.filter(sessions::account_id.eq(account.as_str().to_string()));
    }
    let ids: Vec<String> = open.select(sessions::id).load(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(diesel::update(sessions::table.filter(sessions::id.eq_any(&ids)))
        .set(sessions::revoked_at.eq(naive(now)))
        .execute(conn)?)
}

/// Deletes up to `batch` sessions that expired before `before` (revoked ones too, once past
/// their expiry); returns how many. Their tokens were refused since; the rows only took space.
pub fn expire(conn: &mut DbConn, before: DateTime<Utc>, batch: i64) -> Result<usize> {
    let ids: Vec<String> =
        sessions::table.filter(sessions::expires_at.lt(naive(before))).select(sessions::id).limit(batch).load(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(diesel::delete(sessions::table.filter(sessions::id.eq_any(&ids))).execute(conn)?)
}
