//! Stripe as the payment provider (<https://docs.stripe.com/api>), over its REST API with the
//! account's secret key. Cards only reach apinfer as PaymentMethod ids made by Stripe.js (the
//! "token"); Stripe keeps the numbers.
//!
//! - A card purchase is a PaymentIntent in the package's currency for its exact price,
//!   confirmed at once with the PaymentMethod; 3-D Secure answers `requires_action` with
//!   `next_action.type = use_stripe_sdk` (the browser completes it with Stripe.js and the
//!   PaymentIntent's client secret), confirmed by the `payment_intent.succeeded` webhook.
//! - A saved card is a Customer with the PaymentMethod set up for off-session use (a confirmed
//!   SetupIntent) and attached, charged off-session by automatic top-up.
//! - Refunds are Stripe Refunds of the PaymentIntent.
//! - Every call that creates something carries an `Idempotency-Key` made from apinfer's own id
//!   for the operation, so a retry (or a reconciliation) never charges twice.
//! - Calls time out; a timeout, a transport error or a 5xx is `provider_unavailable`: the
//!   outcome is unknown, and the caller must not guess it.
//!
//! Calls block (run them off the async executor).

use std::time::Duration;

use serde_json::Value;

use super::{
    BankInstructions, CardBrand, CardDetails, ChargeSource, Charged, NextAction, PaymentDeclined, PaymentProvider,
    ProviderRefund, SavedCard, Settlement, TokenError, Wallet, UNAVAILABLE,
};
use crate::Money;

/// How apinfer reaches Stripe.
#[derive(Clone, Debug)]
pub struct StripeConfig {
    /// `sk_live_...` / `sk_test_...`.
    pub secret_key: String,
    /// `https://api.stripe.com` (tests point it at a local server).
    pub api_base: String,
    /// Per-call timeout.
    pub timeout: Duration,
    /// apinfer's public origin: where Stripe sends a customer back after paying on a redirect
    /// (Alipay), to `{return_base}/?purchase=pur_...` (the dashboard shows the purchase).
    pub return_base: String,
}

pub struct StripeProvider {
    config: StripeConfig,
    /// Made on first use, on a blocking thread (a blocking client may not be made, or
    /// dropped, on the async executor).
    client: std::sync::OnceLock<reqwest::blocking::Client>,
}

/// What a call to Stripe came to.
enum Failure {
    /// Stripe answered 402 (a card error): its `decline_code` or `code`, and message.
    Declined(String, String),
    /// 404: no such object.
    NotFound,
    /// Any other 4xx: the request was wrong (a bug or a misconfiguration).
    Refused(String),
    /// No answer, or a 5xx: the outcome is unknown.
    Unavailable(String),
}

impl Failure {
    fn into_declined(self) -> PaymentDeclined {
        match self {
            Failure::Declined(code, message) => {
                let code = match code.as_str() {
                    "insufficient_funds" => "insufficient_funds",
                    "authentication_required" => "authentication_required",
                    "expired_card" => "expired_card",
                    _ => "card_declined",
                };
                PaymentDeclined { code, message }
            }
            Failure::NotFound => {
                PaymentDeclined { code: "card_declined", message: "Stripe does not know this card".into() }
            }
            Failure::Refused(message) => PaymentDeclined { code: "processing_error", message },
            Failure::Unavailable(message) => PaymentDeclined { code: UNAVAILABLE, message },
        }
    }
}

impl StripeProvider {
    pub fn new(config: StripeConfig) -> Self {
        StripeProvider { config, client: std::sync::OnceLock::new() }
    }

    fn client(&self) -> &reqwest::blocking::Client {
        self.client.get_or_init(|| {
            reqwest::blocking::Client::builder()
                .connect_timeout(Duration::from_secs(5).min(self.config.timeout))
                .timeout(self.config.timeout)
                .build()
                .unwrap_or_default()
        })
    }

    /// One API call: form-encoded parameters, the secret key, an idempotency key on creates.
    fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        params: &[(&str, String)],
        idempotency_key: Option<&str>,
    ) -> Result<Value, Failure> {
        let url = format!("{}{path}", self.config.api_base.trim_end_matches('/'));
        let mut request = self.client().request(method.clone(), &url).bearer_auth(&self.config.secret_key);
        request = if method == reqwest::Method::GET { request.query(params) } else { request.form(params) };
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request.send().map_err(|e| Failure::Unavailable(format!("Stripe did not answer: {e}")))?;
        let status = response.status();
        let body = match response.json::<Value>() {
            Ok(body) => body,
            Err(e) if status.is_success() => {
                return Err(Failure::Unavailable(format!("Stripe's answer was unreadable: {e}")));
            }
            // An error answer without a body is judged by its status alone.
            Err(_) => Value::Null,
        };
        if status.is_success() {
            return Ok(body);
        }
        let error = &body["error"];
        let message = error["message"].as_str().unwrap_or("Stripe refused the request").to_string();
        Err(match status.as_u16() {
            402 => {
                let code = error["decline_code"].as_str().or(error["code"].as_str()).unwrap_or("card_declined");
                Failure::Declined(code.to_string(), message)
            }
            404 => Failure::NotFound,
            s if s >= 500 || s == 429 => Failure::Unavailable(format!("Stripe answered {s}: {message}")),
            _ => Failure::Refused(message),
        })
    }

    /// A PaymentIntent's outcome.
    fn charged(intent: &Value) -> Result<Charged, PaymentDeclined> {
        let id = intent["id"].as_str().unwrap_or_default().to_string();
        match intent["status"].as_str() {
            Some("succeeded") => Ok(Charged::Succeeded { charge_id: id }),
            Some("requires_action") => Ok(Charged::RequiresAction { next_action: next_action(intent), charge_id: id }),
            // Being processed (or waiting to be captured): the webhook says how it ends.
            Some("processing") | Some("requires_capture") => Ok(Charged::Pending { charge_id: id }),
            _ => {
                let error = &intent["last_payment_error"];
                Err(Failure::Declined(
                    error["decline_code"].as_str().or(error["code"].as_str()).unwrap_or("card_declined").to_string(),
                    error["message"].as_str().unwrap_or("the card was declined").to_string(),
                )
                .into_declined())
            }
        }
    }

    fn card_of(method: &Value) -> Result<CardDetails, TokenError> {
        let card = &method["card"];
        let brand = card["brand"].as_str().unwrap_or_default();
        let brand = match brand {
            "visa" => CardBrand::Visa,
            "mastercard" => CardBrand::Mastercard,
            "amex" => CardBrand::Amex,
            other => return Err(TokenError::UnsupportedBrand(display_brand(other))),
        };
        Ok(CardDetails {
            brand,
            last4: card["last4"].as_str().unwrap_or_default().to_string(),
            exp_month: card["exp_month"].as_u64().unwrap_or_default() as u32,
            exp_year: card["exp_year"].as_i64().unwrap_or_default() as i32,
        })
    }
}

fn display_brand(brand: &str) -> String {
    match brand {
        "discover" => "Discover".into(),
        "jcb" => "JCB".into(),
        "diners" => "Diners Club".into(),
        "unionpay" => "UnionPay".into(),
        "" => "These".into(),
        other => other.to_string(),
    }
}

/// What the customer must do, from a PaymentIntent's `next_action`.
fn next_action(intent: &Value) -> NextAction {
    let action = &intent["next_action"];
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    match action["type"].as_str() {
        Some("redirect_to_url") => {
            NextAction { action_type: "redirect".into(), url: text(&action["redirect_to_url"]["url"]) }
        }
        Some("alipay_handle_redirect") => {
            NextAction { action_type: "redirect".into(), url: text(&action["alipay_handle_redirect"]["url"]) }
        }
        Some("wechat_pay_display_qr_code") => {
            NextAction { action_type: "qr_code".into(), url: text(&action["wechat_pay_display_qr_code"]["data"]) }
        }
        // 3-D Secure through Stripe.js: the client completes it with the client secret.
        _ => NextAction { action_type: "use_stripe_sdk".into(), url: text(&intent["client_secret"]) },
    }
}

/// A saved card's reference: the Customer and the PaymentMethod.
fn saved_parts(saved: &str) -> Option<(&str, &str)> {
    saved.split_once('/')
}

impl PaymentProvider for StripeProvider {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn card_token(&self, token: &str) -> Result<CardDetails, TokenError> {
        if !token.starts_with("pm_") || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(TokenError::Unknown);
        }
        match self.call(reqwest::Method::GET, &format!("/v1/payment_methods/{token}"), &[], None) {
            Ok(method) if method["type"] == "card" => Self::card_of(&method),
            Ok(_) | Err(Failure::NotFound) | Err(Failure::Refused(_)) | Err(Failure::Declined(..)) => {
                Err(TokenError::Unknown)
            }
            Err(Failure::Unavailable(message)) => Err(TokenError::Unavailable(message)),
        }
    }

    fn save_card(&self, token: &str, reference: &str) -> Result<SavedCard, PaymentDeclined> {
        let card = self.card_token(token).map_err(|e| PaymentDeclined {
            code: if matches!(e, TokenError::Unavailable(_)) { UNAVAILABLE } else { "invalid_card_token" },
            message: e.to_string(),
        })?;
        let customer = self
            .call(
                reqwest::Method::POST,
                "/v1/customers",
                &[("metadata[payment_method_id]", reference.to_string())],
                Some(&format!("apinfer-customer-{reference}")),
            )
            .map_err(Failure::into_declined)?;
        let customer = customer["id"].as_str().unwrap_or_default().to_string();
        // A SetupIntent for off-session use: the bank's consent (and 3-D Secure, if it asks for
        // it at saving) before any top-up charges the card while nobody is there.
        let setup = self
            .call(
                reqwest::Method::POST,
                "/v1/setup_intents",
                &[
                    ("customer", customer.clone()),
                    ("usage", "off_session".to_string()),
                    ("metadata[payment_method_id]", reference.to_string()),
                ],
                Some(&format!("apinfer-setup-{reference}")),
            )
            .map_err(Failure::into_declined)?;
        let setup_id = setup["id"].as_str().unwrap_or_default();
        let confirmed = self
            .call(
                reqwest::Method::POST,
                &format!("/v1/setup_intents/{setup_id}/confirm"),
                &[("payment_method", token.to_string())],
                Some(&format!("apinfer-setup-confirm-{reference}")),
            )
            .map_err(Failure::into_declined)?;
        match confirmed["status"].as_str() {
            Some("succeeded") => {}
            Some("requires_action") => {
                return Err(PaymentDeclined {
                    code: "authentication_required",
                    message: "the card asks for 3-D Secure to be saved; pay with it once instead, or save another card"
                        .into(),
                })
            }
            _ => {
                return Err(Failure::Declined("card_declined".into(), "the card cannot be saved".into()).into_declined())
            }
        }
        self.call(
            reqwest::Method::POST,
            &format!("/v1/payment_methods/{token}/attach"),
            &[("customer", customer.clone())],
            Some(&format!("apinfer-attach-{reference}")),
        )
        .map_err(Failure::into_declined)?;
        Ok(SavedCard { token: format!("{customer}/{token}"), card })
    }

    fn charge(&self, source: ChargeSource<'_>, amount: Money, reference: &str) -> Result<Charged, PaymentDeclined> {
        let mut params = vec![
            ("amount", amount.minor().to_string()),
            ("currency", amount.currency().as_str().to_lowercase()),
            ("payment_method_types[]", "card".to_string()),
            ("confirm", "true".to_string()),
            ("metadata[purchase_id]", reference.to_string()),
        ];
        match source {
            ChargeSource::Token(token) => params.push(("payment_method", token.to_string())),
            ChargeSource::Saved(saved) => {
                let (customer, method) = saved_parts(saved).ok_or_else(|| PaymentDeclined {
                    code: "card_declined",
                    message: "not a saved Stripe card".into(),
                })?;
                params.push(("customer", customer.to_string()));
                params.push(("payment_method", method.to_string()));
                params.push(("off_session", "true".to_string()));
            }
        }
        let intent = self
            .call(reqwest::Method::POST, "/v1/payment_intents", &params, Some(&format!("apinfer-{reference}")))
            .map_err(Failure::into_declined)?;
        Self::charged(&intent)
    }

    fn start_wallet_payment(
        &self,
        wallet: Wallet,
        amount: Money,
        reference: &str,
    ) -> Result<NextAction, PaymentDeclined> {
        let kind = match wallet {
            Wallet::Alipay => "alipay",
            Wallet::WechatPay => "wechat_pay",
        };
        let mut params = vec![
            ("amount", amount.minor().to_string()),
            ("currency", amount.currency().as_str().to_lowercase()),
            ("payment_method_types[]", kind.to_string()),
            ("payment_method_data[type]", kind.to_string()),
            ("confirm", "true".to_string()),
            ("metadata[purchase_id]", reference.to_string()),
        ];
        match wallet {
            Wallet::Alipay => params.push(("return_url", format!("{}/?purchase={reference}", self.config.return_base))),
            Wallet::WechatPay => params.push(("payment_method_options[wechat_pay][client]", "web".to_string())),
        }
        let intent = self
            .call(reqwest::Method::POST, "/v1/payment_intents", &params, Some(&format!("apinfer-{reference}")))
            .map_err(Failure::into_declined)?;
        Ok(next_action(&intent))
    }

    fn start_bank_transfer(&self, _amount: Money, _reference: &str) -> Result<BankInstructions, PaymentDeclined> {
        Err(PaymentDeclined {
            code: "payment_method_unavailable",
            message: "bank transfers are not offered through Stripe here; pay by card, Alipay or WeChat Pay".into(),
        })
    }

    fn settlement(&self, reference: &str) -> Result<Settlement, PaymentDeclined> {
        // The PaymentIntent made for this purchase carries its id in its metadata; recent ones
        // are listed newest first (a purchase left unknown is reconciled within minutes).
        let listed = self
            .call(reqwest::Method::GET, "/v1/payment_intents", &[("limit", "100".to_string())], None)
            .map_err(Failure::into_declined)?;
        let found = listed["data"]
            .as_array()
            .and_then(|intents| intents.iter().find(|i| i["metadata"]["purchase_id"] == reference));
        let Some(intent) = found else { return Ok(Settlement::NotFound) };
        Ok(match Self::charged(intent) {
            Ok(Charged::Succeeded { charge_id }) => Settlement::Succeeded { charge_id },
            Ok(_) => Settlement::Pending,
            Err(declined) => Settlement::Failed(declined),
        })
    }

    fn refund(
        &self,
        charge_id: Option<&str>,
        amount: Money,
        reference: &str,
    ) -> Result<ProviderRefund, PaymentDeclined> {
        let intent = charge_id.ok_or_else(|| PaymentDeclined {
            code: "processing_error",
            message: "no Stripe payment to refund".into(),
        })?;
        let refund = self
            .call(
                reqwest::Method::POST,
                "/v1/refunds",
                &[
                    ("payment_intent", intent.to_string()),
                    ("amount", amount.minor().to_string()),
                    ("metadata[refund_id]", reference.to_string()),
                ],
                Some(&format!("apinfer-{reference}")),
            )
            .map_err(Failure::into_declined)?;
        Ok(ProviderRefund {
            id: refund["id"].as_str().unwrap_or_default().to_string(),
            settled: refund["status"] == "succeeded",
        })
    }
}
