// Small shared pieces: loading/empty/error states, a pager, credits and money.
import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { describeError } from "../lib/api";
import { formatCredits, formatMoney } from "../lib/decimal";
import { useI18n } from "../lib/i18n";

export function Loading({ label }: { label?: string }) {
  const { t } = useI18n();
  return (
    <p class="state state-loading" role="status" data-testid="loading">
      <span class="spinner" aria-hidden="true" />
      {label ?? t("common.loading")}
    </p>
  );
}

export function Empty({ children, testid }: { children: ComponentChildren; testid?: string }) {
  return (
    <p class="state state-empty" data-testid={testid ?? "empty"}>
      {children}
    </p>
  );
}

export function ErrorBox({ error, testid }: { error: unknown; testid?: string }) {
  const { t } = useI18n();
  if (!error) return null;
  const d = describeError(error, t);
  return (
    <div class="alert alert-error" role="alert" data-testid={testid ?? "error"}>
      <p>{d.message}</p>
      {d.buy && (
        <p>
          <a href="#/buy" data-testid="error-buy-link">
            {t("err.buy_link")}
          </a>
        </p>
      )}
      {d.login && (
        <p>
          <a href="#/login">{t("auth.login")}</a>
        </p>
      )}
      {d.requestId && <p class="muted small">{t("err.request_id", { id: d.requestId })}</p>}
    </div>
  );
}

export function Success({ children, testid }: { children: ComponentChildren; testid?: string }) {
  return (
    <div class="alert alert-success" role="status" data-testid={testid}>
      {children}
    </div>
  );
}

export function Credits({ value, testid }: { value: string | null | undefined; testid?: string }) {
  return (
    <span class="num" data-testid={testid} data-value={value ?? ""}>
      {formatCredits(value)}
    </span>
  );
}

export function Money({ value, testid }: { value: { amount: string; currency: string } | null | undefined; testid?: string }) {
  return (
    <span class="num" data-testid={testid}>
      {formatMoney(value)}
    </span>
  );
}

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` when `deps` change (and on `reload`), keeping only the latest answer. */
export function useLoad<T>(load: () => PromiseLike<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({
    data: undefined,
    error: undefined,
    loading: true,
  });
  const [tick, setTick] = useState(0);
  const seq = useRef(0);
  useEffect(() => {
    const mine = ++seq.current;
    setState((s) => ({ ...s, loading: true, error: undefined }));
    Promise.resolve(load()).then(
      (data) => mine === seq.current && setState({ data, error: undefined, loading: false }),
      (error) => mine === seq.current && setState({ data: undefined, error, loading: false }),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { ...state, reload };
}

/** One page of a cursor-paginated list, with Previous/Next over a stack of cursors. */
export interface Paged<T> extends Loaded<{ data: T[]; has_more: boolean; next_cursor: string | null }> {
  index: number;
  next: () => void;
  prev: () => void;
}

export function usePaged<T>(
  fetchPage: (cursor: string | undefined) => PromiseLike<{ data: T[]; has_more: boolean; next_cursor: string | null }>,
  deps: unknown[],
): Paged<T> {
  // A change of `deps` (a filter) starts again from the first page.
  const key = JSON.stringify(deps);
  const [stack, setStack] = useState<{ key: string; cursors: (string | undefined)[]; index: number }>({
    key,
    cursors: [undefined],
    index: 0,
  });
  const cur = stack.key === key ? stack : { key, cursors: [undefined], index: 0 };
  const loaded = useLoad(() => fetchPage(cur.cursors[cur.index]), [key, cur.index, cur.cursors[cur.index]]);
  const next = () => {
    const c = loaded.data?.next_cursor;
    if (!loaded.data?.has_more || !c) return;
    setStack({ key, cursors: [...cur.cursors.slice(0, cur.index + 1), c], index: cur.index + 1 });
  };
  const prev = () => setStack({ ...cur, index: Math.max(0, cur.index - 1) });
  return { ...loaded, index: cur.index, next, prev };
}

export function Pager({ paged, label }: { paged: Paged<unknown>; label: string }) {
  const { t } = useI18n();
  const hasMore = Boolean(paged.data?.has_more && paged.data.next_cursor);
  if (paged.index === 0 && !hasMore) return null;
  return (
    <nav class="pager" aria-label={label}>
      <button type="button" class="btn" onClick={paged.prev} disabled={paged.index === 0 || paged.loading} data-testid="page-prev">
        {t("common.previous")}
      </button>
      <span class="muted">{t("common.page", { n: paged.index + 1 })}</span>
      <button type="button" class="btn" onClick={paged.next} disabled={!hasMore || paged.loading} data-testid="page-next">
        {t("common.next")}
      </button>
    </nav>
  );
}

/** A two-step button: the first click asks, the second (Confirm) acts. */
export function ConfirmButton({
  label,
  confirmLabel,
  onConfirm,
  testid,
  busy,
}: {
  label: string;
  confirmLabel: string;
  onConfirm: () => void;
  testid: string;
  busy?: boolean;
}) {
  const { t } = useI18n();
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return (
      <button type="button" class="btn btn-danger-outline" onClick={() => setAsking(true)} data-testid={testid} disabled={busy}>
        {label}
      </button>
    );
  }
  return (
    <span class="confirm" role="group" aria-label={label}>
      <button
        type="button"
        class="btn btn-danger"
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
        data-testid={`confirm-${testid}`}
      >
        {confirmLabel}
      </button>
      <button type="button" class="btn" onClick={() => setAsking(false)} data-testid={`cancel-${testid}`}>
        {t("common.cancel")}
      </button>
    </span>
  );
}

/** Today's UTC date as YYYY-MM-DD, moved by `days`. */
export function utcDay(days = 0): string {
  const d = new Date();
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** The day after a YYYY-MM-DD date. */
export function nextDay(day: string): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}
