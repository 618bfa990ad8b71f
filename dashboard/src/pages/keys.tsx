// API keys: the live keys, a form to create one (scopes, spend limit and its reset, expiry),
// its secret shown once with a Copy button, and revoking (after a confirmation).
import type { ApiKeyView, CreatedApiKey, LimitReset, Scope } from "apinfer";
import { useState } from "preact/hooks";
import { client } from "../lib/api";
import { formatCredits, isDecimal } from "../lib/decimal";
import { type Key, useI18n } from "../lib/i18n";
import { ConfirmButton, Empty, ErrorBox, Loading, Pager, Success, usePaged, utcDay } from "../ui/common";
import { isManager, useSession } from "../ui/session";

const SCOPES: Scope[] = ["balance:read", "usage:read", "generations:write", "purchases:write"];

function Secret({ created, onDone }: { created: CreatedApiKey; onDone: () => void }) {
  const { t } = useI18n();
  const [copied, setCopied] = useState<"yes" | "no" | null>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(created.key);
      setCopied("yes");
    } catch {
      setCopied("no");
    }
  };
  return (
    <section class="card secret-card" data-testid="key-created">
      <h2>{t("keys.created", { name: created.name })}</h2>
      <p class="alert alert-warning">{t("keys.once")}</p>
      <p class="secret-row">
        <label for="key-secret-value" class="sr-only">{t("keys.secret")}</label>
        <input id="key-secret-value" class="secret" readOnly value={created.key} data-testid="key-secret"
          onFocus={(e) => (e.target as HTMLInputElement).select()} />
        <button type="button" class="btn btn-primary" onClick={copy} data-testid="copy-key">
          {t("keys.copy")}
        </button>
      </p>
      {copied && (
        <p role="status" class="muted" data-testid="copy-status">
          {copied === "yes" ? t("keys.copied") : t("keys.copy_failed")}
        </p>
      )}
      <button type="button" class="btn" onClick={onDone} data-testid="key-secret-done">
        {t("keys.stored")}
      </button>
    </section>
  );
}

function CreateKey({ onCreated }: { onCreated: (k: CreatedApiKey) => void }) {
  const { t } = useI18n();
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<Scope[]>(["balance:read", "usage:read", "generations:write"]);
  const [limit, setLimit] = useState("");
  const [reset, setReset] = useState<"" | LimitReset>("");
  const [expires, setExpires] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const limitValid = limit.trim() === "" || isDecimal(limit);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!name.trim() || scopes.length === 0 || !limitValid) return;
    setBusy(true);
    setError(null);
    try {
      const created = await client.apiKeys.create({
        name: name.trim(),
        scopes,
        spend_limit: limit.trim() === "" ? null : limit.trim(),
        spend_limit_reset: limit.trim() === "" || reset === "" ? null : reset,
        // The key works through the whole chosen day (UTC).
        expires_at: expires ? `${expires}T23:59:59Z` : null,
      });
      setName("");
      setLimit("");
      setReset("");
      setExpires("");
      onCreated(created);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="card" onSubmit={submit} data-testid="create-key-form">
      <h2>{t("keys.new")}</h2>
      <div class="field">
        <label for="key-name">{t("keys.name")}</label>
        <input id="key-name" required maxLength={100} value={name}
          onInput={(e) => setName((e.target as HTMLInputElement).value)} data-testid="key-name" />
      </div>
      <fieldset>
        <legend>{t("keys.scopes")}</legend>
        {SCOPES.map((s) => {
          const id = `scope-${s.replace(":", "-")}`;
          return (
            <div class="checkbox" key={s}>
              <input type="checkbox" id={id} checked={scopes.includes(s)} data-testid={id}
                onChange={(e) => {
                  const on = (e.target as HTMLInputElement).checked;
                  setScopes((cur) => (on ? [...cur.filter((x) => x !== s), s] : cur.filter((x) => x !== s)));
                }} />
              <label for={id}>
                <code>{s}</code> <span class="muted small">{t(`scope.${s}` as Key)}</span>
              </label>
            </div>
          );
        })}
        {scopes.length === 0 && <p class="hint hint-error">{t("keys.need_scope")}</p>}
      </fieldset>
      <div class="grid-3">
        <div class="field">
          <label for="key-limit">{t("keys.limit")}</label>
          <input id="key-limit" inputMode="decimal" value={limit} placeholder={t("keys.no_limit")} aria-describedby="key-limit-hint"
            aria-invalid={limitValid ? "false" : "true"} onInput={(e) => setLimit((e.target as HTMLInputElement).value)} data-testid="key-spend-limit" />
          <p id="key-limit-hint" class={limitValid ? "hint" : "hint hint-error"}>{t("keys.limit_hint")}</p>
        </div>
        <div class="field">
          <label for="key-reset">{t("keys.reset")}</label>
          <select id="key-reset" value={reset} disabled={limit.trim() === ""}
            onChange={(e) => setReset((e.target as HTMLSelectElement).value as LimitReset)} data-testid="key-limit-reset">
            <option value="">{t("keys.reset.none")}</option>
            <option value="daily">{t("keys.reset.daily")}</option>
            <option value="weekly">{t("keys.reset.weekly")}</option>
            <option value="monthly">{t("keys.reset.monthly")}</option>
          </select>
        </div>
        <div class="field">
          <label for="key-expires">{t("keys.expires")}</label>
          <input id="key-expires" type="date" min={utcDay(0)} value={expires}
            onChange={(e) => setExpires((e.target as HTMLInputElement).value)} data-testid="key-expires" />
          <p class="hint">{t("keys.expires_hint")}</p>
        </div>
      </div>
      <ErrorBox error={error} testid="create-key-error" />
      <button type="submit" class="btn btn-primary" disabled={busy || !name.trim() || scopes.length === 0 || !limitValid} data-testid="create-key">
        {busy ? t("common.working") : t("keys.create")}
      </button>
    </form>
  );
}

export function KeysPage() {
  const { t, dateTime } = useI18n();
  const { me } = useSession();
  const [version, setVersion] = useState(0);
  const [created, setCreated] = useState<CreatedApiKey | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [revoked, setRevoked] = useState<string | null>(null);
  const paged = usePaged<ApiKeyView>((cursor) => client.apiKeys.list({ limit: 20, cursor }), [version]);

  const revoke = async (k: ApiKeyView) => {
    setError(null);
    setRevoked(null);
    try {
      await client.apiKeys.revoke(k.id);
      setRevoked(k.name);
      setVersion((v) => v + 1);
    } catch (e) {
      setError(e);
    }
  };

  const rows = paged.data?.data ?? [];
  return (
    <section>
      <h1>{t("keys.title")}</h1>
      <p class="muted">{t("keys.intro")}</p>
      {created && <Secret created={created} onDone={() => setCreated(null)} />}
      {isManager(me) ? (
        <CreateKey onCreated={(k) => { setCreated(k); setVersion((v) => v + 1); }} />
      ) : (
        <p class="alert alert-info" data-testid="keys-manager-only">{t("keys.manager_only")}</p>
      )}
      <section class="card">
        <h2>{t("keys.list")}</h2>
        {revoked && <Success testid="key-revoked">{t("keys.revoked", { name: revoked })}</Success>}
        <ErrorBox error={error} />
        {paged.loading && <Loading />}
        <ErrorBox error={paged.error} />
        {!paged.loading && paged.data && rows.length === 0 && <Empty testid="keys-empty">{t("keys.empty")}</Empty>}
        {rows.length > 0 && (
          <div class="table-wrap">
            <table data-testid="keys-table">
              <thead>
                <tr>
                  <th scope="col">{t("keys.name")}</th>
                  <th scope="col">{t("keys.prefix")}</th>
                  <th scope="col">{t("keys.scopes")}</th>
                  <th scope="col">{t("keys.limit_spent")}</th>
                  <th scope="col">{t("keys.expires")}</th>
                  <th scope="col">{t("keys.last_used")}</th>
                  <th scope="col"><span class="sr-only">{t("common.actions")}</span></th>
                </tr>
              </thead>
              <tbody>
                {rows.map((k) => (
                  <tr key={k.id} data-testid="key-row" data-id={k.id} data-name={k.name}>
                    <td>{k.name}</td>
                    <td><code>{k.prefix}…</code></td>
                    <td class="small">{k.scopes.join(", ")}</td>
                    <td class="num">
                      {formatCredits(k.spent)} / {k.spend_limit != null ? formatCredits(k.spend_limit) : t("keys.unlimited")}
                      {k.spend_limit_reset && <span class="muted small"> ({t(`keys.reset.${k.spend_limit_reset}` as Key)})</span>}
                    </td>
                    <td>{k.expires_at ? dateTime(k.expires_at) : t("keys.never")}</td>
                    <td>{k.last_used_at ? dateTime(k.last_used_at) : t("keys.never_used")}</td>
                    <td>
                      <ConfirmButton label={t("keys.revoke")} confirmLabel={t("keys.confirm_revoke", { name: k.name })}
                        onConfirm={() => revoke(k)} testid="revoke-key" />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <Pager paged={paged} label={t("keys.pages")} />
      </section>
    </section>
  );
}
