//! Image providers: the pieces that turn an [`ImageRequest`] into images.
//!
//! Two kinds exist: [`LocalProvider`] renders deterministic procedural PNGs on this machine (for
//! development, tests and demos), and [`OpenAiCompatibleProvider`] forwards the request to an upstream
//! service that speaks the OpenAI Images API.

mod local;
mod openai;

use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, UpstreamConfig};

/// What to render.
#[derive(Clone, Debug)]
pub struct ImageRequest {
    /// The apinfer model id (e.g. "qwen-image").
    pub model: String,
    /// The text the image should depict.
    pub prompt: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// "standard", "high" or "ultra".
    pub quality: String,
    /// 1..=10 images.
    pub n: u32,
}

/// One produced image.
#[derive(Clone, Debug)]
pub struct GeneratedImage {
    /// The encoded image.
    pub bytes: Vec<u8>,
    /// Always "image/png" from the local provider; from upstream whatever was detected ("image/png",
    /// "image/jpeg" or "image/webp" by magic bytes).
    pub content_type: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// SHA-256 of `bytes`, when the provider has it at hand (the local renderer keeps it with
    /// its cached images), so that it is not computed again.
    pub sha256: Option<[u8; 32]>,
}

/// Why a provider produced no images.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The upstream provider did not answer in time (after all retries).
    #[error("the upstream provider timed out")]
    Timeout,
    /// The upstream provider refused or failed the request; `status` is its HTTP status when it sent one.
    #[error("the upstream provider failed: {message}")]
    Upstream {
        /// The upstream HTTP status, if the failure came with one.
        status: Option<u16>,
        /// A human-readable reason (never contains credentials or image data).
        message: String,
    },
    /// The upstream provider answered, but with something that is not what the protocol promises.
    #[error("the upstream provider sent a malformed response: {0}")]
    Malformed(String),
}

/// The future returned by [`ImageProvider::generate`].
pub type ProviderFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<GeneratedImage>, ProviderError>> + Send + 'a>>;

/// Something that turns an ImageRequest into images.
pub trait ImageProvider: Send + Sync + 'static {
    /// "local" or "openai-compatible".
    fn kind(&self) -> &'static str;
    /// Produces exactly `request.n` images for `request`.
    fn generate<'a>(&'a self, request: &'a ImageRequest) -> ProviderFuture<'a>;
}

pub use local::LocalProvider;
pub use openai::{OpenAiCompatibleConfig, OpenAiCompatibleProvider};

/// Largest width or height a provider accepts (the catalog allows 64–4096).
const MAX_SIDE: u32 = 4096;
/// Largest number of images in one request.
const MAX_IMAGES: u32 = 10;

/// Defence in depth: the API validates requests before they reach a provider, but a provider must
/// never allocate gigabytes or loop for long because of a request that slipped through.
fn check_request(request: &ImageRequest) -> Result<(), ProviderError> {
    let invalid = |message: String| Err(ProviderError::Upstream { status: None, message });
    if !(1..=MAX_SIDE).contains(&request.width) || !(1..=MAX_SIDE).contains(&request.height) {
        return invalid(format!(
            "invalid request: size {}x{} is outside 1..={MAX_SIDE} per side",
            request.width, request.height
        ));
    }
    if !(1..=MAX_IMAGES).contains(&request.n) {
        return invalid(format!("invalid request: n = {} is outside 1..={MAX_IMAGES}", request.n));
    }
    Ok(())
}

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

    /// The count of images the local renderer has rendered (a clone sharing its value).
    pub fn local_renders(&self) -> prometheus_client::metrics::counter::Counter {
        self.local.renders().clone()
    }

    /// Bytes the local renderer's cache holds now.
    pub fn render_cache_bytes(&self) -> usize {
        self.local.cached_bytes()
    }
}

/// One permit per core: for CPU-heavy work (the local renderer, password hashes).
pub fn cpu_gate() -> Arc<tokio::sync::Semaphore> {
    Arc::new(tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(1, usize::from)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(width: u32, height: u32, n: u32) -> ImageRequest {
        ImageRequest { model: "m".into(), prompt: "p".into(), width, height, quality: "standard".into(), n }
    }

    #[test]
    fn check_request_accepts_the_catalog_range() {
        assert!(check_request(&request(64, 64, 1)).is_ok());
        assert!(check_request(&request(4096, 4096, 10)).is_ok());
    }

    #[test]
    fn check_request_rejects_absurd_requests() {
        for bad in [request(0, 64, 1), request(64, 5000, 1), request(64, 64, 0), request(64, 64, 11)] {
            assert!(matches!(check_request(&bad), Err(ProviderError::Upstream { status: None, .. })), "{bad:?}");
        }
    }
}
