// Generations: a form priced live (pricing quote) before anything is spent, an asynchronous
// generation followed until it finishes (with Cancel while it waits or runs), and the history.
import type { GenerationView, ModelView } from "apinfer";
import { useEffect, useState } from "preact/hooks";
import { client } from "../lib/api";
import { formatCredits } from "../lib/decimal";
import { type Key, useI18n } from "../lib/i18n";
import { Credits, Empty, ErrorBox, Loading, Pager, usePaged, useLoad } from "../ui/common";

const TIERS = ["basic", "standard", "premium"];
const QUALITIES = ["standard", "high", "ultra"] as const;
const RUNNING = ["queued", "processing"];

function StatusBadge({ status, testid }: { status: string; testid?: string }) {
  const { t } = useI18n();
  return (
    <span class={`badge status-${status}`} data-testid={testid} data-status={status}>
      {t(`gen.status.${status}` as Key)}
    </span>
  );
}

function Images({ gen, testid }: { gen: GenerationView; testid: string }) {
  const { t } = useI18n();
  return (
    <div class="images">
      {gen.images.map((img) => (
        <a key={img.index} href={img.url} target="_blank" rel="noopener">
          <img src={img.url} width={img.width} height={img.height} class="gen-image" data-testid={testid}
            alt={t("gen.image_alt", { n: img.index + 1, prompt: gen.prompt })} />
        </a>
      ))}
    </div>
  );
}

/** Follows one asynchronous generation until it is finished. */
function Tracker({ initial, onFinished }: { initial: GenerationView; onFinished: () => void }) {
  const { t } = useI18n();
  const [gen, setGen] = useState(initial);
  const [error, setError] = useState<unknown>(null);
  const [canceling, setCanceling] = useState(false);
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let delay = 500;
    const poll = async () => {
      try {
        const g = await client.generations.retrieve(initial.id);
        if (!live) return;
        setGen(g);
        if (!RUNNING.includes(g.status)) {
          onFinished();
          return;
        }
      } catch (e) {
        if (!live) return;
        setError(e);
      }
      delay = Math.min(delay * 1.5, 3000);
      timer = setTimeout(poll, delay);
    };
    if (RUNNING.includes(initial.status)) timer = setTimeout(poll, delay);
    else onFinished();
    return () => {
      live = false;
      if (timer) clearTimeout(timer);
    };
  }, [initial.id]);

  const cancel = async () => {
    setCanceling(true);
    try {
      setGen(await client.generations.cancel(gen.id));
    } catch (e) {
      setError(e);
    } finally {
      setCanceling(false);
    }
  };

  const running = RUNNING.includes(gen.status);
  return (
    <section class="card" aria-live="polite" data-testid="generation-current">
      <h2>{t("gen.current")}</h2>
      <p>
        {t("gen.status")}: <StatusBadge status={gen.status} testid="generation-status" />
        {running && <span class="spinner" aria-hidden="true" />}
      </p>
      <p class="muted small">
        {gen.model} · {t(`gen.quality.${gen.quality}` as Key)} · {gen.size} · n={gen.n} ·{" "}
        {running
          ? t("gen.held", { credits: formatCredits(gen.credits_held) })
          : t("gen.charged", { credits: formatCredits(gen.credits_charged) })}
      </p>
      {running && (
        <button type="button" class="btn btn-danger-outline" onClick={cancel} disabled={canceling} data-testid="cancel-generation">
          {t("gen.cancel")}
        </button>
      )}
      {gen.status === "failed" && (
        <p class="alert alert-error" role="alert" data-testid="generation-failed">
          {gen.error_message || t("err.upstream")}
        </p>
      )}
      {gen.status === "canceled" && <p class="muted">{t("gen.canceled_note")}</p>}
      {gen.status === "succeeded" && <Images gen={gen} testid="generation-image" />}
      <ErrorBox error={error} />
    </section>
  );
}

function GenerateForm({ onCreated }: { onCreated: (g: GenerationView) => void }) {
  const { t } = useI18n();
  const models = useLoad(() => client.models.list(), []);
  const [modelId, setModelId] = useState("");
  const [quality, setQuality] = useState<string>("standard");
  const [size, setSize] = useState("");
  const [n, setN] = useState("1");
  const [prompt, setPrompt] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const all = (models.data?.data ?? []).filter((m) => m.active !== false);
  const model: ModelView | undefined = all.find((m) => m.id === modelId);
  useEffect(() => {
    if (!modelId && all.length > 0) {
      const preferred = all.find((m) => m.id === "qwen-image") ?? all[0]!;
      setModelId(preferred.id);
    }
  }, [models.data]);
  useEffect(() => {
    if (model && !model.sizes.includes(size)) setSize(model.sizes.includes("1024x1024") ? "1024x1024" : model.sizes[0] ?? "");
  }, [modelId, models.data]);

  const count = Number(n);
  const nValid = Number.isInteger(count) && count >= 1 && count <= 10;
  const quote = useLoad(
    () => (modelId && nValid ? client.pricing.quote({ model: modelId, quality, n: count }) : Promise.resolve(null)),
    [modelId, quality, n],
  );

  const tiers = [...TIERS, ...new Set(all.map((m) => m.tier).filter((x) => !TIERS.includes(x)))];
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!modelId || !nValid || !prompt.trim()) return;
    setBusy(true);
    setError(null);
    try {
      const g = await client.generations.create(
        { model: modelId, prompt: prompt.trim(), quality, n: count, size: size || undefined },
        { wait: false },
      );
      onCreated(g);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  if (models.loading) return <Loading />;
  if (models.error) return <ErrorBox error={models.error} />;
  if (all.length === 0) return <Empty>{t("gen.no_models")}</Empty>;
  return (
    <form class="card gen-form" onSubmit={submit} data-testid="generate-form">
      <h2>{t("gen.new")}</h2>
      <div class="grid-2">
        <div class="field">
          <label for="gen-model">{t("gen.model")}</label>
          <select id="gen-model" value={modelId} onChange={(e) => setModelId((e.target as HTMLSelectElement).value)} data-testid="model-select">
            {tiers.map((tier) => {
              const inTier = all.filter((m) => m.tier === tier);
              if (inTier.length === 0) return null;
              return (
                <optgroup key={tier} label={t(`tier.${tier}` as Key)}>
                  {inTier.map((m) => (
                    <option key={m.id} value={m.id}>
                      {t("gen.model_option", { name: m.name, credits: formatCredits(m.credits_per_image) })}
                    </option>
                  ))}
                </optgroup>
              );
            })}
          </select>
        </div>
        <div class="field">
          <label for="gen-quality">{t("gen.quality")}</label>
          <select id="gen-quality" value={quality} onChange={(e) => setQuality((e.target as HTMLSelectElement).value)} data-testid="quality-select">
            {QUALITIES.map((q) => (
              <option key={q} value={q}>{t(`gen.quality.${q}` as Key)}</option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="gen-size">{t("gen.size")}</label>
          <select id="gen-size" value={size} onChange={(e) => setSize((e.target as HTMLSelectElement).value)} data-testid="size-select">
            {(model?.sizes ?? []).map((s) => (
              <option key={s} value={s}>{s}</option>
            ))}
          </select>
          <p class="hint">{t("gen.size_hint")}</p>
        </div>
        <div class="field">
          <label for="gen-n">{t("gen.n")}</label>
          <input id="gen-n" type="number" min={1} max={10} step={1} value={n} required aria-invalid={nValid ? "false" : "true"}
            onInput={(e) => setN((e.target as HTMLInputElement).value)} data-testid="n-input" />
          {!nValid && <p class="hint hint-error">{t("gen.n_hint")}</p>}
        </div>
      </div>
      <div class="field">
        <label for="gen-prompt">{t("gen.prompt")}</label>
        <textarea id="gen-prompt" rows={3} maxLength={4000} required value={prompt}
          onInput={(e) => setPrompt((e.target as HTMLTextAreaElement).value)} data-testid="prompt-input" />
      </div>
      <p class="quote" aria-live="polite">
        {t("gen.price")}:{" "}
        {quote.data ? (
          <strong>
            <span data-testid="quote-price" data-value={quote.data.total_credits}>
              {t("gen.quote", { credits: formatCredits(quote.data.total_credits) })}
            </span>
          </strong>
        ) : quote.loading ? (
          <span class="muted">{t("common.loading")}</span>
        ) : (
          "—"
        )}
        {quote.data && (
          <span class="muted small">
            {" "}
            ({t("gen.quote_detail", { per: formatCredits(quote.data.credits_per_image), n: quote.data.n })})
          </span>
        )}
      </p>
      <ErrorBox error={quote.error} />
      <ErrorBox error={error} testid="generate-error" />
      <button type="submit" class="btn btn-primary" disabled={busy || !nValid || !prompt.trim() || !modelId} data-testid="generate-button">
        {busy ? t("common.working") : t("gen.generate")}
      </button>
    </form>
  );
}

function History({ version }: { version: number }) {
  const { t, dateTime } = useI18n();
  const paged = usePaged<GenerationView>((cursor) => client.generations.list({ limit: 12, cursor }), [version]);
  const rows = paged.data?.data ?? [];
  return (
    <section class="card">
      <h2>{t("gen.history")}</h2>
      {paged.loading && <Loading />}
      <ErrorBox error={paged.error} />
      {!paged.loading && paged.data && rows.length === 0 && <Empty testid="history-empty">{t("gen.history_empty")}</Empty>}
      {rows.length > 0 && (
        <ul class="history" data-testid="generation-history">
          {rows.map((g) => (
            <li key={g.id} class="history-item" data-testid="history-item" data-id={g.id}>
              {g.images[0] ? (
                <a href={g.images[0].url} target="_blank" rel="noopener">
                  <img src={g.images[0].url} class="thumb" width={96} height={96} loading="lazy"
                    alt={t("gen.image_alt", { n: 1, prompt: g.prompt })} data-testid="history-thumb" />
                </a>
              ) : (
                <span class="thumb thumb-empty" aria-hidden="true" />
              )}
              <div class="history-text">
                <p class="prompt">{g.prompt}</p>
                <p class="muted small">
                  {dateTime(g.created_at)} · {g.model} · {t(`gen.quality.${g.quality}` as Key)} · {g.size} · n={g.n}
                </p>
                <p class="small">
                  <StatusBadge status={g.status} /> · <Credits value={g.credits_charged} /> {t("common.credits")}
                </p>
              </div>
            </li>
          ))}
        </ul>
      )}
      <Pager paged={paged} label={t("gen.pages")} />
    </section>
  );
}

export function GenerationsPage() {
  const { t } = useI18n();
  const [current, setCurrent] = useState<GenerationView | null>(null);
  const [version, setVersion] = useState(0);
  return (
    <section>
      <h1>{t("gen.title")}</h1>
      <GenerateForm onCreated={(g) => { setCurrent(g); setVersion((v) => v + 1); }} />
      {current && <Tracker key={current.id} initial={current} onFinished={() => setVersion((v) => v + 1)} />}
      <History version={version} />
    </section>
  );
}
