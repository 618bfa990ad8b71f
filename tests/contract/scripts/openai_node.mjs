// The official OpenAI Node SDK, unchanged, against a live apinfer.
//
//   OPENAI_SDK=<path of node_modules/openai> BASE=http://127.0.0.1:PORT KEY=sk_... node openai_node.mjs
//
// Runs every check even after one fails; prints "PASS name" or "FAIL name: why" for each and
// exits 1 if any failed.
import { pathToFileURL } from "node:url";
import { join } from "node:path";

const { default: OpenAI, NotFoundError, AuthenticationError } = await import(
  pathToFileURL(join(process.env.OPENAI_SDK, "index.mjs")).href
);
const base = process.env.BASE;
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: process.env.KEY, maxRetries: 0 });
const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

let failed = 0;
async function check(name, fn) {
  try {
    await fn();
    console.log(`PASS ${name}`);
  } catch (e) {
    failed += 1;
    console.log(`FAIL ${name}: ${e?.constructor?.name}: ${e?.message ?? e}`);
  }
}
function assert(condition, message) {
  if (!condition) throw new Error(message);
}
async function rejects(promise, type, name) {
  try {
    const value = await promise;
    throw new Error(`expected ${name}, got a success: ${JSON.stringify(value).slice(0, 300)}`);
  } catch (e) {
    if (!(e instanceof type)) throw e;
  }
}
function isPng(bytes) {
  return PNG.every((b, i) => bytes[i] === b);
}

await check("images.generate url: a signed link anyone can fetch", async () => {
  const r = await client.images.generate({ model: "qwen-image", prompt: "a red fox", size: "auto" });
  const url = r.data?.[0]?.url;
  assert(typeof url === "string" && url.startsWith(`${base}/v1/generations/`), `url: ${url}`);
  const res = await fetch(url); // no Authorization header
  const bytes = new Uint8Array(await res.arrayBuffer());
  assert(res.status === 200, `GET url without auth: ${res.status} ${new TextDecoder().decode(bytes).slice(0, 300)}`);
  assert(res.headers.get("content-type") === "image/png", `content-type ${res.headers.get("content-type")}`);
  assert(isPng(bytes), "not a PNG");
});

await check("images.generate b64_json: an inline PNG", async () => {
  const r = await client.images.generate({ model: "qwen-image", prompt: "a red fox", response_format: "b64_json" });
  const b64 = r.data?.[0]?.b64_json;
  assert(typeof b64 === "string", `b64_json: ${JSON.stringify(r.data?.[0])?.slice(0, 200)}`);
  assert(isPng(Buffer.from(b64, "base64")), "not a PNG");
});

await check("models.list includes qwen-image, owned_by set", async () => {
  const ids = [];
  for await (const model of client.models.list()) {
    ids.push(model.id);
    if (model.id === "qwen-image") assert(typeof model.owned_by === "string" && model.owned_by, "owned_by unset");
  }
  assert(ids.includes("qwen-image"), `ids: ${ids}`);
});

await check("models.retrieve('qwen-image')", async () => {
  const model = await client.models.retrieve("qwen-image");
  assert(model.id === "qwen-image", JSON.stringify(model));
});

await check("models.retrieve('nope') raises NotFoundError", async () => {
  await rejects(client.models.retrieve("nope"), NotFoundError, "NotFoundError");
});

await check("a bad key raises AuthenticationError", async () => {
  const bad = new OpenAI({ baseURL: `${base}/v1`, apiKey: "sk_not_a_key", maxRetries: 0 });
  await rejects(bad.images.generate({ model: "qwen-image", prompt: "a red fox" }), AuthenticationError, "AuthenticationError");
});

console.log(failed ? `${failed} check(s) failed` : "ok");
process.exit(failed ? 1 : 0);
