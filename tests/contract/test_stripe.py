"""apinfer's Stripe provider against localstripe (a stateful fake Stripe server, pinned in
requirements.txt), end to end: `apinfer serve` with `APINFER_PAYMENTS_PROVIDER=stripe` and
`APINFER_STRIPE_API_BASE` pointed at localstripe, which also delivers its signed webhooks back.

A card's "token" is a PaymentMethod made at localstripe as Stripe.js would make it in the
browser (apinfer never sees the number):
* a card purchase is charged through a PaymentIntent and credited before the response, and
  the `payment_intent.succeeded` webhook that follows credits nothing more;
* a declined card answers 402 and credits nothing;
* a card that needs 3-D Secure answers `requires_action` with the client secret; once the
  customer authenticates (localstripe's Stripe.js stand-in call), the webhook credits it, once;
* a saved card is a Customer with a confirmed off-session SetupIntent, and automatic top-up
  charges it off-session;
* a refund is a Stripe Refund of the PaymentIntent, for the price paid;
* two processes on one PostgreSQL database, both webhook endpoints, credit each purchase once.
What localstripe lacks (3-D Secure redirects, Alipay, WeChat Pay, outages) is played in
tests/api/stripe.rs by a server answering with Stripe's documented shapes.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from support import OUT, VENV_BIN, apinfer_bin, free_port

WEBHOOK_SECRET = "whsec_localstripe_contract"
PASSWORD = "stripe contract pass phrase"


def _wait(url: str, process: subprocess.Popen, log: Path, what: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            pytest.fail(f"{what} exited with {process.returncode}:\n{log.read_text()}", pytrace=False)
        try:
            httpx.get(url, headers={"Authorization": "Bearer sk_test_contract"}, timeout=2)
            return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not answer in 60 s:\n{log.read_text()}", pytrace=False)
        time.sleep(0.1)


# The processes a test started: each with its log, and the name the log is kept under in OUT.
Processes = list[tuple[subprocess.Popen, Path, str]]


def _start_localstripe(tmp: Path, processes: Processes, out_name: str) -> tuple[str, Path]:
    """Starts localstripe; returns its URL and its log."""
    port = free_port()
    log = tmp / "localstripe.log"
    localstripe = subprocess.Popen(
        [VENV_BIN / "localstripe", "--port", str(port), "--from-scratch"],
        cwd=tmp,
        stdin=subprocess.DEVNULL,
        stdout=open(log, "w"),
        stderr=subprocess.STDOUT,
    )
    processes.append((localstripe, log, out_name))
    stripe = f"http://127.0.0.1:{port}"
    _wait(f"{stripe}/v1/customers", localstripe, log, "localstripe")
    return stripe, log


def _start_apinfer(
    tmp: Path, processes: Processes, stripe: str, database_url: str, name: str, extra_env: dict[str, str] | None = None
) -> str:
    """Starts `apinfer serve` on Stripe at `stripe` and registers it there as webhook endpoint
    `name` (localstripe signs and sends its events to it, as Stripe would); returns its URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("APINFER_")}
    env.update(
        APINFER_CONFIG=str(tmp / "absent.toml"),
        APINFER_PAYMENTS_PROVIDER="stripe",
        APINFER_STRIPE_SECRET_KEY="sk_test_contract",
        APINFER_STRIPE_PUBLISHABLE_KEY="pk_test_contract",
        APINFER_STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        APINFER_STRIPE_API_BASE=stripe,
        # localstripe serves its Stripe.js stand-in here.
        APINFER_STRIPE_JS_URL=f"{stripe}/js.stripe.com/v3/",
        RUST_LOG=os.environ.get("RUST_LOG", "warn"),
        **(extra_env or {}),
    )
    log = tmp / f"{name}.log"
    server = subprocess.Popen(
        [apinfer_bin(), "serve", "--addr", f"127.0.0.1:{port}", "--database-url", database_url],
        cwd=tmp,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=open(log, "w"),
        stderr=subprocess.STDOUT,
    )
    processes.append((server, log, f"stripe-{name}.log"))
    _wait(f"{base}/healthz", server, log, f"apinfer serve ({name})")
    httpx.post(
        f"{stripe}/_config/webhooks/{name}",
        data={"url": f"{base}/v1/webhooks/payments/stripe", "secret": WEBHOOK_SECRET},
    ).raise_for_status()
    return base


def _stop(processes: Processes) -> None:
    """Stops the processes and keeps their logs in OUT."""
    OUT.mkdir(parents=True, exist_ok=True)
    for process, log, out_name in processes:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        (OUT / out_name).write_text(log.read_text(errors="replace"))


@pytest.fixture(scope="module")
def stripe_world(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("stripe")
    processes: Processes = []
    try:
        stripe, ls_log = _start_localstripe(tmp, processes, "localstripe.log")
        base = _start_apinfer(tmp, processes, stripe, f"sqlite://{tmp / 'db.sqlite'}", "server")
        yield base, stripe, ls_log
    finally:
        _stop(processes)


def _card(stripe: str, number: str) -> str:
    """A PaymentMethod, as Stripe.js makes one in the browser (localstripe takes the secret key
    for it where Stripe takes the publishable one)."""
    made = httpx.post(
        f"{stripe}/v1/payment_methods",
        headers={"Authorization": "Bearer sk_test_contract"},
        data={"type": "card", "card[number]": number, "card[exp_month]": "12", "card[exp_year]": "2034", "card[cvc]": "123"},
    )
    made.raise_for_status()
    return made.json()["id"]


def _balance(http: httpx.Client, base: str, key: str) -> str:
    return http.get(f"{base}/v1/balance", headers={"Authorization": f"Bearer {key}"}).json()["balance"]


def _eventually(check, what: str, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {seconds} s: {what}", pytrace=False)
        time.sleep(0.2)


def test_stripe_purchases_refunds_and_webhooks(stripe_world):
    base, stripe, ls_log = stripe_world
    http = httpx.Client(timeout=30)
    token = http.post(f"{base}/v1/auth/signup", json={"email": "stripe@example.com", "password": PASSWORD}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert http.get(f"{base}/v1/payment-provider").json() == {
        "provider": "stripe",
        "publishable_key": "pk_test_contract",
        "checkout_url": None,
        "script_url": f"{stripe}/js.stripe.com/v3/",
    }

    def buy(payment_method: dict, package: str = "standard") -> httpx.Response:
        return http.post(f"{base}/v1/purchases", headers=auth, json={"package_id": package, "payment_method": payment_method})

    # A card purchase: credited before the response; the webhook that follows changes nothing.
    paid = buy({"type": "card", "token": _card(stripe, "4242424242424242")})
    assert paid.status_code == 201, paid.text
    paid = paid.json()
    assert paid["status"] == "succeeded" and paid["payment_method"]["last4"] == "4242", paid
    assert _balance(http, base, token) == "5000"
    _eventually(lambda: "payment_intent.succeeded\" successfully delivered" in ls_log.read_text(), "the webhook arrives")
    assert _balance(http, base, token) == "5000", "the webhook credited nothing more"

    # A declined card: 402, nothing credited.
    declined = buy({"type": "card", "token": _card(stripe, "4000000000000341")})
    assert declined.status_code == 402 and declined.json()["error"]["code"] == "card_declined", declined.text

    # 3-D Secure: requires_action with the client secret; authenticated, the webhook credits once.
    waiting = buy({"type": "card", "token": _card(stripe, "4000000000003220")}, package="basic")
    assert waiting.status_code == 201, waiting.text
    waiting = waiting.json()
    assert waiting["status"] == "requires_action", waiting
    secret = waiting["next_action"]["client_secret"]
    assert waiting["next_action"]["type"] == "use_stripe_sdk" and secret.startswith("pi_"), waiting
    intent = secret.split("_secret_")[0]
    authenticated = httpx.post(
        f"{stripe}/v1/payment_intents/{intent}/_authenticate",
        data={"key": "pk_test_contract", "client_secret": secret, "success": "true"},
    )
    authenticated.raise_for_status()
    _eventually(lambda: _balance(http, base, token) == "5100", "the 3-D Secure purchase is credited")
    time.sleep(1.5)
    assert _balance(http, base, token) == "5100"
    got = http.get(f"{base}/v1/purchases/{waiting['id']}", headers=auth).json()
    assert got["status"] == "succeeded", got

    # A saved card: a Customer, charged off-session.
    saved = http.post(f"{base}/v1/payment-methods", headers=auth, json={"type": "card", "token": _card(stripe, "5555555555554444")})
    assert saved.status_code == 201, saved.text
    # (localstripe calls every card a Visa.)
    assert (saved.json()["brand"], saved.json()["last4"]) == ("visa", "4444"), saved.text
    again = buy({"type": "card", "payment_method_id": saved.json()["id"]}, package="basic")
    assert again.status_code == 201 and again.json()["status"] == "succeeded", again.text
    assert _balance(http, base, token) == "5200"

    # Automatic top-up with the saved card: the refund below takes the balance under the
    # threshold, and the top-up charges the card off-session.
    topup = {"enabled": True, "threshold": "1000", "package_id": "basic", "payment_method_id": saved.json()["id"], "max_topups_per_day": 2}
    put = http.put(f"{base}/v1/settings/auto-topup", headers=auth, json=topup)
    assert put.status_code == 200, put.text

    # A refund of the first purchase's unused credits: a Stripe Refund of its PaymentIntent.
    refund = http.post(f"{base}/v1/purchases/{paid['id']}/refund", headers=auth)
    assert refund.status_code == 201, refund.text
    refund = refund.json()
    at_stripe = httpx.get(f"{stripe}/v1/refunds", headers={"Authorization": "Bearer sk_test_contract"}).json()["data"]
    ours = [r for r in at_stripe if r["metadata"].get("refund_id") == refund["id"]]
    assert len(ours) == 1 and ours[0]["amount"] == 5000, at_stripe
    assert refund["status"] == "succeeded", refund
    _eventually(lambda: _balance(http, base, token) == "300", "the automatic top-up is credited")
    notes = http.get(f"{base}/v1/notifications", headers=auth).json()["data"]
    assert [n["type"] for n in notes if n["type"].startswith("auto_topup")] == ["auto_topup_succeeded"], notes
    topped = http.get(f"{base}/v1/purchases", headers=auth).json()["data"][0]
    assert topped["auto_topup"] is True and topped["status"] == "succeeded", topped


PG_URL = os.environ.get("APINFER_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")


def test_stripe_events_to_two_processes_on_postgres(tmp_path):
    """Two `apinfer serve` processes on one PostgreSQL database, each a webhook endpoint at
    localstripe: every event reaches both, and each purchase is credited exactly once."""
    name = f"apinfer_stripe_{os.getpid()}"
    created = subprocess.run(["psql", "-q", f"{PG_URL}/postgres", "-c", f"CREATE DATABASE {name}"], capture_output=True, text=True)
    assert created.returncode == 0, created.stderr
    processes: Processes = []
    try:
        stripe, ls_log = _start_localstripe(tmp_path, processes, "localstripe-pg.log")
        bases = [
            _start_apinfer(
                tmp_path,
                processes,
                stripe,
                f"{PG_URL}/{name}",
                f"pg-server{i}",
                {"APINFER_JWT_SECRET": "one-secret-for-both-processes"},
            )
            for i in (1, 2)
        ]
        first, second = bases
        http = httpx.Client(timeout=30)
        token = http.post(f"{first}/v1/auth/signup", json={"email": "pg@example.com", "password": PASSWORD}).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        waiting = http.post(
            f"{first}/v1/purchases",
            headers=auth,
            json={"package_id": "basic", "payment_method": {"type": "card", "token": _card(stripe, "4000000000003220")}},
        )
        assert waiting.status_code == 201 and waiting.json()["status"] == "requires_action", waiting.text
        secret = waiting.json()["next_action"]["client_secret"]
        httpx.post(
            f"{stripe}/v1/payment_intents/{secret.split('_secret_')[0]}/_authenticate",
            data={"key": "pk_test_contract", "client_secret": secret, "success": "true"},
        ).raise_for_status()
        paid = http.post(
            f"{second}/v1/purchases",
            headers=auth,
            json={"package_id": "basic", "payment_method": {"type": "card", "token": _card(stripe, "4242424242424242")}},
        )
        assert paid.status_code == 201 and paid.json()["status"] == "succeeded", paid.text
        _eventually(lambda: _balance(http, second, token) == "200", "both purchases credited")
        _eventually(lambda: ls_log.read_text().count("payment_intent.succeeded\" successfully delivered") >= 4, "each event reached both processes")
        time.sleep(1.0)
        assert _balance(http, first, token) == "200" and _balance(http, second, token) == "200", "credited exactly once each"
    finally:
        _stop(processes)
        subprocess.run(["psql", "-q", f"{PG_URL}/postgres", "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], capture_output=True)
