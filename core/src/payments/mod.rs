//! Taking money: card validation and the payment-provider abstraction.
//!
//! A [`PaymentProvider`] charges cards (entered or saved), starts redirect/QR payments (Alipay,
//! WeChat Pay) and bank transfers, and refunds. The built-in [`sandbox::SandboxProvider`] is the
//! default and behaves like a real provider's test mode, with documented test cards.

pub mod card;
pub mod sandbox;

use crate::Money;
pub use card::{Card, CardBrand};

/// A wallet that pays by redirect or QR code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wallet {
    Alipay,
    WechatPay,
}

/// What the customer must do to finish a wallet payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NextAction {
    /// `redirect` (Alipay) or `qr_code` (WeChat Pay).
    pub action_type: String,
    pub url: String,
}

/// Where to send a bank transfer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BankInstructions {
    /// Quote this with the transfer; unique per purchase.
    pub reference: String,
    pub beneficiary: String,
    pub bank_name: String,
    pub account_number: String,
}

/// A card kept by the provider for later charges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedCard {
    /// The provider's token for it.
    pub token: String,
}

/// A charge to make.
pub enum ChargeSource<'a> {
    Card(&'a Card),
    Saved(&'a str),
}

/// A declined or failed payment.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PaymentDeclined {
    /// `card_declined`, `insufficient_funds`, `processing_error`.
    pub code: &'static str,
    pub message: String,
}

/// A payment provider. Calls are blocking (run them off the async executor); `reference` is
/// apinfer's id for the operation and doubles as the provider-side idempotency key.
pub trait PaymentProvider: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    /// Keeps a card for off-session charges (auto top-up).
    fn save_card(&self, card: &Card) -> Result<SavedCard, PaymentDeclined>;
    /// Charges at once; returns the provider's charge id.
    fn charge(&self, source: ChargeSource<'_>, amount: Money, reference: &str) -> Result<String, PaymentDeclined>;
    /// Starts a wallet payment confirmed later by webhook.
    fn start_wallet_payment(
        &self,
        wallet: Wallet,
        amount: Money,
        reference: &str,
    ) -> Result<NextAction, PaymentDeclined>;
    /// Bank transfer instructions, confirmed later by webhook or an admin.
    fn start_bank_transfer(&self, amount: Money, reference: &str) -> Result<BankInstructions, PaymentDeclined>;
    /// Returns money for a charge; returns the provider's refund id.
    fn refund(&self, charge_id: Option<&str>, amount: Money, reference: &str) -> Result<String, PaymentDeclined>;
}
