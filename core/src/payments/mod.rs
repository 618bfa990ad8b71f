//! Taking money: the payment-provider seam.
//!
//! A [`PaymentProvider`] charges cards through tokens it issued (its own page or script
//! collected the number, which apinfer never sees) or cards it keeps, starts redirect/QR
//! payments (Alipay, WeChat Pay) and bank transfers, and refunds. The built-in
//! [`sandbox::SandboxProvider`] is the default and behaves like a real provider's test mode,
//! with documented test tokens.

pub mod card;
pub mod sandbox;
pub mod stripe;

use crate::Money;
pub use card::{CardBrand, CardDetails};

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
    /// The provider's reference for it (charged off-session).
    pub token: String,
    pub card: CardDetails,
}

/// A charge to make.
pub enum ChargeSource<'a> {
    /// A one-time card token from the provider's page or script.
    Token(&'a str),
    /// A card the provider keeps ([`SavedCard::token`]).
    Saved(&'a str),
}

/// What the provider knows of a charge whose answer apinfer never got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settlement {
    /// It went through.
    Succeeded { charge_id: String },
    /// It was declined or failed.
    Failed(PaymentDeclined),
    /// Still being decided (the customer, the bank): ask again later.
    Pending,
    /// The provider has no charge for this reference: it never reached the provider.
    NotFound,
}

/// A refund the provider accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderRefund {
    /// The provider's id for it.
    pub id: String,
    /// The money is on its way already (else a webhook or an admin settles it).
    pub settled: bool,
}

/// The [`PaymentDeclined::code`] of a call whose outcome is unknown (the provider did not
/// answer, or failed): never a decline, never guessed. The purchase stays `processing` until
/// the provider's webhook, or a retry with the same idempotency reference, says how it ended.
pub const UNAVAILABLE: &str = "provider_unavailable";

/// A charge made, or one that waits for the customer (3-D Secure) or the provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Charged {
    Succeeded {
        charge_id: String,
    },
    /// Accepted, not yet settled: the provider's webhook says how it ends.
    Pending {
        charge_id: String,
    },
    /// Confirmed later (by the provider's webhook) once the customer completes `next_action`.
    RequiresAction {
        charge_id: String,
        next_action: NextAction,
    },
}

/// Why a card token cannot be charged or saved.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the card token is unknown to the payment provider, or already used")]
    Unknown,
    #[error("{0} cards are not accepted; use Visa, Mastercard or American Express")]
    UnsupportedBrand(String),
    #[error("the payment provider is unavailable: {0}")]
    Unavailable(String),
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
    /// The card behind a one-time token; fails for a token the provider did not issue, or a
    /// brand apinfer does not accept.
    fn card_token(&self, token: &str) -> Result<CardDetails, TokenError>;
    /// Keeps the token's card for off-session charges (automatic top-up).
    fn save_card(&self, token: &str, reference: &str) -> Result<SavedCard, PaymentDeclined>;
    /// Charges at once, or starts a charge the customer must authenticate (3-D Secure).
    fn charge(&self, source: ChargeSource<'_>, amount: Money, reference: &str) -> Result<Charged, PaymentDeclined>;
    /// Starts a wallet payment confirmed later by webhook.
    fn start_wallet_payment(
        &self,
        wallet: Wallet,
        amount: Money,
        reference: &str,
    ) -> Result<NextAction, PaymentDeclined>;
    /// Bank transfer instructions, confirmed later by webhook or an admin.
    fn start_bank_transfer(&self, amount: Money, reference: &str) -> Result<BankInstructions, PaymentDeclined>;
    /// How the charge made for `reference` (apinfer's purchase id) ended, for a purchase whose
    /// charge call got no answer. Never a guess: the provider's own record.
    fn settlement(&self, reference: &str) -> Result<Settlement, PaymentDeclined>;
    /// Returns money for a charge; returns the provider's refund id.
    fn refund(
        &self,
        charge_id: Option<&str>,
        amount: Money,
        reference: &str,
    ) -> Result<ProviderRefund, PaymentDeclined>;
}
