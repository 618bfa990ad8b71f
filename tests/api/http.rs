//! HTTP semantics every route shares (issue 16): CORS for bearer tokens from any origin, 405
//! with `Allow`, 415 for bodies that are not JSON, the client's own `X-Request-Id`, rate-limit
//! headers (with `X-RateLimit-Reset`) and per-IP limits on public endpoints, signed image URLs
//! built from the configured base URL, OpenAI-shaped models, and `size: "auto"`.

use reqwest::Method;
use serde_json::json;

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};
use crate::per_backend;

async fn cors_lets_any_origin_call_with_a_bearer_token_but_never_with_credentials(app: TestApp) {
    let preflight = app
        .request(
            Method::OPTIONS,
            "/v1/balance",
            None,
            None,
            &[
                ("Origin", "https://app.example.org"),
                ("Access-Control-Request-Method", "GET"),
                ("Access-Control-Request-Headers", "authorization, idempotency-key"),
            ],
        )
        .await;
    assert_eq!(preflight.status.as_u16(), 204, "{}", preflight.text);
    assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
    assert!(preflight.header("access-control-allow-credentials").is_none());
    let allowed = preflight.header("access-control-allow-headers").unwrap_or_default().to_ascii_lowercase();
    assert!(allowed.contains("authorization") && allowed.contains("idempotency-key"), "{allowed}");
    assert!(preflight.header("x-request-id").is_some());

    let ada = app.signup("ada@example.com").await;
    let res =
        app.request(Method::GET, "/v1/balance", Some(&ada.token), None, &[("Origin", "https://app.example.org")]).await;
    assert_eq!(res.status.as_u16(), 200);
    assert_eq!(res.header("access-control-allow-origin"), Some("*"));
    assert!(res.header("access-control-allow-credentials").is_none(), "credentialed reads must never be allowed");
    let exposed = res.header("access-control-expose-headers").unwrap_or_default().to_ascii_lowercase();
    for name in ["x-request-id", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "retry-after"] {
        assert!(exposed.contains(name), "{name} not exposed: {exposed}");
    }
}

async fn a_wrong_method_answers_405_with_allow(app: TestApp) {
    let res = app.request(Method::DELETE, "/v1/balance", None, None, &[]).await;
    assert_eq!(res.header("allow"), Some("GET"));
    res.expect_error(405, "invalid_request", "method_not_allowed");
    let res = app.request(Method::PATCH, "/v1/api-keys", None, None, &[]).await;
    assert_eq!(res.header("allow"), Some("GET, POST"));
    res.expect_error(405, "invalid_request", "method_not_allowed");
    let res = app.request(Method::PUT, "/v1/generations/gen_abc/images/0", None, None, &[]).await;
    assert_eq!(res.header("allow"), Some("GET"));
    assert_eq!(res.status.as_u16(), 405);
    app.get("/v1/no-such-thing", None).await.expect_error(404, "not_found", "route_not_found");
}

async fn a_body_that_is_not_json_answers_415_and_writes_nothing(app: TestApp) {
    let body = json!({"email": "text@example.com", "password": "correct horse battery"}).to_string();
    let res = app
        .client
        .post(format!("{}/v1/auth/signup", app.base))
        .header("content-type", "text/plain")
        .body(body.clone())
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status().as_u16(), 415);
    let error: serde_json::Value = res.json().await.expect("json");
    assert_eq!(error["error"]["code"], "unsupported_media_type");
    // Nothing was created: the same sign-up as JSON succeeds.
    app.raw_post("/v1/auth/signup", body, &[]).await.expect(201);
}

async fn a_sane_client_request_id_is_kept(app: TestApp) {
    let res = app.request(Method::GET, "/v1/balance", None, None, &[("X-Request-Id", "trace-42.abc")]).await;
    assert_eq!(res.header("x-request-id"), Some("trace-42.abc"));
    assert_eq!(res.body["error"]["request_id"], "trace-42.abc");
    let long = "x".repeat(129);
    for bad in ["has space", long.as_str()] {
        let res = app.request(Method::GET, "/healthz", None, None, &[("X-Request-Id", bad)]).await;
        let id = res.header("x-request-id").expect("an id");
        assert!(id.starts_with("req_"), "{bad:?} must be replaced, got {id}");
    }
}

async fn limited_responses_carry_the_reset(app: TestApp) {
    let ada = app.signup("reset@example.com").await;
    let res = app.get("/v1/balance", Some(&ada.token)).await;
    for name in ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"] {
        assert!(res.header(name).is_some_and(|v| v.parse::<u64>().is_ok()), "{name}: {:?}", res.headers);
    }
    let res = app.get("/v1/packages", None).await;
    assert_eq!(res.header("x-ratelimit-limit"), Some("10000"), "public endpoints are limited per IP");
}

async fn public_endpoints_are_limited_per_ip(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.public_rate_limit_per_minute = 2).await else { return };
    for remaining in ["1", "0"] {
        let res = app.get("/v1/models", None).await;
        assert_eq!(res.header("x-ratelimit-remaining"), Some(remaining));
        res.expect(200);
    }
    let res = app.get("/v1/pricing/quote?model=qwen-image", None).await;
    assert!(res.header("retry-after").is_some_and(|s| s.parse::<u64>().is_ok_and(|s| s >= 1)));
    assert!(res.header("x-ratelimit-reset").is_some_and(|s| s.parse::<u64>().is_ok_and(|s| s >= 1)));
    res.expect_error(429, "rate_limited", "rate_limited");
}

async fn image_urls_are_signed_expire_and_come_from_the_configured_base(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.public_base_url = Some("http://images.apinfer.test".into());
        c.image_url_ttl_seconds = 600;
    })
    .await
    else {
        return;
    };
    let admin = app.admin().await;
    let ada = app.signup("urls@example.com").await;
    app.grant(&admin, &ada.account_id, "100").await;
    let generation = app
        .request(
            Method::POST,
            "/v1/generations",
            Some(&ada.token),
            Some(json!({"model": "qwen-image", "prompt": "a fox", "n": 2, "size": "auto"})),
            &[("Host", "evil.example"), ("X-Forwarded-Host", "evil.example")],
        )
        .await
        .expect(201);
    assert_eq!(generation["size"], "1024x1024", "size auto is the model's default");
    let url = generation["images"][0]["url"].as_str().unwrap().to_string();
    let other = generation["images"][1]["url"].as_str().unwrap().to_string();
    assert!(url.starts_with("http://images.apinfer.test/v1/generations/"), "{url}");
    let local = |u: &str| u.replacen("http://images.apinfer.test", &app.base, 1);

    // No Authorization header: the signature is the credential.
    let res = app.client.get(local(&url)).send().await.expect("sent");
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert_eq!(&res.bytes().await.expect("bytes")[..8], b"\x89PNG\r\n\x1a\n");

    // Altered: another image's index with this signature, or a changed expiry or signature.
    let (path, query) = local(&url).split_once('?').map(|(p, q)| (p.to_string(), q.to_string())).unwrap();
    let other_query = other.split_once('?').unwrap().1;
    let altered = [
        format!("{}1?{query}", path.trim_end_matches('0')),
        format!("{path}?{}", query.replacen("expires=", "expires=9", 1)),
        format!("{path}?{other_query}"),
    ];
    for bad in altered {
        let res = app.client.get(&bad).send().await.expect("sent");
        assert_eq!(res.status().as_u16(), 403, "{bad}");
        let body: serde_json::Value = res.json().await.expect("json");
        assert_eq!(body["error"]["code"], "invalid_signature", "{bad}");
    }
    // Without signature or header: authentication is required.
    app.get(path.trim_start_matches(&app.base), None).await.expect_error(
        401,
        "authentication_required",
        "missing_token",
    );

    // Expired.
    app.clock.advance(chrono::Duration::seconds(601));
    let res = app.client.get(local(&url)).send().await.expect("sent");
    assert_eq!(res.status().as_u16(), 403);
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body["error"]["code"], "url_expired");
    // A fresh read of the generation signs anew.
    let id = generation["id"].as_str().unwrap();
    let again = app.get(&format!("/v1/generations/{id}"), Some(&ada.token)).await.expect(200);
    let fresh = local(again["images"][0]["url"].as_str().unwrap());
    assert_eq!(app.client.get(fresh).send().await.expect("sent").status().as_u16(), 200);
}

async fn models_have_openai_shape_and_can_be_retrieved(app: TestApp) {
    let list = app.get("/v1/models", None).await.expect(200);
    assert_eq!(list["object"], "list");
    let model = list["data"].as_array().unwrap().iter().find(|m| m["id"] == "qwen-image").expect("qwen-image").clone();
    assert_eq!(model["object"], "model");
    assert_eq!(model["owned_by"], "apinfer");
    assert!(model["created"].as_i64().is_some_and(|t| t > 0));
    assert_eq!(model["credits_per_image"], "1.75", "our own fields stay");
    let one = app.get("/v1/models/qwen-image", None).await.expect(200);
    assert_eq!(one, model);
    app.get("/v1/models/no-such-model", None).await.expect_error(404, "not_found", "resource_missing");
}

backend_tests!(
    bodies_are_read_exactly_as_the_spec_says,
    cors_lets_any_origin_call_with_a_bearer_token_but_never_with_credentials,
    a_wrong_method_answers_405_with_allow,
    a_body_that_is_not_json_answers_415_and_writes_nothing,
    a_sane_client_request_id_is_kept,
    limited_responses_carry_the_reset,
    models_have_openai_shape_and_can_be_retrieved,
);
per_backend!(public_endpoints_are_limited_per_ip, image_urls_are_signed_expire_and_come_from_the_configured_base);

/// What request bodies accept, as the spec states it: credits only as decimal strings,
/// integers also as integral JSON numbers (`2.0`), emails of printable ASCII, untrimmed.
async fn bodies_are_read_exactly_as_the_spec_says(app: TestApp) {
    let admin = app.admin().await;
    let ada = app.signup("grammar@example.com").await;
    app.grant(&admin, &ada.account_id, "10").await;
    let t = Some(ada.token.as_str());
    let generation = app.post("/v1/generations", t, json!({"model": "qwen-image", "prompt": "x", "n": 2.0})).await;
    assert_eq!(generation.expect(201)["n"], 2);
    app.post("/v1/generations", t, json!({"model": "qwen-image", "prompt": "x", "n": 1.5})).await.expect_error(
        400,
        "invalid_request",
        "invalid_parameter",
    );
    for spend_limit in [json!(5), json!(" 5"), json!("+5")] {
        app.post("/v1/api-keys", t, json!({"name": "k", "scopes": ["usage:read"], "spend_limit": spend_limit}))
            .await
            .expect_error(400, "invalid_request", "invalid_parameter");
    }
    // Well-formed, past the documented maximum of 12 whole digits: 422.
    app.post("/v1/api-keys", t, json!({"name": "k", "scopes": ["usage:read"], "spend_limit": "1000000000000"}))
        .await
        .expect_error(422, "invalid_request", "amount_too_large");
    app.post("/v1/api-keys", t, json!({"name": "k", "scopes": ["usage:read"], "spend_limit": "999999999999.5"}))
        .await
        .expect(201);
    for email in [" spaced@example.com", "zero\u{200b}width@example.com", "bidi\u{202e}@example.com", "ünï@example.com"]
    {
        let body = json!({"email": email, "password": "correct horse battery"});
        app.post("/v1/auth/signup", None, body).await.expect_error(400, "invalid_request", "invalid_email");
    }
}
