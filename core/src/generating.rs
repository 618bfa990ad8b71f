//! How a generation is charged: price it, reserve the cost (a hold) together with the
//! generation record, let the provider work with no lock held, then capture the hold with
//! the images (success) or release it (failure). A request that dies between the phases
//! leaves an active hold that the sweeper releases after its expiry: no credit is lost, and
//! none is charged for work not delivered.

use chrono::{DateTime, Utc};

use crate::db::{write_transaction, DbConn};
use crate::domain::{ImageCount, Prompt, ResponseFormat};
use crate::ids::{AccountId, ApiKeyId, GenerationId, HoldId, UserId};
use crate::ledger::holds::{self, Hold, HoldRequest};
use crate::ledger::{self, EntryType};
use crate::pricing::{generation_cost, Quality};
use crate::store::catalog::{self, parse_size};
use crate::store::events::{self, EventType, NewEvent};
use crate::store::generations::{self, Generation, GenerationMode, GenerationStatus, ImageMeta, NewImage};
use crate::store::usage;
use crate::{Credits, Error, Result};

/// Longest accepted prompt, in characters.
/// The size of a generation that names none (or `auto`), where the model has it.
pub const DEFAULT_SIZE: &str = "1024x1024";

/// A request for images, parsed: who pays (the account, and the key and member whose limits
/// apply) and what they asked for.
#[derive(Clone, Debug)]
pub struct GenerationRequest {
    pub account_id: AccountId,
    pub api_key_id: Option<ApiKeyId>,
    pub user_id: Option<UserId>,
    pub model: String,
    pub prompt: Prompt,
    pub size: Option<String>,
    pub quality: Quality,
    pub n: ImageCount,
    pub response_format: ResponseFormat,
}

/// A validated, priced request, ready to be reserved.
#[derive(Clone, Debug)]
pub struct Prepared {
    model: String,
    prompt: String,
    size: String,
    width: u32,
    height: u32,
    quality: Quality,
    n: ImageCount,
    response_format: ResponseFormat,
    credits_per_image: Credits,
    cost: Credits,
}

/// Validates and prices a request against the catalog. Reads only; nothing is written.
pub fn prepare(conn: &mut DbConn, request: &GenerationRequest) -> Result<Prepared> {
    let model = match catalog::get_model(conn, &request.model) {
        Ok(model) if model.active => model,
        Ok(_) | Err(Error::NotFound(_)) => return Err(Error::NotFound("model")),
        Err(e) => return Err(e),
    };
    // `auto` (as OpenAI's SDKs send it) and no size mean the model's default: 1024x1024 where
    // it has it, else its first size.
    let size = match request.size.as_deref() {
        Some("auto") | None => model
            .sizes
            .iter()
            .map(String::as_str)
            .find(|s| *s == DEFAULT_SIZE)
            .or(model.sizes.first().map(String::as_str))
            .unwrap_or(DEFAULT_SIZE),
        Some(size) => size,
    };
    let offered = || format!("{} offers {}", model.id, model.sizes.join(", "));
    let (width, height) = parse_size(size).ok_or_else(|| {
        Error::invalid("invalid_size", format!("size must be WIDTHxHEIGHT or auto; {}", offered()), "size")
    })?;
    if !model.sizes.iter().any(|s| s == size) {
        // Well-formed, but not a size this model renders.
        return Err(Error::unprocessable(
            "unsupported_size",
            format!("size {size} is not offered: {}", offered()),
            "size",
        ));
    }
    Ok(Prepared {
        cost: generation_cost(model.credits_per_image, request.quality, request.n)?,
        credits_per_image: model.credits_per_image,
        model: model.id,
        prompt: request.prompt.as_str().to_string(),
        size: size.to_string(),
        width,
        height,
        quality: request.quality,
        n: request.n,
        response_format: request.response_format,
    })
}

/// One request's reservation: the request, what [`prepare`] priced, whether it is to run now
/// (`sync`) or wait in the queue (`async`), and the hold's expiry.
pub struct Reservation {
    pub request: GenerationRequest,
    pub prepared: Prepared,
    pub mode: GenerationMode,
    pub hold_expires_at: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

impl Reservation {
    fn hold_request<'a>(&'a self, id: &'a GenerationId) -> (HoldRequest<'a>, DateTime<Utc>) {
        let request = HoldRequest {
            account_id: &self.request.account_id,
            amount: self.prepared.cost,
            api_key_id: self.request.api_key_id.as_ref(),
            user_id: self.request.user_id.as_ref(),
            reference_id: id.as_str(),
            expires_at: self.hold_expires_at,
        };
        (request, self.now)
    }

    /// The generation record of an accepted reservation: `processing` from now, or `queued`.
    fn recorded(&self, id: GenerationId, hold: &Hold) -> Generation {
        let sync = self.mode == GenerationMode::Sync;
        let prepared = &self.prepared;
        Generation {
            id,
            account_id: self.request.account_id.clone(),
            api_key_id: self.request.api_key_id.clone(),
            user_id: self.request.user_id.clone(),
            model: prepared.model.clone(),
            prompt: prepared.prompt.clone(),
            size: prepared.size.clone(),
            width: prepared.width,
            height: prepared.height,
            quality: prepared.quality,
            n: prepared.n.get(),
            response_format: prepared.response_format,
            status: if sync { GenerationStatus::Processing } else { GenerationStatus::Queued },
            mode: self.mode,
            credits_per_image: prepared.credits_per_image,
            credits_cost: prepared.cost,
            credits_charged: Credits::ZERO,
            hold_id: hold.id.clone(),
            error_code: None,
            error_message: None,
            images: Vec::new(),
            created_at: self.now,
            started_at: sync.then_some(self.now),
            completed_at: None,
        }
    }
}

/// Reserves what [`prepare`] priced, inside the caller's write transaction (several requests
/// may share one: see [`crate::group_commit`]): the generation is recorded with its hold, as
/// `processing` or (asynchronous) `queued`. On error the caller rolls back (the transaction, or its savepoint): nothing is held
/// or recorded. A set of one: [`reserve_set`].
pub fn reserve(conn: &mut DbConn, reservation: &Reservation) -> Result<(Generation, Hold)> {
    reserve_set(conn, &[reservation])?.pop().expect("one outcome per reservation")
}

/// Reserves several requests as one set, inside the caller's write transaction: each request
/// gets the outcome it would have had reserved alone, in the order given (see
/// [`holds::reserve_set`]), and the accepted ones are recorded together. An `Err` means the set
/// as a whole failed: the caller rolls it back and reserves one by one.
pub fn reserve_set(conn: &mut DbConn, reservations: &[&Reservation]) -> Result<Vec<Result<(Generation, Hold)>>> {
    let ids: Vec<GenerationId> = reservations.iter().map(|_| GenerationId::generate()).collect();
    let requests: Vec<_> = reservations.iter().zip(&ids).map(|(r, id)| r.hold_request(id)).collect();
    let held = holds::reserve_set(conn, &requests)?;
    let outcomes: Vec<Result<(Generation, Hold)>> = held
        .into_iter()
        .zip(reservations.iter().zip(&ids))
        .map(|(hold, (reservation, id))| hold.map(|hold| (reservation.recorded(id.clone(), &hold), hold)))
        .collect();
    let recorded: Vec<&Generation> = outcomes.iter().filter_map(|o| o.as_ref().ok()).map(|(g, _)| g).collect();
    if !recorded.is_empty() {
        generations::insert_many(conn, &recorded)?;
    }
    Ok(outcomes)
}

/// How a capture ended.
pub enum Captured {
    /// Charged; the generation as it now is.
    Succeeded(Box<Generation>),
    /// The hold had expired (the sweeper released it): nothing was charged, and the generation
    /// is recorded as failed with `hold_expired`.
    HoldExpired { message: String },
}

const HOLD_EXPIRED: &str = "the credit hold expired before the work finished; nothing was charged";

/// One delivered generation to capture: its record, its hold, and its images (bytes already
/// stored by [`generations::store_blobs`]).
pub struct Capture {
    pub generation: Generation,
    pub hold: Hold,
    pub images: Vec<NewImage>,
    pub now: DateTime<Utc>,
}

/// The provider delivered: record the images and capture the hold, inside the caller's write
/// transaction. If the hold already expired (the sweeper released it), nothing is charged and
/// the generation is marked failed with `hold_expired`: not an error here, since that must be
/// committed, but [`Captured::HoldExpired`]. A set of one: [`capture_set`].
pub fn capture(conn: &mut DbConn, capture: &Capture) -> Result<Captured> {
    Ok(capture_set(conn, &[capture])?.pop().expect("one outcome per capture"))
}

/// Captures several generations as one set, inside the caller's write transaction, at
/// one time (the latest of theirs): the accounts locked in id order (on PostgreSQL), one claim
/// of the holds, one update of the generations, the usage rollup in one statement, the
/// balances updated in one statement per distinct total, the ledger entries in one statement,
/// one pass over the lots. Each gets the outcome it would have had captured alone. An `Err`
/// means the set as a whole failed: the caller rolls it back and captures one by one.
pub fn capture_set(conn: &mut DbConn, captures: &[&Capture]) -> Result<Vec<Captured>> {
    let Some(now) = captures.iter().map(|c| c.now).max() else { return Ok(Vec::new()) };
    // On PostgreSQL the accounts' rows are locked first, in id order. SQLite's write
    // transaction already excludes every other writer, and settling checks that each account
    // exists, so there the read is skipped.
    if matches!(conn, DbConn::Pg(_)) {
        let accounts: Vec<&str> = captures.iter().map(|c| c.generation.account_id.as_str()).collect();
        let locked = ledger::lock_accounts(conn, &accounts)?;
        if accounts.iter().any(|account| !locked.contains_key(*account)) {
            return Err(Error::NotFound("account"));
        }
    }
    let hold_ids: Vec<&HoldId> = captures.iter().map(|c| &c.hold.id).collect();
    let claimed = holds::claim_set(conn, &hold_ids, now)?;
    let (won, lost): (Vec<&Capture>, Vec<&Capture>) = captures.iter().partition(|c| claimed.contains(&c.hold.id));
    let mut lost_here = Vec::new();
    for capture in &lost {
        if generations::mark_failed(conn, &capture.generation.id, "hold_expired", HOLD_EXPIRED, now)? {
            lost_here.push(capture.generation.id.clone());
        }
    }
    if !won.is_empty() {
        let shown: Vec<_> = won.iter().map(|c| (&c.generation.id, c.images.as_slice())).collect();
        generations::mark_succeeded_set(conn, &shown, now)?;
        let mut rollup: Vec<(RollupGroup<'_>, usage::Spent)> = Vec::new();
        for Capture { generation, hold, .. } in &won {
            let group = (
                &generation.account_id,
                generation.model.as_str(),
                generation.api_key_id.as_ref(),
                generation.user_id.as_ref(),
            );
            let add = spent(generation, hold);
            match rollup.iter_mut().find(|(g, _)| *g == group) {
                Some((_, total)) => {
                    total.credits += add.credits;
                    total.generations += add.generations;
                    total.images += add.images;
                }
                None => rollup.push((group, add)),
            }
        }
        let additions: Vec<usage::Addition<'_>> = rollup
            .into_iter()
            .map(|((account, model, api_key, user), spent)| usage::Addition { account, model, api_key, user, spent })
            .collect();
        usage::record_many(conn, now, &additions)?;
        let settled: Vec<_> =
            won.iter().map(|c| (&c.hold, EntryType::Generation, description(&c.generation))).collect();
        holds::settle_captured_set(conn, &settled, now)?;
    }
    let outcomes: Vec<(Generation, Captured)> = captures
        .iter()
        .map(|c| {
            if claimed.contains(&c.hold.id) {
                let generation = succeeded(&c.generation, &c.hold, &c.images, now);
                (generation.clone(), Captured::Succeeded(Box::new(generation)))
            } else {
                let mut failed = c.generation.clone();
                (failed.status, failed.completed_at) = (GenerationStatus::Failed, Some(now));
                (failed.error_code, failed.error_message) = (Some("hold_expired".into()), Some(HOLD_EXPIRED.into()));
                (failed, Captured::HoldExpired { message: HOLD_EXPIRED.to_string() })
            }
        })
        .collect();
    // A lost claim reports nothing new when the hold was released by a cancel or the sweeper
    // (which reported it then): only a generation this set marked failed is reported here.
    let reported: Vec<NewEvent<'_>> = outcomes
        .iter()
        .filter(|(g, _)| g.status == GenerationStatus::Succeeded || lost_here.contains(&g.id))
        .map(|(g, _)| NewEvent { account_id: &g.account_id, event_type: event_type(g.status), data: event_data(g) })
        .collect();
    events::record_many(conn, reported, now)?;
    Ok(outcomes.into_iter().map(|(_, captured)| captured).collect())
}

/// A usage rollup group (within one day): account, model, key, member.
type RollupGroup<'a> = (&'a AccountId, &'a str, Option<&'a ApiKeyId>, Option<&'a UserId>);

/// What one captured generation adds to the usage rollup.
fn spent(generation: &Generation, hold: &Hold) -> usage::Spent {
    usage::Spent { credits: hold.amount.units(), generations: 1, images: i64::from(generation.n) }
}

/// The ledger description of a generation's spend.
fn description(generation: &Generation) -> String {
    format!("{} × {} {} image(s) of {}", generation.n, generation.quality.as_str(), generation.size, generation.model)
}

/// The generation as a capture leaves it.
fn succeeded(generation: &Generation, hold: &Hold, images: &[NewImage], now: DateTime<Utc>) -> Generation {
    let mut succeeded = generation.clone();
    succeeded.status = GenerationStatus::Succeeded;
    succeeded.credits_charged = hold.amount;
    succeeded.completed_at = Some(now);
    succeeded.images = images
        .iter()
        .enumerate()
        .map(|(index, image)| ImageMeta {
            index: index as i32,
            content_type: image.content_type.to_string(),
            width: image.width as i32,
            height: image.height as i32,
        })
        .collect();
    succeeded
}

/// A generation whose provider failed: its hold is to be released, and why recorded.
pub struct Release {
    pub generation: Generation,
    /// The error code recorded on the generation (`upstream_error`).
    pub code: &'static str,
    pub message: String,
    pub now: DateTime<Utc>,
}

/// The provider failed: release the hold and record why, inside the caller's write
/// transaction. Nothing is charged. Returns the generation as it now is.
pub fn release(conn: &mut DbConn, release: &Release) -> Result<Generation> {
    let Release { generation, code, message, now } = release;
    let released = holds::release_set(conn, &[(&generation.account_id, &generation.hold_id)], *now)?[0];
    if released {
        fail(conn, &generation.account_id, &generation.id, code, message, *now)?;
    }
    generations::get(conn, &generation.account_id, &generation.id)
}

/// Marks an unfinished generation failed (its hold released by the caller) and reports it.
pub fn fail(
    conn: &mut DbConn,
    account: &AccountId,
    id: &GenerationId,
    code: &str,
    message: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    if generations::mark_failed(conn, id, code, message, now)? {
        let failed = generations::get(conn, account, id)?;
        events::record(conn, account, EventType::GenerationFailed, event_data(&failed), now)?;
    }
    Ok(())
}

/// The event reporting a generation's outcome.
fn event_type(status: GenerationStatus) -> EventType {
    match status {
        GenerationStatus::Succeeded => EventType::GenerationSucceeded,
        GenerationStatus::Canceled => EventType::GenerationCanceled,
        _ => EventType::GenerationFailed,
    }
}

/// What a `generation.*` event carries: the generation's id and outcome, kept small (a capture
/// writes one per generation; `GET /v1/generations/{id}` has the rest).
pub fn event_data(g: &Generation) -> serde_json::Value {
    let mut data = serde_json::json!({
        "object": "generation",
        "id": g.id.as_str(),
        "status": g.status.as_str(),
        "model": g.model,
        "n": g.n,
        "credits_charged": g.credits_charged.to_string(),
    });
    if let Some(code) = &g.error_code {
        data["error_code"] = code.as_str().into();
    }
    data
}

/// Releases holds past their expiry and fails their generations; returns how many.
pub fn release_expired_holds(conn: &mut DbConn, now: DateTime<Utc>) -> Result<usize> {
    let expired = holds::expired(conn, now, 500)?;
    let mut released = 0;
    for hold in expired {
        let done = write_transaction(conn, |conn| {
            let released = holds::release_set(conn, &[(&hold.account_id, &hold.id)], now)?[0];
            if released {
                fail(
                    conn,
                    &hold.account_id,
                    &GenerationId::from_db(hold.reference_id.clone()),
                    "hold_expired",
                    "the generation did not finish before its credit hold expired; nothing was charged",
                    now,
                )?;
            }
            Ok(released)
        })?;
        released += usize::from(done);
    }
    Ok(released)
}

/// The hold reserving a generation's cost, as its record names it.
pub fn hold_of(generation: &Generation) -> Hold {
    Hold {
        id: generation.hold_id.clone(),
        account_id: generation.account_id.clone(),
        amount: generation.credits_cost,
        api_key_id: generation.api_key_id.clone(),
        user_id: generation.user_id.clone(),
        reference_id: generation.id.as_str().to_string(),
    }
}

/// A request to cancel one of an account's generations.
pub struct Cancel {
    pub account_id: AccountId,
    pub id: GenerationId,
    pub now: DateTime<Utc>,
}

/// Cancels a generation that has not finished, inside the caller's write transaction: its hold
/// is released (nothing charged) and it is marked `canceled`. The account's row is locked first,
/// as a capture locks it, so a cancel and a capture of the same generation are ordered: whichever
/// resolves the hold first decides, and the other changes nothing. A finished generation is
/// answered as it is (canceling is idempotent); an unfinished synchronous one cannot be canceled
/// (its request waits for it). Answers the generation as it now is, and whether
/// this call canceled it.
pub fn cancel(conn: &mut DbConn, cancel: &Cancel) -> Result<(Generation, bool)> {
    let Cancel { account_id, id, now } = cancel;
    let generation = generations::get(conn, account_id, id)?;
    if generation.status.is_final() {
        return Ok((generation, false));
    }
    if generation.mode == GenerationMode::Sync {
        return Err(Error::conflict(
            "generation_not_cancelable",
            "only an asynchronous generation (Prefer: respond-async) can be canceled; this one's request is waiting for it",
        ));
    }
    let released = holds::release_set(conn, &[(account_id, &generation.hold_id)], *now)?[0];
    let canceled = released && generations::mark_canceled(conn, id, *now)?;
    let generation = generations::get(conn, account_id, id)?;
    if canceled {
        events::record(conn, account_id, EventType::GenerationCanceled, event_data(&generation), *now)?;
    }
    Ok((generation, canceled))
}
