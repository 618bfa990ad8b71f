//! The audit trail: who did what to an account, and when, from which key or session. Each
//! record is written in the transaction of the change it reports; an account reads only its
//! own, newest first.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::Page;
use super::{naive, utc};
use crate::db::schema::audit_events;
use crate::db::{write_transaction, DbConn};
use crate::ids::{AccountId, ApiKeyId, AuditEventId, SessionId, UserId};
use crate::{Error, Result};

text_enum! {
    /// What was done. The wire names are `resource.verb`.
    pub enum Action {
        ApiKeyCreated = "api_key.created",
        ApiKeyRevoked = "api_key.revoked",
        MemberAdded = "member.added",
        MemberRemoved = "member.removed",
        LowBalanceAlertUpdated = "settings.low_balance_alert.updated",
        AutoTopupUpdated = "settings.auto_topup.updated",
        PaymentMethodSaved = "payment_method.saved",
        PaymentMethodRemoved = "payment_method.removed",
        RefundRequested = "refund.requested",
        AdjustmentMade = "adjustment.made",
        AccountTypeChanged = "account.type_changed",
        SessionsRevoked = "sessions.revoked",
    }
}

impl Action {}

/// Who acted: a user through a session, or through one of the account's API keys.
#[derive(Clone, Debug, Default)]
pub struct Actor {
    pub user_id: Option<UserId>,
    pub api_key_id: Option<ApiKeyId>,
    pub session_id: Option<SessionId>,
}

/// One record of the trail.
#[derive(Clone, Debug)]
pub struct AuditEvent {
    pub id: AuditEventId,
    /// An action's wire name (see [`Action::as_str`]).
    pub action: String,
    pub actor: Actor,
    /// What was acted on (`key_...`, `usr_...`, `pm_...`, `ref_...`, `txn_...`), if anything.
    pub target_id: Option<String>,
    /// What changed, as a JSON object.
    pub details: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// Runs `change` and records `action` by `actor` in `account`'s audit trail, in one write
/// transaction: `describe` names the target and the details from what `change` returned. A
/// change that fails records nothing.
pub fn audited<T>(
    conn: &mut DbConn,
    (account, actor): (&AccountId, &Actor),
    action: Action,
    now: DateTime<Utc>,
    change: impl FnOnce(&mut DbConn) -> Result<T>,
    describe: impl FnOnce(&T) -> (Option<String>, serde_json::Value),
) -> Result<T> {
    write_transaction(conn, |conn| {
        let value = change(conn)?;
        let (target, details) = describe(&value);
        record(conn, account, actor, action, target.as_deref(), details, now)?;
        Ok(value)
    })
}

/// Records `action` on `account`. Call it inside the transaction of the change it reports.
pub fn record(
    conn: &mut DbConn,
    account: &AccountId,
    actor: &Actor,
    action: Action,
    target_id: Option<&str>,
    details: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<AuditEventId> {
    let id = AuditEventId::generate();
    diesel::insert_into(audit_events::table)
        .values((
            audit_events::id.eq(id.as_str()),
            audit_events::account_id.eq(account.as_str()),
            audit_events::action.eq(action.as_str()),
            audit_events::actor_user_id.eq(actor.user_id.as_ref().map(UserId::as_str)),
            audit_events::actor_api_key_id.eq(actor.api_key_id.as_ref().map(ApiKeyId::as_str)),
            audit_events::actor_session_id.eq(actor.session_id.as_ref().map(SessionId::as_str)),
            audit_events::target_id.eq(target_id),
            audit_events::details.eq(details.to_string()),
            audit_events::created_at.eq(naive(now)),
        ))
        .execute(conn)?;
    Ok(id)
}

type Row = (
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    chrono::NaiveDateTime,
);

/// The account's trail, newest first, a page at a time (`after`: the previous page's last
/// record), optionally of one action only.
pub fn list(
    conn: &mut DbConn,
    account: &AccountId,
    action: Option<Action>,
    after: Option<&AuditEventId>,
    limit: i64,
) -> Result<Page<AuditEvent>> {
    let mut query = audit_events::table.filter(audit_events::account_id.eq(account.as_str())).into_boxed();
    if let Some(action) = action {
        query = query.filter(audit_events::action.eq(action.as_str()));
    }
    if let Some(after) = after {
        let seq: i64 = audit_events::table
            .filter(audit_events::id.eq(after.as_str()))
            .filter(audit_events::account_id.eq(account.as_str()))
            .select(audit_events::seq)
            .first(conn)
            .optional()?
            .ok_or(Error::NotFound(super::CURSOR))?;
        query = query.filter(audit_events::seq.lt(seq));
    }
    let rows: Vec<Row> = query
        .order(audit_events::seq.desc())
        .limit(limit + 1)
        .select((
            audit_events::seq,
            audit_events::id,
            audit_events::action,
            audit_events::actor_user_id,
            audit_events::actor_api_key_id,
            audit_events::actor_session_id,
            audit_events::target_id,
            audit_events::details,
            audit_events::created_at,
        ))
        .load(conn)?;
    let items = rows
        .into_iter()
        .map(|(_, id, action, user, key, session, target_id, details, at)| AuditEvent {
            id: AuditEventId::from_db(id),
            action,
            actor: Actor {
                user_id: user.map(UserId::from_db),
                api_key_id: key.map(ApiKeyId::from_db),
                session_id: session.map(SessionId::from_db),
            },
            target_id,
            details: serde_json::from_str(&details).unwrap_or(serde_json::Value::Null),
            created_at: utc(at),
        })
        .collect();
    Ok(Page::from_overfetch(items, limit))
}
