//! Runs a generation end to end: reserve (core), render (a provider, no lock held), then
//! capture or release (core). Shared by `/v1/generations` and the OpenAI-compatible
//! `/v1/images/generations`, so both charge exactly alike.

use std::sync::Arc;
use std::time::Duration;

use apinfer_core::db::DbConn;
use apinfer_core::domain::{ImageCount, Prompt, ResponseFormat};
use apinfer_core::generating::{self, Capture, Captured, GenerationRequest, Prepared, Reservation};
use apinfer_core::ids::{AccountId, ApiKeyId, UserId};
use apinfer_core::ledger::holds::Hold;
use apinfer_core::pricing::Quality;
use apinfer_core::store::generations::{Generation, NewImage};
use apinfer_core::store::images as image_store;
use chrono::{DateTime, Utc};

use crate::auth::Caller;
use crate::config::{Config, UpstreamConfig};
use crate::error::{ApiError, ErrorKind};
use crate::group_commit::SetWork;
use crate::providers::{
    GeneratedImage, ImageProvider, ImageRequest, LocalProvider, OpenAiCompatibleConfig, OpenAiCompatibleProvider,
};
use crate::state::AppState;

/// Which provider renders which model.
pub struct Providers {
    local: Arc<LocalProvider>,
    upstream: Option<(UpstreamConfig, Arc<dyn ImageProvider>)>,
}

impl Providers {
    /// The providers `config` names; the local renderer renders on `cpu_gate`'s permits.
    pub fn from_config(config: &Config, cpu_gate: Arc<tokio::sync::Semaphore>) -> anyhow::Result<Self> {
        let upstream = match &config.upstream {
            None => None,
            Some(u) => {
                let provider = OpenAiCompatibleProvider::new(OpenAiCompatibleConfig {
                    base_url: u.base_url.clone(),
                    api_key: u.api_key.clone(),
                    upstream_model: u.upstream_model.clone(),
                    connect_timeout: Duration::from_secs(10),
                    request_timeout: Duration::from_secs(u.timeout_seconds),
                    max_retries: u.max_retries,
                    backoff_base: Duration::from_millis(200),
                })
                .map_err(|e| anyhow::anyhow!("configuring the upstream provider: {e}"))?;
                Some((u.clone(), Arc::new(provider) as Arc<dyn ImageProvider>))
            }
        };
        let local = LocalProvider::new(config.cache_budget().render_cache_bytes, cpu_gate);
        Ok(Providers { local: Arc::new(local), upstream })
    }

    /// The provider for a model: the upstream if configured for it, else the local renderer.
    pub fn for_model(&self, model: &str) -> Arc<dyn ImageProvider> {
        match &self.upstream {
            Some((config, provider)) if config.serves(model) => provider.clone(),
            _ => self.local.clone(),
        }
    }

    /// Bytes the local renderer's cache holds now.
    pub fn render_cache_bytes(&self) -> usize {
        self.local.cached_bytes()
    }
}

/// Blob ids this process has touched (see `apinfer_core::store::images`), each with when, in
/// unix seconds of the app's clock: for [`image_store::TRUST_SECONDS`] after that, a repeated image
/// (a popular prompt, a retry) needs no database work at all to be known stored. Bounded: when
/// full, it is cleared.
#[derive(Default)]
pub struct StoredBlobs(std::sync::RwLock<std::collections::HashMap<String, i64>>);

/// Ids kept (about 100 bytes each).
const STORED_BLOBS_CAPACITY: usize = 20_000;

impl StoredBlobs {
    /// The ids not touched within [`image_store::TRUST_SECONDS`] of `now`.
    fn unknown(&self, ids: &[String], now: i64) -> Vec<String> {
        let known = self.0.read().unwrap_or_else(|e| e.into_inner());
        ids.iter()
            .filter(|id| known.get(*id).is_none_or(|touched| *touched <= now - image_store::TRUST_SECONDS))
            .cloned()
            .collect()
    }

    /// Notes that these ids were touched at `touched` (call only once they are).
    fn remember(&self, ids: &[String], touched: i64) {
        let mut known = self.0.write().unwrap_or_else(|e| e.into_inner());
        if known.len() + ids.len() > STORED_BLOBS_CAPACITY {
            known.clear();
        }
        for id in ids {
            known.insert(id.clone(), touched);
        }
    }
}

/// What the caller asked for, already typed.
pub struct GenerateCommand {
    pub model: String,
    pub prompt: Prompt,
    pub size: Option<String>,
    pub quality: Quality,
    pub n: ImageCount,
    pub response_format: ResponseFormat,
}

/// Who asked for what.
struct Asked {
    account: AccountId,
    key: Option<ApiKeyId>,
    user: UserId,
    command: GenerateCommand,
}

impl Asked {
    fn request(&self) -> GenerationRequest<'_> {
        let c = &self.command;
        GenerationRequest {
            account_id: &self.account,
            api_key_id: self.key.as_ref(),
            user_id: Some(&self.user),
            model: &c.model,
            prompt: &c.prompt,
            size: c.size.as_deref(),
            quality: c.quality,
            n: c.n,
            response_format: c.response_format,
        }
    }
}

/// A hold to reserve, waiting in the write queue.
struct Reserve {
    asked: Arc<Asked>,
    prepared: Prepared,
    hold_expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
}

impl Reserve {
    fn reservation(&self) -> Reservation<'_> {
        Reservation {
            request: self.asked.request(),
            prepared: &self.prepared,
            hold_expires_at: self.hold_expires_at,
            now: self.now,
        }
    }
}

impl SetWork for Reserve {
    type Output = (Generation, Hold);

    fn run_one(&self, conn: &mut DbConn) -> apinfer_core::Result<Self::Output> {
        generating::reserve(conn, &self.reservation())
    }

    fn run_set(items: &[&Self], conn: &mut DbConn) -> apinfer_core::Result<Vec<apinfer_core::Result<Self::Output>>> {
        let reservations: Vec<Reservation<'_>> = items.iter().map(|item| item.reservation()).collect();
        generating::reserve_set(conn, &reservations)
    }
}

/// A delivered generation to capture, waiting in the write queue; its images' bytes are
/// stored already.
struct Deliver {
    generation: Generation,
    hold: Hold,
    /// Content type, width and height of each image.
    shown: Vec<(String, u32, u32)>,
    blob_ids: Vec<String>,
    now: DateTime<Utc>,
}

impl Deliver {
    fn images(&self) -> Vec<NewImage<'_>> {
        self.shown
            .iter()
            .zip(&self.blob_ids)
            .map(|((content_type, width, height), blob_id)| NewImage {
                content_type,
                width: *width,
                height: *height,
                blob_id,
            })
            .collect()
    }

    fn capture<'a>(&'a self, images: &'a [NewImage<'a>]) -> Capture<'a> {
        Capture { generation: &self.generation, hold: &self.hold, images, now: self.now }
    }
}

impl SetWork for Deliver {
    type Output = Captured;

    fn run_one(&self, conn: &mut DbConn) -> apinfer_core::Result<Captured> {
        let images = self.images();
        generating::capture(conn, &self.capture(&images))
    }

    fn run_set(items: &[&Self], conn: &mut DbConn) -> apinfer_core::Result<Vec<apinfer_core::Result<Captured>>> {
        let images: Vec<Vec<NewImage<'_>>> = items.iter().map(|item| item.images()).collect();
        let captures: Vec<Capture<'_>> = items.iter().zip(&images).map(|(item, images)| item.capture(images)).collect();
        Ok(generating::capture_set(conn, &captures)?.into_iter().map(Ok).collect())
    }
}

/// Prices, reserves, renders, and captures or releases. Returns the succeeded generation and
/// its images' bytes; a provider failure is a 502 `upstream_error` naming the generation,
/// which was not charged.
pub async fn generate(
    state: &AppState,
    caller: &Caller,
    command: GenerateCommand,
) -> Result<(Generation, Vec<Vec<u8>>), ApiError> {
    let now = state.now();
    let hold_expires_at = now + chrono::Duration::seconds(state.config.hold_timeout_seconds as i64);
    let asked = Arc::new(Asked {
        account: caller.account_id.clone(),
        key: caller.api_key_id().cloned(),
        user: caller.user_id.clone(),
        command,
    });
    // Validating and pricing only read, so they stay out of the write queue (and a bad request
    // never waits for it).
    let prepared = {
        let asked = Arc::clone(&asked);
        state.read(move |conn| generating::prepare(conn, &asked.request())).await?
    };
    let account = asked.account.to_string();
    let (generation, hold) = state.writes.run_set(&account, Reserve { asked, prepared, hold_expires_at, now }).await?;
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
            let (images, blob_ids) = store_images(state, images).await?;
            let shown: Vec<(String, u32, u32)> =
                images.iter().map(|i| (i.content_type.clone(), i.width, i.height)).collect();
            let bytes: Vec<Vec<u8>> = images.into_iter().map(|i| i.bytes).collect();
            let now = state.now();
            let captured = state.writes.run_set(&account, Deliver { generation, hold, shown, blob_ids, now }).await?;
            match captured {
                Captured::Succeeded(generation) => Ok((*generation, bytes)),
                Captured::HoldExpired { message } => {
                    Err(ApiError::from(apinfer_core::Error::conflict("hold_expired", message)))
                }
            }
        }
        Err(error) => {
            tracing::warn!(generation = %generation.id, provider = provider.kind(), error = %error, "provider failed");
            let now = state.now();
            let message = error.to_string();
            let id = generation.id.to_string();
            let failed = state
                .writes
                .run(&account, move |conn| generating::release(conn, &generation, "upstream_error", &message, now))
                .await?;
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
    if !stale.is_empty() {
        // Collected meanwhile (they were unreferenced): stored again below.
        missing.extend(state.db(move |conn| image_store::touch(conn, &stale, now)).await?);
    }
    let images = if missing.is_empty() {
        images
    } else {
        let ids = blob_ids.clone();
        state
            .db(move |conn| {
                let blobs: Vec<(&str, &[u8])> = ids
                    .iter()
                    .zip(&images)
                    .filter(|(id, _)| missing.contains(id))
                    .map(|(id, i)| (id.as_str(), i.bytes.as_slice()))
                    .collect();
                image_store::store(conn, &blobs, now)?;
                Ok(images)
            })
            .await?
    };
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
