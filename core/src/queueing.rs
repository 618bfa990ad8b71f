//! The queue of asynchronous generations. A queued generation already holds its cost (see
//! [`crate::generating::reserve`]); a worker claims it (`processing`, with a lease it renews while
//! the provider works), then captures or releases its hold as a synchronous generation would.
//!
//! Claims are made under one lock for every process on the database (SQLite's write lock, or a
//! PostgreSQL advisory lock), so the bounds on how many run at once, in total and per account,
//! hold across processes. A worker that dies leaves a lease that runs out: the next claim puts
//! its generation back in the queue, or, after [`MAX_ATTEMPTS`] starts, releases its hold. The
//! hold decides the outcome, never the status: a generation is charged at most once however many
//! workers ran it.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

use crate::db::schema::{generations, holds};
use crate::db::{padded, write_transaction, DbConn, Kept};
use crate::ids::GenerationId;
use crate::ledger::holds as hold_ledger;
use crate::store::generations::{self as generation_store, Generation};
use crate::store::naive;
use crate::Result;

/// Starts after which a generation whose workers keep dying fails (`worker_lost`) instead of
/// being queued again.
pub const MAX_ATTEMPTS: i32 = 3;

/// Queued rows a claim looks at, oldest first, to find ones whose account is under its bound.
const SCAN: i64 = 2_000;

/// The key of the PostgreSQL advisory lock that claims are made under ("apinfer" in ASCII).
const CLAIM_LOCK: i64 = 0x0061_7069_6e66_6572;

/// How a process claims work.
pub struct Claim<'a> {
    /// This process's worker id.
    pub worker: &'a str,
    /// Most generations running at once, across every process.
    pub total: u32,
    /// Most generations of one account running at once.
    pub per_account: u32,
    /// How long a claim lasts unless renewed.
    pub lease: Duration,
    /// How long the provider may take once a generation starts: its hold's expiry is moved to
    /// this far from the start.
    pub hold: Duration,
    pub now: DateTime<Utc>,
}

/// What a claim did: the generations this worker now runs, and what it found of dead workers.
#[derive(Default)]
pub struct Claimed {
    pub started: Vec<Generation>,
    /// Generations put back in the queue because their worker's lease ran out.
    pub requeued: usize,
    /// Generations failed (`worker_lost`, hold released) after [`MAX_ATTEMPTS`] starts.
    pub abandoned: usize,
}

/// Whether a claim could find anything: a queued generation, or a lapsed lease. Reads only, so
/// an idle process polls without taking the write lock.
pub fn has_work(conn: &mut DbConn, now: DateTime<Utc>) -> Result<bool> {
    let queued: Option<String> =
        generations::table.filter(generations::status.eq("queued")).select(generations::id).first(conn).optional()?;
    if queued.is_some() {
        return Ok(true);
    }
    let lapsed: Option<String> = generations::table
        .filter(generations::status.eq("processing"))
        .filter(generations::mode.eq("async"))
        .filter(generations::lease_expires_at.lt(naive(now)))
        .select(generations::id)
        .first(conn)
        .optional()?;
    Ok(lapsed.is_some())
}

/// Claims what the bounds allow, oldest first, in one write transaction: first the work of dead
/// workers goes back to the queue (or fails), then queued generations start.
pub fn claim(conn: &mut DbConn, claim: &Claim<'_>) -> Result<Claimed> {
    write_transaction(conn, |conn| {
        if let DbConn::Pg(c) = conn {
            diesel::sql_query(format!("SELECT pg_advisory_xact_lock({CLAIM_LOCK})")).execute(c)?;
        }
        let mut claimed = Claimed::default();
        recover_lapsed(conn, claim.now, &mut claimed)?;

        let running: Vec<String> = generations::table
            .filter(generations::status.eq("processing"))
            .filter(generations::mode.eq("async"))
            .select(generations::account_id)
            .load(conn)?;
        let free = (claim.total as usize).saturating_sub(running.len());
        if free == 0 {
            return Ok(claimed);
        }
        let mut per_account: HashMap<String, u32> = HashMap::new();
        for account in running {
            *per_account.entry(account).or_default() += 1;
        }
        let queued: Vec<(String, String, String)> = generations::table
            .filter(generations::status.eq("queued"))
            .order((generations::created_at.asc(), generations::id.asc()))
            .limit(SCAN)
            .select((generations::id, generations::account_id, generations::hold_id))
            .load(conn)?;
        // (generation, its account, its hold)
        let mut picked: Vec<(String, String, String)> = Vec::new();
        for (id, account, hold) in queued {
            if picked.len() == free {
                break;
            }
            let count = per_account.entry(account.clone()).or_default();
            if *count < claim.per_account {
                *count += 1;
                picked.push((id, account, hold));
            }
        }
        if picked.is_empty() {
            return Ok(claimed);
        }
        // The holds first, then the generations: the order a capture or a cancel takes them in
        // (after its account's row), so that a claim never waits on one while holding what it
        // waits for. The provider gets its full time from the start, however long the wait was.
        let hold_ids: Vec<&str> = picked.iter().map(|(_, _, hold)| hold.as_str()).collect();
        Kept(
            diesel::update(holds::table.filter(holds::id.eq_any(padded(&hold_ids))).filter(holds::status.eq("active")))
                .set(holds::expires_at.eq(naive(claim.now + claim.hold))),
        )
        .execute(conn)?;
        let ids: Vec<&str> = picked.iter().map(|(id, ..)| id.as_str()).collect();
        let started: Vec<String> = Kept(
            diesel::update(
                generations::table
                    .filter(generations::id.eq_any(padded(&ids)))
                    .filter(generations::status.eq("queued")),
            )
            .set((
                generations::status.eq("processing"),
                generations::started_at.eq(naive(claim.now)),
                generations::worker.eq(claim.worker),
                generations::lease_expires_at.eq(naive(claim.now + claim.lease)),
                generations::attempts.eq(generations::attempts + 1),
            ))
            .returning(generations::id),
        )
        .get_results(conn)?;
        for (id, account, _) in picked.iter().filter(|(id, ..)| started.contains(id)) {
            let (id, account) = (GenerationId::from_db(id.clone()), crate::ids::AccountId::from_db(account.clone()));
            claimed.started.push(generation_store::get(conn, &account, &id)?);
        }
        Ok(claimed)
    })
}

/// Puts the work of workers whose lease ran out back in the queue, or fails it (releasing its
/// hold) once it has been started [`MAX_ATTEMPTS`] times.
fn recover_lapsed(conn: &mut DbConn, now: DateTime<Utc>, claimed: &mut Claimed) -> Result<()> {
    let lapsed: Vec<(String, String, String, i32)> = generations::table
        .filter(generations::status.eq("processing"))
        .filter(generations::mode.eq("async"))
        .filter(generations::lease_expires_at.lt(naive(now)))
        .select((generations::id, generations::account_id, generations::hold_id, generations::attempts))
        .load(conn)?;
    for (id, account, hold, attempts) in lapsed {
        let id = GenerationId::from_db(id);
        if attempts < MAX_ATTEMPTS {
            diesel::update(generations::table.find(id.as_str()).filter(generations::status.eq("processing")))
                .set((
                    generations::status.eq("queued"),
                    generations::worker.eq(None::<String>),
                    generations::lease_expires_at.eq(None::<chrono::NaiveDateTime>),
                ))
                .execute(conn)?;
            claimed.requeued += 1;
        } else {
            let account = crate::ids::AccountId::from_db(account);
            let hold = crate::ids::HoldId::from_db(hold);
            hold_ledger::release_set(conn, &[(&account, &hold)], now)?;
            let message = format!("the workers running it stopped {MAX_ATTEMPTS} times; nothing was charged");
            crate::generating::fail(conn, &account, &id, "worker_lost", &message, now)?;
            claimed.abandoned += 1;
        }
    }
    Ok(())
}

/// Renews the leases of the generations this worker runs; answers the ids it still runs (a
/// cancel, possibly from another process, or a recovery may have taken some away).
pub fn renew_leases(conn: &mut DbConn, worker: &str, until: DateTime<Utc>) -> Result<Vec<GenerationId>> {
    let ids: Vec<String> = diesel::update(
        generations::table.filter(generations::worker.eq(worker)).filter(generations::status.eq("processing")),
    )
    .set(generations::lease_expires_at.eq(naive(until)))
    .returning(generations::id)
    .get_results(conn)?;
    Ok(ids.into_iter().map(GenerationId::from_db).collect())
}
