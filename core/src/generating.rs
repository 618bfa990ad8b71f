//! How a generation is charged: price it, reserve the cost (a hold) together with the
//! generation record, let the provider work with no lock held, then capture the hold with
//! the images (success) or release it (failure). A request that dies between the phases
//! leaves an active hold that the sweeper releases after its expiry: no credit is lost, and
//! none is charged for work not delivered.

use chrono::{DateTime, Utc};

use crate::db::{write_transaction, DbConn};
use crate::ids::{AccountId, ApiKeyId, GenerationId, UserId};
use crate::pricing::{generation_cost, Quality};
use crate::store::catalog::{self, parse_size};
use crate::store::generations::{self, Generation, GenerationStatus, ImageMeta, NewImage};
use crate::store::holds::{self, Hold, HoldRequest};
use crate::store::ledger::{self, EntryType};
use crate::store::usage;
use crate::{Credits, Error, Result};

/// Longest accepted prompt, in characters.
pub const MAX_PROMPT_CHARS: usize = 4000;

/// A validated request for images.
pub struct GenerationRequest<'a> {
    pub account_id: &'a AccountId,
    pub api_key_id: Option<&'a ApiKeyId>,
    pub user_id: Option<&'a UserId>,
    pub model: &'a str,
    pub prompt: &'a str,
    pub size: Option<&'a str>,
    pub quality: Quality,
    pub n: u32,
    /// `url` or `b64_json`.
    pub response_format: &'a str,
}

/// A validated, priced request, ready to be reserved.
pub struct Prepared {
    model: String,
    prompt: String,
    size: String,
    width: u32,
    height: u32,
    quality: Quality,
    n: u32,
    response_format: String,
    cost: Credits,
}

/// Validates and prices a request against the catalog. Reads only; nothing is written.
pub fn prepare(conn: &mut DbConn, request: &GenerationRequest<'_>) -> Result<Prepared> {
    let prompt = request.prompt.trim();
    if prompt.is_empty() || prompt.chars().count() > MAX_PROMPT_CHARS {
        return Err(Error::invalid(
            "invalid_prompt",
            format!("prompt must be 1–{MAX_PROMPT_CHARS} characters"),
            "prompt",
        ));
    }
    if !matches!(request.response_format, "url" | "b64_json") {
        return Err(Error::invalid(
            "invalid_response_format",
            "response_format must be url or b64_json",
            "response_format",
        ));
    }
    let model = match catalog::get_model(conn, request.model) {
        Ok(model) if model.active => model,
        Ok(_) | Err(Error::NotFound(_)) => return Err(Error::NotFound("model")),
        Err(e) => return Err(e),
    };
    let size = request.size.unwrap_or("1024x1024");
    let (width, height) = parse_size(size).filter(|_| model.sizes.iter().any(|s| s == size)).ok_or_else(|| {
        Error::invalid("invalid_size", format!("size must be one of {}", model.sizes.join(", ")), "size")
    })?;
    Ok(Prepared {
        cost: generation_cost(model.credits_per_image, request.quality, request.n)?,
        model: model.id,
        prompt: prompt.to_string(),
        size: size.to_string(),
        width,
        height,
        quality: request.quality,
        n: request.n,
        response_format: request.response_format.to_string(),
    })
}

/// Reserves what [`prepare`] priced, inside the caller's write transaction (several requests
/// may share one: see the API's group commit): the generation is recorded as `processing` with
/// its hold. On error the caller rolls back (the transaction, or its savepoint): nothing is held
/// or recorded.
pub fn reserve(
    conn: &mut DbConn,
    request: &GenerationRequest<'_>,
    prepared: Prepared,
    hold_expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(Generation, Hold)> {
    let id = GenerationId::generate();
    let hold = holds::reserve(
        conn,
        HoldRequest {
            account_id: request.account_id,
            amount: prepared.cost,
            api_key_id: request.api_key_id,
            user_id: request.user_id,
            reference_id: id.as_str(),
            expires_at: hold_expires_at,
        },
        now,
    )?;
    let generation = Generation {
        id,
        account_id: request.account_id.clone(),
        api_key_id: request.api_key_id.cloned(),
        user_id: request.user_id.cloned(),
        model: prepared.model,
        prompt: prepared.prompt,
        size: prepared.size,
        width: prepared.width,
        height: prepared.height,
        quality: prepared.quality,
        n: prepared.n,
        response_format: prepared.response_format,
        status: GenerationStatus::Processing,
        credits_cost: prepared.cost,
        credits_charged: Credits::ZERO,
        hold_id: hold.id.clone(),
        error_code: None,
        error_message: None,
        images: Vec::new(),
        created_at: now,
        completed_at: None,
    };
    generations::insert(conn, &generation)?;
    Ok((generation, hold))
}

/// How a capture ended.
pub enum Captured {
    /// Charged; the generation as it now is.
    Succeeded(Box<Generation>),
    /// The hold had expired (the sweeper released it): nothing was charged, and the generation
    /// is recorded as failed with `hold_expired`.
    HoldExpired { message: String },
}

/// The provider delivered: store the images and capture the hold, inside the caller's write
/// transaction. If the hold already expired (the sweeper released it), nothing is charged and
/// the generation is marked failed with `hold_expired`: not an error here, since that must be
/// committed, but [`Captured::HoldExpired`].
pub fn capture(
    conn: &mut DbConn,
    generation: &Generation,
    hold: &Hold,
    images: &[NewImage<'_>],
    now: DateTime<Utc>,
) -> Result<Captured> {
    ledger::lock_account_row(conn, &generation.account_id, now)?;
    if !holds::claim_for_capture(conn, &hold.id, now)? {
        let message = "the credit hold expired before the work finished; nothing was charged".to_string();
        generations::mark_failed(conn, &generation.id, "hold_expired", &message, now)?;
        return Ok(Captured::HoldExpired { message });
    }
    generations::mark_succeeded(conn, &generation.id, hold.amount, images, now)?;
    usage::record(
        conn,
        &generation.account_id,
        now,
        &generation.model,
        generation.api_key_id.as_ref(),
        generation.user_id.as_ref(),
        hold.amount,
        generation.n,
    )?;
    let description = format!(
        "{} × {} {} image(s) of {}",
        generation.n,
        generation.quality.as_str(),
        generation.size,
        generation.model
    );
    holds::settle_captured(conn, hold, EntryType::Generation, &description, now)?;
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
    Ok(Captured::Succeeded(Box::new(succeeded)))
}

/// The provider failed: release the hold and record why, inside the caller's write
/// transaction. Nothing is charged.
pub fn release(
    conn: &mut DbConn,
    generation: &Generation,
    code: &str,
    message: &str,
    now: DateTime<Utc>,
) -> Result<Generation> {
    holds::release(conn, &generation.account_id, &generation.hold_id, now)?;
    generations::mark_failed(conn, &generation.id, code, message, now)?;
    generations::get(conn, &generation.account_id, &generation.id)
}

/// Releases holds past their expiry and fails their generations; returns how many.
pub fn release_expired_holds(conn: &mut DbConn, now: DateTime<Utc>) -> Result<usize> {
    let expired = holds::expired(conn, now, 500)?;
    let mut released = 0;
    for hold in expired {
        let done = write_transaction(conn, |conn| {
            let released = holds::release(conn, &hold.account_id, &hold.id, now)?;
            if released {
                generations::mark_failed(
                    conn,
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
