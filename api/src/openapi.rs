//! The OpenAPI 3.1 document, built from the same route table as the router
//! (`routes::v1`, `routes::ops`), so the two cannot disagree.

use std::sync::OnceLock;

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::{Modify, OpenApi};

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
Authenticated requests are rate limited per API key or session (`X-RateLimit-Limit`, `X-RateLimit-Remaining`, \
429 with `Retry-After`); `/v1/auth/*` is also limited per client IP. Request bodies over 64 KiB (configurable) answer 413.",
        license(name = "Apache-2.0"),
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Sign up and log in"),
        (name = "account", description = "The caller and their accounts"),
        (name = "api_keys", description = "API keys"),
        (name = "catalog", description = "Packages, models and prices"),
        (name = "balance", description = "The credit balance"),
        (name = "transactions", description = "The credit ledger"),
        (name = "generations", description = "Image generations, charged per model, quality and count"),
        (name = "usage", description = "Usage analytics and notifications"),
        (name = "settings", description = "Low-balance alerts and automatic top-up"),
        (name = "purchases", description = "Buying credit packages, and refunds of unused credits"),
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
    }
}

/// The full document.
pub fn document() -> OpenApiDoc {
    static DOC: OnceLock<OpenApiDoc> = OnceLock::new();
    DOC.get_or_init(|| crate::startup::route_table(actix_web::App::new()).1).clone()
}

/// The document as YAML (what `apinfer openapi` prints and `openapi.yaml` holds).
pub fn yaml() -> String {
    static YAML: OnceLock<String> = OnceLock::new();
    // The document is plain data built by utoipa; serializing it cannot fail.
    YAML.get_or_init(|| document().to_yaml().expect("the OpenAPI document serializes to YAML")).clone()
}
