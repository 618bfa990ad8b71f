//! Administration by apinfer staff (users created with `apinfer admin create-user --admin`):
//! balance adjustments, account types, and the catalog.

use actix_web::http::StatusCode;
use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use apinfer_core::crediting;
use apinfer_core::ids::{AccountId, PurchaseId, RefundId};
use apinfer_core::pricing::Tier;
use apinfer_core::store::accounts::{self, AccountType};
use apinfer_core::store::audit::Action;
use apinfer_core::store::catalog::{self, Model, ModelChanges, Package, PackageChanges};
use apinfer_core::Credits;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::audit::audited;

use super::account::AccountView;
use super::catalog::{ModelList, ModelView, PackageList, PackageView};
use super::purchases::{PurchaseView, RefundView};
use super::transactions::TransactionView;
use super::views::MoneyView;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::idempotency::{self, parse_json, IdempotencyKey};
use crate::state::AppState;

/// A manual correction of an account's balance.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentRequest {
    /// Signed credits: positive adds, negative removes (never below `available`).
    #[schema(value_type = String, format = "decimal", example = "25")]
    pub credits: Credits,
    /// Why; required, shown in the ledger as the description.
    #[schema(example = "compensation for incident 42")]
    pub reason: String,
}

fn account_id(id: &str) -> Result<AccountId, ApiError> {
    AccountId::parse(id).ok_or_else(|| ApiError::not_found("account"))
}

/// Add or remove credits with a reason (ledger type `adjustment`; honours `Idempotency-Key`).
/// Adjustments are not purchase lots: they are never refundable.
#[utoipa::path(tag = "admin", operation_id = "admin_create_adjustment", security(("bearer" = [])), request_body = AdjustmentRequest,
    params(("id" = String, Path, description = "`acct_...`"), ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    responses(
        (status = 201, description = "The ledger entry", body = TransactionView),
        (status = 400, description = "Invalid credits or missing reason", body = ErrorBody),
        (status = 402, description = "A removal larger than the available credits", body = ErrorBody),
        (status = 403, description = "Not an apinfer admin", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "Idempotency conflict", body = ErrorBody),
    ))]
#[post("/admin/accounts/{id}/adjustments")]
pub async fn create_adjustment(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    key: IdempotencyKey,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    caller.require_platform_admin()?;
    let account = account_id(&id)?;
    let request: AdjustmentRequest = parse_json(&body)?;
    let run_state = state.clone();
    idempotency::run(state, caller.account_id.clone(), key, &req, &body, move || async move {
        let (admin, who) = (caller.user_id.clone(), (account.clone(), caller.actor()));
        let entry = audited(
            &run_state,
            who,
            Action::AdjustmentMade,
            move |conn, now| {
                apinfer_core::adjusting::adjust(conn, &account, request.credits, &request.reason, &admin, now)
            },
            |entry| {
                let details = json!({"credits": entry.credits, "reason": entry.description});
                (Some(entry.id.to_string()), details)
            },
        )
        .await?;
        Ok((StatusCode::CREATED, TransactionView::from(entry)))
    })
    .await
}

/// A new account type.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAccountRequest {
    /// `personal`, `family` or `business`.
    #[serde(rename = "type")]
    #[schema(value_type = crate::enums::AccountType, example = "family")]
    pub account_type: String,
}

/// Change an account's type (family/business accounts are "available upon request").
#[utoipa::path(tag = "admin", operation_id = "admin_update_account", security(("bearer" = [])), request_body = UpdateAccountRequest,
    params(("id" = String, Path, description = "`acct_...`")),
    responses(
        (status = 200, description = "The account", body = AccountView),
        (status = 400, description = "Unknown type", body = ErrorBody),
        (status = 403, description = "Not an apinfer admin", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "Members prevent becoming personal", body = ErrorBody),
    ))]
#[patch("/admin/accounts/{id}")]
pub async fn update_account(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: crate::extract::Json<UpdateAccountRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require_platform_admin()?;
    let account = account_id(&id)?;
    let account_type = AccountType::parse(&body.account_type)
        .ok_or_else(|| ApiError::invalid("invalid_type", "type must be personal, family or business", Some("type")))?;
    let updated = audited(
        &state,
        (account.clone(), caller.actor()),
        Action::AccountTypeChanged,
        move |conn, now| accounts::set_account_type(conn, &account, account_type, now),
        |updated| (Some(updated.id.to_string()), json!({"type": updated.account_type.as_str()})),
    )
    .await?;
    Ok(HttpResponse::Ok().json(AccountView::from(updated)))
}

fn parse_tier(text: &str) -> Result<Tier, ApiError> {
    Tier::parse(text)
        .ok_or_else(|| ApiError::invalid("invalid_tier", "tier must be basic, standard or premium", Some("tier")))
}

/// A new model.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateModelRequest {
    /// Slug: a-z, 0-9, `-`, `_`, `.`.
    #[schema(example = "flux-schnell")]
    pub id: String,
    pub name: String,
    /// `basic`, `standard` or `premium`.
    #[schema(value_type = crate::enums::Tier)]
    pub tier: String,
    /// Must lie within the tier's range.
    #[schema(value_type = String, format = "decimal", example = "0.5")]
    pub credits_per_image: Credits,
    /// Supported sizes (default `["1024x1024"]`).
    pub sizes: Option<Vec<String>>,
    pub active: Option<bool>,
}

/// Changes to a model; the price must stay within the (new) tier's range.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateModelRequest {
    pub name: Option<String>,
    #[schema(value_type = Option<crate::enums::Tier>)]
    pub tier: Option<String>,
    #[schema(value_type = Option<String>, format = "decimal", example = "2")]
    pub credits_per_image: Option<Credits>,
    pub sizes: Option<Vec<String>>,
    pub active: Option<bool>,
}

/// All models, including inactive ones.
#[utoipa::path(tag = "admin", operation_id = "admin_list_models", security(("bearer" = [])), responses(
    (status = 200, description = "Models", body = ModelList),
    (status = 403, description = "Not an apinfer admin", body = ErrorBody),
))]
#[get("/admin/models")]
pub async fn list_models(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    caller.require_platform_admin()?;
    let models = state.db(|conn| catalog::list_models(conn, true)).await?;
    Ok(HttpResponse::Ok().json(ModelList {
        object: "list",
        data: models.into_iter().map(ModelView::from).collect(),
        has_more: false,
        next_cursor: None,
    }))
}

/// Add a model.
#[utoipa::path(tag = "admin", operation_id = "admin_create_model", security(("bearer" = [])), request_body = CreateModelRequest, responses(
    (status = 201, description = "The model", body = ModelView),
    (status = 400, description = "Invalid id, name, tier or sizes", body = ErrorBody),
    (status = 403, description = "Not an apinfer admin", body = ErrorBody),
    (status = 409, description = "The id is taken", body = ErrorBody),
    (status = 422, description = "Price outside the tier's range", body = ErrorBody),
))]
#[post("/admin/models")]
pub async fn create_model(
    caller: Caller,
    state: web::Data<AppState>,
    body: crate::extract::Json<CreateModelRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require_platform_admin()?;
    let r = body.into_inner();
    let model = Model {
        tier: parse_tier(&r.tier)?,
        id: r.id,
        name: r.name,
        credits_per_image: r.credits_per_image,
        sizes: r.sizes.unwrap_or_else(|| vec!["1024x1024".to_string()]),
        active: r.active.unwrap_or(true),
        created_at: state.now(),
    };
    let now = state.now();
    let created = state.db(move |conn| catalog::create_model(conn, &model, now)).await?;
    Ok(HttpResponse::Created().json(ModelView::from(created)))
}

/// Change a model's name, tier, price, sizes or availability.
#[utoipa::path(tag = "admin", operation_id = "admin_update_model", security(("bearer" = [])), request_body = UpdateModelRequest,
    params(("id" = String, Path, description = "Model id")),
    responses(
        (status = 200, description = "The model", body = ModelView),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 403, description = "Not an apinfer admin", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 422, description = "Price outside the tier's range", body = ErrorBody),
    ))]
#[patch("/admin/models/{id}")]
pub async fn update_model(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: crate::extract::Json<UpdateModelRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require_platform_admin()?;
    let r = body.into_inner();
    let changes = ModelChanges {
        tier: r.tier.as_deref().map(parse_tier).transpose()?,
        name: r.name,
        credits_per_image: r.credits_per_image,
        sizes: r.sizes,
        active: r.active,
    };
    let id = id.into_inner();
    let model = state.db(move |conn| catalog::update_model(conn, &id, changes)).await?;
    Ok(HttpResponse::Ok().json(ModelView::from(model)))
}

/// A new package.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePackageRequest {
    #[schema(example = "mega")]
    pub id: String,
    pub name: String,
    #[schema(value_type = String, format = "decimal", example = "100000")]
    pub credits: Credits,
    pub price: MoneyView,
    pub popular: Option<bool>,
    pub active: Option<bool>,
}

/// Changes to a package.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePackageRequest {
    pub name: Option<String>,
    #[schema(value_type = Option<String>, format = "decimal", example = "6000")]
    pub credits: Option<Credits>,
    pub price: Option<MoneyView>,
    pub popular: Option<bool>,
    pub active: Option<bool>,
}

/// All packages, including inactive ones.
#[utoipa::path(tag = "admin", operation_id = "admin_list_packages", security(("bearer" = [])), responses(
    (status = 200, description = "Packages", body = PackageList),
    (status = 403, description = "Not an apinfer admin", body = ErrorBody),
))]
#[get("/admin/packages")]
pub async fn list_packages(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    caller.require_platform_admin()?;
    let packages = state.db(|conn| catalog::list_packages(conn, true)).await?;
    Ok(HttpResponse::Ok().json(PackageList {
        data: packages.into_iter().map(PackageView::from).collect(),
        has_more: false,
        next_cursor: None,
    }))
}

/// Add a package.
#[utoipa::path(tag = "admin", operation_id = "admin_create_package", security(("bearer" = [])), request_body = CreatePackageRequest, responses(
    (status = 201, description = "The package", body = PackageView),
    (status = 400, description = "Invalid field", body = ErrorBody),
    (status = 403, description = "Not an apinfer admin", body = ErrorBody),
    (status = 409, description = "The id is taken", body = ErrorBody),
))]
#[post("/admin/packages")]
pub async fn create_package(
    caller: Caller,
    state: web::Data<AppState>,
    body: crate::extract::Json<CreatePackageRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require_platform_admin()?;
    let r = body.into_inner();
    let package = Package {
        price: r.price.to_money("price")?,
        id: r.id,
        name: r.name,
        credits: r.credits,
        popular: r.popular.unwrap_or(false),
        active: r.active.unwrap_or(true),
    };
    let now = state.now();
    let created = state.db(move |conn| catalog::create_package(conn, &package, now)).await?;
    Ok(HttpResponse::Created().json(PackageView::from(created)))
}

/// Change a package.
#[utoipa::path(tag = "admin", operation_id = "admin_update_package", security(("bearer" = [])), request_body = UpdatePackageRequest,
    params(("id" = String, Path, description = "Package id")),
    responses(
        (status = 200, description = "The package", body = PackageView),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 403, description = "Not an apinfer admin", body = ErrorBody),
        (status = 404, description = "No such package", body = ErrorBody),
    ))]
#[patch("/admin/packages/{id}")]
pub async fn update_package(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: crate::extract::Json<UpdatePackageRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require_platform_admin()?;
    let r = body.into_inner();
    let changes = PackageChanges {
        price: r.price.as_ref().map(|p| p.to_money("price")).transpose()?,
        name: r.name,
        credits: r.credits,
        popular: r.popular,
        active: r.active,
    };
    let id = id.into_inner();
    let package = state.db(move |conn| catalog::update_package(conn, &id, changes)).await?;
    Ok(HttpResponse::Ok().json(PackageView::from(package)))
}

/// Confirm that a bank transfer (or wallet payment) arrived: credits the purchase, once.
/// Confirming a purchase already credited changes nothing.
#[utoipa::path(tag = "admin", operation_id = "admin_confirm_purchase", security(("bearer" = [])), params(("id" = String, Path, description = "`pur_...`")),
    responses(
        (status = 200, description = "The purchase, succeeded", body = PurchaseView),
        (status = 403, description = "Not an apinfer admin", body = ErrorBody),
        (status = 404, description = "No such purchase", body = ErrorBody),
        (status = 409, description = "The purchase failed or was refunded", body = ErrorBody),
    ))]
#[post("/admin/purchases/{id}/confirm")]
pub async fn confirm_purchase(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require_platform_admin()?;
    let id = PurchaseId::parse(&id).ok_or_else(|| ApiError::not_found("purchase"))?;
    let now = state.now();
    let (purchase, credited) = state.db(move |conn| crediting::confirm_by_admin(conn, &id, now)).await?;
    if !credited && purchase.succeeded_at.is_none() {
        return Err(ApiError::new(
            crate::error::ErrorKind::Conflict,
            "purchase_not_awaiting_payment",
            format!("a {} purchase cannot be confirmed", purchase.status.as_str()),
        ));
    }
    Ok(HttpResponse::Ok().json(PurchaseView::at(purchase, now)))
}

/// Mark a refund's money as arrived at the customer (`succeeded`).
#[utoipa::path(tag = "admin", operation_id = "admin_complete_refund", security(("bearer" = [])), params(("id" = String, Path, description = "`ref_...`")),
    responses(
        (status = 200, description = "The refund, succeeded", body = RefundView),
        (status = 403, description = "Not an apinfer admin", body = ErrorBody),
        (status = 404, description = "No such refund", body = ErrorBody),
    ))]
#[post("/admin/refunds/{id}/complete")]
pub async fn complete_refund(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require_platform_admin()?;
    let id = RefundId::parse(&id).ok_or_else(|| ApiError::not_found("refund"))?;
    let now = state.now();
    let refund = state.db(move |conn| apinfer_core::store::refunds::complete_refund(conn, &id, now)).await?;
    Ok(HttpResponse::Ok().json(RefundView::from(refund)))
}
