// End-to-end test of the generated TypeScript SDK against a real apinfer server; compiled with
// `tsc --strict` and run with node by sdk-gen/tests/e2e.rs (see the Python twin for the env).
import {
  Apinfer,
  APIStatusError,
  AuthenticationError,
  InsufficientCreditsError,
  NotFoundError,
  PaymentFailedError,
  RateLimitError,
  WebhookVerificationError,
  constructEvent,
  type TransactionView,
} from "apinfer";

declare const process: { env: Record<string, string | undefined>; exit(code: number): never };

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

const BASE = env("APINFER_E2E_BASE_URL");
const RL_BASE = env("APINFER_E2E_RL_BASE_URL");
const ADMIN_EMAIL = env("APINFER_E2E_ADMIN_EMAIL");
const ADMIN_PASSWORD = env("APINFER_E2E_ADMIN_PASSWORD");
const SCOPES = ["balance:read", "usage:read", "purchases:write", "generations:write"];

function assert(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}

function check(name: string): void {
  console.log(`ok: ${name}`);
}

async function expectError<E extends APIStatusError>(
  cls: abstract new (...args: never[]) => E,
  run: () => Promise<unknown>,
): Promise<E> {
  try {
    await run();
  } catch (err) {
    if (err instanceof cls) return err;
    throw new Error(`expected ${cls.name}, got ${String(err)}`);
  }
  throw new Error(`expected ${cls.name}, got success`);
}

async function newUser(base: string): Promise<{ key: string; accountId: string }> {
  const anon = new Apinfer({ baseURL: base, apiKey: "" });
  const email = `ts-${Math.random().toString(36).slice(2, 14)}@example.com`;
  const signup = await anon.auth.signup({ email, password: "correct horse battery" });
  const session = new Apinfer({ baseURL: base, apiKey: signup.token });
  const created = await session.apiKeys.create({ name: "e2e", scopes: SCOPES });
  return { key: created.key, accountId: signup.account.id };
}

async function adminClient(base: string): Promise<Apinfer> {
  const login = await new Apinfer({ baseURL: base, apiKey: "" }).auth.login({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD });
  return new Apinfer({ baseURL: base, apiKey: login.token });
}

/** create({wait: false}), waitFor, cancel, iterating events, and a webhook delivery verified
 * with constructEvent, on an account of its own. */
async function asyncGenerationsEventsAndWebhooks(): Promise<void> {
  const anon = new Apinfer({ baseURL: BASE, apiKey: "" });
  const email = `ts-${Math.random().toString(36).slice(2, 14)}@example.com`;
  const signup = await anon.auth.signup({ email, password: "correct horse battery" });
  const session = new Apinfer({ baseURL: BASE, apiKey: signup.token });
  const key = (await session.apiKeys.create({ name: "e2e", scopes: SCOPES })).key;
  const admin = await adminClient(BASE);
  await admin.admin.createAdjustment(signup.account.id, { credits: "20", reason: "e2e async" });
  const client = new Apinfer({ baseURL: BASE, apiKey: key });

  // A local receiver (node:http, loaded at run time: the SDK itself needs no Node types).
  const httpModule = "node:http";
  const http = await import(httpModule);
  const received: { body: string; header: string }[] = [];
  const server = http.createServer((req: any, res: any) => {
    let body = "";
    req.on("data", (chunk: any) => (body += chunk));
    req.on("end", () => {
      received.push({ body, header: req.headers["apinfer-signature"] });
      res.writeHead(200);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}/hook`;
  const endpoint = await session.webhookEndpoints.create({ url, enabled_events: ["generation.succeeded"] });
  assert(endpoint.secret.startsWith("whsec_"), "a secret");

  const request = { model: "qwen-image", prompt: "a patient fox", size: "512x512" };
  const queued = await client.generations.create(request, { wait: false });
  assert(queued.status === "queued" && queued.credits_held === "1.75", JSON.stringify(queued));
  const done = await client.generations.waitFor(queued.id, { timeoutMs: 60_000, pollIntervalMs: 100 });
  assert(done.status === "succeeded" && done.credits_charged === "1.75" && done.cost.total === "1.75", JSON.stringify(done));
  check("create({ wait: false }) queues; waitFor polls until it succeeds");

  const other = await client.generations.create({ ...request, prompt: "a fox, canceled" }, { wait: false });
  const canceled = await client.generations.cancel(other.id);
  assert(canceled.status === "canceled" || canceled.status === "succeeded", canceled.status);
  assert(canceled.credits_charged === (canceled.status === "canceled" ? "0" : "1.75"), "charged by the outcome");
  assert((await client.generations.cancel(other.id)).status === canceled.status, "canceling is idempotent");
  check(`cancel (${canceled.status})`);

  const ids: string[] = [];
  for await (const event of client.events.list({ type: "generation.succeeded", limit: 1 })) {
    ids.push(String(event.data["id"]));
  }
  assert(ids.includes(queued.id), ids.join(","));
  check("iterating events across pages");

  const deadline = Date.now() + 20_000;
  while (!received.some((r) => r.body.includes(queued.id))) {
    assert(Date.now() < deadline, "the webhook arrives");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const delivery = received.find((r) => r.body.includes(queued.id))!;
  const event = await constructEvent(delivery.body, delivery.header, endpoint.secret);
  assert(event.type === "generation.succeeded" && event.data["id"] === queued.id, JSON.stringify(event));
  for (const [body, secret] of [[delivery.body + " ", endpoint.secret], [delivery.body, "whsec_not_it"]] as const) {
    let refused = false;
    try {
      await constructEvent(body, delivery.header, secret);
    } catch (e) {
      refused = e instanceof WebhookVerificationError;
    }
    assert(refused, "a tampered body or another secret is refused");
  }
  server.close();
  check("webhook delivery verified with constructEvent");
}

async function main(): Promise<void> {
  const packages = await new Apinfer({ baseURL: BASE, apiKey: "" }).packages.list();
  assert(packages.data.length > 0 && typeof packages.data[0]!.credits === "string", "packages with decimal strings");
  check("public catalog, credits as decimal strings");

  const { key, accountId } = await newUser(BASE);
  const client = new Apinfer({ apiKey: key, baseURL: BASE });
  const admin = await adminClient(BASE);

  const balance = await client.balance.retrieve();
  assert(balance.available === "0" && balance.account_id === accountId, JSON.stringify(balance));
  check("balance");

  const current = await client.apiKeys.current();
  assert(
    current.effective_remaining === "0" && current.remaining == null && current.scopes.length === SCOPES.length,
    JSON.stringify(current),
  );
  check("the calling key describes itself");

  const genFail = await expectError(InsufficientCreditsError, () =>
    client.generations.create({ model: "qwen-image", prompt: "a red fox", size: "512x512" }),
  );
  assert(genFail.status === 402 && genFail.type === "insufficient_credits" && !!genFail.requestId, "generation 402");
  assert((await client.balance.retrieve()).held === "0", "nothing held");
  check("typed 402 InsufficientCreditsError from a generation");

  const idem = `ts-e2e-${Math.random().toString(36).slice(2)}`;
  const first = await admin.admin.createAdjustment(accountId, { credits: "100.5", reason: "e2e grant" }, { idempotencyKey: idem });
  const again = await admin.admin.createAdjustment(accountId, { credits: "100.5", reason: "e2e grant" }, { idempotencyKey: idem });
  assert(first.id === again.id && first.credits === "100.5", "replayed");
  assert((await client.balance.retrieve()).balance === "100.5", "one grant");
  check("idempotency key sent and replayed");

  // A generated key on every call to an idempotent operation, reused by its retries.
  const seen: Array<string | null> = [];
  const flakyFetch: typeof fetch = async (_input, init) => {
    seen.push(new Headers(init?.headers).get("idempotency-key"));
    if (seen.length === 1) {
      return new Response(JSON.stringify({ error: { type: "unavailable", code: "unavailable", message: "x", request_id: "req_1" } }), {
        status: 503,
        headers: { "content-type": "application/json", "retry-after": "0" },
      });
    }
    return new Response(JSON.stringify(first), { status: 201, headers: { "content-type": "application/json" } });
  };
  const mocked = new Apinfer({ apiKey: "sk_x", baseURL: "http://mock", fetch: flakyFetch });
  const entry = await mocked.admin.createAdjustment("acct_x", { credits: "1", reason: "r" });
  assert(entry.id === first.id && seen.length === 2 && !!seen[0] && seen[0] === seen[1], JSON.stringify(seen));
  check("retry after 503 reuses the generated idempotency key");

  for (let i = 0; i < 24; i++) {
    await admin.admin.createAdjustment(accountId, { credits: "0.25", reason: `page filler ${i}` });
  }
  const txs: TransactionView[] = [];
  for await (const tx of client.transactions.list({ limit: 10 })) txs.push(tx);
  assert(txs.length === 25 && new Set(txs.map((t) => t.id)).size === 25, `25 entries, got ${txs.length}`);
  const page = await client.transactions.list({ limit: 10 });
  assert(page.data.length === 10 && page.has_more && page.next_cursor !== null, "first page");
  let pages = 0;
  for await (const _p of page.iterPages()) pages++;
  assert(pages === 3, `3 pages, got ${pages}`);
  // Exact decimal sum in 1/10,000 units, as strings never become floats in the SDK.
  const units = txs.reduce((sum, t) => sum + BigInt(Math.round(Number(t.credits) * 10_000)), 0n);
  assert(units === 1_065_000n, `sum ${units}`);
  check("auto-pagination over 3 pages with for await");

  const e402 = await expectError(InsufficientCreditsError, () =>
    admin.admin.createAdjustment(accountId, { credits: "-1000000", reason: "too much" }),
  );
  assert(e402.status === 402 && e402.type === "insufficient_credits" && !!e402.requestId && !!e402.message, "402 fields");
  check("typed 402 InsufficientCreditsError from an adjustment");

  const purchase = await client.purchases.create({ package_id: "basic", payment_method: { type: "card", token: "tok_visa" } });
  assert(purchase.status === "succeeded" && purchase.credits === "100", JSON.stringify(purchase));
  assert((await client.balance.retrieve()).balance === "206.5", "credited");
  check("purchase with a card");
  const generation = await client.generations.create({ model: "qwen-image", prompt: "a red fox", size: "512x512" });
  assert(generation.status === "succeeded" && generation.credits_charged === "1.75", JSON.stringify(generation));
  const png = await client.generations.downloadImage(generation.id, 0);
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  assert(png instanceof Uint8Array && signature.every((b, i) => png[i] === b), "a PNG");
  assert((await client.balance.retrieve()).available === "204.75", "charged 1.75");
  check("generation and its PNG download");
  await asyncGenerationsEventsAndWebhooks();
  const declined = await expectError(PaymentFailedError, () =>
    client.purchases.create({ package_id: "basic", payment_method: { type: "card", token: "tok_chargeDeclined" } }),
  );
  assert(declined.status === 402 && declined.code === "card_declined", "declined");
  check("typed 402 PaymentFailedError (declined card)");

  const e401 = await expectError(AuthenticationError, () =>
    new Apinfer({ baseURL: BASE, apiKey: "sk_" + "x".repeat(40), maxRetries: 0 }).balance.retrieve(),
  );
  assert(e401.status === 401 && e401.type === "authentication_required" && !!e401.requestId, "401 fields");
  check("typed 401 AuthenticationError");

  const e404 = await expectError(NotFoundError, () =>
    admin.admin.createAdjustment("acct_doesnotexist", { credits: "1", reason: "nobody" }),
  );
  assert(e404.status === 404 && e404.type === "not_found", "404 fields");
  check("typed 404 NotFoundError");

  const rlUser = await newUser(RL_BASE);
  const rl = new Apinfer({ baseURL: RL_BASE, apiKey: rlUser.key, maxRetries: 4 });
  const started = Date.now();
  for (let i = 0; i < 6; i++) {
    assert((await rl.balance.retrieve()).balance === "0", "rate-limited balance");
  }
  const elapsed = (Date.now() - started) / 1000;
  assert(elapsed >= 1.0, `6 calls at 2/s should have waited, took ${elapsed}s`);
  const noRetry = new Apinfer({ baseURL: RL_BASE, apiKey: rlUser.key, maxRetries: 0 });
  const e429 = await expectError(RateLimitError, async () => {
    for (let i = 0; i < 6; i++) await noRetry.balance.retrieve();
  });
  assert(e429.status === 429 && !!e429.headers?.get("retry-after"), "429 with Retry-After");
  check(`rate limit waited out (${elapsed.toFixed(2)}s); typed 429 without retries`);

  console.log("typescript e2e: all checks passed");
}

main().catch((err: unknown) => {
  console.error("typescript e2e FAILED:", err);
  process.exit(1);
});
