//! The public catalog: packages, models, and price quotes. No authentication needed.

use actix_web::{get, web, HttpResponse};
use apinfer_core::domain::ImageCount;
use apinfer_core::pricing::{generation_cost, Quality};
use apinfer_core::store::catalog::{self, Model, Package};
use apinfer_core::Credits;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

use super::views::{list_view, MoneyView};
use crate::auth::PublicRateLimited;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// A credit package.
#[derive(Serialize, ToSchema)]
pub struct PackageView {
    #[schema(example = "standard")]
    pub id: String,
    #[schema(example = "Standard Package")]
    pub name: String,
    /// Credits the package adds to the balance.
    #[schema(value_type = String, format = "decimal", example = "5000")]
    pub credits: Credits,
    /// What it costs.
    pub price: MoneyView,
    /// Price of one credit in this package (up to 4 fractional digits).
    pub price_per_credit: UnitPriceView,
    /// The most popular package.
    pub popular: bool,
    /// Whether it can be bought.
    pub active: bool,
}

impl From<Package> for PackageView {
    fn from(p: Package) -> Self {
        PackageView {
            price_per_credit: UnitPriceView {
                amount: p.price.per_credit(p.credits),
                currency: p.price.currency().as_str().to_string(),
            },
            id: p.id,
            name: p.name,
            credits: p.credits,
            price: p.price.into(),
            popular: p.popular,
            active: p.active,
        }
    }
}

/// The price of one unit (a credit), more precise than a payable amount.
#[derive(Serialize, ToSchema)]
pub struct UnitPriceView {
    /// Decimal amount with 2 to 4 fractional digits, as a string.
    #[schema(value_type = String, format = "decimal", pattern = r"^[0-9]+\.[0-9]{2,4}$", example = "0.01")]
    pub amount: String,
    /// ISO 4217 currency code.
    #[schema(value_type = crate::enums::Currency, example = "CNY")]
    pub currency: String,
}

/// An image model and its price; also OpenAI's model object (`id`, `object`, `created`,
/// `owned_by`), so OpenAI's SDKs can list and retrieve models.
#[derive(Serialize, ToSchema)]
pub struct ModelView {
    #[schema(example = "qwen-image")]
    pub id: String,
    /// Always `model`.
    #[schema(value_type = crate::enums::ModelObject)]
    pub object: &'static str,
    /// When the model was added (unix seconds).
    pub created: i64,
    /// Who serves it: `apinfer`.
    #[schema(example = "apinfer")]
    pub owned_by: &'static str,
    #[schema(example = "Qwen-Image")]
    pub name: String,
    /// `basic` (0.1–1 credits per image), `standard` (1–5) or `premium` (5–20).
    #[schema(value_type = crate::enums::Tier, example = "standard")]
    pub tier: String,
    /// Credits per image at standard quality, whatever the resolution.
    #[schema(value_type = String, format = "decimal", example = "1.75")]
    pub credits_per_image: Credits,
    /// Multiplier per quality: `standard` 1, `high` 1.5, `ultra` 2.
    #[schema(example = json!({"standard": "1", "high": "1.5", "ultra": "2"}))]
    pub quality_multipliers: BTreeMap<String, String>,
    /// Supported sizes, `WIDTHxHEIGHT`; all cost the same.
    #[schema(example = json!(["1024x1024"]))]
    pub sizes: Vec<String>,
    /// Whether it can be used.
    pub active: bool,
}

impl From<Model> for ModelView {
    fn from(m: Model) -> Self {
        ModelView {
            id: m.id,
            object: "model",
            created: m.created_at.timestamp(),
            owned_by: "apinfer",
            name: m.name,
            tier: m.tier.as_str().to_string(),
            credits_per_image: m.credits_per_image,
            quality_multipliers: Quality::ALL
                .iter()
                .map(|q| (q.as_str().to_string(), q.multiplier_text().to_string()))
                .collect(),
            sizes: m.sizes,
            active: m.active,
        }
    }
}

list_view!(PackageList, PackageView, "A list of credit packages.");
/// The image models: a list envelope that is also OpenAI's (`object: "list"`).
#[derive(Serialize, ToSchema)]
pub struct ModelList {
    /// Always `list`.
    #[schema(value_type = crate::enums::ListObject)]
    pub object: &'static str,
    /// The models.
    pub data: Vec<ModelView>,
    /// Always false: every model is on this page.
    pub has_more: bool,
    /// Always null.
    pub next_cursor: Option<String>,
}

/// The credit packages on sale.
#[utoipa::path(tag = "packages", operation_id = "packages_list", responses((status = 200, description = "Packages in price order", body = PackageList)))]
#[get("/packages")]
pub async fn packages(_: PublicRateLimited, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let packages = state.db(|conn| catalog::list_packages(conn, false)).await?;
    Ok(HttpResponse::Ok().json(PackageList {
        data: packages.into_iter().map(PackageView::from).collect(),
        has_more: false,
        next_cursor: None,
    }))
}

/// The image models and their prices.
#[utoipa::path(tag = "models", operation_id = "models_list", responses((status = 200, description = "Models", body = ModelList)))]
#[get("/models")]
pub async fn models(_: PublicRateLimited, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let models = state.db(|conn| catalog::list_models(conn, false)).await?;
    Ok(HttpResponse::Ok().json(ModelList {
        object: "list",
        data: models.into_iter().map(ModelView::from).collect(),
        has_more: false,
        next_cursor: None,
    }))
}

/// One image model, by id (OpenAI's `models.retrieve` too).
#[utoipa::path(tag = "models", operation_id = "models_retrieve",
    params(("id" = String, Path, description = "The model id, e.g. `qwen-image`")),
    responses(
        (status = 200, description = "The model", body = ModelView),
        (status = 404, description = "No such model", body = ErrorBody),
    ))]
#[get("/models/{id}")]
pub async fn retrieve_model(
    _: PublicRateLimited,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let model = state.db(move |conn| catalog::get_model(conn, &id)).await?;
    if !model.active {
        return Err(ApiError::not_found("model"));
    }
    Ok(HttpResponse::Ok().json(ModelView::from(model)))
}

/// What to price.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QuoteParams {
    /// Model id, e.g. `qwen-image`.
    pub model: String,
    /// `standard` (default), `high` (or `hd`) or `ultra`.
    #[param(value_type = Option<crate::enums::QualityInput>)]
    pub quality: Option<String>,
    /// Number of images, 1–10 (default 1).
    #[param(minimum = 1, maximum = 10)]
    pub n: Option<u32>,
}

/// A price quote.
#[derive(Serialize, ToSchema)]
pub struct QuoteView {
    pub model: String,
    pub quality: String,
    pub n: u32,
    #[schema(value_type = String, format = "decimal", example = "1.75")]
    pub credits_per_image: Credits,
    /// `credits_per_image × quality multiplier × n`.
    #[schema(value_type = String, format = "decimal", example = "2.625")]
    pub total_credits: Credits,
}

/// Price a generation without making it.
#[utoipa::path(tag = "pricing", operation_id = "pricing_quote", params(QuoteParams), responses(
    (status = 200, description = "The price", body = QuoteView),
    (status = 400, description = "Invalid quality or n", body = ErrorBody),
    (status = 404, description = "No such model", body = ErrorBody),
))]
#[get("/pricing/quote")]
pub async fn quote(
    _: PublicRateLimited,
    state: web::Data<AppState>,
    params: web::Query<QuoteParams>,
) -> Result<HttpResponse, ApiError> {
    let QuoteParams { model, quality, n } = params.into_inner();
    let quality = Quality::from_wire(quality.as_deref())?;
    let n = ImageCount::from_wire(n)?;
    let model = state.db(move |conn| catalog::get_model(conn, &model)).await?;
    if !model.active {
        return Err(ApiError::not_found("model"));
    }
    let total = generation_cost(model.credits_per_image, quality, n)?;
    Ok(HttpResponse::Ok().json(QuoteView {
        model: model.id,
        quality: quality.as_str().to_string(),
        n: n.get(),
        credits_per_image: model.credits_per_image,
        total_credits: total,
    }))
}
