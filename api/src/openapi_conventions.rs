//! What every operation of the document shares, written once here instead of on each of the
//! handlers: the error statuses each kind of operation can answer (with the error schema),
//! the response headers (`X-Request-Id`, `X-RateLimit-*`, `Retry-After`,
//! `Idempotent-Replayed`), `security: []` on public operations, binary image bodies and the
//! `servers` list. Applied to the document the route table builds, so a new handler gets them
//! without anyone remembering to.

use serde_json::{json, Map, Value};

/// Shared responses, by component name: (status, name, description).
const ERRORS: &[(&str, &str, &str)] = &[
    (
        "400",
        "BadRequest",
        "The request is invalid: a parameter or the body (`invalid_request`; `param` names the field)",
    ),
    ("401", "Unauthorized", "Missing, invalid, expired or revoked token (`authentication_required`)"),
    (
        "403",
        "Forbidden",
        "The token may not do this: a key without the scope, or a role without the right (`permission_denied`)",
    ),
    ("404", "NotFound", "No such resource in this account (`not_found`)"),
    (
        "409",
        "Conflict",
        "An `Idempotency-Key` reused with another request, or one still in flight (`idempotency_conflict`)",
    ),
    ("422", "Unprocessable", "Well-formed, but refused in the state it meets (e.g. a size the model does not offer, an expiry in the past, nothing left to refund)"),
    ("408", "RequestTimeout", "The body did not arrive within the server's body timeout (`invalid_request`, code `body_timeout`)"),
    ("413", "PayloadTooLarge", "The body is larger than the server accepts (`invalid_request`)"),
    ("415", "UnsupportedMediaType", "The body is not JSON: send `Content-Type: application/json` (`invalid_request`)"),
    ("429", "RateLimited", "Too many requests; retry after `Retry-After` seconds (`rate_limited`)"),
    ("500", "InternalError", "An unexpected error; the request id helps support find it (`internal`)"),
    ("503", "Unavailable", "The database is unreachable or overloaded; retry (`unavailable`)"),
];

/// Credits a request may give: at most 12 whole digits and 4 fractional ones (the server's
/// grammar, [`apinfer_core::credits::MAX_WHOLE_DIGITS`]).
const CREDITS: &str = r"^[0-9]{1,12}(\.[0-9]{1,4})?$";
/// More than zero.
const POSITIVE_CREDITS: &str = r"^([1-9][0-9]{0,11}(\.[0-9]{1,4})?|0\.[0-9]{0,3}[1-9])$";
/// Not zero, either sign (admin adjustments).
const SIGNED_CREDITS: &str = r"^-?([1-9][0-9]{0,11}(\.[0-9]{1,4})?|0\.[0-9]{0,3}[1-9])$";
/// A name: 1–100 characters, not all blank.
const NAME: &str = r"\S";
/// `WIDTHxHEIGHT`, each side 64–4096 pixels.
const SIZE: &str = r"^(6[4-9]|[7-9][0-9]|[1-9][0-9]{2}|[1-3][0-9]{3}|40[0-8][0-9]|409[0-6])x(6[4-9]|[7-9][0-9]|[1-9][0-9]{2}|[1-3][0-9]{3}|40[0-8][0-9]|409[0-6])$";

/// The bounds the server enforces on request fields, stated in the spec: (schema, property,
/// keywords merged into the property's schema).
fn input_bounds() -> Vec<(&'static str, &'static str, Value)> {
    let credits = json!({"pattern": CREDITS});
    let name = json!({"minLength": 1, "maxLength": 100, "pattern": NAME});
    let catalog_id = json!({"pattern": "^[a-z0-9._-]{1,64}$"});
    let prompt = json!({"minLength": 1, "maxLength": 4000, "pattern": r"\S"});
    let n = json!({"minimum": 1, "maximum": 10});
    let size = json!({"pattern": format!("({SIZE})|^auto$")});
    let sizes = json!({"minItems": 1, "items": {"type": "string", "pattern": SIZE}});
    vec![
        ("AddMemberRequest", "monthly_spend_limit", credits.clone()),
        ("AdjustmentRequest", "credits", json!({"pattern": SIGNED_CREDITS})),
        ("AdjustmentRequest", "reason", json!({"minLength": 1, "pattern": r"\S"})),
        ("AutoTopupSettings", "threshold", credits.clone()),
        ("AutoTopupSettings", "max_topups_per_day", json!({"minimum": 1, "maximum": 100})),
        ("LowBalanceAlertRequest", "threshold", credits.clone()),
        ("LowBalanceAlertRequest", "webhook_url", json!({"format": "uri", "pattern": "^https?://", "maxLength": 2048})),
        ("CreateApiKeyRequest", "name", name.clone()),
        ("CreateApiKeyRequest", "spend_limit", credits.clone()),
        ("CreateApiKeyRequest", "scopes", json!({"minItems": 1})),
        ("CreateGenerationRequest", "prompt", prompt.clone()),
        ("CreateGenerationRequest", "n", n.clone()),
        ("CreateGenerationRequest", "size", size.clone()),
        ("OpenAiImageRequest", "prompt", prompt),
        ("OpenAiImageRequest", "n", n),
        ("OpenAiImageRequest", "size", size),
        ("CreateModelRequest", "id", catalog_id.clone()),
        ("CreateModelRequest", "name", name.clone()),
        ("CreateModelRequest", "credits_per_image", credits.clone()),
        ("CreateModelRequest", "sizes", sizes.clone()),
        ("UpdateModelRequest", "name", name.clone()),
        ("UpdateModelRequest", "credits_per_image", credits),
        ("UpdateModelRequest", "sizes", sizes),
        ("CreatePackageRequest", "id", catalog_id),
        ("CreatePackageRequest", "name", name.clone()),
        ("CreatePackageRequest", "credits", json!({"pattern": POSITIVE_CREDITS})),
        ("UpdatePackageRequest", "name", name.clone()),
        ("UpdatePackageRequest", "credits", json!({"pattern": POSITIVE_CREDITS})),
        ("SignupRequest", "email", json!({"maxLength": 254, "pattern": r"^[!-?A-~]+@[!-\-/-~][!-~]*\.[!-~]*$"})),
        ("SignupRequest", "password", json!({"minLength": 8, "maxLength": 1024, "pattern": r"\S"})),
        ("SignupRequest", "name", json!({"maxLength": 100})),
        ("LoginRequest", "password", json!({"maxLength": 1024})),
    ]
}

/// Operations that touch no database and parse nothing: only these answer no 500/503.
const STATIC_PATHS: &[&str] = &["/healthz", "/openapi.yaml"];

/// Applies the conventions to a serialized document.
pub fn apply(doc: &mut Value) {
    doc["servers"] = json!([{
        "url": "http://localhost:8080",
        "description": "A local `apinfer serve`; use your deployment's own origin (its `APINFER_PUBLIC_BASE_URL`)"
    }]);
    for (schema, property, bounds) in input_bounds() {
        let target = &mut doc["components"]["schemas"][schema]["properties"][property];
        assert!(target.is_object(), "input bounds name {schema}.{property}, which the document lacks");
        let mut merged = bounds.as_object().cloned().unwrap_or_default();
        // A nullable field (`type: [T, "null"]`) keeps null acceptable: the bounds apply to T.
        for (k, v) in std::mem::take(target.as_object_mut().expect("an object")) {
            merged.entry(k).or_insert(v);
        }
        *target = Value::Object(merged);
    }
    let components = doc["components"].as_object_mut().expect("the document has components");
    components.insert("headers".into(), headers());
    let mut responses = Map::new();
    for (status, name, description) in ERRORS {
        let mut headers = json!({"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}});
        if *status == "429" {
            headers["Retry-After"] = json!({"$ref": "#/components/headers/Retry-After"});
            rate_limit_headers(&mut headers);
        }
        responses.insert(
            (*name).into(),
            json!({
                "description": description,
                "headers": headers,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
            }),
        );
    }
    components.insert("responses".into(), Value::Object(responses));

    let Some(paths) = doc["paths"].as_object_mut() else { return };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else { continue };
        for (_method, op) in item.iter_mut() {
            if let Some(op) = op.as_object_mut() {
                operation(path, op);
            }
        }
    }
    // Keep only the shared responses some operation refers to.
    let used = doc["paths"].to_string();
    if let Some(responses) = doc["components"]["responses"].as_object_mut() {
        responses.retain(|name, _| used.contains(&format!("\"#/components/responses/{name}\"")));
    }
}

fn operation(path: &str, op: &mut Map<String, Value>) {
    let requirements = op.get("security").and_then(Value::as_array).cloned().unwrap_or_default();
    let secured = requirements.iter().any(|r| r.as_object().is_some_and(|r| !r.is_empty()));
    // Keys and sessions have scopes and roles; other credentials (the metrics token) do not.
    let scoped = requirements.iter().any(|r| r.get("bearer").is_some());
    if requirements.is_empty() {
        // Public: say so, rather than leave the reader to guess.
        op.insert("security".into(), json!([]));
    }
    let params = op.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default();
    let has_body = op.contains_key("requestBody");
    let has_query_or_body = has_body || params.iter().any(|p| p["in"] == "query");
    let idempotent = params.iter().any(|p| p["in"] == "header" && p["name"] == "Idempotency-Key");
    let limited = path.starts_with("/v1/");
    if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
        for p in params.iter_mut().filter(|p| p["in"] == "header" && p["name"] == "Idempotency-Key") {
            p["schema"] = json!({"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"});
        }
    }
    if op.get("tags").and_then(Value::as_array).is_some_and(|t| t.iter().any(|t| t == "webhooks")) {
        // Called by payment providers, not by SDK users.
        op.insert("x-sdk-exclude".into(), json!(true));
    }

    let responses = op.entry("responses").or_insert_with(|| json!({})).as_object_mut().expect("responses is a map");
    for (status, name, _) in ERRORS {
        let applies = match *status {
            "400" => has_query_or_body || path.contains('{'),
            "401" => secured,
            "403" => scoped,
            "404" => path.contains('{') || params.iter().any(|p| p["name"] == "cursor"),
            "422" => has_query_or_body,
            "409" => idempotent,
            "408" | "413" | "415" => has_body,
            "429" => limited,
            _ => !STATIC_PATHS.contains(&path),
        };
        if applies && !responses.contains_key(*status) {
            responses.insert((*status).into(), json!({"$ref": format!("#/components/responses/{name}")}));
        }
    }
    for (status, response) in responses.iter_mut() {
        let Some(response) = response.as_object_mut() else { continue };
        if response.contains_key("$ref") {
            continue;
        }
        let headers = response.entry("headers").or_insert_with(|| json!({}));
        headers["X-Request-Id"] = json!({"$ref": "#/components/headers/X-Request-Id"});
        if limited && status != "401" {
            rate_limit_headers(headers);
        }
        if status == "429" {
            headers["Retry-After"] = json!({"$ref": "#/components/headers/Retry-After"});
        }
        if idempotent && status.starts_with('2') {
            headers["Idempotent-Replayed"] = json!({"$ref": "#/components/headers/Idempotent-Replayed"});
        }
        if let Some(content) = response.get_mut("content").and_then(Value::as_object_mut) {
            for (media, body) in content.iter_mut() {
                if media.starts_with("image/") {
                    body["schema"] = json!({"type": "string", "format": "binary", "contentMediaType": media});
                } else if media == "application/yaml" {
                    // YAML text that parses to the document.
                    body["schema"] = json!({"type": "object"});
                }
            }
        }
    }
}

fn rate_limit_headers(headers: &mut Value) {
    for name in ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"] {
        headers[name] = json!({"$ref": format!("#/components/headers/{name}")});
    }
}

fn headers() -> Value {
    json!({
        "X-Request-Id": {
            "description": "The request's id (`req_...`, or the client's own `X-Request-Id` when it is at most 128 visible ASCII characters); quote it to support",
            "required": true,
            "schema": {"type": "string", "maxLength": 128}
        },
        "X-RateLimit-Limit": {
            "description": "Requests allowed in a burst: per API key or session, or per client IP on public endpoints and `/v1/auth/*`",
            "schema": {"type": "integer", "minimum": 1}
        },
        "X-RateLimit-Remaining": {
            "description": "Requests left in the current burst",
            "schema": {"type": "integer", "minimum": 0}
        },
        "X-RateLimit-Reset": {
            "description": "Seconds until the burst allowance is whole again",
            "schema": {"type": "integer", "minimum": 0}
        },
        "Retry-After": {
            "description": "Seconds to wait before retrying",
            "schema": {"type": "integer", "minimum": 0}
        },
        "Idempotent-Replayed": {
            "description": "`true` when this is the stored answer to an earlier request with the same `Idempotency-Key`",
            "schema": {"type": "string", "enum": ["true"]}
        }
    })
}
