use futures::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::helpers::{card_payment, TestApp, TestUser};

/// A family account owned by Ada, with Bob as admin and Cy as member (limit `limit`); returns
/// (platform admin, ada, bob's session for the family account, cy's session for it).
pub(crate) async fn family(app: &TestApp, limit: Option<&str>) -> (TestUser, TestUser, String, String) {
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    let bob = app.signup("bob@example.com").await;
    let cy = app.signup("cy@example.com").await;
    app.request(
        Method::PATCH,
        &format!("/v1/admin/accounts/{}", ada.account_id),
        Some(&admin.token),
        Some(json!({"type": "family"})),
        &[],
    )
    .await
    .expect(200);
    app.post("/v1/account/members", Some(&ada.token), json!({"email": "bob@example.com", "role": "admin"}))
        .await
        .expect(201);
    let mut body = json!({"email": "cy@example.com", "role": "member"});
    if let Some(limit) = limit {
        body["monthly_spend_limit"] = json!(limit);
    }
    app.post("/v1/account/members", Some(&ada.token), body).await.expect(201);
    let login = |user: &TestUser| {
        let body = json!({"email": format!("{}@example.com", if user.user_id == bob.user_id { "bob" } else { "cy" }), "password": user.password, "account_id": ada.account_id});
        async move { app.post("/v1/auth/login", None, body).await.expect(200)["token"].as_str().unwrap().to_string() }
    };
    let bob_token = login(&bob).await;
    let cy_token = login(&cy).await;
    app.grant(&admin, &ada.account_id, "1000").await;
    (admin, ada, bob_token, cy_token)
}

async fn shared_accounts_have_members_who_spend_the_shared_balance(app: TestApp) {
    let (_, ada, bob, cy) = family(&app, None).await;
    let members = app.get("/v1/account/members", Some(&ada.token)).await.expect(200);
    let roles: Vec<&str> = members["data"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, vec!["owner", "admin", "member"]);
    // Cy acts for the family account: same balance, role member; /v1/me lists both accounts.
    let me = app.get("/v1/me", Some(&cy)).await.expect(200);
    assert_eq!((me["account"]["id"].as_str(), me["role"].as_str()), (Some(ada.account_id.as_str()), Some("member")));
    assert_eq!(me["accounts"].as_array().unwrap().len(), 2);
    assert_eq!(app.balance(&cy).await["balance"], "1000");
    let g = app
        .post("/v1/generations", Some(&cy), json!({"model": "qwen-image", "prompt": "x", "size": "512x512"}))
        .await
        .expect(201);
    assert_eq!(g["credits_charged"], "1.75");
    assert_eq!(app.balance(&ada.token).await["balance"], "998.25");
    let entry = &app.all_transactions(&ada.token).await[0];
    assert_eq!(entry["user_id"], me["user"]["id"], "the ledger records who spent");
    // Members cannot manage members or keys; admins can.
    app.post("/v1/account/members", Some(&cy), json!({"email": "x@example.com", "role": "member"})).await.expect_error(
        403,
        "permission_denied",
        "owner_or_admin_required",
    );
    app.post("/v1/api-keys", Some(&cy), json!({"name": "k", "scopes": ["balance:read"]})).await.expect_error(
        403,
        "permission_denied",
        "owner_or_admin_required",
    );
    app.post("/v1/api-keys", Some(&bob), json!({"name": "k", "scopes": ["balance:read"]})).await.expect(201);
    // The owner cannot be removed; others can, and lose access at once.
    app.request(Method::DELETE, &format!("/v1/account/members/{}", ada.user_id), Some(&bob), None, &[])
        .await
        .expect_error(409, "conflict", "cannot_remove_owner");
    let cy_id = me["user"]["id"].as_str().unwrap();
    app.request(Method::DELETE, &format!("/v1/account/members/{cy_id}"), Some(&bob), None, &[]).await.expect(200);
    app.get("/v1/balance", Some(&cy)).await.expect_error(401, "authentication_required", "invalid_token");
    app.request(Method::DELETE, &format!("/v1/account/members/{cy_id}"), Some(&bob), None, &[]).await.expect_error(
        404,
        "not_found",
        "resource_missing",
    );
    // Bad requests.
    app.post("/v1/account/members", Some(&ada.token), json!({"email": "nobody@example.com", "role": "member"}))
        .await
        .expect_error(404, "not_found", "resource_missing");
    app.post("/v1/account/members", Some(&ada.token), json!({"email": "bob@example.com", "role": "member"}))
        .await
        .expect_error(409, "conflict", "already_member");
    app.post("/v1/account/members", Some(&ada.token), json!({"email": "cy@example.com", "role": "owner"}))
        .await
        .expect_error(400, "invalid_request", "invalid_role");
}

async fn personal_accounts_cannot_have_members(app: TestApp) {
    let ada = app.signup("ada@example.com").await;
    app.signup("bob@example.com").await;
    app.post("/v1/account/members", Some(&ada.token), json!({"email": "bob@example.com", "role": "member"}))
        .await
        .expect_error(409, "conflict", "personal_account");
    let members = app.get("/v1/account/members", Some(&ada.token)).await.expect(200);
    assert_eq!(members["data"].as_array().unwrap().len(), 1);
}

/// A member's monthly limit holds under concurrency, counts spends through the member's own
/// keys, and starts afresh each calendar month (UTC).
async fn monthly_member_limits_hold_under_concurrency(app: TestApp) {
    let (_, ada, _, cy) = family(&app, Some("5")).await;
    let results = join_all((0..10).map(|i| {
        let (app, cy) = (&app, &cy);
        async move {
            app.post(
                "/v1/generations",
                Some(cy),
                json!({"model": "qwen-image", "prompt": format!("{i}"), "size": "512x512"}),
            )
            .await
        }
    }))
    .await;
    assert_eq!(results.iter().filter(|r| r.status == 201).count(), 2, "5 / 1.75 → 2 generations");
    for r in results.iter().filter(|r| r.status != 201) {
        assert_eq!((r.status.as_u16(), r.body["error"]["code"].as_str()), (402, Some("spend_limit_exceeded")));
    }
    let members = app.get("/v1/account/members", Some(&ada.token)).await.expect(200);
    let cy_row = members["data"].as_array().unwrap().iter().find(|m| m["email"] == "cy@example.com").unwrap().clone();
    assert_eq!((cy_row["monthly_spend_limit"].as_str(), cy_row["spent_this_month"].as_str()), (Some("5"), Some("3.5")));
    // The owner is not limited by Cy's limit.
    app.post("/v1/generations", Some(&ada.token), json!({"model": "qwen-image", "prompt": "o", "size": "512x512"}))
        .await
        .expect(201);
    // Next calendar month: the limit applies afresh.
    app.clock.advance(chrono::Duration::days(32));
    app.post("/v1/generations", Some(&cy), json!({"model": "qwen-image", "prompt": "next", "size": "512x512"}))
        .await
        .expect(201);
    assert_eq!(app.balance(&ada.token).await["balance"], "993", "1000 − 4 × 1.75");
    app.assert_ledger_consistent(&ada.token).await;
}

/// Every endpoint against every kind of caller: owner, admin, member, a key with each scope,
/// another account, no auth. Foreign ids are 404, never 403.
async fn authorization_matrix(app: TestApp) {
    let (_, ada, bob, cy) = family(&app, None).await;
    let other = app.signup("eve@example.com").await;
    let mut keys = Vec::new();
    for scope in ["balance:read", "usage:read", "generations:write", "purchases:write"] {
        keys.push(app.api_key(&ada, &[scope]).await.1);
    }
    let purchase = app.buy(&ada.token, "basic", "tok_visa").await;
    let generation = app
        .post("/v1/generations", Some(&ada.token), json!({"model": "qwen-image", "prompt": "x", "size": "512x512"}))
        .await
        .expect(201);
    let pm = app
        .post("/v1/payment-methods", Some(&ada.token), json!({"type": "card", "token": "tok_visa"}))
        .await
        .expect(201);
    let (pur, gen, pm) =
        (purchase["id"].as_str().unwrap(), generation["id"].as_str().unwrap(), pm["id"].as_str().unwrap());
    let callers: Vec<(&str, Option<&str>)> = vec![
        ("owner", Some(&ada.token)),
        ("admin", Some(&bob)),
        ("member", Some(&cy)),
        ("key:balance", Some(&keys[0])),
        ("key:usage", Some(&keys[1])),
        ("key:generations", Some(&keys[2])),
        ("key:purchases", Some(&keys[3])),
        ("other account", Some(&other.token)),
        ("no auth", None),
    ];
    let gen_body = json!({"model": "qwen-image", "prompt": "m", "size": "512x512"});
    let buy_body = json!({"package_id": "basic", "payment_method": card_payment("tok_visa")});
    // Expected status per caller, in the order above.
    let cases: Vec<(Method, String, Option<Value>, [u16; 9])> = vec![
        (Method::GET, "/v1/me".into(), None, [200, 200, 200, 200, 200, 200, 200, 200, 401]),
        (Method::GET, "/v1/account".into(), None, [200, 200, 200, 200, 200, 200, 200, 200, 401]),
        (Method::GET, "/v1/balance".into(), None, [200, 200, 200, 200, 403, 403, 403, 200, 401]),
        (Method::GET, "/v1/transactions".into(), None, [200, 200, 200, 403, 200, 403, 403, 200, 401]),
        (Method::GET, "/v1/api-keys".into(), None, [200, 200, 403, 403, 403, 403, 403, 200, 401]),
        (
            Method::POST,
            "/v1/api-keys".into(),
            Some(json!({"name": "m", "scopes": ["usage:read"]})),
            [201, 201, 403, 403, 403, 403, 403, 201, 401],
        ),
        (Method::GET, "/v1/account/members".into(), None, [200, 200, 403, 403, 403, 403, 403, 200, 401]),
        (Method::POST, "/v1/generations".into(), Some(gen_body), [201, 201, 201, 403, 403, 201, 403, 402, 401]),
        (Method::GET, "/v1/generations".into(), None, [200, 200, 200, 403, 200, 200, 403, 200, 401]),
        (Method::GET, format!("/v1/generations/{gen}"), None, [200, 200, 200, 403, 200, 200, 403, 404, 401]),
        (Method::GET, format!("/v1/generations/{gen}/images/0"), None, [200, 200, 200, 403, 200, 200, 403, 404, 401]),
        (Method::POST, "/v1/purchases".into(), Some(buy_body), [201, 201, 201, 403, 403, 403, 201, 201, 401]),
        (Method::GET, "/v1/purchases".into(), None, [200, 200, 200, 403, 200, 403, 200, 200, 401]),
        (Method::GET, format!("/v1/purchases/{pur}"), None, [200, 200, 200, 403, 200, 403, 200, 404, 401]),
        (Method::GET, "/v1/refunds".into(), None, [200, 200, 200, 403, 200, 403, 200, 200, 401]),
        (Method::GET, "/v1/payment-methods".into(), None, [200, 200, 403, 403, 403, 403, 200, 200, 401]),
        (Method::DELETE, format!("/v1/payment-methods/{pm}"), None, [200, 404, 403, 403, 403, 403, 404, 404, 401]),
        (Method::GET, "/v1/admin/models".into(), None, [403, 403, 403, 403, 403, 403, 403, 403, 401]),
        (
            Method::POST,
            format!("/v1/admin/accounts/{}/adjustments", ada.account_id),
            Some(json!({"credits": "1", "reason": "x"})),
            [403, 403, 403, 403, 403, 403, 403, 403, 401],
        ),
        (
            Method::POST,
            format!("/v1/admin/purchases/{pur}/confirm"),
            None,
            [403, 403, 403, 403, 403, 403, 403, 403, 401],
        ),
        (
            Method::POST,
            "/v1/admin/refunds/ref_none/complete".into(),
            None,
            [403, 403, 403, 403, 403, 403, 403, 403, 401],
        ),
        (
            Method::PATCH,
            format!("/v1/admin/accounts/{}", ada.account_id),
            Some(json!({"type": "business"})),
            [403, 403, 403, 403, 403, 403, 403, 403, 401],
        ),
        (
            Method::POST,
            "/v1/admin/models".into(),
            Some(json!({"id": "m", "name": "M", "tier": "basic", "credits_per_image": "0.5"})),
            [403, 403, 403, 403, 403, 403, 403, 403, 401],
        ),
        (
            Method::PATCH,
            "/v1/admin/models/qwen-image".into(),
            Some(json!({"active": false})),
            [403, 403, 403, 403, 403, 403, 403, 403, 401],
        ),
        (Method::GET, "/v1/admin/packages".into(), None, [403, 403, 403, 403, 403, 403, 403, 403, 401]),
        (
            Method::POST,
            "/v1/admin/packages".into(),
            Some(json!({"id": "p", "name": "P", "credits": "1", "price": {"amount": "1", "currency": "CNY"}})),
            [403, 403, 403, 403, 403, 403, 403, 403, 401],
        ),
        (
            Method::PATCH,
            "/v1/admin/packages/basic".into(),
            Some(json!({"active": false})),
            [403, 403, 403, 403, 403, 403, 403, 403, 401],
        ),
        // Public, and the signed provider webhook (unsigned here: 400 for everyone).
        (Method::GET, "/v1/packages".into(), None, [200; 9]),
        (Method::GET, "/v1/models".into(), None, [200; 9]),
        (Method::GET, "/v1/pricing/quote?model=qwen-image".into(), None, [200; 9]),
        (
            Method::POST,
            "/v1/webhooks/payments/sandbox".into(),
            Some(json!({"id": "evt_x", "type": "payment.succeeded", "data": {"purchase_id": pur}})),
            [400; 9],
        ),
        // Members: the role is checked after the caller's rights (so managers get 400 here).
        (
            Method::POST,
            "/v1/account/members".into(),
            Some(json!({"email": "eve@example.com", "role": "owner"})),
            [400, 400, 403, 403, 403, 403, 403, 400, 401],
        ),
        (
            Method::DELETE,
            format!("/v1/account/members/{}", ada.user_id),
            None,
            [409, 409, 403, 403, 403, 403, 403, 404, 401],
        ),
        // Usage and notifications: sessions and `usage:read` keys.
        (Method::GET, "/v1/usage".into(), None, [200, 200, 200, 403, 200, 403, 403, 200, 401]),
        (Method::GET, "/v1/usage/export?format=csv".into(), None, [200, 200, 200, 403, 200, 403, 403, 200, 401]),
        (Method::GET, "/v1/notifications".into(), None, [200, 200, 200, 403, 200, 403, 403, 200, 401]),
        // Settings: owner and admin sessions only.
        (Method::GET, "/v1/settings/low-balance-alert".into(), None, [200, 200, 403, 403, 403, 403, 403, 200, 401]),
        (
            Method::PUT,
            "/v1/settings/low-balance-alert".into(),
            Some(json!({"enabled": false, "threshold": "1"})),
            [200, 200, 403, 403, 403, 403, 403, 200, 401],
        ),
        (Method::GET, "/v1/settings/auto-topup".into(), None, [200, 200, 403, 403, 403, 403, 403, 200, 401]),
        (
            Method::POST,
            "/v1/payment-methods".into(),
            Some(json!({"type": "card", "token": "tok_mastercard"})),
            [201, 201, 403, 403, 403, 403, 201, 201, 401],
        ),
        (
            Method::POST,
            "/v1/images/generations".into(),
            Some(json!({"model": "qwen-image", "prompt": "m", "size": "512x512"})),
            [200, 200, 200, 403, 403, 200, 403, 200, 401],
        ),
    ];
    for (method, path, body, expected) in cases {
        for ((who, token), want) in callers.iter().zip(expected) {
            let res = app.request(method.clone(), &path, *token, body.clone(), &[]).await;
            assert_eq!(res.status.as_u16(), want, "{who} {method} {path}: {}", res.text);
        }
    }
    // Refunds: managers and purchases:write keys may; the first to try refunds it.
    let refund_path = format!("/v1/purchases/{pur}/refund");
    for (who, token, want) in [
        ("member", &cy, 403),
        ("key:usage", &keys[1], 403),
        ("other account", &other.token, 404),
        ("owner", &ada.token, 201),
        ("key:purchases", &keys[3], 422),
    ] {
        let res = app.post(&refund_path, Some(token), json!({})).await;
        assert_eq!(res.status.as_u16(), want, "{who} refund: {}", res.text);
    }
    // Key revocation: a foreign id is 404, and members cannot revoke.
    let key_id = app.api_key(&ada, &["balance:read"]).await.0;
    for (who, token, want) in [("other account", &other.token, 404), ("member", &cy, 403), ("admin", &bob, 200)] {
        let res = app.request(Method::DELETE, &format!("/v1/api-keys/{key_id}"), Some(token), None, &[]).await;
        assert_eq!(res.status.as_u16(), want, "{who} revoke: {}", res.text);
    }
    // No endpoint moves credits between accounts: the other account has exactly what it
    // bought (100) less what it spent itself (one image, 1.75).
    let other_entries = app.all_transactions(&other.token).await;
    assert_eq!(app.balance(&other.token).await["balance"], "98.25", "{other_entries:#?}");
    app.assert_ledger_consistent(&ada.token).await;
    app.assert_ledger_consistent(&other.token).await;
}

backend_tests!(
    shared_accounts_have_members_who_spend_the_shared_balance,
    personal_accounts_cannot_have_members,
    monthly_member_limits_hold_under_concurrency,
    authorization_matrix,
);
