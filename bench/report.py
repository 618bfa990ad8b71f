#!/usr/bin/env python3
"""Prints bench/run's table: each figure, the ratios the throughput targets (issue 8) are stated
in, and the bounds of issue 22 (peak RSS, p99 against p50).

usage: report.py RESULTS_TSV
Rows: name, backend, scenario, per_second, p50_us, p99_us, non_2xx, note[, peak_rss_kib].
"""

import sys

rows = {}
order = []
with open(sys.argv[1]) as f:
    for line in f:
        fields = line.rstrip("\n").split("\t")
        name, backend, scenario, rate, p50, p99, non2xx, note = fields[:8]
        rss = fields[8] if len(fields) > 8 and fields[8] not in ("", "-") else None
        key = (name, backend, scenario)
        rows[key] = {"rate": float(rate or 0), "p50": p50, "p99": p99, "non2xx": non2xx, "note": note, "rss": rss}
        order.append(key)


def us(v):
    if v in ("", "-"):
        return "-"
    v = int(v)
    return f"{v / 1000:.2f} ms" if v >= 1000 else f"{v} µs"


print()
print(f"{'measurement':<44} {'per second':>11} {'p50':>10} {'p99':>10} {'non-2xx':>8} {'peak RSS':>9}  note")
labels = {
    "healthz": "GET /healthz",
    "balance": "GET /v1/balance (key)",
    "generation": "POST /v1/generations",
    "spend_tx": "raw spend tx (core bench)",
    "pgbench": "pgbench spend tx",
    "seed": "seeding (sign-ups, keys)",
    "storage": "new-prompt generations stored",
    "retention": "short image retention",
}


def mib(kib):
    return "-" if kib is None else f"{int(kib) / 1024:.0f} MiB"


for key in order:
    name, backend, scenario = key
    r = rows[key]
    label = f"{backend:<8} {labels.get(name, name)}" + ("" if scenario == "-" else f" [{scenario}]")
    print(f"{label:<44} {r['rate']:>11.0f} {us(r['p50']):>10} {us(r['p99']):>10} {r['non2xx']:>8} {mib(r['rss']):>9}  {r['note']}")


def rate(name, backend, scenario):
    r = rows.get((name, backend, scenario))
    return r["rate"] if r else None


def ratio(a, b):
    return None if not a or not b else a / b


print()
print("ratios and targets")
checks = []
for backend in ("sqlite", "postgres"):
    health = rate("healthz", backend, "-")
    bal = rate("balance", backend, "spread")
    spread = rate("generation", backend, "spread")
    hot = rate("generation", backend, "hot")
    ceiling_spread = rate("spend_tx", backend, "spread")
    ceiling_hot = rate("spend_tx", backend, "hot")
    if health is None:
        continue
    r = ratio(bal, health)
    target = 0.35 if backend == "sqlite" else None
    checks.append((f"{backend}: balance / healthz", r, target))
    checks.append((f"{backend}: generation spread / raw spend tx spread", ratio(spread, ceiling_spread), 0.50))
    checks.append((f"{backend}: generation hot / raw spend tx hot", ratio(hot, ceiling_hot), None))
    checks.append((f"{backend}: generation hot / generation spread", ratio(hot, spread), 0.80 if backend == "sqlite" else None))
    unique = rate("generation", backend, "unique")
    checks.append((f"{backend}: generation unique prompts / raw spend tx spread", ratio(unique, ceiling_spread), None))
    if backend == "postgres":
        pg_spread = rate("pgbench", "postgres", "spread")
        pg_hot = rate("pgbench", "postgres", "hot")
        checks.append(("postgres: generation spread / pgbench spread", ratio(spread, pg_spread), None))
        # The target: one hot account above the row-lock ceiling (pgbench on one row; ~1.7k/s seen here).
        checks.append(("postgres: generation hot / pgbench hot (row-lock ceiling)", ratio(hot, pg_hot), 1.0))
for label, value, target in checks:
    if value is None:
        print(f"  {label:<58} {'n/a':>8}")
        continue
    verdict = ""
    if target is not None:
        verdict = f"target >= {target:.0%}: " + ("met" if value >= target else "MISSED")
    print(f"  {label:<58} {value:>8.1%}  {verdict}")

print()
print("footprint and tails (issue 22)")
peaks = [(int(r["rss"]), key) for key, r in rows.items() if r["rss"]]
if peaks:
    peak, key = max(peaks)
    verdict = "met" if peak <= 250 * 1024 else "MISSED"
    print(f"  {'peak RSS of the server, all scenarios':<58} {peak / 1024:>6.0f} MiB  target <= 250 MiB: {verdict} ({key[1]} {key[0]} {key[2]})")
for key in order:
    name, backend, scenario = key
    r = rows[key]
    if name not in ("healthz", "balance", "generation") or r["p50"] in ("", "-") or r["p99"] in ("", "-"):
        continue
    tail = int(r["p99"]) / max(int(r["p50"]), 1)
    label = f"{backend}: {labels.get(name, name)}" + ("" if scenario == "-" else f" [{scenario}]") + " p99 / p50"
    print(f"  {label:<58} {tail:>8.1f}x  target <= 10x: {'met' if tail <= 10 else 'MISSED'}")
