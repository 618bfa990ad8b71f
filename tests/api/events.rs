//! `GET /v1/events`: what happened to the account, each event recorded with the change it
//! reports (a refused change leaves none), filtered by type and time, paginated, on both
//! databases. Generation, balance and top-up events are also checked where those flows are
//! tested (`async_generations`, `alerts`).

use serde_json::{json, Value};

use crate::backend_tests;
use crate::helpers::TestApp;

/// The types of the account's events, oldest first.
async fn types(app: &TestApp, key: &str, query: &str) -> Vec<String> {
    let mut all = Vec::new();
    let mut path = format!("/v1/events?limit=100{query}");
    loop {
        let page = app.get(&path, Some(key)).await.expect(200);
        all.extend(page["data"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/events?limit=100{query}&cursor={cursor}"),
            None => break,
        }
    }
    all.reverse();
    all
}

async fn events_report_each_change_once(app: TestApp) {
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    let (_, reader) = app.api_key(&ada, &["usage:read", "generations:write", "balance:read"]).await;
    let purchase = app.buy(&ada.token, "basic", "tok_visa").await;
    let declined = json!({"package_id": "basic", "payment_method": crate::helpers::card_payment("tok_chargeDeclined")});
    app.post("/v1/purchases", Some(&ada.token), declined).await.expect(402);
    let generation = json!({"model": "qwen-image", "prompt": "an event", "size": "512x512"});
    let made = app.post("/v1/generations", Some(&reader), generation.clone()).await.expect(201);
    // Refused for want of credits: nothing happened, so nothing is reported.
    let huge = json!({"model": "qwen-image", "prompt": "too dear", "n": 10, "quality": "ultra"});
    let (_, poor_key) = {
        let bob = app.signup("bob@example.com").await;
        app.api_key(&bob, &["usage:read", "generations:write"]).await
    };
    app.post("/v1/generations", Some(&poor_key), huge).await.expect(402);
    assert_eq!(types(&app, &poor_key, "").await, ["api_key.created"], "bob's key, and no generation event");

    let refund_path = format!("/v1/purchases/{}/refund", purchase["id"].as_str().unwrap());
    let refund = app.post(&refund_path, Some(&ada.token), json!({}));
    let refund_id = refund.await.expect(201)["id"].as_str().unwrap().to_string();
    let completed = format!("/v1/admin/refunds/{refund_id}/complete");
    app.post(&completed, Some(&admin.token), json!({})).await.expect(200);
    let (revoked_id, _) = app.api_key(&ada, &["balance:read"]).await;
    let path = format!("/v1/api-keys/{revoked_id}");
    app.request(reqwest::Method::DELETE, &path, Some(&ada.token), None, &[]).await.expect(200);

    let all = types(&app, &reader, "").await;
    assert_eq!(
        all,
        [
            "api_key.created",
            "purchase.succeeded",
            "purchase.failed",
            "generation.succeeded",
            "refund.created",
            "refund.succeeded",
            "api_key.created",
            "api_key.revoked",
        ],
        "each change once, in order"
    );

    // One event, whole; by id; filtered by type and time; paginated.
    let page = app.get("/v1/events?type=generation.succeeded", Some(&reader)).await.expect(200);
    let event = &page["data"][0];
    assert!(event["id"].as_str().unwrap().starts_with("evt_"));
    assert!(event["created"].as_i64().unwrap() > 1_700_000_000);
    let data = &event["data"];
    assert_eq!((data["object"].as_str(), data["id"].as_str()), (Some("generation"), made["id"].as_str()));
    assert_eq!((data["status"].as_str(), data["credits_charged"].as_str()), (Some("succeeded"), Some("1.75")));
    assert_eq!((data["model"].as_str(), data["n"].as_i64()), (Some("qwen-image"), Some(1)));
    let one = app.get(&format!("/v1/events/{}", event["id"].as_str().unwrap()), Some(&reader)).await.expect(200);
    assert_eq!(&one, event);
    let refunded = app.get("/v1/events?type=refund.succeeded", Some(&reader)).await.expect(200);
    let refunded = &refunded["data"][0]["data"];
    assert_eq!((refunded["id"].as_str(), refunded["status"].as_str()), (Some(refund_id.as_str()), Some("succeeded")));
    let failed = app.get("/v1/events?type=purchase.failed", Some(&reader)).await.expect(200);
    assert_eq!(failed["data"][0]["data"]["failure_code"], "card_declined");
    assert_eq!(types(&app, &reader, "&type=api_key.created").await.len(), 2);
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339().replace('+', "%2B");
    assert!(types(&app, &reader, &format!("&created_gte={later}")).await.is_empty());
    assert_eq!(types(&app, &reader, &format!("&created_lt={later}")).await, all);
    let first = app.get("/v1/events?limit=3", Some(&reader)).await.expect(200);
    assert_eq!((first["data"].as_array().unwrap().len(), first["has_more"].as_bool()), (3, Some(true)));

    // Another account's event is not found; bad filters are 400.
    let foreign = app.get(&format!("/v1/events/{}", event["id"].as_str().unwrap()), Some(&poor_key)).await;
    foreign.expect_error(404, "not_found", "resource_missing");
    let bad = app.get("/v1/events?type=generation.exploded", Some(&reader)).await;
    bad.expect_error(400, "invalid_request", "invalid_parameter");
    let (_, no_scope) = app.api_key(&ada, &["balance:read"]).await;
    app.get("/v1/events", Some(&no_scope)).await.expect(403);
    let _: Value = app.get("/v1/events", Some(&ada.token)).await.expect(200);
}

backend_tests!(events_report_each_change_once);
