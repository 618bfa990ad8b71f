//! The URLs of generated images: built from the configured public base URL (never from the
//! request's `Host` or `X-Forwarded-Host`), and signed so they work without the
//! `Authorization` header until they expire (see [`apinfer_core::signed_url`]).

use apinfer_core::ids::GenerationId;
use apinfer_core::signed_url::{self, UrlSignatureError};
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;

use crate::config::Config;
use crate::error::{ApiError, ErrorKind};

pub struct ImageUrls {
    base: String,
    key: Vec<u8>,
    ttl_seconds: i64,
}

impl ImageUrls {
    /// The signing key is derived from the session secret, so no further secret is needed and
    /// every process sharing that secret accepts the others' URLs.
    pub fn new(config: &Config) -> Self {
        ImageUrls {
            base: config.base_url(),
            key: signed_url::derive_key(config.jwt_secret.expose_secret().as_bytes()),
            ttl_seconds: i64::try_from(config.image_url_ttl_seconds).unwrap_or(i64::MAX / 2),
        }
    }

    /// The signed URL of image `index` of `generation`, valid for the configured time from `now`.
    pub fn url(&self, generation: &GenerationId, index: i32, now: DateTime<Utc>) -> String {
        let expires = now.timestamp().saturating_add(self.ttl_seconds);
        let signature = signed_url::sign(&self.key, generation, index, expires);
        format!("{}/v1/generations/{generation}/images/{index}?expires={expires}&signature={signature}", self.base)
    }

    /// Accepts a URL's `expires` and `signature` at `now`; 403 once expired or altered.
    pub fn verify(
        &self,
        generation: &GenerationId,
        index: i32,
        expires: i64,
        signature: &str,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        signed_url::verify(&self.key, generation, index, expires, signature, now.timestamp()).map_err(|e| {
            let code = match e {
                UrlSignatureError::Expired => "url_expired",
                UrlSignatureError::Mismatch => "invalid_signature",
            };
            ApiError::new(ErrorKind::PermissionDenied, code, format!("{e}; fetch the generation again for a fresh URL"))
        })
    }
}
