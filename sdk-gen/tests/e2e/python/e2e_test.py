"""End-to-end test of the generated Python SDK against a real apinfer server.

Run by sdk-gen/tests/e2e.rs with APINFER_E2E_BASE_URL (a server), APINFER_E2E_RL_BASE_URL (a
server limited to 2 requests/s, burst 2) and APINFER_E2E_ADMIN_EMAIL / _PASSWORD (an admin on
both). Each check prints its name; any failure exits non-zero.
"""

from __future__ import annotations

import asyncio
import http.server
import os
import sys
import threading
import time
import uuid
from decimal import Decimal

import httpx

import apinfer
from apinfer import Apinfer, AsyncApinfer
from apinfer.webhooks import WebhookVerificationError, construct_event

BASE = os.environ["APINFER_E2E_BASE_URL"]
RL_BASE = os.environ["APINFER_E2E_RL_BASE_URL"]
ADMIN_EMAIL = os.environ["APINFER_E2E_ADMIN_EMAIL"]
ADMIN_PASSWORD = os.environ["APINFER_E2E_ADMIN_PASSWORD"]
SCOPES = ["balance:read", "usage:read", "purchases:write", "generations:write"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def check(name: str) -> None:
    print(f"ok: {name}", flush=True)


def new_user(base: str) -> tuple[Apinfer, str, str]:
    """Signs a user up; their session client, their API-key client's key, and account id."""
    anon = Apinfer(base_url=base, api_key="")
    signup = anon.auth.signup(email=f"py-{uuid.uuid4().hex[:12]}@example.com", password="correct horse battery")
    session = Apinfer(base_url=base, api_key=signup.token)
    created = session.api_keys.create(name="e2e", scopes=SCOPES)
    return session, created.key, signup.account.id


def admin_client(base: str) -> Apinfer:
    login = Apinfer(base_url=base, api_key="").auth.login(email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
    return Apinfer(base_url=base, api_key=login.token)


def async_generations_events_and_webhooks() -> None:
    """create(wait=False), wait_for, cancel, iterating events, and a webhook delivery verified
    with apinfer.webhooks, on an account of its own."""
    session, key, account_id = new_user(BASE)
    admin_client(BASE).admin.create_adjustment(account_id, credits=Decimal("20"), reason="e2e async")
    client = Apinfer(base_url=BASE, api_key=key)
    received: list[tuple[bytes, str]] = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["content-length"]))
            received.append((body, self.headers["apinfer-signature"]))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    endpoint = session.webhook_endpoints.create(url=url, enabled_events=["generation.succeeded"])
    assert endpoint.secret.startswith("whsec_"), endpoint

    queued = client.generations.create(model="qwen-image", prompt="a patient fox", size="512x512", wait=False)
    assert queued.status == "queued" and queued.credits_held == Decimal("1.75"), queued
    done = client.generations.wait_for(queued.id, timeout=60, poll_interval=0.1)
    assert done.status == "succeeded" and done.credits_charged == Decimal("1.75"), done
    assert done.cost.total == Decimal("1.75") and done.cost.quality_multiplier == "1", done.cost
    check("create(wait=False) queues; wait_for polls until it succeeds")

    other = client.generations.create(model="qwen-image", prompt="a fox, canceled", size="512x512", wait=False)
    canceled = client.generations.cancel(other.id)
    assert canceled.status in ("canceled", "succeeded"), canceled
    charged = Decimal("0") if canceled.status == "canceled" else Decimal("1.75")
    assert canceled.credits_charged == charged, canceled
    assert client.generations.cancel(other.id).status == canceled.status, "canceling is idempotent"
    assert client.balance.retrieve().balance == Decimal("18.25") - charged
    check(f"cancel ({canceled.status})")

    ids = [e.data["id"] for e in client.events.list(type="generation.succeeded", limit=1)]
    assert queued.id in ids, ids
    check("iterating events across pages")

    deadline = time.monotonic() + 20
    while not any(queued.id.encode() in body for body, _ in received):
        assert time.monotonic() < deadline, "the webhook arrives"
        time.sleep(0.05)
    body, header = next((b, h) for b, h in received if queued.id.encode() in b)
    event = construct_event(body, header, endpoint.secret)
    assert event["type"] == "generation.succeeded" and event["data"]["id"] == queued.id, event
    for tampered, secret in [(body + b" ", endpoint.secret), (body, "whsec_not_it")]:
        try:
            construct_event(tampered, header, secret)
            raise AssertionError("expected a WebhookVerificationError")
        except WebhookVerificationError:
            pass
    receiver.shutdown()
    check("webhook delivery verified with apinfer.webhooks.construct_event")


def main() -> None:
    assert apinfer.__version__, "a version"
    public = Apinfer(base_url=BASE, api_key="")
    packages = public.packages.list()
    assert packages.data and all(isinstance(p.credits, Decimal) for p in packages.data), packages
    check("public catalog, credits as Decimal")

    _session, key, account_id = new_user(BASE)
    client = Apinfer(base_url=BASE, api_key=key)
    admin = admin_client(BASE)

    balance = client.balance.retrieve()
    assert isinstance(balance.available, Decimal) and balance.available == Decimal("0"), balance
    assert balance.account_id == account_id
    check("balance")

    current = client.api_keys.current()
    assert sorted(current.scopes) == sorted(SCOPES) and current.spend_limit is None, current
    assert current.effective_remaining == current.account_available == Decimal("0"), current
    assert current.remaining is None and current.member_monthly_remaining is None, current
    check("the calling key describes itself")

    # Typed 402 from a generation the balance cannot pay for (nothing is held or charged).
    try:
        client.generations.create(model="qwen-image", prompt="a red fox", size="512x512")
        raise AssertionError("expected a 402")
    except apinfer.InsufficientCreditsError as e:
        assert e.status_code == 402 and e.type == "insufficient_credits" and e.request_id and e.message, e
        assert isinstance(e, apinfer.APIStatusError)
    assert client.balance.retrieve().held == Decimal("0")
    check("typed 402 InsufficientCreditsError from a generation")

    # Idempotency: the same explicit key twice is one ledger entry (the second answer is a replay).
    idem = f"py-e2e-{uuid.uuid4()}"
    first = admin.admin.create_adjustment(account_id, credits=Decimal("100.5"), reason="e2e grant", idempotency_key=idem)
    again = admin.admin.create_adjustment(account_id, credits=Decimal("100.5"), reason="e2e grant", idempotency_key=idem)
    assert first.id == again.id and first.credits == Decimal("100.5"), (first, again)
    assert client.balance.retrieve().balance == Decimal("100.5")
    check("idempotency key sent and replayed")

    # A generated key is sent on every call to an idempotent operation, and reused by its retries.
    seen: list[tuple[int, str | None]] = []
    calls = {"n": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        seen.append((calls["n"], request.headers.get("idempotency-key")))
        if calls["n"] == 1:
            return httpx.Response(503, json={"error": {"type": "unavailable", "code": "unavailable", "message": "x", "request_id": "req_1"}})
        return httpx.Response(201, json=first.to_json())

    mocked = Apinfer(base_url="http://mock", api_key="sk_x", http_client=httpx.Client(transport=httpx.MockTransport(flaky)))
    entry = mocked.admin.create_adjustment("acct_x", credits="1", reason="r")
    assert entry.id == first.id and len(seen) == 2 and seen[0][1] and seen[0][1] == seen[1][1], seen
    check("retry after 503 reuses the generated idempotency key")

    # Auto-pagination over several pages.
    for i in range(24):
        admin.admin.create_adjustment(account_id, credits=Decimal("0.25"), reason=f"page filler {i}")
    txs = list(client.transactions.list(limit=10))
    assert len(txs) == 25, len(txs)
    assert len({t.id for t in txs}) == 25
    page = client.transactions.list(limit=10)
    assert len(page.data) == 10 and page.has_more and page.next_cursor
    assert len(list(page.iter_pages())) == 3
    total = sum((t.credits for t in txs), Decimal("0"))
    assert total == Decimal("106.5") == client.balance.retrieve().balance, total
    check("auto-pagination over 3 pages; entries sum to the balance")

    async def run_async() -> None:
        async with AsyncApinfer(base_url=BASE, api_key=key) as aclient:
            b = await aclient.balance.retrieve()
            assert b.balance == Decimal("106.5")
            items = [t async for t in aclient.transactions.list(limit=10)]
            assert len(items) == 25
            first_page = await aclient.transactions.list(limit=10)
            assert len(first_page.data) == 10

    asyncio.run(run_async())
    check("async client: balance and auto-pagination")

    # Typed 402 from an admin removal larger than the available credits.
    try:
        admin.admin.create_adjustment(account_id, credits=Decimal("-1000000"), reason="too much")
        raise AssertionError("expected a 402")
    except apinfer.InsufficientCreditsError as e:
        assert e.status_code == 402 and e.type == "insufficient_credits" and e.request_id and e.message, e
        assert isinstance(e, apinfer.APIStatusError)
    check("typed 402 InsufficientCreditsError from an adjustment")

    # A purchase with a sandbox card, a generation, and its image.
    purchase = client.purchases.create(
        package_id="basic",
        payment_method=apinfer.types.PaymentMethodInput(type="card", token="tok_visa"),
    )
    assert purchase.status == "succeeded" and purchase.credits == Decimal("100"), purchase
    assert client.balance.retrieve().balance == Decimal("206.5")
    check("purchase with a card")
    generation = client.generations.create(model="qwen-image", prompt="a red fox", size="512x512")
    assert generation.status == "succeeded" and generation.credits_charged == Decimal("1.75"), generation
    assert generation.images and generation.images[0].width == 512
    png = client.generations.download_image(generation.id, 0)
    assert isinstance(png, bytes) and png.startswith(PNG_SIGNATURE) and len(png) > 100, png[:16]
    assert client.generations.retrieve(generation.id).id == generation.id
    assert client.balance.retrieve().available == Decimal("204.75")
    check("generation and its PNG download")
    async_generations_events_and_webhooks()
    try:
        client.purchases.create(
            package_id="basic",
            payment_method={"type": "card", "token": "tok_chargeDeclined"},
        )
        raise AssertionError("expected a 402")
    except apinfer.PaymentFailedError as e:
        assert e.status_code == 402 and e.type == "payment_failed" and e.code == "card_declined", e
    check("typed 402 PaymentFailedError (declined card)")

    # Floats are refused before anything is sent.
    try:
        admin.admin.create_adjustment(account_id, credits=1.5, reason="float")  # type: ignore[arg-type]
        raise AssertionError("expected a TypeError")
    except TypeError:
        pass
    check("floats refused for credits")

    # Typed 401.
    try:
        Apinfer(base_url=BASE, api_key="sk_" + "x" * 40, max_retries=0).balance.retrieve()
        raise AssertionError("expected a 401")
    except apinfer.AuthenticationError as e:
        assert e.status_code == 401 and e.type == "authentication_required" and e.request_id, e
    check("typed 401 AuthenticationError")

    # Typed 404.
    try:
        admin.admin.create_adjustment("acct_doesnotexist", credits="1", reason="nobody")
        raise AssertionError("expected a 404")
    except apinfer.NotFoundError as e:
        assert e.status_code == 404 and e.type == "not_found", e
    check("typed 404 NotFoundError")

    # A server rate limit (2/s, burst 2), waited out by the SDK: 6 quick calls all succeed.
    _s, rl_key, _a = new_user(RL_BASE)
    rl = Apinfer(base_url=RL_BASE, api_key=rl_key, max_retries=4)
    started = time.monotonic()
    for _ in range(6):
        assert rl.balance.retrieve().balance == Decimal("0")
    elapsed = time.monotonic() - started
    assert elapsed >= 1.0, f"6 calls at 2/s should have waited, took {elapsed:.2f}s"
    try:
        for _ in range(6):
            Apinfer(base_url=RL_BASE, api_key=rl_key, max_retries=0).balance.retrieve()
        raise AssertionError("expected a 429 without retries")
    except apinfer.RateLimitError as e:
        assert e.status_code == 429 and e.headers.get("retry-after"), e
    check(f"rate limit waited out ({elapsed:.2f}s); typed 429 without retries")

    print("python e2e: all checks passed")


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # noqa: BLE001
        import traceback

        traceback.print_exc()
        print(f"python e2e FAILED: {exc}", file=sys.stderr)
        sys.exit(1)
