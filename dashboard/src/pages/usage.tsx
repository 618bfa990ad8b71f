// Usage: credits per day (line chart) over a chosen range, per model (bar chart), and tables per
// API key and per member.
import type { UsageReport } from "apinfer";
import { useState } from "preact/hooks";
import { client } from "../lib/api";
import { formatCredits } from "../lib/decimal";
import { useI18n } from "../lib/i18n";
import { ChartView } from "../ui/chart";
import { Credits, Empty, ErrorBox, Loading, nextDay, useLoad, utcDay } from "../ui/common";
import { isManager, useSession } from "../ui/session";

/** Every day from `from` up to (not including) `to`, with its bucket's credits or 0. */
function fillDays(report: UsageReport): { labels: string[]; values: number[] } {
  const byDay = new Map(report.buckets.map((b) => [b.key.slice(0, 10), b.credits]));
  const labels: string[] = [];
  const values: number[] = [];
  let day = report.from.slice(0, 10);
  const end = report.to.slice(0, 10);
  for (let i = 0; day < end && i < 400; i++, day = nextDay(day)) {
    labels.push(day);
    values.push(Number(byDay.get(day) ?? "0"));
  }
  return { labels, values };
}

function UsageTable({ report, keyLabel, names, testid, emptyKey }: {
  report: UsageReport | undefined;
  keyLabel: string;
  names: Map<string, string>;
  testid: string;
  emptyKey: string;
}) {
  const { t } = useI18n();
  if (!report) return null;
  if (report.buckets.length === 0) return <Empty testid={`${testid}-empty`}>{t("usage.empty")}</Empty>;
  return (
    <div class="table-wrap">
      <table data-testid={testid}>
        <thead>
          <tr>
            <th scope="col">{keyLabel}</th>
            <th scope="col" class="right">{t("usage.credits")}</th>
            <th scope="col" class="right">{t("usage.generations")}</th>
            <th scope="col" class="right">{t("usage.images")}</th>
          </tr>
        </thead>
        <tbody>
          {report.buckets.map((b) => (
            <tr key={b.key} data-key={b.key}>
              <td>{b.key === "" ? emptyKey : names.get(b.key) ?? b.key}</td>
              <td class="right"><Credits value={b.credits} /></td>
              <td class="right num">{b.generations}</td>
              <td class="right num">{b.images}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function UsagePage() {
  const { t } = useI18n();
  const { me } = useSession();
  const [from, setFrom] = useState(utcDay(-29));
  const [to, setTo] = useState(utcDay(0));
  const range = { from, to: nextDay(to) };
  const valid = from !== "" && to !== "" && from <= to;

  const load = (group_by: "day" | "model" | "api_key" | "member") => () =>
    valid ? client.usage.retrieve({ ...range, group_by }) : Promise.resolve(undefined);
  const byDay = useLoad(load("day"), [from, to]);
  const byModel = useLoad(load("model"), [from, to]);
  const byKey = useLoad(load("api_key"), [from, to]);
  const byMember = useLoad(load("member"), [from, to]);
  // Names for the ids in the tables, where the caller may list them.
  const keyNames = useLoad(async () => {
    const names = new Map<string, string>();
    try {
      for await (const k of client.apiKeys.list({ limit: 100 })) names.set(k.id, `${k.name} (${k.prefix}…)`);
    } catch {
      // Shown as ids.
    }
    return names;
  }, []);
  const memberNames = useLoad(async () => {
    const names = new Map<string, string>([[me.user.id, me.user.name ? `${me.user.name} <${me.user.email}>` : me.user.email]]);
    if (isManager(me) && me.account.type !== "personal") {
      try {
        for await (const m of client.members.list({ limit: 100 })) names.set(m.user_id, m.name ? `${m.name} <${m.email}>` : m.email);
      } catch {
        // Shown as ids.
      }
    }
    return names;
  }, []);

  const days = byDay.data ? fillDays(byDay.data) : null;
  const models = byModel.data?.buckets ?? [];
  return (
    <section>
      <h1>{t("usage.title")}</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label={t("usage.range")}>
        <div class="field">
          <label for="usage-from">{t("usage.from")}</label>
          <input id="usage-from" type="date" value={from} max={to} required
            onChange={(e) => setFrom((e.target as HTMLInputElement).value)} data-testid="usage-from" />
        </div>
        <div class="field">
          <label for="usage-to">{t("usage.to")}</label>
          <input id="usage-to" type="date" value={to} min={from} required
            onChange={(e) => setTo((e.target as HTMLInputElement).value)} data-testid="usage-to" />
        </div>
      </form>
      {!valid && <p class="alert alert-error" role="alert">{t("usage.bad_range")}</p>}
      <ErrorBox error={byDay.error} />
      {byDay.data && (
        <p data-testid="usage-total">
          {t("usage.total", { credits: formatCredits(byDay.data.total_credits), generations: byDay.data.total_generations })}
        </p>
      )}
      <section class="card">
        <h2>{t("usage.per_day")}</h2>
        {byDay.loading && <Loading />}
        {days && (
          <ChartView kind="line" labels={days.labels} values={days.values} seriesLabel={t("usage.credits")}
            description={t("usage.per_day_desc", { from, to })} testid="usage-day-chart" />
        )}
      </section>
      <section class="card">
        <h2>{t("usage.per_model")}</h2>
        {byModel.loading && <Loading />}
        <ErrorBox error={byModel.error} />
        {byModel.data && models.length === 0 && <Empty testid="usage-model-empty">{t("usage.empty")}</Empty>}
        {models.length > 0 && (
          <>
            <ChartView kind="bar" labels={models.map((b) => b.key)} values={models.map((b) => Number(b.credits))}
              seriesLabel={t("usage.credits")} description={t("usage.per_model_desc")} testid="usage-model-chart" />
            <UsageTable report={byModel.data} keyLabel={t("usage.model")} names={new Map()} testid="usage-models-table" emptyKey="—" />
          </>
        )}
      </section>
      <section class="card">
        <h2>{t("usage.per_key")}</h2>
        {byKey.loading && <Loading />}
        <ErrorBox error={byKey.error} />
        <UsageTable report={byKey.data} keyLabel={t("usage.key")} names={keyNames.data ?? new Map()} testid="usage-keys-table"
          emptyKey={t("usage.no_key")} />
      </section>
      <section class="card">
        <h2>{t("usage.per_member")}</h2>
        {byMember.loading && <Loading />}
        <ErrorBox error={byMember.error} />
        <UsageTable report={byMember.data} keyLabel={t("usage.member")} names={memberNames.data ?? new Map()}
          testid="usage-members-table" emptyKey="—" />
      </section>
    </section>
  );
}
