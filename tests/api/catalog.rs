use serde_json::json;

use crate::backend_tests;
use crate::helpers::TestApp;

async fn packages_are_the_guides_three(app: TestApp) {
    let body = app.get("/v1/packages", None).await.expect(200);
    assert_eq!(
        body["data"],
        json!([
            {"id": "basic", "name": "Basic Package", "credits": "100", "price": {"amount": "10.00", "currency": "CNY"},
             "price_per_credit": {"amount": "0.10", "currency": "CNY"}, "popular": false, "active": true},
            {"id": "standard", "name": "Standard Package", "credits": "5000", "price": {"amount": "50.00", "currency": "CNY"},
             "price_per_credit": {"amount": "0.01", "currency": "CNY"}, "popular": true, "active": true},
            {"id": "premium", "name": "Premium Package", "credits": "50000", "price": {"amount": "500.00", "currency": "CNY"},
             "price_per_credit": {"amount": "0.01", "currency": "CNY"}, "popular": false, "active": true},
        ])
    );
}

async fn models_and_quotes_follow_the_pricing_rules(app: TestApp) {
    let models = app.get("/v1/models", None).await.expect(200);
    let qwen = &models["data"][0];
    assert_eq!(qwen["id"], "qwen-image");
    assert_eq!(qwen["name"], "Qwen-Image");
    assert_eq!(qwen["tier"], "standard");
    assert_eq!(qwen["credits_per_image"], "1.75");
    assert_eq!(qwen["quality_multipliers"], json!({"standard": "1", "high": "1.5", "ultra": "2"}));
    for size in ["512x512", "1024x1024", "1328x1328", "1664x928", "928x1664"] {
        assert!(qwen["sizes"].as_array().unwrap().contains(&json!(size)), "{size}");
    }
    for (quality, n, total) in [
        ("standard", 1, "1.75"),
        ("high", 1, "2.625"),
        ("hd", 1, "2.625"),
        ("ultra", 1, "3.5"),
        ("high", 4, "10.5"),
        ("ultra", 10, "35"),
    ] {
        let q = app.get(&format!("/v1/pricing/quote?model=qwen-image&quality={quality}&n={n}"), None).await.expect(200);
        assert_eq!(q["total_credits"], total, "{quality} x{n}");
        assert_eq!(q["credits_per_image"], "1.75");
        assert_eq!(q["n"], n);
    }
    let default = app.get("/v1/pricing/quote?model=qwen-image", None).await.expect(200);
    assert_eq!(
        (default["quality"].as_str(), default["n"].as_u64(), default["total_credits"].as_str()),
        (Some("standard"), Some(1), Some("1.75"))
    );
    app.get("/v1/pricing/quote?model=qwen-image&quality=extreme", None).await.expect_error(
        400,
        "invalid_request",
        "invalid_quality",
    );
    app.get("/v1/pricing/quote?model=qwen-image&n=11", None).await.expect_error(400, "invalid_request", "invalid_n");
    app.get("/v1/pricing/quote?model=qwen-image&n=0", None).await.expect_error(400, "invalid_request", "invalid_n");
    app.get("/v1/pricing/quote?model=qwen-image&n=abc", None).await.expect_error(
        400,
        "invalid_request",
        "invalid_parameter",
    );
    app.get("/v1/pricing/quote?model=nope", None).await.expect_error(404, "not_found", "resource_missing");
}

backend_tests!(packages_are_the_guides_three, models_and_quotes_follow_the_pricing_rules);
