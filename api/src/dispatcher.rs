//! Runs asynchronous generations (`Prefer: respond-async`). The queue lives in the database (see
//! [`apinfer_core::queueing`]), so queued work survives a restart and any process on the database
//! may run it. Each process has one dispatcher: it claims what the configured bounds allow, runs
//! each claimed generation as a task (the provider call, then the capture or release a
//! synchronous generation makes), renews its claims' leases while they run, and looks again
//! when a generation is queued here, when one of its tasks ends, or every `worker_interval_ms`
//! (for work queued by other processes or left by dead ones).

use std::time::{Duration, Instant};

use actix_web::web;
use apinfer_core::queueing::{self, Claim};
use apinfer_core::store::generations::Generation;

use crate::error::ApiError;
use crate::generation::deliver;
use crate::state::AppState;

/// Starts this process's dispatcher.
pub fn spawn_dispatcher(state: web::Data<AppState>) {
    let poll = Duration::from_millis(state.config.worker_interval_ms.clamp(10, 5_000));
    let lease = chrono::Duration::seconds(state.config.async_lease_seconds as i64);
    let renew_every = Duration::from_secs(state.config.async_lease_seconds / 3);
    tokio::spawn(async move {
        let mut renewed = Instant::now();
        loop {
            if renewed.elapsed() >= renew_every {
                renewed = Instant::now();
                renew(&state, lease).await;
            }
            if let Err(e) = dispatch(&state).await {
                tracing::warn!(error = %e, "claiming queued generations failed");
            }
            tokio::select! {
                _ = state.queue.woken() => {}
                _ = tokio::time::sleep(poll.min(renew_every)) => {}
            }
        }
    });
}

/// Renews the leases of what this process runs, and abandons the provider calls of generations
/// it no longer runs (canceled through another process, or taken over after a lapse).
async fn renew(state: &web::Data<AppState>, lease: chrono::Duration) {
    let running = state.queue.running();
    if running.is_empty() {
        return;
    }
    let (worker, until) = (state.queue.worker().to_string(), state.now() + lease);
    match state.db(move |conn| queueing::renew_leases(conn, &worker, until)).await {
        Ok(kept) => {
            for id in running.iter().filter(|id| !kept.contains(id)) {
                state.queue.abandon(id);
            }
        }
        Err(e) => tracing::warn!(error = %e, "renewing the queue's leases failed"),
    }
}

/// Claims what the bounds allow and starts a task for each.
async fn dispatch(state: &web::Data<AppState>) -> Result<(), ApiError> {
    let now = state.now();
    if !state.read(move |conn| queueing::has_work(conn, now)).await? {
        return Ok(());
    }
    let config = &state.config;
    let claim_state = state.clone();
    let (total, per_account) = (config.async_concurrency, config.async_concurrency_per_account);
    let lease = chrono::Duration::seconds(config.async_lease_seconds as i64);
    let hold = chrono::Duration::seconds(config.hold_timeout_seconds as i64);
    let claimed = state
        .db(move |conn| {
            let worker = claim_state.queue.worker();
            queueing::claim(conn, &Claim { worker, total, per_account, lease, hold, now: claim_state.now() })
        })
        .await?;
    if claimed.requeued + claimed.abandoned > 0 {
        tracing::warn!(
            requeued = claimed.requeued,
            failed = claimed.abandoned,
            "found generations whose worker stopped"
        );
    }
    for generation in claimed.started {
        start(state.clone(), generation);
    }
    Ok(())
}

/// Runs one claimed generation as a task this process can abandon.
fn start(state: web::Data<AppState>, generation: Generation) {
    let id = generation.id.clone();
    let task_state = state.clone();
    state.queue.track(id, move || {
        tokio::spawn(async move {
            let id = generation.id.clone();
            if let Err(e) = deliver(&task_state, generation).await {
                tracing::info!(generation = %id, error = %e.message, "asynchronous generation did not succeed");
            }
            task_state.queue.finished(&id);
        })
    });
}
