//! The sandbox payment provider's own pages, served by apinfer under `/sandbox/` (never part of
//! the API, and absent in production, which refuses the sandbox): what a real provider's
//! hosted pages and script do for its test mode.
//!
//! - `GET /sandbox/checkout`: a card form that turns the documented test card numbers into
//!   test tokens in the browser (the number never leaves the page) and hands the token to the
//!   page that opened it (`postMessage`), as Stripe.js would.
//! - `GET /sandbox/{3ds|alipay|wechat_pay}/{purchase_id}`: the customer's side of a
//!   `next_action`, with buttons to complete or fail it, which `POST .../complete` or
//!   `.../fail` (the provider confirming or refusing the payment, as its webhook would).

use actix_web::{web, HttpResponse};
use apinfer_core::ids::PurchaseId;
use apinfer_core::store::purchases::{self, MethodType, PurchaseStatus};
use serde::Serialize;

use crate::error::ApiError;
use crate::state::AppState;

/// Mounts the pages.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/sandbox/checkout", web::get().to(checkout))
        .route("/sandbox/{kind}/{purchase_id}", web::get().to(next_action_page))
        .route("/sandbox/{kind}/{purchase_id}/{outcome}", web::post().to(settle));
}

async fn checkout() -> HttpResponse {
    html(include_str!("sandbox/checkout.html"))
}

/// The next actions the sandbox plays, and the purchases' payment methods they belong to.
fn method_of(kind: &str) -> Option<MethodType> {
    match kind {
        "3ds" => Some(MethodType::Card),
        "alipay" => Some(MethodType::Alipay),
        "wechat_pay" => Some(MethodType::WechatPay),
        _ => None,
    }
}

async fn next_action_page(path: web::Path<(String, String)>) -> Result<HttpResponse, ApiError> {
    let (kind, purchase) = path.into_inner();
    let title = match kind.as_str() {
        "3ds" => "3-D Secure authentication",
        "alipay" => "Alipay",
        "wechat_pay" => "WeChat Pay",
        _ => return Err(ApiError::not_found("sandbox page")),
    };
    PurchaseId::parse(&purchase).ok_or_else(|| ApiError::not_found("purchase"))?;
    let page = include_str!("sandbox/next_action.html").replace("{{title}}", title).replace("{{kind}}", &kind);
    Ok(html(&page.replace("{{purchase}}", &purchase)))
}

/// What settling a next action did.
#[derive(Serialize)]
struct Settled {
    purchase_id: String,
    status: String,
}

async fn settle(
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (kind, purchase, outcome) = path.into_inner();
    let method = method_of(&kind).ok_or_else(|| ApiError::not_found("sandbox page"))?;
    let id = PurchaseId::parse(&purchase).ok_or_else(|| ApiError::not_found("purchase"))?;
    let succeed = match outcome.as_str() {
        "complete" => true,
        "fail" => false,
        _ => return Err(ApiError::not_found("sandbox page")),
    };
    let now = state.now();
    let (purchase, _) = state
        .db(move |conn| {
            let found = purchases::get_any(conn, &id)?;
            let waiting = found.provider == "sandbox"
                && found.method_type == method
                && found.status == PurchaseStatus::RequiresAction;
            if !waiting {
                return Err(apinfer_core::Error::conflict(
                    "not_awaiting_action",
                    "this purchase is not waiting for this sandbox action",
                ));
            }
            if succeed {
                apinfer_core::crediting::credit(conn, &id, found.provider_charge.as_deref(), now)
            } else {
                let (code, message) = match method {
                    MethodType::Card => ("authentication_failed", "the cardholder failed 3-D Secure authentication"),
                    _ => ("payment_canceled", "the customer canceled the payment"),
                };
                Ok((purchases::mark_failed(conn, &id, code, message, now)?, false))
            }
        })
        .await?;
    Ok(HttpResponse::Ok()
        .json(Settled { purchase_id: purchase.id.to_string(), status: purchase.status.as_str().into() }))
}

fn html(page: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
        ))
        .body(page.to_string())
}
