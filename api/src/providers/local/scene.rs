//! The scene the local provider draws: a sky gradient, a sun or moon with a glow, stars at
//! night and a few layers of mountains, every parameter drawn from a SHA-256 hash of the prompt
//! and the image index, with only correctly rounded float operations (see the parent module).

use sha2::{Digest, Sha256};

/// How much a scene holds: the local models of the three tiers render the same prompt as a
/// sketch (two smooth ranges), a scene (three to five jagged ones) or a vista (six, finely
/// jagged). `Scene` is what the local provider always drew, and draws the same bytes still.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Detail {
    Sketch,
    Scene,
    Vista,
}

/// Renders image number `index` for `prompt` as an RGB 8-bit PNG of exactly `width` x `height`.
pub(super) fn render_png(
    prompt: &str,
    index: u32,
    width: u32,
    height: u32,
    detail: Detail,
) -> Result<Vec<u8>, png::EncodingError> {
    let mut rng = SplitMix64::from_prompt(prompt, index);
    let scene = Scene::new(&mut rng, width as usize, height as usize, detail);
    let pixels = scene.render();
    encode_png(&pixels, width, height)
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
const MAX_LAYERS: usize = 6;
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
    fn new(rng: &mut SplitMix64, width: usize, height: usize, detail: Detail) -> Self {
        let night = rng.unit() < 0.25;
        let hue = rng.range(0.0, 360.0);
        let (zenith, horizon) = sky_colors(rng, hue, night);
        let sky = sky_gradient(rng, zenith, horizon, height);
        let sun = make_sun(rng, hue, night, width, height);
        let layers = make_layers(rng, hue, horizon, width, height, detail);
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
            // At most MAX_LAYERS (6) ranges exist, so the index always fits in a u8.
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
fn make_layers(
    rng: &mut SplitMix64,
    hue: f32,
    horizon: Color,
    width: usize,
    height: usize,
    detail: Detail,
) -> Vec<Layer> {
    let count = match detail {
        Detail::Sketch => 2,
        Detail::Scene => rng.int(3, 5),
        Detail::Vista => MAX_LAYERS,
    };
    let rock_hue = hue + rng.range(120.0, 240.0);
    let near_color = hsv(rock_hue, rng.range(0.25, 0.6), rng.range(0.08, 0.22));
    let mut layers: Vec<Layer> = (0..count)
        .map(|index| {
            // From 1 / count for the farthest range up to 1 for the nearest.
            let depth = (index + 1) as f32 / count as f32;
            let top = lerp(horizon, near_color, 0.25 + 0.7 * depth);
            let bottom = lerp(top, [0.0; 3], 0.15 + 0.25 * depth);
            Layer {
                ridge: make_ridge(rng, depth, width, height, detail),
                shade: (0..height).map(|y| to_bytes(lerp(top, bottom, y as f32 / height as f32))).collect(),
            }
        })
        .collect();
    layers.reverse();
    layers
}

/// A jagged ridge line: a coarse random polyline (the peaks) plus smooth fine detail (none in a
/// sketch, three times as much in a vista).
fn make_ridge(rng: &mut SplitMix64, depth: f32, width: usize, height: usize, detail: Detail) -> Vec<u32> {
    let h = height as f32;
    let base = h * (0.5 + 0.38 * depth + rng.range(-0.04, 0.04));
    let amplitude = h * rng.range(0.08, 0.2) * (0.6 + 0.5 * depth);
    let peaks: Vec<f32> = (0..rng.int(5, 9) + 2 * (depth * 4.0) as usize).map(|_| rng.unit()).collect();
    let points = match detail {
        Detail::Sketch => 0,
        Detail::Scene => rng.int(30, 60),
        Detail::Vista => 3 * rng.int(30, 60),
    };
    let wobbles: Vec<f32> = (0..points).map(|_| rng.range(-1.0, 1.0)).collect();
    let coarse = sample_polyline(&peaks, width, false);
    let fine = sample_polyline(&wobbles, width, true);
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
