import { APIClient, type ClientOptions } from "./core.js";
import * as resources from "./resources.js";
/**
 * The apinfer client.
 *
 * ```ts
 * const client = new Apinfer({ apiKey: process.env.APINFER_API_KEY, baseURL: "http://localhost:8080" });
 * const balance = await client.balance.retrieve();
 * ```
 */
export declare class Apinfer extends APIClient {
    /** Sign up and log in */
    readonly auth: resources.AuthResource;
    /** The caller: user, account, role, memberships */
    readonly me: resources.MeResource;
    /** The account the caller acts for */
    readonly account: resources.AccountResource;
    /** Members of family and business accounts */
    readonly members: resources.MembersResource;
    /** API keys */
    readonly apiKeys: resources.ApiKeysResource;
    /** Who did what to the account, and when */
    readonly audit: resources.AuditResource;
    /** Where the account's events are sent, signed, with a delivery log */
    readonly webhookEndpoints: resources.WebhookEndpointsResource;
    /** What happened to the account: generations, purchases, refunds, alerts, top-ups, keys */
    readonly events: resources.EventsResource;
    /** Credit packages on sale */
    readonly packages: resources.PackagesResource;
    /** Image models and their prices (OpenAI-compatible listing) */
    readonly models: resources.ModelsResource;
    /** Price quotes */
    readonly pricing: resources.PricingResource;
    /** The credit balance */
    readonly balance: resources.BalanceResource;
    /** The credit ledger */
    readonly transactions: resources.TransactionsResource;
    /** Image generations, charged per model, quality and count */
    readonly generations: resources.GenerationsResource;
    /** OpenAI-compatible image generation */
    readonly images: resources.ImagesResource;
    /** Usage analytics */
    readonly usage: resources.UsageResource;
    /** Low-balance and automatic top-up notifications */
    readonly notifications: resources.NotificationsResource;
    /** Low-balance alerts and automatic top-up */
    readonly settings: resources.SettingsResource;
    /** Buying credit packages, and refunds of unused credits */
    readonly purchases: resources.PurchasesResource;
    /** Refunds of unused credits */
    readonly refunds: resources.RefundsResource;
    /** Saved cards */
    readonly paymentMethods: resources.PaymentMethodsResource;
    /** apinfer administration */
    readonly admin: resources.AdminResource;
    /** Health, readiness, metrics, this document */
    readonly operations: resources.OperationsResource;
    constructor(options?: ClientOptions);
}
export default Apinfer;
