//! The closed sets of the wire format, as OpenAPI enums. Each lists exactly the strings the
//! matching core type writes (its `as_str`) or the handler accepts, so the spec's `enum` is the
//! truth that generated SDKs type against.

use serde::Serialize;
use utoipa::ToSchema;

/// Declares a string enum for the spec: `Name { Variant = "wire", ... }`.
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Serialize, ToSchema, Clone, Copy, Debug)]
        pub enum $name {
            $(#[serde(rename = $wire)] #[schema(rename = $wire)] $variant),+
        }
    };
}

wire_enum!(
    /// Image quality: `standard` ×1, `high` ×1.5, `ultra` ×2.
    Quality { Standard = "standard", High = "high", Ultra = "ultra" }
);
wire_enum!(
    /// Image quality as a request may give it: `hd` is accepted as `high`.
    QualityInput { Standard = "standard", High = "high", Hd = "hd", Ultra = "ultra" }
);
wire_enum!(
    /// How images come back: `url` (signed links) or `b64_json` (inline too).
    ResponseFormat { Url = "url", B64Json = "b64_json" }
);
wire_enum!(
    /// A generation's state.
    GenerationStatus {
        Queued = "queued",
        Processing = "processing",
        Succeeded = "succeeded",
        Failed = "failed",
        Canceled = "canceled",
    }
);
wire_enum!(
    /// A model's price tier: `basic` 0.1–1, `standard` 1–5, `premium` 5–20 credits per image.
    Tier { Basic = "basic", Standard = "standard", Premium = "premium" }
);
wire_enum!(
    /// What an API key may do.
    Scope {
        BalanceRead = "balance:read",
        UsageRead = "usage:read",
        GenerationsWrite = "generations:write",
        PurchasesWrite = "purchases:write",
    }
);
wire_enum!(
    /// When an API key's spend limit starts again from zero (UTC; weeks start on Monday).
    LimitReset { Daily = "daily", Weekly = "weekly", Monthly = "monthly" }
);
wire_enum!(
    /// A user's role in an account.
    Role { Owner = "owner", Admin = "admin", Member = "member" }
);
wire_enum!(
    /// The role a member can be given (`owner` is the account's creator alone).
    MemberRole { Admin = "admin", Member = "member" }
);
wire_enum!(
    /// An account's kind: `personal`, or `family`/`business` (shared by members).
    AccountType { Personal = "personal", Family = "family", Business = "business" }
);
wire_enum!(
    /// How a purchase is paid.
    PaymentMethodType { Card = "card", Alipay = "alipay", WechatPay = "wechat_pay", BankTransfer = "bank_transfer" }
);
wire_enum!(
    /// A card's brand (only these are accepted).
    CardBrand { Visa = "visa", Mastercard = "mastercard", Amex = "amex" }
);
wire_enum!(
    /// What the client must do to finish a payment.
    NextActionType { Redirect = "redirect", QrCode = "qr_code", UseStripeSdk = "use_stripe_sdk" }
);
wire_enum!(
    /// A purchase's state.
    PurchaseStatus {
        Processing = "processing",
        Succeeded = "succeeded",
        RequiresAction = "requires_action",
        Pending = "pending",
        Failed = "failed",
        Refunded = "refunded",
        PartiallyRefunded = "partially_refunded",
    }
);
wire_enum!(
    /// A refund's state: `processing` until the money has arrived, then `succeeded`.
    RefundStatus { Processing = "processing", Succeeded = "succeeded" }
);
wire_enum!(
    /// A ledger entry's kind.
    TransactionType {
        Purchase = "purchase",
        Generation = "generation",
        Refund = "refund",
        Adjustment = "adjustment",
        AutoTopup = "auto_topup",
    }
);
wire_enum!(
    /// How usage is grouped.
    GroupBy { Model = "model", Day = "day", ApiKey = "api_key", Member = "member" }
);
wire_enum!(
    /// Usage export formats.
    ExportFormat { Csv = "csv" }
);
wire_enum!(
    /// A notification's kind.
    NotificationType {
        LowBalance = "low_balance",
        AutoTopupSucceeded = "auto_topup_succeeded",
        AutoTopupFailed = "auto_topup_failed",
        AutoTopupSkipped = "auto_topup_skipped",
    }
);
wire_enum!(
    /// ISO 4217 currency code (apinfer sells in yuan).
    Currency { Cny = "CNY" }
);
wire_enum!(
    /// The contract's error classes; each fixes the status code.
    ErrorType {
        InvalidRequest = "invalid_request",
        AuthenticationRequired = "authentication_required",
        PermissionDenied = "permission_denied",
        NotFound = "not_found",
        Conflict = "conflict",
        IdempotencyConflict = "idempotency_conflict",
        InsufficientCredits = "insufficient_credits",
        PaymentFailed = "payment_failed",
        RateLimited = "rate_limited",
        UpstreamError = "upstream_error",
        Unavailable = "unavailable",
        Internal = "internal",
    }
);
wire_enum!(
    /// Image quality as OpenAI's SDKs send it: `standard`, `auto`, `low` and `medium` are
    /// standard (×1), `hd` and `high` ×1.5, `ultra` ×2.
    OpenAiQuality {
        Standard = "standard",
        Auto = "auto",
        Low = "low",
        Medium = "medium",
        Hd = "hd",
        High = "high",
        Ultra = "ultra",
    }
);
wire_enum!(
    /// OpenAI's object name of a model.
    ModelObject { Model = "model" }
);
wire_enum!(
    /// OpenAI's object name of a list.
    ListObject { List = "list" }
);
wire_enum!(
    /// What can be saved for later: cards only.
    SavedPaymentMethodType { Card = "card" }
);
wire_enum!(
    /// What a payment provider reports.
    PaymentEventType { Succeeded = "payment.succeeded", Failed = "payment.failed" }
);
wire_enum!(
    /// What an audit event records.
    AuditAction {
        ApiKeyCreated = "api_key.created",
        ApiKeyRevoked = "api_key.revoked",
        MemberAdded = "member.added",
        MemberRemoved = "member.removed",
        LowBalanceAlertUpdated = "settings.low_balance_alert.updated",
        AutoTopupUpdated = "settings.auto_topup.updated",
        PaymentMethodSaved = "payment_method.saved",
        PaymentMethodRemoved = "payment_method.removed",
        RefundRequested = "refund.requested",
        AdjustmentMade = "adjustment.made",
        AccountTypeChanged = "account.type_changed",
        SessionsRevoked = "sessions.revoked",
    }
);
wire_enum!(
    /// What an event reports.
    EventType {
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
);
wire_enum!(
    /// An event type a webhook endpoint subscribes to, or `*` for all.
    EnabledEvent {
        All = "*",
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
);
wire_enum!(
    /// Whether a webhook endpoint is sent events.
    WebhookEndpointStatus { Enabled = "enabled", Disabled = "disabled" }
);
wire_enum!(
    /// Where a webhook delivery stands.
    WebhookDeliveryStatus { Pending = "pending", Delivered = "delivered", Failed = "failed" }
);
wire_enum!(
    /// Who takes payments.
    PaymentProviderName { Sandbox = "sandbox", Stripe = "stripe" }
);
