//! API keys: random secrets shown once, stored as a digest, with scopes, an optional total
//! spend limit, an optional expiry, and immediate revocation.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::events::{self, EventType};
use super::locks::lock_account_row;
use super::Page;
use super::{naive, utc};
use crate::auth::{api_key_digest, generate_api_key};
use crate::db::schema::api_keys;
use crate::db::{write_transaction, DbConn};
pub use crate::domain::limit_reset::LimitReset;
use crate::domain::limit_reset::{window_ends, window_of};
use crate::ids::{AccountId, ApiKeyId, UserId};
use crate::{Credits, Error, Result};

text_enum! {
    /// What a key may do.
    #[derive(Serialize, Deserialize)]
    pub enum Scope {
        #[serde(rename = "balance:read")]
        BalanceRead = "balance:read",
        #[serde(rename = "usage:read")]
        UsageRead = "usage:read",
        #[serde(rename = "generations:write")]
        GenerationsWrite = "generations:write",
        #[serde(rename = "purchases:write")]
        PurchasesWrite = "purchases:write",
    }
}

impl Scope {}

/// A key as its account sees it (never the secret).
#[derive(Clone, Debug)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub account_id: AccountId,
    pub user_id: UserId,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<Scope>,
    pub spend_limit: Option<Credits>,
    /// When the limit starts again from zero; never when `None`.
    pub spend_limit_reset: Option<LimitReset>,
    /// Spent in the window `spent_window` names (see [`ApiKey::spent_at`]).
    spent: Credits,
    spent_window: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl ApiKey {
    /// What the key has spent (or holds) in the window of `now`: zero once its limit has reset.
    pub fn spent_at(&self, now: DateTime<Utc>) -> Credits {
        if self.spent_window == window_of(self.spend_limit_reset, now) {
            self.spent
        } else {
            Credits::ZERO
        }
    }

    /// When the key's spent next starts again from zero, after `now`, if it ever does.
    pub fn resets_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        window_ends(self.spend_limit_reset, now)
    }

    /// Whether the key may authenticate at `now`.
    pub fn is_usable(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = api_keys)]
struct KeyRow {
    id: String,
    account_id: String,
    user_id: String,
    name: String,
    prefix: String,
    scopes: String,
    spend_limit: Option<i64>,
    spent: i64,
    expires_at: Option<chrono::NaiveDateTime>,
    last_used_at: Option<chrono::NaiveDateTime>,
    revoked_at: Option<chrono::NaiveDateTime>,
    created_at: chrono::NaiveDateTime,
    spend_limit_reset: Option<String>,
    spent_window: String,
}

impl TryFrom<KeyRow> for ApiKey {
    type Error = Error;

    fn try_from(row: KeyRow) -> Result<Self> {
        Ok(ApiKey {
            id: ApiKeyId::from_db(row.id),
            account_id: AccountId::from_db(row.account_id),
            user_id: UserId::from_db(row.user_id),
            name: row.name,
            prefix: row.prefix,
            scopes: row.scopes.split(',').map(Scope::from_db).collect::<Result<_>>()?,
            spend_limit: row.spend_limit.map(Credits::from_units),
            spend_limit_reset: row.spend_limit_reset.as_deref().map(LimitReset::from_db).transpose()?,
            spent: Credits::from_units(row.spent),
            spent_window: row.spent_window,
            expires_at: row.expires_at.map(utc),
            last_used_at: row.last_used_at.map(utc),
            revoked_at: row.revoked_at.map(utc),
            created_at: utc(row.created_at),
        })
    }
}

/// What a new key should be.
pub struct NewKey<'a> {
    pub account_id: &'a AccountId,
    pub user_id: &'a UserId,
    pub name: &'a str,
    pub scopes: &'a [Scope],
    pub spend_limit: Option<Credits>,
    pub spend_limit_reset: Option<LimitReset>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Creates a key; returns it with its secret, which is not stored and cannot be shown again.
pub fn create(conn: &mut DbConn, new: NewKey<'_>, now: DateTime<Utc>) -> Result<(ApiKey, String)> {
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid("invalid_name", "name must be 1–100 characters", "name"));
    }
    if new.scopes.is_empty() {
        return Err(Error::invalid("invalid_scopes", "at least one scope is required", "scopes"));
    }
    if new.spend_limit.is_some_and(Credits::is_negative) {
        return Err(Error::invalid("invalid_amount", "spend_limit must not be negative", "spend_limit"));
    }
    if new.spend_limit_reset.is_some() && new.spend_limit.is_none() {
        // Well-formed, but there is nothing to reset.
        return Err(Error::unprocessable(
            "invalid_parameter",
            "spend_limit_reset needs a spend_limit to reset",
            "spend_limit_reset",
        ));
    }
    if new.expires_at.is_some_and(|e| e <= now) {
        return Err(Error::unprocessable("invalid_expiry", "expires_at must be in the future", "expires_at"));
    }
    let mut scopes: Vec<Scope> = Vec::new();
    for s in new.scopes {
        if !scopes.contains(s) {
            scopes.push(*s);
        }
    }
    // At most MAX_LIVE_KEYS live keys: counted under the account's row lock, so concurrent
    // creations cannot both pass the count.
    write_transaction(conn, |conn| {
        lock_account_row(conn, new.account_id, now)?;
        let live: i64 = api_keys::table
            .filter(api_keys::account_id.eq(new.account_id.as_str()))
            .filter(api_keys::revoked_at.is_null())
            .count()
            .get_result(conn)?;
        if live >= MAX_LIVE_KEYS {
            return Err(Error::conflict(
                "too_many_api_keys",
                format!("an account has at most {MAX_LIVE_KEYS} live API keys; revoke one first"),
            ));
        }
        insert_key(conn, &new, name, &scopes, now)
    })
}

/// Live API keys an account may have at once.
pub const MAX_LIVE_KEYS: i64 = 100;

fn insert_key(
    conn: &mut DbConn,
    new: &NewKey<'_>,
    name: &str,
    scopes: &[Scope],
    now: DateTime<Utc>,
) -> Result<(ApiKey, String)> {
    let secret = generate_api_key();
    let id = ApiKeyId::generate();
    let scope_text = scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",");
    diesel::insert_into(api_keys::table)
        .values((
            api_keys::id.eq(id.as_str()),
            api_keys::account_id.eq(new.account_id.as_str()),
            api_keys::user_id.eq(new.user_id.as_str()),
            api_keys::name.eq(name),
            api_keys::prefix.eq(&secret.prefix),
            api_keys::key_hash.eq(&secret.digest),
            api_keys::scopes.eq(&scope_text),
            api_keys::spend_limit.eq(new.spend_limit.map(Credits::units)),
            api_keys::spend_limit_reset.eq(new.spend_limit_reset.map(LimitReset::as_str)),
            api_keys::spent_window.eq(window_of(new.spend_limit_reset, now)),
            api_keys::expires_at.eq(new.expires_at.map(naive)),
            api_keys::created_at.eq(naive(now)),
        ))
        .execute(conn)?;
    let key = ApiKey {
        id,
        account_id: new.account_id.clone(),
        user_id: new.user_id.clone(),
        name: name.to_string(),
        prefix: secret.prefix,
        scopes: scopes.to_vec(),
        spend_limit: new.spend_limit,
        spend_limit_reset: new.spend_limit_reset,
        spent: Credits::ZERO,
        spent_window: window_of(new.spend_limit_reset, now),
        expires_at: new.expires_at.map(|t| utc(naive(t).0)),
        last_used_at: None,
        revoked_at: None,
        created_at: utc(naive(now).0),
    };
    events::record(conn, new.account_id, EventType::ApiKeyCreated, event_data(&key), now)?;
    Ok((key, secret.secret))
}

/// The key whose secret this is, if any (revoked and expired keys included: the caller
/// decides, so that it can tell them apart in logs).
pub fn find_by_secret(conn: &mut DbConn, secret: &str) -> Result<Option<ApiKey>> {
    api_keys::table
        .filter(api_keys::key_hash.eq(api_key_digest(secret)))
        .select(KeyRow::as_select())
        .first(conn)
        .optional()?
        .map(ApiKey::try_from)
        .transpose()
}

/// How stale `last_used_at` may get: it is written at most this often per key.
const TOUCH_EVERY: chrono::Duration = chrono::Duration::seconds(60);

/// Whether [`touch`] has anything to record for `key` (the row as just read): nothing when it
/// was used within the minute, so that authentication stays read-only then (on SQLite even an
/// `UPDATE` that changes no row waits for the write lock).
pub fn needs_touch(key: &ApiKey, now: DateTime<Utc>) -> bool {
    key.last_used_at.is_none_or(|used| used < now - TOUCH_EVERY)
}

/// Records use, at most once a minute per key so that authentication stays read-mostly.
pub fn touch(conn: &mut DbConn, id: &ApiKeyId, now: DateTime<Utc>) -> Result<()> {
    let stale = naive(now - TOUCH_EVERY);
    diesel::update(
        api_keys::table.find(id.as_str()).filter(api_keys::last_used_at.is_null().or(api_keys::last_used_at.lt(stale))),
    )
    .set(api_keys::last_used_at.eq(naive(now)))
    .execute(conn)?;
    Ok(())
}

/// The account's live keys, newest first, a page at a time (`after`: the previous page's last).
pub fn list(conn: &mut DbConn, account: &AccountId, after: Option<&ApiKeyId>, limit: i64) -> Result<Page<ApiKey>> {
    let mut query = api_keys::table
        .filter(api_keys::account_id.eq(account.as_str()))
        .filter(api_keys::revoked_at.is_null())
        .into_boxed();
    if let Some(after) = after {
        let at: chrono::NaiveDateTime = api_keys::table
            .find(after.as_str())
            .filter(api_keys::account_id.eq(account.as_str()))
            .select(api_keys::created_at)
            .first(conn)
            .optional()?
            .ok_or(Error::NotFound(super::CURSOR))?;
        query = query.filter(
            api_keys::created_at
                .lt(at)
                .or(api_keys::created_at.eq(at).and(api_keys::id.lt(after.as_str().to_string()))),
        );
    }
    let items: Vec<ApiKey> = query
        .order((api_keys::created_at.desc(), api_keys::id.desc()))
        .limit(limit + 1)
        .select(KeyRow::as_select())
        .load(conn)?
        .into_iter()
        .map(ApiKey::try_from)
        .collect::<Result<_>>()?;
    Ok(Page::from_overfetch(items, limit))
}

pub fn get(conn: &mut DbConn, account: &AccountId, id: &ApiKeyId) -> Result<ApiKey> {
    api_keys::table
        .find(id.as_str())
        .filter(api_keys::account_id.eq(account.as_str()))
        .select(KeyRow::as_select())
        .first(conn)
        .optional()?
        .map(ApiKey::try_from)
        .ok_or(Error::NotFound("api key"))?
}

/// Revokes a live key of this account; effective for every later request.
pub fn revoke(conn: &mut DbConn, account: &AccountId, id: &ApiKeyId, now: DateTime<Utc>) -> Result<ApiKey> {
    let updated = diesel::update(
        api_keys::table
            .find(id.as_str())
            .filter(api_keys::account_id.eq(account.as_str()))
            .filter(api_keys::revoked_at.is_null()),
    )
    .set(api_keys::revoked_at.eq(naive(now)))
    .execute(conn)?;
    if updated == 0 {
        return Err(Error::NotFound("api key"));
    }
    let key = get(conn, account, id)?;
    events::record(conn, account, EventType::ApiKeyRevoked, event_data(&key), now)?;
    Ok(key)
}

/// What an `api_key.*` event carries.
fn event_data(key: &ApiKey) -> serde_json::Value {
    let scopes: Vec<&str> = key.scopes.iter().map(|s| s.as_str()).collect();
    serde_json::json!({
        "object": "api_key",
        "id": key.id.as_str(),
        "name": key.name,
        "prefix": key.prefix,
        "scopes": scopes,
        "spend_limit": key.spend_limit.map(|l| l.to_string()),
        "spend_limit_reset": key.spend_limit_reset.map(LimitReset::as_str),
        "created_by": key.user_id.as_str(),
    })
}

/// Revokes every live key `user` made in `account` (when they leave it); the keys revoked.
pub fn revoke_created_by(
    conn: &mut DbConn,
    account: &AccountId,
    user: &UserId,
    now: DateTime<Utc>,
) -> Result<Vec<ApiKeyId>> {
    let live = api_keys::table
        .filter(api_keys::account_id.eq(account.as_str()))
        .filter(api_keys::user_id.eq(user.as_str()))
        .filter(api_keys::revoked_at.is_null());
    let ids: Vec<String> = live.select(api_keys::id).load(conn)?;
    diesel::update(api_keys::table.filter(api_keys::id.eq_any(&ids)))
        .set(api_keys::revoked_at.eq(naive(now)))
        .execute(conn)?;
    for id in &ids {
        let key = get(conn, account, &ApiKeyId::from_db(id.clone()))?;
        events::record(conn, account, EventType::ApiKeyRevoked, event_data(&key), now)?;
    }
    Ok(ids.into_iter().map(ApiKeyId::from_db).collect())
}
