// English and Simplified Chinese. The language follows navigator.language (zh* → zh-CN) until
// the user picks one with the switch; only that choice is kept in localStorage.
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import { en } from "./i18n-en";
import { zhCN } from "./i18n-zh";

export type Key = keyof typeof en;
export type Lang = "en" | "zh-CN";
export type Translate = (key: Key, vars?: Record<string, string | number>) => string;

export const LANGS: readonly Lang[] = ["en", "zh-CN"];
const STORAGE_KEY = "apinfer.lang";
const DICTS: Record<Lang, Record<Key, string>> = { en, "zh-CN": zhCN };

export function detectLang(): Lang {
  try {
    const stored = localStorage.getItem(STORAGE_KEY);
    if (stored === "en" || stored === "zh-CN") return stored;
  } catch {
    // Storage may be unavailable (private modes): fall back to the browser's language.
  }
  return (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

export function storeLang(lang: Lang): void {
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // Not kept: the switch still works for this visit.
  }
}

/** Whether a key is known (for keys built from API values, such as `package.<id>`). */
export function hasKey(key: string): boolean {
  return key in en;
}

export function makeT(lang: Lang): Translate {
  const dict = DICTS[lang];
  return (key, vars) => {
    // A key built from an API value the dictionary does not know shows that value.
    let text = dict[key] ?? en[key] ?? key.slice(key.lastIndexOf(".") + 1);
    if (vars) {
      for (const [name, value] of Object.entries(vars)) text = text.split(`{${name}}`).join(String(value));
    }
    return text;
  };
}

export interface I18nValue {
  lang: Lang;
  t: Translate;
  setLang: (lang: Lang) => void;
  /** A date-time in the current language. */
  dateTime: (iso: string | null | undefined) => string;
  /** A date in the current language. */
  date: (iso: string | null | undefined) => string;
}

export function makeI18n(lang: Lang, setLang: (lang: Lang) => void): I18nValue {
  const dtf = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });
  const df = new Intl.DateTimeFormat(lang, { dateStyle: "medium" });
  const fmt = (f: Intl.DateTimeFormat) => (iso: string | null | undefined) => {
    if (!iso) return "—";
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? iso : f.format(d);
  };
  return { lang, t: makeT(lang), setLang, dateTime: fmt(dtf), date: fmt(df) };
}

export const I18nContext = createContext<I18nValue>(makeI18n("en", () => {}));

export function useI18n(): I18nValue {
  return useContext(I18nContext);
}

/** A package's name in the current language (the API's name for a package it does not know). */
export function packageName(t: Translate, id: string, name?: string): string {
  return hasKey(`package.${id}`) ? t(`package.${id}` as Key) : name ?? id;
}
