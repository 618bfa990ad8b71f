//! Card details as entered: parsed and checked (Luhn, brand, expiry, CVC) before any provider
//! sees them. Only the brand and last four digits ever leave this module; the number and CVC
//! are never stored or logged (`Debug` is redacted).

use std::fmt;

use chrono::{DateTime, Datelike, Utc};
use serde::Serialize;

use crate::{Error, Result};

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

/// A validated card. Holds the number only for the provider call.
pub struct Card {
    number: String,
    pub brand: CardBrand,
    pub exp_month: u32,
    pub exp_year: i32,
}

impl fmt::Debug for Card {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Card({} ****{}, {:02}/{})", self.brand.as_str(), self.last4(), self.exp_month, self.exp_year)
    }
}

fn luhn_valid(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(*d);
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Which network a number belongs to; `Err(name)` for networks apinfer does not accept.
fn detect_brand(number: &str) -> std::result::Result<CardBrand, &'static str> {
    let prefix = |n: usize| number.get(..n).and_then(|p| p.parse::<u32>().ok()).unwrap_or(0);
    let len = number.len();
    if number.starts_with('4') && matches!(len, 13 | 16 | 19) {
        Ok(CardBrand::Visa)
    } else if ((51..=55).contains(&prefix(2)) || (2221..=2720).contains(&prefix(4))) && len == 16 {
        Ok(CardBrand::Mastercard)
    } else if matches!(prefix(2), 34 | 37) && len == 15 {
        Ok(CardBrand::Amex)
    } else if number.starts_with("6011") || number.starts_with("65") || (644..=649).contains(&prefix(3)) {
        Err("Discover")
    } else if (3528..=3589).contains(&prefix(4)) {
        Err("JCB")
    } else if number.starts_with("62") {
        Err("UnionPay")
    } else if matches!(prefix(2), 36 | 38 | 39) || (300..=305).contains(&prefix(3)) {
        Err("Diners Club")
    } else {
        Err("this card network")
    }
}

impl Card {
    /// Checks a card as entered. Errors name the field under `param_prefix`.
    pub fn parse(
        number: &str,
        exp_month: u32,
        exp_year: i32,
        cvc: &str,
        now: DateTime<Utc>,
        param_prefix: &str,
    ) -> Result<Card> {
        let param = |field: &str| Some(format!("{param_prefix}.{field}"));
        let number: String = number.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if !(12..=19).contains(&number.len()) || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::Invalid {
                code: "invalid_card_number",
                message: "the card number is not valid".into(),
                param: param("number"),
            });
        }
        let digits: Vec<u8> = number.bytes().map(|b| b - b'0').collect();
        if !luhn_valid(&digits) {
            return Err(Error::Invalid {
                code: "invalid_card_number",
                message: "the card number is not valid (checksum)".into(),
                param: param("number"),
            });
        }
        let brand = detect_brand(&number).map_err(|name| Error::Invalid {
            code: "unsupported_card_brand",
            message: format!("{name} cards are not accepted; use Visa, Mastercard or American Express"),
            param: param("number"),
        })?;
        if !(1..=12).contains(&exp_month) {
            return Err(Error::Invalid {
                code: "invalid_expiry_month",
                message: "exp_month must be 1–12".into(),
                param: param("exp_month"),
            });
        }
        let (year, month) = (now.year(), now.month());
        if exp_year < year || (exp_year == year && exp_month < month) || exp_year > year + 50 {
            return Err(Error::Invalid {
                code: "invalid_expiry_year",
                message: "the card has expired or exp_year is not a four-digit year".into(),
                param: param("exp_year"),
            });
        }
        let cvc_len = if brand == CardBrand::Amex { 4 } else { 3 };
        if cvc.len() != cvc_len || !cvc.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::Invalid {
                code: "invalid_cvc",
                message: format!("cvc must be {cvc_len} digits"),
                param: param("cvc"),
            });
        }
        Ok(Card { number, brand, exp_month, exp_year })
    }

    pub fn last4(&self) -> &str {
        &self.number[self.number.len() - 4..]
    }

    /// The full number, for the payment provider only.
    pub fn number(&self) -> &str {
        &self.number
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(number: &str, cvc: &str) -> Result<Card> {
        Card::parse(number, 12, 2040, cvc, Utc::now(), "card")
    }

    #[test]
    fn accepts_the_three_brands() {
        assert_eq!(parse("4242424242424242", "123").unwrap().brand, CardBrand::Visa);
        assert_eq!(parse("5555 5555 5555 4444", "123").unwrap().brand, CardBrand::Mastercard);
        assert_eq!(parse("2223003122003222", "123").unwrap().brand, CardBrand::Mastercard);
        let amex = parse("378282246310005", "1234").unwrap();
        assert_eq!((amex.brand, amex.last4()), (CardBrand::Amex, "0005"));
    }

    #[test]
    fn refuses_other_brands_bad_checksums_expiry_and_cvc() {
        let code = |r: Result<Card>| match r {
            Err(Error::Invalid { code, .. }) => code,
            other => panic!("{other:?}"),
        };
        assert_eq!(code(parse("6011111111111117", "123")), "unsupported_card_brand");
        assert_eq!(code(parse("3566002020360505", "123")), "unsupported_card_brand");
        assert_eq!(code(parse("4242424242424241", "123")), "invalid_card_number");
        assert_eq!(code(parse("42424242", "123")), "invalid_card_number");
        assert_eq!(code(parse("378282246310005", "123")), "invalid_cvc");
        assert_eq!(code(Card::parse("4242424242424242", 1, 2020, "123", Utc::now(), "card")), "invalid_expiry_year");
        assert_eq!(code(Card::parse("4242424242424242", 13, 2040, "123", Utc::now(), "card")), "invalid_expiry_month");
    }

    #[test]
    fn debug_never_shows_the_number() {
        let card = parse("4242424242424242", "123").unwrap();
        let shown = format!("{card:?}");
        assert!(!shown.contains("424242424242"), "{shown}");
        assert!(shown.contains("4242"));
    }
}
