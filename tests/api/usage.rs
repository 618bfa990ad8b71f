use std::collections::HashSet;

use futures::future::join_all;
use reqwest::Method;
use serde_json::json;

use crate::backend_tests;
use crate::helpers::TestApp;

async fn usage_groups_by_model_day_key_and_member(app: TestApp) {
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    app.grant(&admin, &ada.account_id, "50").await;
    app.post(
        "/v1/admin/models",
        Some(&admin.token),
        json!({"id": "flux", "name": "Flux", "tier": "premium", "credits_per_image": "8", "sizes": ["512x512"]}),
    )
    .await
    .expect(201);
    let (key1_id, key1) = app.api_key(&ada, &["generations:write", "usage:read"]).await;
    let (key2_id, key2) = app.api_key(&ada, &["generations:write"]).await;
    let app = &app;
    let gen = |token: String, model: &'static str, n: u32| async move {
        app.post("/v1/generations", Some(&token), json!({"model": model, "prompt": "x", "size": "512x512", "n": n}))
            .await
    };
    gen(key1.clone(), "qwen-image", 2).await.expect(201); // 3.5
    gen(key2.clone(), "qwen-image", 1).await.expect(201); // 1.75
    gen(key2.clone(), "flux", 1).await.expect(201); // 8
    gen(ada.token.clone(), "qwen-image", 1).await.expect(201); // 1.75, a session: no key
                                                               // A refused generation (402: 35 left, 80 needed) is not usage.
    gen(key1.clone(), "flux", 10).await.expect_error(402, "insufficient_credits", "insufficient_credits");
    let by_model = app.get("/v1/usage", Some(&key1)).await.expect(200);
    assert_eq!(by_model["group_by"], "model");
    assert_eq!(by_model["total_credits"], "15");
    assert_eq!(by_model["total_generations"], 4);
    assert_eq!(
        by_model["buckets"],
        json!([
            {"key": "flux", "credits": "8", "generations": 1, "images": 1},
            {"key": "qwen-image", "credits": "7", "generations": 3, "images": 4},
        ])
    );
    let by_key = app.get("/v1/usage?group_by=api_key", Some(&key1)).await.expect(200);
    let keys: Vec<(String, String)> = by_key["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["key"].as_str().unwrap().to_string(), b["credits"].as_str().unwrap().to_string()))
        .collect();
    let mut expected = vec![
        (String::new(), "1.75".to_string()),
        (key1_id.clone(), "3.5".to_string()),
        (key2_id.clone(), "9.75".to_string()),
    ];
    expected.sort();
    assert_eq!(keys, expected);
    let by_member = app.get("/v1/usage?group_by=member", Some(&key1)).await.expect(200);
    assert_eq!(
        by_member["buckets"],
        json!([{"key": ada.user_id, "credits": "15", "generations": 4, "images": 5}]),
        "keys' spend counts for the user who made them"
    );
    let today = chrono::Utc::now().date_naive();
    let by_day = app.get("/v1/usage?group_by=day", Some(&key1)).await.expect(200);
    assert_eq!(by_day["buckets"][0]["key"], today.to_string());
    // A range without today is empty; the range is echoed.
    let past = app.get("/v1/usage?from=2020-01-01&to=2020-02-01", Some(&key1)).await.expect(200);
    assert_eq!(
        (past["from"].as_str(), past["to"].as_str(), past["total_credits"].as_str()),
        (Some("2020-01-01"), Some("2020-02-01"), Some("0"))
    );
    assert!(past["buckets"].as_array().unwrap().is_empty());
    // The CSV export has the same rows.
    let csv = app
        .client
        .get(format!("{}/v1/usage/export?format=csv&group_by=model", app.base))
        .bearer_auth(&key1)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert_eq!(csv.text().await.unwrap(), "model,credits,generations,images\nflux,8,1,1\nqwen-image,7,3,4\n");
    // Bad input; a key without usage:read.
    app.get("/v1/usage?group_by=color", Some(&key1)).await.expect_error(400, "invalid_request", "invalid_group_by");
    app.get("/v1/usage?from=yesterday", Some(&key1)).await.expect_error(400, "invalid_request", "invalid_parameter");
    app.get("/v1/usage?from=2026-02-01&to=2026-01-01", Some(&key1)).await.expect_error(
        422,
        "invalid_request",
        "invalid_range",
    );
    app.get("/v1/usage?format=xlsx", Some(&key1)).await.expect_error(400, "invalid_request", "invalid_format");
    app.get("/v1/usage/export?format=xlsx", Some(&key1)).await.expect_error(400, "invalid_request", "invalid_format");
    app.get("/v1/usage", Some(&key2)).await.expect_error(403, "permission_denied", "missing_scope");
}

/// Paging through the ledger while new spends arrive: every entry that existed when paging
/// began is seen exactly once, in order.
async fn pagination_is_stable_under_concurrent_inserts(app: TestApp) {
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    for i in 0..30 {
        app.post(
            &format!("/v1/admin/accounts/{}/adjustments", ada.account_id),
            Some(&admin.token),
            json!({"credits": "10", "reason": format!("g{i}")}),
        )
        .await
        .expect(201);
    }
    let before: Vec<String> =
        app.all_transactions(&ada.token).await.iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
    let writers = async {
        join_all((0..20).map(|_| {
            app.post(
                "/v1/generations",
                Some(&ada.token),
                json!({"model": "qwen-image", "prompt": "x", "size": "512x512"}),
            )
        }))
        .await
    };
    let reader = async {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/v1/transactions?limit=4&cursor={c}"),
                None => "/v1/transactions?limit=4".into(),
            };
            let page = app.get(&path, Some(&ada.token)).await.expect(200);
            seen.extend(page["data"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()));
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        seen
    };
    let (results, seen) = futures::join!(writers, reader);
    assert!(results.iter().all(|r| r.status == 201));
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no entry repeated");
    let old: Vec<&String> = seen.iter().filter(|id| before.contains(id)).collect();
    assert_eq!(old, before.iter().collect::<Vec<_>>(), "every earlier entry once, newest first");
    let _ = Method::GET;
}

backend_tests!(usage_groups_by_model_day_key_and_member, pagination_is_stable_under_concurrent_inserts);
