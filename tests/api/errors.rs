use reqwest::Method;
use serde_json::json;

use crate::backend_tests;
use crate::helpers::TestApp;

async fn every_error_has_the_contract_shape(app: TestApp) {
    let ada = app.signup("ada@example.com").await;
    app.get("/v1/no-such-thing", Some(&ada.token)).await.expect_error(404, "not_found", "route_not_found");
    app.request(Method::PUT, "/v1/balance", Some(&ada.token), None, &[]).await.expect_error(
        405,
        "invalid_request",
        "method_not_allowed",
    );
    // Malformed JSON.
    let res = app
        .client
        .post(format!("{}/v1/auth/signup", app.base))
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_json");
    assert_eq!(body["error"]["request_id"], request_id.as_str());
}

async fn bodies_over_the_limit_are_413(app: TestApp) {
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    let huge = "x".repeat(app.config.max_body_bytes + 1);
    app.post("/v1/auth/signup", None, json!({"email": "big@example.com", "password": huge})).await.expect_error(
        413,
        "invalid_request",
        "payload_too_large",
    );
    let path = format!("/v1/admin/accounts/{}/adjustments", ada.account_id);
    app.post(&path, Some(&admin.token), json!({"credits": "1", "reason": huge})).await.expect_error(
        413,
        "invalid_request",
        "payload_too_large",
    );
    assert_eq!(app.balance(&ada.token).await["balance"], "0");
}

async fn every_response_carries_a_request_id(app: TestApp) {
    for path in ["/healthz", "/v1/packages", "/v1/balance", "/nope"] {
        let res = app.get(path, None).await;
        let id = res.header("x-request-id").unwrap_or_else(|| panic!("{path} has no X-Request-Id"));
        assert!(id.starts_with("req_"), "{id}");
    }
}

backend_tests!(every_error_has_the_contract_shape, bodies_over_the_limit_are_413, every_response_carries_a_request_id);
