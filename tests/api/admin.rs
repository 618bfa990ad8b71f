use reqwest::Method;
use serde_json::json;

use crate::backend_tests;
use crate::helpers::TestApp;

async fn adjustments_move_credits_with_a_reason(app: TestApp) {
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    let path = format!("/v1/admin/accounts/{}/adjustments", ada.account_id);
    let entry =
        app.post(&path, Some(&admin.token), json!({"credits": "12.3456", "reason": "welcome bonus"})).await.expect(201);
    assert_eq!(entry["type"], "adjustment");
    assert_eq!(entry["credits"], "12.3456");
    assert_eq!(entry["balance_after"], "12.3456");
    assert_eq!(entry["description"], "welcome bonus");
    let entry =
        app.post(&path, Some(&admin.token), json!({"credits": "-2.3456", "reason": "correction"})).await.expect(201);
    assert_eq!(entry["balance_after"], "10");
    assert_eq!(app.balance(&ada.token).await["balance"], "10");
    // Removing more than is available is refused and changes nothing.
    app.post(&path, Some(&admin.token), json!({"credits": "-10.0001", "reason": "too much"})).await.expect_error(
        402,
        "insufficient_credits",
        "insufficient_credits",
    );
    // Bad input: no reason, zero, too precise, float, unknown field.
    app.post(&path, Some(&admin.token), json!({"credits": "5", "reason": "  "})).await.expect_error(
        400,
        "invalid_request",
        "reason_required",
    );
    app.post(&path, Some(&admin.token), json!({"credits": "5"})).await.expect_error(
        400,
        "invalid_request",
        "invalid_parameter",
    );
    app.post(&path, Some(&admin.token), json!({"credits": "0", "reason": "x"})).await.expect_error(
        400,
        "invalid_request",
        "invalid_amount",
    );
    let precise = app.post(&path, Some(&admin.token), json!({"credits": "0.00001", "reason": "x"})).await;
    assert_eq!(precise.expect_error(400, "invalid_request", "invalid_parameter")["error"]["param"], "credits");
    app.post(&path, Some(&admin.token), json!({"credits": 1.5, "reason": "x"})).await.expect_error(
        400,
        "invalid_request",
        "invalid_parameter",
    );
    app.post(&path, Some(&admin.token), json!({"credits": "1", "reason": "x", "extra": 1})).await.expect_error(
        400,
        "invalid_request",
        "invalid_parameter",
    );
    assert_eq!(app.balance(&ada.token).await["balance"], "10");
    assert_eq!(app.all_transactions(&ada.token).await.len(), 2);
    app.assert_ledger_consistent(&ada.token).await;
}

async fn only_platform_admins_administer(app: TestApp) {
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    let (_, key) = app.api_key(&ada, &["balance:read", "usage:read", "generations:write", "purchases:write"]).await;
    let path = format!("/v1/admin/accounts/{}/adjustments", ada.account_id);
    for token in [&ada.token, &key] {
        app.post(&path, Some(token), json!({"credits": "5", "reason": "self-service"})).await.expect_error(
            403,
            "permission_denied",
            "admin_required",
        );
        app.get("/v1/admin/models", Some(token)).await.expect_error(403, "permission_denied", "admin_required");
    }
    app.post(&path, None, json!({"credits": "5", "reason": "x"})).await.expect_error(
        401,
        "authentication_required",
        "missing_token",
    );
    assert_eq!(app.balance(&ada.token).await["balance"], "0");
    app.post(
        "/v1/admin/accounts/acct_doesnotexist/adjustments",
        Some(&admin.token),
        json!({"credits": "5", "reason": "x"}),
    )
    .await
    .expect_error(404, "not_found", "resource_missing");
    app.post(
        "/v1/admin/accounts/usr_wrongprefix/adjustments",
        Some(&admin.token),
        json!({"credits": "5", "reason": "x"}),
    )
    .await
    .expect_error(404, "not_found", "resource_missing");
}

async fn account_type_changes_only_through_an_admin(app: TestApp) {
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    let path = format!("/v1/admin/accounts/{}", ada.account_id);
    let updated =
        app.request(Method::PATCH, &path, Some(&admin.token), Some(json!({"type": "family"})), &[]).await.expect(200);
    assert_eq!(updated["type"], "family");
    assert_eq!(app.get("/v1/account", Some(&ada.token)).await.expect(200)["type"], "family");
    app.request(Method::PATCH, &path, Some(&admin.token), Some(json!({"type": "empire"})), &[]).await.expect_error(
        400,
        "invalid_request",
        "invalid_type",
    );
    app.request(Method::PATCH, &path, Some(&ada.token), Some(json!({"type": "business"})), &[]).await.expect_error(
        403,
        "permission_denied",
        "admin_required",
    );
    assert_eq!(app.get("/v1/account", Some(&ada.token)).await.expect(200)["type"], "family");
}

async fn models_are_priced_within_their_tier(app: TestApp) {
    let admin = app.admin().await;
    let t = Some(admin.token.as_str());
    let too_cheap = app
        .post(
            "/v1/admin/models",
            t,
            json!({"id": "flux", "name": "Flux", "tier": "premium", "credits_per_image": "4.9999"}),
        )
        .await;
    assert_eq!(
        too_cheap.expect_error(422, "invalid_request", "price_outside_tier")["error"]["param"],
        "credits_per_image"
    );
    app.post("/v1/admin/models", t, json!({"id": "flux", "name": "Flux", "tier": "basic", "credits_per_image": "1.5"}))
        .await
        .expect_error(422, "invalid_request", "price_outside_tier");
    app.post("/v1/admin/models", t, json!({"id": "flux", "name": "Flux", "tier": "mythic", "credits_per_image": "1"}))
        .await
        .expect_error(400, "invalid_request", "invalid_tier");
    app.post(
        "/v1/admin/models",
        t,
        json!({"id": "Bad Id!", "name": "Flux", "tier": "basic", "credits_per_image": "0.5"}),
    )
    .await
    .expect_error(400, "invalid_request", "invalid_id");
    // The seeded catalog: Qwen-Image and one local model per tier.
    assert_eq!(
        app.get("/v1/models", None).await.expect(200)["data"].as_array().unwrap().len(),
        4,
        "nothing was written"
    );
    let created = app
        .post("/v1/admin/models", t, json!({"id": "flux", "name": "Flux", "tier": "premium", "credits_per_image": "8", "sizes": ["1024x1024", "512x512"]}))
        .await
        .expect(201);
    assert_eq!(created["credits_per_image"], "8");
    app.post("/v1/admin/models", t, json!({"id": "flux", "name": "Flux", "tier": "premium", "credits_per_image": "8"}))
        .await
        .expect_error(409, "conflict", "model_exists");
    assert_eq!(app.get("/v1/pricing/quote?model=flux&quality=high&n=2", None).await.expect(200)["total_credits"], "24");
    // A price change must stay in the tier; moving tier and price together is fine.
    app.request(Method::PATCH, "/v1/admin/models/flux", t, Some(json!({"credits_per_image": "25"})), &[])
        .await
        .expect_error(422, "invalid_request", "price_outside_tier");
    let moved = app
        .request(
            Method::PATCH,
            "/v1/admin/models/flux",
            t,
            Some(json!({"tier": "standard", "credits_per_image": "2"})),
            &[],
        )
        .await
        .expect(200);
    assert_eq!((moved["tier"].as_str(), moved["credits_per_image"].as_str()), (Some("standard"), Some("2")));
    app.request(Method::PATCH, "/v1/admin/models/flux", t, Some(json!({"active": false})), &[]).await.expect(200);
    app.get("/v1/pricing/quote?model=flux", None).await.expect_error(404, "not_found", "resource_missing");
    assert_eq!(app.get("/v1/models", None).await.expect(200)["data"].as_array().unwrap().len(), 4);
    assert_eq!(app.get("/v1/admin/models", t).await.expect(200)["data"].as_array().unwrap().len(), 5);
    app.request(Method::PATCH, "/v1/admin/models/nope", t, Some(json!({"active": false})), &[]).await.expect_error(
        404,
        "not_found",
        "resource_missing",
    );
}

async fn packages_are_managed_by_admins(app: TestApp) {
    let admin = app.admin().await;
    let t = Some(admin.token.as_str());
    let created = app
        .post("/v1/admin/packages", t, json!({"id": "mega", "name": "Mega Package", "credits": "100000", "price": {"amount": "900", "currency": "CNY"}}))
        .await
        .expect(201);
    assert_eq!(created["price"], json!({"amount": "900.00", "currency": "CNY"}));
    assert_eq!(created["price_per_credit"]["amount"], "0.009");
    assert_eq!(app.get("/v1/packages", None).await.expect(200)["data"].as_array().unwrap().len(), 4);
    app.post(
        "/v1/admin/packages",
        t,
        json!({"id": "bad", "name": "Bad", "credits": "10", "price": {"amount": "1.001", "currency": "CNY"}}),
    )
    .await
    .expect_error(400, "invalid_request", "invalid_amount");
    app.post(
        "/v1/admin/packages",
        t,
        json!({"id": "bad", "name": "Bad", "credits": "10", "price": {"amount": "1", "currency": "USD"}}),
    )
    .await
    .expect_error(400, "invalid_request", "invalid_currency");
    app.post(
        "/v1/admin/packages",
        t,
        json!({"id": "free", "name": "Free", "credits": "10", "price": {"amount": "0.00", "currency": "CNY"}}),
    )
    .await
    .expect_error(422, "invalid_request", "invalid_amount");
    app.post(
        "/v1/admin/packages",
        t,
        json!({"id": "bad", "name": "Bad", "credits": "-10", "price": {"amount": "1", "currency": "CNY"}}),
    )
    .await
    .expect_error(400, "invalid_request", "invalid_amount");
    app.request(Method::PATCH, "/v1/admin/packages/mega", t, Some(json!({"active": false})), &[]).await.expect(200);
    assert_eq!(app.get("/v1/packages", None).await.expect(200)["data"].as_array().unwrap().len(), 3);
    assert_eq!(app.get("/v1/admin/packages", t).await.expect(200)["data"].as_array().unwrap().len(), 4);
}

backend_tests!(
    adjustments_move_credits_with_a_reason,
    only_platform_admins_administer,
    account_type_changes_only_through_an_admin,
    models_are_priced_within_their_tier,
    packages_are_managed_by_admins,
);
