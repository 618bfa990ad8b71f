// Transactions: the ledger, filtered by type and date range, page by page, and as a CSV file of
// every entry the filter matches (built here from all pages, downloaded through a Blob URL).
import type { TransactionType, TransactionView } from "apinfer";
import { useState } from "preact/hooks";
import { client } from "../lib/api";
import { formatCredits, formatSignedCredits } from "../lib/decimal";
import { type Key, useI18n } from "../lib/i18n";
import { Empty, ErrorBox, Loading, nextDay, Pager, usePaged } from "../ui/common";

const TYPES: TransactionType[] = ["purchase", "generation", "refund", "adjustment", "auto_topup"];

function csvCell(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function toCsv(rows: TransactionView[]): string {
  const header = ["id", "created_at", "type", "description", "credits", "balance_after", "reference_id", "api_key_id", "user_id"];
  const lines = [header.join(",")];
  for (const r of rows) {
    lines.push(
      [r.id, r.created_at, r.type, r.description, r.credits, r.balance_after, r.reference_id ?? "", r.api_key_id ?? "", r.user_id ?? ""]
        .map((v) => csvCell(String(v)))
        .join(","),
    );
  }
  return lines.join("\r\n") + "\r\n";
}

export function TransactionsPage() {
  const { t, dateTime } = useI18n();
  const [type, setType] = useState<string>("");
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [exporting, setExporting] = useState(false);
  const [exportError, setExportError] = useState<unknown>(null);
  const [exported, setExported] = useState<number | null>(null);

  const filter = () => ({
    type: type || undefined,
    from: from ? `${from}T00:00:00Z` : undefined,
    // The "to" date is inclusive for people; the API's `to` is exclusive.
    to: to ? `${nextDay(to)}T00:00:00Z` : undefined,
  });
  const paged = usePaged<TransactionView>((cursor) => client.transactions.list({ ...filter(), limit: 20, cursor }), [type, from, to]);

  const download = async () => {
    setExporting(true);
    setExportError(null);
    setExported(null);
    try {
      const rows: TransactionView[] = [];
      for await (const tx of client.transactions.list({ ...filter(), limit: 100 })) rows.push(tx);
      const blob = new Blob([toCsv(rows)], { type: "text/csv;charset=utf-8" });
      const url = URL.createObjectURL(blob);
      const a = document.createElement("a");
      a.href = url;
      a.download = `transactions${from ? "-from-" + from : ""}${to ? "-to-" + to : ""}${type ? "-" + type : ""}.csv`;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      setExported(rows.length);
    } catch (e) {
      setExportError(e);
    } finally {
      setExporting(false);
    }
  };

  const rows = paged.data?.data ?? [];
  return (
    <section>
      <h1>{t("tx.title")}</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label={t("tx.filters")}>
        <div class="field">
          <label for="tx-type">{t("tx.type")}</label>
          <select id="tx-type" value={type} onChange={(e) => setType((e.target as HTMLSelectElement).value)} data-testid="tx-type">
            <option value="">{t("tx.all_types")}</option>
            {TYPES.map((ty) => (
              <option key={ty} value={ty}>{t(`tx.type.${ty}` as Key)}</option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="tx-from">{t("tx.from")}</label>
          <input id="tx-from" type="date" value={from} max={to || undefined}
            onChange={(e) => setFrom((e.target as HTMLInputElement).value)} data-testid="tx-from" />
        </div>
        <div class="field">
          <label for="tx-to">{t("tx.to")}</label>
          <input id="tx-to" type="date" value={to} min={from || undefined}
            onChange={(e) => setTo((e.target as HTMLInputElement).value)} data-testid="tx-to" />
        </div>
        <div class="field field-button">
          <button type="button" class="btn" onClick={download} disabled={exporting} data-testid="download-csv">
            {exporting ? t("tx.exporting") : t("tx.download")}
          </button>
        </div>
      </form>
      <ErrorBox error={exportError} />
      {exported !== null && <p class="muted" role="status" data-testid="csv-done">{t("tx.exported", { n: exported })}</p>}
      {paged.loading && <Loading />}
      <ErrorBox error={paged.error} />
      {!paged.loading && paged.data && rows.length === 0 && <Empty testid="tx-empty">{t("tx.empty")}</Empty>}
      {rows.length > 0 && (
        <div class="table-wrap">
          <table data-testid="transactions-table">
            <caption class="sr-only">{t("tx.title")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("tx.date")}</th>
                <th scope="col">{t("tx.type")}</th>
                <th scope="col">{t("tx.description")}</th>
                <th scope="col" class="right">{t("tx.credits")}</th>
                <th scope="col" class="right">{t("tx.balance_after")}</th>
                <th scope="col">{t("tx.reference")}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((tx) => (
                <tr key={tx.id} data-testid="transaction-row" data-type={tx.type} data-id={tx.id}>
                  <td>{dateTime(tx.created_at)}</td>
                  <td>{t(`tx.type.${tx.type}` as Key)}</td>
                  <td>{tx.description}</td>
                  <td class={tx.credits.startsWith("-") ? "right num neg" : "right num pos"}>{formatSignedCredits(tx.credits)}</td>
                  <td class="right num">{formatCredits(tx.balance_after)}</td>
                  <td><code class="small">{tx.reference_id ?? ""}</code></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager paged={paged} label={t("tx.pages")} />
    </section>
  );
}
