//! How a generation is priced: the model's credits per image, times the quality multiplier,
//! times the number of images. Resolution never changes the cost.

use serde::{Deserialize, Serialize};

use crate::{Credits, Error, Result};

/// Output quality. `hd` (OpenAI's name) is accepted as `high`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Quality {
    #[default]
    Standard,
    #[serde(alias = "hd")]
    High,
    Ultra,
}

impl Quality {
    pub const ALL: [Quality; 3] = [Quality::Standard, Quality::High, Quality::Ultra];

    /// The multiplier as an exact fraction (numerator, denominator): ×1, ×1.5, ×2.
    pub const fn multiplier(self) -> (i64, i64) {
        match self {
            Quality::Standard => (1, 1),
            Quality::High => (3, 2),
            Quality::Ultra => (2, 1),
        }
    }

    /// The multiplier as a decimal string, for display.
    pub fn multiplier_text(self) -> &'static str {
        match self {
            Quality::Standard => "1",
            Quality::High => "1.5",
            Quality::Ultra => "2",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Quality::Standard => "standard",
            Quality::High => "high",
            Quality::Ultra => "ultra",
        }
    }

    pub fn parse(text: &str) -> Option<Quality> {
        match text {
            "standard" => Some(Quality::Standard),
            "high" | "hd" => Some(Quality::High),
            "ultra" => Some(Quality::Ultra),
            _ => None,
        }
    }
}

/// A model's price class; each bounds the credits per image a model of that tier may cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Basic,
    Standard,
    Premium,
}

impl Tier {
    /// Inclusive bounds of credits per image: basic 0.1–1, standard 1–5, premium 5–20.
    pub const fn bounds(self) -> (Credits, Credits) {
        match self {
            Tier::Basic => (Credits::from_units(1_000), Credits::whole(1)),
            Tier::Standard => (Credits::whole(1), Credits::whole(5)),
            Tier::Premium => (Credits::whole(5), Credits::whole(20)),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Basic => "basic",
            Tier::Standard => "standard",
            Tier::Premium => "premium",
        }
    }

    pub fn parse(text: &str) -> Option<Tier> {
        match text {
            "basic" => Some(Tier::Basic),
            "standard" => Some(Tier::Standard),
            "premium" => Some(Tier::Premium),
            _ => None,
        }
    }

    /// Checks that a price lies within this tier's range.
    pub fn check_price(self, per_image: Credits) -> Result<()> {
        let (low, high) = self.bounds();
        if per_image < low || per_image > high {
            return Err(Error::unprocessable(
                "price_outside_tier",
                format!("credits_per_image {per_image} is outside the {} tier's range {low}–{high}", self.as_str()),
                "credits_per_image",
            ));
        }
        Ok(())
    }
}

/// Most images one request may ask for.
pub const MAX_IMAGES_PER_REQUEST: u32 = 10;

/// The cost of `n` images at `quality` from a model costing `per_image` each.
///
/// A multiplier can produce a fifth fractional digit (0.0001 × 1.5); such a cost is rounded up
/// to the next 1/10,000 credit, so apinfer never charges less than the published price.
pub fn generation_cost(per_image: Credits, quality: Quality, n: u32) -> Result<Credits> {
    if n == 0 || n > MAX_IMAGES_PER_REQUEST {
        return Err(Error::invalid("invalid_n", format!("n must be between 1 and {MAX_IMAGES_PER_REQUEST}"), "n"));
    }
    let (num, den) = quality.multiplier();
    let overflow = || Error::invalid("amount_too_large", "the cost is too large", None);
    let scaled = per_image.units().checked_mul(num).and_then(|v| v.checked_mul(i64::from(n))).ok_or_else(overflow)?;
    let units = scaled.checked_add(den - 1).ok_or_else(overflow)? / den;
    Ok(Credits::from_units(units))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(text: &str) -> Credits {
        Credits::parse(text).unwrap()
    }

    #[test]
    fn qwen_image_costs_match_the_guide() {
        assert_eq!(generation_cost(c("1.75"), Quality::Standard, 1).unwrap(), c("1.75"));
        assert_eq!(generation_cost(c("1.75"), Quality::High, 1).unwrap(), c("2.625"));
        assert_eq!(generation_cost(c("1.75"), Quality::Ultra, 1).unwrap(), c("3.5"));
        assert_eq!(generation_cost(c("1.75"), Quality::High, 10).unwrap(), c("26.25"));
    }

    #[test]
    fn sub_unit_costs_round_up_never_down() {
        assert_eq!(generation_cost(c("0.0001"), Quality::High, 1).unwrap(), c("0.0002"));
        assert_eq!(generation_cost(c("0.0001"), Quality::High, 2).unwrap(), c("0.0003"));
    }

    #[test]
    fn n_is_bounded() {
        assert!(generation_cost(c("1"), Quality::Standard, 0).is_err());
        assert!(generation_cost(c("1"), Quality::Standard, 11).is_err());
    }

    #[test]
    fn tiers_bound_prices_inclusively() {
        assert!(Tier::Standard.check_price(c("1")).is_ok());
        assert!(Tier::Standard.check_price(c("5")).is_ok());
        assert!(Tier::Standard.check_price(c("5.0001")).is_err());
        assert!(Tier::Basic.check_price(c("0.1")).is_ok());
        assert!(Tier::Basic.check_price(c("0.0999")).is_err());
        assert!(Tier::Premium.check_price(c("20")).is_ok());
        assert!(Tier::Premium.check_price(c("4")).is_err());
    }
}
