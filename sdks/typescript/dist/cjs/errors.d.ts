/**
 * The errors the apinfer SDK throws. Every error response is an {@link APIStatusError} subclass
 * chosen by the error's `type` (then by status), carrying `status`, `type`, `code`, `message`,
 * `param` and `requestId`; network failures are {@link APIConnectionError}.
 */
/** The base of every error this SDK throws. */
export declare class ApinferError extends Error {
    constructor(message: string);
}
/** A request that did not produce a successful response. */
export declare class APIError extends ApinferError {
}
/** The server could not be reached, or the connection failed mid-request. */
export declare class APIConnectionError extends APIError {
    constructor(message?: string, options?: {
        cause?: unknown;
    });
}
/** The request timed out. */
export declare class APITimeoutError extends APIConnectionError {
    constructor(message?: string);
}
/** The `error` object of an error response. */
export interface ErrorDetailBody {
    type?: string;
    code?: string;
    message?: string;
    param?: string | null;
    request_id?: string;
}
/** The API answered with an error status (4xx or 5xx). */
export declare class APIStatusError extends APIError {
    /** The HTTP status code. */
    readonly status: number;
    /** The contract's error `type` (`insufficient_credits`, ...). */
    readonly type: string | undefined;
    /** The finer reason (`card_declined`, ...). */
    readonly code: string | undefined;
    /** The request field at fault, when there is one. */
    readonly param: string | null | undefined;
    /** The request's id (`req_...`), for support. */
    readonly requestId: string | undefined;
    /** The response headers. */
    readonly headers: Headers | undefined;
    /** The decoded response body. */
    readonly body: unknown;
    constructor(message: string, init: {
        status: number;
        type?: string;
        code?: string;
        param?: string | null;
        requestId?: string;
        headers?: Headers;
        body?: unknown;
    });
    /** Alias of {@link status}, for code shared with the Python SDK. */
    get statusCode(): number;
}
/** 400 (or 413): the request is invalid (`invalid_request`). */
export declare class BadRequestError extends APIStatusError {
}
/** 401: the API key or token is missing, invalid, expired or revoked. */
export declare class AuthenticationError extends APIStatusError {
}
/** 403: the key lacks the scope, or the user the role. */
export declare class PermissionDeniedError extends APIStatusError {
}
/** 404: no such resource (or not visible to this account). */
export declare class NotFoundError extends APIStatusError {
}
/** 409: the request conflicts with the current state. */
export declare class ConflictError extends APIStatusError {
}
/** 409 `idempotency_conflict`: the key was used with another request, or is still in flight. */
export declare class IdempotencyConflictError extends ConflictError {
}
/** 402 `insufficient_credits`: not enough available credits (or a key's spend limit). */
export declare class InsufficientCreditsError extends APIStatusError {
}
/** 402 `payment_failed`: the payment was declined (`code` says why). */
export declare class PaymentFailedError extends APIStatusError {
}
/** 422: well-formed but refused (e.g. `refund_window_expired`). */
export declare class UnprocessableEntityError extends APIStatusError {
}
/** 429: rate limited, after the SDK's own retries. */
export declare class RateLimitError extends APIStatusError {
}
/** 5xx: the server failed. */
export declare class InternalServerError extends APIStatusError {
}
/** 502 `upstream_error`: the image provider failed; nothing was charged. */
export declare class UpstreamError extends InternalServerError {
}
/** 503 `unavailable`: the service is temporarily unavailable. */
export declare class ServiceUnavailableError extends InternalServerError {
}
/** The typed error for an error response. */
export declare function makeStatusError(status: number, body: unknown, headers: Headers | undefined): APIStatusError;
