// Buys a credit package with a card, generates an image, and saves it.
//
//   npm install ./sdks/typescript
//   APINFER_API_KEY=sk_... node buy_and_generate.js basic "a red fox in the snow" fox.png
//
// The key needs the `purchases:write` and `generations:write` scopes. The card token below is
// the sandbox payment provider's test Visa token: against a production server, use the token
// the payment provider's own page or script (Stripe.js) made for the customer's card, or a
// saved `payment_method_id`. apinfer never receives card numbers.
import { writeFile } from "node:fs/promises";

import { Apinfer, InsufficientCreditsError, PaymentFailedError } from "apinfer";

async function main(): Promise<void> {
  const [packageId = "basic", prompt = "a lighthouse at dawn, watercolor", output = "image.png"] = process.argv.slice(2);
  const client = new Apinfer(); // APINFER_API_KEY, APINFER_BASE_URL

  const quote = await client.pricing.quote({ model: "qwen-image", quality: "standard", n: 1 });
  console.log(`one image costs ${quote.total_credits} credits`);

  // One idempotency key for the purchase: re-running after a crash never buys twice.
  const purchase = await client.purchases.create(
    {
      package_id: packageId,
      payment_method: { type: "card", token: "tok_visa" },
    },
    { idempotencyKey: `buy-and-generate-${packageId}-${new Date().toISOString().slice(0, 10)}` },
  );
  console.log(`purchase ${purchase.id}: ${purchase.status}, +${purchase.credits} credits`);

  const generation = await client.generations.create({ model: "qwen-image", prompt, size: "512x512" });
  console.log(`generation ${generation.id}: ${generation.status}, charged ${generation.credits_charged} credits`);

  const png = await client.generations.downloadImage(generation.id, 0);
  await writeFile(output, png);
  const balance = await client.balance.retrieve();
  console.log(`saved ${png.length} bytes to ${output}; ${balance.available} credits left`);
}

main().catch((err: unknown) => {
  if (err instanceof PaymentFailedError) console.error(`payment failed: ${err.code}: ${err.message}`);
  else if (err instanceof InsufficientCreditsError) console.error(`not enough credits: ${err.message}`);
  else console.error(err);
  process.exit(1);
});
