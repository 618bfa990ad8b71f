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

use sha2::{Digest, Sha256};

use super::{check_request, GeneratedImage, ImageProvider, ImageRequest, ProviderError, ProviderFuture};

/// Renders deterministic procedural PNG landscapes locally: the same prompt and image index always
/// give byte-identical images, different prompts give visibly different ones.
#[derive(Debug)]
pub struct LocalProvider {
    cache: RenderCache,
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
        LocalProvider { cache: RenderCache { capacity: cache_bytes, state: Mutex::default() }, cpu_gate }
    }

    /// [`LocalProvider::new`] with a gate of its own.
    pub fn with_cache_bytes(cache_bytes: usize) -> Self {
        LocalProvider::new(cache_bytes, crate::state::cpu_gate())
    }

    /// Bytes of images the render cache holds now (at most its capacity).
    pub fn cached_bytes(&self) -> usize {
        self.cache.state.lock().unwrap_or_else(|e| e.into_inner()).bytes
    }

    /// Renders the `n` images of `request`, each on tokio's blocking pool (rendering is CPU work
    /// that must not stall the async executor), in parallel where cores allow; images rendered
    /// recently come from the cache.
    async fn render_all(&self, request: &ImageRequest) -> Result<Vec<GeneratedImage>, ProviderError> {
        check_request(request)?;
        let prompt: Arc<str> = Arc::from(request.prompt.as_str());
        let (width, height) = (request.width, request.height);
        let mut tasks = Vec::with_capacity(request.n as usize);
        for index in 0..request.n {
            let key = RenderKey::new(&prompt, index, width, height);
            tasks.push(match self.cache.get(&key) {
                Some(rendered) => Rendering::Cached(rendered),
                None => {
                    let prompt = Arc::clone(&prompt);
                    let turn = Arc::clone(&self.cpu_gate)
                        .acquire_owned()
                        .await
                        .map_err(|err| local_failure(format!("render queue closed: {err}")))?;
                    Rendering::Started(
                        key,
                        tokio::task::spawn_blocking(move || {
                            let png = render_png(&prompt, index, width, height);
                            drop(turn);
                            png
                        }),
                    )
                }
            });
        }
        let mut images = Vec::with_capacity(tasks.len());
        for task in tasks {
            let rendered = match task {
                Rendering::Cached(rendered) => rendered,
                Rendering::Started(key, task) => {
                    let bytes = task.await.map_err(|err| local_failure(format!("render task failed: {err}")))??;
                    let rendered = Rendered { sha256: Sha256::digest(&bytes).into(), bytes: Arc::from(bytes) };
                    self.cache.put(key, rendered.clone());
                    rendered
                }
            };
            images.push(GeneratedImage {
                bytes: rendered.bytes.to_vec(),
                content_type: "image/png".to_string(),
                width,
                height,
                sha256: Some(rendered.sha256),
            });
        }
        Ok(images)
    }
}

/// One image of a request: from the cache, or being rendered.
enum Rendering {
    Cached(Rendered),
    Started(RenderKey, tokio::task::JoinHandle<Result<Vec<u8>, ProviderError>>),
}

/// What determines an image's bytes: SHA-256 of the prompt, the index and the size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct RenderKey([u8; 32]);

impl RenderKey {
    fn new(prompt: &str, index: u32, width: u32, height: u32) -> Self {
        let digest = Sha256::new()
            .chain_update(b"apinfer-local-cache-v1\0")
            .chain_update((prompt.len() as u64).to_le_bytes())
            .chain_update(prompt.as_bytes())
            .chain_update(index.to_le_bytes())
            .chain_update(width.to_le_bytes())
            .chain_update(height.to_le_bytes())
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
fn render_png(prompt: &str, index: u32, width: u32, height: u32) -> Result<Vec<u8>, ProviderError> {
    let mut rng = SplitMix64::from_prompt(prompt, index);
    let scene = Scene::new(&mut rng, width as usize, height as usize);
    let pixels = scene.render();
    encode_png(&pixels, width, height).map_err(|err| local_failure(format!("PNG encoding failed: {err}")))
}

/// The local provider has no upstream, so its rare failures are reported without a status.
fn local_failure(message: String) -> ProviderError {
    ProviderError::Upstream { status: None, message: format!("local renderer: {message}") }
}

/// Encodes tightly packed RGB rows as a PNG, tuned for speed: fdeflate ("fast") compression and the
/// `Sub` filter, which turns the scene's long horizontal runs into zeros.
fn encode_png(pixels: &[u8], width: u32, height: u32) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::with_capacity(pixels.len() / 8);
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    encoder.set_filter(png::FilterType::Sub);
    encoder.set_adaptive_filter(png::AdaptiveFilterType::NonAdaptive);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(pixels)?;
    writer.finish()?;
    Ok(out)
}

/// A colour with channels in `0.0..=1.0`.
type Color = [f32; 3];

/// SplitMix64: a tiny, well-mixed pseudo-random sequence. Hand-rolled rather than taken from `rand`
/// so that images stay byte-identical whatever `rand` version the build resolves to.
struct SplitMix64(u64);

impl SplitMix64 {
    /// Seeds the sequence from SHA-256(domain tag, prompt, index).
    fn from_prompt(prompt: &str, index: u32) -> Self {
        let digest = Sha256::new()
            .chain_update(b"apinfer-local-v1\0")
            .chain_update(prompt.as_bytes())
            .chain_update(index.to_le_bytes())
            .finalize();
        let seed = digest.chunks_exact(8).fold(0u64, |acc, chunk| {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            acc.rotate_left(17) ^ u64::from_le_bytes(word)
        });
        Self(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.0)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in `[low, high)`.
    fn range(&mut self, low: f32, high: f32) -> f32 {
        low + (high - low) * self.unit()
    }

    /// Uniform integer in `low..=high`.
    fn int(&mut self, low: usize, high: usize) -> usize {
        low + (self.next_u64() % (high - low + 1) as u64) as usize
    }
}

/// SplitMix64's finaliser: a bijective avalanche mix of 64 bits.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The sun (or, at night, the moon) and its glow, with the constants its per-pixel shading needs.
struct Sun {
    center_x: f32,
    center_y: f32,
    radius: f32,
    /// Squared distance within which pixels are wholly inside the disc.
    inner_squared: f32,
    /// Squared distance beyond which pixels are wholly outside the disc.
    outer_squared: f32,
    /// Squared distance at which the glow fades out.
    glow_squared: f32,
    /// `1 / (glow_squared - radius^2)`.
    inverse_glow_span: f32,
    /// Strength of the glow next to the disc, `0.0..=1.0`.
    glow_strength: f32,
    /// Squared distance beyond which the glow rounds to nothing in 8-bit colour.
    reach_squared: f32,
    color: [u8; 3],
}

impl Sun {
    fn new(center: (f32, f32), radius: f32, glow_radius: f32, glow_strength: f32, color: Color) -> Self {
        let glow_squared = glow_radius * glow_radius;
        let inner = (radius - 0.5).max(0.0);
        let outer = radius + 0.5;
        // `weight` gives the glow t^4 * strength (t = 1 at the disc, 0 at glow_radius, linear in d^2); it
        // rounds to nothing below half a 1/256 step, so pixels beyond that distance are left alone.
        let faint_t = (1.0 / (512.0 * glow_strength)).sqrt().sqrt().min(1.0);
        let reach_squared = (glow_squared - faint_t * (glow_squared - radius * radius)).max(outer * outer);
        Self {
            center_x: center.0,
            center_y: center.1,
            radius,
            inner_squared: inner * inner,
            outer_squared: outer * outer,
            glow_squared,
            inverse_glow_span: 1.0 / (glow_squared - radius * radius),
            glow_strength,
            reach_squared,
            color: to_bytes(color),
        }
    }

    /// The columns `start..end` of row `y` that the disc or its glow touch (empty when none).
    fn span(&self, y: usize, width: usize) -> (usize, usize) {
        let dy = y as f32 + 0.5 - self.center_y;
        let reach = self.reach_squared - dy * dy;
        if reach <= 0.0 {
            return (0, 0);
        }
        let half = reach.sqrt();
        let start = (self.center_x - half).floor().max(0.0) as usize;
        let end = ((self.center_x + half).ceil().max(0.0) as usize).min(width);
        (start.min(end), end)
    }

    /// Paints the disc and glow over `pixels`, consecutive RGB pixels of row `y` from column `first`, on
    /// a sky of colour `sky`. Cheap enough for the hundreds of thousands of pixels a large glow covers:
    /// constants precomputed, no division, a square root only on the disc's edge, integer blending.
    fn paint(&self, pixels: &mut [u8], first: usize, y: usize, sky: [u8; 3]) {
        let dy = y as f32 + 0.5 - self.center_y;
        let dy_squared = dy * dy;
        for (x, pixel) in (first..).zip(pixels.chunks_exact_mut(3)) {
            let dx = x as f32 + 0.5 - self.center_x;
            let distance_squared = dx * dx + dy_squared;
            let color = if distance_squared <= self.inner_squared {
                self.color
            } else {
                blend(sky, self.color, self.weight(distance_squared))
            };
            pixel.copy_from_slice(&color);
        }
    }

    /// How much of the sun's colour shows at squared distance `distance_squared` from its centre, in
    /// 256ths: the glow, plus the anti-aliased coverage of the disc's edge.
    fn weight(&self, distance_squared: f32) -> u16 {
        if distance_squared >= self.reach_squared {
            return 0;
        }
        // Falls off like ((G - d) / (G - r))^2 near the disc, computed from d^2 alone.
        let t = ((self.glow_squared - distance_squared) * self.inverse_glow_span).min(1.0);
        let t_squared = t * t;
        let glow = t_squared * t_squared * self.glow_strength;
        let coverage = if distance_squared < self.outer_squared {
            (self.radius - distance_squared.sqrt() + 0.5).clamp(0.0, 1.0)
        } else {
            0.0
        };
        // In 0.0..=256.5, so the (saturating) conversion gives 0..=256.
        ((glow + (1.0 - glow) * coverage) * 256.0 + 0.5) as u16
    }
}

/// Fills an RGB run with `color`, doubling the filled part with `copy_within` so that a long run costs
/// a few `memcpy` calls rather than one 3-byte store per pixel.
fn fill(run: &mut [u8], color: [u8; 3]) {
    if run.len() < 3 {
        return;
    }
    run[..3].copy_from_slice(&color);
    let mut filled = 3;
    while filled < run.len() {
        let chunk = filled.min(run.len() - filled);
        run.copy_within(..chunk, filled);
        filled += chunk;
    }
}

/// Sets pixel `index` of an RGB run.
fn set_pixel(run: &mut [u8], index: usize, color: [u8; 3]) {
    run[index * 3..index * 3 + 3].copy_from_slice(&color);
}

/// `a` blended towards `b` by `weight / 256`, in integers.
fn blend(a: [u8; 3], b: [u8; 3], weight: u16) -> [u8; 3] {
    let mix = |a: u8, b: u8| ((u16::from(a) * (256 - weight) + u16::from(b) * weight + 128) >> 8) as u8;
    [mix(a[0], b[0]), mix(a[1], b[1]), mix(a[2], b[2])]
}

/// One mountain range: its ridge line and its colour down the image.
struct Layer {
    /// For each column, the first row that belongs to the range.
    ridge: Vec<u32>,
    /// For each row, the range's colour there (darker further down).
    shade: Vec<[u8; 3]>,
}

/// Everything needed to paint one image, derived from the seed.
struct Scene {
    width: usize,
    height: usize,
    /// Sky colour of each row, before the sun and stars.
    sky: Vec<Color>,
    sun: Sun,
    /// Mountain ranges, nearest first (at most [`MAX_LAYERS`]).
    layers: Vec<Layer>,
    /// Seed of the star field, at night only.
    stars: Option<u64>,
}

/// Most mountain ranges in a scene.
const MAX_LAYERS: usize = 5;
/// What [`Column::visible`] holds when the sky shows; layer `i` is `i + 1`.
const SKY: u8 = 0;

/// Going down one column: what shows there now, and the row from which a nearer range takes over.
/// Nearer ranges always hide farther ones, so this changes at most once per range: the renderer keeps
/// one cursor per column instead of testing every range at every pixel.
#[derive(Clone, Copy)]
struct Column {
    /// [`SKY`], or `i + 1` for `layers[i]`.
    visible: u8,
    /// First row at which `visible` must be recomputed.
    next_change: u32,
}

impl Scene {
    fn new(rng: &mut SplitMix64, width: usize, height: usize) -> Self {
        let night = rng.unit() < 0.25;
        let hue = rng.range(0.0, 360.0);
        let (zenith, horizon) = sky_colors(rng, hue, night);
        let sky = sky_gradient(rng, zenith, horizon, height);
        let sun = make_sun(rng, hue, night, width, height);
        let layers = make_layers(rng, hue, horizon, width, height);
        let stars = night.then(|| rng.next_u64());
        Self { width, height, sky, sun, layers, stars }
    }

    /// Paints the scene into tightly packed RGB rows.
    fn render(&self) -> Vec<u8> {
        let stride = self.width * 3;
        let mut pixels = vec![0u8; stride * self.height];
        if stride == 0 {
            return pixels;
        }
        let mut columns: Vec<Column> = (0..self.width).map(|x| self.column_at(x, 0)).collect();
        for (y, row) in pixels.chunks_exact_mut(stride).enumerate() {
            self.advance_columns(y as u32, &mut columns);
            self.render_row(y, row, &columns);
        }
        pixels
    }

    /// What shows at row `y` of column `x`: the nearest range whose ridge is at or above `y`, else sky;
    /// it changes next where the ridge of a nearer range (all of them lie below `y`) begins.
    fn column_at(&self, x: usize, y: u32) -> Column {
        let nearest = self.layers.iter().position(|layer| layer.ridge[x] <= y);
        let nearer = &self.layers[..nearest.unwrap_or(self.layers.len())];
        Column {
            // At most MAX_LAYERS (5) ranges exist, so the index always fits in a u8.
            visible: nearest.map_or(SKY, |index| index as u8 + 1),
            next_change: nearer.iter().map(|layer| layer.ridge[x]).min().unwrap_or(u32::MAX),
        }
    }

    /// Moves every column's cursor down to row `y`.
    fn advance_columns(&self, y: u32, columns: &mut [Column]) {
        for (x, column) in columns.iter_mut().enumerate() {
            if y >= column.next_change {
                *column = self.column_at(x, y);
            }
        }
    }

    /// Paints row `y` as runs of what `columns` says shows there: flat colour for mountains, sky with
    /// the sun and stars over it.
    fn render_row(&self, y: usize, row: &mut [u8], columns: &[Column]) {
        let sky = to_bytes(self.sky[y]);
        let mut palette = [sky; MAX_LAYERS + 1];
        for (slot, layer) in palette[1..].iter_mut().zip(&self.layers) {
            *slot = layer.shade[y];
        }
        let (sun_start, sun_end) = self.sun.span(y, self.width);
        let mut start = 0;
        while start < columns.len() {
            let visible = columns[start].visible;
            let end = columns[start..]
                .iter()
                .position(|column| column.visible != visible)
                .map_or(columns.len(), |run| start + run);
            if visible == SKY {
                self.paint_sky(y, &mut row[start * 3..end * 3], start, sky, sun_start..sun_end);
            } else {
                fill(&mut row[start * 3..end * 3], palette[usize::from(visible)]);
            }
            start = end;
        }
    }

    /// Paints a run of sky pixels of row `y` that starts at column `first`: the flat sky colour, then the
    /// sun's disc and glow over the columns of `sun`, then (at night) the stars elsewhere.
    fn paint_sky(&self, y: usize, run: &mut [u8], first: usize, sky: [u8; 3], sun: std::ops::Range<usize>) {
        fill(run, sky);
        let end = first + run.len() / 3;
        let lit = sun.start.max(first)..sun.end.min(end);
        if lit.start < lit.end {
            self.sun.paint(&mut run[(lit.start - first) * 3..(lit.end - first) * 3], lit.start, y, sky);
        }
        if self.stars.is_some() {
            for x in (first..end).filter(|x| !lit.contains(x)) {
                if let Some(star) = self.star_at(x, y) {
                    set_pixel(run, x - first, star);
                }
            }
        }
    }

    /// A star at (x, y), if the hash of the position says so (about one pixel in 1,500).
    fn star_at(&self, x: usize, y: usize) -> Option<[u8; 3]> {
        let seed = self.stars?;
        let hash = mix64(
            seed ^ (x as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (y as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F),
        );
        if !hash.is_multiple_of(1500) {
            return None;
        }
        let brightness = 150 + ((hash >> 40) % 106) as u8;
        Some([brightness, brightness, brightness.saturating_add(10)])
    }
}

/// Picks the zenith and horizon colours of the sky.
fn sky_colors(rng: &mut SplitMix64, hue: f32, night: bool) -> (Color, Color) {
    let horizon_hue = hue + rng.range(15.0, 70.0);
    if night {
        let zenith = hsv(hue, rng.range(0.5, 0.8), rng.range(0.06, 0.14));
        let horizon = hsv(horizon_hue, rng.range(0.3, 0.6), rng.range(0.25, 0.4));
        (zenith, horizon)
    } else {
        let zenith = hsv(hue, rng.range(0.45, 0.85), rng.range(0.4, 0.85));
        let horizon = hsv(horizon_hue, rng.range(0.15, 0.5), rng.range(0.85, 1.0));
        (zenith, horizon)
    }
}

/// The sky colour of each row: from the zenith down to the horizon, eased so most change happens low.
fn sky_gradient(rng: &mut SplitMix64, zenith: Color, horizon: Color, height: usize) -> Vec<Color> {
    let horizon_row = rng.range(0.55, 0.8) * height as f32;
    (0..height)
        .map(|y| {
            let t = ((y as f32 + 0.5) / horizon_row).min(1.0);
            lerp(zenith, horizon, t * t * (3.0 - 2.0 * t))
        })
        .collect()
}

/// Places the sun (or the moon at night) somewhere in the upper sky.
fn make_sun(rng: &mut SplitMix64, hue: f32, night: bool, width: usize, height: usize) -> Sun {
    let short_side = width.min(height) as f32;
    let radius = rng.range(0.04, 0.1) * short_side;
    let color = if night {
        hsv(rng.range(40.0, 220.0), rng.range(0.0, 0.15), rng.range(0.85, 0.98))
    } else {
        hsv(hue + 180.0 + rng.range(-40.0, 40.0), rng.range(0.15, 0.55), 1.0)
    };
    let center = (rng.range(0.15, 0.85) * width as f32, rng.range(0.12, 0.45) * height as f32);
    let glow_radius = radius * rng.range(2.2, 3.8);
    let glow_strength = if night { rng.range(0.15, 0.3) } else { rng.range(0.35, 0.7) };
    Sun::new(center, radius, glow_radius, glow_strength, color)
}

/// Builds 3 to 5 mountain ranges, nearest first: nearer ranges sit lower, rise higher and are darker;
/// farther ones fade into the horizon colour (aerial perspective).
fn make_layers(rng: &mut SplitMix64, hue: f32, horizon: Color, width: usize, height: usize) -> Vec<Layer> {
    let count = rng.int(3, MAX_LAYERS);
    let rock_hue = hue + rng.range(120.0, 240.0);
    let near_color = hsv(rock_hue, rng.range(0.25, 0.6), rng.range(0.08, 0.22));
    let mut layers: Vec<Layer> = (0..count)
        .map(|index| {
            // From 1 / count for the farthest range up to 1 for the nearest.
            let depth = (index + 1) as f32 / count as f32;
            let top = lerp(horizon, near_color, 0.25 + 0.7 * depth);
            let bottom = lerp(top, [0.0; 3], 0.15 + 0.25 * depth);
            Layer {
                ridge: make_ridge(rng, depth, width, height),
                shade: (0..height).map(|y| to_bytes(lerp(top, bottom, y as f32 / height as f32))).collect(),
            }
        })
        .collect();
    layers.reverse();
    layers
}

/// A jagged ridge line: a coarse random polyline (the peaks) plus smooth fine detail.
fn make_ridge(rng: &mut SplitMix64, depth: f32, width: usize, height: usize) -> Vec<u32> {
    let h = height as f32;
    let base = h * (0.5 + 0.38 * depth + rng.range(-0.04, 0.04));
    let amplitude = h * rng.range(0.08, 0.2) * (0.6 + 0.5 * depth);
    let peaks: Vec<f32> = (0..rng.int(5, 9) + 2 * (depth * 4.0) as usize).map(|_| rng.unit()).collect();
    let detail: Vec<f32> = (0..rng.int(30, 60)).map(|_| rng.range(-1.0, 1.0)).collect();
    let coarse = sample_polyline(&peaks, width, false);
    let fine = sample_polyline(&detail, width, true);
    coarse
        .iter()
        .zip(&fine)
        .map(|(peak, wobble)| (base - amplitude * (peak + 0.12 * wobble)).clamp(0.0, h) as u32)
        .collect()
}

/// Stretches `values` (evenly spaced control points) over `width` columns, interpolating linearly or,
/// when `smooth`, with a smoothstep ease.
fn sample_polyline(values: &[f32], width: usize, smooth: bool) -> Vec<f32> {
    let segments = values.len().saturating_sub(1);
    if segments == 0 {
        return vec![values.first().copied().unwrap_or(0.0); width];
    }
    let scale = segments as f32 / width.max(1) as f32;
    (0..width)
        .map(|x| {
            let position = (x as f32 + 0.5) * scale;
            let index = (position as usize).min(segments - 1);
            let mut t = position - index as f32;
            if smooth {
                t = t * t * (3.0 - 2.0 * t);
            }
            values[index] + (values[index + 1] - values[index]) * t
        })
        .collect()
}

/// Linear interpolation between two colours, `t` in `0.0..=1.0`.
fn lerp(a: Color, b: Color, t: f32) -> Color {
    [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t]
}

/// Converts hue (degrees, any value), saturation and value (`0.0..=1.0`) to RGB.
fn hsv(hue: f32, saturation: f32, value: f32) -> Color {
    let hue = hue.rem_euclid(360.0) / 60.0;
    let chroma = value * saturation;
    let x = chroma * (1.0 - ((hue % 2.0) - 1.0).abs());
    let (r, g, b) = match hue as u32 {
        0 => (chroma, x, 0.0),
        1 => (x, chroma, 0.0),
        2 => (0.0, chroma, x),
        3 => (0.0, x, chroma),
        4 => (x, 0.0, chroma),
        _ => (chroma, 0.0, x),
    };
    let m = value - chroma;
    [r + m, g + m, b + m]
}

/// Quantises a colour to 8 bits per channel (rounding, clamped).
fn to_bytes(color: Color) -> [u8; 3] {
    color.map(|channel| (channel * 255.0 + 0.5).clamp(0.0, 255.0) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes a PNG fully (checking CRCs and the zlib stream), returning its header info and pixels.
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
            let bytes = render_png("a lighthouse at dusk", 0, width, height).unwrap();
            let (info, pixels) = decode(&bytes);
            assert_eq!((info.width, info.height), (width, height));
            assert_eq!(info.color_type, png::ColorType::Rgb);
            assert_eq!(info.bit_depth, png::BitDepth::Eight);
            assert_eq!(pixels.len(), (width * height * 3) as usize);
        }
    }

    #[test]
    fn same_prompt_and_index_give_identical_bytes() {
        let first = render_png("a red fox in snow", 3, 256, 192).unwrap();
        let second = render_png("a red fox in snow", 3, 256, 192).unwrap();
        assert_eq!(first, second);
    }

    #[test]
    fn different_prompts_or_indexes_give_visibly_different_images() {
        let (_, base) = decode(&render_png("a red fox in snow", 0, 128, 128).unwrap());
        for (prompt, index) in [("a red fox in snow!", 0), ("a blue whale", 0), ("a red fox in snow", 1)] {
            let (_, other) = decode(&render_png(prompt, index, 128, 128).unwrap());
            let differing = base.chunks_exact(3).zip(other.chunks_exact(3)).filter(|(a, b)| a != b).count();
            assert!(differing > 128 * 128 / 4, "{prompt:?}/{index}: only {differing} pixels differ");
        }
    }

    #[test]
    fn scenes_are_not_flat() {
        let (_, pixels) = decode(&render_png("mountains", 0, 200, 200).unwrap());
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
            assert_eq!(image.bytes, render_png("a castle", index as u32, 320, 240).unwrap());
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
        let key = RenderKey::new("a cached castle", 1, 96, 64);
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
        assert!(provider.cache.get(&RenderKey::new("a cached castle", 1, 64, 96)).is_none());
    }

    #[test]
    fn the_render_cache_stays_within_its_budget() {
        let provider = LocalProvider::with_cache_bytes(8 << 20);
        let cache = &provider.cache;
        let image: Arc<[u8]> = Arc::from(vec![7u8; 1 << 20]);
        for i in 0..100u32 {
            cache.put(RenderKey::new("p", i, 1, 1), Rendered { bytes: Arc::clone(&image), sha256: [0; 32] });
        }
        assert_eq!(provider.cached_bytes(), 8 << 20, "full, and no fuller");
        // An image over a quarter of the budget is not kept at all.
        cache.put(RenderKey::new("big", 0, 1, 1), Rendered { bytes: Arc::from(vec![0u8; 3 << 20]), sha256: [0; 32] });
        assert!(cache.get(&RenderKey::new("big", 0, 1, 1)).is_none());
        let state = cache.state.lock().unwrap();
        assert!(state.bytes <= 8 << 20, "{} bytes kept", state.bytes);
        assert_eq!(state.bytes, state.images.values().map(|r| r.bytes.len()).sum::<usize>());
        assert_eq!(state.images.len(), state.order.len());
        assert!(state.images.contains_key(&RenderKey::new("p", 99, 1, 1)), "the newest stays");
        assert!(!state.images.contains_key(&RenderKey::new("p", 0, 1, 1)), "the oldest went first");
    }

    /// Release-mode timing: `cargo test --release -- --ignored --nocapture render_timing`.
    #[test]
    #[ignore]
    fn render_timing() {
        for (width, height) in [(1024, 1024), (512, 512)] {
            let mut times: Vec<_> = (0..40)
                .map(|round| {
                    let started = std::time::Instant::now();
                    let bytes = render_png(&format!("timing prompt {round}"), 0, width, height).unwrap();
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
