// Settings: the low-balance alert, automatic top-up with a saved card, the saved cards, and the
// notifications the account has received.
import type { AutoTopupSettings, LowBalanceAlertView, NotificationView, PaymentMethodView } from "apinfer";
import { useEffect, useState } from "preact/hooks";
import { client } from "../lib/api";
import { formatCredits, isDecimal } from "../lib/decimal";
import { type Key, packageName, useI18n } from "../lib/i18n";
import { ConfirmButton, Empty, ErrorBox, Loading, Pager, Success, usePaged, useLoad } from "../ui/common";

function AlertForm() {
  const { t } = useI18n();
  const loaded = useLoad(() => client.settings.retrieveLowBalanceAlert(), []);
  const [enabled, setEnabled] = useState(false);
  const [threshold, setThreshold] = useState("");
  const [webhook, setWebhook] = useState("");
  const [view, setView] = useState<LowBalanceAlertView | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    const v = loaded.data;
    if (!v) return;
    setView(v);
    setEnabled(v.enabled);
    setThreshold(v.threshold);
    setWebhook(v.webhook_url ?? "");
  }, [loaded.data]);
  const valid = isDecimal(threshold);

  const save = async (e: Event) => {
    e.preventDefault();
    if (!valid) return;
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      const v = await client.settings.updateLowBalanceAlert({ enabled, threshold: threshold.trim(), webhook_url: webhook.trim() || null });
      setView(v);
      setSaved(true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="card" onSubmit={save} data-testid="alert-form">
      <h2>{t("settings.alert")}</h2>
      <p class="muted">{t("settings.alert_intro")}</p>
      {loaded.loading && <Loading />}
      {loaded.error ? <ErrorBox error={loaded.error} /> : null}
      <div class="checkbox">
        <input type="checkbox" id="alert-enabled" checked={enabled} onChange={(e) => setEnabled((e.target as HTMLInputElement).checked)} data-testid="alert-enabled" />
        <label for="alert-enabled">{t("settings.alert_enabled")}</label>
      </div>
      <div class="grid-2">
        <div class="field">
          <label for="alert-threshold">{t("settings.threshold")}</label>
          <input id="alert-threshold" inputMode="decimal" required value={threshold} aria-invalid={valid ? "false" : "true"}
            onInput={(e) => setThreshold((e.target as HTMLInputElement).value)} data-testid="alert-threshold" />
        </div>
        <div class="field">
          <label for="alert-webhook">{t("settings.webhook")}</label>
          <input id="alert-webhook" type="url" placeholder="https://example.com/hooks/apinfer" value={webhook}
            onInput={(e) => setWebhook((e.target as HTMLInputElement).value)} data-testid="alert-webhook" />
          <p class="hint">{t("settings.webhook_hint")}</p>
        </div>
      </div>
      {view?.webhook_url && view.webhook_secret && (
        <p class="small">
          {t("settings.webhook_secret")}: <code data-testid="webhook-secret">{view.webhook_secret}</code>
        </p>
      )}
      <ErrorBox error={error} testid="alert-error" />
      {saved && <Success testid="alert-saved">{t("settings.saved")}</Success>}
      <button type="submit" class="btn btn-primary" disabled={busy || !valid} data-testid="save-alert">
        {busy ? t("common.working") : t("settings.save_alert")}
      </button>
    </form>
  );
}

function TopupForm({ cards }: { cards: PaymentMethodView[] }) {
  const { t } = useI18n();
  // Never set: off, with nothing chosen (null fields), so the form keeps its defaults.
  const loaded = useLoad(async () => {
    const current = await client.settings.retrieveAutoTopup();
    if (current.package_id == null || current.payment_method_id == null || current.threshold == null) return null;
    return {
      enabled: current.enabled,
      threshold: current.threshold,
      package_id: current.package_id,
      payment_method_id: current.payment_method_id,
      max_topups_per_day: current.max_topups_per_day ?? 1,
    } satisfies AutoTopupSettings;
  }, []);
  const packages = useLoad(() => client.packages.list(), []);
  const [form, setForm] = useState<AutoTopupSettings>({
    enabled: false,
    threshold: "100",
    package_id: "standard",
    payment_method_id: "",
    max_topups_per_day: 1,
  });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    if (loaded.data) setForm(loaded.data);
  }, [loaded.data]);
  useEffect(() => {
    if (!form.payment_method_id && cards[0]) setForm((f) => ({ ...f, payment_method_id: cards[0]!.id }));
  }, [cards]);
  const valid =
    isDecimal(form.threshold) && form.package_id !== "" && form.payment_method_id !== "" &&
    Number.isInteger(form.max_topups_per_day) && form.max_topups_per_day >= 1 && form.max_topups_per_day <= 100;

  const save = async (e: Event) => {
    e.preventDefault();
    if (!valid) return;
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      setForm(await client.settings.updateAutoTopup({ ...form, threshold: form.threshold.trim() }));
      setSaved(true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="card" onSubmit={save} data-testid="topup-form">
      <h2>{t("settings.topup")}</h2>
      <p class="muted">{t("settings.topup_intro")}</p>
      {loaded.loading && <Loading />}
      <ErrorBox error={loaded.error} />
      {cards.length === 0 && (
        <p class="alert alert-info" data-testid="topup-no-card">
          {t("settings.need_card")} <a href="#/buy">{t("nav.buy")}</a>
        </p>
      )}
      <div class="checkbox">
        <input type="checkbox" id="topup-enabled" checked={form.enabled}
          onChange={(e) => setForm({ ...form, enabled: (e.target as HTMLInputElement).checked })} data-testid="topup-enabled" />
        <label for="topup-enabled">{t("settings.topup_enabled")}</label>
      </div>
      <div class="grid-2">
        <div class="field">
          <label for="topup-threshold">{t("settings.topup_threshold")}</label>
          <input id="topup-threshold" inputMode="decimal" required value={form.threshold}
            onInput={(e) => setForm({ ...form, threshold: (e.target as HTMLInputElement).value })} data-testid="topup-threshold" />
        </div>
        <div class="field">
          <label for="topup-package">{t("settings.topup_package")}</label>
          <select id="topup-package" value={form.package_id}
            onChange={(e) => setForm({ ...form, package_id: (e.target as HTMLSelectElement).value })} data-testid="topup-package">
            {(packages.data?.data ?? []).map((p) => (
              <option key={p.id} value={p.id}>
                {packageName(t, p.id, p.name)} — {formatCredits(p.credits)} {t("common.credits")}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="topup-card">{t("settings.topup_card")}</label>
          <select id="topup-card" value={form.payment_method_id} disabled={cards.length === 0}
            onChange={(e) => setForm({ ...form, payment_method_id: (e.target as HTMLSelectElement).value })} data-testid="topup-card">
            {cards.length === 0 && <option value="">{t("settings.no_cards")}</option>}
            {cards.map((c) => (
              <option key={c.id} value={c.id}>
                {c.brand.toUpperCase()} •••• {c.last4} ({String(c.exp_month).padStart(2, "0")}/{c.exp_year})
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="topup-max">{t("settings.topup_max")}</label>
          <input id="topup-max" type="number" min={1} max={100} step={1} required value={String(form.max_topups_per_day)}
            onInput={(e) => setForm({ ...form, max_topups_per_day: Number((e.target as HTMLInputElement).value) })} data-testid="topup-max" />
        </div>
      </div>
      <ErrorBox error={error} testid="topup-error" />
      {saved && <Success testid="topup-saved">{t("settings.saved")}</Success>}
      <button type="submit" class="btn btn-primary" disabled={busy || !valid} data-testid="save-topup">
        {busy ? t("common.working") : t("settings.save_topup")}
      </button>
    </form>
  );
}

function Cards({ cards, loading, error, onChanged }: { cards: PaymentMethodView[]; loading: boolean; error: unknown; onChanged: () => void }) {
  const { t } = useI18n();
  const [removeError, setRemoveError] = useState<unknown>(null);
  const remove = async (id: string) => {
    setRemoveError(null);
    try {
      await client.paymentMethods.delete(id);
      onChanged();
    } catch (e) {
      setRemoveError(e);
    }
  };
  return (
    <section class="card">
      <h2>{t("settings.cards")}</h2>
      {loading && <Loading />}
      <ErrorBox error={error} />
      <ErrorBox error={removeError} />
      {!loading && cards.length === 0 && <Empty testid="cards-empty">{t("settings.cards_empty")}</Empty>}
      {cards.length > 0 && (
        <ul class="plain-list" data-testid="saved-cards">
          {cards.map((c) => (
            <li key={c.id} data-testid="saved-card">
              {c.brand.toUpperCase()} •••• {c.last4} · {String(c.exp_month).padStart(2, "0")}/{c.exp_year}{" "}
              <ConfirmButton label={t("settings.remove_card")} confirmLabel={t("settings.confirm_remove_card")}
                onConfirm={() => remove(c.id)} testid="remove-card" />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function Notifications() {
  const { t, dateTime } = useI18n();
  const paged = usePaged<NotificationView>((cursor) => client.notifications.list({ limit: 20, cursor }), []);
  const rows = paged.data?.data ?? [];
  return (
    <section class="card">
      <h2>{t("settings.notifications")}</h2>
      {paged.loading && <Loading />}
      <ErrorBox error={paged.error} />
      {!paged.loading && paged.data && rows.length === 0 && <Empty testid="notifications-empty">{t("settings.notifications_empty")}</Empty>}
      {rows.length > 0 && (
        <ul class="plain-list" data-testid="notifications-list">
          {rows.map((n) => (
            <li key={n.id} data-testid="notification" data-type={n.type}>
              <span class="muted">{dateTime(n.created_at)}</span> · <strong>{t(`notif.${n.type}` as Key)}</strong> · {n.message}
            </li>
          ))}
        </ul>
      )}
      <Pager paged={paged} label={t("settings.notifications")} />
    </section>
  );
}

export function SettingsPage() {
  const { t } = useI18n();
  const [cardsVersion, setCardsVersion] = useState(0);
  const cards = useLoad(() => client.paymentMethods.list({ limit: 100 }), [cardsVersion]);
  const list = cards.data?.data ?? [];
  return (
    <section>
      <h1>{t("settings.title")}</h1>
      <AlertForm />
      <TopupForm cards={list} />
      <Cards cards={list} loading={cards.loading} error={cards.error} onChanged={() => setCardsVersion((v) => v + 1)} />
      <Notifications />
    </section>
  );
}
