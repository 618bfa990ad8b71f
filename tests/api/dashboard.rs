//! What the dashboard stands on, over HTTP: its files at `/` with a strict Content-Security-
//! Policy, the cookie session (HttpOnly, SameSite=Strict, CSRF-checked by origin, ended on the
//! server at log-out), the account switcher, a member's own limit in `/v1/me`, and one local
//! model per tier. The browser suite (`tests/dashboard/`) clicks through the app itself.

use reqwest::Method;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::helpers::{Resp, TestApp};
use crate::members::family;

/// A request with the session cookie and these headers (no `Authorization`).
async fn with_cookie(app: &TestApp, method: Method, path: &str, cookie: &str, headers: &[(&str, &str)]) -> Resp {
    let cookie = format!("apinfer_session={cookie}");
    let mut all = vec![("cookie", cookie.as_str())];
    all.extend_from_slice(headers);
    let body = (method != Method::GET).then(|| json!({}));
    app.request(method, path, None, body, &all).await
}

/// The session token in a `Set-Cookie`, after checking the cookie's attributes.
fn session_from(resp: &Resp) -> String {
    let set = resp.header("set-cookie").expect("a Set-Cookie").to_string();
    let lower = set.to_ascii_lowercase();
    for attribute in ["httponly", "samesite=strict", "path=/v1", "max-age="] {
        assert!(lower.contains(attribute), "{attribute} missing from {set}");
    }
    assert!(!lower.contains("secure"), "plain HTTP: no Secure attribute ({set})");
    let value = set.split(';').next().unwrap().strip_prefix("apinfer_session=").expect("the session cookie");
    value.to_string()
}

async fn the_dashboard_is_served_with_a_strict_policy(app: TestApp) {
    for (path, kind) in [("/", "text/html"), ("/app.js", "text/javascript"), ("/app.css", "text/css")] {
        let resp = app.request(Method::GET, path, None, None, &[]).await;
        assert_eq!(resp.status.as_u16(), 200, "{path}");
        assert!(resp.header("content-type").unwrap().starts_with(kind), "{path}");
        assert!(resp.text.len() > 100, "{path} is the built app, not a placeholder");
        let csp = resp.header("content-security-policy").expect("a CSP");
        assert!(csp.contains("default-src 'self'") && csp.contains("script-src 'self';"), "{csp}");
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(resp.header("x-content-type-options"), Some("nosniff"));
    }
    let html = app.request(Method::GET, "/", None, None, &[]).await.text;
    assert!(!html.contains("<script>") && !html.contains(" style="), "no inline script or style: {html}");
    assert!(html.contains("src=\"/app.js\""), "{html}");
}

async fn a_cookie_session_is_httponly_csrf_checked_and_ends_on_logout(app: TestApp) {
    let ada = app.signup("ada@example.com").await;
    let origin = app.base.clone();
    let login = json!({"email": "ada@example.com", "password": ada.password});

    // Logging in from another site's page is refused (login CSRF), and sets nothing.
    let resp = app
        .request(Method::POST, "/v1/auth/session", None, Some(login.clone()), &[("origin", "https://evil.example")])
        .await;
    assert!(resp.header("set-cookie").is_none());
    resp.expect_error(403, "permission_denied", "cross_site_request");

    let resp = app
        .request(Method::POST, "/v1/auth/session", None, Some(login.clone()), &[("sec-fetch-site", "cross-site")])
        .await;
    resp.expect_error(403, "permission_denied", "cross_site_request");
    let resp = app.request(Method::POST, "/v1/auth/session", None, Some(login.clone()), &[("origin", &origin)]).await;
    let cookie = session_from(&resp);
    let body = resp.expect(201);
    assert_eq!(body["account_id"], ada.account_id.as_str());
    assert_eq!(body["user_id"], ada.user_id.as_str());
    assert!(body.get("token").is_none() && !body.to_string().contains(&cookie), "the token is only in the cookie");

    // A page asks whether it is signed in without provoking a 401.
    let status = app.get("/v1/auth/session", None).await.expect(200);
    assert_eq!(status, json!({"signed_in": false, "user_id": null, "account_id": null}));
    let status = with_cookie(&app, Method::GET, "/v1/auth/session", &cookie, &[]).await.expect(200);
    assert_eq!(
        (status["signed_in"].as_bool(), status["account_id"].as_str()),
        (Some(true), Some(ada.account_id.as_str()))
    );

    // Reads work with the cookie alone.
    let me = with_cookie(&app, Method::GET, "/v1/me", &cookie, &[]).await.expect(200);
    assert_eq!(me["account"]["id"], ada.account_id.as_str());

    // A change of state needs this origin: not none, not another one.
    let create = |headers: Vec<(&'static str, String)>| {
        let cookie = format!("apinfer_session={cookie}");
        let app = &app;
        async move {
            let mut all: Vec<(&str, &str)> = vec![("cookie", cookie.as_str())];
            all.extend(headers.iter().map(|(k, v)| (*k, v.as_str())));
            app.request(
                Method::POST,
                "/v1/api-keys",
                None,
                Some(json!({"name": "k", "scopes": ["balance:read"]})),
                &all,
            )
            .await
        }
    };
    create(vec![]).await.expect_error(403, "permission_denied", "cross_site_request");
    create(vec![("origin", "https://evil.example".into())]).await.expect_error(
        403,
        "permission_denied",
        "cross_site_request",
    );
    create(vec![("sec-fetch-site", "cross-site".into())]).await.expect_error(
        403,
        "permission_denied",
        "cross_site_request",
    );
    create(vec![("origin", origin.clone())]).await.expect(201);
    create(vec![("sec-fetch-site", "same-origin".into())]).await.expect(201);

    // A bearer token needs no origin (another site cannot make a browser send one).
    app.post("/v1/api-keys", Some(&ada.token), json!({"name": "k", "scopes": ["balance:read"]})).await.expect(201);

    // An API key is never accepted as a cookie.
    let (_, key) = app.api_key(&ada, &["balance:read"]).await;
    with_cookie(&app, Method::GET, "/v1/balance", &key, &[]).await.expect_error(
        401,
        "authentication_required",
        "missing_token",
    );

    // Log-out ends the session on the server and removes the cookie.
    let resp = with_cookie(&app, Method::POST, "/v1/auth/logout", &cookie, &[("origin", &origin)]).await;
    let removal = resp.header("set-cookie").expect("a removal").to_ascii_lowercase();
    assert!(removal.starts_with("apinfer_session=;") && removal.contains("max-age=0"), "{removal}");
    assert_eq!(resp.expect(200)["revoked_sessions"], 1);
    with_cookie(&app, Method::GET, "/v1/me", &cookie, &[]).await.expect_error(
        401,
        "authentication_required",
        "invalid_token",
    );
    let status = with_cookie(&app, Method::GET, "/v1/auth/session", &cookie, &[]).await.expect(200);
    assert_eq!(status["signed_in"], false);
}

async fn the_account_switcher_moves_the_cookie_session(app: TestApp) {
    let (_, ada, _, _) = family(&app, Some("5")).await;
    let origin = app.base.clone();
    let cy = json!({"email": "cy@example.com", "password": "correct horse battery"});
    let resp = app.request(Method::POST, "/v1/auth/session", None, Some(cy), &[("origin", &origin)]).await;
    let own = session_from(&resp);
    let me = with_cookie(&app, Method::GET, "/v1/me", &own, &[]).await.expect(200);
    assert_eq!(me["accounts"].as_array().unwrap().len(), 2, "{me}");
    assert_eq!(me["role"], "owner");

    let switch = |cookie: String, account: Value, origin: Option<String>| {
        let app = &app;
        async move {
            let cookie = format!("apinfer_session={cookie}");
            let mut headers = vec![("cookie", cookie.as_str())];
            if let Some(origin) = &origin {
                headers.push(("origin", origin.as_str()));
            }
            app.request(Method::POST, "/v1/auth/switch-account", None, Some(json!({"account_id": account})), &headers)
                .await
        }
    };
    switch(own.clone(), json!(ada.account_id), None).await.expect_error(403, "permission_denied", "cross_site_request");
    let stranger = app.signup("dee@example.com").await;
    switch(own.clone(), json!(stranger.account_id), Some(origin.clone())).await.expect_error(
        404,
        "not_found",
        "resource_missing",
    );

    let resp = switch(own.clone(), json!(ada.account_id), Some(origin.clone())).await;
    let family_cookie = session_from(&resp);
    assert_eq!(resp.expect(200)["account_id"], ada.account_id.as_str());
    // The old session is over; the new one acts for the family account, as a member with a limit.
    with_cookie(&app, Method::GET, "/v1/me", &own, &[]).await.expect_error(
        401,
        "authentication_required",
        "invalid_token",
    );
    let me = with_cookie(&app, Method::GET, "/v1/me", &family_cookie, &[]).await.expect(200);
    assert_eq!(me["account"]["id"], ada.account_id.as_str());
    assert_eq!(
        (me["role"].as_str(), me["monthly_spend_limit"].as_str(), me["monthly_spent"].as_str()),
        (Some("member"), Some("5"), Some("0"))
    );
    let balance = with_cookie(&app, Method::GET, "/v1/balance", &family_cookie, &[]).await.expect(200);
    assert_eq!(balance["available"], "1000", "the shared balance");

    // Switching is for cookie sessions: a bearer session logs in again with `account_id`.
    let resp = app.post("/v1/auth/switch-account", Some(&ada.token), json!({"account_id": ada.account_id})).await;
    resp.expect_error(403, "permission_denied", "cookie_session_required");
    // The owner has no limit in their own account.
    let me = app.get("/v1/me", Some(&ada.token)).await.expect(200);
    assert_eq!((me["monthly_spend_limit"].clone(), me["monthly_spent"].as_str()), (Value::Null, Some("0")));
}

async fn the_catalog_has_a_local_model_per_tier(app: TestApp) {
    let models = app.get("/v1/models", None).await.expect(200);
    let ranges = [("basic", 0.1, 1.0), ("standard", 1.0, 5.0), ("premium", 5.0, 20.0)];
    for (id, tier) in [("scene-sketch", "basic"), ("scene-studio", "standard"), ("scene-vista", "premium")] {
        let model = models["data"].as_array().unwrap().iter().find(|m| m["id"] == id).unwrap_or_else(|| panic!("{id}"));
        assert_eq!(model["tier"], tier);
        let price: f64 = model["credits_per_image"].as_str().unwrap().parse().unwrap();
        let (_, low, high) = ranges.iter().find(|(t, ..)| *t == tier).unwrap();
        assert!((*low..=*high).contains(&price), "{id} at {price}");
    }
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    app.grant(&admin, &ada.account_id, "100").await;
    let mut images = Vec::new();
    for model in ["scene-sketch", "scene-studio", "scene-vista"] {
        let body = json!({"model": model, "prompt": "a harbour at dawn", "size": "512x512"});
        let generation = app.post("/v1/generations", Some(&ada.token), body).await.expect(201);
        let url = generation["images"][0]["url"].as_str().unwrap().to_string();
        let bytes = app.client.get(&url).send().await.unwrap().bytes().await.unwrap();
        images.push(bytes.len());
    }
    assert!(images[0] < images[1] && images[1] < images[2], "more detail, more bytes: {images:?}");
    assert_eq!(app.balance(&ada.token).await["balance"], "87", "0.5 + 2.5 + 10 charged");
}

backend_tests!(
    the_dashboard_is_served_with_a_strict_policy,
    a_cookie_session_is_httponly_csrf_checked_and_ends_on_logout,
    the_account_switcher_moves_the_cookie_session,
    the_catalog_has_a_local_model_per_tier
);
