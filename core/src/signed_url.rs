//! Signed image URLs: a generated image's URL carries `expires` (unix seconds) and `signature`
//! (hex HMAC-SHA256 over the generation id, the image index and `expires`), so that it works
//! without the `Authorization` header (in an `<img>`, or handed to another program), as
//! OpenAI's image URLs do, and stops working once expired or altered.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::ids::GenerationId;

/// Why a signed URL was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlSignatureError {
    #[error("the image URL has expired")]
    Expired,
    #[error("the image URL's signature does not match")]
    Mismatch,
}

/// The signing key, derived from a server secret (so that no further secret is needed).
pub fn derive_key(secret: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(b"apinfer signed image URLs");
    mac.finalize().into_bytes().to_vec()
}

fn mac(key: &[u8], generation: &GenerationId, index: i32, expires: i64) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(format!("image:{generation}:{index}:{expires}").as_bytes());
    mac
}

/// The signature of image `index` of `generation`, valid until `expires`.
pub fn sign(key: &[u8], generation: &GenerationId, index: i32, expires: i64) -> String {
    hex::encode(mac(key, generation, index, expires).finalize().into_bytes())
}

/// Checks a URL's `expires` and `signature` at `now` (unix seconds), in constant time.
pub fn verify(
    key: &[u8],
    generation: &GenerationId,
    index: i32,
    expires: i64,
    signature: &str,
    now: i64,
) -> Result<(), UrlSignatureError> {
    let given = hex::decode(signature).map_err(|_| UrlSignatureError::Mismatch)?;
    mac(key, generation, index, expires).verify_slice(&given).map_err(|_| UrlSignatureError::Mismatch)?;
    if now >= expires {
        return Err(UrlSignatureError::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_holds_for_its_image_until_it_expires() {
        let (id, other) = (GenerationId::generate(), GenerationId::generate());
        let sig = sign(b"key", &id, 0, 1_000);
        assert_eq!(verify(b"key", &id, 0, 1_000, &sig, 999), Ok(()));
        assert_eq!(verify(b"key", &id, 0, 1_000, &sig, 1_000), Err(UrlSignatureError::Expired));
        assert_eq!(verify(b"key", &id, 1, 1_000, &sig, 0), Err(UrlSignatureError::Mismatch));
        assert_eq!(verify(b"key", &id, 0, 1_001, &sig, 0), Err(UrlSignatureError::Mismatch));
        assert_eq!(verify(b"key", &other, 0, 1_000, &sig, 0), Err(UrlSignatureError::Mismatch));
        assert_eq!(verify(b"other", &id, 0, 1_000, &sig, 0), Err(UrlSignatureError::Mismatch));
        assert_eq!(verify(b"key", &id, 0, 1_000, "zz", 0), Err(UrlSignatureError::Mismatch));
    }
}
