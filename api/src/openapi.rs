//! The OpenAPI 3.1 document, built from the same route table as the router
//! (`routes::v1`, `routes::ops`), so the two cannot disagree.

use std::sync::OnceLock;

use actix_web::dev::{ServiceFactory, ServiceRequest};
use actix_web::App;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::{scope, AppExt};

use crate::routes;

/// Title, description, tags, and the bearer security scheme.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "apinfer",
        description = "Prepaid credits for AI image generation: buy credit packages, check the balance, \
spend credits on image generations priced per model and quality, read usage history.\n\n\
Credits are exact decimal strings with at most 4 fractional digits (\"1.75\"), never floats. \
Errors have the shape `{\"error\": {\"type\", \"code\", \"message\", \"param\", \"request_id\"}}`. \
Every POST that creates or spends honours an `Idempotency-Key` header (replayed for 24 h, \
`Idempotent-Replayed: true`), except `POST /v1/api-keys`, whose secret is never stored. \
Lists take `limit` (1–100, default 20) and `cursor`, and answer `{data, has_more, next_cursor}`, newest first. \
Authenticated requests are rate limited per API key or session, public ones per client IP, and `/v1/auth/*` \
also per client IP against password guessing: every limited response carries `X-RateLimit-Limit`, \
`X-RateLimit-Remaining` and `X-RateLimit-Reset` (seconds), and a 429 `Retry-After`. \
Request bodies are JSON (`Content-Type: application/json`; anything else answers 415). \
A wrong method answers 405 with `Allow`. Browsers may call the API from any origin with a bearer token \
(CORS, no credentials). Every response carries `X-Request-Id` (the client's own when it sends a sane one). \
Generated image URLs are signed and work without the `Authorization` header until they expire (an hour by default). \
Request bodies over 64 KiB (configurable) answer 413, and a body not sent within 10 s of its headers \
(configurable) answers 408. \
An amount of credits has at most 12 whole digits (more answers 422 `amount_too_large`), and a balance \
is at most 1,000,000,000,000 credits (a credit past it answers 422 `balance_limit_exceeded`). \
A session token names a session that `POST /v1/auth/logout` ends (`/v1/auth/logout-all`: every session \
of the user); removing a member ends their sessions in that account and revokes the API keys they made there.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    modifiers(&BearerAuth),
    // Enums that only query parameters use are not collected from the handlers.
    components(schemas(
        crate::enums::QualityInput,
        crate::enums::GroupBy,
        crate::enums::ExportFormat,
        crate::enums::TransactionType,
    )),
    tags(
        (name = "auth", description = "Sign up and log in"),
        (name = "me", description = "The caller: user, account, role, memberships"),
        (name = "account", description = "The account the caller acts for"),
        (name = "members", description = "Members of family and business accounts"),
        (name = "api_keys", description = "API keys"),
        (name = "audit", description = "Who did what to the account, and when"),
        (name = "webhook_endpoints", description = "Where the account's events are sent, signed, with a delivery log"),
        (name = "events", description = "What happened to the account: generations, purchases, refunds, alerts, top-ups, keys"),
        (name = "packages", description = "Credit packages on sale"),
        (name = "models", description = "Image models and their prices (OpenAI-compatible listing)"),
        (name = "pricing", description = "Price quotes"),
        (name = "balance", description = "The credit balance"),
        (name = "transactions", description = "The credit ledger"),
        (name = "generations", description = "Image generations, charged per model, quality and count"),
        (name = "images", description = "OpenAI-compatible image generation"),
        (name = "usage", description = "Usage analytics"),
        (name = "notifications", description = "Low-balance and automatic top-up notifications"),
        (name = "settings", description = "Low-balance alerts and automatic top-up"),
        (name = "purchases", description = "Buying credit packages, and refunds of unused credits"),
        (name = "refunds", description = "Refunds of unused credits"),
        (name = "payment_methods", description = "Saved cards"),
        (name = "webhooks", description = "Signed events from payment providers"),
        (name = "admin", description = "apinfer administration"),
        (name = "operations", description = "Health, readiness, metrics, this document"),
    ),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.description = Some("An API key (`sk_...`) or a session token from `POST /v1/auth/login`.".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
        let mut metrics = Http::new(HttpAuthScheme::Bearer);
        metrics.description = Some("`APINFER_METRICS_TOKEN`, when the server is configured with one.".into());
        components.add_security_scheme("metrics_token", SecurityScheme::Http(metrics));
    }
}

/// Mounts every route on `app`; returns the app and the OpenAPI document it describes.
pub fn route_table<T>(app: App<T>) -> (App<T>, utoipa::openapi::OpenApi)
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>,
{
    app.into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .service(scope::scope("/v1").configure(routes::v1))
        .configure(routes::ops)
        .split_for_parts()
}

/// The full document: what the route table describes, with the shared conventions applied
/// (see [`crate::openapi_conventions`]). Kept as JSON data, in utoipa's key order.
pub fn document() -> &'static serde_json::Value {
    static DOC: OnceLock<serde_json::Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let described: OpenApiDoc = route_table(actix_web::App::new()).1;
        // The document is plain data built by utoipa; serializing it cannot fail.
        let mut doc = serde_json::to_value(described).expect("the OpenAPI document serializes");
        crate::openapi_conventions::apply(&mut doc);
        doc
    })
}

/// The document as YAML (what `apinfer openapi` prints and `openapi.yaml` holds).
pub fn yaml() -> &'static str {
    static YAML: OnceLock<String> = OnceLock::new();
    YAML.get_or_init(|| serde_yaml::to_string(document()).expect("JSON data serializes to YAML"))
}
