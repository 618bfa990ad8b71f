//! What an outside attacker of a billing API tries, each as a test of the class it belongs to
//! (issue 17): request-controlled metrics labels and a public `/metrics`, password guessing
//! spread over many addresses, payment-webhook event ids reused, lists and stores without
//! bounds, a member spending the owner's saved card, keys and sessions outliving a removed
//! member, balances pushed past the 64-bit range, webhook URLs into non-public networks,
//! look-alike emails and trivial passwords, bodies sent slowly, sessions that cannot end, and
//! changes nobody can trace (the audit trail). Then fuzzing of every parser of outside bytes.

use std::time::Duration;

use proptest::prelude::*;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{card_payment, Backend, TestApp};
use crate::members::family;
use crate::per_backend;

/// However many made-up methods arrive, the metrics gain one `OTHER` series per route and
/// status, never one per method.
async fn made_up_methods_add_no_metrics_series(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    for i in 0..40 {
        let method = Method::from_bytes(format!("ATTACK{i}").as_bytes()).unwrap();
        let res = app.request(method, "/v1/balance", None, None, &[]).await;
        assert_eq!(res.status.as_u16(), 405);
    }
    let text = app.get("/metrics", None).await.text;
    assert!(!text.contains("ATTACK"), "a client-chosen method became a label:\n{text}");
    let other: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("apinfer_http_requests_total{") && l.contains("method=\"OTHER\""))
        .collect();
    assert_eq!(other.len(), 1, "{other:?}");
    assert!(other[0].ends_with(" 40"), "{other:?}");
}

/// With `APINFER_METRICS_TOKEN`, `/metrics` answers only that bearer token.
async fn metrics_need_the_token_when_one_is_set(backend: Backend) {
    let token = "metrics-token-of-some-length";
    let Some(app) = TestApp::spawn_with(backend, |c| c.metrics_token = Some(token.to_string().into())).await else {
        return;
    };
    app.get("/metrics", None).await.expect_error(401, "authentication_required", "invalid_token");
    app.get("/metrics", Some("metrics-token-of-some-lengtX")).await.expect_error(
        401,
        "authentication_required",
        "invalid_token",
    );
    let ada = app.signup("ada@example.com").await;
    app.get("/metrics", Some(&ada.token)).await.expect_error(401, "authentication_required", "invalid_token");
    let res = app.get("/metrics", Some(token)).await;
    assert_eq!(res.status.as_u16(), 200);
    assert!(res.text.contains("apinfer_http_requests_total"), "{}", res.text);
}

/// Failed logins are throttled per account, with a growing delay, whatever addresses the
/// guesses come from, and an address without an account is answered the same way.
async fn failed_logins_are_throttled_per_account(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let ada = app.signup("ada@example.com").await;
    let bob = app.signup("bob@example.com").await;
    let login = |email: &'static str, password: String| {
        let app = &app;
        async move { app.post("/v1/auth/login", None, json!({"email": email, "password": password})).await }
    };
    for email in ["ada@example.com", "nobody@example.com"] {
        for _ in 0..5 {
            login(email, "wrong password 1".into()).await.expect_error(
                401,
                "authentication_required",
                "invalid_credentials",
            );
        }
        // Now even the right password waits, and an unknown address looks the same.
        let res = login(email, ada.password.clone()).await;
        assert_eq!(res.header("retry-after"), Some("1"), "{email}");
        res.expect_error(429, "rate_limited", "too_many_failed_logins");
    }
    // Another account is not affected.
    login("bob@example.com", bob.password.clone()).await.expect(200);
    // After the delay, the right password works and clears the count.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    login("ADA@example.com", ada.password.clone()).await.expect(200);
    login("ada@example.com", "wrong password 2".into()).await.expect_error(
        401,
        "authentication_required",
        "invalid_credentials",
    );
    login("ada@example.com", ada.password.clone()).await.expect(200);
}

/// A payment webhook names its provider before anything else is looked at, and an event id
/// is one event: reused with another body it is refused, and credits nothing.
async fn webhook_event_ids_name_one_event(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let unsigned = json!({"id": "evt_x", "type": "payment.succeeded", "data": {"purchase_id": "pur_x"}}).to_string();
    app.raw_post("/v1/webhooks/payments/nope", unsigned, &[("Apinfer-Signature", "t=1,v1=00")]).await.expect_error(
        404,
        "not_found",
        "resource_missing",
    );
    let ada = app.signup("ada@example.com").await;
    let t = Some(ada.token.as_str());
    let wallet = |package: &'static str| {
        let app = &app;
        async move {
            let body = json!({"package_id": package, "payment_method": {"type": "alipay"}});
            app.post("/v1/purchases", t, body).await.expect(201)["id"].as_str().unwrap().to_string()
        }
    };
    let (first, second) = (wallet("basic").await, wallet("standard").await);
    let now = chrono::Utc::now().timestamp();
    app.payment_webhook("evt_once", "payment.succeeded", &first, now).await.expect(200);
    // The same event again: a duplicate, acknowledged.
    assert_eq!(app.payment_webhook("evt_once", "payment.succeeded", &first, now).await.expect(200)["duplicate"], true);
    // The same id with another body: refused, and the second purchase is not credited.
    app.payment_webhook("evt_once", "payment.succeeded", &second, now).await.expect_error(
        409,
        "conflict",
        "event_id_reused",
    );
    assert_eq!(app.balance(&ada.token).await["balance"], "100");
    app.assert_ledger_consistent(&ada.token).await;
}

/// Every list pages (`limit`, `cursor`), and nothing an account keeps grows without bound:
/// at most 100 live API keys and 20 saved cards.
async fn lists_page_and_what_an_account_keeps_is_capped(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let ada = app.signup("ada@example.com").await;
    let t = Some(ada.token.as_str());
    let mut made = Vec::new();
    for i in 0..100 {
        let body = json!({"name": format!("key {i}"), "scopes": ["balance:read"]});
        made.push(app.post("/v1/api-keys", t, body).await.expect(201)["id"].as_str().unwrap().to_string());
    }
    let one_more = json!({"name": "one more", "scopes": ["balance:read"]});
    app.post("/v1/api-keys", t, one_more.clone()).await.expect_error(409, "conflict", "too_many_api_keys");
    // Pages of 30, newest first, every key once.
    let mut seen = Vec::new();
    let mut path = "/v1/api-keys?limit=30".to_string();
    loop {
        let page = app.get(&path, t).await.expect(200);
        let items = page["data"].as_array().unwrap();
        assert!(items.len() <= 30);
        seen.extend(items.iter().map(|k| k["id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/api-keys?limit=30&cursor={cursor}"),
            None => break,
        }
    }
    made.reverse();
    assert_eq!(seen, made);
    // Revoking one makes room for one.
    app.request(Method::DELETE, &format!("/v1/api-keys/{}", made[0]), t, None, &[]).await.expect(200);
    app.post("/v1/api-keys", t, one_more).await.expect(201);

    let card = json!({"type": "card", "token": "tok_visa"});
    for _ in 0..20 {
        app.post("/v1/payment-methods", t, card.clone()).await.expect(201);
    }
    app.post("/v1/payment-methods", t, card).await.expect_error(409, "conflict", "too_many_payment_methods");
    let first = app.get("/v1/payment-methods?limit=15", t).await.expect(200);
    assert_eq!(first["data"].as_array().unwrap().len(), 15);
    assert_eq!(first["has_more"], true);
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = app.get(&format!("/v1/payment-methods?limit=15&cursor={cursor}"), t).await.expect(200);
    assert_eq!(rest["data"].as_array().unwrap().len(), 5);
    assert_eq!(rest["has_more"], false);
    app.get("/v1/payment-methods?limit=101", t).await.expect_error(400, "invalid_request", "invalid_limit");
}

/// The members list pages too, in the order they joined (the owner first).
async fn members_page(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let admin = app.admin().await;
    let owner = app.signup("owner@example.com").await;
    app.request(
        Method::PATCH,
        &format!("/v1/admin/accounts/{}", owner.account_id),
        Some(&admin.token),
        Some(json!({"type": "family"})),
        &[],
    )
    .await
    .expect(200);
    let mut joined = vec![owner.user_id.clone()];
    for i in 0..4 {
        let user = app.signup(&format!("member{i}@example.com")).await;
        let body = json!({"email": format!("member{i}@example.com"), "role": "member"});
        app.post("/v1/account/members", Some(&owner.token), body).await.expect(201);
        joined.push(user.user_id);
    }
    let mut seen = Vec::new();
    let mut path = "/v1/account/members?limit=2".to_string();
    loop {
        let page = app.get(&path, Some(&owner.token)).await.expect(200);
        assert!(page["data"].as_array().unwrap().len() <= 2);
        seen.extend(page["data"].as_array().unwrap().iter().map(|m| m["user_id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/account/members?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, joined);
}

/// A member of a family account may buy with a card of their own, but not with the account's
/// saved cards: those take the owner/admin role, or a `purchases:write` key whose creator
/// still holds it.
async fn only_owners_and_admins_spend_saved_cards(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let (_, ada, bob, cy) = family(&app, None).await;
    let card = card_payment("tok_visa");
    let saved = app.post("/v1/payment-methods", Some(&ada.token), card).await.expect(201);
    let pm = saved["id"].as_str().unwrap();
    let with_saved = json!({"package_id": "basic", "payment_method": {"type": "card", "payment_method_id": pm}});
    // The card's id shows in the purchases a member may read; spending it still fails.
    app.post("/v1/purchases", Some(&ada.token), with_saved.clone()).await.expect(201);
    let listed = app.get("/v1/purchases", Some(&cy)).await.expect(200);
    assert_eq!(listed["data"][0]["payment_method"]["payment_method_id"], pm);
    let before = app.balance(&ada.token).await;
    app.post("/v1/purchases", Some(&cy), with_saved.clone()).await.expect_error(
        403,
        "permission_denied",
        "owner_or_admin_required",
    );
    assert_eq!(app.balance(&ada.token).await["balance"], before["balance"], "nothing was bought");
    let own_card = json!({"package_id": "basic", "payment_method": card_payment("tok_mastercard")});
    app.post("/v1/purchases", Some(&cy), own_card).await.expect(201);
    app.post("/v1/purchases", Some(&bob), with_saved.clone()).await.expect(201);
    // A key Bob (an admin) made may spend it, while Bob is an admin.
    let key = app.post("/v1/api-keys", Some(&bob), json!({"name": "bob", "scopes": ["purchases:write"]})).await;
    let key = key.expect(201)["key"].as_str().unwrap().to_string();
    app.post("/v1/purchases", Some(&key), with_saved).await.expect(201);
    app.assert_ledger_consistent(&ada.token).await;
}

/// Removing a member ends everything they could act with in that account: their sessions
/// (even once added back) and the keys they made, which the removal revokes and the audit
/// trail names.
async fn a_removed_member_keeps_no_way_in(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let (_, ada, bob, _) = family(&app, None).await;
    let created = app.post("/v1/api-keys", Some(&bob), json!({"name": "bob", "scopes": ["balance:read"]})).await;
    let created = created.expect(201);
    let (key_id, key) = (created["id"].as_str().unwrap(), created["key"].as_str().unwrap());
    app.get("/v1/balance", Some(key)).await.expect(200);
    let bob_id = app.get("/v1/me", Some(&bob)).await.expect(200)["user"]["id"].as_str().unwrap().to_string();
    let bob_path = format!("/v1/account/members/{bob_id}");
    app.request(Method::DELETE, &bob_path, Some(&ada.token), None, &[]).await.expect(200);
    app.get("/v1/balance", Some(key)).await.expect_error(401, "authentication_required", "invalid_token");
    app.get("/v1/balance", Some(&bob)).await.expect_error(401, "authentication_required", "invalid_token");
    let keys = app.get("/v1/api-keys", Some(&ada.token)).await.expect(200);
    assert!(keys["data"].as_array().unwrap().iter().all(|k| k["id"] != key_id), "{keys}");
    // Added back, Bob's old session and key stay dead; a new login works.
    let again = json!({"email": "bob@example.com", "role": "admin"});
    app.post("/v1/account/members", Some(&ada.token), again).await.expect(201);
    app.get("/v1/balance", Some(&bob)).await.expect_error(401, "authentication_required", "invalid_token");
    app.get("/v1/balance", Some(key)).await.expect_error(401, "authentication_required", "invalid_token");
    let login = json!({"email": "bob@example.com", "password": ada.password, "account_id": ada.account_id});
    let fresh = app.post("/v1/auth/login", None, login).await.expect(200);
    app.get("/v1/balance", fresh["token"].as_str()).await.expect(200);
    let trail = app.get("/v1/audit-events?action=member.removed", Some(&ada.token)).await.expect(200);
    assert_eq!(trail["data"][0]["target_id"], bob_id.as_str());
    assert_eq!(trail["data"][0]["details"]["revoked_api_keys"], json!([key_id]));
    assert_eq!(trail["data"][0]["details"]["revoked_sessions"], 1);
}

/// Logging out ends one session; logging out everywhere ends all of the user's, in every
/// account; neither works with an API key.
async fn sessions_end_on_logout(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let ada = app.signup("ada@example.com").await;
    let login = || app.post("/v1/auth/login", None, json!({"email": "ada@example.com", "password": ada.password}));
    let (laptop, phone) = (login().await.expect(200), login().await.expect(200));
    let (laptop, phone) = (laptop["token"].as_str().unwrap(), phone["token"].as_str().unwrap());
    let out = app.post("/v1/auth/logout", Some(laptop), json!({})).await.expect(200);
    assert_eq!(out["revoked_sessions"], 1);
    app.get("/v1/me", Some(laptop)).await.expect_error(401, "authentication_required", "invalid_token");
    app.post("/v1/auth/logout", Some(laptop), json!({})).await.expect_error(
        401,
        "authentication_required",
        "invalid_token",
    );
    app.get("/v1/me", Some(phone)).await.expect(200);
    let (_, key) = app.api_key(&ada, &["balance:read"]).await;
    app.post("/v1/auth/logout", Some(&key), json!({})).await.expect_error(403, "permission_denied", "session_required");
    let everywhere = app.post("/v1/auth/logout-all", Some(phone), json!({})).await.expect(200);
    assert_eq!(everywhere["revoked_sessions"], 2, "the phone's and the sign-up's");
    for token in [phone, ada.token.as_str()] {
        app.get("/v1/me", Some(token)).await.expect_error(401, "authentication_required", "invalid_token");
    }
    app.get("/v1/balance", Some(&key)).await.expect(200);
    let again = login().await.expect(200);
    app.get("/v1/me", again["token"].as_str()).await.expect(200);
}

/// A balance never passes its documented maximum (10^12 credits): a credit past it answers 422
/// and changes nothing, an amount of more than 12 whole digits answers 422, and the database
/// itself refuses an out-of-range or non-integer balance.
async fn balances_stay_in_range(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    let path = format!("/v1/admin/accounts/{}/adjustments", ada.account_id);
    let adjust = |credits: &str| {
        let body = json!({"credits": credits, "reason": "near the limit"});
        app.post(&path, Some(&admin.token), body)
    };
    adjust("999999999999").await.expect(201);
    adjust("1").await.expect(201);
    assert_eq!(app.balance(&ada.token).await["balance"], "1000000000000");
    for _ in 0..3 {
        adjust("0.0001").await.expect_error(422, "invalid_request", "balance_limit_exceeded");
        adjust("999999999999.9999").await.expect_error(422, "invalid_request", "balance_limit_exceeded");
    }
    adjust("9999999999999").await.expect_error(422, "invalid_request", "amount_too_large");
    adjust("-999999999999").await.expect(201);
    app.buy(&ada.token, "basic", "tok_visa").await;
    app.assert_ledger_consistent(&ada.token).await;
    // Underneath the API: overflowing arithmetic or a float never lands in a balance.
    let (pool, account) = (app.pool.clone(), ada.account_id.clone());
    let mut writes = vec![
        "UPDATE accounts SET balance = balance + 9223372036854775000 WHERE id = '{a}'",
        "UPDATE accounts SET balance = 10000000000000001 WHERE id = '{a}'",
    ];
    if backend == Backend::Sqlite {
        // PostgreSQL's BIGINT holds integers only; SQLite's STRICT table refuses the REAL.
        writes.push("UPDATE accounts SET balance = 1.5 WHERE id = '{a}'");
    }
    let expected = vec![true; writes.len()];
    let refused = tokio::task::spawn_blocking(move || {
        use diesel::RunQueryDsl;
        let mut conn = pool.get().unwrap();
        writes
            .iter()
            .map(|sql| diesel::sql_query(sql.replace("{a}", &account)).execute(&mut *conn).is_err())
            .collect::<Vec<bool>>()
    })
    .await
    .unwrap();
    assert_eq!(refused, expected, "each out-of-range write is refused");
    app.assert_ledger_consistent(&ada.token).await;
}

/// Webhook URLs may only point at globally reachable addresses: no special-purpose IPv4 range
/// and no IPv6 form that carries a non-public IPv4 address.
async fn webhook_urls_must_be_globally_reachable(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.allow_private_webhooks = false).await else { return };
    let ada = app.signup("ada@example.com").await;
    for url in [
        "http://[::ffff:169.254.169.254]/latest",
        "http://[::ffff:a9fe:a9fe]/latest",
        "http://[::127.0.0.1]/",
        "http://[64:ff9b::7f00:1]/",
        "http://[2002:7f00:1::1]/",
        "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
        "http://[fe80::1]/",
        "http://[2001:db8::1]/",
        "http://198.18.0.1/",
        "http://192.0.0.8/",
        "http://192.0.2.1/",
        "http://240.0.0.1/",
        "http://100.100.100.100/",
        "http://0x7f000001/",
        "http://2130706433/",
        "http://0177.0.0.1/",
    ] {
        let body = json!({"enabled": true, "threshold": "5", "webhook_url": url});
        let res = app.request(Method::PUT, "/v1/settings/low-balance-alert", Some(&ada.token), Some(body), &[]).await;
        res.expect_error(422, "invalid_request", "webhook_url_not_allowed");
    }
}

/// Sign-up refuses look-alike emails and trivial passwords (NIST SP 800-63B), and an email is
/// one account whatever its case.
async fn signup_refuses_lookalike_emails_and_trivial_passwords(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let signup =
        |email: &str, password: &str| app.post("/v1/auth/signup", None, json!({"email": email, "password": password}));
    for email in ["ada\u{200b}@example.com", "ada\u{202e}@example.com", "ada\u{7}@example.com", "ädä@example.com"] {
        signup(email, "a fine pass phrase").await.expect_error(400, "invalid_request", "invalid_email");
    }
    // Malformed (400), or well-formed but on the common list or the email itself (422).
    for (password, status, code) in [
        ("12345678", 422, "weak_password"),
        ("password", 422, "weak_password"),
        ("Qwertyuiop", 422, "weak_password"),
        ("        ", 400, "invalid_password"),
        ("\t\t\t\t\n\n\n\n", 400, "invalid_password"),
        ("short", 400, "invalid_password"),
        ("Ada@Example.com", 422, "weak_password"),
    ] {
        let res = signup("ada@example.com", password).await;
        assert_eq!(res.expect_error(status, "invalid_request", code)["error"]["param"], "password", "{password:?}");
    }
    signup("Ada@Example.COM", "a fine pass phrase").await.expect(201);
    signup("ada@example.com", "a fine pass phrase").await.expect_error(409, "conflict", "email_taken");
    app.post("/v1/auth/login", None, json!({"email": "ADA@example.com", "password": "a fine pass phrase"}))
        .await
        .expect(200);
}

/// A body that trickles in slower than the body timeout is answered 408, and the connection
/// is not held open for it.
async fn slow_bodies_time_out(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.body_timeout_seconds = 1).await else { return };
    let address = app.base.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /v1/auth/login HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    // One byte a quarter second: never done within the second allowed.
    for byte in br#"{"email":"ada@example.com""#.iter() {
        if stream.write_all(&[*byte]).await.is_err() {
            break;
        }
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(250), stream.read(&mut buffer)).await {
            answer.extend_from_slice(&buffer[..n]);
            break;
        }
    }
    if answer.is_empty() {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer)).await.unwrap().unwrap();
        answer.extend_from_slice(&buffer[..n]);
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"body_timeout\""), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
}

/// With `APINFER_METRICS_ADDR`, metrics are served on that listener alone.
async fn metrics_can_have_their_own_listener(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.metrics_addr = Some("127.0.0.1:0".into())).await else {
        return;
    };
    app.get("/metrics", None).await.expect_error(404, "not_found", "route_not_found");
    let metrics = app.metrics_base.clone().expect("a metrics listener");
    let text = app.client.get(format!("{metrics}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("# TYPE apinfer_http_requests counter"), "{text}");
    assert!(text.ends_with("# EOF\n"), "OpenMetrics text: {text}");
}

/// The audit trail records who did what, from which session or key, for the account's
/// owners and admins alone, a page at a time.
async fn the_audit_trail_says_who_did_what(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let (admin, ada, bob, cy) = family(&app, None).await;
    let bob_id = app.get("/v1/me", Some(&bob)).await.expect(200)["user"]["id"].as_str().unwrap().to_string();
    let (key_id, key) = app.api_key(&ada, &["purchases:write"]).await;
    let card = card_payment("tok_visa");
    let pm = app.request(Method::POST, "/v1/payment-methods", Some(&key), Some(card), &[]).await.expect(201);
    let pm = pm["id"].as_str().unwrap();
    let alert = json!({"enabled": true, "threshold": "10"});
    let put = app.request(Method::PUT, "/v1/settings/low-balance-alert", Some(&bob), Some(alert), &[]);
    put.await.expect(200);
    let topup = json!({"enabled": true, "threshold": "5", "package_id": "basic", "payment_method_id": pm, "max_topups_per_day": 2});
    app.request(Method::PUT, "/v1/settings/auto-topup", Some(&ada.token), Some(topup), &[]).await.expect(200);
    let purchase = app.buy(&ada.token, "basic", "tok_visa").await;
    let refund_path = format!("/v1/purchases/{}/refund", purchase["id"].as_str().unwrap());
    let refund = app.post(&refund_path, Some(&key), json!({})).await.expect(201);
    app.request(Method::DELETE, &format!("/v1/payment-methods/{pm}"), Some(&ada.token), None, &[]).await.expect(200);
    app.request(Method::DELETE, &format!("/v1/api-keys/{key_id}"), Some(&ada.token), None, &[]).await.expect(200);
    let bob_path = format!("/v1/account/members/{bob_id}");
    app.request(Method::DELETE, &bob_path, Some(&ada.token), None, &[]).await.expect(200);
    let mut trail: Vec<Value> = Vec::new();
    let mut path = "/v1/audit-events?limit=3".to_string();
    loop {
        let page = app.get(&path, Some(&ada.token)).await.expect(200);
        trail.extend(page["data"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/audit-events?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    let actions: Vec<&str> = trail.iter().rev().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "account.type_changed",
            "member.added",
            "member.added",
            "adjustment.made",
            "api_key.created",
            "payment_method.saved",
            "settings.low_balance_alert.updated",
            "settings.auto_topup.updated",
            "refund.requested",
            "payment_method.removed",
            "api_key.revoked",
            "member.removed",
        ]
    );
    let by = |action: &str| trail.iter().find(|e| e["action"] == action).unwrap().clone();
    assert_eq!(by("adjustment.made")["actor"]["user_id"], admin.user_id.as_str());
    assert_eq!(by("adjustment.made")["details"]["credits"], "1000");
    assert_eq!(by("payment_method.saved")["actor"]["api_key_id"], key_id.as_str());
    assert_eq!(by("payment_method.saved")["actor"]["user_id"], ada.user_id.as_str());
    assert_eq!(by("refund.requested")["target_id"], refund["id"]);
    assert_eq!(by("settings.low_balance_alert.updated")["actor"]["user_id"], bob_id.as_str());
    assert!(by("settings.low_balance_alert.updated")["actor"]["session_id"].as_str().unwrap().starts_with("sess_"));
    assert_eq!(by("api_key.created")["details"]["scopes"], json!(["purchases:write"]));
    let only = app.get("/v1/audit-events?action=member.added", Some(&ada.token)).await.expect(200);
    assert_eq!(only["data"].as_array().unwrap().len(), 2);
    app.get("/v1/audit-events?action=nonsense", Some(&ada.token)).await.expect_error(
        400,
        "invalid_request",
        "invalid_action",
    );
    // Members may not read it; another account sees only its own (empty) trail.
    app.get("/v1/audit-events", Some(&cy)).await.expect_error(403, "permission_denied", "owner_or_admin_required");
    let eve = app.signup("eve@example.com").await;
    let theirs = app.get("/v1/audit-events", Some(&eve.token)).await.expect(200);
    assert_eq!(theirs["data"], json!([]));
    let foreign = format!("/v1/audit-events?cursor={}", trail[0]["id"].as_str().unwrap());
    app.get(&foreign, Some(&eve.token)).await.expect_error(404, "not_found", "resource_missing");
}

/// Bytes from outside, sent where the server parses them (cursors, ids in paths, bearer
/// tokens, webhook signatures): never a 5xx, only the contract's 4xx.
async fn outside_bytes_never_make_a_server_error(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let ada = app.signup("ada@example.com").await;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let text =
        proptest::string::string_regex("[ -~]{0,80}|(txn_|gen_|pur_|key_|usr_|sk_|eyJ)[A-Za-z0-9._-]{0,60}").unwrap();
    for _ in 0..120 {
        use proptest::strategy::ValueTree;
        let value = text.new_tree(&mut runner).unwrap().current();
        let encoded: String = url_escape(&value);
        for path in [
            format!("/v1/transactions?cursor={encoded}"),
            format!("/v1/generations?cursor={encoded}"),
            format!("/v1/purchases/{encoded}"),
            format!("/v1/generations/{encoded}"),
            format!("/v1/api-keys?cursor={encoded}"),
        ] {
            let res = app.get(&path, Some(&ada.token)).await;
            assert!(matches!(res.status.as_u16(), 200 | 400 | 404), "{path}: {}", res.text);
        }
        // A signed image URL's query, with no token.
        let image = format!("/v1/generations/gen_x/images/0?expires={encoded}&signature={encoded}");
        let res = app.get(&image, None).await;
        assert!(matches!(res.status.as_u16(), 400 | 401 | 403 | 404), "{image}: {}", res.text);
        if reqwest::header::HeaderValue::from_str(&value).is_ok() {
            let res = app.get("/v1/balance", Some(&value)).await;
            assert!(matches!(res.status.as_u16(), 401), "bearer {value:?}: {}", res.text);
            let headers = [("Apinfer-Signature", value.as_str())];
            let body = json!({"id": "evt_fuzz", "type": "payment.succeeded", "data": {"purchase_id": "pur_x"}});
            let res = app.raw_post("/v1/webhooks/payments/sandbox", body.to_string(), &headers).await;
            assert_eq!(res.status.as_u16(), 400, "signature {value:?}: {}", res.text);
        }
    }
}

fn url_escape(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    /// The credit parser never panics, accepts only the wire grammar, and what it accepts
    /// prints back to the same value.
    #[test]
    fn credits_parse_only_their_grammar(text in "-?[0-9]{0,16}(\\.[0-9]{0,6})?|\\PC{0,24}") {
        if let Ok(credits) = apinfer_core::Credits::parse(&text) {
            let grammar = regex_lite_match(&text);
            prop_assert!(grammar, "accepted {text:?}");
            prop_assert_eq!(apinfer_core::Credits::parse(&credits.to_string()).unwrap(), credits);
        }
    }

    /// A payment-webhook signature verifies only when made with the secret over that body
    /// and time; anything else is refused without a panic.
    #[test]
    fn signatures_verify_only_their_own(header in "\\PC{0,120}", body in proptest::collection::vec(any::<u8>(), 0..64), now in 0i64..4_000_000_000) {
        let secret = b"whsec_fuzzing_secret";
        prop_assert!(apinfer_core::signature::verify(secret, &header, &body, now).is_err() || header.contains("v1="));
        let signed = apinfer_core::signature::sign(secret, now, &body);
        prop_assert!(apinfer_core::signature::verify(secret, &signed, &body, now).is_ok());
        let mut tampered = body.clone();
        tampered.push(b'x');
        prop_assert!(apinfer_core::signature::verify(secret, &signed, &tampered, now).is_err());
    }

    /// A signed image URL verifies only with its own signature, before it expires.
    #[test]
    fn image_url_signatures_verify_only_their_own(signature in "\\PC{0,80}|[0-9a-f]{64}", expires in any::<i64>(), now in any::<i64>()) {
        use apinfer_core::signed_url::{sign, verify};
        let generation = apinfer_core::ids::GenerationId::generate();
        prop_assert!(verify(b"image-key", &generation, 0, expires, &signature, now).is_err()
            || signature == sign(b"image-key", &generation, 0, expires));
        let genuine = sign(b"image-key", &generation, 0, expires);
        prop_assert_eq!(verify(b"image-key", &generation, 0, expires, &genuine, now).is_ok(), now < expires);
    }

    /// Ids (and so cursors) parse only with their own prefix and never panic.
    #[test]
    fn ids_parse_only_with_their_prefix(text in "\\PC{0,64}|(txn_|gen_|acct_|usr_|key_|sess_)[A-Za-z0-9]{0,40}") {
        use apinfer_core::ids::{AccountId, GenerationId, SessionId, TransactionId};
        if TransactionId::parse(&text).is_some() { prop_assert!(text.starts_with("txn_")); }
        if GenerationId::parse(&text).is_some() { prop_assert!(text.starts_with("gen_")); }
        if AccountId::parse(&text).is_some() { prop_assert!(text.starts_with("acct_")); }
        if SessionId::parse(&text).is_some() { prop_assert!(text.starts_with("sess_")); }
    }
}

/// `-?DIGITS(.DIGITS)?` with at most 12 whole and 4 fractional digits.
fn regex_lite_match(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match digits.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (digits, None),
    };
    let is_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    is_digits(whole) && whole.len() <= 12 && fraction.is_none_or(|f| is_digits(f) && f.len() <= 4)
}

per_backend!(
    only_owners_and_admins_spend_saved_cards,
    a_removed_member_keeps_no_way_in,
    sessions_end_on_logout,
    balances_stay_in_range,
    webhook_urls_must_be_globally_reachable,
    signup_refuses_lookalike_emails_and_trivial_passwords,
    slow_bodies_time_out,
    metrics_can_have_their_own_listener,
    the_audit_trail_says_who_did_what,
    outside_bytes_never_make_a_server_error,
    members_page,
    lists_page_and_what_an_account_keeps_is_capped,
    webhook_event_ids_name_one_event,
    made_up_methods_add_no_metrics_series,
    metrics_need_the_token_when_one_is_set,
    failed_logins_are_throttled_per_account,
);
