//! The built-in sandbox provider: no network, deterministic outcomes, no money. It plays a
//! real provider's test mode with Stripe's test token names:
//!
//! | token | card | outcome |
//! |---|---|---|
//! | `tok_visa` | Visa ····4242 | succeeds |
//! | `tok_mastercard` | Mastercard ····4444 | succeeds |
//! | `tok_amex` | American Express ····0005 | succeeds |
//! | `tok_chargeDeclined` | Visa ····0002 | declined, `card_declined` |
//! | `tok_chargeDeclinedInsufficientFunds` | Visa ····9995 | declined, `insufficient_funds` |
//! | `tok_discover` | Discover ····1117 | refused: an unsupported brand |
//! | `tok_threeDSecureRequired` | Visa ····3220 | needs 3-D Secure: `requires_action` |
//!
//! A saved card keeps its token's outcome, so an off-session charge of a declining card
//! declines too. What a customer would do at the provider (3-D Secure, Alipay, WeChat Pay)
//! happens on the sandbox's own pages under `/sandbox/` (see the API's `sandbox` module).

use super::{
    BankInstructions, CardBrand, CardDetails, ChargeSource, Charged, NextAction, PaymentDeclined, PaymentProvider,
    ProviderRefund, SavedCard, Settlement, TokenError, Wallet,
};
use crate::ids::random_base62;
use crate::Money;

/// The sandbox. `base_url` is apinfer's own origin, where its next-action pages live.
#[derive(Clone, Debug)]
pub struct SandboxProvider {
    pub base_url: String,
}

/// What a test token stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Succeeds,
    Declined,
    InsufficientFunds,
    ThreeDSecure,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeds => "ok",
            Outcome::Declined => "declined",
            Outcome::InsufficientFunds => "insufficient",
            Outcome::ThreeDSecure => "3ds",
        }
    }

    fn parse(text: &str) -> Option<Outcome> {
        [Outcome::Succeeds, Outcome::Declined, Outcome::InsufficientFunds, Outcome::ThreeDSecure]
            .into_iter()
            .find(|o| o.as_str() == text)
    }
}

/// The documented test tokens: (token, brand, last4, outcome).
const TOKENS: [(&str, CardBrand, &str, Outcome); 6] = [
    ("tok_visa", CardBrand::Visa, "4242", Outcome::Succeeds),
    ("tok_mastercard", CardBrand::Mastercard, "4444", Outcome::Succeeds),
    ("tok_amex", CardBrand::Amex, "0005", Outcome::Succeeds),
    ("tok_chargeDeclined", CardBrand::Visa, "0002", Outcome::Declined),
    ("tok_chargeDeclinedInsufficientFunds", CardBrand::Visa, "9995", Outcome::InsufficientFunds),
    ("tok_threeDSecureRequired", CardBrand::Visa, "3220", Outcome::ThreeDSecure),
];

/// Test cards expire at the end of this year, as Stripe's do in the far future.
const EXPIRY: (u32, i32) = (12, 2034);

fn lookup(token: &str) -> Result<(CardDetails, Outcome), TokenError> {
    if token == "tok_discover" {
        return Err(TokenError::UnsupportedBrand("Discover".into()));
    }
    let (_, brand, last4, outcome) = TOKENS.iter().find(|(t, ..)| *t == token).ok_or(TokenError::Unknown)?;
    let card = CardDetails { brand: *brand, last4: (*last4).into(), exp_month: EXPIRY.0, exp_year: EXPIRY.1 };
    Ok((card, *outcome))
}

impl SandboxProvider {
    fn page(&self, kind: &str, reference: &str) -> String {
        format!("{}/sandbox/{kind}/{reference}", self.base_url)
    }
}

impl PaymentProvider for SandboxProvider {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn card_token(&self, token: &str) -> Result<CardDetails, TokenError> {
        lookup(token).map(|(card, _)| card)
    }

    fn save_card(&self, token: &str, _reference: &str) -> Result<SavedCard, PaymentDeclined> {
        let (card, outcome) =
            lookup(token).map_err(|e| PaymentDeclined { code: "invalid_card_token", message: e.to_string() })?;
        Ok(SavedCard { token: format!("sbx_card_{}_{}", outcome.as_str(), random_base62(16)), card })
    }

    fn charge(&self, source: ChargeSource<'_>, _amount: Money, reference: &str) -> Result<Charged, PaymentDeclined> {
        let outcome = match source {
            ChargeSource::Token(token) => lookup(token).map(|(_, outcome)| outcome).ok(),
            ChargeSource::Saved(saved) => {
                saved.strip_prefix("sbx_card_").and_then(|t| t.split('_').next()).and_then(Outcome::parse)
            }
        };
        let charge_id = format!("sbx_ch_{}", random_base62(20));
        match outcome {
            Some(Outcome::Succeeds) => Ok(Charged::Succeeded { charge_id }),
            Some(Outcome::ThreeDSecure) => Ok(Charged::RequiresAction {
                charge_id,
                next_action: NextAction { action_type: "redirect".into(), url: self.page("3ds", reference) },
            }),
            Some(Outcome::InsufficientFunds) => {
                Err(PaymentDeclined { code: "insufficient_funds", message: "the card has insufficient funds".into() })
            }
            Some(Outcome::Declined) | None => {
                Err(PaymentDeclined { code: "card_declined", message: "the card was declined".into() })
            }
        }
    }

    fn start_wallet_payment(
        &self,
        wallet: Wallet,
        _amount: Money,
        reference: &str,
    ) -> Result<NextAction, PaymentDeclined> {
        let (action_type, kind) = match wallet {
            Wallet::Alipay => ("redirect", "alipay"),
            Wallet::WechatPay => ("qr_code", "wechat_pay"),
        };
        Ok(NextAction { action_type: action_type.into(), url: self.page(kind, reference) })
    }

    fn start_bank_transfer(&self, _amount: Money, _reference: &str) -> Result<BankInstructions, PaymentDeclined> {
        Ok(BankInstructions {
            reference: format!("APF-{}", random_base62(10).to_uppercase()),
            beneficiary: "Apinfer Sandbox Ltd".into(),
            bank_name: "Sandbox Bank of China".into(),
            account_number: "6222 0000 1234 5678".into(),
        })
    }

    fn settlement(&self, _reference: &str) -> Result<Settlement, PaymentDeclined> {
        // The sandbox answers every call at once: no charge of its is ever left unknown.
        Ok(Settlement::NotFound)
    }

    fn refund(
        &self,
        _charge_id: Option<&str>,
        _amount: Money,
        _reference: &str,
    ) -> Result<ProviderRefund, PaymentDeclined> {
        // Settled by an admin (or the sandbox webhook), like a bank's refund.
        Ok(ProviderRefund { id: format!("sbx_re_{}", random_base62(20)), settled: false })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_tokens_behave_as_documented() {
        let sandbox = SandboxProvider { base_url: "http://127.0.0.1:1".into() };
        let price = Money::from_minor(1000, crate::credits::Currency::Cny);
        let charge = |token| sandbox.charge(ChargeSource::Token(token), price, "pur_x");
        for token in ["tok_visa", "tok_mastercard", "tok_amex"] {
            assert!(matches!(charge(token), Ok(Charged::Succeeded { .. })), "{token}");
        }
        assert_eq!(charge("tok_chargeDeclined").unwrap_err().code, "card_declined");
        assert_eq!(charge("tok_chargeDeclinedInsufficientFunds").unwrap_err().code, "insufficient_funds");
        let Ok(Charged::RequiresAction { next_action, .. }) = charge("tok_threeDSecureRequired") else { panic!() };
        assert_eq!(next_action.url, "http://127.0.0.1:1/sandbox/3ds/pur_x");
        assert_eq!(sandbox.card_token("tok_discover"), Err(TokenError::UnsupportedBrand("Discover".into())));
        assert_eq!(sandbox.card_token("4242424242424242"), Err(TokenError::Unknown));
        let saved = sandbox.save_card("tok_chargeDeclined", "pm_x").unwrap();
        assert_eq!(saved.card.last4, "0002");
        let off_session = sandbox.charge(ChargeSource::Saved(&saved.token), price, "pur_y");
        assert_eq!(off_session.unwrap_err().code, "card_declined");
    }
}
