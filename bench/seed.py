#!/usr/bin/env python3
"""Seeds a running apinfer server for bench/run, through its HTTP API only.

Creates N users by signup, each with an API key (balance:read, generations:write) and a grant
made by the administrator (POST /v1/admin/accounts/{id}/adjustments), plus one "hot" user with a
large grant. Writes the spread keys, one a line, to OUT_DIR/keys.txt and the hot key to
OUT_DIR/hot.txt. Standard library only.

usage: seed.py BASE_URL ADMIN_EMAIL ADMIN_PASSWORD ACCOUNTS OUT_DIR
"""

import json
import os
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor

BASE, ADMIN_EMAIL, ADMIN_PASSWORD, ACCOUNTS, OUT_DIR = sys.argv[1:6]
ACCOUNTS = int(ACCOUNTS)
RUN = os.urandom(4).hex()


def call(method, path, body=None, token=None, expect=(200, 201)):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=60) as res:
            status, text = res.status, res.read()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read()
    if status not in expect:
        raise SystemExit(f"seed: {method} {path} answered {status}: {text[:300]!r}")
    return json.loads(text)


ADMIN = call("POST", "/v1/auth/login", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})["token"]


def user_with_key(name, credits):
    signup = call("POST", "/v1/auth/signup", {"email": f"{name}-{RUN}@bench.test", "password": "bench password 1"})
    token, account = signup["token"], signup["account"]["id"]
    key = call(
        "POST",
        "/v1/api-keys",
        {"name": "bench", "scopes": ["balance:read", "generations:write"]},
        token,
    )["key"]
    call(
        "POST",
        f"/v1/admin/accounts/{account}/adjustments",
        {"credits": credits, "reason": "benchmark grant"},
        ADMIN,
    )
    return key


with ThreadPoolExecutor(max_workers=8) as pool:
    keys = list(pool.map(lambda i: user_with_key(f"user{i}", "100000"), range(ACCOUNTS)))
hot = user_with_key("hot", "100000000")
with open(os.path.join(OUT_DIR, "keys.txt"), "w") as f:
    f.write("\n".join(keys) + "\n")
with open(os.path.join(OUT_DIR, "hot.txt"), "w") as f:
    f.write(hot + "\n")
print(f"seeded {len(keys)} accounts with keys, and one hot account")
