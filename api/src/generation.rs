//! Runs a generation end to end: reserve (core), render (a provider, no lock held), then
//! capture or release (core). Shared by `/v1/generations` (at once, or queued and delivered by
//! [`crate::queue`]) and the OpenAI-compatible `/v1/images/generations`, so all charge exactly
//! alike.

use std::sync::Arc;
use std::time::Duration;

use apinfer_core::domain::{ImageCount, Prompt, ResponseFormat};
use apinfer_core::generating::{self, Capture, Captured, GenerationRequest, Release, Reservation};
use apinfer_core::group_commit::{BlobStore, BlobTouch};
use apinfer_core::ids::AccountId;
use apinfer_core::pricing::Quality;
use apinfer_core::store::generations::{Generation, GenerationMode, NewImage};
use apinfer_core::store::images as image_store;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorKind};
use crate::providers::{GeneratedImage, ImageRequest};
use crate::state::AppState;

/// What the caller asked for, already typed (who asks is the [`Caller`]).
pub struct GenerateCommand {
    pub model: String,
    pub prompt: Prompt,
    pub size: Option<String>,
    pub quality: Quality,
    pub n: ImageCount,
    pub response_format: ResponseFormat,
}

/// Prices, reserves, renders, and captures or releases. Returns the succeeded generation and
/// its images' bytes; a provider failure is a 502 `upstream_error` naming the generation,
/// which was not charged.
pub async fn generate(
    state: &AppState,
    caller: &Caller,
    command: GenerateCommand,
) -> Result<(Generation, Vec<Vec<u8>>), ApiError> {
    let generation = reserve(state, caller, command, GenerationMode::Sync).await?;
    deliver(state, generation).await
}

/// Prices and reserves, and leaves the generation `queued` for a worker (see [`crate::queue`]).
/// Its hold lasts the queue timeout and then the hold timeout, which starts again when a worker
/// takes it.
pub async fn enqueue(state: &AppState, caller: &Caller, command: GenerateCommand) -> Result<Generation, ApiError> {
    let generation = reserve(state, caller, command, GenerationMode::Async).await?;
    state.queue.wake();
    Ok(generation)
}

async fn reserve(
    state: &AppState,
    caller: &Caller,
    command: GenerateCommand,
    mode: GenerationMode,
) -> Result<Generation, ApiError> {
    let now = state.now();
    let config = &state.config;
    let lasts = match mode {
        GenerationMode::Sync => config.hold_timeout_seconds,
        GenerationMode::Async => config.async_queue_timeout_seconds.saturating_add(config.hold_timeout_seconds),
    };
    let hold_expires_at = now + chrono::Duration::seconds(lasts.min(i64::MAX as u64) as i64);
    let request = Arc::new(GenerationRequest {
        account_id: caller.account_id.clone(),
        api_key_id: caller.api_key_id().cloned(),
        user_id: Some(caller.user_id.clone()),
        model: command.model,
        prompt: command.prompt,
        size: command.size,
        quality: command.quality,
        n: command.n,
        response_format: command.response_format,
    });
    // Validating and pricing only read, so they stay out of the write queue (and a bad request
    // never waits for it).
    let prepared = {
        let request = Arc::clone(&request);
        state.read(move |conn| generating::prepare(conn, &request)).await?
    };
    let request = Arc::unwrap_or_clone(request);
    let (generation, _) = state.writes.reserve(Reservation { request, prepared, mode, hold_expires_at, now }).await?;
    Ok(generation)
}

/// Renders a reserved generation and captures its hold with the images, or releases it if the
/// provider fails (a 502 `upstream_error` naming the generation, which was not charged).
pub async fn deliver(state: &AppState, generation: Generation) -> Result<(Generation, Vec<Vec<u8>>), ApiError> {
    let hold = generating::hold_of(&generation);
    let request = ImageRequest {
        model: generation.model.clone(),
        prompt: generation.prompt.clone(),
        width: generation.width,
        height: generation.height,
        quality: generation.quality.as_str().to_string(),
        n: generation.n,
    };
    let provider = state.providers.for_model(&generation.model);
    match provider.generate(&request).await {
        Ok(images) => {
            // If this fails, the hold stays until the sweeper releases it: nothing is charged.
            let (images, blob_ids) = store_images(state, &generation.account_id, images).await?;
            let (shown, bytes): (Vec<NewImage>, Vec<Vec<u8>>) = images
                .into_iter()
                .zip(blob_ids)
                .map(|(image, blob_id)| {
                    let shown = NewImage {
                        content_type: image.content_type,
                        width: image.width,
                        height: image.height,
                        blob_id,
                    };
                    (shown, image.bytes)
                })
                .unzip();
            let capture = Capture { generation, hold, images: shown, now: state.now() };
            match state.writes.capture(capture).await? {
                Captured::Succeeded(generation) => Ok((*generation, bytes)),
                Captured::HoldExpired { message } => {
                    Err(ApiError::from(apinfer_core::Error::conflict("hold_expired", message)))
                }
            }
        }
        Err(error) => {
            tracing::warn!(generation = %generation.id, provider = provider.kind(), error = %error, "provider failed");
            let id = generation.id.to_string();
            let release = Release { generation, code: "upstream_error", message: error.to_string(), now: state.now() };
            let failed = state.writes.release(release).await?;
            let mut api_error = ApiError::new(
                ErrorKind::UpstreamError,
                "upstream_error",
                format!(
                    "the image provider failed ({}); generation {id} was not charged",
                    failed.error_message.unwrap_or_default()
                ),
            );
            api_error.generation_id = Some(id);
            Err(api_error)
        }
    }
}

/// Stores the images' bytes in the content-addressed store, outside the money transaction, and
/// makes sure every blob they use stays stored until the capture references it: a blob this
/// process touched lately needs nothing; one stored already is touched if its touch is old (a
/// write only then); a missing one is stored. Returns the images with their blob ids.
async fn store_images(
    state: &AppState,
    generation_account: &AccountId,
    images: Vec<GeneratedImage>,
) -> Result<(Vec<GeneratedImage>, Vec<String>), ApiError> {
    let blob_ids: Vec<String> = images
        .iter()
        .map(|i| i.sha256.as_ref().map_or_else(|| image_store::blob_id(&i.bytes), image_store::blob_id_of_sha256))
        .collect();
    let now = state.now();
    let unknown = state.stored_blobs.unknown(&blob_ids, now.timestamp());
    if unknown.is_empty() {
        return Ok((images, blob_ids));
    }
    let lookup = unknown.clone();
    let stored = state.read(move |conn| image_store::stored(conn, &lookup)).await?;
    let stale: Vec<String> = stored
        .iter()
        .filter(|(_, touched)| *touched < now.timestamp() - image_store::TOUCH_EVERY_SECONDS)
        .map(|(id, _)| id.clone())
        .collect();
    let mut missing: Vec<String> = unknown.iter().filter(|id| !stored.iter().any(|(s, _)| s == *id)).cloned().collect();
    // Both writes queue with the generations' (on SQLite the one writer) rather than poll for
    // the write lock that back-to-back batches hold: polling, the first requests of a new image
    // could wait seconds for a gap.
    let account = generation_account.clone();
    if !stale.is_empty() {
        // Collected meanwhile (they were unreferenced): stored again below.
        missing.extend(state.writes.touch_blobs(BlobTouch { account: account.clone(), ids: stale, now }).await?);
    }
    if !missing.is_empty() {
        let blobs: Vec<(String, Arc<[u8]>)> = blob_ids
            .iter()
            .zip(&images)
            .filter(|(id, _)| missing.contains(id))
            .map(|(id, image)| (id.clone(), Arc::from(image.bytes.as_slice())))
            .collect();
        state.writes.store_blobs(BlobStore { account, blobs, now }).await?;
    }
    state.stored_blobs.remember(&unknown, now.timestamp());
    Ok((images, blob_ids))
}

/// Releases expired holds every `interval` (and once at start-up, after a crash).
pub fn spawn_hold_sweeper(state: actix_web::web::Data<AppState>) {
    let interval = Duration::from_secs(state.config.sweep_interval_seconds.max(1));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        loop {
            tick.tick().await;
            let now = state.now();
            match state.db(move |conn| generating::release_expired_holds(conn, now)).await {
                Ok(0) => {}
                Ok(n) => tracing::warn!(released = n, "released expired credit holds"),
                Err(e) => tracing::warn!(error = %e, "sweeping expired holds failed"),
            }
        }
    });
}
