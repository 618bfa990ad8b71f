// Refunds: purchases whose unused credits can still be refunded (within 30 days), what a refund
// would return, the request, and the refunds already asked for.
import type { PurchaseView, RefundView } from "apinfer";
import { useState } from "preact/hooks";
import { client } from "../lib/api";
import { formatCredits, formatMoney, isPositive } from "../lib/decimal";
import { type Key, packageName, useI18n } from "../lib/i18n";
import { ConfirmButton, Credits, Empty, ErrorBox, Loading, Money, Pager, Success, usePaged, useLoad } from "../ui/common";

// The API says what each purchase's unused credits are worth back, and null when nothing can
// be refunded (not paid, the 30 days are over, or every credit was used).
function refundable(p: PurchaseView): boolean {
  return p.refundable_amount != null && isPositive(p.credits_remaining);
}

export function RefundsPage() {
  const { t, dateTime, date } = useI18n();
  const [version, setVersion] = useState(0);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<RefundView | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const purchases = useLoad(async () => {
    // Refundable purchases are at most 30 days old: walk pages until they are older.
    const out: PurchaseView[] = [];
    const cutoff = Date.now() - 31 * 24 * 3600 * 1000;
    for await (const p of client.purchases.list({ limit: 100 })) {
      if (new Date(p.created_at).getTime() < cutoff) break;
      out.push(p);
    }
    return out;
  }, [version]);
  const refunds = usePaged<RefundView>((cursor) => client.refunds.list({ limit: 20, cursor }), [version]);

  const request = async (p: PurchaseView) => {
    setBusy(p.id);
    setError(null);
    setDone(null);
    try {
      setDone(await client.purchases.refund(p.id));
      setVersion((v) => v + 1);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };

  const open = (purchases.data ?? []).filter((p) => refundable(p));
  const rows = refunds.data?.data ?? [];
  return (
    <section>
      <h1>{t("refunds.title")}</h1>
      <p class="muted">{t("refunds.intro")}</p>
      {done && (
        <Success testid="refund-requested">
          {t("refunds.requested", { credits: formatCredits(done.credits), amount: formatMoney(done.amount), date: date(done.expected_by) })}
        </Success>
      )}
      <ErrorBox error={error} testid="refund-error" />
      <section class="card">
        <h2>{t("refunds.refundable")}</h2>
        {purchases.loading && <Loading />}
        <ErrorBox error={purchases.error} />
        {!purchases.loading && purchases.data && open.length === 0 && <Empty testid="refundable-empty">{t("refunds.none")}</Empty>}
        {open.length > 0 && (
          <div class="table-wrap">
            <table data-testid="refundable-table">
              <thead>
                <tr>
                  <th scope="col">{t("refunds.bought")}</th>
                  <th scope="col">{t("buy.package")}</th>
                  <th scope="col" class="right">{t("refunds.unused")}</th>
                  <th scope="col" class="right">{t("refunds.money")}</th>
                  <th scope="col">{t("refunds.deadline")}</th>
                  <th scope="col"><span class="sr-only">{t("common.actions")}</span></th>
                </tr>
              </thead>
              <tbody>
                {open.map((p) => (
                  <tr key={p.id} data-testid="refundable-row" data-id={p.id}>
                    <td>{dateTime(p.succeeded_at ?? p.created_at)}</td>
                    <td>{packageName(t, p.package_id)} (<Money value={p.amount} />)</td>
                    <td class="right"><Credits value={p.credits_remaining} testid="refundable-credits" /></td>
                    <td class="right num" data-testid="refundable-money">
                      {p.refundable_amount ? formatMoney(p.refundable_amount) : null}
                    </td>
                    <td data-testid="refund-deadline">{dateTime(p.refundable_until)}</td>
                    <td>
                      <ConfirmButton label={t("refunds.request")} confirmLabel={t("refunds.confirm")}
                        onConfirm={() => request(p)} testid="request-refund" busy={busy === p.id} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <p class="muted small">{t("refunds.money_note")}</p>
      </section>
      <section class="card">
        <h2>{t("refunds.list")}</h2>
        {refunds.loading && <Loading />}
        <ErrorBox error={refunds.error} />
        {!refunds.loading && refunds.data && rows.length === 0 && <Empty testid="refunds-empty">{t("refunds.empty")}</Empty>}
        {rows.length > 0 && (
          <div class="table-wrap">
            <table data-testid="refunds-table">
              <thead>
                <tr>
                  <th scope="col">{t("refunds.requested_at")}</th>
                  <th scope="col" class="right">{t("common.credits")}</th>
                  <th scope="col" class="right">{t("refunds.amount")}</th>
                  <th scope="col">{t("refunds.status")}</th>
                  <th scope="col">{t("refunds.expected")}</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr key={r.id} data-testid="refund-row" data-id={r.id} data-status={r.status}>
                    <td>{dateTime(r.created_at)}</td>
                    <td class="right"><Credits value={r.credits} /></td>
                    <td class="right"><Money value={r.amount} /></td>
                    <td><span class={`badge status-${r.status}`} data-testid="refund-status">{t(`refund.status.${r.status}` as Key)}</span></td>
                    <td>{r.completed_at ? dateTime(r.completed_at) : date(r.expected_by)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <Pager paged={refunds} label={t("refunds.list")} />
      </section>
    </section>
  );
}
