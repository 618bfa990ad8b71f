//! What apinfer knows of a card: its brand, last four digits and expiry, as the payment
//! provider describes the token it issued. The number and CVC never reach apinfer: the
//! provider's own page or script collects them.

use serde::Serialize;

text_enum! {
    /// The brands apinfer accepts.
    #[derive(Serialize)]
    #[serde(rename_all = "snake_case")]
    pub enum CardBrand {
        Visa = "visa",
        Mastercard = "mastercard",
        Amex = "amex",
    }
}

/// The card behind a token or a saved card, as the provider describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardDetails {
    pub brand: CardBrand,
    pub last4: String,
    pub exp_month: u32,
    pub exp_year: i32,
}
