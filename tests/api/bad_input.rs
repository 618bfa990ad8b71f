//! Bad input, generated: every request body and query parameter mutated with wrong types, huge
//! numbers, more than 4 decimals, negative credits, unicode, control characters, deep nesting,
//! truncated and binary bodies. Never a 5xx, and an answer other than 2xx never changes anything
//! (balance, held, ledger, purchases, keys, saved cards, catalog). Bodies over the limit → 413.
//!
//! Cases are sampled with proptest strategies from a deterministic seed (so CI is reproducible);
//! a failure prints the request that caused it.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use reqwest::Method;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::helpers::{card_payment, TestApp, TestUser};

/// Cases per endpoint (signup and login hash passwords, so they get fewer).
const CASES: usize = 64;
const AUTH_CASES: usize = 24;

/// JSON number tokens serde_json or the credit parser might mishandle, spliced in as raw text.
const RAW_TOKENS: &[&str] = &[
    "1e400",
    "-1e400",
    "123456789012345678901234567890",
    "-0",
    "1.00000000001",
    "0.00001",
    "9223372036854775807",
    "-9223372036854775809",
    "18446744073709551616",
    "1E2",
    "NaN",
    "Infinity",
    "0x1F",
    "01",
    "+1",
    ".5",
    "\"\\ud800\"",
    "\"\\u0000\"",
];

fn nasty_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,40}",
        "-?[0-9]{1,30}(\\.[0-9]{0,12})?",
        "[\\x00-\\x1f\\x7f]{1,5}",
        prop::sample::select(vec![
            "",
            " ",
            "1.23456",
            "0.00001",
            "-5",
            "-0.0001",
            "1e9",
            "NaN",
            "Infinity",
            "99999999999999999999999999",
            "922337203685477.5807",
            "922337203685477.5808",
            "0x10",
            " 1",
            "1,5",
            "١٢٣",
            "\u{202e}\u{0000}🦀 ñ 漢字",
            "2030-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "0000-01-01T00:00:00Z",
            "acct_",
            "pm_doesnotexist",
            "'; DROP TABLE accounts; --",
            "standard",
            "ultra",
            "qwen-image",
            "512x512",
            "99999x99999",
            "0x0",
        ])
        .prop_map(str::to_string),
        Just("x".repeat(5000)),
    ]
}

fn nasty_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop::sample::select(vec![0_i64, 1, -1, 11, 13, 100_000, i64::MAX, i64::MIN]).prop_map(Value::from),
        Just(json!(u64::MAX)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        prop::sample::select(vec![1e300, 0.1, 1.75, -1.5, 1.23456]).prop_map(Value::from),
        nasty_string().prop_map(Value::from),
        nasty_string().prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// How a valid template body is spoiled.
#[derive(Clone, Debug)]
enum Mutation {
    /// Replace the value at path number `.0` (modulo the template's paths).
    Replace(usize, Value),
    Remove(usize),
    /// Add an unknown field.
    Extra(String, Value),
    /// Send this JSON value instead of the body.
    Whole(Value),
    /// Replace the value at a path with a raw (possibly invalid) JSON token.
    RawToken(usize, &'static str),
    /// Cut the template's text after this many thousandths of it.
    Truncate(usize),
    Bytes(Vec<u8>),
    /// `[[[[...` this deep.
    Nest(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), nasty_value()).prop_map(|(p, v)| Mutation::Replace(p, v)),
        1 => any::<usize>().prop_map(Mutation::Remove),
        1 => ("[a-z_]{1,10}", nasty_value()).prop_map(|(k, v)| Mutation::Extra(k, v)),
        1 => nasty_value().prop_map(Mutation::Whole),
        2 => (any::<usize>(), prop::sample::select(RAW_TOKENS)).prop_map(|(p, t)| Mutation::RawToken(p, t)),
        1 => (0..1000_usize).prop_map(Mutation::Truncate),
        1 => prop::collection::vec(any::<u8>(), 0..256).prop_map(Mutation::Bytes),
        1 => prop::sample::select(vec![129_usize, 1_000, 100_000]).prop_map(Mutation::Nest),
    ]
}

#[derive(Clone, Debug)]
enum Seg {
    Key(String),
    Index(usize),
}

/// Every path to a value inside `v` (not the root).
fn paths(v: &Value, prefix: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                prefix.push(Seg::Key(k.clone()));
                out.push(prefix.clone());
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                prefix.push(Seg::Index(i));
                out.push(prefix.clone());
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn at<'a>(v: &'a mut Value, path: &[Seg]) -> &'a mut Value {
    path.iter().fold(v, |v, seg| match seg {
        Seg::Key(k) => &mut v[k.as_str()],
        Seg::Index(i) => &mut v[*i],
    })
}

/// The body bytes `mutation` makes of `template`.
fn apply(template: &Value, mutation: &Mutation) -> Vec<u8> {
    let mut all = Vec::new();
    paths(template, &mut Vec::new(), &mut all);
    let mut body = template.clone();
    let pick = |n: usize| all.get(n % all.len().max(1)).cloned().unwrap_or_default();
    match mutation {
        Mutation::Replace(p, value) => {
            if all.is_empty() {
                return value.to_string().into_bytes();
            }
            *at(&mut body, &pick(*p)) = value.clone();
        }
        Mutation::Remove(p) => {
            let path = pick(*p);
            if let Some((last, parent)) = path.split_last() {
                match (at(&mut body, parent), last) {
                    (Value::Object(map), Seg::Key(k)) => {
                        map.remove(k);
                    }
                    (Value::Array(items), Seg::Index(i)) => {
                        items.remove(*i);
                    }
                    _ => {}
                }
            }
        }
        Mutation::Extra(key, value) => {
            if let Value::Object(map) = &mut body {
                map.insert(key.clone(), value.clone());
            }
        }
        Mutation::Whole(value) => return value.to_string().into_bytes(),
        Mutation::RawToken(p, token) => {
            if all.is_empty() {
                return token.as_bytes().to_vec();
            }
            *at(&mut body, &pick(*p)) = Value::from("__RAW_TOKEN__");
            return body.to_string().replace("\"__RAW_TOKEN__\"", token).into_bytes();
        }
        Mutation::Truncate(thousandths) => {
            let text = template.to_string().into_bytes();
            return text[..text.len() * thousandths / 1000].to_vec();
        }
        Mutation::Bytes(bytes) => return bytes.clone(),
        Mutation::Nest(depth) => return format!("{}{}", "[".repeat(*depth), "]".repeat(*depth / 2)).into_bytes(),
    }
    body.to_string().into_bytes()
}

/// `count` values of `strategy` from a fixed seed.
fn sample<S: Strategy>(strategy: S, count: usize) -> Vec<S::Value> {
    let mut runner = TestRunner::deterministic();
    (0..count).map(|_| strategy.new_tree(&mut runner).expect("a value").current()).collect()
}

/// Everything a bad request must not change, as the API shows it.
async fn snapshot(app: &TestApp, user: &TestUser, admin: &TestUser) -> Value {
    let t = Some(user.token.as_str());
    let a = Some(admin.token.as_str());
    let (balance, ledger, purchases, keys, cards, models, packages) = futures::join!(
        app.get("/v1/balance", t),
        app.get("/v1/transactions?limit=100", t),
        app.get("/v1/purchases?limit=100", t),
        app.get("/v1/api-keys", t),
        app.get("/v1/payment-methods", t),
        app.get("/v1/admin/models", a),
        app.get("/v1/admin/packages", a),
    );
    let ids = |r: &crate::helpers::Resp| {
        r.body["data"].as_array().unwrap().iter().map(|x| x["id"].clone()).collect::<Vec<_>>()
    };
    json!({
        "balance": balance.body["balance"],
        "held": balance.body["held"],
        "ledger": ids(&ledger),
        "purchases": purchases.body["data"],
        "keys": ids(&keys),
        "cards": ids(&cards),
        "models": models.body["data"],
        "packages": packages.body["data"],
        "admin_balance": app.get("/v1/balance", a).await.body["balance"],
    })
}

struct Endpoint {
    method: Method,
    path: String,
    token: Option<String>,
    template: Value,
    cases: usize,
}

async fn send(app: &TestApp, method: Method, path: &str, token: Option<&str>, body: Vec<u8>) -> (u16, Value) {
    let mut req = app.client.request(method, format!("{}{path}", app.base)).header("content-type", "application/json");
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.body(body).send().await.expect("the server answers");
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn bad_bodies_are_4xx_and_change_nothing(app: TestApp) {
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    let (_, key) = app.api_key(&ada, &["generations:write", "balance:read", "purchases:write"]).await;
    app.grant(&admin, &ada.account_id, "3.5").await;
    let card = card_payment("tok_visa");
    let session = Some(ada.token.clone());
    let admin_token = Some(admin.token.clone());
    let endpoint = |method: Method, path: &str, token: &Option<String>, template: Value| Endpoint {
        method,
        path: path.to_string(),
        token: token.clone(),
        template,
        cases: CASES,
    };
    let mut endpoints = vec![
        Endpoint {
            cases: AUTH_CASES,
            ..endpoint(
                Method::POST,
                "/v1/auth/signup",
                &None,
                json!({"email": "fuzz@example.com", "password": "correct horse battery", "name": "Fuzz"}),
            )
        },
        Endpoint {
            cases: AUTH_CASES,
            ..endpoint(
                Method::POST,
                "/v1/auth/login",
                &None,
                json!({"email": "ada@example.com", "password": "not the password", "account_id": ada.account_id}),
            )
        },
        endpoint(
            Method::POST,
            "/v1/api-keys",
            &session,
            json!({"name": "k", "scopes": ["balance:read", "usage:read"], "spend_limit": "10", "expires_at": "2040-01-01T00:00:00Z"}),
        ),
        endpoint(Method::POST, "/v1/purchases", &session, json!({"package_id": "basic", "payment_method": card})),
        endpoint(
            Method::POST,
            "/v1/purchases",
            &session,
            json!({"package_id": "basic", "payment_method": {"type": "card", "payment_method_id": "pm_doesnotexist"}}),
        ),
        endpoint(
            Method::POST,
            "/v1/generations",
            &Some(key.clone()),
            json!({"model": "qwen-image", "prompt": "x", "size": "512x512", "quality": "standard", "n": 1, "response_format": "url"}),
        ),
        endpoint(
            Method::POST,
            "/v1/images/generations",
            &Some(key.clone()),
            json!({"model": "qwen-image", "prompt": "x", "n": 1, "size": "512x512", "quality": "hd", "response_format": "b64_json"}),
        ),
        endpoint(
            Method::POST,
            &format!("/v1/admin/accounts/{}/adjustments", ada.account_id),
            &admin_token,
            json!({"credits": "-1000", "reason": "fuzz"}),
        ),
        endpoint(
            Method::PATCH,
            &format!("/v1/admin/accounts/{}", ada.account_id),
            &admin_token,
            json!({"type": "personal"}),
        ),
        endpoint(
            Method::POST,
            "/v1/admin/models",
            &admin_token,
            json!({"id": "fuzz-model", "name": "Fuzz", "tier": "standard", "credits_per_image": "2", "sizes": ["512x512"], "active": true}),
        ),
        endpoint(
            Method::PATCH,
            "/v1/admin/models/qwen-image",
            &admin_token,
            json!({"name": "Qwen-Image", "credits_per_image": "1.75"}),
        ),
        endpoint(
            Method::POST,
            "/v1/admin/packages",
            &admin_token,
            json!({"id": "fuzz-pack", "name": "Fuzz", "credits": "10", "price": {"amount": "1.00", "currency": "CNY"}, "popular": false, "active": true}),
        ),
        endpoint(
            Method::PATCH,
            "/v1/admin/packages/basic",
            &admin_token,
            json!({"name": "Basic", "credits": "100", "price": {"amount": "10.00", "currency": "CNY"}}),
        ),
        endpoint(Method::POST, "/v1/payment-methods", &session, card.clone()),
        endpoint(
            Method::POST,
            "/v1/webhooks/payments/sandbox",
            &None,
            json!({"id": "evt_fuzz", "type": "payment.succeeded", "data": {"purchase_id": "pur_fuzz"}}),
        ),
    ];
    let mutations = sample(mutation(), CASES);
    // Every violation is collected, so one run reports them all.
    let mut failures = Vec::new();
    let mut state = snapshot(&app, &ada, &admin).await;
    for ep in endpoints.drain(..) {
        // Besides the sampled cases: a NUL character in every field (PostgreSQL rejects it in text).
        let mut all = Vec::new();
        paths(&ep.template, &mut Vec::new(), &mut all);
        let nul_cases: Vec<Mutation> = (0..all.len()).map(|p| Mutation::Replace(p, json!("a\u{0}b"))).collect();
        for m in mutations.iter().take(ep.cases).chain(&nul_cases) {
            let body = apply(&ep.template, m);
            let shown = String::from_utf8_lossy(&body[..body.len().min(300)]).to_string();
            let (status, answer) = send(&app, ep.method.clone(), &ep.path, ep.token.as_deref(), body).await;
            if status >= 500 {
                failures.push(format!("{} {} answered {status} to {shown:?}: {answer}", ep.method, ep.path));
            }
            let after = snapshot(&app, &ada, &admin).await;
            // A card purchase the provider declines is recorded as failed (the contract's 402).
            let legitimate = (200..300).contains(&status) || answer["error"]["type"] == "payment_failed";
            if !legitimate && after != state {
                failures.push(format!("{} {} answered {status} to {shown:?} but changed state", ep.method, ep.path));
            }
            if !legitimate && !answer["error"]["type"].is_string() {
                failures.push(format!("{} {} answered {status} without the error shape: {answer}", ep.method, ep.path));
            }
            state = after;
        }
    }
    assert!(failures.is_empty(), "{} bad answers:\n{}", failures.len(), failures.join("\n"));
    app.assert_ledger_consistent(&ada.token).await;
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A query string over `params`: values nasty, percent-encoded or (sometimes) raw garbage.
fn query() -> impl Strategy<Value = Vec<(usize, String, bool)>> {
    prop::collection::vec((any::<usize>(), nasty_string(), any::<bool>()), 0..5)
}

async fn bad_query_parameters_are_4xx_and_change_nothing(app: TestApp) {
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    app.grant(&admin, &ada.account_id, "10").await;
    let before = snapshot(&app, &ada, &admin).await;
    let endpoints: [(&str, &[&str]); 5] = [
        ("/v1/transactions", &["type", "from", "to", "limit", "cursor", "x"]),
        ("/v1/generations", &["model", "limit", "cursor", "x"]),
        ("/v1/pricing/quote", &["model", "quality", "n", "n", "x"]),
        ("/v1/purchases", &["limit", "cursor", "x"]),
        ("/v1/refunds", &["limit", "cursor", "x"]),
    ];
    let raw_garbage = ["%", "%zz", "%ff%fe", "&&&", "==", "%00", "a=b=c", "\u{1F980}"];
    for (path, params) in endpoints {
        for (i, pairs) in sample(query(), CASES).into_iter().enumerate() {
            let mut parts: Vec<String> = pairs
                .iter()
                .map(|(p, value, encode)| {
                    let name = params[p % params.len()];
                    let value = if *encode { percent_encode(value) } else { value.replace(['#', ' '], "+") };
                    format!("{name}={value}")
                })
                .collect();
            if i % 8 == 0 {
                parts.push(raw_garbage[i / 8 % raw_garbage.len()].to_string());
            }
            let url = format!("{path}?{}", parts.join("&"));
            let resp = app.get(&url, Some(&ada.token)).await;
            assert!(resp.status.as_u16() < 500, "GET {url} answered {}: {}", resp.status, resp.text);
        }
    }
    assert_eq!(snapshot(&app, &ada, &admin).await, before, "reads changed state");
}

async fn bodies_over_the_limit_are_413(app: TestApp) {
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    let (_, key) = app.api_key(&ada, &["generations:write", "purchases:write"]).await;
    app.grant(&admin, &ada.account_id, "100").await;
    let before = snapshot(&app, &ada, &admin).await;
    let limit = app.config.max_body_bytes;
    let megabyte = json!({"model": "qwen-image", "prompt": "x".repeat(1 << 20)}).to_string().into_bytes();
    let just_over = json!({"model": "qwen-image", "prompt": "x".repeat(limit)}).to_string().into_bytes();
    let paths = [
        ("/v1/auth/signup", None),
        ("/v1/auth/login", None),
        ("/v1/api-keys", Some(ada.token.as_str())),
        ("/v1/purchases", Some(ada.token.as_str())),
        ("/v1/generations", Some(key.as_str())),
        ("/v1/images/generations", Some(key.as_str())),
        ("/v1/payment-methods", Some(ada.token.as_str())),
        ("/v1/admin/models", Some(admin.token.as_str())),
        ("/v1/admin/packages", Some(admin.token.as_str())),
        ("/v1/webhooks/payments/sandbox", None),
    ];
    let adjustments = format!("/v1/admin/accounts/{}/adjustments", ada.account_id);
    for (path, token) in paths.iter().copied().chain([(adjustments.as_str(), Some(admin.token.as_str()))]) {
        for body in [&megabyte, &just_over] {
            let (status, answer) = send(&app, Method::POST, path, token, body.clone()).await;
            assert_eq!(status, 413, "POST {path} with {} bytes: {answer}", body.len());
            assert_eq!(answer["error"]["type"], "invalid_request", "{answer}");
            assert_eq!(answer["error"]["code"], "payload_too_large", "{answer}");
        }
    }
    // At the limit the body is read, and judged on its merits (a 4,000-character prompt cap).
    let at_limit = json!({"model": "qwen-image", "prompt": "x".repeat(limit - 40)}).to_string().into_bytes();
    assert!(at_limit.len() <= limit);
    let (status, answer) = send(&app, Method::POST, "/v1/generations", Some(&key), at_limit).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (400, Some("invalid_prompt")), "{answer}");
    assert_eq!(snapshot(&app, &ada, &admin).await, before);
}

backend_tests!(
    bad_bodies_are_4xx_and_change_nothing,
    bad_query_parameters_are_4xx_and_change_nothing,
    bodies_over_the_limit_are_413
);
