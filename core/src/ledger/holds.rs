//! Two-phase spending: reserve credits (a hold lowers `available`), then capture them when the
//! work is done or release them when it fails or is abandoned.
//!
//! Each phase is its own short transaction, so no row lock is held while the work runs. A
//! hold carries an expiry: [`expired`] lists the holds whose request died with its process,
//! and [`release`] frees them (the server's sweeper does this periodically). Capture and
//! release are conditional on the hold being `active`, so whichever comes first wins and the
//! other changes nothing. An API key's spend limit is charged at reserve time and given back
//! on release, in the same transactions, so concurrent spends cannot pass it; so is a
//! member's monthly limit.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::entries::{insert_entries, NewEntry};
use super::limits;
use super::lots::consume_lots_set;
use crate::db::schema::{accounts, holds};
use crate::db::{padded, DbConn, Kept};
use crate::ids::{AccountId, ApiKeyId, HoldId, UserId};
use crate::store::entries::{EntryType, LedgerEntry};
use crate::store::locks::{self, lock_account_row};
use crate::store::members;
use crate::store::{alerts, naive};
use crate::{Credits, Error, Result};

/// An active reservation of credits.
#[derive(Clone, Debug)]
pub struct Hold {
    pub id: HoldId,
    pub account_id: AccountId,
    pub amount: Credits,
    pub api_key_id: Option<ApiKeyId>,
    pub user_id: Option<UserId>,
    pub reference_id: String,
}

/// Who reserves what, for what.
pub struct HoldRequest<'a> {
    pub account_id: &'a AccountId,
    pub amount: Credits,
    pub api_key_id: Option<&'a ApiKeyId>,
    pub user_id: Option<&'a UserId>,
    pub reference_id: &'a str,
    pub expires_at: DateTime<Utc>,
}

/// Records accepted reservations as active holds, in one statement.
fn insert(conn: &mut DbConn, accepted: &[(&HoldRequest<'_>, DateTime<Utc>)]) -> Result<Vec<Hold>> {
    let holds: Vec<Hold> = accepted
        .iter()
        .map(|(request, _)| Hold {
            id: HoldId::generate(),
            account_id: request.account_id.clone(),
            amount: request.amount,
            api_key_id: request.api_key_id.cloned(),
            user_id: request.user_id.cloned(),
            reference_id: request.reference_id.to_string(),
        })
        .collect();
    let rows: Vec<_> = holds
        .iter()
        .zip(accepted)
        .map(|(hold, (request, now))| {
            (
                holds::id.eq(hold.id.as_str().to_owned()),
                holds::account_id.eq(hold.account_id.as_str().to_owned()),
                holds::amount.eq(hold.amount.units()),
                holds::api_key_id.eq(request.api_key_id.map(|key| key.as_str().to_owned())),
                holds::user_id.eq(request.user_id.map(|user| user.as_str().to_owned())),
                holds::reference_id.eq(request.reference_id.to_owned()),
                holds::status.eq("active"),
                holds::expires_at.eq(naive(request.expires_at)),
                holds::created_at.eq(naive(*now)),
            )
        })
        .collect();
    // Multi-row inserts cannot be expressed over the multi-backend, so run on the concrete one.
    match conn {
        DbConn::Sqlite(c) => insert_kept_sqlite!(c, rows, |rows| diesel::insert_into(holds::table).values(rows)),
        DbConn::Pg(c) => diesel::insert_into(holds::table).values(rows).execute(c)?,
    };
    Ok(holds)
}

/// [`reserve`] for several requests, as one set: the same outcome as reserving them one after
/// another in the order given (each succeeds or fails exactly as it would have there), in a
/// fixed number of statements for the whole set instead of several per request. Runs inside
/// the caller's write transaction. The accounts' rows are locked first, in id order; the checks
/// are then made in memory and written with the conditional statements of [`reserve`], one per
/// distinct amount. Should one of those disagree (it cannot while the locks are held), this
/// fails as a whole and the caller rolls back and reserves one by one.
pub fn reserve_set(conn: &mut DbConn, requests: &[(HoldRequest<'_>, DateTime<Utc>)]) -> Result<Vec<Result<Hold>>> {
    // Lock the accounts and read what the checks need: one statement each for the accounts, the
    // keys and the members' limits, and one per limited member's month.
    let account_ids: Vec<&str> = requests.iter().map(|(r, _)| r.account_id.as_str()).collect();
    let locked = locks::lock_accounts(conn, &account_ids)?;
    let mut available: HashMap<&str, i64> =
        locked.iter().map(|(id, (balance, held, ..))| (id.as_str(), balance.saturating_sub(*held))).collect();
    let key_ids: Vec<&str> = requests.iter().filter_map(|(r, _)| r.api_key_id.map(ApiKeyId::as_str)).collect();
    // Keys' windows are judged at the set's latest time, as its statements are.
    let latest = requests.iter().map(|(_, now)| *now).max().unwrap_or_default();
    let mut keys = if key_ids.is_empty() { HashMap::new() } else { limits::spend_budgets(conn, &key_ids, latest)? };
    let user_ids: Vec<&str> = requests.iter().filter_map(|(r, _)| r.user_id.map(UserId::as_str)).collect();
    let limits =
        if user_ids.is_empty() { HashMap::new() } else { limits::month_limits(conn, &account_ids, &user_ids)? };
    let mut months: HashMap<(&str, &str, String), Month<'_>> = HashMap::new();
    for (request, now) in requests {
        let Some(user) = request.user_id else { continue };
        let Some(&limit) = limits.get(&(request.account_id.as_str().to_string(), user.as_str().to_string())) else {
            continue;
        };
        let slot = (request.account_id.as_str(), user.as_str(), members::month_of(*now));
        if let Entry::Vacant(vacant) = months.entry(slot) {
            let spent = limits::month_spent(conn, request.account_id, user, &vacant.key().2)?;
            vacant.insert(Month { account: request.account_id, user, at: *now, limit, spent, added: 0 });
        }
    }

    // Decide each request in order, as the conditional statements of `reserve` would.
    let mut refusals: Vec<Option<Error>> = Vec::with_capacity(requests.len());
    let mut drops = Vec::new();
    for (request, now) in requests {
        let amount = request.amount.units();
        let account = request.account_id.as_str();
        let key = request.api_key_id.map(|key| keys.get(key.as_str()).map(|budget| (budget.spent, budget.limit)));
        let slot = request.user_id.map(|user| (account, user.as_str(), members::month_of(*now)));
        let member =
            slot.as_ref().and_then(|slot| months.get(slot)).map(|m| (m.limit, m.spent.saturating_add(m.added)));
        let refusal = match available.get(account) {
            None => Some(Error::NotFound("account")),
            Some(&left) if left < amount => Some(Error::InsufficientCredits {
                required: request.amount,
                available: Credits::from_units(left.max(0)),
            }),
            Some(_)
                if key.is_some_and(|budget| {
                    budget.is_none_or(|(spent, limit)| limit.is_some_and(|l| l < spent.saturating_add(amount)))
                }) =>
            {
                Some(limits::spend_limit_exceeded())
            }
            Some(_) => member
                .filter(|(limit, spent)| spent.saturating_add(amount) > *limit)
                .map(|(limit, _)| limits::month_limit_exceeded(limit)),
        };
        if refusal.is_none() {
            if let Some(budget) = request.api_key_id.and_then(|key| keys.get_mut(key.as_str())) {
                budget.spent = budget.spent.saturating_add(amount);
            }
            if let Some(month) = slot.and_then(|slot| months.get_mut(&slot)) {
                month.added = month.added.saturating_add(amount);
            }
            let left = available.get_mut(account).expect("checked above");
            // `left >= amount` was checked above.
            drops.push((request.account_id, *left, *left - amount, *now));
            *left -= amount;
        }
        refusals.push(refusal);
    }

    // Write what was accepted with the statements `reserve` uses: the accounts and the keys in
    // one statement per distinct total, the limited members' months one by one.
    let accepted: Vec<(&HoldRequest<'_>, DateTime<Utc>)> = requests
        .iter()
        .zip(&refusals)
        .filter(|(_, refusal)| refusal.is_none())
        .map(|((request, now), _)| (request, *now))
        .collect();
    let Some(now) = accepted.iter().map(|(_, now)| *now).max() else {
        return Ok(refusals.into_iter().map(|refusal| Err(refusal.expect("all refused"))).collect());
    };
    let account_totals = totals(accepted.iter().map(|(r, _)| (r.account_id.as_str(), r.amount.units())));
    for (total, ids) in by_total(&account_totals) {
        let reserved: Vec<(String, i64, i64)> = Kept(
            diesel::update(
                accounts::table
                    .filter(accounts::id.eq_any(padded(&ids)))
                    .filter((accounts::balance - accounts::held).ge(total)),
            )
            .set((accounts::held.eq(accounts::held + total), accounts::updated_at.eq(naive(now))))
            .returning((accounts::id, accounts::balance, accounts::held)),
        )
        .get_results(conn)?;
        if reserved.len() != ids.len()
            || reserved.iter().any(|(id, balance, held)| available[id.as_str()] != balance - held)
        {
            return Err(Error::Internal(anyhow::anyhow!("an account changed under its row lock")));
        }
    }
    for (account, before, after, at) in drops {
        let (_, _, low, auto) = locked[account.as_str()];
        alerts::on_available_drop(conn, account, before, after, low, auto, at)?;
    }
    let key_totals =
        totals(accepted.iter().filter_map(|(r, _)| r.api_key_id.map(|key| (key.as_str(), r.amount.units()))));
    limits::start_windows(conn, &keys)?;
    for (total, ids) in by_total(&key_totals) {
        limits::charge_spend_many(conn, &ids, Credits::from_units(total))?;
    }
    for month in months.values().filter(|month| month.added > 0) {
        limits::charge_month(conn, month.account, month.user, Credits::from_units(month.added), month.at)?;
    }
    let mut holds = insert(conn, &accepted)?.into_iter();
    Ok(refusals
        .into_iter()
        .map(|refusal| match refusal {
            Some(error) => Err(error),
            None => Ok(holds.next().expect("a hold per accepted request")),
        })
        .collect())
}

/// A limited member's month, as a set of reservations sees it: the limit, what was counted
/// before the set, and what the set's accepted requests add (at `at`, one of theirs).
struct Month<'a> {
    account: &'a AccountId,
    user: &'a UserId,
    at: DateTime<Utc>,
    limit: i64,
    spent: i64,
    added: i64,
}

/// Sums of amounts per id, in first-seen order.
fn totals<'a>(amounts: impl Iterator<Item = (&'a str, i64)>) -> Vec<(&'a str, i64)> {
    let mut totals: Vec<(&str, i64)> = Vec::new();
    for (id, amount) in amounts {
        match totals.iter_mut().find(|(seen, _)| *seen == id) {
            Some((_, total)) => *total += amount,
            None => totals.push((id, amount)),
        }
    }
    totals
}

/// Ids grouped by their total, so that each group is one statement (prices repeat, so there
/// are few groups).
fn by_total<'a>(totals: &[(&'a str, i64)]) -> Vec<(i64, Vec<&'a str>)> {
    let mut groups: Vec<(i64, Vec<&str>)> = Vec::new();
    for &(id, total) in totals {
        match groups.iter_mut().find(|(t, _)| *t == total) {
            Some((_, ids)) => ids.push(id),
            None => groups.push((total, vec![id])),
        }
    }
    groups
}

/// [`claim_for_capture`] for several holds at once (the caller holds their accounts' row
/// locks); returns the ids of those that were still active (and are now captured).
pub fn claim_set(conn: &mut DbConn, ids: &[&HoldId], now: DateTime<Utc>) -> Result<Vec<HoldId>> {
    let ids: Vec<&str> = ids.iter().map(|id| id.as_str()).collect();
    let claimed: Vec<String> = Kept(
        diesel::update(holds::table.filter(holds::id.eq_any(padded(&ids))).filter(holds::status.eq("active")))
            .set((holds::status.eq("captured"), holds::resolved_at.eq(naive(now))))
            .returning(holds::id),
    )
    .get_results(conn)?;
    Ok(claimed.into_iter().map(HoldId::from_db).collect())
}

/// [`settle_captured`] for several claimed holds, as one set: one balance update per distinct
/// total of an account, the ledger entries in one statement (per account in the order given,
/// each with the balance after it, exactly as settling them one by one would write them), and
/// one pass over the lots (oldest first, so the same lots give the same credits).
pub fn settle_captured_set(
    conn: &mut DbConn,
    captured: &[(&Hold, EntryType, String)],
    now: DateTime<Utc>,
) -> Result<Vec<LedgerEntry>> {
    let account_totals = totals(captured.iter().map(|(hold, ..)| (hold.account_id.as_str(), hold.amount.units())));
    let mut balances: HashMap<String, i64> = HashMap::new();
    for (total, ids) in by_total(&account_totals) {
        let settled: Vec<(String, i64)> = Kept(
            diesel::update(accounts::table.filter(accounts::id.eq_any(padded(&ids))))
                .set((
                    accounts::balance.eq(accounts::balance - total),
                    accounts::held.eq(accounts::held - total),
                    accounts::updated_at.eq(naive(now)),
                ))
                .returning((accounts::id, accounts::balance)),
        )
        .get_results(conn)?;
        if settled.len() != ids.len() {
            return Err(Error::NotFound("account"));
        }
        // Each account's entries run down from its balance before the set.
        balances.extend(settled.into_iter().map(|(id, balance_after)| (id, balance_after + total)));
    }
    let entries: Vec<(NewEntry<'_>, Credits)> = captured
        .iter()
        .map(|(hold, entry_type, description)| {
            let balance = balances.get_mut(hold.account_id.as_str()).expect("settled above");
            *balance -= hold.amount.units();
            (
                NewEntry {
                    account_id: &hold.account_id,
                    entry_type: *entry_type,
                    credits: Credits::from_units(-hold.amount.units()),
                    reference_id: Some(&hold.reference_id),
                    description,
                    user_id: hold.user_id.as_ref(),
                    api_key_id: hold.api_key_id.as_ref(),
                },
                Credits::from_units(*balance),
            )
        })
        .collect();
    let entries = insert_entries(conn, &entries, now)?;
    consume_lots_set(conn, &account_totals)?;
    Ok(entries)
}

/// Releases active holds, `(account, hold)` each, inside the caller's write transaction: the
/// accounts' rows are locked first, in id order (so that sets on several accounts never
/// deadlock), then each hold is released as if alone. One answer per hold: false if it was
/// already captured or released (and then nothing changed for it).
pub fn release_set(conn: &mut DbConn, releases: &[(&AccountId, &HoldId)], now: DateTime<Utc>) -> Result<Vec<bool>> {
    if let [(account, _)] = releases {
        lock_account_row(conn, account, now)?;
    } else {
        let accounts: Vec<&str> = releases.iter().map(|(account, _)| account.as_str()).collect();
        locks::lock_accounts(conn, &accounts)?;
    }
    releases.iter().map(|(account, id)| release_one(conn, account, id, now)).collect()
}

/// Releases one hold of `account` whose row lock the caller holds.
fn release_one(conn: &mut DbConn, account: &AccountId, id: &HoldId, now: DateTime<Utc>) -> Result<bool> {
    type Released = (i64, Option<String>, Option<String>, chrono::NaiveDateTime);
    let row: Option<Released> = diesel::update(
        holds::table
            .find(id.as_str())
            .filter(holds::account_id.eq(account.as_str()))
            .filter(holds::status.eq("active")),
    )
    .set((holds::status.eq("released"), holds::resolved_at.eq(naive(now))))
    .returning((holds::amount, holds::api_key_id, holds::user_id, holds::created_at))
    .get_result(conn)
    .optional()?;
    let Some((amount, api_key_id, user_id, created_at)) = row else { return Ok(false) };
    diesel::update(accounts::table.find(account.as_str()))
        .set((accounts::held.eq(accounts::held - amount), accounts::updated_at.eq(naive(now))))
        .execute(conn)?;
    if let Some(key) = api_key_id {
        limits::uncharge_spend(
            conn,
            &ApiKeyId::from_db(key),
            Credits::from_units(amount),
            crate::store::utc(created_at),
        )?;
    }
    if let Some(user) = user_id {
        limits::uncharge_month(
            conn,
            account,
            &UserId::from_db(user),
            Credits::from_units(amount),
            crate::store::utc(created_at),
        )?;
    }
    Ok(true)
}

/// An active hold past its expiry: its account, id, and what it reserved for.
pub struct ExpiredHold {
    pub account_id: AccountId,
    pub id: HoldId,
    pub reference_id: String,
}

/// Active holds past their expiry (their requests died or hung), oldest first.
pub fn expired(conn: &mut DbConn, now: DateTime<Utc>, limit: i64) -> Result<Vec<ExpiredHold>> {
    Ok(holds::table
        .filter(holds::status.eq("active"))
        .filter(holds::expires_at.le(naive(now)))
        .order(holds::expires_at.asc())
        .limit(limit)
        .select((holds::account_id, holds::id, holds::reference_id))
        .load::<(String, String, String)>(conn)?
        .into_iter()
        .map(|(account, id, reference_id)| ExpiredHold {
            account_id: AccountId::from_db(account),
            id: HoldId::from_db(id),
            reference_id,
        })
        .collect())
}
