//! The Stripe provider against a local server that answers with Stripe's documented shapes
//! (what localstripe lacks: 3-D Secure redirects, Alipay, WeChat Pay, outages; localstripe
//! itself plays the rest in tests/contract/test_stripe.py): the requests apinfer makes (amounts,
//! idempotency keys, off-session saved cards), what it makes of the answers, and Stripe's
//! signed webhooks crediting exactly once.

use reqwest::Method;
use serde_json::{json, Value};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{Backend, TestApp};
use crate::per_backend;

const WEBHOOK_SECRET: &str = "whsec_test_stripe_webhook_secret";

fn intent(id: &str, status: &str, extra: Value) -> Value {
    let mut body =
        json!({"id": id, "object": "payment_intent", "status": status, "client_secret": format!("{id}_secret_x")});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    body
}

/// A Stripe stand-in with the answers these tests need.
pub(crate) async fn stripe() -> MockServer {
    let server = MockServer::start().await;
    let card = |brand: &str, last4: &str| {
        json!({"id": "pm_x", "object": "payment_method", "type": "card",
               "card": {"brand": brand, "last4": last4, "exp_month": 7, "exp_year": 2031}})
    };
    for (pm, brand, last4) in [
        ("pm_card_visa", "visa", "4242"),
        ("pm_card_threeDSecure", "visa", "3220"),
        ("pm_card_chargeDeclined", "visa", "0002"),
        ("pm_card_outage", "visa", "1111"),
        ("pm_card_discover", "discover", "1117"),
    ] {
        Mock::given(method("GET"))
            .and(path(format!("/v1/payment_methods/{pm}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(card(brand, last4)))
            .mount(&server)
            .await;
    }
    let create = || Mock::given(method("POST")).and(path("/v1/payment_intents"));
    create()
        .and(body_string_contains("payment_method=pm_card_visa"))
        .respond_with(ResponseTemplate::new(200).set_body_json(intent("pi_visa", "succeeded", json!({}))))
        .mount(&server)
        .await;
    let redirect = json!({"next_action": {"type": "redirect_to_url", "redirect_to_url": {"url": "https://hooks.stripe.com/3d_secure/x"}}});
    create()
        .and(body_string_contains("payment_method=pm_card_threeDSecure"))
        .respond_with(ResponseTemplate::new(200).set_body_json(intent("pi_3ds", "requires_action", redirect)))
        .mount(&server)
        .await;
    create()
        .and(body_string_contains("payment_method=pm_card_chargeDeclined"))
        .respond_with(ResponseTemplate::new(402).set_body_json(json!({"error": {
            "type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds",
            "message": "Your card has insufficient funds."}})))
        .mount(&server)
        .await;
    create()
        .and(body_string_contains("payment_method=pm_card_outage"))
        .respond_with(
            ResponseTemplate::new(503).set_body_json(json!({"error": {"type": "api_error", "message": "down"}})),
        )
        .mount(&server)
        .await;
    let alipay = json!({"next_action": {"type": "alipay_handle_redirect", "alipay_handle_redirect": {"url": "https://hooks.stripe.com/alipay/x"}}});
    create()
        .and(body_string_contains("payment_method_types%5B%5D=alipay"))
        .respond_with(ResponseTemplate::new(200).set_body_json(intent("pi_alipay", "requires_action", alipay)))
        .mount(&server)
        .await;
    let wechat = json!({"next_action": {"type": "wechat_pay_display_qr_code", "wechat_pay_display_qr_code": {"data": "weixin://wxpay/bizpayurl?pr=x"}}});
    create()
        .and(body_string_contains("payment_method_types%5B%5D=wechat_pay"))
        .respond_with(ResponseTemplate::new(200).set_body_json(intent("pi_wechat", "requires_action", wechat)))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/customers"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "cus_1", "object": "customer"})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/setup_intents"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "seti_1", "status": "requires_payment_method"})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/setup_intents/seti_1/confirm"))
        .and(body_string_contains("payment_method=pm_card_threeDSecure"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "seti_1", "status": "requires_action"})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/setup_intents/seti_1/confirm"))
        .and(body_string_contains("payment_method=pm_card_visa"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "seti_1", "status": "succeeded"})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_methods/pm_card_visa/attach"))
        .respond_with(ResponseTemplate::new(200).set_body_json(card("visa", "4242")))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "re_1", "object": "refund", "status": "succeeded"})),
        )
        .mount(&server)
        .await;
    server
}

pub(crate) async fn spawn(backend: Backend, stripe: &MockServer) -> Option<TestApp> {
    let base = stripe.uri();
    TestApp::spawn_with(backend, move |c| {
        c.payments_provider = apinfer_api::config::PaymentsProvider::Stripe;
        c.stripe.secret_key = Some("sk_test_local".to_string().into());
        c.stripe.publishable_key = Some("pk_test_local".into());
        c.stripe.webhook_secret = Some(WEBHOOK_SECRET.to_string().into());
        c.stripe.api_base = base;
    })
    .await
}

/// The form parameters of the requests Stripe received at `path`.
async fn sent(stripe: &MockServer, at: &str) -> Vec<(String, Vec<(String, String)>)> {
    let requests = stripe.received_requests().await.unwrap_or_default();
    requests
        .into_iter()
        .filter(|r| r.url.path() == at && r.method.as_str() == "POST")
        .map(|r| {
            let key = r.headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
            (key, form_pairs(&r.body))
        })
        .collect()
}

/// `application/x-www-form-urlencoded` pairs, decoded.
fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    let decode = |text: &str| {
        let bytes = text.replace('+', " ").into_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match (bytes[i], bytes.get(i + 1..i + 3)) {
                (b'%', Some(hex)) => {
                    out.push(u8::from_str_radix(std::str::from_utf8(hex).unwrap(), 16).unwrap());
                    i += 3;
                }
                (b, _) => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        String::from_utf8(out).unwrap()
    };
    std::str::from_utf8(body)
        .unwrap()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn param<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Cards through PaymentIntents for the package's exact price, with apinfer's purchase id as
/// the idempotency key; declines, 3-D Secure, wallets, an outage and saved cards come back
/// as the contract says.
async fn cards_and_wallets_go_through_payment_intents(backend: Backend) {
    let stripe = stripe().await;
    let Some(app) = spawn(backend, &stripe).await else { return };
    let ada = app.signup("ada@example.com").await;
    let t = Some(ada.token.as_str());
    let provider = app.get("/v1/payment-provider", None).await.expect(200);
    assert_eq!(
        provider,
        json!({"provider": "stripe", "publishable_key": "pk_test_local", "checkout_url": null, "script_url": "https://js.stripe.com/v3/"})
    );
    let buy = |pm: Value| app.post("/v1/purchases", t, json!({"package_id": "standard", "payment_method": pm}));
    let card = |token: &str| json!({"type": "card", "token": token});

    let paid = buy(card("pm_card_visa")).await.expect(201);
    assert_eq!(paid["status"], "succeeded");
    assert_eq!(paid["payment_method"], json!({"type": "card", "brand": "visa", "last4": "4242"}));
    assert_eq!(app.balance(&ada.token).await["balance"], "5000");
    let intents = sent(&stripe, "/v1/payment_intents").await;
    let (key, form) = &intents[0];
    assert_eq!(key, &format!("apinfer-{}", paid["id"].as_str().unwrap()));
    assert_eq!(param(form, "amount"), Some("5000"), "CNY 50.00 in fen");
    assert_eq!(param(form, "currency"), Some("cny"));
    assert_eq!(param(form, "confirm"), Some("true"));
    assert_eq!(param(form, "metadata[purchase_id]"), paid["id"].as_str());

    let declined = buy(card("pm_card_chargeDeclined")).await.expect_error(402, "payment_failed", "insufficient_funds");
    assert!(declined["error"]["message"].as_str().unwrap().contains("insufficient funds"));
    buy(card("pm_card_discover")).await.expect_error(400, "invalid_request", "unsupported_card_brand");
    buy(card("pm_nonexistent")).await.expect_error(400, "invalid_request", "invalid_card_token");
    buy(card("tok_visa")).await.expect_error(400, "invalid_request", "invalid_card_token");

    let three_ds = buy(card("pm_card_threeDSecure")).await.expect(201);
    assert_eq!(three_ds["status"], "requires_action");
    assert_eq!(three_ds["next_action"], json!({"type": "redirect", "url": "https://hooks.stripe.com/3d_secure/x"}));
    let alipay = buy(json!({"type": "alipay"})).await.expect(201);
    assert_eq!(alipay["next_action"], json!({"type": "redirect", "url": "https://hooks.stripe.com/alipay/x"}));
    let intents = sent(&stripe, "/v1/payment_intents").await;
    let (_, form) = intents.iter().find(|(k, _)| k.ends_with(alipay["id"].as_str().unwrap())).unwrap();
    let back = format!("{}/?purchase={}", app.base, alipay["id"].as_str().unwrap());
    assert_eq!(param(form, "return_url"), Some(back.as_str()), "the customer comes back to apinfer");
    assert_eq!(param(form, "payment_method_types[]"), Some("alipay"));
    let wechat = buy(json!({"type": "wechat_pay"})).await.expect(201);
    assert_eq!(wechat["next_action"], json!({"type": "qr_code", "url": "weixin://wxpay/bizpayurl?pr=x"}));
    buy(json!({"type": "bank_transfer"})).await.expect_error(422, "invalid_request", "payment_method_unavailable");

    // Stripe down: 503, and the purchase stays `processing` (its outcome unknown), never failed.
    buy(card("pm_card_outage")).await.expect_error(503, "unavailable", "service_unavailable");
    let listed = app.get("/v1/purchases?limit=100", t).await.expect(200);
    let outage = listed["data"].as_array().unwrap().iter().find(|p| p["payment_method"]["last4"] == "1111").unwrap();
    assert_eq!(outage["status"], "processing");
    assert_eq!(app.balance(&ada.token).await["balance"], "5000", "only the paid purchase credited");
    // Stripe's own record settles it later: the charge had gone through.
    let outage_id = outage["id"].as_str().unwrap().to_string();
    let recorded = intent("pi_outage", "succeeded", json!({"metadata": {"purchase_id": outage_id}}));
    Mock::given(method("GET"))
        .and(path("/v1/payment_intents"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"object": "list", "data": [recorded]})))
        .mount(&stripe)
        .await;
    app.clock.advance(chrono::Duration::seconds(150));
    let mut settled = Value::Null;
    for _ in 0..100 {
        settled = app.get(&format!("/v1/purchases/{outage_id}"), t).await.expect(200);
        if settled["status"] == "succeeded" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(settled["status"], "succeeded", "{settled}");
    assert_eq!(app.balance(&ada.token).await["balance"], "10000", "credited once, from Stripe's record");

    // A saved card: a Customer with the PaymentMethod attached, charged off-session.
    let pm = app.post("/v1/payment-methods", t, card("pm_card_visa")).await.expect(201);
    assert_eq!((pm["brand"].as_str(), pm["exp_month"].as_i64()), (Some("visa"), Some(7)));
    let saved = buy(json!({"type": "card", "payment_method_id": pm["id"]})).await.expect(201);
    assert_eq!(app.balance(&ada.token).await["balance"], "15000");
    assert_eq!(saved["status"], "succeeded");
    let intents = sent(&stripe, "/v1/payment_intents").await;
    let (_, off_session) = intents.iter().find(|(k, _)| k.ends_with(saved["id"].as_str().unwrap())).unwrap();
    assert_eq!(param(off_session, "customer"), Some("cus_1"));
    assert_eq!(param(off_session, "off_session"), Some("true"));
    assert_eq!(sent(&stripe, "/v1/customers").await[0].0, format!("apinfer-customer-{}", pm["id"].as_str().unwrap()));
    let setups = sent(&stripe, "/v1/setup_intents").await;
    assert_eq!(param(&setups[0].1, "usage"), Some("off_session"));
    assert_eq!(param(&setups[0].1, "customer"), Some("cus_1"));
    // A card that asks for 3-D Secure when saved is not saved.
    let refused = app.post("/v1/payment-methods", t, card("pm_card_threeDSecure")).await;
    refused.expect_error(402, "payment_failed", "authentication_required");

    // A refund is a Stripe Refund of the PaymentIntent, at the price paid per credit.
    let refund = app.post(&format!("/v1/purchases/{}/refund", paid["id"].as_str().unwrap()), t, json!({})).await;
    let refund = refund.expect(201);
    assert_eq!(refund["status"], "succeeded", "Stripe settled it at once");
    let refunds = sent(&stripe, "/v1/refunds").await;
    assert_eq!(param(&refunds[0].1, "payment_intent"), Some("pi_visa"));
    assert_eq!(param(&refunds[0].1, "amount"), Some("5000"));
    assert_eq!(refunds[0].0, format!("apinfer-{}", refund["id"].as_str().unwrap()));
    app.assert_ledger_consistent(&ada.token).await;
}

/// Stripe's events, signed with `Stripe-Signature`: `payment_intent.succeeded` credits once
/// whatever is redelivered; a failure fails the purchase; a bad or stale signature changes
/// nothing; during a secret rotation either `v1` is accepted.
async fn stripe_webhooks_credit_exactly_once(backend: Backend) {
    let stripe = stripe().await;
    let Some(app) = spawn(backend, &stripe).await else { return };
    let ada = app.signup("ada@example.com").await;
    let t = Some(ada.token.as_str());
    let buy = |pm: &str| {
        app.post("/v1/purchases", t, json!({"package_id": "basic", "payment_method": {"type": "card", "token": pm}}))
    };
    let waiting = buy("pm_card_threeDSecure").await.expect(201);
    let purchase_id = waiting["id"].as_str().unwrap();
    let event = |id: &str, kind: &str, object: Value| json!({"id": id, "object": "event", "type": kind, "data": {"object": object}});
    let app = &app;
    let deliver = |body: Value, signature: Option<String>| {
        let body = body.to_string();
        let now = chrono::Utc::now().timestamp();
        let header =
            signature.unwrap_or_else(|| apinfer_core::signature::sign(WEBHOOK_SECRET.as_bytes(), now, body.as_bytes()));
        async move { app.raw_post("/v1/webhooks/payments/stripe", body, &[("Stripe-Signature", &header)]).await }
    };
    let succeeded = event(
        "evt_1",
        "payment_intent.succeeded",
        json!({"id": "pi_3ds", "object": "payment_intent", "metadata": {"purchase_id": purchase_id}}),
    );
    // Forged, stale: refused, nothing credited.
    let body = succeeded.to_string();
    let now = chrono::Utc::now().timestamp();
    let forged = apinfer_core::signature::sign(b"not the secret", now, body.as_bytes());
    deliver(succeeded.clone(), Some(forged)).await.expect_error(400, "invalid_request", "invalid_signature");
    let stale = apinfer_core::signature::sign(WEBHOOK_SECRET.as_bytes(), now - 3600, body.as_bytes());
    deliver(succeeded.clone(), Some(stale)).await.expect_error(400, "invalid_request", "invalid_signature");
    assert_eq!(app.balance(&ada.token).await["balance"], "0");
    // The other provider's signed event cannot name a Stripe purchase, now or on redelivery.
    for _ in 0..2 {
        let at = chrono::Utc::now().timestamp();
        let reply = app.payment_webhook("evt_sandbox", "payment.succeeded", purchase_id, at).await;
        reply.expect_error(404, "not_found", "resource_missing");
    }
    assert_eq!(app.balance(&ada.token).await["balance"], "0");
    // A rotation: an old secret's v1 and the current one's, either enough.
    let good = apinfer_core::signature::sign(WEBHOOK_SECRET.as_bytes(), now, body.as_bytes());
    let old = apinfer_core::signature::sign(b"the previous secret", now, body.as_bytes());
    let rotated = format!("{},{}", old, good.split(',').nth(1).unwrap());
    let ack = deliver(succeeded.clone(), Some(rotated)).await.expect(200);
    assert_eq!(ack, json!({"received": true, "duplicate": false, "purchase_status": "succeeded"}));
    let again = deliver(succeeded.clone(), None).await.expect(200);
    assert_eq!(again["duplicate"], true);
    assert_eq!(app.balance(&ada.token).await["balance"], "100", "credited once");
    // A PaymentIntent that is not the purchase's cannot credit it.
    let other = buy("pm_card_threeDSecure").await.expect(201);
    let wrong = event(
        "evt_2",
        "payment_intent.succeeded",
        json!({"id": "pi_someone_else", "metadata": {"purchase_id": other["id"]}}),
    );
    deliver(wrong, None).await.expect_error(409, "conflict", "payment_mismatch");
    // A failure, and an event about nothing of apinfer's.
    let failed = event(
        "evt_3",
        "payment_intent.payment_failed",
        json!({"id": "pi_3ds", "metadata": {"purchase_id": other["id"]}, "last_payment_error": {"code": "payment_intent_authentication_failure", "message": "3-D Secure failed"}}),
    );
    assert_eq!(deliver(failed, None).await.expect(200)["purchase_status"], "failed");
    let unrelated = deliver(event("evt_4", "customer.created", json!({"id": "cus_9"})), None).await.expect(200);
    assert_eq!(unrelated["purchase_status"], Value::Null);
    let purchase = app.get(&format!("/v1/purchases/{}", other["id"].as_str().unwrap()), t).await.expect(200);
    assert_eq!(purchase["failure_code"], "payment_intent_authentication_failure");
    // The customer tried again on the same PaymentIntent and it went through: Stripe's word
    // that the money was taken credits the purchase, once, whatever came before.
    let retried =
        event("evt_6", "payment_intent.succeeded", json!({"id": "pi_3ds", "metadata": {"purchase_id": other["id"]}}));
    assert_eq!(deliver(retried.clone(), None).await.expect(200)["purchase_status"], "succeeded");
    let redelivered =
        event("evt_7", "payment_intent.succeeded", json!({"id": "pi_3ds", "metadata": {"purchase_id": other["id"]}}));
    deliver(redelivered, None).await.expect(200);
    assert_eq!(app.balance(&ada.token).await["balance"], "200", "the retried payment credited once");
    // A refund Stripe settles later: processing until `charge.refunded` lists it succeeded.
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "re_2", "status": "pending"})))
        .with_priority(1)
        .mount(&stripe)
        .await;
    let refund = app.post(&format!("/v1/purchases/{purchase_id}/refund"), t, json!({})).await.expect(201);
    assert_eq!(refund["status"], "processing");
    let charge = json!({"id": "ch_1", "object": "charge", "payment_intent": "pi_3ds", "refunds": {"data": [
        {"id": "re_2", "object": "refund", "status": "succeeded", "metadata": {"refund_id": refund["id"]}}]}});
    deliver(event("evt_5", "charge.refunded", charge), None).await.expect(200);
    let refunds = app.get("/v1/refunds", t).await.expect(200);
    assert_eq!(refunds["data"][0]["status"], "succeeded", "{refunds}");
    // The sandbox's own webhook path is not Stripe's.
    app.request(Method::POST, "/v1/webhooks/payments/sandbox", None, Some(json!({})), &[]).await.expect_error(
        404,
        "not_found",
        "resource_missing",
    );
    app.assert_ledger_consistent(&ada.token).await;
}

per_backend!(cards_and_wallets_go_through_payment_intents, stripe_webhooks_credit_exactly_once);
