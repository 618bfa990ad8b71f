// Hash routing: `#/buy?purchase=pur_...` → { page: "buy", query: { purchase: "pur_..." } }.
// The server serves only `/`, `/app.js` and `/app.css`; every page lives after the hash.
import { useEffect, useState } from "preact/hooks";

export const PAGES = [
  "overview",
  "buy",
  "transactions",
  "usage",
  "generations",
  "keys",
  "settings",
  "refunds",
  "members",
  "login",
  "signup",
] as const;
export type Page = (typeof PAGES)[number];

export interface Route {
  page: Page | "notfound";
  query: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#\/?/, "");
  const q = raw.indexOf("?");
  const path = (q < 0 ? raw : raw.slice(0, q)) || "overview";
  const query = new URLSearchParams(q < 0 ? "" : raw.slice(q + 1));
  const page = (PAGES as readonly string[]).includes(path) ? (path as Page) : "notfound";
  return { page, query };
}

/** Fired on `window` when `replaceHash` changed the hash (browsers fire no `hashchange` then). */
const REPLACED = "apinfer:hash-replaced";

export function useRoute(): Route {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const onChange = () => setHash(location.hash);
    window.addEventListener("hashchange", onChange);
    window.addEventListener(REPLACED, onChange);
    return () => {
      window.removeEventListener("hashchange", onChange);
      window.removeEventListener(REPLACED, onChange);
    };
  }, []);
  return parseHash(hash);
}

export function navigate(page: Page, query?: Record<string, string>): void {
  const qs = query ? new URLSearchParams(query).toString() : "";
  location.hash = `#/${page}${qs ? "?" + qs : ""}`;
}

/** Replaces the current history entry's hash without a navigation event (the route follows). */
export function replaceHash(page: Page, query?: Record<string, string>): void {
  const qs = query ? new URLSearchParams(query).toString() : "";
  history.replaceState(null, "", `#/${page}${qs ? "?" + qs : ""}`);
  window.dispatchEvent(new Event(REPLACED));
}
