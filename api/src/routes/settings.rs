//! Account settings: the low-balance alert and automatic top-up (owner or admin session).

use actix_web::{get, put, web, HttpResponse};
use apinfer_core::store::alerts::{self, AlertSettings};
use apinfer_core::store::audit::Action;
use apinfer_core::store::autotopup::{self, AutoTopup};
use apinfer_core::Credits;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::audit::audited;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::outbound::check_webhook_url;
use crate::state::AppState;

/// The low-balance alert.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LowBalanceAlertRequest {
    pub enabled: bool,
    /// Alert when `available` drops from at least this to below it.
    #[schema(value_type = String, format = "decimal", example = "100")]
    pub threshold: Credits,
    /// Where to POST `balance.low` events (http(s); private addresses refused unless allowed).
    pub webhook_url: Option<String>,
}

/// The low-balance alert, with the secret that signs its webhooks.
#[derive(Serialize, ToSchema)]
pub struct LowBalanceAlertView {
    pub enabled: bool,
    #[schema(value_type = String, format = "decimal", example = "100")]
    pub threshold: Credits,
    pub webhook_url: Option<String>,
    /// Verifies `Apinfer-Signature` on this account's webhooks (`whsec_...`).
    pub webhook_secret: String,
}

impl From<AlertSettings> for LowBalanceAlertView {
    fn from(s: AlertSettings) -> Self {
        LowBalanceAlertView {
            enabled: s.enabled,
            threshold: s.threshold,
            webhook_url: s.webhook_url,
            webhook_secret: s.webhook_secret,
        }
    }
}

/// The low-balance alert settings.
#[utoipa::path(tag = "settings", operation_id = "settings_retrieve_low_balance_alert", security(("bearer" = [])), responses(
    (status = 200, description = "The settings", body = LowBalanceAlertView),
    (status = 403, description = "Not an owner/admin session", body = ErrorBody),
))]
#[get("/settings/low-balance-alert")]
pub async fn get_alert(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    caller.require_manager()?;
    let settings = state.db(move |conn| alerts::alert_settings(conn, &caller.account_id)).await?;
    Ok(HttpResponse::Ok().json(LowBalanceAlertView::from(settings)))
}

/// Set the low-balance alert: one `low_balance` notification (and `balance.low` webhook) per
/// downward crossing of the threshold by `available`.
#[utoipa::path(tag = "settings", operation_id = "settings_update_low_balance_alert", security(("bearer" = [])), request_body = LowBalanceAlertRequest, responses(
    (status = 200, description = "The settings", body = LowBalanceAlertView),
    (status = 400, description = "Invalid threshold or webhook URL (including private addresses)", body = ErrorBody),
    (status = 403, description = "Not an owner/admin session", body = ErrorBody),
))]
#[put("/settings/low-balance-alert")]
pub async fn put_alert(
    caller: Caller,
    state: web::Data<AppState>,
    body: crate::extract::Json<LowBalanceAlertRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require_manager()?;
    let request = body.into_inner();
    if let Some(url) = &request.webhook_url {
        check_webhook_url(url, state.config.allow_private_webhooks).await?;
    }
    let who = (caller.account_id.clone(), caller.actor());
    let settings = audited(
        &state,
        who,
        Action::LowBalanceAlertUpdated,
        move |conn, now| {
            let url = request.webhook_url.as_deref();
            alerts::put_alert_settings(conn, &caller.account_id, request.enabled, request.threshold, url, now)
        },
        |s| (None, json!({"enabled": s.enabled, "threshold": s.threshold, "webhook_url": s.webhook_url})),
    )
    .await?;
    Ok(HttpResponse::Ok().json(LowBalanceAlertView::from(settings)))
}

/// Automatic top-up.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoTopupSettings {
    pub enabled: bool,
    /// Buy when `available` drops below this.
    #[schema(value_type = String, format = "decimal", example = "50")]
    pub threshold: Credits,
    /// The package to buy.
    #[schema(example = "standard")]
    pub package_id: String,
    /// The saved card to charge (`pm_...`).
    pub payment_method_id: String,
    /// At most this many top-ups per UTC day (1–100).
    #[schema(example = 3)]
    #[serde(deserialize_with = "crate::extract::integer")]
    pub max_topups_per_day: i32,
}

impl From<AutoTopup> for AutoTopupSettings {
    fn from(s: AutoTopup) -> Self {
        AutoTopupSettings {
            enabled: s.enabled,
            threshold: s.threshold,
            package_id: s.package_id,
            payment_method_id: s.payment_method_id,
            max_topups_per_day: s.max_topups_per_day,
        }
    }
}

/// The automatic top-up settings as they are: never set, they are off with nothing chosen.
#[derive(Serialize, ToSchema)]
pub struct AutoTopupView {
    pub enabled: bool,
    /// Buy when `available` drops below this (null: never set).
    #[schema(value_type = Option<String>, format = "decimal", example = "50")]
    pub threshold: Option<Credits>,
    /// The package to buy (null: never set).
    #[schema(example = "standard")]
    pub package_id: Option<String>,
    /// The saved card to charge (`pm_...`; null: never set).
    pub payment_method_id: Option<String>,
    /// At most this many top-ups per UTC day (null: never set).
    #[schema(example = 3)]
    pub max_topups_per_day: Option<i32>,
}

impl From<Option<AutoTopup>> for AutoTopupView {
    fn from(s: Option<AutoTopup>) -> Self {
        match s {
            Some(s) => AutoTopupView {
                enabled: s.enabled,
                threshold: Some(s.threshold),
                package_id: Some(s.package_id),
                payment_method_id: Some(s.payment_method_id),
                max_topups_per_day: Some(s.max_topups_per_day),
            },
            None => AutoTopupView {
                enabled: false,
                threshold: None,
                package_id: None,
                payment_method_id: None,
                max_topups_per_day: None,
            },
        }
    }
}

/// The automatic top-up settings (off, with nothing chosen, until set).
#[utoipa::path(tag = "settings", operation_id = "settings_retrieve_auto_topup", security(("bearer" = [])), responses(
    (status = 200, description = "The settings", body = AutoTopupView),
    (status = 403, description = "Not an owner/admin session", body = ErrorBody),
))]
#[get("/settings/auto-topup")]
pub async fn get_topup(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    caller.require_manager()?;
    let settings = state.db(move |conn| autotopup::get(conn, &caller.account_id)).await?;
    Ok(HttpResponse::Ok().json(AutoTopupView::from(settings)))
}

/// Set automatic top-up: when `available` drops below the threshold, the package is bought
/// with the saved card, one at a time per account, at most `max_topups_per_day`; every
/// outcome is a notification.
#[utoipa::path(tag = "settings", operation_id = "settings_update_auto_topup", security(("bearer" = [])), request_body = AutoTopupSettings, responses(
    (status = 200, description = "The settings", body = AutoTopupSettings),
    (status = 400, description = "Invalid threshold or maximum", body = ErrorBody),
    (status = 403, description = "Not an owner/admin session", body = ErrorBody),
    (status = 404, description = "No such package or saved card", body = ErrorBody),
))]
#[put("/settings/auto-topup")]
pub async fn put_topup(
    caller: Caller,
    state: web::Data<AppState>,
    body: crate::extract::Json<AutoTopupSettings>,
) -> Result<HttpResponse, ApiError> {
    caller.require_manager()?;
    let r = body.into_inner();
    let settings = AutoTopup {
        enabled: r.enabled,
        threshold: r.threshold,
        package_id: r.package_id,
        payment_method_id: r.payment_method_id,
        max_topups_per_day: r.max_topups_per_day,
    };
    let who = (caller.account_id.clone(), caller.actor());
    let saved = audited(
        &state,
        who,
        Action::AutoTopupUpdated,
        move |conn, now| autotopup::put(conn, &caller.account_id, &settings, now),
        |s| {
            let details = json!({
                "enabled": s.enabled,
                "threshold": s.threshold,
                "package_id": s.package_id,
                "payment_method_id": s.payment_method_id,
                "max_topups_per_day": s.max_topups_per_day,
            });
            (None, details)
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(AutoTopupSettings::from(saved)))
}
