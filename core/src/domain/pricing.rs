//! How a generation is priced: the model's credits per image, times the quality multiplier,
//! times the number of images. Resolution never changes the cost.

use serde::{Deserialize, Serialize};

use super::ImageCount;
use crate::{Credits, Error, Result};

text_enum! {
    /// Output quality. `hd` (OpenAI's name) is accepted as `high`.
    #[derive(Serialize, Deserialize, Default)]
    #[serde(rename_all = "snake_case")]
    pub enum Quality {
        #[default]
        Standard = "standard",
        #[serde(alias = "hd")]
        High = "high" | "hd",
        Ultra = "ultra",
    }
}

impl Quality {
    /// `quality` as given on the wire (absent means standard).
    pub fn from_wire(text: Option<&str>) -> Result<Quality> {
        text.map_or(Ok(Quality::Standard), |text| {
            Quality::parse(text).ok_or_else(|| {
                Error::invalid("invalid_quality", "quality must be standard, high (or hd) or ultra", "quality")
            })
        })
    }

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
}

text_enum! {
    /// A model's price class; each bounds the credits per image a model of that tier may cost.
    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum Tier {
        Basic = "basic",
        Standard = "standard",
        Premium = "premium",
    }
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

/// The cost of `n` images at `quality` from a model costing `per_image` each.
///
/// A multiplier can produce a fifth fractional digit (0.0001 × 1.5); such a cost is rounded up
/// to the next 1/10,000 credit, so apinfer never charges less than the published price.
pub fn generation_cost(per_image: Credits, quality: Quality, n: ImageCount) -> Result<Credits> {
    let n = n.get();
    let (num, den) = quality.multiplier();
    let overflow = || Error::invalid("amount_too_large", "the cost is too large", None);
    let scaled = per_image.units().checked_mul(num).and_then(|v| v.checked_mul(i64::from(n))).ok_or_else(overflow)?;
    let units = scaled.checked_add(den - 1).ok_or_else(overflow)? / den;
    Ok(Credits::from_units(units))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(count: u32) -> ImageCount {
        ImageCount::new(count).unwrap()
    }

    fn c(text: &str) -> Credits {
        Credits::parse(text).unwrap()
    }

    #[test]
    fn qwen_image_costs_match_the_guide() {
        assert_eq!(generation_cost(c("1.75"), Quality::Standard, n(1)).unwrap(), c("1.75"));
        assert_eq!(generation_cost(c("1.75"), Quality::High, n(1)).unwrap(), c("2.625"));
        assert_eq!(generation_cost(c("1.75"), Quality::Ultra, n(1)).unwrap(), c("3.5"));
        assert_eq!(generation_cost(c("1.75"), Quality::High, n(10)).unwrap(), c("26.25"));
    }

    #[test]
    fn sub_unit_costs_round_up_never_down() {
        assert_eq!(generation_cost(c("0.0001"), Quality::High, n(1)).unwrap(), c("0.0002"));
        assert_eq!(generation_cost(c("0.0001"), Quality::High, n(2)).unwrap(), c("0.0003"));
    }

    #[test]
    fn n_is_bounded() {
        assert!(ImageCount::new(0).is_err() && ImageCount::new(11).is_err());
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
