// Overview: balance, held and available credits, the low-balance warning, the member's monthly
// limit, recent ledger entries, and the way to buy more.
import { useEffect } from "preact/hooks";
import type { MeView } from "apinfer";
import { client } from "../lib/api";
import { compareDecimal, formatCredits, formatSignedCredits } from "../lib/decimal";
import { type Key, useI18n } from "../lib/i18n";
import { Credits, Empty, ErrorBox, Loading, useLoad } from "../ui/common";
import { useSession } from "../ui/session";

/** The member's limit fields `me` carries in the current account (null: no limit). */
export function memberLimit(me: MeView): { limit: string | null; spent: string } {
  const m = me as MeView & { monthly_spend_limit?: string | null; monthly_spent?: string };
  return { limit: m.monthly_spend_limit ?? null, spent: m.monthly_spent ?? "0" };
}

export function OverviewPage() {
  const { t, dateTime } = useI18n();
  const { me, refresh } = useSession();
  const balance = useLoad(() => client.balance.retrieve(), []);
  // What the member spent this month moves with every generation: read it afresh on each visit.
  useEffect(() => {
    refresh();
  }, []);
  const recent = useLoad(() => client.transactions.list({ limit: 5 }), []);
  const { limit, spent } = memberLimit(me);

  const b = balance.data;
  const low = b && b.low_balance_threshold != null && compareDecimal(b.available, b.low_balance_threshold) < 0;

  return (
    <section>
      <div class="page-head">
        <h1>{t("overview.title")}</h1>
        <a class="btn btn-primary" href="#/buy" data-testid="buy-credits">
          {t("overview.buy")}
        </a>
      </div>
      <p class="muted">
        {t("overview.account", { name: me.account.name, role: t(`role.${me.role}` as Key) })}
      </p>
      {balance.loading && <Loading />}
      <ErrorBox error={balance.error} />
      {b && (
        <>
          {low && (
            <div class="alert alert-warning" role="alert" data-testid="low-balance-warning">
              <p>
                {t("overview.low", { available: formatCredits(b.available), threshold: formatCredits(b.low_balance_threshold) })}
              </p>
              <p>
                <a href="#/buy">{t("overview.buy")}</a>
              </p>
            </div>
          )}
          <dl class="stats">
            <div class="stat">
              <dt>{t("overview.balance")}</dt>
              <dd><Credits value={b.balance} testid="balance" /></dd>
            </div>
            <div class="stat">
              <dt>{t("overview.held")}</dt>
              <dd><Credits value={b.held} testid="held" /></dd>
            </div>
            <div class={low ? "stat stat-low" : "stat"}>
              <dt>{t("overview.available")}</dt>
              <dd><Credits value={b.available} testid="available" /></dd>
            </div>
          </dl>
          <p class="muted small">
            {t("overview.credits_note")}{" "}
            {b.low_balance_threshold != null
              ? t("overview.threshold", { threshold: formatCredits(b.low_balance_threshold) })
              : t("overview.no_threshold")}{" "}
            <a href="#/settings">{t("nav.settings")}</a>
          </p>
        </>
      )}
      {(me.role === "member" || limit !== null) && (
        <section class="card" data-testid="member-limit">
          <h2>{t("overview.my_limit")}</h2>
          <dl class="stats">
            <div class="stat">
              <dt>{t("overview.monthly_limit")}</dt>
              <dd data-testid="monthly-limit">{limit === null ? t("overview.no_limit") : <Credits value={limit} />}</dd>
            </div>
            <div class="stat">
              <dt>{t("overview.monthly_spent")}</dt>
              <dd><Credits value={spent} testid="monthly-spent" /></dd>
            </div>
          </dl>
        </section>
      )}
      <section class="card">
        <h2>{t("overview.recent")}</h2>
        {recent.loading && <Loading />}
        <ErrorBox error={recent.error} />
        {recent.data && recent.data.data.length === 0 && <Empty>{t("tx.empty")}</Empty>}
        {recent.data && recent.data.data.length > 0 && (
          <ul class="plain-list" data-testid="recent-transactions">
            {recent.data.data.map((tx) => (
              <li key={tx.id}>
                <span class="muted">{dateTime(tx.created_at)}</span> · {tx.description} ·{" "}
                <span class={tx.credits.startsWith("-") ? "num neg" : "num pos"}>{formatSignedCredits(tx.credits)}</span>
              </li>
            ))}
          </ul>
        )}
        <p>
          <a href="#/transactions">{t("overview.all_transactions")}</a>
        </p>
      </section>
    </section>
  );
}
