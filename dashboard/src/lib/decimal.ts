// Exact decimal helpers for credits and money. The API sends both as decimal strings; they are
// shown as given (grouped by string manipulation) and compared or multiplied as scaled BigInts,
// never as floating-point numbers.

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

/** Whether `s` is a non-negative decimal with at most `maxFraction` fractional digits. */
export function isDecimal(s: string, maxFraction = 4): boolean {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(s.trim());
  return m !== null && (m[2] ?? "").length <= maxFraction;
}

function groupThousands(int: string): string {
  let out = "";
  for (let i = 0; i < int.length; i++) {
    if (i > 0 && (int.length - i) % 3 === 0) out += ",";
    out += int[i];
  }
  return out;
}

/** `"5000"` → `"5,000"`, `"-1.7500"` → `"-1.75"`: grouped, trailing fractional zeros dropped. */
export function formatCredits(value: string | null | undefined): string {
  if (value === null || value === undefined) return "—";
  const m = DECIMAL.exec(value.trim());
  if (!m) return value;
  const sign = m[1] ?? "";
  const int = (m[2] ?? "0").replace(/^0+(?=\d)/, "");
  const frac = (m[3] ?? "").replace(/0+$/, "");
  return sign + groupThousands(int) + (frac ? "." + frac : "");
}

/** Credits with an explicit `+` on positive amounts (ledger entries). */
export function formatSignedCredits(value: string): string {
  const f = formatCredits(value);
  return /^\d/.test(f) && !/^0(\.0+)?$/.test(f) ? "+" + f : f;
}

/** A decimal string scaled to an integer number of `10^-scale` units (truncating extra digits). */
export function toUnits(value: string, scale: number): bigint {
  const m = DECIMAL.exec(value.trim());
  if (!m) throw new Error(`not a decimal: ${value}`);
  const frac = (m[3] ?? "").padEnd(scale, "0").slice(0, scale);
  const units = BigInt((m[2] ?? "0") + frac);
  return m[1] === "-" ? -units : units;
}

/** An integer number of `10^-scale` units as a decimal string with exactly `scale` digits. */
export function fromUnits(units: bigint, scale: number): string {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(scale + 1, "0");
  const int = digits.slice(0, digits.length - scale);
  const frac = digits.slice(digits.length - scale);
  return (negative ? "-" : "") + int + (scale > 0 ? "." + frac : "");
}

/** -1, 0 or 1 as `a` is less than, equal to or greater than `b`. */
export function compareDecimal(a: string, b: string): number {
  const x = toUnits(a, 4);
  const y = toUnits(b, 4);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Whether the decimal is greater than zero. */
export function isPositive(value: string): boolean {
  return toUnits(value, 4) > 0n;
}

/** Money as `¥1,234.50` (CNY) or `1,234.50 USD` (any other currency). */
export function formatMoney(money: { amount: string; currency: string } | null | undefined): string {
  if (!money) return "—";
  let fixed: string;
  try {
    fixed = fromUnits(toUnits(money.amount, 2), 2);
  } catch {
    return `${money.amount} ${money.currency}`;
  }
  const negative = fixed.startsWith("-");
  const [int = "0", frac = "00"] = (negative ? fixed.slice(1) : fixed).split(".");
  const body = groupThousands(int) + "." + frac;
  if (money.currency === "CNY") return (negative ? "-¥" : "¥") + body;
  return (negative ? "-" : "") + body + " " + money.currency;
}

/** A unit price (up to 4 fractional digits) as `¥0.01` or `¥0.0125`: at least two digits. */
export function formatUnitPrice(money: { amount: string; currency: string }): string {
  const m = DECIMAL.exec(money.amount.trim());
  if (!m) return `${money.amount} ${money.currency}`;
  let frac = (m[3] ?? "").replace(/0+$/, "");
  if (frac.length < 2) frac = frac.padEnd(2, "0");
  const body = groupThousands(m[2] ?? "0") + "." + frac;
  return money.currency === "CNY" ? "¥" + body : body + " " + money.currency;
}
