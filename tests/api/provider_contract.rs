//! One contract every payment provider keeps, run against each of them through the API: the
//! built-in sandbox, and Stripe (played by a server answering in Stripe's documented shapes;
//! localstripe plays it end to end in tests/contract/test_stripe.py). A new provider is a new
//! set of [`Roles`] here, and must pass the same suite.

use serde_json::json;

use crate::helpers::{Backend, TestApp};
use crate::per_backend;

/// The card tokens that play each part for one provider.
struct Roles {
    /// Succeeds: a Visa ending in `visa_last4`.
    visa: &'static str,
    visa_last4: &'static str,
    /// Declined, with this code.
    declined: &'static str,
    declined_code: &'static str,
    /// Needs 3-D Secure.
    three_d_secure: &'static str,
    /// A brand apinfer does not accept.
    unsupported: &'static str,
    /// Nothing the provider issued.
    unknown: &'static str,
}

async fn keeps_the_contract(app: &TestApp, roles: &Roles) {
    let ada = app.signup("ada@example.com").await;
    let t = Some(ada.token.as_str());
    let buy =
        |pm: serde_json::Value| app.post("/v1/purchases", t, json!({"package_id": "basic", "payment_method": pm}));
    let card = |token: &str| json!({"type": "card", "token": token});

    let paid = buy(card(roles.visa)).await.expect(201);
    assert_eq!(paid["status"], "succeeded");
    assert_eq!(paid["payment_method"], json!({"type": "card", "brand": "visa", "last4": roles.visa_last4}));
    assert_eq!(app.balance(&ada.token).await["balance"], "100", "credited before the response");

    buy(card(roles.declined)).await.expect_error(402, "payment_failed", roles.declined_code);
    let waiting = buy(card(roles.three_d_secure)).await.expect(201);
    assert_eq!(waiting["status"], "requires_action");
    assert!(waiting["next_action"]["type"].is_string(), "{waiting}");
    buy(card(roles.unsupported)).await.expect_error(400, "invalid_request", "unsupported_card_brand");
    buy(card(roles.unknown)).await.expect_error(400, "invalid_request", "invalid_card_token");
    let number = json!({"type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123"}});
    buy(number).await.expect_error(400, "invalid_request", "card_data_not_accepted");
    assert_eq!(app.balance(&ada.token).await["balance"], "100", "none of those credited anything");

    let saved = app.post("/v1/payment-methods", t, card(roles.visa)).await.expect(201);
    assert_eq!((saved["brand"].as_str(), saved["last4"].as_str()), (Some("visa"), Some(roles.visa_last4)));
    let again = buy(json!({"type": "card", "payment_method_id": saved["id"]})).await.expect(201);
    assert_eq!(again["status"], "succeeded");
    assert_eq!(app.balance(&ada.token).await["balance"], "200");

    let refund = app.post(&format!("/v1/purchases/{}/refund", paid["id"].as_str().unwrap()), t, json!({})).await;
    let refund = refund.expect(201);
    assert_eq!(refund["credits"], "100");
    assert!(matches!(refund["status"].as_str(), Some("processing" | "succeeded")), "{refund}");
    assert_eq!(app.balance(&ada.token).await["balance"], "100");
    app.assert_ledger_consistent(&ada.token).await;
}

async fn the_sandbox_keeps_the_provider_contract(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let roles = Roles {
        visa: "tok_visa",
        visa_last4: "4242",
        declined: "tok_chargeDeclined",
        declined_code: "card_declined",
        three_d_secure: "tok_threeDSecureRequired",
        unsupported: "tok_discover",
        unknown: "tok_unknown",
    };
    keeps_the_contract(&app, &roles).await;
}

async fn stripe_keeps_the_provider_contract(backend: Backend) {
    let stripe = crate::stripe::stripe().await;
    let Some(app) = crate::stripe::spawn(backend, &stripe).await else { return };
    let roles = Roles {
        visa: "pm_card_visa",
        visa_last4: "4242",
        declined: "pm_card_chargeDeclined",
        declined_code: "insufficient_funds",
        three_d_secure: "pm_card_threeDSecure",
        unsupported: "pm_card_discover",
        unknown: "pm_nonexistent",
    };
    keeps_the_contract(&app, &roles).await;
}

per_backend!(the_sandbox_keeps_the_provider_contract, stripe_keeps_the_provider_contract);
