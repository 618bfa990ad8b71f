// Type-checks code written against the types openapi-typescript generated from openapi.yaml
// (copied next to them as schema.d.ts by test_generated_clients.py and compiled with
// `tsc --strict --noEmit`). It fails to compile if a closed set of the API is typed as a bare
// string, if a required field is optional, or if the request body accepts what the API refuses.
import type { components, paths } from "./schema.js";

/** true exactly when A and B are the same type. */
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

// GET /v1/transactions: a page of ledger entries whose `type` is the enum.
type TransactionPage = paths["/v1/transactions"]["get"]["responses"][200]["content"]["application/json"];
type Transaction = TransactionPage["data"][number];
const pageIsTheComponent: Equals<TransactionPage, components["schemas"]["TransactionList"]> = true;
const typeIsTheEnum: Equals<
  Transaction["type"],
  "purchase" | "generation" | "refund" | "adjustment" | "auto_topup"
> = true;

function describe(entry: Transaction): string {
  switch (entry.type) {
    case "purchase":
      return `bought ${entry.credits}`;
    case "generation":
      return `spent ${entry.credits}`;
    case "refund":
      return `refunded ${entry.credits}`;
    case "adjustment":
      return `adjusted by ${entry.credits}`;
    case "auto_topup":
      return `topped up ${entry.credits}`;
    default: {
      const unreachable: never = entry.type;
      return unreachable;
    }
  }
}

function summarize(page: TransactionPage): string[] {
  const next: string | null | undefined = page.next_cursor;
  const more: boolean = page.has_more;
  const balances: string[] = page.data.map((t) => t.balance_after);
  return [...page.data.map(describe), String(next), String(more), ...balances];
}

// POST /v1/generations: the request body, and what it answers.
type GenerationRequest = paths["/v1/generations"]["post"]["requestBody"] extends infer B
  ? NonNullable<B> extends { content: { "application/json": infer J } }
    ? J
    : never
  : never;
type Generation = paths["/v1/generations"]["post"]["responses"][201]["content"]["application/json"];

const minimal: GenerationRequest = { model: "qwen-image", prompt: "a red fox" };
const full: GenerationRequest = {
  model: "qwen-image",
  prompt: "a red fox",
  n: 2,
  quality: "high",
  size: "1024x1024",
  response_format: "b64_json",
};
// @ts-expect-error the prompt is required
const noPrompt: GenerationRequest = { model: "qwen-image" };
// @ts-expect-error quality is a closed set
const badQuality: GenerationRequest = { model: "qwen-image", prompt: "a red fox", quality: "superb" };
// @ts-expect-error response_format is a closed set
const badFormat: GenerationRequest = { model: "qwen-image", prompt: "a red fox", response_format: "jpeg" };
// @ts-expect-error unknown fields are refused (additionalProperties: false)
const unknownField: GenerationRequest = { model: "qwen-image", prompt: "a red fox", seed: 1 };

const statusIsTheEnum: Equals<Generation["status"], "queued" | "processing" | "succeeded" | "failed" | "canceled"> = true;

function charged(generation: Generation): string {
  // Credits are exact decimal strings, never numbers.
  const credits: string = generation.credits_charged;
  const images: number = generation.images.length;
  return `${generation.id}: ${credits} for ${images} image(s)`;
}

export const checks = [
  pageIsTheComponent,
  typeIsTheEnum,
  statusIsTheEnum,
  summarize,
  charged,
  minimal,
  full,
  noPrompt,
  badQuality,
  badFormat,
  unknownField,
];
