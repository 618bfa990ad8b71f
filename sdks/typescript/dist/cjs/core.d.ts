/**
 * The HTTP machinery under {@link Apinfer}: auth, retries, idempotency keys, errors, pages.
 *
 * Retries: connection errors, 408, 409 `request_in_progress` (an idempotent request still in
 * flight), 429 and 5xx are retried up to `maxRetries` times with exponential backoff and jitter,
 * waiting what `Retry-After` asks when the server says. Requests that are not safe to repeat (a
 * POST without an idempotency key) are retried only after a 429, which the server answers before
 * doing anything. Every call to an operation that honours `Idempotency-Key` sends one, generated
 * once per call and reused by all its retries.
 */
/** An exact decimal as a string (`"1.75"`): credits are never JavaScript numbers. */
export type Decimal = string & {
    readonly __decimal?: "Decimal";
};
/** Options of {@link Apinfer}'s constructor. */
export interface ClientOptions {
    /** An API key (`sk_...`) or session token; default `process.env.APINFER_API_KEY`. */
    apiKey?: string | null | undefined;
    /** The server; default `process.env.APINFER_BASE_URL`, else `http://localhost:8080`. */
    baseURL?: string | undefined;
    /** Milliseconds before a request times out (default 60000). */
    timeout?: number | undefined;
    /** Retries of failed requests (default 2). */
    maxRetries?: number | undefined;
    /** Headers sent with every request. */
    defaultHeaders?: Record<string, string> | undefined;
    /** The `fetch` to use (default: the global one). */
    fetch?: typeof fetch | undefined;
    /**
     * Authenticate with the dashboard's session cookie instead of a token: for a web page served
     * by the apinfer server itself, logged in with `auth.createSession`. The page never sees the
     * token (the cookie is HttpOnly); requests go with the browser's same-origin credentials.
     */
    cookieSession?: boolean | undefined;
}
/** Per-call options, the last argument of every method. */
export interface RequestOptions {
    /** The `Idempotency-Key` to send (operations that honour one get a generated key otherwise). */
    idempotencyKey?: string | undefined;
    /** Milliseconds before this call times out. */
    timeout?: number | undefined;
    /** Retries of this call. */
    maxRetries?: number | undefined;
    /** Extra headers. */
    headers?: Record<string, string> | undefined;
    /** Aborts the call. */
    signal?: AbortSignal | undefined;
}
/** How a success response is decoded. */
export type ResponseKind = "json" | "text" | "binary" | "empty";
/** One API call, as the generated methods describe it. */
export interface Call {
    method: string;
    path: string;
    query?: Record<string, unknown>;
    headers?: Record<string, string | null | undefined>;
    body?: unknown;
    auth: boolean;
    idempotent: boolean;
    response: ResponseKind;
}
/** Encodes a path parameter. */
export declare function pathParam(value: string | number): string;
/** The transport shared by the resources. */
export declare class APIClient {
    /** The API key or session token sent as `Authorization: Bearer`. */
    apiKey: string | null;
    /** The server's base URL. */
    baseURL: string;
    /** Default timeout in milliseconds. */
    timeout: number;
    /** Default number of retries. */
    maxRetries: number;
    private readonly defaultHeaders;
    private readonly fetchImpl;
    private readonly cookieSession;
    constructor(options?: ClientOptions);
    /** The `User-Agent` sent with every request. */
    get userAgent(): string;
    private buildURL;
    private buildHeaders;
    private static shouldRetry;
    private static backoff;
    /** Sends a call, retrying as the module doc says, and decodes its success response. */
    request<T>(call: Call, options?: RequestOptions): Promise<T>;
    private static decode;
    /** A list call: await it for the first page, or `for await` over every item. */
    page<T>(call: Call, options?: RequestOptions): PagePromise<T>;
}
/** One page of a list; `for await` over it walks this page and every later one. */
export declare class Page<T> implements AsyncIterable<T> {
    private readonly client;
    private readonly call;
    private readonly options;
    /** This page's items. */
    readonly data: T[];
    /** Whether another page follows. */
    readonly has_more: boolean;
    /** The cursor of the next page. */
    readonly next_cursor: string | null;
    private constructor();
    /** Fetches one page. */
    static fetch<T>(client: APIClient, call: Call, options: RequestOptions): Promise<Page<T>>;
    /** Whether another page follows. */
    hasNextPage(): boolean;
    /** Fetches the page after this one. */
    getNextPage(): Promise<Page<T>>;
    /** This page, then each following page. */
    iterPages(): AsyncGenerator<Page<T>, void, undefined>;
    [Symbol.asyncIterator](): AsyncIterator<T>;
}
/** What list methods return: a promise of the first page that is also an async iterable of every item. */
export declare class PagePromise<T> implements PromiseLike<Page<T>>, AsyncIterable<T> {
    private readonly fetchFirst;
    private promise;
    constructor(fetchFirst: () => Promise<Page<T>>);
    private first;
    then<R1 = Page<T>, R2 = never>(onfulfilled?: ((value: Page<T>) => R1 | PromiseLike<R1>) | null, onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null): Promise<R1 | R2>;
    [Symbol.asyncIterator](): AsyncIterator<T>;
}
