#!/usr/bin/env python3
"""The asynchronous-generation benchmark: many generations queued at once against a slow upstream.

Starts a local OpenAI-compatible image provider that answers each call after DELAY seconds and
counts the calls in flight; starts `apinfer serve` on DATABASE_URL with every model sent to it and
APINFER_ASYNC_CONCURRENCY=BOUND; seeds ACCOUNTS accounts through the API; queues GENERATIONS
generations (`Prefer: respond-async`) from 16 client threads, round-robin over the accounts; waits
until every one has finished; then reads each generation's timings from the API.

Prints one line: throughput (generations finished per second, from the first queued to the last
finished), its ceiling (BOUND / DELAY: the bound's worth of upstream calls always in flight), p50
and p99 of the time from queued to succeeded, the most calls the upstream saw in flight at once
(which must not exceed BOUND), and how many did not succeed. Exits non-zero if the bound was passed
or any generation did not succeed. Standard library only.

usage: async_queue.py APINFER_BIN DATABASE_URL [GENERATIONS=1000] [BOUND=32] [DELAY=1.0] [ACCOUNTS=20]
"""

import base64
import http.server
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

BIN, DATABASE_URL = sys.argv[1:3]
GENERATIONS = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
BOUND = int(sys.argv[4]) if len(sys.argv) > 4 else 32
DELAY = float(sys.argv[5]) if len(sys.argv) > 5 else 1.0
ACCOUNTS = int(sys.argv[6]) if len(sys.argv) > 6 else 20


def png(width, height):
    raw = b"".join(b"\x00" + b"\x80\x80\xc0" * width for _ in range(height))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


IMAGE = base64.b64encode(png(512, 512)).decode()
lock = threading.Lock()
in_flight = 0
most_in_flight = 0
calls = 0


class Upstream(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        global in_flight, most_in_flight, calls
        length = int(self.headers.get("content-length", 0))
        request = json.loads(self.rfile.read(length) or b"{}")
        with lock:
            calls += 1
            in_flight += 1
            most_in_flight = max(most_in_flight, in_flight)
        try:
            time.sleep(DELAY)
            body = json.dumps({"created": 1, "data": [{"b64_json": IMAGE}] * int(request.get("n", 1))}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        finally:
            with lock:
                in_flight -= 1

    def log_message(self, *args):
        pass


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
upstream.daemon_threads = True
threading.Thread(target=upstream.serve_forever, daemon=True).start()

port = free_port()
BASE = f"http://127.0.0.1:{port}"
env = dict(
    os.environ,
    APINFER_CONFIG="/nonexistent",
    APINFER_DATABASE_URL=DATABASE_URL,
    APINFER_JWT_SECRET="bench-jwt-secret-0123456789",
    APINFER_RATE_LIMIT_PER_SECOND="1000000",
    APINFER_RATE_LIMIT_BURST="1000000",
    APINFER_AUTH_RATE_LIMIT_PER_MINUTE="1000000",
    APINFER_UPSTREAM_BASE_URL=f"http://127.0.0.1:{upstream.server_address[1]}/v1",
    APINFER_UPSTREAM_API_KEY="bench",
    APINFER_UPSTREAM_MODELS="*",
    APINFER_UPSTREAM_MAX_RETRIES="0",
    APINFER_ASYNC_CONCURRENCY=str(BOUND),
    APINFER_ASYNC_CONCURRENCY_PER_ACCOUNT=str(BOUND),
    APINFER_ASYNC_QUEUE_TIMEOUT_SECONDS="3600",
    APINFER_WORKER_INTERVAL_MS="200",
    RUST_LOG="warn",
)
subprocess.run([BIN, "admin", "create-user", "--email", "admin@async.test", "--password", "bench admin password",
                "--admin"], env=env, check=True, stdout=subprocess.DEVNULL)
server = subprocess.Popen([BIN, "serve", "--addr", f"127.0.0.1:{port}"], env=env, stdout=subprocess.DEVNULL,
                          stderr=sys.stderr)


def call(method, path, body=None, token=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header("content-type", "application/json")
    for name, value in (headers or {}).items():
        req.add_header(name, value)
    if token:
        req.add_header("authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=120) as res:
            return res.status, json.loads(res.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


try:
    for _ in range(100):
        try:
            urllib.request.urlopen(BASE + "/readyz", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    admin = call("POST", "/v1/auth/login", {"email": "admin@async.test", "password": "bench admin password"})[1]["token"]
    keys = []
    run = os.urandom(4).hex()
    for i in range(ACCOUNTS):
        signup = call("POST", "/v1/auth/signup", {"email": f"a{i}-{run}@async.test", "password": "bench password 1"})[1]
        scopes = ["balance:read", "generations:write", "usage:read"]
        keys.append(call("POST", "/v1/api-keys", {"name": "bench", "scopes": scopes}, signup["token"])[1]["key"])
        grant = {"credits": "100000", "reason": "benchmark grant"}
        call("POST", f"/v1/admin/accounts/{signup['account']['id']}/adjustments", grant, admin)

    request = {"model": "qwen-image", "prompt": "a queued lighthouse", "size": "512x512"}

    def queue(i):
        key = keys[i % len(keys)]
        status, body = call("POST", "/v1/generations", request, key, {"Prefer": "respond-async"})
        if status != 202:
            raise SystemExit(f"queueing answered {status}: {body}")
        return key, body["id"]

    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as pool:
        queued = list(pool.map(queue, range(GENERATIONS)))
    queued_in = time.monotonic() - began

    def finished(item):
        key, gid = item
        while True:
            status, body = call("GET", f"/v1/generations/{gid}", token=key)
            if body.get("status") in ("succeeded", "failed", "canceled"):
                return body
            time.sleep(0.5)

    with ThreadPoolExecutor(max_workers=8) as pool:
        done = list(pool.map(finished, queued))

    def at(text):
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    waits = sorted((at(g["timings"]["finished_at"]) - at(g["timings"]["queued_at"])).total_seconds() for g in done)
    first = min(at(g["timings"]["queued_at"]) for g in done)
    last = max(at(g["timings"]["finished_at"]) for g in done)
    span = (last - first).total_seconds()
    throughput = len(done) / span if span > 0 else 0.0
    ceiling = BOUND / DELAY
    failed = sum(1 for g in done if g["status"] != "succeeded")
    p50 = waits[len(waits) // 2]
    p99 = waits[min(len(waits) - 1, int(len(waits) * 0.99))]
    print(
        f"async generations={GENERATIONS} bound={BOUND} upstream_delay_s={DELAY} queued_in_s={queued_in:.2f} "
        f"throughput_per_s={throughput:.1f} ceiling_per_s={ceiling:.1f} ratio={throughput / ceiling:.2f} "
        f"queued_to_succeeded_p50_s={p50:.2f} p99_s={p99:.2f} upstream_calls={calls} "
        f"max_in_flight={most_in_flight} not_succeeded={failed}",
        flush=True,
    )
    if most_in_flight > BOUND:
        print(f"async_queue: the upstream saw {most_in_flight} calls at once, over the bound {BOUND}", file=sys.stderr)
    for g in done:
        if g["status"] != "succeeded":
            print(f"async_queue: {g['id']} ended {g['status']}: {json.dumps(g.get('error'))}", file=sys.stderr)
    if most_in_flight > BOUND or failed:
        sys.exit(1)
finally:
    server.terminate()
    server.wait()
    upstream.shutdown()
