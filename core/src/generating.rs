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
use crate::store::generations::{self, Generation, GenerationStatus, NewImage};
use crate::store::holds::{self, Hold, HoldRequest};
use crate::store::ledger::EntryType;
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

/// Validates, prices and reserves: the generation is recorded as `processing` with its hold,
/// in one transaction. Nothing is held or recorded when this fails.
pub fn start(
    conn: &mut DbConn,
    request: GenerationRequest<'_>,
    hold_expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(Generation, Hold)> {
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
    let cost = generation_cost(model.credits_per_image, request.quality, request.n)?;
    let id = GenerationId::generate();
    write_transaction(conn, |conn| {
        let hold = holds::reserve(
            conn,
            HoldRequest {
                account_id: request.account_id,
                amount: cost,
                api_key_id: request.api_key_id,
                user_id: request.user_id,
                reference_id: id.as_str(),
                expires_at: hold_expires_at,
            },
            now,
        )?;
        let generation = Generation {
            id: id.clone(),
            account_id: request.account_id.clone(),
            api_key_id: request.api_key_id.cloned(),
            user_id: request.user_id.cloned(),
            model: model.id.clone(),
            prompt: prompt.to_string(),
            size: size.to_string(),
            width,
            height,
            quality: request.quality,
            n: request.n,
            response_format: request.response_format.to_string(),
            status: GenerationStatus::Processing,
            credits_cost: cost,
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
    })
}

/// The provider delivered: store the images and capture the hold, in one transaction.
/// If the hold already expired (the sweeper released it), nothing is charged and the
/// generation fails with `hold_expired`.
pub fn succeed(
    conn: &mut DbConn,
    generation: &Generation,
    hold: &Hold,
    images: &[NewImage<'_>],
    now: DateTime<Utc>,
) -> Result<Generation> {
    let description = format!(
        "{} × {} {} image(s) of {}",
        generation.n,
        generation.quality.as_str(),
        generation.size,
        generation.model
    );
    let captured = write_transaction(conn, |conn| {
        holds::capture(conn, hold, EntryType::Generation, &description, now)?;
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
        generations::mark_succeeded(conn, &generation.id, hold.amount, images, now)
    });
    match captured {
        Ok(()) => generations::get(conn, &generation.account_id, &generation.id),
        Err(Error::Conflict { code: "hold_expired", message }) => {
            generations::mark_failed(conn, &generation.id, "hold_expired", &message, now)?;
            Err(Error::conflict("hold_expired", message))
        }
        Err(e) => Err(e),
    }
}

/// The provider failed: release the hold and record why. Nothing is charged.
pub fn fail(
    conn: &mut DbConn,
    generation: &Generation,
    code: &str,
    message: &str,
    now: DateTime<Utc>,
) -> Result<Generation> {
    write_transaction(conn, |conn| {
        holds::release(conn, &generation.hold_id, now)?;
        generations::mark_failed(conn, &generation.id, code, message, now)
    })?;
    generations::get(conn, &generation.account_id, &generation.id)
}

/// Releases holds past their expiry and fails their generations; returns how many.
pub fn release_expired_holds(conn: &mut DbConn, now: DateTime<Utc>) -> Result<usize> {
    let expired = holds::expired(conn, now, 500)?;
    let mut released = 0;
    for (hold_id, reference) in expired {
        let done = write_transaction(conn, |conn| {
            let released = holds::release(conn, &hold_id, now)?;
            if released {
                generations::mark_failed(
                    conn,
                    &GenerationId::from_db(reference.clone()),
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
