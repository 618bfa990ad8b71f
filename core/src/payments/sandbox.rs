//! The built-in sandbox provider: no network, deterministic outcomes.
//!
//! Test cards: `4242424242424242` (Visa), `5555555555554444` (Mastercard) and
//! `378282246310005` (Amex) succeed; `4000000000000002` is declined (`card_declined`);
//! `4000000000009995` is declined for `insufficient_funds`. Saved cards keep their outcome in
//! their token, so an off-session charge of a saved declining card declines too.

use super::{BankInstructions, Card, ChargeSource, NextAction, PaymentDeclined, PaymentProvider, SavedCard, Wallet};
use crate::ids::random_base62;
use crate::Money;

#[derive(Clone, Debug, Default)]
pub struct SandboxProvider;

const DECLINED: &str = "4000000000000002";
const INSUFFICIENT: &str = "4000000000009995";

fn outcome_of(number: &str) -> &'static str {
    match number {
        DECLINED => "declined",
        INSUFFICIENT => "insufficient",
        _ => "ok",
    }
}

fn decline(outcome: &str) -> Result<(), PaymentDeclined> {
    match outcome {
        "declined" => Err(PaymentDeclined { code: "card_declined", message: "the card was declined".into() }),
        "insufficient" => {
            Err(PaymentDeclined { code: "insufficient_funds", message: "the card has insufficient funds".into() })
        }
        _ => Ok(()),
    }
}

impl PaymentProvider for SandboxProvider {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn save_card(&self, card: &Card) -> Result<SavedCard, PaymentDeclined> {
        Ok(SavedCard { token: format!("sbx_card_{}_{}", outcome_of(card.number()), random_base62(16)) })
    }

    fn charge(&self, source: ChargeSource<'_>, _amount: Money, _reference: &str) -> Result<String, PaymentDeclined> {
        let outcome = match source {
            ChargeSource::Card(card) => outcome_of(card.number()),
            ChargeSource::Saved(token) => {
                token.strip_prefix("sbx_card_").and_then(|t| t.split('_').next()).unwrap_or("declined")
            }
        };
        decline(outcome)?;
        Ok(format!("sbx_ch_{}", random_base62(20)))
    }

    fn start_wallet_payment(
        &self,
        wallet: Wallet,
        _amount: Money,
        reference: &str,
    ) -> Result<NextAction, PaymentDeclined> {
        let (action_type, path) = match wallet {
            Wallet::Alipay => ("redirect", "alipay"),
            Wallet::WechatPay => ("qr_code", "wechat"),
        };
        Ok(NextAction {
            action_type: action_type.into(),
            url: format!("https://sandbox.apinfer.invalid/{path}/{reference}"),
        })
    }

    fn start_bank_transfer(&self, _amount: Money, _reference: &str) -> Result<BankInstructions, PaymentDeclined> {
        Ok(BankInstructions {
            reference: format!("APF-{}", random_base62(10).to_uppercase()),
            beneficiary: "Apinfer Sandbox Ltd".into(),
            bank_name: "Sandbox Bank of China".into(),
            account_number: "6222 0000 1234 5678".into(),
        })
    }

    fn refund(&self, _charge_id: Option<&str>, _amount: Money, _reference: &str) -> Result<String, PaymentDeclined> {
        Ok(format!("sbx_re_{}", random_base62(20)))
    }
}
