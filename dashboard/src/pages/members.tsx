// Members of family and business accounts: the list with each member's monthly limit and what
// they spent, adding by email, removing, and usage per member. Personal accounts are told that
// shared accounts are available on request; members see their own limit.
import type { MemberRole, MemberView } from "apinfer";
import { useState } from "preact/hooks";
import { client } from "../lib/api";
import { isDecimal } from "../lib/decimal";
import { type Key, useI18n } from "../lib/i18n";
import { ConfirmButton, Credits, Empty, ErrorBox, Loading, Success, useLoad, utcDay, nextDay } from "../ui/common";
import { isManager, useSession } from "../ui/session";
import { memberLimit } from "./overview";

function AddMember({ onAdded }: { onAdded: () => void }) {
  const { t } = useI18n();
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<MemberRole>("member");
  const [limit, setLimit] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [added, setAdded] = useState<string | null>(null);
  const limitValid = limit.trim() === "" || isDecimal(limit);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!email.trim() || !limitValid) return;
    setBusy(true);
    setError(null);
    setAdded(null);
    try {
      const m = await client.members.create({ email: email.trim(), role, monthly_spend_limit: limit.trim() || null });
      setAdded(m.email);
      setEmail("");
      setLimit("");
      onAdded();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card" onSubmit={submit} data-testid="add-member-form">
      <h2>{t("members.add")}</h2>
      <div class="grid-3">
        <div class="field">
          <label for="member-email">{t("auth.email")}</label>
          <input id="member-email" type="email" required value={email}
            onInput={(e) => setEmail((e.target as HTMLInputElement).value)} data-testid="member-email" />
        </div>
        <div class="field">
          <label for="member-role">{t("members.role")}</label>
          <select id="member-role" value={role} onChange={(e) => setRole((e.target as HTMLSelectElement).value)} data-testid="member-role">
            <option value="member">{t("role.member")}</option>
            <option value="admin">{t("role.admin")}</option>
          </select>
        </div>
        <div class="field">
          <label for="member-limit">{t("members.limit")}</label>
          <input id="member-limit" inputMode="decimal" value={limit} placeholder={t("keys.no_limit")} aria-invalid={limitValid ? "false" : "true"}
            onInput={(e) => setLimit((e.target as HTMLInputElement).value)} data-testid="member-limit" />
        </div>
      </div>
      <p class="hint">{t("members.add_hint")}</p>
      <ErrorBox error={error} testid="add-member-error" />
      {added && <Success testid="member-added">{t("members.added", { email: added })}</Success>}
      <button type="submit" class="btn btn-primary" disabled={busy || !email.trim() || !limitValid} data-testid="add-member">
        {busy ? t("common.working") : t("members.add_button")}
      </button>
    </form>
  );
}

export function MembersPage() {
  const { t, date } = useI18n();
  const { me } = useSession();
  const [version, setVersion] = useState(0);
  const [error, setError] = useState<unknown>(null);
  const shared = me.account.type !== "personal";
  const manager = isManager(me);
  const members = useLoad(
    async () => {
      if (!shared || !manager) return [] as MemberView[];
      const out: MemberView[] = [];
      for await (const m of client.members.list({ limit: 100 })) out.push(m);
      return out;
    },
    [version],
  );
  const usage = useLoad(
    () => (shared ? client.usage.retrieve({ group_by: "member", from: utcDay(-29), to: nextDay(utcDay(0)) }) : Promise.resolve(null)),
    [version],
  );
  const used = new Map((usage.data?.buckets ?? []).map((b) => [b.key, b.credits]));
  const { limit, spent } = memberLimit(me);

  const remove = async (m: MemberView) => {
    setError(null);
    try {
      await client.members.delete(m.user_id);
      setVersion((v) => v + 1);
    } catch (e) {
      setError(e);
    }
  };

  if (!shared) {
    return (
      <section>
        <h1>{t("members.title")}</h1>
        <div class="card" data-testid="members-personal">
          <p>{t("members.personal")}</p>
          <p class="muted">{t("members.personal_more")}</p>
        </div>
      </section>
    );
  }

  return (
    <section>
      <h1>{t("members.title")}</h1>
      <p class="muted">{t("members.intro", { name: me.account.name, type: t(`account.type.${me.account.type}` as Key) })}</p>
      <section class="card" data-testid="my-membership">
        <h2>{t("members.mine")}</h2>
        <dl class="kv">
          <dt>{t("members.role")}</dt>
          <dd data-testid="my-role">{t(`role.${me.role}` as Key)}</dd>
          <dt>{t("overview.monthly_limit")}</dt>
          <dd data-testid="my-limit">{limit === null ? t("overview.no_limit") : <Credits value={limit} />}</dd>
          <dt>{t("overview.monthly_spent")}</dt>
          <dd><Credits value={spent} testid="my-spent" /></dd>
        </dl>
      </section>
      {manager ? (
        <>
          <AddMember onAdded={() => setVersion((v) => v + 1)} />
          <section class="card">
            <h2>{t("members.list")}</h2>
            <ErrorBox error={error} />
            {members.loading && <Loading />}
            <ErrorBox error={members.error} />
            {!members.loading && members.data && members.data.length === 0 && <Empty>{t("members.empty")}</Empty>}
            {members.data && members.data.length > 0 && (
              <div class="table-wrap">
                <table data-testid="members-table">
                  <thead>
                    <tr>
                      <th scope="col">{t("members.member")}</th>
                      <th scope="col">{t("members.role")}</th>
                      <th scope="col" class="right">{t("members.limit")}</th>
                      <th scope="col" class="right">{t("members.spent")}</th>
                      <th scope="col" class="right">{t("members.used_30")}</th>
                      <th scope="col">{t("members.joined")}</th>
                      <th scope="col"><span class="sr-only">{t("common.actions")}</span></th>
                    </tr>
                  </thead>
                  <tbody>
                    {members.data.map((m) => (
                      <tr key={m.user_id} data-testid="member-row" data-email={m.email}>
                        <td>{m.name ? `${m.name} <${m.email}>` : m.email}</td>
                        <td>{t(`role.${m.role}` as Key)}</td>
                        <td class="right">{m.monthly_spend_limit != null ? <Credits value={m.monthly_spend_limit} /> : t("overview.no_limit")}</td>
                        <td class="right"><Credits value={m.spent_this_month} /></td>
                        <td class="right"><Credits value={used.get(m.user_id) ?? "0"} /></td>
                        <td>{date(m.joined_at)}</td>
                        <td>
                          {m.role !== "owner" && m.user_id !== me.user.id && (
                            <ConfirmButton label={t("members.remove")} confirmLabel={t("members.confirm_remove", { email: m.email })}
                              onConfirm={() => remove(m)} testid="remove-member" />
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
            <ErrorBox error={usage.error} />
          </section>
        </>
      ) : (
        <p class="alert alert-info" data-testid="members-manager-only">{t("members.manager_only")}</p>
      )}
    </section>
  );
}
