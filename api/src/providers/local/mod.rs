//! The local provider: deterministic procedural landscapes rendered on this machine, with no network
//! and no model. Useful for development, tests, demos and load tests.
//!
//! Each image is a small scene (sky gradient, sun or moon with a glow, stars at night, a few layers of
//! mountains) whose every parameter comes from a SHA-256 hash of the prompt and the image index. Only
//! correctly rounded IEEE float operations are used (arithmetic and `sqrt`; no `sin`, `powf`, ...), so
//! the bytes are the same on every platform, and the pseudo-random sequence is hand-rolled so that no
//! dependency upgrade can change them.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use prometheus_client::metrics::counter::Counter;
use sha2::{Digest, Sha256};

mod scene;

pub use scene::Detail;

/// How much detail the local provider draws for a model: the built-in catalog's local models of
/// the basic and premium tiers (migration 000014) draw less and more than every other model.
pub fn detail_of(model: &str) -> Detail {
    match model {
        "scene-sketch" => Detail::Sketch,
        "scene-vista" => Detail::Vista,
        _ => Detail::Scene,
    }
}

use super::{check_request, GeneratedImage, ImageProvider, ImageRequest, ProviderError, ProviderFuture};

/// Renders deterministic procedural PNG landscapes locally: the same prompt and image index always
/// give byte-identical images, different prompts give visibly different ones.
#[derive(Debug)]
pub struct LocalProvider {
    cache: RenderCache,
    /// Renders under way, by image: a request for an image already being rendered waits for
    /// that render instead of queueing one of its own. A new prompt that many clients ask for at
    /// once (a popular one, a load test's first second) is rendered once, not once per request
    /// queued behind the cores, which made the first such requests wait seconds.
    in_flight: Mutex<HashMap<RenderKey, Arc<tokio::sync::OnceCell<Rendered>>>>,
    /// Images rendered (not served from the cache or another request's render): the counter
    /// `/metrics` shows as `apinfer_local_renders_total`.
    renders: Counter,
    /// A permit per render running: one per core at most (see `AppState::cpu_work`).
    cpu_gate: Arc<tokio::sync::Semaphore>,
}

impl Default for LocalProvider {
    /// A provider with a 16 MiB render cache, rendering on as many threads as cores.
    fn default() -> Self {
        LocalProvider::with_cache_bytes(16 << 20)
    }
}

impl ImageProvider for LocalProvider {
    fn kind(&self) -> &'static str {
        "local"
    }

    fn generate<'a>(&'a self, request: &'a ImageRequest) -> ProviderFuture<'a> {
        Box::pin(self.render_all(request))
    }
}

impl LocalProvider {
    /// A provider whose cache of recent images holds at most `cache_bytes` of them, and which
    /// renders only with a permit of `cpu_gate`: renders beyond the cores would not finish
    /// sooner, and each holds its pixels meanwhile (64 at once took ~600 MB under `bench/run`).
    pub fn new(cache_bytes: usize, cpu_gate: Arc<tokio::sync::Semaphore>) -> Self {
        let cache = RenderCache { capacity: cache_bytes, state: Mutex::default() };
        LocalProvider { cache, in_flight: Mutex::default(), renders: Counter::default(), cpu_gate }
    }

    /// [`LocalProvider::new`] with a gate of its own.
    pub fn with_cache_bytes(cache_bytes: usize) -> Self {
        LocalProvider::new(cache_bytes, super::cpu_gate())
    }

    /// Images rendered so far (each at most once while it is being rendered); clones share it.
    pub fn renders(&self) -> &Counter {
        &self.renders
    }

    /// Bytes of images the render cache holds now (at most its capacity).
    pub fn cached_bytes(&self) -> usize {
        self.cache.state.lock().unwrap_or_else(|e| e.into_inner()).bytes
    }

    /// Renders the `n` images of `request`, each on tokio's blocking pool (rendering is CPU work
    /// that must not stall the async executor), in parallel where cores allow; images rendered
    /// recently come from the cache, and images being rendered from that render.
    async fn render_all(&self, request: &ImageRequest) -> Result<Vec<GeneratedImage>, ProviderError> {
        check_request(request)?;
        let prompt: Arc<str> = Arc::from(request.prompt.as_str());
        let (width, height) = (request.width, request.height);
        let detail = detail_of(&request.model);
        let images = (0..request.n).map(|index| self.image(Arc::clone(&prompt), index, width, height, detail));
        let images = futures_util::future::try_join_all(images).await?;
        Ok(images
            .into_iter()
            .map(|rendered| GeneratedImage {
                bytes: rendered.bytes.to_vec(),
                content_type: "image/png".to_string(),
                width,
                height,
                sha256: Some(rendered.sha256),
            })
            .collect())
    }

    /// One image: from the cache, from the render of it already under way, or rendered now
    /// (with a permit of the CPU gate) and cached.
    async fn image(
        &self,
        prompt: Arc<str>,
        index: u32,
        width: u32,
        height: u32,
        detail: Detail,
    ) -> Result<Rendered, ProviderError> {
        let key = RenderKey::new(&prompt, index, width, height, detail);
        if let Some(rendered) = self.cache.get(&key) {
            return Ok(rendered);
        }
        let flight = Arc::clone(self.in_flight.lock().unwrap_or_else(|e| e.into_inner()).entry(key).or_default());
        let rendered = flight
            .get_or_try_init(|| async {
                // Rendered and cached by a flight that ended just before this one began.
                if let Some(rendered) = self.cache.get(&key) {
                    return Ok(rendered);
                }
                let turn = Arc::clone(&self.cpu_gate)
                    .acquire_owned()
                    .await
                    .map_err(|err| local_failure(format!("render queue closed: {err}")))?;
                let render = tokio::task::spawn_blocking(move || {
                    let png = render_png(&prompt, index, width, height, detail);
                    drop(turn);
                    png
                });
                let bytes = render.await.map_err(|err| local_failure(format!("render task failed: {err}")))??;
                self.renders.inc();
                let rendered = Rendered { sha256: Sha256::digest(&bytes).into(), bytes: Arc::from(bytes) };
                self.cache.put(key, rendered.clone());
                Ok(rendered)
            })
            .await
            .cloned();
        // The flight is over (a failed one is tried again by whoever asks next).
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        if in_flight.get(&key).is_some_and(|current| Arc::ptr_eq(current, &flight)) {
            in_flight.remove(&key);
        }
        rendered
    }
}

/// What determines an image's bytes: SHA-256 of the prompt, the index, the size and the detail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct RenderKey([u8; 32]);

impl RenderKey {
    fn new(prompt: &str, index: u32, width: u32, height: u32, detail: Detail) -> Self {
        let digest = Sha256::new()
            .chain_update(b"apinfer-local-cache-v1\0")
            .chain_update((prompt.len() as u64).to_le_bytes())
            .chain_update(prompt.as_bytes())
            .chain_update(index.to_le_bytes())
            .chain_update(width.to_le_bytes())
            .chain_update(height.to_le_bytes())
            .chain_update([detail as u8])
            .finalize();
        RenderKey(digest.into())
    }
}

/// A rendered image's bytes and their SHA-256 (its content address, kept so that a cached image
/// is not hashed again).
#[derive(Clone, Debug)]
struct Rendered {
    bytes: Arc<[u8]>,
    sha256: [u8; 32],
}

/// Recently rendered images, at most `capacity` bytes of them (oldest dropped first).
/// Rendering is deterministic, so a repeated request (a retry, the same prompt from many users,
/// a load test) gets from here exactly the bytes a new render would give, without spending the
/// CPU again.
#[derive(Debug)]
struct RenderCache {
    capacity: usize,
    state: Mutex<CacheState>,
}

#[derive(Debug, Default)]
struct CacheState {
    images: HashMap<RenderKey, Rendered>,
    /// Insertion order, for eviction.
    order: VecDeque<RenderKey>,
    bytes: usize,
}

impl RenderCache {
    fn get(&self, key: &RenderKey) -> Option<Rendered> {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).images.get(key).cloned()
    }

    fn put(&self, key: RenderKey, rendered: Rendered) {
        if rendered.bytes.len() > self.capacity / 4 {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let size = rendered.bytes.len();
        if state.images.insert(key, rendered).is_some() {
            return;
        }
        state.order.push_back(key);
        state.bytes += size;
        while state.bytes > self.capacity {
            let Some(oldest) = state.order.pop_front() else { break };
            if let Some(evicted) = state.images.remove(&oldest) {
                state.bytes -= evicted.bytes.len();
            }
        }
    }
}

/// Renders image number `index` for `prompt` as an RGB 8-bit PNG of exactly `width` x `height`.
fn render_png(prompt: &str, index: u32, width: u32, height: u32, detail: Detail) -> Result<Vec<u8>, ProviderError> {
    scene::render_png(prompt, index, width, height, detail)
        .map_err(|err| local_failure(format!("PNG encoding failed: {err}")))
}

/// The local provider has no upstream, so its rare failures are reported without a status.
fn local_failure(message: String) -> ProviderError {
    ProviderError::Upstream { status: None, message: format!("local renderer: {message}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes a PNG fully (checking CRCs and the zlib stream), returning its header info and pixels.
    #[tokio::test]
    async fn the_local_models_draw_at_increasing_detail() {
        assert_eq!(detail_of("qwen-image"), Detail::Scene);
        let provider = LocalProvider::default();
        let mut sizes = Vec::new();
        for model in ["scene-sketch", "scene-studio", "scene-vista"] {
            let mut request = request("a harbour at dawn", 512, 512, 1);
            request.model = model.into();
            let image = provider.generate(&request).await.unwrap().remove(0);
            let (_, pixels) = decode(&image.bytes);
            // More ranges and finer ridges: more distinct row-to-row changes to compress.
            sizes.push((model, image.bytes.len(), pixels.len()));
        }
        assert!(sizes[0].1 < sizes[1].1 && sizes[1].1 < sizes[2].1, "PNG sizes by detail: {sizes:?}");
    }

    fn decode(bytes: &[u8]) -> (png::OutputInfo, Vec<u8>) {
        let mut reader = png::Decoder::new(bytes).read_info().expect("valid PNG header");
        let mut pixels = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut pixels).expect("valid PNG data");
        pixels.truncate(info.buffer_size());
        (info, pixels)
    }

    fn request(prompt: &str, width: u32, height: u32, n: u32) -> ImageRequest {
        ImageRequest { model: "qwen-image".into(), prompt: prompt.into(), width, height, quality: "standard".into(), n }
    }

    #[test]
    fn renders_exact_size_as_rgb8() {
        for (width, height) in [(64, 64), (1024, 1024), (640, 360), (360, 640), (1, 1), (3, 200)] {
            let bytes = render_png("a lighthouse at dusk", 0, width, height, Detail::Scene).unwrap();
            let (info, pixels) = decode(&bytes);
            assert_eq!((info.width, info.height), (width, height));
            assert_eq!(info.color_type, png::ColorType::Rgb);
            assert_eq!(info.bit_depth, png::BitDepth::Eight);
            assert_eq!(pixels.len(), (width * height * 3) as usize);
        }
    }

    #[test]
    fn same_prompt_and_index_give_identical_bytes() {
        let first = render_png("a red fox in snow", 3, 256, 192, Detail::Scene).unwrap();
        let second = render_png("a red fox in snow", 3, 256, 192, Detail::Scene).unwrap();
        assert_eq!(first, second);
    }

    #[test]
    fn different_prompts_or_indexes_give_visibly_different_images() {
        let (_, base) = decode(&render_png("a red fox in snow", 0, 128, 128, Detail::Scene).unwrap());
        for (prompt, index) in [("a red fox in snow!", 0), ("a blue whale", 0), ("a red fox in snow", 1)] {
            let (_, other) = decode(&render_png(prompt, index, 128, 128, Detail::Scene).unwrap());
            let differing = base.chunks_exact(3).zip(other.chunks_exact(3)).filter(|(a, b)| a != b).count();
            assert!(differing > 128 * 128 / 4, "{prompt:?}/{index}: only {differing} pixels differ");
        }
    }

    #[test]
    fn scenes_are_not_flat() {
        let (_, pixels) = decode(&render_png("mountains", 0, 200, 200, Detail::Scene).unwrap());
        let mut colors: Vec<&[u8]> = pixels.chunks_exact(3).collect();
        colors.sort_unstable();
        colors.dedup();
        assert!(colors.len() > 50, "only {} distinct colours", colors.len());
    }

    #[tokio::test]
    async fn generate_returns_n_valid_pngs() {
        let provider = LocalProvider::default();
        assert_eq!(provider.kind(), "local");
        let images = provider.generate(&request("a castle", 320, 240, 4)).await.unwrap();
        assert_eq!(images.len(), 4);
        for (index, image) in images.iter().enumerate() {
            assert_eq!(image.content_type, "image/png");
            assert_eq!((image.width, image.height), (320, 240));
            let (info, _) = decode(&image.bytes);
            assert_eq!((info.width, info.height), (320, 240));
            assert_eq!(image.bytes, render_png("a castle", index as u32, 320, 240, Detail::Scene).unwrap());
        }
        assert_ne!(images[0].bytes, images[1].bytes);
    }

    #[tokio::test]
    async fn generate_rejects_out_of_range_requests() {
        let err = LocalProvider::default().generate(&request("x", 10_000, 64, 1)).await.unwrap_err();
        assert!(matches!(err, ProviderError::Upstream { status: None, .. }));
    }

    #[tokio::test]
    async fn repeated_requests_come_from_the_cache_with_the_same_bytes() {
        let provider = LocalProvider::default();
        let first = provider.generate(&request("a cached castle", 96, 64, 2)).await.unwrap();
        let key = RenderKey::new("a cached castle", 1, 96, 64, Detail::Scene);
        let kept = provider.cache.get(&key).expect("rendered images are kept");
        assert_eq!(&*kept.bytes, first[1].bytes.as_slice());
        assert_eq!(kept.sha256, <[u8; 32]>::from(Sha256::digest(&first[1].bytes)), "with their SHA-256");
        assert_eq!(first[1].sha256, Some(kept.sha256));
        let again = provider.generate(&request("a cached castle", 96, 64, 2)).await.unwrap();
        assert_eq!(
            first.iter().map(|i| &i.bytes).collect::<Vec<_>>(),
            again.iter().map(|i| &i.bytes).collect::<Vec<_>>()
        );
        // Another size is another image.
        assert!(provider.cache.get(&RenderKey::new("a cached castle", 1, 64, 96, Detail::Scene)).is_none());
    }

    #[test]
    fn the_render_cache_stays_within_its_budget() {
        let provider = LocalProvider::with_cache_bytes(8 << 20);
        let cache = &provider.cache;
        let image: Arc<[u8]> = Arc::from(vec![7u8; 1 << 20]);
        for i in 0..100u32 {
            cache.put(
                RenderKey::new("p", i, 1, 1, Detail::Scene),
                Rendered { bytes: Arc::clone(&image), sha256: [0; 32] },
            );
        }
        assert_eq!(provider.cached_bytes(), 8 << 20, "full, and no fuller");
        // An image over a quarter of the budget is not kept at all.
        cache.put(
            RenderKey::new("big", 0, 1, 1, Detail::Scene),
            Rendered { bytes: Arc::from(vec![0u8; 3 << 20]), sha256: [0; 32] },
        );
        assert!(cache.get(&RenderKey::new("big", 0, 1, 1, Detail::Scene)).is_none());
        let state = cache.state.lock().unwrap();
        assert!(state.bytes <= 8 << 20, "{} bytes kept", state.bytes);
        assert_eq!(state.bytes, state.images.values().map(|r| r.bytes.len()).sum::<usize>());
        assert_eq!(state.images.len(), state.order.len());
        assert!(state.images.contains_key(&RenderKey::new("p", 99, 1, 1, Detail::Scene)), "the newest stays");
        assert!(!state.images.contains_key(&RenderKey::new("p", 0, 1, 1, Detail::Scene)), "the oldest went first");
    }

    /// Release-mode timing: `cargo test --release -- --ignored --nocapture render_timing`.
    #[test]
    #[ignore]
    fn render_timing() {
        for (width, height) in [(1024, 1024), (512, 512)] {
            let mut times: Vec<_> = (0..40)
                .map(|round| {
                    let started = std::time::Instant::now();
                    let bytes = render_png(&format!("timing prompt {round}"), 0, width, height, Detail::Scene).unwrap();
                    let elapsed = started.elapsed();
                    std::hint::black_box(bytes);
                    elapsed
                })
                .collect();
            times.sort_unstable();
            println!("{width}x{height}: median {:?}, fastest {:?} per PNG", times[times.len() / 2], times[0]);
        }
    }
}
