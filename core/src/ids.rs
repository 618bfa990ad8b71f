//! Typed, prefixed, opaque identifiers (`acct_...`, `usr_...`).

use rand::distributions::Alphanumeric;
use rand::Rng;

/// `n` random base62 characters from the OS-seeded CSPRNG.
pub fn random_base62(n: usize) -> String {
    rand::thread_rng().sample_iter(&Alphanumeric).take(n).map(char::from).collect()
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A fresh random id.
            pub fn generate() -> Self {
                $name(format!("{}{}", $prefix, random_base62(24)))
            }

            /// Accepts a string only if it carries this id's prefix; anything else cannot name
            /// one of these, so callers answer "not found".
            pub fn parse(text: &str) -> Option<Self> {
                let rest = text.strip_prefix($prefix)?;
                (!rest.is_empty() && rest.len() <= 64 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
                    .then(|| $name(text.to_string()))
            }

            /// Wraps a value read back from storage.
            pub fn from_db(text: String) -> Self {
                $name(text)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

typed_id!(/// An account: the holder of a balance.
    AccountId, "acct_");
typed_id!(/// A person who logs in.
    UserId, "usr_");
typed_id!(/// An API key.
    ApiKeyId, "key_");
typed_id!(/// A ledger entry.
    TransactionId, "txn_");
typed_id!(/// A purchase of a credit package.
    PurchaseId, "pur_");
typed_id!(/// A refund of a purchase's unused credits.
    RefundId, "ref_");
typed_id!(/// A saved payment method.
    PaymentMethodId, "pm_");
typed_id!(/// An image generation.
    GenerationId, "gen_");
typed_id!(/// A notification.
    NotificationId, "ntf_");
typed_id!(/// An event sent to a webhook.
    EventId, "evt_");
typed_id!(/// A hold on credits while work is in flight.
    HoldId, "hold_");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_prefix_and_refuse_others() {
        let id = AccountId::generate();
        assert!(id.as_str().starts_with("acct_"));
        assert_eq!(AccountId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(AccountId::parse("usr_abc"), None);
        assert_eq!(AccountId::parse("acct_"), None);
        assert_eq!(AccountId::parse("acct_../x"), None);
    }
}
