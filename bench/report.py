#!/usr/bin/env python3
"""Prints bench/run's table: each figure, and the ratios the targets (issue 8) are stated in.

usage: report.py RESULTS_TSV
Rows: name, backend, scenario, per_second, p50_us, p99_us, non_2xx, note.
"""

import sys

rows = {}
order = []
with open(sys.argv[1]) as f:
    for line in f:
        name, backend, scenario, rate, p50, p99, non2xx, note = line.rstrip("\n").split("\t")
        key = (name, backend, scenario)
        rows[key] = {"rate": float(rate or 0), "p50": p50, "p99": p99, "non2xx": non2xx, "note": note}
        order.append(key)


def us(v):
    if v in ("", "-"):
        return "-"
    v = int(v)
    return f"{v / 1000:.2f} ms" if v >= 1000 else f"{v} µs"


print()
print(f"{'measurement':<44} {'per second':>11} {'p50':>10} {'p99':>10} {'non-2xx':>8}  note")
labels = {
    "healthz": "GET /healthz",
    "balance": "GET /v1/balance (key)",
    "generation": "POST /v1/generations",
    "spend_tx": "raw spend tx (core bench)",
    "pgbench": "pgbench spend tx",
}
for key in order:
    name, backend, scenario = key
    r = rows[key]
    label = f"{backend:<8} {labels.get(name, name)}" + ("" if scenario == "-" else f" [{scenario}]")
    print(f"{label:<44} {r['rate']:>11.0f} {us(r['p50']):>10} {us(r['p99']):>10} {r['non2xx']:>8}  {r['note']}")


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
