//! Who signs up: an email address and a new password.

use crate::{Error, Result};

/// An email address: at most 254 characters of printable ASCII (so no spaces, control,
/// zero-width or bidi characters, and no look-alike of another user's address), `local@domain`
/// with a dot inside the domain; kept trimmed and lowercased, as it is stored and looked up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Checks an address as given (surrounding spaces are refused, not trimmed) and normalizes it.
    pub fn parse(text: &str) -> Result<Email> {
        let valid = text.len() <= 254
            && text.bytes().all(|b| b.is_ascii_graphic())
            && text
                .split_once('@')
                .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.') && !domain.starts_with('.'));
        if valid {
            Ok(Email(Email::normalize(text)))
        } else {
            Err(Error::invalid("invalid_email", "email must be a valid address", "email"))
        }
    }

    /// How an address is stored and looked up (case-insensitive, trimmed): for lookups of what
    /// a person typed at login, which need no check (an address that is not valid finds no one).
    pub fn normalize(text: &str) -> String {
        text.trim().to_lowercase()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the `@`.
    pub fn local_part(&self) -> &str {
        self.0.split('@').next().unwrap_or_default()
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 8;
/// Longest password accepted (argon2 hashes any length; this bounds the work).
pub const MAX_PASSWORD_LEN: usize = 1024;

/// A new password, checked as NIST SP 800-63B asks: 8 to 1,024 characters, not all blank, not
/// on a list of commonly used passwords (SecLists' 10,000 most common, shipped in the binary),
/// and not the user's own email or its local part. No composition rules. Its `Debug` hides it.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Checks `text` as the new password of the user with `email`.
    pub fn new(text: String, email: &Email) -> Result<Password> {
        let invalid = |message: String| Error::invalid("invalid_password", message, "password");
        let length = text.chars().count();
        if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&length) {
            return Err(invalid(format!("password must be {MIN_PASSWORD_LEN}–{MAX_PASSWORD_LEN} characters")));
        }
        if text.chars().all(char::is_whitespace) {
            return Err(invalid("password must not be all blank".into()));
        }
        let lowered = text.to_lowercase();
        // Well-formed, but refused for what it is: 422.
        let weak = |message: &str| Error::unprocessable("weak_password", message.to_string(), "password");
        if lowered == email.as_str() || lowered == email.local_part() {
            return Err(weak("password must not be your email address"));
        }
        if common_passwords().contains(lowered.as_str()) {
            return Err(weak("this password is on a list of commonly used passwords; choose another"));
        }
        Ok(Password(text))
    }

    /// The password itself, to hash.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

/// The shipped list, lowercase (compared without regard to case).
fn common_passwords() -> &'static std::collections::HashSet<&'static str> {
    static LIST: std::sync::OnceLock<std::collections::HashSet<&'static str>> = std::sync::OnceLock::new();
    LIST.get_or_init(|| include_str!("../common_passwords.txt").lines().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_then_normalized() {
        assert_eq!(Email::parse("Ada@Example.COM").unwrap().as_str(), "ada@example.com");
        for bad in ["", "ada", "@example.com", "ada@example", "ada@.com", " ada@example.com", "a da@example.com"] {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(250))).is_err());
        assert_eq!(Email::parse("ada@example.com").unwrap().local_part(), "ada");
    }
}
