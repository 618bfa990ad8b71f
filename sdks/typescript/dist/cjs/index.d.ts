/**
 * The apinfer SDK for TypeScript and JavaScript (ESM, no runtime dependencies, Node 18+).
 *
 * ```ts
 * import { Apinfer } from "apinfer";
 * const client = new Apinfer();
 * for await (const tx of client.transactions.list()) console.log(tx.credits);
 * ```
 */
export { Apinfer, Apinfer as default } from "./client.js";
export { APIClient, Page, PagePromise } from "./core.js";
export type { Call, ClientOptions, Decimal, RequestOptions, ResponseKind } from "./core.js";
export * from "./errors.js";
export type * from "./types.js";
export * from "./resources.js";
export { VERSION } from "./version.js";
export { TOLERANCE_SECONDS, WebhookVerificationError, constructEvent, verifySignature } from "./webhooks.js";
export type { VerifyOptions, WebhookEvent } from "./webhooks.js";
