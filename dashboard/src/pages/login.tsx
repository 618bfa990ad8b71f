// Log in: email and password → a cookie session (the page never sees a token).
import { useState } from "preact/hooks";
import { client, isUnauthenticated } from "../lib/api";
import { useI18n } from "../lib/i18n";
import { ErrorBox } from "../ui/common";

export function LoginPage({ onLoggedIn, sessionEnded }: { onLoggedIn: () => void; sessionEnded: boolean }) {
  const { t } = useI18n();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await client.auth.createSession({ email: email.trim(), password });
      onLoggedIn();
    } catch (err) {
      setError(isUnauthenticated(err) ? new Error(t("auth.bad_credentials")) : err);
      setBusy(false);
    }
  };

  return (
    <section class="card auth-card">
      <h1>{t("auth.login_title")}</h1>
      {sessionEnded && (
        <p class="alert alert-info" role="status" data-testid="session-ended">
          {t("auth.session_ended")}
        </p>
      )}
      <form onSubmit={submit} data-testid="login-form">
        <div class="field">
          <label for="login-email">{t("auth.email")}</label>
          <input id="login-email" type="email" autocomplete="username" required value={email}
            onInput={(e) => setEmail((e.target as HTMLInputElement).value)} data-testid="login-email" />
        </div>
        <div class="field">
          <label for="login-password">{t("auth.password")}</label>
          <input id="login-password" type="password" autocomplete="current-password" required value={password}
            onInput={(e) => setPassword((e.target as HTMLInputElement).value)} data-testid="login-password" />
        </div>
        <ErrorBox error={error} testid="login-error" />
        <button type="submit" class="btn btn-primary" disabled={busy} data-testid="login-submit">
          {busy ? t("common.working") : t("auth.login")}
        </button>
      </form>
      <p>
        {t("auth.no_account")} <a href="#/signup" data-testid="to-signup">{t("auth.signup")}</a>
      </p>
    </section>
  );
}
