"""The dashboard (dashboard/, served by `apinfer serve` at /) in a real browser: Debian's
chromium driven by Playwright, against the live server of conftest.py (SQLite, the sandbox
payment provider).

* A new user signs up, buys Standard by card through the provider's own card entry (the
  sandbox's checkout frame: the number never reaches apinfer), sees 5,000 credits, generates an
  image at high quality after seeing its price and sees the image, finds the transaction
  (and downloads it as CSV) and the usage chart, creates a key (copied from the page) and
  revokes it, sets the low-balance alert and automatic top-up, requests a refund, switches to
  Chinese and to phone width, and logs out (the session ends on the server).
* A family account: the owner adds a member with a monthly limit; the member logs in, switches
  to the family account, sees the shared balance and their limit, and is refused past it.
* Every test fails on a browser console error or page error (but the API errors a step
  provokes on purpose, named by status), and on any request to another origin. Every page is
  checked with axe-core and saved as a screenshot under target/dashboard/.
* The committed build (dashboard/dist) is what its sources build to.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from support import ROOT, TOOLS, USER_PASSWORD

CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "target" / "dashboard"
AXE = TOOLS / "node_modules" / "axe-core" / "axe.min.js"
DASHBOARD = ROOT / "dashboard"


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            yield browser
        finally:
            browser.close()


class Watched:
    """A page whose console, errors and requests are watched: `problems` collects console
    errors, page errors and requests to another origin; `allow(status)` tolerates the console
    line of an API error a step provokes on purpose."""

    def __init__(self, page: Page, base: str):
        self.page = page
        self.origin = "{0.scheme}://{0.netloc}".format(urlsplit(base))
        self.problems: list[str] = []
        self.allowed: set[int] = set()
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("request", self._request)

    def _console(self, message) -> None:
        if message.type not in ("error", "warning"):
            return
        text = message.text
        status = re.search(r"status of (\d{3})", text)
        if status and int(status.group(1)) in self.allowed:
            return
        self.problems.append(f"console {message.type}: {text}")

    def _request(self, request) -> None:
        url = request.url
        if url.startswith(("data:", "blob:", "about:")):
            return
        if "{0.scheme}://{0.netloc}".format(urlsplit(url)) != self.origin:
            self.problems.append(f"request to another origin: {url}")

    @contextmanager
    def allow(self, *statuses: int):
        self.allowed.update(statuses)
        try:
            yield
        finally:
            self.page.wait_for_timeout(200)
            self.allowed.difference_update(statuses)

    def check(self, name: str) -> None:
        """Screenshot and axe-core for the page as it is now; no problems so far."""
        expect(self.page.get_by_test_id("loading")).to_have_count(0, timeout=15000)
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
        if not self.page.evaluate("typeof axe !== 'undefined'"):
            self.page.evaluate(AXE.read_text())
        violations = self.page.evaluate(
            """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
                 .map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(" "))}))"""
        )
        assert violations == [], f"axe on {name}: {json.dumps(violations, indent=1)}"
        assert self.problems == [], f"on {name}: {self.problems}"


def new_page(browser, api, **options) -> Watched:
    context = browser.new_context(locale="en-US", **options)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=api.base)
    return Watched(context.new_page(), api.base)


def by(page: Page, testid: str):
    return page.get_by_test_id(testid)


def go(w: Watched, nav: str) -> None:
    by(w.page, f"nav-{nav}").click()
    expect(w.page).to_have_url(re.compile(f"#/{nav}"))


def log_in(w: Watched, email: str, password: str) -> None:
    page = w.page
    expect(by(page, "login-form")).to_be_visible()
    by(page, "login-email").fill(email)
    by(page, "login-password").fill(password)
    by(page, "login-submit").click()
    expect(page).to_have_url(re.compile("#/overview"))


def session_cookie(w: Watched) -> dict:
    cookies = [c for c in w.page.context.cookies() if c["name"] == "apinfer_session"]
    assert len(cookies) == 1, cookies
    return cookies[0]


def test_a_new_user_does_everything_in_the_dashboard(api, browser):
    w = new_page(browser, api)
    page = w.page
    email = "dashboard-user@example.com"

    page.goto(api.base + "/")
    expect(page).to_have_url(re.compile("#/login"))
    w.check("login")
    by(page, "to-signup").click()
    by(page, "signup-name").fill("Dana")
    by(page, "signup-email").fill(email)
    by(page, "signup-password").fill(USER_PASSWORD)
    w.check("signup")
    by(page, "signup-submit").click()
    expect(page).to_have_url(re.compile("#/overview"))
    expect(by(page, "balance")).to_have_attribute("data-value", "0")

    # The session is an HttpOnly, SameSite=Strict cookie; page scripts see no token anywhere.
    cookie = session_cookie(w)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/v1", cookie
    assert "apinfer_session" not in page.evaluate("document.cookie")
    assert page.evaluate("Object.keys(localStorage).filter(k => k !== 'apinfer.lang')") == []
    assert page.evaluate("sessionStorage.length") == 0
    # The signup's own bearer session was ended: only the cookie's session is open.
    w.check("overview-new")

    # Buy Standard by card, through the provider's card entry.
    by(page, "buy-credits").click()
    expect(by(page, "package-standard").get_by_test_id("popular-badge")).to_have_text(re.compile("Most popular"))
    expect(by(page, "best-value-badge").first).to_be_visible()
    w.check("buy-packages")
    by(page, "select-standard").click()
    expect(by(page, "review-price")).to_have_text("¥50.00")
    frame = page.frame_locator("[data-testid=card-frame]")
    frame.locator("#number").fill("4242 4242 4242 4242")
    frame.locator("#expiry").fill("12/34")
    frame.locator("#cvc").fill("123")
    frame.get_by_role("button", name="Use this card").click()
    expect(by(page, "card-ready")).to_contain_text("4242")
    by(page, "save-card").check()
    w.check("buy-review")
    by(page, "pay-button").click()
    expect(by(page, "purchase-status")).to_have_attribute("data-status", "succeeded", timeout=15000)
    expect(by(page, "new-balance")).to_have_text(re.compile("5,000"))
    w.check("buy-succeeded")
    go(w, "overview")
    expect(by(page, "balance")).to_have_attribute("data-value", "5000")
    expect(by(page, "available")).to_have_attribute("data-value", "5000")

    # Generate at high quality, with the price shown before submitting.
    go(w, "generations")
    page.select_option("[data-testid=model-select]", "qwen-image")
    page.select_option("[data-testid=quality-select]", "high")
    by(page, "prompt-input").fill("a lighthouse on a cliff at dusk")
    expect(by(page, "quote-price")).to_have_attribute("data-value", "2.625")
    w.check("generate-form")
    by(page, "generate-button").click()
    expect(by(page, "generation-status")).to_have_attribute("data-status", "succeeded", timeout=30000)
    image = by(page, "generation-image").first
    expect(image).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    expect(by(page, "history-thumb").first).to_be_visible()
    w.check("generations")

    # The transaction, and the ledger as CSV.
    go(w, "transactions")
    page.select_option("[data-testid=tx-type]", "generation")
    expect(page.locator("[data-testid=transaction-row][data-type=generation]")).to_have_count(1)
    expect(page.locator("[data-testid=transaction-row][data-type=purchase]")).to_have_count(0)
    with page.expect_download() as download:
        by(page, "download-csv").click()
    csv = Path(download.value.path()).read_text()
    rows = csv.strip().splitlines()
    assert rows[0].startswith("id,created_at,type"), csv
    assert len(rows) == 2 and ",generation," in rows[1] and "-2.625" in rows[1], csv
    by(page, "tx-from").fill("2030-01-01")
    expect(by(page, "tx-empty")).to_be_visible()
    w.check("transactions-empty")
    by(page, "tx-from").fill("")
    expect(page.locator("[data-testid=transaction-row][data-type=generation]")).to_have_count(1)
    w.check("transactions")

    # The usage chart.
    go(w, "usage")
    expect(by(page, "usage-day-chart").locator("canvas")).to_be_visible()
    expect(by(page, "usage-models-table")).to_contain_text("qwen-image")
    expect(by(page, "usage-total")).to_contain_text("2.625")
    expect(by(page, "usage-model-chart").locator("canvas")).to_be_visible()
    expect(by(page, "usage-keys-table")).to_contain_text("2.625")
    expect(by(page, "usage-members-table")).to_contain_text(email)
    w.check("usage")

    # A key: created with scopes and a limit, copied, then revoked.
    go(w, "keys")
    by(page, "key-name").fill("ci script")
    by(page, "key-spend-limit").fill("100")
    by(page, "key-expires").fill("2030-01-31")
    by(page, "create-key").click()
    secret = by(page, "key-secret").input_value()
    assert secret.startswith("sk_"), secret
    by(page, "copy-key").click()
    expect(by(page, "copy-status")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    assert httpx.get(api.base + "/v1/balance", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    keys = page.evaluate("fetch('/v1/api-keys').then(r => r.json())")["data"]
    made = next(k for k in keys if k["name"] == "ci script")
    assert made["spend_limit"] == "100" and made["expires_at"].startswith("2030-01-31"), made
    assert sorted(made["scopes"]) != [] and secret.startswith(made["prefix"]), made
    w.check("keys-created")
    by(page, "key-secret-done").click()
    row = page.locator("[data-testid=key-row][data-name='ci script']")
    row.get_by_test_id("revoke-key").click()
    row.get_by_test_id("confirm-revoke-key").click()
    expect(by(page, "key-revoked")).to_be_visible()
    expect(row).to_have_count(0)
    assert httpx.get(api.base + "/v1/balance", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    w.check("keys")

    # The low-balance alert and automatic top-up with the saved card.
    go(w, "settings")
    by(page, "alert-enabled").check()
    by(page, "alert-threshold").fill("10000")
    by(page, "save-alert").click()
    expect(by(page, "alert-saved")).to_be_visible()
    by(page, "topup-enabled").check()
    by(page, "topup-threshold").fill("100")
    page.select_option("[data-testid=topup-package]", "basic")
    by(page, "topup-max").fill("2")
    by(page, "save-topup").click()
    expect(by(page, "topup-saved")).to_be_visible()
    w.check("settings")
    saved = page.evaluate("fetch('/v1/settings/auto-topup').then(r => r.json())")
    assert saved["enabled"] and saved["threshold"] == "100" and saved["package_id"] == "basic", saved
    assert saved["payment_method_id"].startswith("pm_") and saved["max_topups_per_day"] == 2, saved
    alert = page.evaluate("fetch('/v1/settings/low-balance-alert').then(r => r.json())")
    assert alert["enabled"] and alert["threshold"] == "10000", alert
    go(w, "overview")
    expect(by(page, "low-balance-warning")).to_be_visible()
    w.check("overview")

    # A refund of the unused credits, at the price paid.
    go(w, "refunds")
    row = by(page, "refundable-row").first
    expect(row.get_by_test_id("refundable-credits")).to_have_attribute("data-value", "4997.375")
    expect(row.get_by_test_id("refundable-money")).to_have_text("¥49.97")
    w.check("refunds-before")
    row.get_by_test_id("request-refund").click()
    row.get_by_test_id("confirm-request-refund").click()
    expect(by(page, "refund-requested")).to_be_visible()
    expect(page.locator("[data-testid=refund-row][data-status=processing]")).to_have_count(1)
    w.check("refunds")
    # The refund took the balance to 0, below the top-up threshold of 100: automatic top-up
    # bought Basic with the saved card.
    go(w, "overview")
    for _ in range(20):
        if by(page, "balance").get_attribute("data-value") == "100":
            break
        page.wait_for_timeout(250)
        page.reload()
    expect(by(page, "balance")).to_have_attribute("data-value", "100")
    go(w, "settings")
    expect(page.locator("[data-testid=notification][data-type=auto_topup_succeeded]")).to_have_count(1)
    go(w, "overview")

    # Chinese, and a phone's width.
    page.select_option("[data-testid=lang-switch]", "zh-CN")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(by(page, "nav-buy")).to_have_text(re.compile("购买"))
    w.check("overview-zh")
    page.select_option("[data-testid=lang-switch]", "en")
    page.set_viewport_size({"width": 360, "height": 740})
    expect(by(page, "nav-buy")).to_be_hidden()
    by(page, "menu-toggle").click()
    by(page, "nav-buy").click()
    expect(by(page, "package-standard")).to_be_visible()
    w.check("buy-phone")
    page.set_viewport_size({"width": 1280, "height": 800})

    # Log-out ends the session on the server, not only in this browser.
    token = session_cookie(w)["value"]
    by(page, "logout").click()
    expect(page).to_have_url(re.compile("#/login"))
    ended = httpx.get(api.base + "/v1/me", headers={"Cookie": f"apinfer_session={token}"})
    assert ended.status_code == 401, ended.text
    assert not [c for c in page.context.cookies() if c["name"] == "apinfer_session"]
    w.check("logged-out")
    page.context.close()


def test_a_family_member_spends_the_shared_balance_within_their_limit(api, browser):
    owner = api.signup("family-owner@example.com")
    member = api.signup("family-member@example.com")
    api.expect(200, "PATCH", f"/v1/admin/accounts/{owner['account']['id']}", api.admin_token, {"type": "family"})
    api.grant(owner["account"]["id"], "500")

    w = new_page(browser, api)
    page = w.page
    page.goto(api.base + "/")
    log_in(w, "family-owner@example.com", USER_PASSWORD)
    go(w, "members")
    by(page, "member-email").fill("family-member@example.com")
    page.select_option("[data-testid=member-role]", "member")
    by(page, "member-limit").fill("3")
    by(page, "add-member").click()
    expect(by(page, "member-added")).to_be_visible()
    expect(page.locator("[data-testid=member-row][data-email='family-member@example.com']")).to_be_visible()
    w.check("members")
    by(page, "logout").click()
    expect(page).to_have_url(re.compile("#/login"))

    log_in(w, "family-member@example.com", USER_PASSWORD)
    page.select_option("[data-testid=account-switcher]", owner["account"]["id"])
    expect(by(page, "balance")).to_have_attribute("data-value", "500")
    expect(by(page, "monthly-limit").locator("[data-value]")).to_have_attribute("data-value", "3")
    w.check("overview-member")

    go(w, "generations")
    page.select_option("[data-testid=model-select]", "qwen-image")
    page.select_option("[data-testid=quality-select]", "standard")
    by(page, "prompt-input").fill("a garden in the rain")
    expect(by(page, "quote-price")).to_have_attribute("data-value", "1.75")
    by(page, "generate-button").click()
    expect(by(page, "generation-status")).to_have_attribute("data-status", "succeeded", timeout=30000)
    # 1.75 more would make 3.5 this month, past the limit of 3.
    by(page, "prompt-input").fill("a garden in the snow")
    with w.allow(402):
        by(page, "generate-button").click()
        expect(by(page, "generate-error")).to_contain_text(re.compile("spending limit", re.I))
    w.check("generations-member-refused")
    go(w, "overview")
    expect(by(page, "balance")).to_have_attribute("data-value", "498.25")
    expect(by(page, "monthly-spent")).to_have_attribute("data-value", "1.75")

    # The owner pages through the shared ledger (22 entries, 20 a page) and removes the member.
    for _ in range(20):
        api.grant(owner["account"]["id"], "1")
    by(page, "logout").click()
    log_in(w, "family-owner@example.com", USER_PASSWORD)
    go(w, "transactions")
    expect(by(page, "transaction-row")).to_have_count(20)
    by(page, "page-next").click()
    expect(by(page, "transaction-row")).to_have_count(2)
    expect(page.locator("[data-testid=transaction-row][data-type=generation]")).to_have_count(1)
    w.check("transactions-page-2")
    by(page, "page-prev").click()
    expect(by(page, "transaction-row")).to_have_count(20)
    go(w, "members")
    row = page.locator("[data-testid=member-row][data-email='family-member@example.com']")
    expect(row).to_contain_text("1.75")
    row.get_by_test_id("remove-member").click()
    row.get_by_test_id("confirm-remove-member").click()
    expect(row).to_have_count(0)
    members = page.evaluate("fetch('/v1/account/members').then(r => r.json())")["data"]
    assert [m["email"] for m in members] == ["family-owner@example.com"], members
    page.context.close()


def test_every_way_to_pay_and_the_errors_a_buyer_meets(api, browser):
    user = api.signup("dashboard-payer@example.com")
    card = api.expect(201, "POST", "/v1/payment-methods", user["token"], {"type": "card", "token": "tok_mastercard"})
    w = new_page(browser, api)
    page = w.page
    page.goto(api.base + "/")
    log_in(w, "dashboard-payer@example.com", USER_PASSWORD)

    # No credits yet: the generate form says so in words, with a link to buy.
    go(w, "generations")
    expect(page.locator("[data-testid=model-select] optgroup")).to_have_count(3)
    page.select_option("[data-testid=model-select]", "scene-vista")
    expect(by(page, "quote-price")).to_have_attribute("data-value", "10")
    by(page, "prompt-input").fill("a city of glass")
    with w.allow(402):
        by(page, "generate-button").click()
        expect(by(page, "generate-error")).to_contain_text("Not enough credits")
    w.check("generations-no-credits")
    by(page, "error-buy-link").click()
    expect(page).to_have_url(re.compile("#/buy"))

    def choose(package: str, method: str) -> None:
        go(w, "buy")
        by(page, f"select-{package}").click()
        by(page, f"method-{method}").check()

    # Alipay: the provider's page, then back to the purchase's status.
    choose("basic", "alipay")
    by(page, "pay-button").click()
    expect(page).to_have_url(re.compile("/sandbox/alipay/pur_"))
    page.get_by_role("button", name="Complete").click()
    page.wait_for_timeout(300)
    page.go_back()
    expect(page).to_have_url(re.compile(r"#/buy\?purchase=pur_"))
    expect(by(page, "purchase-status")).to_have_attribute("data-status", "succeeded", timeout=10000)
    w.check("buy-alipay-succeeded")

    # WeChat Pay: a QR code to scan; paid on the phone, the page sees it.
    choose("basic", "wechat_pay")
    by(page, "pay-button").click()
    expect(by(page, "purchase-status")).to_have_attribute("data-status", "requires_action")
    qr = by(page, "wechat-qr")
    expect(qr).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=qr.element_handle())
    w.check("buy-wechat")
    paid = httpx.post(by(page, "wechat-link").get_attribute("href") + "/complete")
    assert paid.status_code == 200, paid.text
    expect(by(page, "purchase-status")).to_have_attribute("data-status", "succeeded", timeout=10000)

    # Bank transfer: the instructions with the reference, pending until the money arrives.
    choose("basic", "bank_transfer")
    by(page, "pay-button").click()
    expect(by(page, "purchase-status")).to_have_attribute("data-status", "pending")
    reference = by(page, "bank-reference").inner_text().strip()
    assert reference, "a reference to quote"
    w.check("buy-bank-transfer")
    purchase = re.search(r"purchase=(pur_\w+)", page.url).group(1)
    api.expect(200, "POST", f"/v1/admin/purchases/{purchase}/confirm", api.admin_token)
    page.reload()
    expect(by(page, "purchase-status")).to_have_attribute("data-status", "succeeded", timeout=10000)

    # A saved card.
    choose("basic", f"saved-{card['id']}")
    by(page, "pay-button").click()
    expect(by(page, "purchase-status")).to_have_attribute("data-status", "succeeded", timeout=10000)
    go(w, "overview")
    expect(by(page, "balance")).to_have_attribute("data-value", "400")
    page.context.close()


def test_the_language_follows_the_browser(api, browser):
    w = Watched(browser.new_context(locale="zh-CN").new_page(), api.base)
    page = w.page
    page.goto(api.base + "/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(by(page, "login-submit")).to_have_text(re.compile("登录"))
    w.check("login-zh")
    page.context.close()


def test_the_committed_build_is_what_the_sources_build_to(tmp_path):
    npm = shutil.which("npm")
    assert npm, "npm (Node.js) is needed to build the dashboard"
    stamp = DASHBOARD / "node_modules" / ".package-lock.sha256"
    lock = (DASHBOARD / "package-lock.json").read_bytes()
    digest = __import__("hashlib").sha256(lock).hexdigest()
    if not stamp.is_file() or stamp.read_text() != digest:
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=DASHBOARD, check=True)
        stamp.write_text(digest)
    out = tmp_path / "dist"
    subprocess.run(["node", "build.mjs"], cwd=DASHBOARD, check=True, env={**os.environ, "DASHBOARD_OUT": str(out)})
    committed = DASHBOARD / "dist"
    names = sorted(p.name for p in committed.iterdir())
    assert names == sorted(p.name for p in out.iterdir()) == ["app.css", "app.js", "index.html"]
    stale = [n for n in names if (committed / n).read_bytes() != (out / n).read_bytes()]
    assert not stale, f"dashboard/dist is stale ({stale}): run `cd dashboard && npm run build` and commit dist/"
