//! Image generations: priced per model and quality, held while rendering, charged on success.

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{get, post, web, FromRequest, HttpRequest, HttpResponse};
use apinfer_core::domain::{ImageCount, Prompt, Quality, ResponseFormat};
use apinfer_core::generating::Cancel;
use apinfer_core::ids::GenerationId;
use apinfer_core::store::api_keys::Scope;
use apinfer_core::store::generations::{self, Generation};
use apinfer_core::Credits;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::views::{list_view, PageParams};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::generation::{enqueue, generate, GenerateCommand};
use crate::idempotency::{self, parse_json, IdempotencyKey};
use crate::image_urls::ImageUrls;
use crate::state::AppState;

/// What to generate.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGenerationRequest {
    #[schema(example = "qwen-image")]
    pub model: String,
    /// 1–4000 characters.
    #[schema(example = "a lighthouse at dusk, oil painting")]
    pub prompt: String,
    /// One of the model's sizes (default `1024x1024`); the size never changes the cost.
    #[schema(example = "1024x1024")]
    pub size: Option<String>,
    /// `standard` (default, ×1), `high` (×1.5; `hd` accepted) or `ultra` (×2).
    #[schema(value_type = Option<crate::enums::QualityInput>, example = "standard")]
    pub quality: Option<String>,
    /// Number of images, 1–10 (default 1).
    #[schema(example = 1)]
    #[serde(default, deserialize_with = "crate::extract::optional_integer")]
    pub n: Option<u32>,
    /// `url` (default) or `b64_json` (images inline too).
    #[schema(value_type = Option<crate::enums::ResponseFormat>, example = "url")]
    pub response_format: Option<String>,
}

/// One generated image.
#[derive(Serialize, ToSchema)]
pub struct ImageView {
    /// Position in the generation, from 0.
    pub index: i32,
    /// Where to download it: a signed URL that works without the `Authorization` header
    /// until it expires (`APINFER_IMAGE_URL_TTL_SECONDS`, default an hour); fetch the
    /// generation again for a fresh one.
    pub url: String,
    /// The image, base64-encoded, when `response_format` was `b64_json`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub b64_json: Option<String>,
    pub width: i32,
    pub height: i32,
    /// `image/png` from the local renderer.
    pub content_type: String,
}

/// What a generation costs: `credits_per_image × quality_multiplier × n`, rounded up to the
/// ledger's unit (0.0001 credit).
#[derive(Serialize, ToSchema)]
pub struct GenerationCost {
    /// The model's price per image when the generation was asked for.
    #[schema(value_type = String, format = "decimal", example = "1.75")]
    pub credits_per_image: Credits,
    /// `1` (standard), `1.5` (high) or `2` (ultra).
    #[schema(example = "1.5")]
    pub quality_multiplier: String,
    pub n: u32,
    /// The cost: held while the generation is queued or processing, charged if it succeeds.
    #[schema(value_type = String, format = "decimal", example = "2.625")]
    pub total: Credits,
}

/// When a generation was asked for, started and finished.
#[derive(Serialize, ToSchema)]
pub struct GenerationTimings {
    /// When it was asked for (and queued, if asynchronous).
    pub queued_at: DateTime<Utc>,
    /// When the provider was called: at once for a synchronous generation, when a worker took
    /// it for an asynchronous one; null while queued, or if it never started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it succeeded, failed or was canceled.
    pub finished_at: Option<DateTime<Utc>>,
}

/// An image generation.
#[derive(Serialize, ToSchema)]
pub struct GenerationView {
    /// `gen_...`
    pub id: String,
    pub model: String,
    pub prompt: String,
    pub size: String,
    pub quality: String,
    pub n: u32,
    /// `queued` (asynchronous, waiting for a worker), `processing`, then `succeeded`, `failed`
    /// or `canceled`.
    #[schema(value_type = crate::enums::GenerationStatus)]
    pub status: String,
    /// How it is priced.
    pub cost: GenerationCost,
    /// Credits held for it while it is queued or processing (its cost), else 0.
    #[schema(value_type = String, format = "decimal", example = "0")]
    pub credits_held: Credits,
    /// Credits charged: the cost once succeeded, 0 if it failed or was canceled.
    #[schema(value_type = String, format = "decimal", example = "1.75")]
    pub credits_charged: Credits,
    pub images: Vec<ImageView>,
    /// Why it failed (`upstream_error`, `hold_expired`, `worker_lost`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    pub timings: GenerationTimings,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl GenerationView {
    /// Builds the view, with image URLs signed at `now`; `inline` carries the image bytes for
    /// `b64_json`.
    pub fn new(g: Generation, urls: &ImageUrls, now: DateTime<Utc>, inline: Option<&[Vec<u8>]>) -> Self {
        let engine = base64::engine::general_purpose::STANDARD;
        let images = g
            .images
            .iter()
            .map(|i| ImageView {
                index: i.index,
                url: urls.url(&g.id, i.index, now),
                b64_json: inline.and_then(|all| all.get(i.index as usize)).map(|bytes| engine.encode(bytes)),
                width: i.width,
                height: i.height,
                content_type: i.content_type.clone(),
            })
            .collect();
        GenerationView {
            id: g.id.to_string(),
            model: g.model,
            prompt: g.prompt,
            size: g.size,
            quality: g.quality.as_str().to_string(),
            n: g.n,
            status: g.status.as_str().to_string(),
            cost: GenerationCost {
                credits_per_image: g.credits_per_image,
                quality_multiplier: g.quality.multiplier_text().to_string(),
                n: g.n,
                total: g.credits_cost,
            },
            credits_held: if g.status.is_final() { Credits::ZERO } else { g.credits_cost },
            credits_charged: g.credits_charged,
            images,
            error_code: g.error_code,
            error_message: g.error_message,
            timings: GenerationTimings {
                queued_at: g.created_at,
                started_at: g.started_at,
                finished_at: g.completed_at,
            },
            created_at: g.created_at,
            completed_at: g.completed_at,
        }
    }
}

list_view!(GenerationList, GenerationView, "A page of generations.");

/// Generate images (scope `generations:write`; honours `Idempotency-Key`).
///
/// The cost (`credits_per_image × quality multiplier × n`) is held before the provider is
/// called, charged when the images exist, and released if the provider fails (502
/// `upstream_error` with the `generation_id`; nothing charged). `X-Credits-Charged` gives what
/// was charged.
///
/// With `Prefer: respond-async` (RFC 7240) the answer is 202 at once, with the generation
/// `queued` and its cost held (`credits_held`) and `Location` naming it; a worker then runs it
/// (`processing`, then `succeeded`, `failed` or `canceled`): follow it with `GET
/// /v1/generations/{id}`, the `generation.*` events, or a webhook endpoint. How many run at once,
/// in total and per account, is bounded by configuration; past the bound a generation waits in
/// the queue. Queued work survives a restart of the server.
#[utoipa::path(tag = "generations", operation_id = "generations_create", security(("bearer" = [])), request_body = CreateGenerationRequest,
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe"),
        ("Prefer" = Option<String>, Header, description = "`respond-async`: queue the generation and answer 202 at once"),
    ),
    responses(
        (status = 201, description = "The succeeded generation", body = GenerationView,
            headers(("X-Credits-Charged" = String, description = "Credits charged (decimal)"))),
        (status = 202, description = "Queued (`Prefer: respond-async`); its cost is held", body = GenerationView,
            headers(
                ("X-Credits-Charged" = String, description = "Credits charged so far: 0"),
                ("Location" = String, description = "The generation's URL"),
                ("Preference-Applied" = String, description = "`respond-async`"),
            )),
        (status = 400, description = "Invalid prompt, size, quality, n or response_format", body = ErrorBody),
        (status = 402, description = "`insufficient_credits` (nothing held, no provider call) or `spend_limit_exceeded`", body = ErrorBody),
        (status = 403, description = "The key lacks `generations:write`", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 409, description = "Idempotency conflict", body = ErrorBody),
        (status = 502, description = "The image provider failed; nothing charged", body = ErrorBody),
    ))]
#[post("/generations")]
pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    key: IdempotencyKey,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    caller.require_scope(Scope::GenerationsWrite)?;
    let request: CreateGenerationRequest = parse_json(&body)?;
    let command = GenerateCommand {
        quality: Quality::from_wire(request.quality.as_deref())?,
        model: request.model,
        prompt: Prompt::parse(&request.prompt)?,
        size: request.size,
        n: ImageCount::from_wire(request.n)?,
        response_format: ResponseFormat::from_wire(request.response_format.as_deref())?,
    };
    let respond_async = prefers_async(&req);
    let run_state = state.clone();
    let response = idempotency::run(state, caller.account_id.clone(), key, &req, &body, move || async move {
        let now = run_state.now();
        if respond_async {
            let generation = enqueue(&run_state, &caller, command).await?;
            return Ok((StatusCode::ACCEPTED, GenerationView::new(generation, &run_state.image_urls, now, None)));
        }
        let inline = command.response_format == ResponseFormat::B64Json;
        let (generation, images) = generate(&run_state, &caller, command).await?;
        let view = GenerationView::new(
            generation,
            &run_state.image_urls,
            run_state.now(),
            inline.then_some(images.as_slice()),
        );
        Ok((StatusCode::CREATED, view))
    })
    .await?;
    with_charge_headers(response).await
}

/// Whether the request's `Prefer` headers ask for `respond-async` (RFC 7240: comma-separated
/// preferences, each maybe with `=value` or parameters, names case-insensitive).
fn prefers_async(req: &HttpRequest) -> bool {
    req.headers()
        .get_all(actix_web::http::header::HeaderName::from_static("prefer"))
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|preference| preference.split([';', '=']).next().unwrap_or("").trim())
        .any(|name| name.eq_ignore_ascii_case("respond-async"))
}

/// Adds `X-Credits-Charged` to a successful generation response, from its body (so that a
/// replayed idempotent answer carries it too), and for a queued one (202) `Location` and
/// `Preference-Applied`.
async fn with_charge_headers(response: HttpResponse) -> Result<HttpResponse, ApiError> {
    if !response.status().is_success() {
        return Ok(response);
    }
    let (mut head, body) = response.into_parts();
    let bytes = actix_web::body::to_bytes(body)
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("reading a generation response: {e}")))?;
    let view: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let accepted = head.status() == StatusCode::ACCEPTED;
    let headers = head.headers_mut();
    if let Some(Ok(charged)) = view["credits_charged"].as_str().map(HeaderValue::from_str) {
        headers.insert(HeaderName::from_static("x-credits-charged"), charged);
    }
    if accepted {
        if let Some(Ok(location)) =
            view["id"].as_str().map(|id| HeaderValue::from_str(&format!("/v1/generations/{id}")))
        {
            headers.insert(actix_web::http::header::LOCATION, location);
        }
        headers.insert(HeaderName::from_static("preference-applied"), HeaderValue::from_static("respond-async"));
    }
    Ok(head.set_body(bytes).map_into_boxed_body())
}

/// Filters for the generation history.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GenerationFilter {
    /// Only this model's generations.
    pub model: Option<String>,
}

/// The account's generations, newest first (scope `generations:write` or `usage:read`).
#[utoipa::path(tag = "generations", operation_id = "generations_list", security(("bearer" = [])), params(GenerationFilter, PageParams), responses(
    (status = 200, description = "A page of generations", body = GenerationList),
    (status = 400, description = "Invalid limit or cursor", body = ErrorBody),
))]
#[get("/generations")]
pub async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    filter: web::Query<GenerationFilter>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any_scope(&[Scope::GenerationsWrite, Scope::UsageRead])?;
    let limit = page.limit()?;
    let cursor = page.cursor_as(GenerationId::parse)?;
    let model = filter.into_inner().model;
    let page = state
        .db(move |conn| generations::list(conn, &caller.account_id, model.as_deref(), cursor.as_ref(), limit))
        .await?;
    let next_cursor = page.has_more.then(|| page.items.last().map(|g| g.id.to_string())).flatten();
    let now = state.now();
    Ok(HttpResponse::Ok().json(GenerationList {
        data: page.items.into_iter().map(|g| GenerationView::new(g, &state.image_urls, now, None)).collect(),
        has_more: page.has_more,
        next_cursor,
    }))
}

/// One generation (scope `generations:write` or `usage:read`).
#[utoipa::path(tag = "generations", operation_id = "generations_retrieve", security(("bearer" = [])), params(("id" = String, Path, description = "`gen_...`")), responses(
    (status = 200, description = "The generation", body = GenerationView),
    (status = 404, description = "No such generation in this account", body = ErrorBody),
))]
#[get("/generations/{id}")]
pub async fn retrieve(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any_scope(&[Scope::GenerationsWrite, Scope::UsageRead])?;
    let id = GenerationId::parse(&id).ok_or_else(|| ApiError::not_found("generation"))?;
    let generation = state.db(move |conn| generations::get(conn, &caller.account_id, &id)).await?;
    Ok(charged(HttpResponse::Ok(), &generation).json(GenerationView::new(
        generation,
        &state.image_urls,
        state.now(),
        None,
    )))
}

/// A response builder carrying `X-Credits-Charged`.
fn charged(mut builder: actix_web::HttpResponseBuilder, generation: &Generation) -> actix_web::HttpResponseBuilder {
    builder.insert_header(("X-Credits-Charged", generation.credits_charged.to_string()));
    builder
}

/// Cancel an asynchronous generation (scope `generations:write`; idempotent).
///
/// A generation that has not finished stops: its hold is released (nothing is charged) and it
/// ends `canceled`; a provider call in flight is abandoned and its result not charged. A
/// generation that already finished is answered as it is, so check `status`: exactly one of
/// the cancel and the outcome it was racing wins.
#[utoipa::path(tag = "generations", operation_id = "generations_cancel", security(("bearer" = [])), params(("id" = String, Path, description = "`gen_...`")), responses(
    (status = 200, description = "The generation: `canceled`, or the outcome it reached first", body = GenerationView,
        headers(("X-Credits-Charged" = String, description = "Credits charged (decimal)"))),
    (status = 403, description = "The key lacks `generations:write`", body = ErrorBody),
    (status = 404, description = "No such generation in this account", body = ErrorBody),
    (status = 409, description = "A synchronous generation still running (`generation_not_cancelable`)", body = ErrorBody),
))]
#[post("/generations/{id}/cancel")]
pub async fn cancel(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require_scope(Scope::GenerationsWrite)?;
    let id = GenerationId::parse(&id).ok_or_else(|| ApiError::not_found("generation"))?;
    let now = state.now();
    let (generation, canceled) =
        state.writes.cancel(Cancel { account_id: caller.account_id.clone(), id: id.clone(), now }).await?;
    if canceled {
        state.queue.abandon(&id);
    }
    Ok(charged(HttpResponse::Ok(), &generation).json(GenerationView::new(generation, &state.image_urls, now, None)))
}

/// A signed image URL's query: both, or the `Authorization` header is needed.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SignedUrlParams {
    /// When the URL stops working (unix seconds), as the generation gave it.
    #[param(minimum = 0)]
    pub expires: Option<i64>,
    /// The URL's signature, as the generation gave it.
    #[param(pattern = "^[0-9a-f]{64}$")]
    pub signature: Option<String>,
}

/// Download one image of a generation (its bytes, `image/png` from the local renderer).
///
/// Either with the `Authorization` header (scope `generations:write` or `usage:read`), or
/// through the signed URL a generation gives, which needs no header until it expires.
#[utoipa::path(tag = "generations", operation_id = "generations_download_image",
    security(("bearer" = []), ()),
    params(("id" = String, Path, description = "`gen_...`"), ("index" = i32, Path, minimum = 0, maximum = 9, description = "Image index, from 0"), SignedUrlParams),
    responses(
        (status = 200, description = "The image bytes", content_type = "image/png", body = String),
        (status = 403, description = "The signed URL has expired (`url_expired`) or was altered (`invalid_signature`), or the key lacks the scope", body = ErrorBody),
        (status = 404, description = "No such generation or image in this account", body = ErrorBody),
        (status = 410, description = "The image was deleted at the end of its retention period (`gone`; `APINFER_IMAGE_RETENTION_SECONDS`, 30 days by default): the generation and its charge remain", body = ErrorBody),
    ))]
#[get("/generations/{id}/images/{index}")]
pub async fn image(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, i32)>,
    signed: web::Query<SignedUrlParams>,
) -> Result<HttpResponse, ApiError> {
    let (id, index) = path.into_inner();
    let id = GenerationId::parse(&id).ok_or_else(|| ApiError::not_found("generation"))?;
    let signed = signed.into_inner();
    let well_formed = signed.expires.is_none_or(|e| e >= 0)
        && signed
            .signature
            .as_deref()
            .is_none_or(|s| s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
    if !well_formed {
        return Err(ApiError::invalid(
            "invalid_signature",
            "expires must be unix seconds and signature 64 hex digits, as the generation gave them",
            Some("signature"),
        ));
    }
    let account = match signed {
        SignedUrlParams { expires: Some(expires), signature: Some(signature) } => {
            state.image_urls.verify(&id, index, expires, &signature, state.now())?;
            None
        }
        // Without a whole signature, the Authorization header is the credential.
        _ => {
            let caller = Caller::extract(&req).await?;
            caller.require_any_scope(&[Scope::GenerationsWrite, Scope::UsageRead])?;
            Some(caller.account_id)
        }
    };
    let retention = chrono::Duration::seconds(i64::try_from(state.config.image_retention_seconds).unwrap_or(i64::MAX));
    let kept_since = state.now() - retention;
    let (content_type, bytes) =
        state.db(move |conn| generations::image(conn, account.as_ref(), &id, index, kept_since)).await?;
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", "private, max-age=3600"))
        .body(bytes))
}
