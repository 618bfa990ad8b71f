use base64::Engine;
use futures::future::join_all;
use reqwest::Method;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{dec, metric, Backend, TestApp, TestUser};
use crate::{backend_tests, per_backend};

async fn funded(app: &TestApp, credits: &str) -> (TestUser, String) {
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    app.grant(&admin, &ada.account_id, credits).await;
    let (_, key) = app.api_key(&ada, &["generations:write", "balance:read", "usage:read"]).await;
    (ada, key)
}

fn gen(model: &str, quality: &str, n: u32) -> Value {
    json!({"model": model, "prompt": "a lighthouse at dusk", "quality": quality, "n": n, "size": "512x512"})
}

fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    (u32::from_be_bytes(bytes[16..20].try_into().unwrap()), u32::from_be_bytes(bytes[20..24].try_into().unwrap()))
}

async fn generations_charge_exactly_the_guides_prices(app: TestApp) {
    let (_, key) = funded(&app, "100").await;
    let mut expected_balance = Decimal::from(100);
    for (quality, n, cost) in [
        ("standard", 1, "1.75"),
        ("high", 1, "2.625"),
        ("hd", 1, "2.625"),
        ("ultra", 1, "3.5"),
        ("high", 3, "7.875"),
        ("ultra", 10, "35"),
    ] {
        let g = app.post("/v1/generations", Some(&key), gen("qwen-image", quality, n)).await.expect(201);
        assert_eq!(g["credits_charged"], cost, "{quality} x{n}");
        assert_eq!(g["status"], "succeeded");
        assert_eq!(g["images"].as_array().unwrap().len(), n as usize);
        expected_balance -= dec(&json!(cost));
        let b = app.balance(&key).await;
        assert_eq!(dec(&b["balance"]), expected_balance);
        assert_eq!(b["held"], "0");
    }
    // Resolution never changes the cost.
    for size in ["512x512", "1024x1024", "1664x928", "928x1664"] {
        let g = app
            .post("/v1/generations", Some(&key), json!({"model": "qwen-image", "prompt": "x", "size": size}))
            .await
            .expect(201);
        assert_eq!(g["credits_charged"], "1.75", "{size}");
        assert_eq!(g["size"], size);
    }
    let entries = app.all_transactions(&key).await;
    let generation = &entries[0];
    assert_eq!((generation["type"].as_str(), generation["credits"].as_str()), (Some("generation"), Some("-1.75")));
    assert!(generation["reference_id"].as_str().unwrap().starts_with("gen_"));
    assert!(generation["api_key_id"].as_str().unwrap().starts_with("key_"));
    app.assert_ledger_consistent(&key).await;
}

async fn images_are_real_pngs_served_with_auth(app: TestApp) {
    let (_, key) = funded(&app, "100").await;
    let g = app
        .post("/v1/generations", Some(&key), json!({"model": "qwen-image", "prompt": "red fox", "n": 2, "size": "1664x928", "response_format": "b64_json"}))
        .await
        .expect(201);
    let id = g["id"].as_str().unwrap();
    let image = &g["images"][1];
    assert_eq!(
        (image["index"].as_i64(), image["width"].as_i64(), image["height"].as_i64()),
        (Some(1), Some(1664), Some(928))
    );
    assert_eq!(image["content_type"], "image/png");
    let res = app.client.get(image["url"].as_str().unwrap()).bearer_auth(&key).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    let bytes = res.bytes().await.unwrap();
    assert_eq!(png_size(&bytes), (1664, 928));
    let inline = base64::engine::general_purpose::STANDARD.decode(image["b64_json"].as_str().unwrap()).unwrap();
    assert_eq!(inline, bytes.to_vec(), "b64_json is the same image");
    // Deterministic: the same prompt renders the same image.
    let again = app
        .post("/v1/generations", Some(&key), json!({"model": "qwen-image", "prompt": "red fox", "size": "1664x928"}))
        .await
        .expect(201);
    let first = app
        .client
        .get(again["images"][0]["url"].as_str().unwrap())
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let original = app
        .client
        .get(g["images"][0]["url"].as_str().unwrap())
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(first, original);
    // Stored once: three images shown, two distinct contents.
    let pool = app.pool.clone();
    let (images, blobs) = tokio::task::spawn_blocking(move || {
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = pool.get().unwrap();
        let mut count = |sql: &str| diesel::sql_query(sql).get_result::<Count>(&mut conn).unwrap().n;
        (count("SELECT COUNT(*) AS n FROM generation_images"), count("SELECT COUNT(*) AS n FROM image_blobs"))
    })
    .await
    .unwrap();
    assert_eq!((images, blobs), (3, 2));
    assert!(again["images"][0].get("b64_json").is_none(), "url format has no inline image");
    // Others cannot see it; unknown indexes are 404.
    let bob = app.signup("bob@example.com").await;
    app.get(&format!("/v1/generations/{id}/images/0"), Some(&bob.token)).await.expect_error(
        404,
        "not_found",
        "resource_missing",
    );
    app.get(&format!("/v1/generations/{id}"), Some(&bob.token)).await.expect_error(
        404,
        "not_found",
        "resource_missing",
    );
    app.get(&format!("/v1/generations/{id}/images/5"), Some(&key)).await.expect_error(
        404,
        "not_found",
        "resource_missing",
    );
    app.get(&format!("/v1/generations/{id}/images/0"), None).await.expect_error(
        401,
        "authentication_required",
        "missing_token",
    );
    let fetched = app.get(&format!("/v1/generations/{id}"), Some(&key)).await.expect(200);
    assert_eq!(fetched["id"], id);
    assert_eq!(fetched["credits_charged"], "3.5");
}

async fn bad_requests_hold_nothing(app: TestApp) {
    let (_, key) = funded(&app, "10").await;
    let t = Some(key.as_str());
    let post = |body: Value| app.post("/v1/generations", t, body);
    post(json!({"model": "qwen-image", "prompt": "x", "size": "100x100"})).await.expect_error(
        422,
        "invalid_request",
        "unsupported_size",
    );
    post(json!({"model": "qwen-image", "prompt": "x", "size": "big"})).await.expect_error(
        400,
        "invalid_request",
        "invalid_size",
    );
    post(json!({"model": "qwen-image", "prompt": "x", "quality": "max"})).await.expect_error(
        400,
        "invalid_request",
        "invalid_quality",
    );
    post(json!({"model": "qwen-image", "prompt": "x", "n": 11})).await.expect_error(
        400,
        "invalid_request",
        "invalid_n",
    );
    post(json!({"model": "qwen-image", "prompt": "x", "n": 0})).await.expect_error(400, "invalid_request", "invalid_n");
    post(json!({"model": "qwen-image", "prompt": "  "})).await.expect_error(400, "invalid_request", "invalid_prompt");
    post(json!({"model": "qwen-image", "prompt": "x".repeat(4001)})).await.expect_error(
        400,
        "invalid_request",
        "invalid_prompt",
    );
    post(json!({"model": "qwen-image", "prompt": "x", "response_format": "gif"})).await.expect_error(
        400,
        "invalid_request",
        "invalid_response_format",
    );
    post(json!({"model": "nope", "prompt": "x"})).await.expect_error(404, "not_found", "resource_missing");
    post(json!({"prompt": "x"})).await.expect_error(400, "invalid_request", "invalid_parameter");
    // 10 credits cannot pay 6 ultra images (21): 402, nothing held, nothing recorded.
    post(json!({"model": "qwen-image", "prompt": "x", "quality": "ultra", "n": 6})).await.expect_error(
        402,
        "insufficient_credits",
        "insufficient_credits",
    );
    let b = app.balance(&key).await;
    assert_eq!((b["balance"].as_str(), b["held"].as_str()), (Some("10"), Some("0")));
    assert!(app.get("/v1/generations", t).await.expect(200)["data"].as_array().unwrap().is_empty());
    let (_, reader) = {
        let ada = app.signup("reader@example.com").await;
        app.api_key(&ada, &["balance:read"]).await
    };
    app.post("/v1/generations", Some(&reader), gen("qwen-image", "standard", 1)).await.expect_error(
        403,
        "permission_denied",
        "missing_scope",
    );
}

/// 50 concurrent generations against a balance that fits 20: exactly 20 succeed.
async fn concurrent_generations_never_overdraw(app: TestApp) {
    let (_, key) = funded(&app, "35").await;
    let requests = (0..50).map(|i| {
        let (app, key) = (&app, &key);
        async move {
            app.post(
                "/v1/generations",
                Some(key),
                json!({"model": "qwen-image", "prompt": format!("p{i}"), "size": "512x512"}),
            )
            .await
        }
    });
    let results = join_all(requests).await;
    let ok = results.iter().filter(|r| r.status == 201).count();
    let refused = results.iter().filter(|r| r.status == 402).count();
    assert_eq!(
        (ok, refused),
        (20, 30),
        "{:?}",
        results.iter().filter(|r| r.status != 201 && r.status != 402).map(|r| &r.text).collect::<Vec<_>>()
    );
    let b = app.balance(&key).await;
    assert_eq!((b["balance"].as_str(), b["held"].as_str(), b["available"].as_str()), (Some("0"), Some("0"), Some("0")));
    assert_eq!(app.all_transactions(&key).await.len(), 21);
    app.assert_ledger_consistent(&key).await;
    // Fifty at once queue behind each other's transactions, so the set path (holds and
    // captures run as sets, refusals decided in memory) is what was checked above.
    let metrics = app.get("/metrics", None).await.text;
    let set_units = metric(&metrics, "apinfer_group_commit_set_units_total");
    assert!(set_units > 0.0, "no request ran as part of a set:\n{metrics}");
}

async fn idempotent_replays_never_charge_twice(app: TestApp) {
    let (_, key) = funded(&app, "10").await;
    let body = gen("qwen-image", "ultra", 1);
    let headers = [("Idempotency-Key", "gen-1")];
    let first = app.request(Method::POST, "/v1/generations", Some(&key), Some(body.clone()), &headers).await;
    assert_eq!(first.status, 201);
    let results = join_all(
        (0..5).map(|_| app.request(Method::POST, "/v1/generations", Some(&key), Some(body.clone()), &headers)),
    )
    .await;
    for r in results {
        assert_eq!(r.status, 201);
        assert_eq!(r.header("idempotent-replayed"), Some("true"));
        assert_eq!(r.body["id"], first.body["id"]);
    }
    assert_eq!(app.balance(&key).await["balance"], "6.5");
    assert_eq!(app.get("/v1/generations", Some(&key)).await.expect(200)["data"].as_array().unwrap().len(), 1);
}

async fn key_spend_limits_hold_under_concurrency(app: TestApp) {
    let (ada, _) = funded(&app, "100").await;
    let created = app
        .post(
            "/v1/api-keys",
            Some(&ada.token),
            json!({"name": "capped", "scopes": ["generations:write"], "spend_limit": "10"}),
        )
        .await
        .expect(201);
    let key = created["key"].as_str().unwrap().to_string();
    let results = join_all((0..12).map(|i| {
        let (app, key) = (&app, &key);
        async move {
            app.post(
                "/v1/generations",
                Some(key),
                json!({"model": "qwen-image", "prompt": format!("{i}"), "size": "512x512"}),
            )
            .await
        }
    }))
    .await;
    let ok = results.iter().filter(|r| r.status == 201).count();
    assert_eq!(ok, 5, "10 / 1.75 = 5 generations fit under the limit");
    for r in results.iter().filter(|r| r.status != 201) {
        assert_eq!((r.status.as_u16(), r.body["error"]["code"].as_str()), (402, Some("spend_limit_exceeded")));
    }
    let keys = app.get("/v1/api-keys", Some(&ada.token)).await.expect(200);
    let capped = keys["data"].as_array().unwrap().iter().find(|k| k["id"] == created["id"]).unwrap().clone();
    assert_eq!(capped["spent"], "8.75");
    assert_eq!(app.balance(&ada.token).await["balance"], "91.25");
    app.assert_ledger_consistent(&ada.token).await;
}

async fn history_lists_and_filters(app: TestApp) {
    let (_, key) = funded(&app, "100").await;
    for i in 0..5 {
        app.post(
            "/v1/generations",
            Some(&key),
            json!({"model": "qwen-image", "prompt": format!("{i}"), "size": "512x512"}),
        )
        .await
        .expect(201);
    }
    let page = app.get("/v1/generations?limit=2", Some(&key)).await.expect(200);
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    assert_eq!(page["data"][0]["prompt"], "4");
    let next = app
        .get(&format!("/v1/generations?limit=2&cursor={}", page["next_cursor"].as_str().unwrap()), Some(&key))
        .await
        .expect(200);
    assert_eq!(next["data"][0]["prompt"], "2");
    assert!(app.get("/v1/generations?model=other", Some(&key)).await.expect(200)["data"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(
        app.get("/v1/generations?model=qwen-image&limit=100", Some(&key)).await.expect(200)["data"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
}

async fn openai_compatible_endpoint_charges_alike(app: TestApp) {
    let (_, key) = funded(&app, "10").await;
    let res = app
        .post(
            "/v1/images/generations",
            Some(&key),
            json!({"model": "qwen-image", "prompt": "cat", "quality": "hd", "size": "512x512", "style": "vivid"}),
        )
        .await;
    let body = res.expect(200);
    assert!(body["created"].as_i64().unwrap() > 1_700_000_000);
    let url = body["data"][0]["url"].as_str().unwrap();
    let bytes = app.client.get(url).bearer_auth(&key).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(png_size(&bytes), (512, 512));
    let b64 = app
        .post(
            "/v1/images/generations",
            Some(&key),
            json!({"model": "qwen-image", "prompt": "cat", "n": 2, "size": "512x512", "response_format": "b64_json"}),
        )
        .await
        .expect(200);
    assert_eq!(b64["data"].as_array().unwrap().len(), 2);
    assert!(b64["data"][0].get("url").is_none());
    let decoded =
        base64::engine::general_purpose::STANDARD.decode(b64["data"][0]["b64_json"].as_str().unwrap()).unwrap();
    assert_eq!(png_size(&decoded), (512, 512));
    assert_eq!(app.balance(&key).await["balance"], "3.875", "10 − 2.625 (hd) − 3.5");
    let short =
        app.post("/v1/images/generations", Some(&key), json!({"model": "qwen-image", "prompt": "cat", "n": 3})).await;
    let err = short.expect_error(402, "insufficient_credits", "insufficient_credits");
    assert!(err["error"]["message"].as_str().is_some(), "OpenAI clients read error.message");
}

/// Many accounts generating the same new image at once (each in its own transaction, on
/// PostgreSQL each account's in its own lane): every one succeeds and is charged, and the bytes
/// are stored once, and rendered once.
async fn the_same_image_on_many_accounts_at_once(app: TestApp) {
    let admin = app.admin().await;
    let mut keys = Vec::new();
    for i in 0..8 {
        let user = app.signup(&format!("same-image-{i}@example.com")).await;
        app.grant(&admin, &user.account_id, "20").await;
        keys.push(app.api_key(&user, &["generations:write", "balance:read", "usage:read"]).await.1);
    }
    let body = json!({"model": "qwen-image", "prompt": "one popular prompt", "size": "512x512", "n": 2});
    let answers = futures::future::join_all(
        (0..32).map(|i| app.post("/v1/generations", Some(keys[i % keys.len()].as_str()), body.clone())),
    )
    .await;
    for answer in &answers {
        assert_eq!(answer.status.as_u16(), 201, "{}", answer.text);
    }
    for key in &keys {
        assert_eq!(app.balance(key).await["balance"], "6", "four generations of 2 × 1.75");
        app.assert_ledger_consistent(key).await;
    }
    let pool = app.pool.clone();
    let blobs = tokio::task::spawn_blocking(move || {
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let sql = "SELECT COUNT(*) AS n FROM image_blobs";
        diesel::sql_query(sql).get_result::<Count>(&mut pool.get().unwrap()).unwrap().n
    })
    .await
    .unwrap();
    assert_eq!(blobs, 2, "two distinct images, stored once each");
    // Each image was rendered once: the requests that found it being rendered waited for that
    // render rather than queueing their own behind the cores.
    let metrics = app.get("/metrics", None).await.text;
    assert_eq!(metric(&metrics, "apinfer_local_renders_total"), 2.0, "{metrics}");
}

/// A value read back from the database that this version does not know (a row written by a
/// newer one, or damaged) is an error, never read as some default: a generation whose stored
/// quality is unknown is not shown as `standard`.
async fn unknown_stored_values_are_errors_not_defaults(app: TestApp) {
    let (_, key) = funded(&app, "10").await;
    let created = app.post("/v1/generations", Some(&key), gen("qwen-image", "high", 1)).await.expect(201);
    let id = created["id"].as_str().unwrap().to_string();
    let path = format!("/v1/generations/{id}");
    assert_eq!(app.get(&path, Some(&key)).await.expect(200)["quality"], "high");
    let pool = app.pool.clone();
    tokio::task::spawn_blocking(move || {
        use diesel::RunQueryDsl;
        let sql = format!("UPDATE generations SET quality = 'extreme' WHERE id = '{id}'");
        diesel::sql_query(sql).execute(&mut *pool.get().unwrap()).unwrap();
    })
    .await
    .unwrap();
    app.get(&path, Some(&key)).await.expect_error(500, "internal", "internal_error");
}

backend_tests!(
    the_same_image_on_many_accounts_at_once,
    generations_charge_exactly_the_guides_prices,
    images_are_real_pngs_served_with_auth,
    bad_requests_hold_nothing,
    concurrent_generations_never_overdraw,
    idempotent_replays_never_charge_twice,
    key_spend_limits_hold_under_concurrency,
    history_lists_and_filters,
    openai_compatible_endpoint_charges_alike,
    unknown_stored_values_are_errors_not_defaults,
);

async fn upstream_app(backend: Backend, mock: &MockServer, timeout: u64, hold_timeout: u64) -> Option<TestApp> {
    let uri = mock.uri();
    TestApp::spawn_with(backend, move |c| {
        c.upstream = Some(apinfer_api::config::UpstreamConfig {
            base_url: format!("{uri}/v1"),
            api_key: secrecy::SecretString::from("upstream-secret-key"),
            models: vec!["qwen-image".into()],
            upstream_model: Some("qwen-image-upstream".into()),
            timeout_seconds: timeout,
            max_retries: 1,
        });
        c.hold_timeout_seconds = hold_timeout;
        c.sweep_interval_seconds = 1;
    })
    .await
}

fn upstream_png(width: u32, height: u32) -> String {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgb);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&vec![200u8; (width * height * 3) as usize]).unwrap();
    }
    base64::engine::general_purpose::STANDARD.encode(out)
}

async fn upstream_provider_success_and_failures(backend: Backend) {
    let mock = MockServer::start().await;
    let Some(app) = upstream_app(backend, &mock, 2, 300).await else { return };
    let (_, key) = funded(&app, "10").await;
    // Short of credits: no upstream call at all.
    app.post("/v1/generations", Some(&key), gen("qwen-image", "ultra", 3)).await.expect_error(
        402,
        "insufficient_credits",
        "insufficient_credits",
    );
    assert!(mock.received_requests().await.unwrap().is_empty(), "no provider call when credits are short");
    // Success: the upstream's image is stored and served.
    Mock::given(method("POST"))
        .and(path("/v1/images/generations"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"created": 1, "data": [{"b64_json": upstream_png(512, 512)}]})),
        )
        .up_to_n_times(1)
        .mount(&mock)
        .await;
    let ok = app.post("/v1/generations", Some(&key), gen("qwen-image", "standard", 1)).await.expect(201);
    let sent: Value = mock.received_requests().await.unwrap()[0].body_json().unwrap();
    assert_eq!((sent["model"].as_str(), sent["size"].as_str()), (Some("qwen-image-upstream"), Some("512x512")));
    let bytes = app
        .client
        .get(ok["images"][0]["url"].as_str().unwrap())
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(png_size(&bytes), (512, 512));
    assert_eq!(app.balance(&key).await["balance"], "8.25");
    // 500s: 502 upstream_error naming the generation; nothing charged, nothing held.
    mock.reset().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(500).set_body_string("boom")).mount(&mock).await;
    let failed = app.post("/v1/generations", Some(&key), gen("qwen-image", "high", 2)).await;
    let err = failed.expect_error(502, "upstream_error", "upstream_error");
    let id = err["error"]["generation_id"].as_str().unwrap();
    let g = app.get(&format!("/v1/generations/{id}"), Some(&key)).await.expect(200);
    assert_eq!(
        (g["status"].as_str(), g["credits_charged"].as_str(), g["error_code"].as_str()),
        (Some("failed"), Some("0"), Some("upstream_error"))
    );
    assert_eq!(mock.received_requests().await.unwrap().len(), 2, "one retry");
    // Malformed body: 502, nothing charged.
    mock.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{not json"))
        .mount(&mock)
        .await;
    app.post("/v1/generations", Some(&key), gen("qwen-image", "standard", 1)).await.expect_error(
        502,
        "upstream_error",
        "upstream_error",
    );
    // Timeout: 502, nothing charged.
    mock.reset().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(std::time::Duration::from_secs(5))
                .set_body_json(json!({"created": 1, "data": []})),
        )
        .mount(&mock)
        .await;
    app.post("/v1/generations", Some(&key), gen("qwen-image", "standard", 1)).await.expect_error(
        502,
        "upstream_error",
        "upstream_error",
    );
    let b = app.balance(&key).await;
    assert_eq!((b["balance"].as_str(), b["held"].as_str()), (Some("8.25"), Some("0")));
    app.assert_ledger_consistent(&key).await;
}

/// A generation that outlives its hold (a hung upstream) is released by the sweeper and
/// charged nothing, even if the images arrive later.
async fn expired_holds_are_released_by_the_sweeper(backend: Backend) {
    let mock = MockServer::start().await;
    let Some(app) = upstream_app(backend, &mock, 30, 1).await else { return };
    let (_, key) = funded(&app, "10").await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(std::time::Duration::from_secs(4))
                .set_body_json(json!({"created": 1, "data": [{"b64_json": upstream_png(512, 512)}]})),
        )
        .mount(&mock)
        .await;
    let request = app.post("/v1/generations", Some(&key), gen("qwen-image", "ultra", 1));
    let watch = async {
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
        let during = app.balance(&key).await;
        assert_eq!(during["held"], "3.5", "held while rendering");
        assert_eq!(during["available"], "6.5");
        tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
        let after = app.balance(&key).await;
        assert_eq!(after["held"], "0", "the sweeper released the expired hold");
    };
    let (res, ()) = futures::join!(request, watch);
    res.expect_error(409, "conflict", "hold_expired");
    let b = app.balance(&key).await;
    assert_eq!((b["balance"].as_str(), b["held"].as_str()), (Some("10"), Some("0")));
    let list = app.get("/v1/generations", Some(&key)).await.expect(200);
    assert_eq!(
        (list["data"][0]["status"].as_str(), list["data"][0]["error_code"].as_str()),
        (Some("failed"), Some("hold_expired"))
    );
    app.assert_ledger_consistent(&key).await;
}

per_backend!(upstream_provider_success_and_failures, expired_holds_are_released_by_the_sweeper);
