//! The OpenAI-compatible provider: forwards a request to an upstream service that speaks the OpenAI
//! Images API (`POST {base_url}/images/generations`), with timeouts, bounded retries (exponential
//! backoff with jitter, `Retry-After` honoured) and strict validation of what comes back.
//!
//! Neither the API key, nor download URLs (which may carry signed tokens), nor image data are ever
//! logged or put into error messages.

use std::future::Future;
use std::time::Duration;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use rand::Rng as _;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, RETRY_AFTER};
use reqwest::{RequestBuilder, Response, StatusCode, Url};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};

use super::{check_request, GeneratedImage, ImageProvider, ImageRequest, ProviderError, ProviderFuture};

/// Default number of retries after the first attempt.
const DEFAULT_MAX_RETRIES: u32 = 2;
/// Default base of the exponential backoff.
const DEFAULT_BACKOFF_BASE: Duration = Duration::from_millis(200);
/// Default time allowed to establish a connection.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time allowed for one whole attempt (image generation is slow).
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Longest backoff between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Longest `Retry-After` wait honoured; longer requests are cut to this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);
/// Largest generation response accepted (ten large base64 images fit).
const MAX_RESPONSE_BYTES: usize = 256 * 1024 * 1024;
/// Largest image accepted from a `url` item.
const MAX_DOWNLOAD_BYTES: usize = 64 * 1024 * 1024;
/// How much of an error response is read to find the upstream's message.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;
/// Longest upstream error message passed on.
const MAX_MESSAGE_CHARS: usize = 500;

/// Standard base64, tolerant of missing padding (some compatible servers strip it).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// How to reach an OpenAI-compatible upstream.
#[derive(Clone, Debug)]
pub struct OpenAiCompatibleConfig {
    /// e.g. `"https://api.example.com/v1"` (no trailing slash needed; handle both).
    pub base_url: String,
    /// Sent as `Authorization: Bearer <api_key>`.
    pub api_key: SecretString,
    /// The model name sent upstream; when None, the apinfer model id is sent.
    pub upstream_model: Option<String>,
    /// Time allowed to establish a connection.
    pub connect_timeout: Duration,
    /// Whole-request timeout for each attempt.
    pub request_timeout: Duration,
    /// Retries after the first attempt (default 2).
    pub max_retries: u32,
    /// Base of the exponential backoff (default 200 ms), with jitter; capped (e.g. 5 s).
    pub backoff_base: Duration,
}

impl OpenAiCompatibleConfig {
    /// A configuration with the defaults: 10 s to connect, 120 s per attempt, 2 retries, 200 ms backoff
    /// base, and the apinfer model id sent upstream.
    pub fn new(base_url: impl Into<String>, api_key: SecretString) -> Self {
        Self {
            base_url: base_url.into(),
            api_key,
            upstream_model: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            backoff_base: DEFAULT_BACKOFF_BASE,
        }
    }
}

/// Generates images through an upstream service that speaks the OpenAI Images API.
pub struct OpenAiCompatibleProvider {
    client: reqwest::Client,
    /// `{base_url}/images/generations`.
    endpoint: Url,
    /// `Bearer <api_key>`, marked sensitive so that it never shows in debug output.
    authorization: HeaderValue,
    upstream_model: Option<String>,
    max_retries: u32,
    backoff_base: Duration,
}

impl std::fmt::Debug for OpenAiCompatibleProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiCompatibleProvider")
            .field("endpoint", &self.endpoint.as_str())
            .field("upstream_model", &self.upstream_model)
            .field("max_retries", &self.max_retries)
            .field("backoff_base", &self.backoff_base)
            .finish_non_exhaustive()
    }
}

impl OpenAiCompatibleProvider {
    /// Checks the configuration and builds the HTTP client. Fails (as `Upstream` with no status) when the
    /// base URL is not an http(s) URL, the API key cannot be sent in a header, or the client cannot start.
    pub fn new(config: OpenAiCompatibleConfig) -> Result<Self, ProviderError> {
        let endpoint = endpoint_url(&config.base_url)?;
        let mut authorization = HeaderValue::from_str(&format!("Bearer {}", config.api_key.expose_secret()))
            .map_err(|_| config_error("the API key contains characters that cannot be sent in a header"))?;
        authorization.set_sensitive(true);
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(concat!("apinfer/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| config_error(&format!("cannot build the HTTP client: {}", error_chain(&err))))?;
        Ok(Self {
            client,
            endpoint,
            authorization,
            upstream_model: config.upstream_model,
            max_retries: config.max_retries,
            backoff_base: config.backoff_base,
        })
    }

    /// The whole generation: one (retried) POST, then the (retried) downloads of any `url` items.
    async fn generate_images(&self, request: &ImageRequest) -> Result<Vec<GeneratedImage>, ProviderError> {
        check_request(request)?;
        let body = GenerationBody {
            model: self.upstream_model.as_deref().unwrap_or(&request.model),
            prompt: &request.prompt,
            n: request.n,
            size: format!("{}x{}", request.width, request.height),
            quality: &request.quality,
            response_format: "b64_json",
        };
        let payload = self
            .with_retries("generation", || {
                let post = self.client.post(self.endpoint.clone()).header(AUTHORIZATION, &self.authorization);
                send_once(post.json(&body), MAX_RESPONSE_BYTES)
            })
            .await?;
        let items = parse_generation(&payload)?;
        drop(payload);
        if items.len() != request.n as usize {
            return Err(ProviderError::Malformed(format!("expected {} images, got {}", request.n, items.len())));
        }
        futures_util::future::try_join_all(items.into_iter().map(|item| self.resolve_item(item, request))).await
    }

    /// Turns one response item into an image, downloading it when it is a `url` item.
    async fn resolve_item(&self, item: ImageItem, request: &ImageRequest) -> Result<GeneratedImage, ProviderError> {
        let bytes = match item {
            ImageItem { b64_json: Some(encoded), .. } => BASE64
                .decode(encoded.trim())
                .map_err(|err| ProviderError::Malformed(format!("invalid base64 image: {err}")))?,
            ImageItem { url: Some(url), .. } => self.download(&url).await?,
            ImageItem { .. } => {
                return Err(ProviderError::Malformed("an image item has neither b64_json nor url".into()))
            }
        };
        identify_image(bytes, request)
    }

    /// Downloads an image with the same client (so the same timeouts) and retry policy. The API key is
    /// only sent when the URL is on the upstream's own origin, never to a third party (e.g. a CDN).
    async fn download(&self, url: &str) -> Result<Vec<u8>, ProviderError> {
        let url = Url::parse(url).map_err(|_| ProviderError::Malformed("an image item has an invalid url".into()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ProviderError::Malformed("an image item's url is not http(s)".into()));
        }
        let same_origin = url.origin() == self.endpoint.origin();
        self.with_retries("download", || {
            let mut get = self.client.get(url.clone());
            if same_origin {
                get = get.header(AUTHORIZATION, &self.authorization);
            }
            send_once(get, MAX_DOWNLOAD_BYTES)
        })
        .await
    }

    /// Runs `attempt` until it succeeds, fails permanently, or `max_retries` retries are spent; the last
    /// error is returned then (so a final timeout gives `Timeout`, anything else `Upstream`).
    async fn with_retries<T, F, Fut>(&self, what: &'static str, mut attempt: F) -> Result<T, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let attempts = self.max_retries.saturating_add(1);
        let mut number = 1;
        loop {
            tracing::debug!(what, attempt = number, of = attempts, "calling the upstream image provider");
            let (error, retry_after) = match attempt().await {
                Ok(value) => return Ok(value),
                Err(Failure::Permanent(error)) => return Err(error),
                Err(Failure::Transient { error, retry_after }) => (error, retry_after),
            };
            let (status, timeout) = describe(&error);
            if number >= attempts {
                tracing::warn!(what, attempts, ?status, timeout, "upstream image provider failed, giving up");
                return Err(error);
            }
            let delay = retry_after.unwrap_or_else(|| backoff_delay(self.backoff_base, number - 1));
            tracing::warn!(
                what,
                attempt = number,
                ?status,
                timeout,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "upstream image provider failed, retrying"
            );
            tokio::time::sleep(delay).await;
            number += 1;
        }
    }
}

impl ImageProvider for OpenAiCompatibleProvider {
    fn kind(&self) -> &'static str {
        "openai-compatible"
    }

    fn generate<'a>(&'a self, request: &'a ImageRequest) -> ProviderFuture<'a> {
        Box::pin(self.generate_images(request))
    }
}

/// What the logs may say about an error: its HTTP status, and whether it was a timeout.
fn describe(error: &ProviderError) -> (Option<u16>, bool) {
    match error {
        ProviderError::Upstream { status, .. } => (*status, false),
        ProviderError::Timeout => (None, true),
        ProviderError::Malformed(_) => (None, false),
    }
}

/// The JSON body of `POST /images/generations`.
#[derive(Serialize)]
struct GenerationBody<'a> {
    model: &'a str,
    prompt: &'a str,
    n: u32,
    size: String,
    quality: &'a str,
    response_format: &'static str,
}

/// The parts of an OpenAI Images response that matter here.
#[derive(Deserialize)]
struct GenerationResponse {
    data: Vec<ImageItem>,
}

/// One entry of `data`: inline base64, or a URL to download (base64 wins when both are present).
#[derive(Deserialize)]
struct ImageItem {
    b64_json: Option<String>,
    url: Option<String>,
}

/// The outcome of one failed attempt.
enum Failure {
    /// Worth another attempt, after `retry_after` when the upstream asked for it.
    Transient { error: ProviderError, retry_after: Option<Duration> },
    /// Retrying cannot help.
    Permanent(ProviderError),
}

/// Sends one request and reads a successful body of at most `limit` bytes, classifying every failure.
async fn send_once(request: RequestBuilder, limit: usize) -> Result<Vec<u8>, Failure> {
    let mut response = request.send().await.map_err(transport_failure)?;
    let status = response.status();
    tracing::debug!(status = status.as_u16(), "upstream image provider answered");
    if !status.is_success() {
        let retry_after = retry_after(status, response.headers());
        // The body only serves to find a message; if it cannot be read, the status says enough.
        let body = read_body(&mut response, MAX_ERROR_BODY_BYTES).await.map(|(body, _)| body).unwrap_or_default();
        return Err(status_failure(status, retry_after, &body));
    }
    if response.content_length().is_some_and(|length| length > limit as u64) {
        return Err(Failure::Permanent(too_large(limit)));
    }
    match read_body(&mut response, limit).await {
        Ok((body, true)) => Ok(body),
        Ok((_, false)) => Err(Failure::Permanent(too_large(limit))),
        Err(err) => Err(transport_failure(err)),
    }
}

/// Reads at most `limit` bytes of the body; the flag tells whether the whole body fitted.
async fn read_body(response: &mut Response, limit: usize) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Ok((body, false));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, true))
}

/// Classifies a transport error: timeouts and network failures are worth retrying, a request that
/// cannot even be built is not.
fn transport_failure(err: reqwest::Error) -> Failure {
    let err = err.without_url();
    if err.is_timeout() {
        return Failure::Transient { error: ProviderError::Timeout, retry_after: None };
    }
    let error = ProviderError::Upstream { status: None, message: format!("request failed: {}", error_chain(&err)) };
    if err.is_builder() || err.is_redirect() {
        Failure::Permanent(error)
    } else {
        Failure::Transient { error, retry_after: None }
    }
}

/// Classifies an HTTP error status: 408, 409, 429 and 5xx are retried, other statuses are final.
fn status_failure(status: StatusCode, retry_after: Option<Duration>, body: &[u8]) -> Failure {
    let message = match upstream_message(body) {
        Some(reason) => format!("HTTP {status}: {reason}"),
        None => format!("HTTP {status}"),
    };
    let error = ProviderError::Upstream { status: Some(status.as_u16()), message };
    let retryable = matches!(status.as_u16(), 408 | 409 | 429) || status.is_server_error();
    if retryable {
        Failure::Transient { error, retry_after }
    } else {
        Failure::Permanent(error)
    }
}

/// The `Retry-After` delay (integer seconds only) of a 429 or 503, capped at [`MAX_RETRY_AFTER`].
fn retry_after(status: StatusCode, headers: &HeaderMap) -> Option<Duration> {
    if status != StatusCode::TOO_MANY_REQUESTS && status != StatusCode::SERVICE_UNAVAILABLE {
        return None;
    }
    let seconds: u64 = headers.get(RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER))
}

/// The message of an OpenAI-shaped error body (`{"error":{"message":...}}`, or `{"error":"..."}`),
/// trimmed to [`MAX_MESSAGE_CHARS`].
fn upstream_message(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let error = value.get("error")?;
    let message = error.get("message").unwrap_or(error).as_str()?.trim();
    if message.is_empty() {
        return None;
    }
    Some(message.chars().take(MAX_MESSAGE_CHARS).collect())
}

/// Exponential backoff with "equal jitter": half of `base * 2^retry` (capped at [`MAX_BACKOFF`]) plus a
/// random share of the other half, so that clients that failed together do not retry together.
fn backoff_delay(base: Duration, retry: u32) -> Duration {
    let ceiling = base.saturating_mul(2u32.saturating_pow(retry.min(16))).min(MAX_BACKOFF);
    let half = ceiling / 2;
    let jitter_nanos = rand::thread_rng().gen_range(0..=half.as_nanos().min(u128::from(u64::MAX)) as u64);
    half + Duration::from_nanos(jitter_nanos)
}

/// Parses the generation response, without echoing any of its content into the error.
fn parse_generation(payload: &[u8]) -> Result<Vec<ImageItem>, ProviderError> {
    serde_json::from_slice::<GenerationResponse>(payload).map(|response| response.data).map_err(|err| {
        ProviderError::Malformed(format!(
            "not an OpenAI Images response ({:?} error at line {}, column {})",
            err.classify(),
            err.line(),
            err.column()
        ))
    })
}

/// Recognises PNG, JPEG and WebP by their magic bytes; the size comes from the PNG header, or else is
/// taken to be the requested one.
fn identify_image(bytes: Vec<u8>, request: &ImageRequest) -> Result<GeneratedImage, ProviderError> {
    let (content_type, (width, height)) = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        ("image/png", png_size(&bytes)?)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        ("image/jpeg", (request.width, request.height))
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        ("image/webp", (request.width, request.height))
    } else {
        return Err(ProviderError::Malformed("an image is neither PNG, JPEG nor WebP".into()));
    };
    Ok(GeneratedImage { bytes, content_type: content_type.to_string(), width, height, sha256: None })
}

/// Width and height from a PNG's IHDR chunk, which must come first, right after the signature.
fn png_size(bytes: &[u8]) -> Result<(u32, u32), ProviderError> {
    let malformed = || ProviderError::Malformed("a PNG image has no valid IHDR header".into());
    let header = bytes.get(12..24).ok_or_else(malformed)?;
    if &header[..4] != b"IHDR" {
        return Err(malformed());
    }
    let width = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
    let height = u32::from_be_bytes([header[8], header[9], header[10], header[11]]);
    if width == 0 || height == 0 {
        return Err(malformed());
    }
    Ok((width, height))
}

/// `{base_url}/images/generations`, whether or not `base_url` ends with a slash.
fn endpoint_url(base_url: &str) -> Result<Url, ProviderError> {
    let joined = format!("{}/images/generations", base_url.trim().trim_end_matches('/'));
    let url = Url::parse(&joined).map_err(|err| config_error(&format!("invalid base_url: {err}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(config_error("base_url must be an http(s) URL with a host"));
    }
    Ok(url)
}

/// A configuration problem, reported before any request is made.
fn config_error(message: &str) -> ProviderError {
    ProviderError::Upstream { status: None, message: format!("invalid provider configuration: {message}") }
}

/// An error and its sources, joined by ": " (reqwest's own message alone is often just "error sending request").
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// A successful response that exceeds the size limit.
fn too_large(limit: usize) -> ProviderError {
    ProviderError::Malformed(format!("response body exceeds {} MiB", limit / (1024 * 1024)))
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use serde_json::json;
    use wiremock::matchers::{body_json, body_partial_json, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    const KEY: &str = "sk-test-not-a-real-key";
    const GENERATIONS: &str = "/v1/images/generations";

    /// A real PNG of the given size (one flat colour).
    fn png_bytes(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&vec![90; (width * height * 3) as usize]).unwrap();
        writer.finish().unwrap();
        out
    }

    /// The start of a JPEG file (only the magic bytes matter here).
    fn jpeg_bytes() -> Vec<u8> {
        vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01, 0x00]
    }

    fn config(server: &MockServer) -> OpenAiCompatibleConfig {
        OpenAiCompatibleConfig {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(5),
            backoff_base: Duration::from_millis(10),
            ..OpenAiCompatibleConfig::new(format!("{}/v1", server.uri()), SecretString::from(KEY))
        }
    }

    fn provider(server: &MockServer) -> OpenAiCompatibleProvider {
        OpenAiCompatibleProvider::new(config(server)).unwrap()
    }

    fn request(n: u32) -> ImageRequest {
        ImageRequest {
            model: "qwen-image".into(),
            prompt: "a lighthouse at dusk".into(),
            width: 1024,
            height: 768,
            quality: "high".into(),
            n,
        }
    }

    fn b64_response(images: &[Vec<u8>]) -> ResponseTemplate {
        let data: Vec<_> = images.iter().map(|bytes| json!({ "b64_json": BASE64.encode(bytes) })).collect();
        ResponseTemplate::new(200).set_body_json(json!({ "created": 1_700_000_000, "data": data }))
    }

    fn ok_response(n: usize) -> ResponseTemplate {
        b64_response(&vec![png_bytes(8, 8); n])
    }

    async fn calls(server: &MockServer) -> usize {
        server.received_requests().await.map_or(0, |requests| requests.len())
    }

    #[tokio::test]
    async fn b64_success_sends_the_expected_request() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(GENERATIONS))
            .and(header("authorization", format!("Bearer {KEY}").as_str()))
            .and(header("content-type", "application/json"))
            .and(body_json(json!({
                "model": "upstream-model",
                "prompt": "a lighthouse at dusk",
                "n": 2,
                "size": "1024x768",
                "quality": "high",
                "response_format": "b64_json",
            })))
            .respond_with(b64_response(&[png_bytes(32, 16), png_bytes(4, 4)]))
            .expect(1)
            .mount(&server)
            .await;
        let mut config = config(&server);
        config.base_url.push('/'); // a trailing slash must not double up
        config.upstream_model = Some("upstream-model".into());
        let provider = OpenAiCompatibleProvider::new(config).unwrap();
        assert_eq!(provider.kind(), "openai-compatible");

        let images = provider.generate(&request(2)).await.unwrap();

        assert_eq!(images.len(), 2);
        assert_eq!(images[0].content_type, "image/png");
        assert_eq!((images[0].width, images[0].height), (32, 16), "size comes from the PNG header");
        assert_eq!(images[0].bytes, png_bytes(32, 16));
        assert_eq!((images[1].width, images[1].height), (4, 4));
    }

    #[tokio::test]
    async fn url_items_are_downloaded_from_the_same_server() {
        let server = MockServer::start().await;
        let png_url = format!("{}/files/a.png", server.uri());
        let jpeg_url = format!("{}/files/b.jpg", server.uri());
        Mock::given(method("POST"))
            .and(path(GENERATIONS))
            .and(body_partial_json(json!({ "model": "qwen-image" })))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "created": 1, "data": [{ "url": png_url }, { "url": jpeg_url }]
            })))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/files/a.png"))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(png_bytes(20, 10)))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/files/b.jpg"))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(jpeg_bytes()))
            .expect(1)
            .mount(&server)
            .await;

        let images = provider(&server).generate(&request(2)).await.unwrap();

        assert_eq!(images[0].content_type, "image/png");
        assert_eq!((images[0].width, images[0].height), (20, 10));
        assert_eq!(images[1].content_type, "image/jpeg");
        assert_eq!((images[1].width, images[1].height), (1024, 768), "non-PNG: the requested size");
        assert_eq!(images[1].bytes, jpeg_bytes());
    }

    #[tokio::test]
    async fn downloads_from_another_origin_get_no_api_key() {
        let server = MockServer::start().await;
        let cdn = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(GENERATIONS))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "data": [{ "url": format!("{}/img.webp", cdn.uri()) }]
            })))
            .mount(&server)
            .await;
        let webp = [b"RIFF".as_slice(), &[0, 0, 0, 0], b"WEBPVP8 "].concat();
        Mock::given(method("GET")).respond_with(ResponseTemplate::new(200).set_body_bytes(webp)).mount(&cdn).await;

        let images = provider(&server).generate(&request(1)).await.unwrap();

        assert_eq!(images[0].content_type, "image/webp");
        let downloads = cdn.received_requests().await.unwrap();
        assert_eq!(downloads.len(), 1);
        assert!(downloads[0].headers.get("authorization").is_none(), "the API key leaked to another origin");
    }

    #[tokio::test]
    async fn server_errors_are_retried_until_success() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(500))
            .up_to_n_times(2)
            .expect(2)
            .mount(&server)
            .await;
        Mock::given(method("POST")).respond_with(ok_response(1)).expect(1).mount(&server).await;

        let images = provider(&server).generate(&request(1)).await.unwrap();

        assert_eq!(images.len(), 1);
        assert_eq!(calls(&server).await, 3);
    }

    #[tokio::test]
    async fn persistent_server_errors_give_upstream_after_all_retries() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(502).set_body_json(json!({ "error": { "message": "overloaded" } })))
            .mount(&server)
            .await;

        let err = provider(&server).generate(&request(1)).await.unwrap_err();

        match err {
            ProviderError::Upstream { status: Some(502), message } => {
                assert!(message.contains("overloaded"), "{message}")
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(calls(&server).await, 1 + DEFAULT_MAX_RETRIES as usize);
    }

    #[tokio::test]
    async fn retry_after_is_honoured_on_429() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST")).respond_with(ok_response(1)).mount(&server).await;

        let started = Instant::now();
        let images = provider(&server).generate(&request(1)).await.unwrap();

        assert_eq!(images.len(), 1);
        assert!(started.elapsed() >= Duration::from_millis(950), "waited only {:?}", started.elapsed());
        assert_eq!(calls(&server).await, 2);
    }

    #[tokio::test]
    async fn client_errors_are_not_retried() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({
                "error": { "message": "Invalid size", "type": "invalid_request_error" }
            })))
            .mount(&server)
            .await;

        let err = provider(&server).generate(&request(1)).await.unwrap_err();

        match err {
            ProviderError::Upstream { status: Some(400), message } => assert!(message.contains("Invalid size")),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(calls(&server).await, 1);
    }

    #[tokio::test]
    async fn slow_upstream_gives_timeout() {
        let server = MockServer::start().await;
        Mock::given(method("POST")).respond_with(ok_response(1).set_delay(Duration::from_secs(5))).mount(&server).await;
        let config =
            OpenAiCompatibleConfig { request_timeout: Duration::from_millis(300), max_retries: 1, ..config(&server) };

        let started = Instant::now();
        let err = OpenAiCompatibleProvider::new(config).unwrap().generate(&request(1)).await.unwrap_err();

        assert!(matches!(err, ProviderError::Timeout), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
        assert_eq!(calls(&server).await, 2);
    }

    #[tokio::test]
    async fn unreachable_upstream_is_retried_then_upstream_error() {
        // A port that was free a moment ago: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = OpenAiCompatibleConfig {
            backoff_base: Duration::from_millis(1),
            ..OpenAiCompatibleConfig::new(format!("http://127.0.0.1:{port}/v1"), SecretString::from(KEY))
        };

        let err = OpenAiCompatibleProvider::new(config).unwrap().generate(&request(1)).await.unwrap_err();

        assert!(matches!(err, ProviderError::Upstream { status: None, .. }), "{err:?}");
        assert!(!err.to_string().contains(KEY));
    }

    #[tokio::test]
    async fn malformed_json_is_not_retried() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_raw("{\"data\": [", "application/json"))
            .mount(&server)
            .await;

        let err = provider(&server).generate(&request(1)).await.unwrap_err();

        assert!(matches!(err, ProviderError::Malformed(_)), "{err:?}");
        assert_eq!(calls(&server).await, 1);
    }

    #[tokio::test]
    async fn wrong_image_count_is_malformed() {
        let server = MockServer::start().await;
        Mock::given(method("POST")).respond_with(ok_response(1)).mount(&server).await;

        let err = provider(&server).generate(&request(2)).await.unwrap_err();

        match err {
            ProviderError::Malformed(message) => assert!(message.contains("expected 2 images, got 1")),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn non_image_bytes_are_malformed() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(b64_response(&[b"<html>not an image</html>".to_vec()]))
            .mount(&server)
            .await;

        let err = provider(&server).generate(&request(1)).await.unwrap_err();

        assert!(matches!(err, ProviderError::Malformed(_)), "{err:?}");
    }

    #[tokio::test]
    async fn invalid_base64_is_malformed() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({ "data": [{ "b64_json": "%%%not base64" }] })),
            )
            .mount(&server)
            .await;

        let err = provider(&server).generate(&request(1)).await.unwrap_err();

        assert!(matches!(err, ProviderError::Malformed(_)), "{err:?}");
        assert_eq!(calls(&server).await, 1);
    }

    #[test]
    fn configuration_is_checked_and_the_key_never_shows() {
        for bad in ["", "not a url", "ftp://example.com/v1"] {
            let config = OpenAiCompatibleConfig::new(bad, SecretString::from(KEY));
            assert!(OpenAiCompatibleProvider::new(config).is_err(), "{bad:?} accepted");
        }
        let config = OpenAiCompatibleConfig::new("https://api.example.com/v1/", SecretString::from(KEY));
        assert_eq!(config.max_retries, 2);
        assert_eq!(config.backoff_base, Duration::from_millis(200));
        assert!(!format!("{config:?}").contains(KEY));
        let provider = OpenAiCompatibleProvider::new(config).unwrap();
        assert_eq!(provider.endpoint.as_str(), "https://api.example.com/v1/images/generations");
        assert!(!format!("{provider:?}").contains(KEY));
    }

    #[test]
    fn backoff_grows_exponentially_with_jitter_and_a_cap() {
        let base = Duration::from_millis(200);
        for _ in 0..50 {
            let first = backoff_delay(base, 0);
            assert!(first >= Duration::from_millis(100) && first <= base, "{first:?}");
            let third = backoff_delay(base, 2);
            assert!(third >= Duration::from_millis(400) && third <= Duration::from_millis(800), "{third:?}");
            assert!(backoff_delay(base, 40) <= MAX_BACKOFF);
        }
    }

    #[test]
    fn retry_after_applies_to_429_and_503_only_and_is_capped() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(StatusCode::TOO_MANY_REQUESTS, &headers), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(StatusCode::INTERNAL_SERVER_ERROR, &headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3600"));
        assert_eq!(retry_after(StatusCode::SERVICE_UNAVAILABLE, &headers), Some(MAX_RETRY_AFTER));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(StatusCode::SERVICE_UNAVAILABLE, &headers), None);
    }

    #[test]
    fn only_transient_statuses_are_retried() {
        for code in [408, 409, 429, 500, 502, 503, 504] {
            let status = StatusCode::from_u16(code).unwrap();
            assert!(matches!(status_failure(status, None, b""), Failure::Transient { .. }), "{code}");
        }
        for code in [400, 401, 403, 404, 413, 422] {
            let status = StatusCode::from_u16(code).unwrap();
            let failure = status_failure(status, None, b"{\"error\":\"nope\"}");
            match failure {
                Failure::Permanent(ProviderError::Upstream { status: Some(got), message }) => {
                    assert_eq!(got, code);
                    assert!(message.ends_with(": nope"), "{message}");
                }
                _ => panic!("{code} should be permanent"),
            }
        }
    }

    #[tokio::test]
    async fn oversized_bodies_are_malformed() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![0u8; 100]))
            .mount(&server)
            .await;
        let client = reqwest::Client::new();

        let result = send_once(client.get(server.uri()), 64).await;

        assert!(matches!(result, Err(Failure::Permanent(ProviderError::Malformed(_)))));
        assert_eq!(send_once(client.get(server.uri()), 100).await.ok().map(|body| body.len()), Some(100));
    }

    #[test]
    fn truncated_png_header_is_malformed() {
        let png = png_bytes(2, 2);
        assert!(matches!(identify_image(png[..20].to_vec(), &request(1)), Err(ProviderError::Malformed(_))));
    }
}
