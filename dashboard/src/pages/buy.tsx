// Buy credits: choose a package, review its price, pick how to pay, pay, and follow the
// purchase until the credits arrive. Card numbers are typed only into the payment provider's
// own frame (the sandbox's checkout page, or Stripe Elements); apinfer receives a token.
import type { PackageView, PaymentMethodInput, PaymentProviderView, PurchaseView } from "apinfer";
import { useEffect, useRef, useState } from "preact/hooks";
import { client } from "../lib/api";
import { compareDecimal, formatCredits, formatMoney, formatUnitPrice } from "../lib/decimal";
import { type Key, packageName, useI18n } from "../lib/i18n";
import { navigate, replaceHash } from "../lib/router";
import { Credits, Empty, ErrorBox, Loading, Money, Success, useLoad } from "../ui/common";
import { QrCode } from "../ui/qr";

type Method =
  | { kind: "card" }
  | { kind: "saved"; id: string }
  | { kind: "alipay" }
  | { kind: "wechat_pay" }
  | { kind: "bank_transfer" };

interface CardToken {
  token: string;
  brand: string;
  last4: string;
}

/** What Stripe.js exposes that the dashboard uses. */
interface StripeLike {
  elements(): { create(type: "card", options?: unknown): StripeCardElement };
  createPaymentMethod(args: { type: "card"; card: StripeCardElement }): Promise<{
    paymentMethod?: { id: string; card?: { brand?: string; last4?: string } };
    error?: { message?: string };
  }>;
  handleNextAction(args: { clientSecret: string }): Promise<{ error?: { message?: string } }>;
}
interface StripeCardElement {
  mount(el: HTMLElement): void;
  destroy(): void;
}

let stripeLoading: Promise<(key: string) => StripeLike> | null = null;
let stripeInstance: StripeLike | null = null;

/** Loads Stripe.js from the URL the API names (the CSP allows exactly that origin). */
function loadStripe(provider: PaymentProviderView): Promise<StripeLike> {
  const scriptUrl = (provider as PaymentProviderView & { script_url?: string | null }).script_url;
  if (!scriptUrl || !provider.publishable_key) return Promise.reject(new Error("Stripe is not configured"));
  stripeLoading ??= new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = scriptUrl;
    script.async = true;
    script.onload = () => resolve((window as unknown as { Stripe: (key: string) => StripeLike }).Stripe);
    script.onerror = () => {
      stripeLoading = null;
      reject(new Error("Stripe.js could not be loaded"));
    };
    document.head.appendChild(script);
  });
  const key = provider.publishable_key;
  return stripeLoading.then((Stripe) => (stripeInstance ??= Stripe(key)));
}

const FINAL = ["succeeded", "failed", "refunded", "partially_refunded"];

function SandboxCard({ checkoutUrl, onToken }: { checkoutUrl: string; onToken: (t: CardToken) => void }) {
  const { t } = useI18n();
  const frame = useRef<HTMLIFrameElement>(null);
  useEffect(() => {
    const onMessage = (e: MessageEvent) => {
      // Only the provider's page, framed here, from this origin, may hand over a token.
      if (e.origin !== location.origin || e.source !== frame.current?.contentWindow) return;
      const d = e.data as { type?: unknown; token?: unknown; brand?: unknown; last4?: unknown } | null;
      if (!d || d.type !== "apinfer.sandbox.card_token" || typeof d.token !== "string") return;
      onToken({ token: d.token, brand: String(d.brand ?? ""), last4: String(d.last4 ?? "") });
    };
    window.addEventListener("message", onMessage);
    return () => window.removeEventListener("message", onMessage);
  }, [onToken]);
  const src = new URL(checkoutUrl, location.origin).href;
  return (
    <iframe ref={frame} class="card-frame" src={src} title={t("buy.card_frame")} data-testid="card-frame" />
  );
}

function StripeCard({ provider, onToken }: { provider: PaymentProviderView; onToken: (t: CardToken) => void }) {
  const { t } = useI18n();
  const mountPoint = useRef<HTMLDivElement>(null);
  const card = useRef<StripeCardElement | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    let live = true;
    loadStripe(provider).then(
      (stripe) => {
        if (!live || !mountPoint.current) return;
        card.current = stripe.elements().create("card");
        card.current.mount(mountPoint.current);
      },
      (e) => live && setError(e),
    );
    return () => {
      live = false;
      card.current?.destroy();
      card.current = null;
    };
  }, [provider.publishable_key]);
  const useCard = async () => {
    if (!stripeInstance || !card.current) return;
    setBusy(true);
    setError(null);
    const { paymentMethod, error: err } = await stripeInstance.createPaymentMethod({ type: "card", card: card.current });
    setBusy(false);
    if (err || !paymentMethod) {
      setError(new Error(err?.message ?? t("buy.card_failed")));
      return;
    }
    onToken({ token: paymentMethod.id, brand: paymentMethod.card?.brand ?? "", last4: paymentMethod.card?.last4 ?? "" });
  };
  return (
    <div class="stripe-card">
      <div ref={mountPoint} class="stripe-element" data-testid="stripe-card" />
      <ErrorBox error={error} />
      <button type="button" class="btn" onClick={useCard} disabled={busy}>
        {t("buy.use_card")}
      </button>
    </div>
  );
}

function BankTransfer({ purchase }: { purchase: PurchaseView }) {
  const { t } = useI18n();
  const bt = purchase.bank_transfer;
  if (!bt) return null;
  return (
    <div class="card" data-testid="bank-transfer">
      <h3>{t("buy.bank_title")}</h3>
      <p>{t("buy.bank_intro", { amount: formatMoney(purchase.amount) })}</p>
      <dl class="kv">
        <dt>{t("buy.bank_reference")}</dt>
        <dd><code data-testid="bank-reference">{bt.reference}</code></dd>
        <dt>{t("buy.bank_beneficiary")}</dt>
        <dd data-testid="bank-beneficiary">{bt.beneficiary}</dd>
        <dt>{t("buy.bank_name")}</dt>
        <dd data-testid="bank-name">{bt.bank_name}</dd>
        <dt>{t("buy.bank_account")}</dt>
        <dd><code data-testid="bank-account">{bt.account_number}</code></dd>
        <dt>{t("buy.amount")}</dt>
        <dd><Money value={purchase.amount} /></dd>
      </dl>
      <p class="muted">{t("buy.bank_note")}</p>
    </div>
  );
}

/** A purchase's state, followed until it is final. */
function PurchaseStatus({ initial, onBuyMore }: { initial: PurchaseView | string; onBuyMore: () => void }) {
  const { t } = useI18n();
  const [purchase, setPurchase] = useState<PurchaseView | null>(typeof initial === "string" ? null : initial);
  const [error, setError] = useState<unknown>(null);
  const id = typeof initial === "string" ? initial : initial.id;
  const balance = useLoad(
    () => (purchase?.status === "succeeded" ? client.balance.retrieve() : Promise.resolve(null)),
    [purchase?.status],
  );

  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async (first: boolean) => {
      try {
        const p = first && purchase ? purchase : await client.purchases.retrieve(id);
        if (!live) return;
        setPurchase(p);
        setError(null);
        if (!FINAL.includes(p.status)) {
          timer = setTimeout(() => poll(false), p.status === "pending" && p.bank_transfer ? 10000 : 2000);
        }
      } catch (e) {
        if (!live) return;
        setError(e);
        timer = setTimeout(() => poll(false), 5000);
      }
    };
    poll(true);
    return () => {
      live = false;
      if (timer) clearTimeout(timer);
    };
  }, [id]);

  if (!purchase) return error ? <ErrorBox error={error} /> : <Loading />;
  const action = purchase.next_action;
  const statusKey = `purchase.status.${purchase.status}` as Key;
  return (
    <section class="card" aria-live="polite" data-testid="purchase-result">
      <h2>{t("buy.purchase_title", { credits: formatCredits(purchase.credits) })}</h2>
      <p>
        {t("buy.status")}:{" "}
        <strong data-testid="purchase-status" data-status={purchase.status}>
          {t(statusKey) || purchase.status}
        </strong>
      </p>
      {purchase.status === "succeeded" && (
        <Success testid="purchase-succeeded">
          <p>{t("buy.succeeded", { credits: formatCredits(purchase.credits) })}</p>
          {balance.data && (
            <p>
              {t("buy.new_balance")}: <Credits value={balance.data.available} testid="new-balance" />
            </p>
          )}
        </Success>
      )}
      {purchase.status === "failed" && (
        <div class="alert alert-error" role="alert" data-testid="purchase-failed">
          <p>
            {purchase.failure_code && ["card_declined", "insufficient_funds", "authentication_failed"].includes(purchase.failure_code)
              ? t(`err.${purchase.failure_code === "insufficient_funds" ? "insufficient_funds" : purchase.failure_code === "card_declined" ? "card_declined" : "authentication_failed"}` as Key)
              : purchase.failure_message || t("buy.failed")}
          </p>
        </div>
      )}
      {purchase.status === "requires_action" && action?.type === "qr_code" && action.url && (
        <div class="qr-box" data-testid="wechat">
          <p>{t("buy.wechat_scan")}</p>
          <QrCode value={action.url} alt={t("buy.wechat_qr_alt")} testid="wechat-qr" />
          <p>
            <a href={action.url} target="_blank" rel="noopener" data-testid="wechat-link">
              {t("buy.wechat_link")}
            </a>
          </p>
          <p class="muted" role="status">{t("buy.waiting")}</p>
        </div>
      )}
      {purchase.status === "requires_action" && action?.type === "redirect" && action.url && (
        <div>
          <p class="muted" role="status">{t("buy.waiting")}</p>
          <p>
            <a class="btn" href={action.url} data-testid="redirect-link">
              {t("buy.continue_payment")}
            </a>
          </p>
        </div>
      )}
      {purchase.status === "requires_action" && action?.type === "use_stripe_sdk" && (
        <p class="muted" role="status">{t("buy.waiting")}</p>
      )}
      {purchase.status === "pending" && purchase.bank_transfer && <BankTransfer purchase={purchase} />}
      {(purchase.status === "pending" || purchase.status === "processing") && !purchase.bank_transfer && (
        <p class="muted" role="status" data-testid="purchase-pending">{t("buy.pending")}</p>
      )}
      <ErrorBox error={error} />
      <p class="actions">
        <button type="button" class="btn" onClick={onBuyMore} data-testid="buy-more">
          {t("buy.buy_more")}
        </button>
        <a href="#/overview">{t("nav.overview")}</a>
      </p>
    </section>
  );
}

function PackageCard({ pkg, best, onChoose }: { pkg: PackageView; best: boolean; onChoose: () => void }) {
  const { t } = useI18n();
  return (
    <article class={pkg.popular ? "package package-popular" : "package"} data-testid={`package-${pkg.id}`}>
      <div class="badges">
        {pkg.popular && <span class="badge badge-popular" data-testid="popular-badge">{t("buy.popular")}</span>}
        {best && <span class="badge badge-best" data-testid="best-value-badge">{t("buy.best_value")}</span>}
      </div>
      <h2>{packageName(t, pkg.id, pkg.name)}</h2>
      <p class="package-credits">
        <Credits value={pkg.credits} /> {t("common.credits")}
      </p>
      <p class="package-price"><Money value={pkg.price} testid={`price-${pkg.id}`} /></p>
      <p class={best ? "muted per-credit best" : "muted per-credit"} data-testid={`per-credit-${pkg.id}`}>
        {t("buy.per_credit", { price: formatUnitPrice(pkg.price_per_credit) })}
      </p>
      <button type="button" class="btn btn-primary" onClick={onChoose} data-testid={`select-${pkg.id}`}>
        {t("buy.choose", { name: packageName(t, pkg.id, pkg.name) })}
      </button>
    </article>
  );
}

function PendingPurchases() {
  const { t, dateTime } = useI18n();
  const list = useLoad(() => client.purchases.list({ limit: 20 }), []);
  const open = (list.data?.data ?? []).filter((p) => p.status === "pending" || p.status === "requires_action");
  if (open.length === 0) return null;
  return (
    <section class="card" data-testid="open-purchases">
      <h2>{t("buy.open_title")}</h2>
      <ul class="plain-list">
        {open.map((p) => (
          <li key={p.id}>
            {dateTime(p.created_at)} · <Credits value={p.credits} /> {t("common.credits")} · <Money value={p.amount} /> ·{" "}
            {t(`purchase.status.${p.status}` as Key)} ·{" "}
            <a href={`#/buy?purchase=${encodeURIComponent(p.id)}`} data-testid="open-purchase-link">{t("buy.view")}</a>
          </li>
        ))}
      </ul>
    </section>
  );
}

export function BuyPage({ query }: { query: URLSearchParams }) {
  const { t } = useI18n();
  const packages = useLoad(() => client.packages.list(), []);
  const provider = useLoad(() => client.paymentMethods.paymentProviderRetrieve(), []);
  const saved = useLoad(() => client.paymentMethods.list({ limit: 100 }), []);
  const [chosen, setChosen] = useState<PackageView | null>(null);
  const [method, setMethod] = useState<Method>({ kind: "card" });
  const [card, setCard] = useState<CardToken | null>(null);
  const [saveCard, setSaveCard] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<PurchaseView | string | null>(query.get("purchase"));
  // "Buy credits" again (the menu, a link to #/buy) starts a new purchase.
  const asked = query.get("purchase");
  useEffect(() => {
    if (!asked) {
      setResult(null);
      setChosen(null);
      setCard(null);
      setError(null);
      setMethod({ kind: "card" });
    }
  }, [asked]);

  const reset = () => {
    setResult(null);
    setChosen(null);
    setCard(null);
    setError(null);
    setMethod({ kind: "card" });
    replaceHash("buy");
    navigate("buy");
  };

  if (result) {
    return (
      <section>
        <h1>{t("buy.title")}</h1>
        <PurchaseStatus initial={result} onBuyMore={reset} />
      </section>
    );
  }

  const list = (packages.data?.data ?? []).filter((p) => p.active !== false);
  let bestPrice: string | null = null;
  for (const p of list) {
    if (bestPrice === null || compareDecimal(p.price_per_credit.amount, bestPrice) < 0) bestPrice = p.price_per_credit.amount;
  }

  const pay = async () => {
    if (!chosen) return;
    setBusy(true);
    setError(null);
    try {
      let pm: PaymentMethodInput;
      if (method.kind === "card") {
        if (!card) return;
        if (saveCard) {
          const savedCard = await client.paymentMethods.create({ type: "card", token: card.token });
          pm = { type: "card", payment_method_id: savedCard.id };
        } else {
          pm = { type: "card", token: card.token };
        }
      } else if (method.kind === "saved") {
        pm = { type: "card", payment_method_id: method.id };
      } else {
        pm = { type: method.kind };
      }
      let purchase = await client.purchases.create({ package_id: chosen.id, payment_method: pm });
      const action = purchase.next_action;
      if (purchase.status === "requires_action" && action?.type === "redirect" && action.url) {
        // Come back here (Back button, or the provider's return) to see how it went.
        replaceHash("buy", { purchase: purchase.id });
        location.assign(action.url);
        return;
      }
      if (purchase.status === "requires_action" && action?.type === "use_stripe_sdk" && action.client_secret && stripeInstance) {
        const done = await stripeInstance.handleNextAction({ clientSecret: action.client_secret });
        if (done.error) setError(new Error(done.error.message ?? t("buy.failed")));
        purchase = await client.purchases.retrieve(purchase.id);
      }
      replaceHash("buy", { purchase: purchase.id });
      setResult(purchase);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  if (!chosen) {
    return (
      <section>
        <h1>{t("buy.title")}</h1>
        <p class="muted">{t("buy.intro")}</p>
        {packages.loading && <Loading />}
        <ErrorBox error={packages.error} />
        {packages.data && list.length === 0 && <Empty>{t("buy.no_packages")}</Empty>}
        <div class="packages">
          {list.map((p) => (
            <PackageCard
              key={p.id}
              pkg={p}
              best={bestPrice !== null && compareDecimal(p.price_per_credit.amount, bestPrice) === 0}
              onChoose={() => setChosen(p)}
            />
          ))}
        </div>
        <PendingPurchases />
      </section>
    );
  }

  const prov = provider.data;
  const cards = saved.data?.data ?? [];
  const ready = method.kind !== "card" || card !== null;
  const radio = (m: Method, testid: string, label: string, hint?: string) => {
    const value = m.kind === "saved" ? `saved:${m.id}` : m.kind;
    const current = method.kind === "saved" ? `saved:${method.id}` : method.kind;
    return (
      <div class="radio" key={value}>
        <input type="radio" id={`method-${value}`} name="method" value={value} checked={current === value}
          onChange={() => setMethod(m)} data-testid={testid} />
        <label for={`method-${value}`}>
          {label}
          {hint && <span class="muted small"> — {hint}</span>}
        </label>
      </div>
    );
  };

  return (
    <section>
      <h1>{t("buy.title")}</h1>
      <section class="card" data-testid="review">
        <h2>{t("buy.review")}</h2>
        <dl class="kv">
          <dt>{t("buy.package")}</dt>
          <dd data-testid="review-package">{packageName(t, chosen.id, chosen.name)}</dd>
          <dt>{t("common.credits")}</dt>
          <dd><Credits value={chosen.credits} testid="review-credits" /></dd>
          <dt>{t("buy.price")}</dt>
          <dd><Money value={chosen.price} testid="review-price" /></dd>
          <dt>{t("buy.unit_price")}</dt>
          <dd>{formatUnitPrice(chosen.price_per_credit)}</dd>
        </dl>
        <button type="button" class="btn" onClick={() => { setChosen(null); setCard(null); }} data-testid="change-package">
          {t("buy.change_package")}
        </button>
      </section>
      <section class="card">
        <h2>{t("buy.how_to_pay")}</h2>
        <fieldset>
          <legend>{t("buy.method")}</legend>
          {radio({ kind: "card" }, "method-card", t("buy.method_card"), t("buy.method_card_hint"))}
          {cards.map((c) =>
            radio({ kind: "saved", id: c.id }, `method-saved-${c.id}`,
              t("buy.saved_card", { brand: c.brand.toUpperCase(), last4: c.last4, month: String(c.exp_month).padStart(2, "0"), year: c.exp_year })),
          )}
          {radio({ kind: "alipay" }, "method-alipay", t("buy.method_alipay"))}
          {radio({ kind: "wechat_pay" }, "method-wechat_pay", t("buy.method_wechat"))}
          {radio({ kind: "bank_transfer" }, "method-bank_transfer", t("buy.method_bank"), t("buy.method_bank_hint"))}
        </fieldset>
        {method.kind === "card" && (
          <div class="card-entry">
            {provider.loading && <Loading />}
            <ErrorBox error={provider.error} />
            {prov && !card && prov.provider === "stripe" && <StripeCard provider={prov} onToken={setCard} />}
            {prov && !card && prov.provider !== "stripe" && prov.checkout_url && (
              <SandboxCard checkoutUrl={prov.checkout_url} onToken={setCard} />
            )}
            {card && (
              <p class="alert alert-success" role="status" data-testid="card-ready">
                {t("buy.card_ready", { brand: card.brand.toUpperCase(), last4: card.last4 })}{" "}
                <button type="button" class="btn btn-link" onClick={() => setCard(null)} data-testid="change-card">
                  {t("buy.other_card")}
                </button>
              </p>
            )}
            <div class="checkbox">
              <input type="checkbox" id="save-card" checked={saveCard}
                onChange={(e) => setSaveCard((e.target as HTMLInputElement).checked)} data-testid="save-card" />
              <label for="save-card">{t("buy.save_card")}</label>
            </div>
            <p class="muted small">{t("buy.card_privacy")}</p>
          </div>
        )}
        <ErrorBox error={error} testid="pay-error" />
        <p class="actions">
          <button type="button" class="btn btn-primary btn-large" onClick={pay} disabled={busy || !ready} data-testid="pay-button">
            {busy ? t("common.working") : t("buy.pay", { price: formatMoney(chosen.price) })}
          </button>
          {!ready && <span class="muted small" data-testid="card-needed">{t("buy.card_needed")}</span>}
        </p>
      </section>
    </section>
  );
}
