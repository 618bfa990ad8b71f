#!/usr/bin/env python3
"""Checks the apinfer credit balance; exits non-zero when it is below a threshold.

Made for cron jobs and CI steps that should stop (or alert) before credits run out:

    pip install ./sdks/python
    APINFER_API_KEY=sk_... python examples/python/balance_check.py --threshold 500

Exit status: 0 when ``available`` is at or above the threshold, 1 when below, 2 when the API
could not be asked (bad key, network...). The key needs the ``balance:read`` scope.
"""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal, InvalidOperation

import apinfer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", default="100", help="minimum available credits (a decimal, default 100)")
    parser.add_argument("--base-url", default=None, help="the API (default: APINFER_BASE_URL or localhost)")
    args = parser.parse_args()
    try:
        threshold = Decimal(args.threshold)
    except InvalidOperation:
        parser.error(f"--threshold must be a decimal, got {args.threshold!r}")

    try:
        with apinfer.Apinfer(base_url=args.base_url) as client:
            balance = client.balance.retrieve()
    except apinfer.APIStatusError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except apinfer.ApinferError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    print(f"available: {balance.available} credits (balance {balance.balance}, held {balance.held})")
    if balance.available < threshold:
        print(f"LOW: below the threshold of {threshold} credits", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
