//! OpenAI Images-compatible endpoint: the official OpenAI SDKs work unchanged with
//! `base_url` set to this server (`{base}/v1`) and an apinfer API key. Charged exactly like
//! `/v1/generations`.

use actix_web::http::StatusCode;
use actix_web::{post, web, HttpRequest, HttpResponse};
use apinfer_core::domain::{ImageCount, Prompt, ResponseFormat};
use apinfer_core::pricing::Quality;
use apinfer_core::store::api_keys::Scope;
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::generation::{generate, GenerateCommand};
use crate::idempotency::{self, parse_json, IdempotencyKey};
use crate::state::AppState;

/// OpenAI's `images.generate` request. Unknown OpenAI options (`style`, `user`,
/// `background`, ...) are accepted and ignored.
#[derive(Deserialize, ToSchema)]
pub struct OpenAiImageRequest {
    #[schema(example = "qwen-image")]
    pub model: String,
    pub prompt: String,
    /// 1–10 (default 1).
    #[serde(default, deserialize_with = "crate::extract::optional_integer")]
    pub n: Option<u32>,
    /// `WIDTHxHEIGHT`, one of the model's sizes, or `auto` (the default: 1024x1024 where the
    /// model has it).
    pub size: Option<String>,
    /// `standard` (also `auto`, `low`, `medium`), `hd` or `high` (×1.5), `ultra` (×2).
    #[schema(value_type = Option<crate::enums::OpenAiQuality>)]
    pub quality: Option<String>,
    /// `url` (default) or `b64_json`.
    #[schema(value_type = Option<crate::enums::ResponseFormat>)]
    pub response_format: Option<String>,
}

/// One image: a URL or inline base64.
#[derive(Serialize, ToSchema)]
pub struct OpenAiImage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub b64_json: Option<String>,
}

/// OpenAI's images response.
#[derive(Serialize, ToSchema)]
pub struct OpenAiImagesResponse {
    /// Unix seconds.
    pub created: i64,
    pub data: Vec<OpenAiImage>,
}

fn openai_quality(text: Option<&str>) -> Result<Quality, ApiError> {
    match text {
        None | Some("auto" | "low" | "medium" | "standard") => Ok(Quality::Standard),
        Some("hd" | "high") => Ok(Quality::High),
        Some("ultra") => Ok(Quality::Ultra),
        Some(_) => {
            Err(ApiError::invalid("invalid_quality", "quality must be standard, hd, high or ultra", Some("quality")))
        }
    }
}

/// Generate images, OpenAI style (scope `generations:write`; honours `Idempotency-Key`).
#[utoipa::path(tag = "images", operation_id = "images_generate", security(("bearer" = [])), request_body = OpenAiImageRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    responses(
        (status = 200, description = "The images", body = OpenAiImagesResponse),
        (status = 400, description = "Invalid request", body = ErrorBody),
        (status = 402, description = "Not enough credits; nothing held", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 502, description = "The image provider failed; nothing charged", body = ErrorBody),
    ))]
#[post("/images/generations")]
pub async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    key: IdempotencyKey,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    caller.require_scope(Scope::GenerationsWrite)?;
    let request: OpenAiImageRequest = parse_json(&body)?;
    let command = GenerateCommand {
        quality: openai_quality(request.quality.as_deref())?,
        model: request.model,
        prompt: Prompt::parse(&request.prompt)?,
        size: request.size,
        n: ImageCount::from_wire(request.n)?,
        response_format: ResponseFormat::from_wire(request.response_format.as_deref())?,
    };
    let run_state = state.clone();
    idempotency::run(state, caller.account_id.clone(), key, &req, &body, move || async move {
        let inline = command.response_format == ResponseFormat::B64Json;
        let (generation, images) = generate(&run_state, &caller, command).await?;
        let engine = base64::engine::general_purpose::STANDARD;
        let now = run_state.now();
        let data = generation
            .images
            .iter()
            .map(|i| OpenAiImage {
                url: (!inline).then(|| run_state.image_urls.url(&generation.id, i.index, now)),
                b64_json: inline.then(|| images.get(i.index as usize).map(|b| engine.encode(b))).flatten(),
            })
            .collect();
        Ok((StatusCode::OK, OpenAiImagesResponse { created: generation.created_at.timestamp(), data }))
    })
    .await
}
