//! The kinds of events an account's changes are reported as.

text_enum! {
    /// What happened. The wire names are `resource.verb`.
    pub enum EventType {
        GenerationSucceeded = "generation.succeeded",
        GenerationFailed = "generation.failed",
        GenerationCanceled = "generation.canceled",
        PurchaseSucceeded = "purchase.succeeded",
        PurchaseFailed = "purchase.failed",
        RefundCreated = "refund.created",
        RefundSucceeded = "refund.succeeded",
        BalanceLow = "balance.low",
        AutoTopupSucceeded = "auto_topup.succeeded",
        AutoTopupFailed = "auto_topup.failed",
        ApiKeyCreated = "api_key.created",
        ApiKeyRevoked = "api_key.revoked",
    }
}

impl EventType {
    /// Whether an endpoint subscribed to `enabled_events` (`*` for all) wants this type.
    pub fn wanted_by(self, enabled_events: &str) -> bool {
        enabled_events.split(',').any(|wanted| wanted == "*" || wanted == self.as_str())
    }
}
