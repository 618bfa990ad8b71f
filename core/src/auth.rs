//! Secrets at rest: password hashing (argon2id, memory-hard) and API keys (random, stored only
//! as a SHA-256 digest, which is enough for a 190-bit random secret and keeps lookups cheap).

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sha2::{Digest, Sha256};

use crate::domain::Password;
use crate::ids::random_base62;

/// Hashes a new password with argon2id and a random salt (PHC string format).
pub fn hash_password(password: &Password) -> anyhow::Result<String> {
    hash(password.expose())
}

fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
}

/// Checks a password against a stored hash (constant-time inside argon2).
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|hash| Argon2::default().verify_password(password.as_bytes(), &hash).is_ok())
        .unwrap_or(false)
}

/// A hash that no password matches, verified against when an email is unknown so that a login
/// takes as long whether or not the account exists.
pub fn dummy_password_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    // Hashing a constant with a fresh salt cannot fail: argon2's default parameters are valid.
    HASH.get_or_init(|| hash("not-a-real-password").expect("argon2 default params are valid"))
}

/// Length of the random part of an API key (base62): 40 chars ≈ 238 bits.
pub const API_KEY_RANDOM_LEN: usize = 40;
/// How much of a key is kept in clear to help people recognise it (`sk_AbCd1234`).
pub const API_KEY_PREFIX_LEN: usize = 11;

/// A newly minted key: the secret (shown once), its display prefix and its digest.
pub struct NewApiKey {
    pub secret: String,
    pub prefix: String,
    pub digest: String,
}

pub fn generate_api_key() -> NewApiKey {
    let secret = format!("sk_{}", random_base62(API_KEY_RANDOM_LEN));
    let prefix = secret[..API_KEY_PREFIX_LEN].to_string();
    let digest = api_key_digest(&secret);
    NewApiKey { secret, prefix, digest }
}

/// Whether a bearer token has the shape of an API key (as opposed to a session JWT).
pub fn looks_like_api_key(token: &str) -> bool {
    token.strip_prefix("sk_").is_some_and(|rest| rest.len() >= 32 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// SHA-256 of an API key secret (what the API's key cache is keyed by).
pub fn api_key_sha256(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// The stored digest of an API key secret: [`api_key_sha256`] in hex.
pub fn api_key_digest(secret: &str) -> String {
    hex::encode(api_key_sha256(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("correct horse", "garbage"));
    }

    #[test]
    fn new_passwords_follow_nist() {
        let email = crate::domain::Email::parse("ada@example.com").unwrap();
        let ok = |p: &str| Password::new(p.to_string(), &email).is_ok();
        assert!(ok("correct horse battery staple"));
        assert!(ok("tr0ub4dor&3x"));
        for weak in
            ["12345678", "        ", "\t \u{3000}  \n  ", "password", "PassWord", "qwertyuiop", "ada@example.com"]
        {
            assert!(!ok(weak), "{weak:?}");
        }
        let ada = crate::domain::Email::parse("adalovelace@example.com").unwrap();
        assert!(Password::new("adalovelace".into(), &ada).is_err());
        assert!(!ok("short"));
        assert!(!ok(&"x".repeat(crate::domain::MAX_PASSWORD_LEN + 1)));
    }

    #[test]
    fn api_keys_have_the_contract_shape() {
        let k = generate_api_key();
        assert!(looks_like_api_key(&k.secret));
        assert!(k.secret.starts_with(&k.prefix));
        assert_eq!(k.digest, api_key_digest(&k.secret));
        assert!(!looks_like_api_key("sk_short"));
        assert!(!looks_like_api_key("eyJhbGciOi.x.y"));
    }
}
