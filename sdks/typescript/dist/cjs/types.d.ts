/**
 * Typed models of the apinfer API, one per schema of the OpenAPI document.
 *
 * Property names are the wire names. Credits are {@link Decimal} strings, timestamps RFC 3339
 * strings. Enums accept any string too, so a value added by a newer server never breaks a build.
 */
import type { Decimal } from "./core.js";
export type { Decimal };
/**
 * An account's kind: `personal`, or `family`/`business` (shared by members).
 */
export type AccountType = "personal" | "family" | "business" | (string & {});
/**
 * An account: the holder of a credit balance.
 */
export interface AccountView {
    created_at: string;
    /**
     * `acct_...`
     */
    id: string;
    name: string;
    /**
     * `personal` (default), `family` or `business`.
     */
    type: AccountType;
}
/**
 * A user to add.
 */
export interface AddMemberRequest {
    /**
     * An existing user's email.
     */
    email: string;
    /**
     * Most credits the member may spend per calendar month (UTC); no limit when absent.
     */
    monthly_spend_limit?: Decimal | null;
    /**
     * `admin` (manages keys, members, settings) or `member` (spends and reads).
     */
    role: MemberRole;
}
/**
 * A manual correction of an account's balance.
 */
export interface AdjustmentRequest {
    /**
     * Signed credits: positive adds, negative removes (never below `available`).
     */
    credits: Decimal;
    /**
     * Why; required, shown in the ledger as the description.
     */
    reason: string;
}
/**
 * A list of API keys.
 */
export interface ApiKeyList {
    /**
     * The items, newest first.
     */
    data: Array<ApiKeyView>;
    /**
     * Whether another page follows.
     */
    has_more: boolean;
    /**
     * Pass as `cursor` to get the next page; null on the last page.
     */
    next_cursor?: string | null;
}
/**
 * An API key (the secret is only in the creation response).
 */
export interface ApiKeyView {
    created_at: string;
    /**
     * The user who made the key (`usr_...`); their monthly limit applies to its spends.
     */
    created_by: string;
    expires_at?: string | null;
    /**
     * `key_...`
     */
    id: string;
    last_used_at?: string | null;
    name: string;
    /**
     * The first characters of the secret, to recognise it.
     */
    prefix: string;
    /**
     * Set once the key is revoked.
     */
    revoked_at?: string | null;
    scopes: Array<string>;
    /**
     * Credits the key may spend (in total, or per `spend_limit_reset` period), or null for no
     * limit.
     */
    spend_limit?: Decimal | null;
    spend_limit_reset?: LimitReset | null;
    /**
     * When `spent` next starts again from zero, or null if it never does.
     */
    spend_limit_resets_at?: string | null;
    /**
     * Credits spent (or held) through this key: in the current period when the limit resets,
     * else so far.
     */
    spent: Decimal;
}
/**
 * What an audit event records.
 */
export type AuditAction = "api_key.created" | "api_key.revoked" | "member.added" | "member.removed" | "settings.low_balance_alert.updated" | "settings.auto_topup.updated" | "payment_method.saved" | "payment_method.removed" | "refund.requested" | "adjustment.made" | "account.type_changed" | "sessions.revoked" | (string & {});
/**
 * Who acted.
 */
export interface AuditActorView {
    /**
     * The API key used (`key_...`), if one was.
     */
    api_key_id?: string | null;
    /**
     * The session used (`sess_...`), if one was.
     */
    session_id?: string | null;
    /**
     * The user (`usr_...`): the session's, or the key's creator.
     */
    user_id?: string | null;
}
/**
 * A page of the audit trail.
 */
export interface AuditEventList {
    /**
     * The items, newest first.
     */
    data: Array<AuditEventView>;
    /**
     * Whether another page follows.
     */
    has_more: boolean;
    /**
     * Pass as `cursor` to get the next page; null on the last page.
     */
    next_cursor?: string | null;
}
/**
 * One record of the audit trail.
 */
export interface AuditEventView {
    action: AuditAction;
    actor: AuditActorView;
    created_at: string;
    /**
     * What changed (e.g. a key's name and scopes, a member's role).
     */
    details: Record<string, unknown>;
    /**
     * `aud_...`
     */
    id: string;
    /**
     * What was acted on (`key_...`, `usr_...`, `pm_...`, `ref_...`, `txn_...`, `acct_...`).
     */
    target_id?: string | null;
}
/**
 * Automatic top-up.
 */
export interface AutoTopupSettings {
    enabled: boolean;
    /**
     * At most this many top-ups per UTC day (1–100).
     */
    max_topups_per_day: number;
    /**
     * The package to buy.
     */
    package_id: string;
    /**
     * The saved card to charge (`pm_...`).
     */
    payment_method_id: string;
    /**
     * Buy when `available` drops below this.
     */
    threshold: Decimal;
}
/**
 * The automatic top-up settings as they are: never set, they are off with nothing chosen.
 */
export interface AutoTopupView {
    enabled: boolean;
    /**
     * At most this many top-ups per UTC day (null: never set).
     */
    max_topups_per_day?: number | null;
    /**
     * The package to buy (null: never set).
     */
    package_id?: string | null;
    /**
     * The saved card to charge (`pm_...`; null: never set).
     */
    payment_method_id?: string | null;
    /**
     * Buy when `available` drops below this (null: never set).
     */
    threshold?: Decimal | null;
}
/**
 * Credits on the account.
 */
export interface BalanceView {
    account_id: string;
    /**
     * `balance − held`: what can be spent now; never below 0.
     */
    available: Decimal;
    /**
     * All credits on the account.
     */
    balance: Decimal;
    /**
     * Reserved by generations in flight.
     */
    held: Decimal;
    /**
     * Below this `available`, a low-balance alert fires (null when alerts are off).
     */
    low_balance_threshold?: Decimal | null;
    updated_at: string;
}
/**
 * Where to send a bank transfer.
 */
export interface BankTransferView {
    account_number: string;
    bank_name: string;
    beneficiary: string;
    /**
     * Quote it with the transfer.
     */
    reference: string;
}
/**
 * A card's brand (only these are accepted).
 */
export type CardBrand = "visa" | "mastercard" | "amex" | (string & {});
/**
 * A dashboard session, started or switched: its token is only in the `Set-Cookie`.
 */
export interface CookieSessionView {
    /**
     * The account the session acts for (`acct_...`).
     */
    account_id: string;
    /**
     * When the session ends.
     */
    expires_at: string;
    /**
     * The logged-in user (`usr_...`).
     */
    user_id: string;
}
/**
 * A new key.
 */
export interface CreateApiKeyRequest {
    /**
     * When the key stops working; never when absent.
     */
    expires_at?: string | null;
    /**
     * A label, 1–100 characters.
     */
    name: string;
    /**
     * What the key may do: `balance:read`, `usage:read`, `generations:write`, `purchases:write`.
     */
    scopes: Array<Scope>;
    /**
     * Most credits the key may spend in total, or in each period of `spend_limit_reset`; no
     * limit when absent.
     */
    spend_limit?: Decimal | null;
    spend_limit_reset?: LimitReset | null;
}
/**
 * What to generate.
 */
export interface CreateGenerationRequest {
    model: string;
    /**
     * Number of images, 1–10 (default 1).
     */
    n?: number | null;
    /**
     * 1–4000 characters.
     */
    prompt: string;
    quality?: QualityInput | null;
    response_format?: ResponseFormat | null;
    /**
     * One of the model's sizes (default `1024x1024`); the size never changes the cost.
     */
    size?: string | null;
}
/**
 * A new model.
 */
export interface CreateModelRequest {
    active?: boolean | null;
    /**
     * Must lie within the tier's range.
     */
    credits_per_image: Decimal;
    /**
     * Slug: a-z, 0-9, `-`, `_`, `.`.
     */
    id: string;
    name: string;
    /**
     * Supported sizes (default `["1024x1024"]`).
     */
    sizes?: Array<string> | null;
    /**
     * `basic`, `standard` or `premium`.
     */
    tier: Tier;
}
/**
 * A new package.
 */
export interface CreatePackageRequest {
    active?: boolean | null;
    credits: Decimal;
    id: string;
    name: string;
    popular?: boolean | null;
    price: MoneyView;
}
/**
 * A card to save, as a one-time token from the payment provider's own page or script
 * (apinfer never receives the number).
 */
export interface CreatePaymentMethodRequest {
    /**
     * The provider's card token (the sandbox's: `tok_visa`, `tok_mastercard`, `tok_amex`, ...).
     */
    token: string;
    /**
     * `card`: only cards can be saved.
     */
    type: SavedPaymentMethodType;
}
/**
 * A package to buy and how to pay.
 */
export interface CreatePurchaseRequest {
    package_id: string;
    payment_method: PaymentMethodInput;
}
/**
 * A new endpoint.
 */
export interface CreateWebhookEndpointRequest {
    /**
     * A note for people, up to 500 characters.
     */
    description?: string | null;
    /**
     * Event types to send (`generation.succeeded`, ...), or `["*"]` for all.
     */
    enabled_events: Array<EnabledEvent>;
    /**
     * Where to send events: an http(s) URL on the public internet (one that does not parse,
     * resolve, or resolves inside the network is 422).
     */
    url: string;
}
/**
 * A newly created key, with its secret shown this once.
 */
export interface CreatedApiKey {
    created_at: string;
    /**
     * The user who made the key (`usr_...`); their monthly limit applies to its spends.
     */
    created_by: string;
    expires_at?: string | null;
    /**
     * `key_...`
     */
    id: string;
    /**
     * The secret (`sk_...`). Store it now: it cannot be shown again.
     */
    key: string;
    last_used_at?: string | null;
    name: string;
    /**
     * The first characters of the secret, to recognise it.
     */
    prefix: string;
    /**
     * Set once the key is revoked.
     */
    revoked_at?: string | null;
    scopes: Array<string>;
    /**
     * Credits the key may spend (in total, or per `spend_limit_reset` period), or null for no
     * limit.
     */
    spend_limit?: Decimal | null;
    spend_limit_reset?: LimitReset | null;
    /**
     * When `spent` next starts again from zero, or null if it never does.
     */
    spend_limit_resets_at?: string | null;
    /**
     * Credits spent (or held) through this key: in the current period when the limit resets,
     * else so far.
     */
    spent: Decimal;
}
/**
 * ISO 4217 currency code (apinfer sells in yuan).
 */
export type Currency = "CNY" | (string & {});
/**
 * The key a request is made with, and what it can still spend (OpenRouter's `/key`).
 */
export interface CurrentApiKey {
    /**
     * The account's available credits (its balance less what is held for work under way).
     */
    account_available: Decimal;
    created_at: string;
    /**
     * The user who made the key (`usr_...`); their monthly limit applies to its spends.
     */
    created_by: string;
    /**
     * What a spend through this key can take right now: the least of `remaining`,
     * `account_available` and `member_monthly_remaining`.
     */
    effective_remaining: Decimal;
    expires_at?: string | null;
    /**
     * `key_...`
     */
    id: string;
    last_used_at?: string | null;
    /**
     * What the key's creator may still spend this calendar month (UTC) under their monthly
     * limit in the account, or null when they have none.
     */
    member_monthly_remaining?: Decimal | null;
    name: string;
    /**
     * The first characters of the secret, to recognise it.
     */
    prefix: string;
    /**
     * What the key may still spend under its own `spend_limit` (in this period, when it
     * resets), or null when it has none.
     */
    remaining?: Decimal | null;
    /**
     * Set once the key is revoked.
     */
    revoked_at?: string | null;
    scopes: Array<string>;
    /**
     * Credits the key may spend (in total, or per `spend_limit_reset` period), or null for no
     * limit.
     */
    spend_limit?: Decimal | null;
    spend_limit_reset?: LimitReset | null;
    /**
     * When `spent` next starts again from zero, or null if it never does.
     */
    spend_limit_resets_at?: string | null;
    /**
     * Credits spent (or held) through this key: in the current period when the limit resets,
     * else so far.
     */
    spent: Decimal;
}
/**
 * An event type a webhook endpoint subscribes to, or `*` for all.
 */
export type EnabledEvent = "*" | "generation.succeeded" | "generation.failed" | "generation.canceled" | "purchase.succeeded" | "purchase.failed" | "refund.created" | "refund.succeeded" | "balance.low" | "auto_topup.succeeded" | "auto_topup.failed" | "api_key.created" | "api_key.revoked" | (string & {});
/**
 * The contract's error body.
 */
export interface ErrorBody {
    error: ErrorDetail;
}
/**
 * What went wrong.
 */
export interface ErrorDetail {
    /**
     * Finer reason, e.g. `card_declined`, `refund_window_expired`, `spend_limit_exceeded`.
     */
    code: string;
    /**
     * For a failed generation (502): its id. It was not charged.
     */
    generation_id?: string | null;
    /**
     * Human-readable explanation.
     */
    message: string;
    /**
     * The request field at fault, as a dotted path, when there is one.
     */
    param?: string | null;
    /**
     * The id of the request (also in `X-Request-Id`).
     */
    request_id: string;
    /**
     * Broad class: `invalid_request`, `authentication_required`, `permission_denied`, `not_found`,
     * `conflict`, `idempotency_conflict`, `insufficient_credits`, `payment_failed`,
     * `rate_limited`, `upstream_error`, `unavailable` or `internal`.
     */
    type: ErrorType;
}
/**
 * The contract's error classes; each fixes the status code.
 */
export type ErrorType = "invalid_request" | "authentication_required" | "permission_denied" | "not_found" | "conflict" | "idempotency_conflict" | "insufficient_credits" | "payment_failed" | "rate_limited" | "upstream_error" | "unavailable" | "internal" | (string & {});
/**
 * A page of events.
 */
export interface EventList {
    /**
     * The items, newest first.
     */
    data: Array<EventView>;
    /**
     * Whether another page follows.
     */
    has_more: boolean;
    /**
     * Pass as `cursor` to get the next page; null on the last page.
     */
    next_cursor?: string | null;
}
/**
 * What an event reports.
 */
export type EventType = "generation.succeeded" | "generation.failed" | "generation.canceled" | "purchase.succeeded" | "purchase.failed" | "refund.created" | "refund.succeeded" | "balance.low" | "auto_topup.succeeded" | "auto_topup.failed" | "api_key.created" | "api_key.revoked" | (string & {});
/**
 * Something that happened to the account.
 */
export interface EventView {
    /**
     * When it happened (unix seconds).
     */
    created: number;
    /**
     * The object the event is about, as it was then, with an `object` field naming its kind:
     * `generation` (`generation.*`: its `id`, `status`, `model`, `n`, `credits_charged` and, if
     * it failed, `error_code`; `GET /v1/generations/{id}` has the rest), `purchase`, `refund`,
     * `api_key`, `auto_topup`; for `balance.low`, `available` and `threshold`.
     */
    data: Record<string, unknown>;
    /**
     * `evt_...`
     */
    id: string;
    type: EventType;
}
/**
 * Usage export formats.
 */
export type ExportFormat = "csv" | (string & {});
/**
 * What a generation costs: `credits_per_image × quality_multiplier × n`, rounded up to the
 * ledger's unit (0.0001 credit).
 */
export interface GenerationCost {
    /**
     * The model's price per image when the generation was asked for.
     */
    credits_per_image: Decimal;
    n: number;
    /**
     * `1` (standard), `1.5` (high) or `2` (ultra).
     */
    quality_multiplier: string;
    /**
     * The cost: held while the generation is queued or processing, charged if it succeeds.
     */
    total: Decimal;
}
/**
 * A page of generations.
 */
export interface GenerationList {
    /**
     * The items, newest first.
     */
    data: Array<GenerationView>;
    /**
     * Whether another page follows.
     */
    has_more: boolean;
    /**
     * Pass as `cursor` to get the next page; null on the last page.
     */
    next_cursor?: string | null;
}
/**
 * A generation's state.
 */
export type GenerationStatus = "queued" | "processing" | "succeeded" | "failed" | "canceled" | (string & {});
/**
 * When a generation was asked for, started and finished.
 */
export interface GenerationTimings {
    /**
     * When it succeeded, failed or was canceled.
     */
    finished_at?: string | null;
    /**
     * When it was asked for (and queued, if asynchronous).
     */
    queued_at: string;
    /**
     * When the provider was called: at once for a synchronous generation, when a worker took
     * it for an asynchronous one; null while queued, or if it never started.
     */
    started_at?: string | null;
}
/**
 * An image generation.
 */
export interface GenerationView {
    completed_at?: string | null;
    /**
     * How it is priced.
     */
    cost: GenerationCost;
    created_at: string;
    /**
     * Credits charged: the cost once succeeded, 0 if it failed or was canceled.
     */
    credits_charged: Decimal;
    /**
     * Credits held for it while it is queued or processing (its cost), else 0.
     */
    credits_held: Decimal;
    /**
     * Why it failed (`upstream_error`, `hold_expired`, `worker_lost`).
     */
    error_code?: string | null;
    error_message?: string | null;
    /**
     * `gen_...`
     */
    id: string;
    images: Array<ImageView>;
    model: string;
    n: number;
    prompt: string;
    quality: string;
    size: string;
    /**
     * `queued` (asynchronous, waiting for a worker), `processing`, then `succeeded`, `failed`
     * or `canceled`.
     */
    status: GenerationStatus;
    timings: GenerationTimings;
}
/**
 * How usage is grouped.
 */
export type GroupBy = "model" | "day" | "api_key" | "member" | (string & {});
/**
 * One generated image.
 */
export interface ImageView {
    /**
     * The image, base64-encoded, when `response_format` was `b64_json`.
     */
    b64_json?: string | null;
    /**
     * `image/png` from the local renderer.
     */
    content_type: string;
    height: number;
    /**
     * Position in the generation, from 0.
     */
    index: number;
    /**
     * Where to download it: a signed URL that works without the `Authorization` header
     * until it expires (`APINFER_IMAGE_URL_TTL_SECONDS`, default an hour); fetch the
     * generation again for a fresh one.
     */
    url: string;
    width: number;
}
/**
 * When an API key's spend limit starts again from zero (UTC; weeks start on Monday).
 */
export type LimitReset = "daily" | "weekly" | "monthly" | (string & {});
/**
 * OpenAI's object name of a list.
 */
export type ListObject = "list" | (string & {});
/**
 * Credentials, and optionally which of the user's accounts the session acts for.
 */
export interface LoginRequest {
    /**
     * An account the user belongs to; default: the user's own (personal) account.
     */
    account_id?: string | null;
    email: string;
    password: string;
}
/**
 * A session token.
 */
export interface LoginResponse {
    /**
     * The account the session acts for.
     */
    account_id: string;
    /**
     * When the token expires.
     */
    expires_at: string;
    /**
     * A session token for `Authorization: Bearer`.
     */
    token: string;
}
/**
 * How many sessions a logout ended.
 */
export interface LogoutResponse {
    /**
     * Sessions ended by this request (0 when there was nothing left to end).
     */
    revoked_sessions: number;
}
/**
 * The low-balance alert.
 */
export interface LowBalanceAlertRequest {
    enabled: boolean;
    /**
     * Alert when `available` drops from at least this to below it.
     */
    threshold: Decimal;
    /**
     * Where to POST `balance.low` events (http(s); private addresses refused unless allowed).
     */
    webhook_url?: string | null;
}
/**
 * The low-balance alert, with the secret that signs its webhooks.
 */
export interface LowBalanceAlertView {
    enabled: boolean;
    threshold: Decimal;
    /**
     * Verifies `Apinfer-Signature` on this account's webhooks (`whsec_...`).
     */
    webhook_secret: string;
    webhook_url?: string | null;
}
/**
 * The caller: user, the account acted for, the role there, and every account of the user.
 */
export interface MeView {
    account: AccountView;
    /**
     * Every account the user belongs to.
     */
    accounts: Array<MembershipView>;
    /**
     * When authenticated by API key, its id (`key_...`).
     */
    api_key_id?: string | null;
    /**
     * The user's monthly spending limit in `account` (credits; null: none).
     */
    monthly_spend_limit?: Decimal | null;
    /**
     * What the user spent (or holds) in `account` this calendar month (UTC), in credits.
     */
    monthly_spent: Decimal;
    /**
     * The user's role in `account`: `owner`, `admin` or `member`.
     */
    role: Role;
    user: UserView;
}
/**
 * The account's members.
 */
export interface MemberList {
    /**
     * The items, newest first.
     */
    data: Array<MemberView>;
    /**
     * Whether another page follows.
     */
    has_more: boolean;
    /**
     * Pass as `cursor` to get the next page; null on the last page.
     */
    next_cursor?: string | null;
}
/**
 * The role a member can be given (`owner` is the account's creator alone).
 */
export type MemberRole = "admin" | "member" | (string & {});
/**
 * A member of the account.
 */
export interface MemberView {
    email: string;
    joined_at: string;
    monthly_spend_limit?: Decimal | null;
    name?: string | null;
    /**
     * `owner`, `admin` or `member`.
     */
    role: Role;
    /**
     * Spent (or held) this calendar month, counted against the limit.
     */
    spent_this_month: Decimal;
    /**
     * `usr_...`
     */
    user_id: string;
}
/**
 * One account the user belongs to, with their role in it.
 */
export interface MembershipView {
    account: AccountView;
    /**
     * `owner`, `admin` or `member`.
     */
    role: Role;
}
/**
 * The image models: a list envelope that is also OpenAI's (`object: "list"`).
 */
export interface ModelList {
    /**
     * The models.
     */
    data: Array<ModelView>;
    /**
     * Always false: every model is on this page.
     */
    has_more: boolean;
    /**
     * Always null.
     */
    next_cursor?: string | null;
    /**
     * Always `list`.
     */
    object: ListObject;
}
/**
 * OpenAI's object name of a model.
 */
export type ModelObject = "model" | (string & {});
/**
 * An image model and its price; also OpenAI's model object (`id`, `object`, `created`,
 * `owned_by`), so OpenAI's SDKs can list and retrieve models.
 */
export interface ModelView {
    /**
     * Whether it can be used.
     */
    active: boolean;
    /**
     * When the model was added (unix seconds).
     */
    created: number;
    /**
     * Credits per image at standard quality, whatever the resolution.
     */
    credits_per_image: Decimal;
    id: string;
    name: string;
    /**
     * Always `model`.
     */
    object: ModelObject;
    /**
     * Who serves it: `apinfer`.
     */
    owned_by: string;
    /**
     * Multiplier per quality: `standard` 1, `high` 1.5, `ultra` 2.
     */
    quality_multipliers: Record<string, string>;
    /**
     * Supported sizes, `WIDTHxHEIGHT`; all cost the same.
     */
    sizes: Array<string>;
    /**
     * `basic` (0.1–1 credits per image), `standard` (1–5) or `premium` (5–20).
     */
    tier: Tier;
}
/**
 * An amount of money.
 */
export interface MoneyView {
    /**
     * Decimal amount, as a string: answers carry two fractional digits; requests may give 0–2.
     */
    amount: Decimal;
    /**
     * ISO 4217 currency code.
     */
    currency: Currency;
}
/**
 * What the client must do to finish a payment.
 */
export type NextActionType = "redirect" | "qr_code" | "use_stripe_sdk" | (string & {});
/**
 * What the customer must do to pay (3-D Secure, Alipay, WeChat Pay).
 */
export interface NextActionView {
    /**
     * The PaymentIntent's client secret, for Stripe.js (`use_stripe_sdk`).
     */
    client_secret?: string | null;
    /**
     * `redirect` (3-D Secure, Alipay), `qr_code` (WeChat Pay), or `use_stripe_sdk` (3-D Secure
     * completed in the browser by Stripe.js: `stripe.handleNextAction({clientSecret})`).
     */
    type: NextActionType;
    /**
     * Where to send the customer, or what to encode in the QR code (`redirect`, `qr_code`).
     */
    url?: string | null;
}
/**
 * A page of notifications.
 */
export interface NotificationList {
    /**
     * The items, newest first.
     */
    data: Array<NotificationView>;
    /**
     * Whether another page follows.
     */
    has_more: boolean;
    /**
     * Pass as `cursor` to get the next page; null on the last page.
     */
    next_cursor?: string | null;
}
/**
 * A notification's kind.
 */
export type NotificationType = "low_balance" | "auto_topup_succeeded" | "auto_topup_failed" | "auto_topup_skipped" | (string & {});
/**
 * A notification.
 */
export interface NotificationView {
    created_at: string;
    /**
     * Details, e.g. `{"available": "99", "threshold": "100"}`.
     */
    data: Record<string, unknown>;
    /**
     * `ntf_...`
     */
    id: string;
    message: string;
    /**
     * `low_balance`, `auto_topup_succeeded`, `auto_topup_failed` or `auto_topup_skipped`.
     */
    type: NotificationType;
}
/**
 * One image: a URL or inline base64.
 */
export interface OpenAiImage {
    b64_json?: string | null;
    url?: string | null;
}
/**
 * OpenAI's `images.generate` request. Unknown OpenAI options (`style`, `user`,
 * `background`, ...) are accepted and ignored.
 */
export interface OpenAiImageRequest {
    model: string;
    /**
     * 1–10 (default 1).
     */
    n?: number | null;
    prompt: string;
    quality?: OpenAiQuality | null;
    response_format?: ResponseFormat | null;
    /**
     * `WIDTHxHEIGHT`, one of the model's sizes, or `auto` (the default: 1024x1024 where the
     * model has it).
     */
    size?: string | null;
}
/**
 * OpenAI's images response.
 */
export interface OpenAiImagesResponse {
    /**
     * Unix seconds.
     */
    created: number;
    data: Array<OpenAiImage>;
}
/**
 * Image quality as OpenAI's SDKs send it: `standard`, `auto`, `low` and `medium` are
 * standard (×1), `hd` and `high` ×1.5, `ultra` ×2.
 */
export type OpenAiQuality = "standard" | "auto" | "low" | "medium" | "hd" | "high" | "ultra" | (string & {});
/**
 * A list of credit packages.
 */
export interface PackageList {
    /**
     * The items, newest first.
     */
    data: Array<PackageView>;
    /**
     * Whether another page follows.
     */
    has_more: boolean;
    /**
     * Pass as `cursor` to get the next page; null on the last page.
     */
    next_cursor?: string | null;
}
/**
 * A credit package.
 */
export interface PackageView {
    /**
     * Whether it can be bought.
     */
    active: boolean;
    /**
     * Credits the package adds to the balance.
     */
    credits: Decimal;
    id: string;
    name: string;
    /**
     * The most popular package.
     */
    popular: boolean;
    /**
     * What it costs.
     */
    price: MoneyView;
    /**
     * Price of one credit in this package (up to 4 fractional digits).
     */
    price_per_credit: UnitPriceView;
}
/**
 * A payment provider's event.
 */
export interface PaymentEvent {
    data: PaymentEventData;
    /**
     * The provider's event id (`evt_...`); a redelivered id is acknowledged and ignored.
     */
    id: string;
    /**
     * `payment.succeeded` or `payment.failed`.
     */
    type: PaymentEventType;
}
/**
 * The purchase an event is about.
 */
export interface PaymentEventData {
    /**
     * `pur_...`
     */
    purchase_id: string;
}
/**
 * What a payment provider reports.
 */
export type PaymentEventType = "payment.succeeded" | "payment.failed" | (string & {});
/**
 * How to pay: `{"type":"card","token":"tok_..."}` (a one-time token from the payment
 * provider's own page or script: apinfer never receives a card number),
 * `{"type":"card","payment_method_id":"pm_..."}`, `{"type":"alipay"}`, `{"type":"wechat_pay"}`
 * or `{"type":"bank_transfer"}`.
 */
export interface PaymentMethodInput {
    /**
     * A saved card to charge (with `type: card`), `pm_...`.
     */
    payment_method_id?: string | null;
    /**
     * A card token from the payment provider (with `type: card`). The sandbox's test tokens:
     * `tok_visa`, `tok_mastercard`, `tok_amex` succeed; `tok_chargeDeclined` and
     * `tok_chargeDeclinedInsufficientFunds` are declined; `tok_discover` is a brand not
     * accepted; `tok_threeDSecureRequired` needs 3-D Secure (`requires_action`).
     */
    token?: string | null;
    /**
     * `card`, `alipay`, `wechat_pay` or `bank_transfer`.
     */
    type: PaymentMethodType;
}
/**
 * The account's saved cards.
 */
export interface PaymentMethodList {
    /**
     * The items, newest first.
     */
    data: Array<PaymentMethodView>;
    /**
     * Whether another page follows.
     */
    has_more: boolean;
    /**
     * Pass as `cursor` to get the next page; null on the last page.
     */
    next_cursor?: string | null;
}
/**
 * How a purchase was paid.
 */
export interface PaymentMethodSummary {
    brand?: CardBrand | null;
    last4?: string | null;
    /**
     * The saved card used, if any.
     */
    payment_method_id?: string | null;
    /**
     * `card`, `alipay`, `wechat_pay` or `bank_transfer`.
     */
    type: PaymentMethodType;
}
/**
 * How a purchase is paid.
 */
export type PaymentMethodType = "card" | "alipay" | "wechat_pay" | "bank_transfer" | (string & {});
/**
 * A saved card (the number is kept only by the payment provider).
 */
export interface PaymentMethodView {
    /**
     * `visa`, `mastercard` or `amex`.
     */
    brand: CardBrand;
    created_at: string;
    exp_month: number;
    exp_year: number;
    /**
     * `pm_...`
     */
    id: string;
    last4: string;
    /**
     * `card`.
     */
    type: string;
}
/**
 * Who takes payments.
 */
export type PaymentProviderName = "sandbox" | "stripe" | (string & {});
/**
 * How a client collects a card for this server's payment provider.
 */
export interface PaymentProviderView {
    /**
     * The sandbox's card form, which hands back test tokens (`sandbox` only).
     */
    checkout_url?: string | null;
    /**
     * `sandbox` or `stripe`.
     */
    provider: PaymentProviderName;
    /**
     * Stripe's publishable key, to initialise Stripe.js with (`stripe` only).
     */
    publishable_key?: string | null;
    /**
     * Stripe.js, to load from Stripe (`stripe` only).
     */
    script_url?: string | null;
}
/**
 * A page of purchases.
 */
export interface PurchaseList {
    /**
     * The items, newest first.
     */
    data: Array<PurchaseView>;
    /**
     * Whether another page follows.
     */
    has_more: boolean;
    /**
     * Pass as `cursor` to get the next page; null on the last page.
     */
    next_cursor?: string | null;
}
/**
 * A purchase's state.
 */
export type PurchaseStatus = "processing" | "succeeded" | "requires_action" | "pending" | "failed" | "refunded" | "partially_refunded" | (string & {});
/**
 * A purchase of a credit package; once succeeded, a credit lot.
 */
export interface PurchaseView {
    /**
     * What was (or is to be) paid.
     */
    amount: MoneyView;
    /**
     * Bought by automatic top-up.
     */
    auto_topup: boolean;
    bank_transfer?: BankTransferView | null;
    created_at: string;
    /**
     * Credits the package adds.
     */
    credits: Decimal;
    /**
     * The lot's unused credits (spending consumes lots oldest first).
     */
    credits_remaining: Decimal;
    /**
     * Why it failed (`card_declined`, `insufficient_funds`, ...).
     */
    failure_code?: string | null;
    failure_message?: string | null;
    /**
     * `pur_...`
     */
    id: string;
    next_action?: NextActionView | null;
    package_id: string;
    payment_method: PaymentMethodSummary;
    refundable_amount?: MoneyView | null;
    /**
     * Until when unused credits may be refunded (30 days after payment); null until paid.
     */
    refundable_until?: string | null;
    /**
     * Credits refunded from this lot.
     */
    refunded_credits: Decimal;
    /**
     * `succeeded`, `requires_action`, `pending`, `processing`, `failed`, `refunded` or `partially_refunded`.
     */
    status: PurchaseStatus;
    succeeded_at?: string | null;
}
/**
 * Image quality as a request may give it: `hd` is accepted as `high`.
 */
export type QualityInput = "standard" | "high" | "hd" | "ultra" | (string & {});
/**
 * A price quote.
 */
export interface QuoteView {
    credits_per_image: Decimal;
    model: string;
    n: number;
    quality: string;
    /**
     * `credits_per_image × quality multiplier × n`.
     */
    total_credits: Decimal;
}
/**
 * A page of refunds.
 */
export interface RefundList {
    /**
     * The items, newest first.
     */
    data: Array<RefundView>;
    /**
     * Whether another page follows.
     */
    has_more: boolean;
    /**
     * Pass as `cursor` to get the next page; null on the last page.
     */
    next_cursor?: string | null;
}
/**
 * A refund's state: `processing` until the money has arrived, then `succeeded`.
 */
export type RefundStatus = "processing" | "succeeded" | (string & {});
/**
 * A refund of a purchase's unused credits.
 */
export interface RefundView {
    /**
     * Money returned, at the price paid per credit.
     */
    amount: MoneyView;
    completed_at?: string | null;
    created_at: string;
    /**
     * Credits taken off the balance.
     */
    credits: Decimal;
    /**
     * When the money should arrive: 5 business days after the request.
     */
    expected_by: string;
    /**
     * `ref_...`
     */
    id: string;
    purchase_id: string;
    /**
     * `processing`, then `succeeded` once the money has arrived.
     */
    status: RefundStatus;
}
/**
 * How images come back: `url` (signed links) or `b64_json` (inline too).
 */
export type ResponseFormat = "url" | "b64_json" | (string & {});
/**
 * A user's role in an account.
 */
export type Role = "owner" | "admin" | "member" | (string & {});
/**
 * How long the previous secret keeps signing.
 */
export interface RotateWebhookSecretRequest {
    /**
     * Seconds the previous secret keeps signing beside the new one (0–604800; default 86400,
     * a day): deliveries meanwhile carry both signatures.
     */
    grace_period_seconds?: number | null;
}
/**
 * What can be saved for later: cards only.
 */
export type SavedPaymentMethodType = "card" | (string & {});
/**
 * What an API key may do.
 */
export type Scope = "balance:read" | "usage:read" | "generations:write" | "purchases:write" | (string & {});
/**
 * Whether the request carries a live session.
 */
export interface SessionStatusView {
    /**
     * The account the session acts for (`acct_...`), when signed in.
     */
    account_id?: string | null;
    /**
     * True when the session cookie (or a bearer session token) is valid.
     */
    signed_in: boolean;
    /**
     * The session's user (`usr_...`), when signed in.
     */
    user_id?: string | null;
}
/**
 * A new user and their personal account.
 */
export interface SignupRequest {
    /**
     * Email address, used to log in (case-insensitive).
     */
    email: string;
    /**
     * Display name; also names the personal account.
     */
    name?: string | null;
    /**
     * 8–1,024 characters, not all blank, not a commonly used password (a shipped list of
     * 10,000) and not the email itself.
     */
    password: string;
}
/**
 * The created user, their account, and a session token.
 */
export interface SignupResponse {
    /**
     * The user's personal account (they are its owner).
     */
    account: AccountView;
    /**
     * When the token expires.
     */
    expires_at: string;
    /**
     * A session token for `Authorization: Bearer`.
     */
    token: string;
    /**
     * The new user.
     */
    user: UserView;
}
/**
 * Which of the user's accounts the dashboard session should act for.
 */
export interface SwitchAccountRequest {
    /**
     * An account the user belongs to (`acct_...`; see `GET /v1/me`'s `accounts`).
     */
    account_id: string;
}
/**
 * A model's price tier: `basic` 0.1–1, `standard` 1–5, `premium` 5–20 credits per image.
 */
export type Tier = "basic" | "standard" | "premium" | (string & {});
/**
 * A page of ledger entries.
 */
export interface TransactionList {
    /**
     * The items, newest first.
     */
    data: Array<TransactionView>;
    /**
     * Whether another page follows.
     */
    has_more: boolean;
    /**
     * Pass as `cursor` to get the next page; null on the last page.
     */
    next_cursor?: string | null;
}
/**
 * A ledger entry's kind.
 */
export type TransactionType = "purchase" | "generation" | "refund" | "adjustment" | "auto_topup" | (string & {});
/**
 * One ledger entry.
 */
export interface TransactionView {
    /**
     * The API key that caused it, if any.
     */
    api_key_id?: string | null;
    /**
     * The balance right after this entry.
     */
    balance_after: Decimal;
    created_at: string;
    /**
     * Signed: positive added credits, negative removed them.
     */
    credits: Decimal;
    description: string;
    /**
     * `txn_...`
     */
    id: string;
    /**
     * The purchase, generation or refund this entry belongs to.
     */
    reference_id?: string | null;
    /**
     * `purchase`, `generation`, `refund`, `adjustment` or `auto_topup`.
     */
    type: TransactionType;
    /**
     * The user who caused it, if any.
     */
    user_id?: string | null;
}
/**
 * The price of one unit (a credit), more precise than a payable amount.
 */
export interface UnitPriceView {
    /**
     * Decimal amount with 2 to 4 fractional digits, as a string.
     */
    amount: Decimal;
    /**
     * ISO 4217 currency code.
     */
    currency: Currency;
}
/**
 * A new account type.
 */
export interface UpdateAccountRequest {
    /**
     * `personal`, `family` or `business`.
     */
    type: AccountType;
}
/**
 * Changes to a model; the price must stay within the (new) tier's range.
 */
export interface UpdateModelRequest {
    active?: boolean | null;
    credits_per_image?: Decimal | null;
    name?: string | null;
    sizes?: Array<string> | null;
    tier?: Tier | null;
}
/**
 * Changes to a package.
 */
export interface UpdatePackageRequest {
    active?: boolean | null;
    credits?: Decimal | null;
    name?: string | null;
    popular?: boolean | null;
    price?: MoneyView | null;
}
/**
 * Changes to an endpoint; what is absent stays.
 */
export interface UpdateWebhookEndpointRequest {
    description?: string | null;
    enabled_events?: Array<EnabledEvent> | null;
    status?: WebhookEndpointStatus | null;
    url?: string | null;
}
/**
 * One group's usage.
 */
export interface UsageBucket {
    credits: Decimal;
    generations: number;
    images: number;
    /**
     * The model id, the day, the API key id or the user id (empty for a spend without a key).
     */
    key: string;
}
/**
 * Usage over a period (UTC days; `to` excluded).
 */
export interface UsageReport {
    buckets: Array<UsageBucket>;
    /**
     * First day included.
     */
    from: string;
    group_by: GroupBy;
    /**
     * First day excluded.
     */
    to: string;
    total_credits: Decimal;
    total_generations: number;
}
/**
 * A user.
 */
export interface UserView {
    created_at: string;
    email: string;
    /**
     * `usr_...`
     */
    id: string;
    /**
     * Whether the user is an apinfer administrator.
     */
    is_admin: boolean;
    name?: string | null;
}
/**
 * The acknowledgement.
 */
export interface WebhookAck {
    /**
     * True when this event id had been processed before (nothing changed).
     */
    duplicate: boolean;
    purchase_status?: PurchaseStatus | null;
    received: boolean;
}
/**
 * One attempt at a delivery.
 */
export interface WebhookAttemptView {
    at: string;
    /**
     * From 1.
     */
    attempt: number;
    /**
     * How long the attempt took, in milliseconds.
     */
    duration_ms?: number | null;
    /**
     * Why it failed (`HTTP 500`, `timed out`, `connection failed`, a refused address).
     */
    error?: string | null;
    /**
     * The endpoint's HTTP status, if it answered.
     */
    response_code?: number | null;
    /**
     * `succeeded` (a 2xx answer) or `failed`.
     */
    status: string;
}
/**
 * A page of an endpoint's deliveries.
 */
export interface WebhookDeliveryList {
    /**
     * The items, newest first.
     */
    data: Array<WebhookDeliveryView>;
    /**
     * Whether another page follows.
     */
    has_more: boolean;
    /**
     * Pass as `cursor` to get the next page; null on the last page.
     */
    next_cursor?: string | null;
}
/**
 * Where a webhook delivery stands.
 */
export type WebhookDeliveryStatus = "pending" | "delivered" | "failed" | (string & {});
/**
 * One event's delivery to the endpoint.
 */
export interface WebhookDeliveryView {
    attempts: Array<WebhookAttemptView>;
    created_at: string;
    /**
     * `evt_...`
     */
    event_id: string;
    event_type: EventType;
    /**
     * `whd_...`
     */
    id: string;
    /**
     * When the next attempt is due, while pending.
     */
    next_attempt_at?: string | null;
    /**
     * `pending` (an attempt is due), `delivered` or `failed` (given up after its attempts).
     */
    status: WebhookDeliveryStatus;
}
/**
 * A page of webhook endpoints.
 */
export interface WebhookEndpointList {
    /**
     * The items, newest first.
     */
    data: Array<WebhookEndpointView>;
    /**
     * Whether another page follows.
     */
    has_more: boolean;
    /**
     * Pass as `cursor` to get the next page; null on the last page.
     */
    next_cursor?: string | null;
}
/**
 * Whether a webhook endpoint is sent events.
 */
export type WebhookEndpointStatus = "enabled" | "disabled" | (string & {});
/**
 * A webhook endpoint (its secret is only in the creation and rotation responses).
 */
export interface WebhookEndpointView {
    created_at: string;
    description: string;
    disabled_reason?: string | null;
    /**
     * Event types sent here, or `["*"]`.
     */
    enabled_events: Array<string>;
    /**
     * Since when its deliveries have been failing, when the last one failed.
     */
    failing_since?: string | null;
    /**
     * `we_...`
     */
    id: string;
    /**
     * Until when deliveries also carry a signature with the previous secret (after a rotation).
     */
    previous_secret_expires_at?: string | null;
    /**
     * `enabled`, or `disabled` (by the account, or after its deliveries kept failing for
     * `APINFER_WEBHOOK_DISABLE_AFTER_SECONDS`, three days by default).
     */
    status: WebhookEndpointStatus;
    updated_at: string;
    url: string;
}
/**
 * An endpoint with its secret, shown this once.
 */
export interface WebhookEndpointWithSecret {
    created_at: string;
    description: string;
    disabled_reason?: string | null;
    /**
     * Event types sent here, or `["*"]`.
     */
    enabled_events: Array<string>;
    /**
     * Since when its deliveries have been failing, when the last one failed.
     */
    failing_since?: string | null;
    /**
     * `we_...`
     */
    id: string;
    /**
     * Until when deliveries also carry a signature with the previous secret (after a rotation).
     */
    previous_secret_expires_at?: string | null;
    /**
     * Signs every delivery (`whsec_...`): verify `Apinfer-Signature` with it. Store it now.
     */
    secret: string;
    /**
     * `enabled`, or `disabled` (by the account, or after its deliveries kept failing for
     * `APINFER_WEBHOOK_DISABLE_AFTER_SECONDS`, three days by default).
     */
    status: WebhookEndpointStatus;
    updated_at: string;
    url: string;
}
