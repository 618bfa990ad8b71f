//! Typed, prefixed, opaque identifiers (`acct_...`, `usr_...`).
//!
//! After the prefix, an id is its creation time (microseconds since the Unix epoch, 10 base-36
//! digits) followed by 16 random base-62 characters (95 bits). Ids made later sort later, in
//! byte order and in any locale's collation alike (digits and lower-case letters only), so a new
//! row's key lands at the end of its table's indexes: a batch of inserts dirties a few pages
//! there instead of one random page per row. Still opaque to clients: only the prefix is
//! promised.

use rand::distributions::Alphanumeric;
use rand::Rng;

/// A fresh id's characters after its prefix: the time, then randomness (see the module).
pub fn time_ordered() -> String {
    let micros = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros());
    let mut id = String::with_capacity(26);
    id.push_str(&time_digits(micros));
    id.push_str(&random_base62(16));
    id
}

/// The 10 base-36 digits an id made at `micros` (since the Unix epoch) starts with.
fn time_digits(micros: u128) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut time = [b'0'; 10];
    let mut rest = micros.min(36_u128.pow(10) - 1);
    for digit in time.iter_mut().rev() {
        *digit = DIGITS[(rest % 36) as usize];
        rest /= 36;
    }
    String::from_utf8(time.to_vec()).expect("ASCII digits")
}

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

            /// A fresh id: time-ordered, then random (see the module).
            pub fn generate() -> Self {
                $name(format!("{}{}", $prefix, time_ordered()))
            }

            /// A string that every id made before `at` sorts before, and every id made at or
            /// after it sorts after.
            pub fn sorting_after(at: chrono::DateTime<chrono::Utc>) -> String {
                let micros = u128::try_from(at.timestamp_micros()).unwrap_or(0);
                format!("{}{}", $prefix, time_digits(micros))
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
typed_id!(/// A login session (named by its token).
    SessionId, "sess_");
typed_id!(/// An entry of an account's audit trail.
    AuditEventId, "aud_");
typed_id!(/// A webhook endpoint: where an account's events are sent.
    WebhookEndpointId, "we_");
typed_id!(/// One event's delivery to one webhook endpoint (its attempts are numbered within it).
    WebhookDeliveryId, "whd_");

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

    #[test]
    fn ids_made_later_sort_later_and_stay_unique() {
        let ids: Vec<GenerationId> = (0..2000).map(|_| GenerationId::generate()).collect();
        for pair in ids.windows(2) {
            // Same microsecond: only the time part is ordered.
            assert!(pair[0].as_str()[4..14] <= pair[1].as_str()[4..14], "{pair:?}");
        }
        let distinct: std::collections::HashSet<&str> = ids.iter().map(GenerationId::as_str).collect();
        assert_eq!(distinct.len(), ids.len());
        assert!(ids.iter().all(|id| id.as_str().len() == 30 && GenerationId::parse(id.as_str()).is_some()));
        assert!(ids[0].as_str()[4..14].bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()));
    }
}
