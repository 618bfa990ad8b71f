// The app: language, session and routing.
import type { MeView } from "apinfer";
import { useEffect, useMemo, useState } from "preact/hooks";
import { client, isUnauthenticated, SESSION_ENDED } from "./lib/api";
import { detectLang, I18nContext, type Lang, makeI18n, storeLang, useI18n } from "./lib/i18n";
import { navigate, type Page, useRoute } from "./lib/router";
import { BuyPage } from "./pages/buy";
import { GenerationsPage } from "./pages/generations";
import { KeysPage } from "./pages/keys";
import { LoginPage } from "./pages/login";
import { MembersPage } from "./pages/members";
import { OverviewPage } from "./pages/overview";
import { RefundsPage } from "./pages/refunds";
import { SettingsPage } from "./pages/settings";
import { SignupPage } from "./pages/signup";
import { TransactionsPage } from "./pages/transactions";
import { UsagePage } from "./pages/usage";
import { ErrorBox, Loading } from "./ui/common";
import { Layout, PublicLayout } from "./ui/layout";
import { SessionContext } from "./ui/session";

const PUBLIC: Page[] = ["login", "signup"];

function PageFor({ page, query }: { page: Page | "notfound"; query: URLSearchParams }) {
  switch (page) {
    case "overview":
      return <OverviewPage />;
    case "buy":
      return <BuyPage query={query} />;
    case "transactions":
      return <TransactionsPage />;
    case "usage":
      return <UsagePage />;
    case "generations":
      return <GenerationsPage />;
    case "keys":
      return <KeysPage />;
    case "settings":
      return <SettingsPage />;
    case "refunds":
      return <RefundsPage />;
    case "members":
      return <MembersPage />;
    default:
      return <NotFound />;
  }
}

function NotFound() {
  const { t } = useI18n();
  return (
    <section>
      <h1>{t("notfound.title")}</h1>
      <p>
        <a href="#/overview">{t("nav.overview")}</a>
      </p>
    </section>
  );
}

export function App() {
  const [lang, setLang] = useState<Lang>(detectLang);
  const i18n = useMemo(
    () =>
      makeI18n(lang, (l) => {
        storeLang(l);
        document.documentElement.lang = l;
        setLang(l);
      }),
    [lang],
  );
  // Set during render too, so `lang` is right from the first paint (axe and screen readers).
  document.documentElement.lang = lang;
  useEffect(() => {
    document.title = i18n.t("app.title");
  }, [lang]);

  const route = useRoute();
  // undefined: still asking who is signed in; null: nobody.
  const [me, setMe] = useState<MeView | null | undefined>(undefined);
  const [meError, setMeError] = useState<unknown>(null);
  const [generation, setGeneration] = useState(0);
  const [ended, setEnded] = useState(false);

  const refresh = async () => {
    try {
      // Asked first so that a signed-out visit provokes no 401 (a console error in browsers).
      const session = await client.auth.retrieveSession();
      if (!session.signed_in) {
        setMeError(null);
        setMe(null);
        return;
      }
      const who = await client.me.retrieve();
      setMeError(null);
      setMe(who);
    } catch (e) {
      if (isUnauthenticated(e)) setMe(null);
      else setMeError(e);
    }
  };

  useEffect(() => {
    refresh();
    const onEnded = () => {
      setEnded(true);
      setMe(null);
    };
    window.addEventListener(SESSION_ENDED, onEnded);
    return () => window.removeEventListener(SESSION_ENDED, onEnded);
  }, []);

  const isPublic = (PUBLIC as string[]).includes(route.page);
  useEffect(() => {
    if (me === null && !isPublic) navigate("login");
    if (me && isPublic) navigate("overview");
  }, [me, isPublic]);

  const session = useMemo(() => (me ? { me, refresh } : null), [me]);

  const onLoggedIn = async () => {
    setEnded(false);
    await refresh();
    setGeneration((g) => g + 1);
    navigate("overview");
  };

  const onLogout = async () => {
    try {
      await client.auth.logout();
    } catch {
      // The cookie is cleared by the server; a failed call leaves nothing to keep locally.
    }
    setEnded(false);
    setMe(null);
    navigate("login");
  };

  const onSwitched = async () => {
    await refresh();
    // Remount the page so that it loads the other account's data.
    setGeneration((g) => g + 1);
  };

  let content;
  if (meError && me === undefined) {
    content = (
      <PublicLayout>
        <h1>{i18n.t("app.title")}</h1>
        <ErrorBox error={meError} />
        <button type="button" class="btn" onClick={refresh}>
          {i18n.t("common.retry")}
        </button>
      </PublicLayout>
    );
  } else if (me === undefined || (me === null && !isPublic) || (me && isPublic)) {
    content = (
      <PublicLayout>
        <Loading />
      </PublicLayout>
    );
  } else if (me === null) {
    content = (
      <PublicLayout>
        {route.page === "signup" ? (
          <SignupPage onSignedUp={onLoggedIn} />
        ) : (
          <LoginPage onLoggedIn={onLoggedIn} sessionEnded={ended} />
        )}
      </PublicLayout>
    );
  } else {
    content = (
      <SessionContext.Provider value={session}>
        <Layout page={route.page} onLogout={onLogout} onSwitched={onSwitched}>
          <PageFor key={`${me.account.id}:${generation}:${route.page}?${route.query.toString()}`} page={route.page} query={route.query} />
        </Layout>
      </SessionContext.Provider>
    );
  }
  return <I18nContext.Provider value={i18n}>{content}</I18nContext.Provider>;
}
