// The one SDK client of the dashboard. It authenticates with the HttpOnly session cookie set
// by `auth.createSession`: no token ever reaches page scripts or web storage.
import { APIConnectionError, APIStatusError, Apinfer } from "apinfer";
import type { Translate } from "./i18n";

/** Fired on `window` when a signed-in call answers 401: the session has ended. */
export const SESSION_ENDED = "apinfer:session-ended";

// The SDK calls its `fetch` as a method of the client; the browser's `fetch` must be called on
// `window`, so it is wrapped. The wrapper also notices a session that ended (401 outside /auth).
const browserFetch: typeof fetch = async (input, init) => {
  const response = await window.fetch(input, { ...init, credentials: "same-origin" });
  const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  if (response.status === 401 && !new URL(url, location.origin).pathname.startsWith("/v1/auth/")) {
    window.dispatchEvent(new Event(SESSION_ENDED));
  }
  return response;
};

// Sends no cookie: used only to end the stray bearer session a signup answers with.
const tokenFetch: typeof fetch = (input, init) => window.fetch(input, { ...init, credentials: "omit" });

export const client = new Apinfer({ baseURL: location.origin, cookieSession: true, maxRetries: 1, fetch: browserFetch });

/** Creates a user, logs them in with a cookie session, and ends the signup's token session. */
export async function signUp(email: string, password: string, name: string): Promise<void> {
  const created = await client.auth.signup({ email, password, name });
  try {
    await client.auth.createSession({ email, password });
  } finally {
    // The signup answer carries a bearer token the dashboard must not keep: end its session
    // now, whether or not the cookie session could be made.
    try {
      await new Apinfer({ baseURL: location.origin, apiKey: created.token, maxRetries: 0, fetch: tokenFetch }).auth.logout();
    } catch {
      // It expires on its own; nothing of it is kept here.
    }
  }
}

export interface Described {
  message: string;
  /** Show a link to buy credits (402 insufficient_credits). */
  buy: boolean;
  /** The session ended: log in again. */
  login: boolean;
  requestId?: string | undefined;
}

/** An error from the API (or the network), in words. */
export function describeError(err: unknown, t: Translate): Described {
  const out: Described = { message: "", buy: false, login: false };
  if (err instanceof APIStatusError) {
    out.requestId = err.requestId;
    const code = err.code ?? "";
    const known: Record<string, string> = {
      spend_limit_exceeded: t("err.spend_limit"),
      monthly_spend_limit_exceeded: t("err.spend_limit"),
      card_declined: t("err.card_declined"),
      insufficient_funds: t("err.insufficient_funds"),
      unsupported_card_brand: t("err.unsupported_brand"),
      refund_window_expired: t("err.refund_window"),
      nothing_to_refund: t("err.nothing_to_refund"),
      email_taken: t("err.email_taken"),
      already_member: t("err.already_member"),
      personal_account: t("err.personal_account"),
      owner_or_admin_required: t("err.owner_or_admin"),
      authentication_failed: t("err.authentication_failed"),
    };
    if (code in known) {
      out.message = known[code]!;
    } else if (err.type === "insufficient_credits" || (err.status === 402 && code === "insufficient_credits")) {
      out.message = t("err.insufficient_credits");
      out.buy = true;
    } else if (err.status === 401) {
      out.message = t("err.unauthenticated");
      out.login = true;
    } else if (err.status === 403) {
      out.message = t("err.forbidden");
    } else if (err.status === 404) {
      out.message = t("err.not_found");
    } else if (err.status === 429) {
      out.message = t("err.rate_limited");
    } else if (err.status >= 500) {
      out.message = err.type === "upstream_error" ? t("err.upstream") : t("err.server");
    } else {
      out.message = err.message;
    }
    return out;
  }
  if (err instanceof APIConnectionError) {
    out.message = t("err.network");
    return out;
  }
  out.message = err instanceof Error ? err.message : String(err);
  return out;
}

/** Whether the error is a 401 (no or expired session). */
export function isUnauthenticated(err: unknown): boolean {
  return err instanceof APIStatusError && err.status === 401;
}
