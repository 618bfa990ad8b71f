// Sign up: creates the user, then logs in with a cookie session; the signup's own token is
// ended at once and never stored.
import { useState } from "preact/hooks";
import { signUp } from "../lib/api";
import { useI18n } from "../lib/i18n";
import { ErrorBox } from "../ui/common";

export function SignupPage({ onSignedUp }: { onSignedUp: () => void }) {
  const { t } = useI18n();
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [tooShort, setTooShort] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    if (password.length < 8) {
      setTooShort(true);
      return;
    }
    setTooShort(false);
    setBusy(true);
    try {
      await signUp(email.trim(), password, name.trim());
      onSignedUp();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <section class="card auth-card">
      <h1>{t("auth.signup_title")}</h1>
      <form onSubmit={submit} data-testid="signup-form">
        <div class="field">
          <label for="signup-name">{t("auth.name")}</label>
          <input id="signup-name" autocomplete="name" value={name}
            onInput={(e) => setName((e.target as HTMLInputElement).value)} data-testid="signup-name" />
        </div>
        <div class="field">
          <label for="signup-email">{t("auth.email")}</label>
          <input id="signup-email" type="email" autocomplete="username" required value={email}
            onInput={(e) => setEmail((e.target as HTMLInputElement).value)} data-testid="signup-email" />
        </div>
        <div class="field">
          <label for="signup-password">{t("auth.password")}</label>
          <input id="signup-password" type="password" autocomplete="new-password" required minLength={8} value={password}
            aria-describedby="signup-password-hint"
            onInput={(e) => setPassword((e.target as HTMLInputElement).value)} data-testid="signup-password" />
          <p id="signup-password-hint" class={tooShort ? "hint hint-error" : "hint"}>
            {t("auth.password_hint")}
          </p>
        </div>
        <ErrorBox error={error} testid="signup-error" />
        <button type="submit" class="btn btn-primary" disabled={busy} data-testid="signup-submit">
          {busy ? t("common.working") : t("auth.create_account")}
        </button>
      </form>
      <p>
        {t("auth.have_account")} <a href="#/login" data-testid="to-login">{t("auth.login")}</a>
      </p>
    </section>
  );
}
