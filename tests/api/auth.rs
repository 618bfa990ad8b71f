use reqwest::Method;
use serde_json::json;

use crate::backend_tests;
use crate::helpers::TestApp;

async fn signup_creates_user_personal_account_and_session(app: TestApp) {
    let body = app
        .post("/v1/auth/signup", None, json!({"email": "Ada@Example.com", "password": "long enough", "name": "Ada"}))
        .await
        .expect(201);
    assert!(body["user"]["id"].as_str().unwrap().starts_with("usr_"));
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert!(body["account"]["id"].as_str().unwrap().starts_with("acct_"));
    assert_eq!(body["account"]["type"], "personal");
    let token = body["token"].as_str().unwrap();
    let me = app.get("/v1/me", Some(token)).await.expect(200);
    assert_eq!(me["role"], "owner");
    assert_eq!(me["account"]["id"], body["account"]["id"]);
    assert_eq!(me["accounts"].as_array().unwrap().len(), 1);
    assert_eq!(me["accounts"][0]["role"], "owner");
    let account = app.get("/v1/account", Some(token)).await.expect(200);
    assert_eq!(account["type"], "personal");
    assert_eq!(account["name"], "Ada");
}

async fn signup_rejects_bad_input_and_writes_nothing(app: TestApp) {
    app.post("/v1/auth/signup", None, json!({"email": "not-an-email", "password": "long enough"})).await.expect_error(
        400,
        "invalid_request",
        "invalid_email",
    );
    let short = app.post("/v1/auth/signup", None, json!({"email": "bob@example.com", "password": "short"})).await;
    let body = short.expect_error(400, "invalid_request", "invalid_password");
    assert_eq!(body["error"]["param"], "password");
    let missing = app.post("/v1/auth/signup", None, json!({"email": "bob@example.com"})).await;
    missing.expect_error(400, "invalid_request", "invalid_parameter");
    // Nothing was written: the email is still free and cannot log in.
    app.post("/v1/auth/login", None, json!({"email": "bob@example.com", "password": "short"})).await.expect_error(
        401,
        "authentication_required",
        "invalid_credentials",
    );
    app.signup("bob@example.com").await;
}

async fn duplicate_email_is_a_conflict(app: TestApp) {
    app.signup("dup@example.com").await;
    app.post("/v1/auth/signup", None, json!({"email": "DUP@example.com", "password": "another one"}))
        .await
        .expect_error(409, "conflict", "email_taken");
}

async fn login_issues_sessions_for_own_or_member_accounts_only(app: TestApp) {
    let ada = app.signup("ada@example.com").await;
    let bob = app.signup("bob@example.com").await;
    let login = app
        .post("/v1/auth/login", None, json!({"email": "ada@example.com", "password": ada.password}))
        .await
        .expect(200);
    assert_eq!(login["account_id"], ada.account_id.as_str());
    assert!(login["expires_at"].as_str().is_some());
    let explicit = app
        .post(
            "/v1/auth/login",
            None,
            json!({"email": "ada@example.com", "password": ada.password, "account_id": ada.account_id}),
        )
        .await
        .expect(200);
    assert_eq!(explicit["account_id"], ada.account_id.as_str());
    // Bob's account is foreign to Ada: 404, never 403.
    app.post(
        "/v1/auth/login",
        None,
        json!({"email": "ada@example.com", "password": ada.password, "account_id": bob.account_id}),
    )
    .await
    .expect_error(404, "not_found", "resource_missing");
    app.post("/v1/auth/login", None, json!({"email": "ada@example.com", "password": "wrong password"}))
        .await
        .expect_error(401, "authentication_required", "invalid_credentials");
    app.post("/v1/auth/login", None, json!({"email": "nobody@example.com", "password": "whatever it is"}))
        .await
        .expect_error(401, "authentication_required", "invalid_credentials");
}

async fn bad_tokens_are_401(app: TestApp) {
    let ada = app.signup("ada@example.com").await;
    app.get("/v1/me", None).await.expect_error(401, "authentication_required", "missing_token");
    app.get("/v1/me", Some("garbage")).await.expect_error(401, "authentication_required", "invalid_token");
    app.request(Method::GET, "/v1/me", None, None, &[("Authorization", "Basic abc")]).await.expect_error(
        401,
        "authentication_required",
        "missing_token",
    );
    // The session id of Ada's token, which a well-signed token must also name.
    let sid = {
        use base64::Engine;
        let payload = ada.token.split('.').nth(1).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        claims["sid"].as_str().unwrap().to_string()
    };
    // A JWT signed with another secret.
    let claims = json!({"sub": ada.user_id, "acct": ada.account_id, "sid": sid, "iat": 0, "exp": 4_000_000_000u64});
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"not the server's secret at all"),
    )
    .unwrap();
    app.get("/v1/me", Some(&forged)).await.expect_error(401, "authentication_required", "invalid_token");
    // alg: none.
    use base64_url as b64;
    let unsigned = format!("{}.{}.", b64(br#"{"alg":"none","typ":"JWT"}"#), b64(claims.to_string().as_bytes()));
    app.get("/v1/me", Some(&unsigned)).await.expect_error(401, "authentication_required", "invalid_token");
    // An expired session: the server's own secret, but past its expiry.
    let secret = secrecy::ExposeSecret::expose_secret(&app.config.jwt_secret).to_string();
    let expired_claims = json!({"sub": ada.user_id, "acct": ada.account_id, "sid": sid, "iat": 1, "exp": 2});
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &expired_claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap();
    app.get("/v1/me", Some(&expired)).await.expect_error(401, "authentication_required", "invalid_token");
    // The same secret with a live expiry works, proving the secret above was right.
    let sign = |claims: &serde_json::Value| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            claims,
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    };
    let live =
        sign(&json!({"sub": ada.user_id, "acct": ada.account_id, "sid": sid, "iat": 1, "exp": 4_000_000_000u64}));
    app.get("/v1/me", Some(&live)).await.expect(200);
    // Well signed, but naming no session (or none of Ada's): refused.
    let sessionless = sign(&json!({"sub": ada.user_id, "acct": ada.account_id, "iat": 1, "exp": 4_000_000_000u64}));
    app.get("/v1/me", Some(&sessionless)).await.expect_error(401, "authentication_required", "invalid_token");
    let bob = app.signup("bob@example.com").await;
    let borrowed =
        sign(&json!({"sub": bob.user_id, "acct": bob.account_id, "sid": sid, "iat": 1, "exp": 4_000_000_000u64}));
    app.get("/v1/me", Some(&borrowed)).await.expect_error(401, "authentication_required", "invalid_token");
    // Once the session is over, a well-signed token naming it is refused too.
    app.post("/v1/auth/logout", Some(&ada.token), json!({})).await.expect(200);
    app.get("/v1/me", Some(&live)).await.expect_error(401, "authentication_required", "invalid_token");
}

fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

backend_tests!(
    signup_creates_user_personal_account_and_session,
    signup_rejects_bad_input_and_writes_nothing,
    duplicate_email_is_a_conflict,
    login_issues_sessions_for_own_or_member_accounts_only,
    bad_tokens_are_401,
);
