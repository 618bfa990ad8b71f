/** The API's resources (one per tag of the OpenAPI document) and their methods. */
import type { APIClient, PagePromise, RequestOptions } from "./core.js";
import type * as types from "./types.js";
/** The base of the resource classes. */
export declare class APIResource {
    protected readonly _client: APIClient;
    constructor(_client: APIClient);
}
/** Sign up and log in */
export declare class AuthResource extends APIResource {
    /**
     * Exchange email and password for a session token.
     */
    login(body: types.LoginRequest, options?: RequestOptions): Promise<types.LoginResponse>;
    /**
     * Log out: end this session. Its token stops working at once (a session token, not an API
     * key; revoke keys with `DELETE /v1/api-keys/{id}`).
     */
    logout(options?: RequestOptions): Promise<types.LogoutResponse>;
    /**
     * Log out everywhere: end every session of this user, in every account, this one included.
     */
    logoutAll(options?: RequestOptions): Promise<types.LogoutResponse>;
    /**
     * Is this browser signed in? Answers 200 either way (a page that starts signed out need not
     * provoke a 401 to find out); the session itself stays in its HttpOnly cookie.
     */
    retrieveSession(options?: RequestOptions): Promise<types.SessionStatusView>;
    /**
     * Log in to the dashboard: like `POST /v1/auth/login`, but the session token is set as an
     * HttpOnly, SameSite=Strict cookie (`apinfer_session`, path `/v1`, Secure over HTTPS) that page
     * scripts cannot read, and is not in the body. Requests with the cookie that change state must
     * come from this server's own origin (`Origin`), else 403 `cross_site_request`. Scripts and
     * servers use `POST /v1/auth/login` and `Authorization: Bearer` instead.
     */
    createSession(body: types.LoginRequest, options?: RequestOptions): Promise<types.CookieSessionView>;
    /**
     * Create a user with a personal account, and log them in.
     */
    signup(body: types.SignupRequest, options?: RequestOptions): Promise<types.SignupResponse>;
    /**
     * Switch the dashboard session to another of the user's accounts (the account switcher): ends
     * this session and sets a new cookie for `account_id`. Needs the session cookie.
     */
    switchAccount(body: types.SwitchAccountRequest, options?: RequestOptions): Promise<types.CookieSessionView>;
}
/** The caller: user, account, role, memberships */
export declare class MeResource extends APIResource {
    /**
     * Who am I: the user, the account the token acts for, and all the user's accounts.
     */
    retrieve(options?: RequestOptions): Promise<types.MeView>;
}
/** The account the caller acts for */
export declare class AccountResource extends APIResource {
    /**
     * The account the token acts for.
     */
    retrieve(options?: RequestOptions): Promise<types.AccountView>;
}
/** Parameters of `members.list()`. */
export interface MembersListParams {
    /** Items per page, 1–100 (default 20). */
    limit?: number;
    /** `next_cursor` of the previous page; a cursor that names no item of this list answers 404. */
    cursor?: string;
}
/** Members of family and business accounts */
export declare class MembersResource extends APIResource {
    /**
     * The account's members (owner or admin session).
     *
     * Await it for the first page, or `for await` over every item of every page.
     */
    list(params?: MembersListParams, options?: RequestOptions): PagePromise<types.MemberView>;
    /**
     * Add an existing user to a family or business account (owner or admin session).
     */
    create(body: types.AddMemberRequest, options?: RequestOptions): Promise<types.MemberView>;
    /**
     * Remove a member (owner or admin session); the owner cannot be removed.
     * Their sessions for this account end at once, and the API keys they made in it are
     * revoked (keys act with their creator's standing, which leaves with them).
     */
    delete(userId: string, options?: RequestOptions): Promise<types.MemberView>;
}
/** Parameters of `apiKeys.list()`. */
export interface ApiKeysListParams {
    /** Items per page, 1–100 (default 20). */
    limit?: number;
    /** `next_cursor` of the previous page; a cursor that names no item of this list answers 404. */
    cursor?: string;
}
/** API keys */
export declare class ApiKeysResource extends APIResource {
    /**
     * List the account's live API keys (never their secrets).
     *
     * Await it for the first page, or `for await` over every item of every page.
     */
    list(params?: ApiKeysListParams, options?: RequestOptions): PagePromise<types.ApiKeyView>;
    /**
     * Create an API key (owner or admin session).
     */
    create(body: types.CreateApiKeyRequest, options?: RequestOptions): Promise<types.CreatedApiKey>;
    /**
     * The API key this request is made with: its scopes, its spend limit and what it has spent,
     * and what it can still spend once the account's credits and its creator's monthly limit are
     * counted. Any live key may ask, whatever its scopes.
     */
    current(options?: RequestOptions): Promise<types.CurrentApiKey>;
    /**
     * Revoke an API key; it stops working at once.
     */
    revoke(id: string, options?: RequestOptions): Promise<types.ApiKeyView>;
}
/** Parameters of `audit.eventsList()`. */
export interface AuditEventsListParams {
    /** Only records of this action. */
    action?: types.AuditAction;
    /** Items per page, 1–100 (default 20). */
    limit?: number;
    /** `next_cursor` of the previous page; a cursor that names no item of this list answers 404. */
    cursor?: string;
}
/** Who did what to the account, and when */
export declare class AuditResource extends APIResource {
    /**
     * The account's audit trail, newest first (owner or admin session): keys created and revoked,
     * members added and removed, settings changed, cards saved and removed, refunds requested,
     * admin adjustments, sessions revoked.
     *
     * Await it for the first page, or `for await` over every item of every page.
     */
    eventsList(params?: AuditEventsListParams, options?: RequestOptions): PagePromise<types.AuditEventView>;
}
/** Parameters of `webhookEndpoints.list()`. */
export interface WebhookEndpointsListParams {
    /** Items per page, 1–100 (default 20). */
    limit?: number;
    /** `next_cursor` of the previous page; a cursor that names no item of this list answers 404. */
    cursor?: string;
}
/** Parameters of `webhookEndpoints.listDeliveries()`. */
export interface WebhookEndpointsListDeliveriesParams {
    /** Items per page, 1–100 (default 20). */
    limit?: number;
    /** `next_cursor` of the previous page; a cursor that names no item of this list answers 404. */
    cursor?: string;
}
/** Where the account's events are sent, signed, with a delivery log */
export declare class WebhookEndpointsResource extends APIResource {
    /**
     * The account's webhook endpoints (owner or admin session).
     *
     * Await it for the first page, or `for await` over every item of every page.
     */
    list(params?: WebhookEndpointsListParams, options?: RequestOptions): PagePromise<types.WebhookEndpointView>;
    /**
     * Create a webhook endpoint (owner or admin session); its secret is shown once.
     */
    create(body: types.CreateWebhookEndpointRequest, options?: RequestOptions): Promise<types.WebhookEndpointWithSecret>;
    /**
     * One webhook endpoint (owner or admin session).
     */
    retrieve(id: string, options?: RequestOptions): Promise<types.WebhookEndpointView>;
    /**
     * Change a webhook endpoint (owner or admin session): its URL, event types, description, or
     * status (enabling a disabled endpoint resumes its waiting deliveries).
     */
    update(id: string, body: types.UpdateWebhookEndpointRequest, options?: RequestOptions): Promise<types.WebhookEndpointView>;
    /**
     * Delete a webhook endpoint (owner or admin session); its waiting deliveries are given up.
     */
    delete(id: string, options?: RequestOptions): Promise<types.WebhookEndpointView>;
    /**
     * An endpoint's deliveries, newest first, each with its attempts: status, response code and
     * duration (owner or admin session).
     *
     * Await it for the first page, or `for await` over every item of every page.
     */
    listDeliveries(id: string, params?: WebhookEndpointsListDeliveriesParams, options?: RequestOptions): PagePromise<types.WebhookDeliveryView>;
    /**
     * Send a delivery again, whatever became of it (owner or admin session): it is due at once.
     */
    retryDelivery(id: string, deliveryId: string, options?: RequestOptions): Promise<types.WebhookDeliveryView>;
    /**
     * Give a webhook endpoint a new secret (owner or admin session), shown once. The previous one
     * keeps signing for the grace period: deliveries meanwhile carry two `v1` signatures, so a
     * receiver can switch secrets without missing one.
     */
    rotateSecret(id: string, body: types.RotateWebhookSecretRequest, options?: RequestOptions): Promise<types.WebhookEndpointWithSecret>;
}
/** Parameters of `events.list()`. */
export interface EventsListParams {
    /** Only events of this type. */
    type?: types.EventType;
    /** Only events created at or after this time (RFC 3339). */
    created_gte?: string | Date;
    /** Only events created before this time (RFC 3339). */
    created_lt?: string | Date;
    /** Items per page, 1–100 (default 20). */
    limit?: number;
    /** `next_cursor` of the previous page; a cursor that names no item of this list answers 404. */
    cursor?: string;
}
/** What happened to the account: generations, purchases, refunds, alerts, top-ups, keys */
export declare class EventsResource extends APIResource {
    /**
     * The account's events, newest first (scope `usage:read`).
     *
     * Await it for the first page, or `for await` over every item of every page.
     */
    list(params?: EventsListParams, options?: RequestOptions): PagePromise<types.EventView>;
    /**
     * One event (scope `usage:read`).
     */
    retrieve(id: string, options?: RequestOptions): Promise<types.EventView>;
}
/** Credit packages on sale */
export declare class PackagesResource extends APIResource {
    /**
     * The credit packages on sale.
     */
    list(options?: RequestOptions): Promise<types.PackageList>;
}
/** Image models and their prices (OpenAI-compatible listing) */
export declare class ModelsResource extends APIResource {
    /**
     * The image models and their prices.
     */
    list(options?: RequestOptions): Promise<types.ModelList>;
    /**
     * One image model, by id (OpenAI's `models.retrieve` too).
     */
    retrieve(id: string, options?: RequestOptions): Promise<types.ModelView>;
}
/** Parameters of `pricing.quote()`. */
export interface PricingQuoteParams {
    /** Model id, e.g. `qwen-image`. */
    model: string;
    /** `standard` (default), `high` (or `hd`) or `ultra`. */
    quality?: types.QualityInput;
    /** Number of images, 1–10 (default 1). */
    n?: number;
}
/** Price quotes */
export declare class PricingResource extends APIResource {
    /**
     * Price a generation without making it.
     */
    quote(params: PricingQuoteParams, options?: RequestOptions): Promise<types.QuoteView>;
}
/** The credit balance */
export declare class BalanceResource extends APIResource {
    /**
     * The account's balance (scope `balance:read`).
     */
    retrieve(options?: RequestOptions): Promise<types.BalanceView>;
}
/** Parameters of `transactions.list()`. */
export interface TransactionsListParams {
    /** Only entries of this type. */
    type?: types.TransactionType;
    /** Only entries at or after this time (RFC 3339). */
    from?: string | Date;
    /** Only entries before this time (RFC 3339). */
    to?: string | Date;
    /** Items per page, 1–100 (default 20). */
    limit?: number;
    /** `next_cursor` of the previous page; a cursor that names no item of this list answers 404. */
    cursor?: string;
}
/** The credit ledger */
export declare class TransactionsResource extends APIResource {
    /**
     * The account's ledger, newest first (scope `usage:read`). The entries sum to the balance.
     *
     * Await it for the first page, or `for await` over every item of every page.
     */
    list(params?: TransactionsListParams, options?: RequestOptions): PagePromise<types.TransactionView>;
}
/** Parameters of `generations.list()`. */
export interface GenerationsListParams {
    /** Only this model's generations. */
    model?: string;
    /** Items per page, 1–100 (default 20). */
    limit?: number;
    /** `next_cursor` of the previous page; a cursor that names no item of this list answers 404. */
    cursor?: string;
}
/** Parameters of `generations.create()`. */
export interface GenerationsCreateParams {
    /** Whether to answer once it is done (the default); false queues it and answers at once (202, `Prefer: respond-async`): follow it with `wait_for`, the events, or a webhook endpoint. */
    wait?: boolean;
}
/** Parameters of `generations.downloadImage()`. */
export interface GenerationsDownloadImageParams {
    /** When the URL stops working (unix seconds), as the generation gave it. */
    expires?: number;
    /** The URL's signature, as the generation gave it. */
    signature?: string;
}
/** Image generations, charged per model, quality and count */
export declare class GenerationsResource extends APIResource {
    /**
     * The account's generations, newest first (scope `generations:write` or `usage:read`).
     *
     * Await it for the first page, or `for await` over every item of every page.
     */
    list(params?: GenerationsListParams, options?: RequestOptions): PagePromise<types.GenerationView>;
    /**
     * Generate images (scope `generations:write`; honours `Idempotency-Key`).
     * The cost (`credits_per_image × quality multiplier × n`) is held before the provider is
     * called, charged when the images exist, and released if the provider fails (502
     * `upstream_error` with the `generation_id`; nothing charged). `X-Credits-Charged` gives what
     * was charged.
     *
     * With `Prefer: respond-async` (RFC 7240) the answer is 202 at once, with the generation
     * `queued` and its cost held (`credits_held`) and `Location` naming it; a worker then runs it
     * (`processing`, then `succeeded`, `failed` or `canceled`): follow it with `GET
     * /v1/generations/{id}`, the `generation.*` events, or a webhook endpoint. How many run at once,
     * in total and per account, is bounded by configuration; past the bound a generation waits in
     * the queue. Queued work survives a restart of the server.
     *
     * Sends an `Idempotency-Key` (generated unless `options.idempotencyKey` is given), reused by retries.
     */
    create(body: types.CreateGenerationRequest, params?: GenerationsCreateParams, options?: RequestOptions): Promise<types.GenerationView>;
    /**
     * One generation (scope `generations:write` or `usage:read`).
     */
    retrieve(id: string, options?: RequestOptions): Promise<types.GenerationView>;
    /**
     * Cancel an asynchronous generation (scope `generations:write`; idempotent).
     * A generation that has not finished stops: its hold is released (nothing is charged) and it
     * ends `canceled`; a provider call in flight is abandoned and its result not charged. A
     * generation that already finished is answered as it is, so check `status`: exactly one of
     * the cancel and the outcome it was racing wins.
     */
    cancel(id: string, options?: RequestOptions): Promise<types.GenerationView>;
    /**
     * Download one image of a generation (its bytes, `image/png` from the local renderer).
     * Either with the `Authorization` header (scope `generations:write` or `usage:read`), or
     * through the signed URL a generation gives, which needs no header until it expires.
     *
     * Resolves to the raw bytes (image/png).
     */
    downloadImage(id: string, index: number, params?: GenerationsDownloadImageParams, options?: RequestOptions): Promise<Uint8Array>;
    /**
     * Polls a generation until it has finished (`succeeded`, `failed` or `canceled`) and answers
     * it: first after `pollIntervalMs`, then each wait half as long again, up to
     * `maxPollIntervalMs`. Rejects after `timeoutMs`.
     */
    waitFor(id: string, opts?: {
        timeoutMs?: number;
        pollIntervalMs?: number;
        maxPollIntervalMs?: number;
    }): Promise<types.GenerationView>;
}
/** OpenAI-compatible image generation */
export declare class ImagesResource extends APIResource {
    /**
     * Generate images, OpenAI style (scope `generations:write`; honours `Idempotency-Key`).
     *
     * Sends an `Idempotency-Key` (generated unless `options.idempotencyKey` is given), reused by retries.
     */
    generate(body: types.OpenAiImageRequest, options?: RequestOptions): Promise<types.OpenAiImagesResponse>;
}
/** Parameters of `usage.retrieve()`. */
export interface UsageRetrieveParams {
    /** First day included (`YYYY-MM-DD`; an RFC 3339 time is accepted too, for its UTC day); default 30 days ago. */
    from?: string;
    /** First day excluded (`YYYY-MM-DD`, or RFC 3339); default tomorrow (so today is included). */
    to?: string;
    /** `model` (default), `day`, `api_key` or `member`. */
    group_by?: types.GroupBy;
    /** For the export: `csv` (the only format). */
    format?: types.ExportFormat;
}
/** Parameters of `usage.export()`. */
export interface UsageExportParams {
    /** First day included (`YYYY-MM-DD`; an RFC 3339 time is accepted too, for its UTC day); default 30 days ago. */
    from?: string;
    /** First day excluded (`YYYY-MM-DD`, or RFC 3339); default tomorrow (so today is included). */
    to?: string;
    /** `model` (default), `day`, `api_key` or `member`. */
    group_by?: types.GroupBy;
    /** For the export: `csv` (the only format). */
    format?: types.ExportFormat;
}
/** Usage analytics */
export declare class UsageResource extends APIResource {
    /**
     * Usage per model, day, API key or member (scope `usage:read`).
     */
    retrieve(params?: UsageRetrieveParams, options?: RequestOptions): Promise<types.UsageReport>;
    /**
     * The same rows as `/v1/usage`, as CSV with a header row (scope `usage:read`).
     */
    export(params?: UsageExportParams, options?: RequestOptions): Promise<string>;
}
/** Parameters of `notifications.list()`. */
export interface NotificationsListParams {
    /** Items per page, 1–100 (default 20). */
    limit?: number;
    /** `next_cursor` of the previous page; a cursor that names no item of this list answers 404. */
    cursor?: string;
}
/** Low-balance and automatic top-up notifications */
export declare class NotificationsResource extends APIResource {
    /**
     * The account's notifications, newest first (scope `usage:read`).
     *
     * Await it for the first page, or `for await` over every item of every page.
     */
    list(params?: NotificationsListParams, options?: RequestOptions): PagePromise<types.NotificationView>;
}
/** Low-balance alerts and automatic top-up */
export declare class SettingsResource extends APIResource {
    /**
     * The automatic top-up settings (off, with nothing chosen, until set).
     */
    retrieveAutoTopup(options?: RequestOptions): Promise<types.AutoTopupView>;
    /**
     * Set automatic top-up: when `available` drops below the threshold, the package is bought
     * with the saved card, one at a time per account, at most `max_topups_per_day`; every
     * outcome is a notification.
     */
    updateAutoTopup(body: types.AutoTopupSettings, options?: RequestOptions): Promise<types.AutoTopupSettings>;
    /**
     * The low-balance alert settings.
     */
    retrieveLowBalanceAlert(options?: RequestOptions): Promise<types.LowBalanceAlertView>;
    /**
     * Set the low-balance alert: one `low_balance` notification (and `balance.low` webhook) per
     * downward crossing of the threshold by `available`.
     */
    updateLowBalanceAlert(body: types.LowBalanceAlertRequest, options?: RequestOptions): Promise<types.LowBalanceAlertView>;
}
/** Parameters of `purchases.list()`. */
export interface PurchasesListParams {
    /** Items per page, 1–100 (default 20). */
    limit?: number;
    /** `next_cursor` of the previous page; a cursor that names no item of this list answers 404. */
    cursor?: string;
}
/** Buying credit packages, and refunds of unused credits */
export declare class PurchasesResource extends APIResource {
    /**
     * The account's purchases, newest first (scope `usage:read` or `purchases:write`).
     *
     * Await it for the first page, or `for await` over every item of every page.
     */
    list(params?: PurchasesListParams, options?: RequestOptions): PagePromise<types.PurchaseView>;
    /**
     * Buy a credit package (scope `purchases:write`; honours `Idempotency-Key`).
     * Cards are charged at once and the credits are on the balance before the response; a card
     * that needs 3-D Secure, and Alipay/WeChat Pay, answer `requires_action` with a `next_action`;
     * bank transfers answer `pending` with transfer instructions. Those are credited when the
     * payment is confirmed. A body carrying a card number or CVC answers 400
     * `card_data_not_accepted`.
     *
     * Sends an `Idempotency-Key` (generated unless `options.idempotencyKey` is given), reused by retries.
     */
    create(body: types.CreatePurchaseRequest, options?: RequestOptions): Promise<types.PurchaseView>;
    /**
     * One purchase (scope `usage:read` or `purchases:write`).
     */
    retrieve(id: string, options?: RequestOptions): Promise<types.PurchaseView>;
    /**
     * Refund a purchase's unused credits (owner/admin session or `purchases:write`; honours
     * `Idempotency-Key`). The credits leave the balance at once; the money follows within 5
     * business days, at the price paid per credit. Within 30 days of the purchase only.
     *
     * Sends an `Idempotency-Key` (generated unless `options.idempotencyKey` is given), reused by retries.
     */
    refund(id: string, options?: RequestOptions): Promise<types.RefundView>;
}
/** Parameters of `refunds.list()`. */
export interface RefundsListParams {
    /** Items per page, 1–100 (default 20). */
    limit?: number;
    /** `next_cursor` of the previous page; a cursor that names no item of this list answers 404. */
    cursor?: string;
}
/** Refunds of unused credits */
export declare class RefundsResource extends APIResource {
    /**
     * The account's refunds, newest first (scope `usage:read` or `purchases:write`).
     *
     * Await it for the first page, or `for await` over every item of every page.
     */
    list(params?: RefundsListParams, options?: RequestOptions): PagePromise<types.RefundView>;
}
/** Parameters of `paymentMethods.list()`. */
export interface PaymentMethodsListParams {
    /** Items per page, 1–100 (default 20). */
    limit?: number;
    /** `next_cursor` of the previous page; a cursor that names no item of this list answers 404. */
    cursor?: string;
}
/** Saved cards */
export declare class PaymentMethodsResource extends APIResource {
    /**
     * The account's saved cards.
     *
     * Await it for the first page, or `for await` over every item of every page.
     */
    list(params?: PaymentMethodsListParams, options?: RequestOptions): PagePromise<types.PaymentMethodView>;
    /**
     * Save a card (owner/admin session or `purchases:write`).
     */
    create(body: types.CreatePaymentMethodRequest, options?: RequestOptions): Promise<types.PaymentMethodView>;
    /**
     * Forget a saved card.
     */
    delete(id: string, options?: RequestOptions): Promise<types.PaymentMethodView>;
    /**
     * Which payment provider takes the money, and what a browser needs to collect a card for it
     * (public). Cards reach apinfer only as that provider's tokens.
     */
    paymentProviderRetrieve(options?: RequestOptions): Promise<types.PaymentProviderView>;
}
/** apinfer administration */
export declare class AdminResource extends APIResource {
    /**
     * Change an account's type (family/business accounts are "available upon request").
     */
    updateAccount(id: string, body: types.UpdateAccountRequest, options?: RequestOptions): Promise<types.AccountView>;
    /**
     * Add or remove credits with a reason (ledger type `adjustment`; honours `Idempotency-Key`).
     * Adjustments are not purchase lots: they are never refundable.
     *
     * Sends an `Idempotency-Key` (generated unless `options.idempotencyKey` is given), reused by retries.
     */
    createAdjustment(id: string, body: types.AdjustmentRequest, options?: RequestOptions): Promise<types.TransactionView>;
    /**
     * All models, including inactive ones.
     */
    listModels(options?: RequestOptions): Promise<types.ModelList>;
    /**
     * Add a model.
     */
    createModel(body: types.CreateModelRequest, options?: RequestOptions): Promise<types.ModelView>;
    /**
     * Change a model's name, tier, price, sizes or availability.
     */
    updateModel(id: string, body: types.UpdateModelRequest, options?: RequestOptions): Promise<types.ModelView>;
    /**
     * All packages, including inactive ones.
     */
    listPackages(options?: RequestOptions): Promise<types.PackageList>;
    /**
     * Add a package.
     */
    createPackage(body: types.CreatePackageRequest, options?: RequestOptions): Promise<types.PackageView>;
    /**
     * Change a package.
     */
    updatePackage(id: string, body: types.UpdatePackageRequest, options?: RequestOptions): Promise<types.PackageView>;
    /**
     * Confirm that a bank transfer (or wallet payment) arrived: credits the purchase, once.
     * Confirming a purchase already credited changes nothing.
     */
    confirmPurchase(id: string, options?: RequestOptions): Promise<types.PurchaseView>;
    /**
     * Mark a refund's money as arrived at the customer (`succeeded`).
     */
    completeRefund(id: string, options?: RequestOptions): Promise<types.RefundView>;
}
/** Health, readiness, metrics, this document */
export declare class OperationsResource extends APIResource {
    /**
     * Whether the process is up.
     */
    health(options?: RequestOptions): Promise<string>;
    /**
     * Prometheus metrics (OpenMetrics text): requests and latencies by route and status class,
     * credits moved, group commit.
     * With `APINFER_METRICS_TOKEN` set (required in production) it answers only
     * `Authorization: Bearer <that token>`; in development without one it is open.
     */
    metrics(options?: RequestOptions): Promise<string>;
    /**
     * This API's OpenAPI 3.1 document, as YAML (JSON at `/openapi.json`).
     */
    openapi(options?: RequestOptions): Promise<string>;
    /**
     * Whether the database answers.
     */
    readiness(options?: RequestOptions): Promise<string>;
}
