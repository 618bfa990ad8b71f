//! Exact credit amounts and money.
//!
//! Credits are stored as `i64` counts of 1/10,000 credit ("units") and cross every boundary
//! (JSON, SQL) as exact decimals; a float never touches them.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Units per credit: credits carry at most four fractional digits.
pub const UNITS_PER_CREDIT: i64 = 10_000;
const FRACTION_DIGITS: u32 = 4;
/// The most whole digits an amount of credits may have as input (below 10^12 credits, far
/// inside the 64-bit range of 1/10,000 units).
pub const MAX_WHOLE_DIGITS: usize = 12;

/// The most credits an account may hold: 10^12 (10^16 units), far inside the 64-bit range
/// and kept by a CHECK constraint of `accounts` as well. A credit that would pass it is
/// refused (422 `balance_limit_exceeded`).
pub const MAX_BALANCE: Credits = Credits(1_000_000_000_000 * UNITS_PER_CREDIT);

/// What a deserialize error of an amount with too many whole digits says (the API answers it
/// 422 `amount_too_large`, not 400).
pub const TOO_LARGE_MESSAGE: &str = "credits is too large";

/// An exact, signed amount of credits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Credits(i64);

/// Why a string is not a valid amount of credits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreditsError {
    #[error("must be a decimal number such as \"1.75\"")]
    NotANumber,
    #[error("must have at most 4 fractional digits")]
    TooPrecise,
    #[error("is too large")]
    TooLarge,
}

impl Credits {
    pub const ZERO: Credits = Credits(0);

    /// Wraps a count of 1/10,000-credit units (the storage representation).
    pub const fn from_units(units: i64) -> Self {
        Credits(units)
    }

    /// Whole credits, for constants and tests.
    pub const fn whole(credits: i64) -> Self {
        Credits(credits * UNITS_PER_CREDIT)
    }

    /// The count of 1/10,000-credit units.
    pub const fn units(self) -> i64 {
        self.0
    }

    /// Parses a decimal string such as `"1.75"`, `"-3"` or `"5000"`; more than four fractional
    /// digits is an error, even when they are zeros.
    pub fn parse(text: &str) -> Result<Self, CreditsError> {
        // The wire grammar, exactly: `-?DIGITS(.DIGITS)?`, nothing around it.
        let digits = text.strip_prefix('-').unwrap_or(text);
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(whole) || !all_digits(fraction) {
            return Err(CreditsError::NotANumber);
        }
        if whole.len() > MAX_WHOLE_DIGITS {
            return Err(CreditsError::TooLarge);
        }
        let value = Decimal::from_str_exact(text).map_err(|e| match e {
            rust_decimal::Error::Underflow => CreditsError::TooPrecise,
            rust_decimal::Error::ExceedsMaximumPossibleValue | rust_decimal::Error::LessThanMinimumPossibleValue => {
                CreditsError::TooLarge
            }
            _ => CreditsError::NotANumber,
        })?;
        Self::from_decimal(value)
    }

    /// Converts an exact decimal; fails if it has more than four fractional digits or overflows.
    pub fn from_decimal(value: Decimal) -> Result<Self, CreditsError> {
        if value.scale() > FRACTION_DIGITS {
            return Err(CreditsError::TooPrecise);
        }
        let units = value.checked_mul(Decimal::from(UNITS_PER_CREDIT)).ok_or(CreditsError::TooLarge)?;
        i64::try_from(units).map(Credits).map_err(|_| CreditsError::TooLarge)
    }

    /// The exact decimal value, normalized (`"1.75"`, not `"1.7500"`).
    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.0, FRACTION_DIGITS).normalize()
    }

    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    pub fn checked_add(self, other: Credits) -> Option<Credits> {
        self.0.checked_add(other.0).map(Credits)
    }

    pub fn checked_sub(self, other: Credits) -> Option<Credits> {
        self.0.checked_sub(other.0).map(Credits)
    }

    pub fn checked_mul(self, factor: i64) -> Option<Credits> {
        self.0.checked_mul(factor).map(Credits)
    }

    pub fn checked_neg(self) -> Option<Credits> {
        self.0.checked_neg().map(Credits)
    }
}

impl fmt::Display for Credits {
    /// The shortest exact decimal (`"1.75"`, `"100"`, `"-0.0001"`), as [`Credits::to_decimal`]
    /// prints, written straight from the integer (every balance and amount in every response
    /// goes through here).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let units = self.0.unsigned_abs();
        let scale = 10_u64.pow(FRACTION_DIGITS);
        let (whole, mut fraction) = (units / scale, units % scale);
        if fraction == 0 {
            return write!(f, "{sign}{whole}");
        }
        let mut width = FRACTION_DIGITS as usize;
        while fraction % 10 == 0 {
            fraction /= 10;
            width -= 1;
        }
        write!(f, "{sign}{whole}.{fraction:0width$}")
    }
}

impl FromStr for Credits {
    type Err = CreditsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Credits::parse(s)
    }
}

impl Serialize for Credits {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Credits {
    /// Accepts a decimal string only: a JSON number is refused (a float may already have lost
    /// precision on the client, and the contract sends credits as strings).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CreditsVisitor;
        impl Visitor<'_> for CreditsVisitor {
            type Value = Credits;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("credits as a decimal string such as \"1.75\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Credits, E> {
                Credits::parse(v).map_err(|e| match e {
                    CreditsError::TooLarge => {
                        E::custom(format!("{TOO_LARGE_MESSAGE}: at most {MAX_WHOLE_DIGITS} whole digits"))
                    }
                    e => E::custom(format!("credits {e}")),
                })
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Credits, E> {
                Err(E::custom("credits must be sent as a decimal string such as \"5\", not a JSON number"))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Credits, E> {
                Err(E::custom("credits must be sent as a decimal string such as \"5\", not a JSON number"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Credits, E> {
                Err(E::custom("credits must be sent as a decimal string such as \"1.75\", not a JSON float"))
            }
        }
        deserializer.deserialize_any(CreditsVisitor)
    }
}

/// An amount of money in minor units of its currency (fen for CNY).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

text_enum! {
    /// The currencies apinfer prices in.
    #[derive(Serialize, Deserialize)]
    pub enum Currency {
        #[serde(rename = "CNY")]
        Cny = "CNY",
    }
}

impl Money {
    pub const fn from_minor(minor: i64, currency: Currency) -> Self {
        Money { minor, currency }
    }

    /// Parses `"50.00"`-style amounts (at most two fractional digits).
    pub fn parse(amount: &str, currency: Currency) -> Option<Money> {
        let value = Decimal::from_str_exact(amount.trim()).ok()?;
        if value.scale() > 2 {
            return None;
        }
        let minor = i64::try_from(value.checked_mul(Decimal::from(100))?).ok()?;
        Some(Money { minor, currency })
    }

    pub fn minor(self) -> i64 {
        self.minor
    }

    pub fn currency(self) -> Currency {
        self.currency
    }

    /// The amount with exactly two fractional digits: `"50.00"`.
    pub fn amount_string(self) -> String {
        Decimal::new(self.minor, 2).to_string()
    }

    /// Price of one credit when `credits` cost this much, rounded to 4 decimals and printed
    /// with at least two: `"0.01"`, `"0.10"`.
    pub fn per_credit(self, credits: Credits) -> String {
        if credits.units() <= 0 {
            return "0.00".to_string();
        }
        let per = Decimal::new(self.minor, 2) / credits.to_decimal();
        let mut rounded = per.round_dp(4).normalize();
        if rounded.scale() < 2 {
            rounded.rescale(2);
        }
        rounded.to_string()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn display_is_the_normalized_decimal() {
        let samples = [0, 1, 9, 10, 100, 1_000, 9_999, 10_000, 10_001, 17_500, 12_345_678, 1_000_000_000_000_000]
            .into_iter()
            .flat_map(|u: i64| [u, -u])
            .chain([i64::MAX, i64::MIN + 1]);
        for units in samples {
            let credits = Credits::from_units(units);
            assert_eq!(credits.to_string(), credits.to_decimal().to_string(), "{units} units");
        }
    }

    use super::*;

    #[test]
    fn parses_and_prints_exactly() {
        for (text, units, shown) in [
            ("1.75", 17_500, "1.75"),
            ("5000", 50_000_000, "5000"),
            ("0.0001", 1, "0.0001"),
            ("-2.5", -25_000, "-2.5"),
            ("2.6250", 26_250, "2.625"),
        ] {
            let c = Credits::parse(text).unwrap();
            assert_eq!(c.units(), units, "{text}");
            assert_eq!(c.to_string(), shown, "{text}");
        }
    }

    #[test]
    fn refuses_what_is_not_exact() {
        assert_eq!(Credits::parse("1.00001"), Err(CreditsError::TooPrecise));
        assert_eq!(Credits::parse("1.00000"), Err(CreditsError::TooPrecise));
        assert_eq!(Credits::parse("abc"), Err(CreditsError::NotANumber));
        assert_eq!(Credits::parse("1e3"), Err(CreditsError::NotANumber));
        assert_eq!(Credits::parse(""), Err(CreditsError::NotANumber));
        assert_eq!(Credits::parse("99999999999999999999"), Err(CreditsError::TooLarge));
        assert_eq!(Credits::parse("1000000000000"), Err(CreditsError::TooLarge));
        assert_eq!(Credits::parse("999999999999.9999").unwrap().units(), 9_999_999_999_999_999);
        for text in [" 5", "5 ", "+5", "5.", ".5", "1,5", "--1", "-"] {
            assert_eq!(Credits::parse(text), Err(CreditsError::NotANumber), "{text:?}");
        }
    }

    #[test]
    fn json_numbers_are_refused_strings_accepted() {
        assert_eq!(serde_json::from_str::<Credits>("\"1.75\"").unwrap().units(), 17_500);
        assert!(serde_json::from_str::<Credits>("3").is_err());
        assert!(serde_json::from_str::<Credits>("1.75").is_err());
        assert_eq!(serde_json::to_string(&Credits::from_units(17_500)).unwrap(), "\"1.75\"");
    }

    #[test]
    fn arithmetic_never_wraps() {
        assert!(Credits::from_units(i64::MAX).checked_add(Credits::from_units(1)).is_none());
        assert!(Credits::from_units(i64::MIN).checked_neg().is_none());
    }

    #[test]
    fn money_prints_two_decimals_and_per_credit_prices() {
        let fifty = Money::from_minor(5_000, Currency::Cny);
        assert_eq!(fifty.amount_string(), "50.00");
        assert_eq!(fifty.per_credit(Credits::whole(5_000)), "0.01");
        assert_eq!(Money::from_minor(1_000, Currency::Cny).per_credit(Credits::whole(100)), "0.10");
        assert_eq!(Money::parse("10", Currency::Cny).unwrap().minor(), 1_000);
        assert!(Money::parse("10.001", Currency::Cny).is_none());
    }
}
