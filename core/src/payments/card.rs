//! What apinfer knows of a card: its brand, last four digits and expiry, as the payment
//! provider describes the token it issued. The number and CVC never reach apinfer: the
//! provider's own page or script collects them.

use serde::Serialize;

/// The brands apinfer accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CardBrand {
    Visa,
    Mastercard,
    Amex,
}

impl CardBrand {
    pub fn as_str(self) -> &'static str {
        match self {
            CardBrand::Visa => "visa",
            CardBrand::Mastercard => "mastercard",
            CardBrand::Amex => "amex",
        }
    }

    pub fn parse(text: &str) -> Option<CardBrand> {
        match text {
            "visa" => Some(CardBrand::Visa),
            "mastercard" => Some(CardBrand::Mastercard),
            "amex" => Some(CardBrand::Amex),
            _ => None,
        }
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
