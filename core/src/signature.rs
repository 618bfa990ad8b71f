//! Webhook signatures, one scheme both ways (payment providers → apinfer, apinfer → customers):
//! header `Apinfer-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
//! Verification is constant-time and refuses timestamps more than the tolerance away from now.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far a signature's timestamp may be from now.
pub const TOLERANCE_SECONDS: i64 = 300;

/// The header carrying the signature.
pub const HEADER: &str = "Apinfer-Signature";

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value signing `body` at `timestamp`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", hex::encode(mac(secret, timestamp, body).finalize().into_bytes()))
}

/// The header value signing `body` at `timestamp` with each secret, in order (during a secret's
/// rotation, the new one and the previous one): `t=<t>,v1=<new>,v1=<previous>`. A receiver
/// holding either secret accepts it.
pub fn sign_all(secrets: &[&[u8]], timestamp: i64, body: &[u8]) -> String {
    let mut header = format!("t={timestamp}");
    for secret in secrets {
        header.push_str(",v1=");
        header.push_str(&hex::encode(mac(secret, timestamp, body).finalize().into_bytes()));
    }
    header
}

/// Why a signature was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header is missing or malformed")]
    Malformed,
    #[error("the signature timestamp is outside the tolerance")]
    Stale,
    #[error("the signature does not match")]
    Mismatch,
}

/// Checks a header value against the body, at `now` (unix seconds).
pub fn verify(secret: &[u8], header: &str, body: &[u8], now: i64) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => timestamp = v.parse::<i64>().ok(),
            Some(("v1", v)) => candidates.push(hex::decode(v).map_err(|_| SignatureError::Malformed)?),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(SignatureError::Stale);
    }
    let expected = mac(secret, timestamp, body);
    // verify_slice compares in constant time.
    if candidates.iter().any(|c| expected.clone().verify_slice(c).is_ok()) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies() {
        let header = sign(b"secret", 1_000, b"{\"a\":1}");
        assert!(header.starts_with("t=1000,v1="));
        assert_eq!(verify(b"secret", &header, b"{\"a\":1}", 1_100), Ok(()));
        assert_eq!(verify(b"other", &header, b"{\"a\":1}", 1_100), Err(SignatureError::Mismatch));
        assert_eq!(verify(b"secret", &header, b"{\"a\":2}", 1_100), Err(SignatureError::Mismatch));
        assert_eq!(verify(b"secret", &header, b"{\"a\":1}", 1_301), Err(SignatureError::Stale));
        assert_eq!(verify(b"secret", "v1=abcd", b"", 0), Err(SignatureError::Malformed));
        assert_eq!(verify(b"secret", "t=1,v1=zz", b"", 1), Err(SignatureError::Malformed));
    }
}
