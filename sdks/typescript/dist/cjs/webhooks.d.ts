/**
 * Verifying the webhooks an endpoint receives. Each delivery is signed:
 * `Apinfer-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`, with one `v1`
 * per secret (two while a rotated secret is in its grace period). Uses Web Crypto, so it runs in
 * Node 18+ and browsers alike.
 *
 * ```ts
 * import { constructEvent } from "apinfer";
 * const event = await constructEvent(rawBody, req.headers["apinfer-signature"], "whsec_...");
 * ```
 */
/** How far a signature's timestamp may be from now, in seconds. */
export declare const TOLERANCE_SECONDS = 300;
/** The signature is missing, malformed, stale, or made with another secret. */
export declare class WebhookVerificationError extends Error {
    readonly name = "WebhookVerificationError";
}
/** Options of {@link verifySignature}. */
export interface VerifyOptions {
    /** Seconds a timestamp may be from now (default 300). */
    tolerance?: number;
    /** Now, in unix seconds (default the clock). */
    now?: number;
}
/**
 * Checks `header` (the `Apinfer-Signature` value) against the raw `payload` with `secret` (or
 * any of several); rejects with {@link WebhookVerificationError}.
 */
export declare function verifySignature(payload: string | Uint8Array, header: string | null | undefined, secret: string | string[], opts?: VerifyOptions): Promise<void>;
/** An event as a webhook delivers it (and `GET /v1/events/{id}` shows it). */
export interface WebhookEvent {
    id: string;
    type: string;
    created: number;
    data: Record<string, unknown>;
}
/** Verifies a delivery (see {@link verifySignature}) and answers its event. */
export declare function constructEvent(payload: string | Uint8Array, header: string | null | undefined, secret: string | string[], opts?: VerifyOptions): Promise<WebhookEvent>;
