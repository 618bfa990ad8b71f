//! What a generation asks for: the prompt, how many images, and how they come back.

use crate::{Error, Result};

/// Longest prompt accepted, in characters.
pub const MAX_PROMPT_CHARS: usize = 4000;

/// A prompt: 1 to [`MAX_PROMPT_CHARS`] characters once surrounding whitespace is trimmed
/// (and kept trimmed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prompt(String);

impl Prompt {
    pub fn parse(text: &str) -> Result<Prompt> {
        let prompt = text.trim();
        if prompt.is_empty() || prompt.chars().count() > MAX_PROMPT_CHARS {
            return Err(Error::invalid(
                "invalid_prompt",
                format!("prompt must be 1–{MAX_PROMPT_CHARS} characters"),
                "prompt",
            ));
        }
        Ok(Prompt(prompt.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Most images one request may ask for.
pub const MAX_IMAGES_PER_REQUEST: u32 = 10;

/// How many images one request asks for: 1 to [`MAX_IMAGES_PER_REQUEST`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageCount(u32);

impl ImageCount {
    pub const ONE: ImageCount = ImageCount(1);

    pub fn new(n: u32) -> Result<ImageCount> {
        if n == 0 || n > MAX_IMAGES_PER_REQUEST {
            return Err(Error::invalid("invalid_n", format!("n must be between 1 and {MAX_IMAGES_PER_REQUEST}"), "n"));
        }
        Ok(ImageCount(n))
    }

    /// `n` as given on the wire (absent means one).
    pub fn from_wire(n: Option<u32>) -> Result<ImageCount> {
        n.map_or(Ok(ImageCount::ONE), ImageCount::new)
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

text_enum! {
    /// How the images come back: signed URLs (default) or inline base64.
    #[derive(Default)]
    pub enum ResponseFormat {
        #[default]
        Url = "url",
        B64Json = "b64_json",
    }
}

impl ResponseFormat {
    /// `response_format` as given on the wire (absent means `url`).
    pub fn from_wire(text: Option<&str>) -> Result<ResponseFormat> {
        text.map_or(Ok(ResponseFormat::Url), |text| {
            ResponseFormat::parse(text).ok_or_else(|| {
                Error::invalid("invalid_response_format", "response_format must be url or b64_json", "response_format")
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_inputs_are_checked_once() {
        assert_eq!(Prompt::parse("  a cat  ").unwrap().as_str(), "a cat");
        assert!(Prompt::parse("   ").is_err());
        assert!(Prompt::parse(&"x".repeat(MAX_PROMPT_CHARS + 1)).is_err());
        assert!(Prompt::parse(&"猫".repeat(MAX_PROMPT_CHARS)).is_ok());
        assert_eq!(ImageCount::from_wire(None).unwrap().get(), 1);
        assert!(ImageCount::new(0).is_err() && ImageCount::new(11).is_err());
        assert_eq!(ResponseFormat::from_wire(Some("b64_json")).unwrap(), ResponseFormat::B64Json);
        assert!(ResponseFormat::from_wire(Some("png")).is_err());
    }
}
