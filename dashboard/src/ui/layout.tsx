// The frame of every signed-in page: header (brand, account switcher, language, log out),
// navigation (collapsing behind a Menu button on phones) and the main landmark.
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { client } from "../lib/api";
import { LANGS, type Lang, type Key, useI18n } from "../lib/i18n";
import type { Page } from "../lib/router";
import { ErrorBox } from "./common";
import { useSession } from "./session";

const NAV: { page: Page; key: Key }[] = [
  { page: "overview", key: "nav.overview" },
  { page: "buy", key: "nav.buy" },
  { page: "generations", key: "nav.generations" },
  { page: "transactions", key: "nav.transactions" },
  { page: "usage", key: "nav.usage" },
  { page: "keys", key: "nav.keys" },
  { page: "refunds", key: "nav.refunds" },
  { page: "members", key: "nav.members" },
  { page: "settings", key: "nav.settings" },
];

export function LanguageSwitch() {
  const { lang, setLang, t } = useI18n();
  return (
    <div class="lang-switch">
      <label for="lang-select">{t("lang.label")}</label>
      <select id="lang-select" value={lang} onChange={(e) => setLang((e.target as HTMLSelectElement).value as Lang)} data-testid="lang-switch">
        {LANGS.map((l) => (
          <option value={l} key={l} lang={l}>
            {l === "en" ? "English" : "简体中文"}
          </option>
        ))}
      </select>
    </div>
  );
}

function AccountSwitcher({ onSwitched }: { onSwitched: () => void }) {
  const { me } = useSession();
  const { t } = useI18n();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  if (me.accounts.length < 2) {
    return (
      <span class="account-name" data-testid="account-name">
        {me.account.name}
      </span>
    );
  }
  const change = async (accountId: string) => {
    setBusy(true);
    setError(null);
    try {
      await client.auth.switchAccount({ account_id: accountId });
      onSwitched();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="account-switch">
      <label for="account-select">{t("header.account")}</label>
      <select
        id="account-select"
        value={me.account.id}
        disabled={busy}
        onChange={(e) => change((e.target as HTMLSelectElement).value)}
        data-testid="account-switcher"
      >
        {me.accounts.map((m) => (
          <option value={m.account.id} key={m.account.id}>
            {m.account.name} ({t(`role.${m.role}` as Key) || m.role})
          </option>
        ))}
      </select>
      <ErrorBox error={error} />
    </div>
  );
}

export function Layout({
  page,
  children,
  onLogout,
  onSwitched,
}: {
  page: Page | "notfound";
  children: ComponentChildren;
  onLogout: () => void;
  onSwitched: () => void;
}) {
  const { t } = useI18n();
  const { me } = useSession();
  const [menuOpen, setMenuOpen] = useState(false);
  return (
    <div class="shell">
      <a class="skip-link" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById("main")?.focus(); }}>
        {t("common.skip")}
      </a>
      <header class="topbar">
        <div class="topbar-row">
          <a class="brand" href="#/overview">
            apinfer
          </a>
          <button
            type="button"
            class="btn menu-toggle"
            aria-expanded={menuOpen ? "true" : "false"}
            aria-controls="main-nav"
            onClick={() => setMenuOpen(!menuOpen)}
            data-testid="menu-toggle"
          >
            {t("header.menu")}
          </button>
        </div>
        <div class="topbar-tools">
          <AccountSwitcher onSwitched={onSwitched} />
          <LanguageSwitch />
          <span class="user-email muted" data-testid="user-email">
            {me.user.email}
          </span>
          <button type="button" class="btn" onClick={onLogout} data-testid="logout">
            {t("auth.logout")}
          </button>
        </div>
      </header>
      <div class="body">
        <nav id="main-nav" class={menuOpen ? "sidenav open" : "sidenav"} aria-label={t("nav.label")}>
          <ul>
            {NAV.map((item) => (
              <li key={item.page}>
                <a
                  href={`#/${item.page}`}
                  aria-current={page === item.page ? "page" : undefined}
                  data-testid={`nav-${item.page}`}
                  onClick={() => setMenuOpen(false)}
                >
                  {t(item.key)}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <main id="main" tabIndex={-1}>
          {children}
        </main>
      </div>
    </div>
  );
}

/** The frame of the signed-out pages (log in, sign up). */
export function PublicLayout({ children }: { children: ComponentChildren }) {
  return (
    <div class="shell">
      <header class="topbar">
        <div class="topbar-row">
          <span class="brand">apinfer</span>
        </div>
        <div class="topbar-tools">
          <LanguageSwitch />
        </div>
      </header>
      <main id="main" class="public-main" tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}
