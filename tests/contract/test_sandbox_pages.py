"""The sandbox payment provider's own pages in a real browser (Debian's chromium, driven by
Playwright): what a developer's checkout sees in development, without a card number ever
reaching apinfer.

* /sandbox/checkout turns a test card number into its token in the page and hands it to the
  page that opened it (`postMessage`), as a provider's script would; that token buys credits
  through the API. A number that is not a test card is refused in the page.
* A card that needs 3-D Secure answers `requires_action`; its `next_action.url` opens the
  sandbox's authentication page, and "Complete" credits the purchase.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def test_checkout_hands_a_token_to_its_opener(api, browser):
    page = browser.new_page()
    page.set_content("<script>window.messages = []; addEventListener('message', e => messages.push(e.data));</script>")
    with page.expect_popup() as opened:
        page.evaluate("url => { window.checkout = window.open(url); }", f"{api.base}/sandbox/checkout")
    checkout = opened.value
    checkout.wait_for_load_state()

    checkout.fill("#number", "4111 1111 1111 1111")
    checkout.fill("#expiry", "12/34")
    checkout.fill("#cvc", "123")
    checkout.click("button[type=submit]")
    assert "test cards" in checkout.inner_text("#result")
    assert page.evaluate("messages.length") == 0, "no token for a number the sandbox does not know"

    checkout.fill("#number", "4242 4242 4242 4242")
    checkout.click("button[type=submit]")
    page.wait_for_function("messages.length > 0")
    message = page.evaluate("messages[0]")
    assert message == {"type": "apinfer.sandbox.card_token", "token": "tok_visa", "brand": "visa", "last4": "4242"}
    assert "tok_visa" in checkout.inner_text("#result")

    bought = api.expect(
        201,
        "POST",
        "/v1/purchases",
        api.key,
        {"package_id": "basic", "payment_method": {"type": "card", "token": message["token"]}},
    )
    assert bought["status"] == "succeeded" and bought["payment_method"]["last4"] == "4242", bought
    page.close()


def test_three_d_secure_completes_on_the_sandbox_page(api, browser):
    before = api.expect(200, "GET", "/v1/balance", api.key)["balance"]
    waiting = api.expect(
        201,
        "POST",
        "/v1/purchases",
        api.key,
        {"package_id": "basic", "payment_method": {"type": "card", "token": "tok_threeDSecureRequired"}},
    )
    assert waiting["status"] == "requires_action", waiting
    assert api.expect(200, "GET", "/v1/balance", api.key)["balance"] == before
    page = browser.new_page()
    page.goto(waiting["next_action"]["url"])
    assert "3-D Secure" in page.inner_text("h1")
    page.click("#complete")
    # (The page's CSP allows no eval, so the wait is Playwright's own, not a JS predicate.)
    expect(page.locator("#result")).to_have_text("Purchase succeeded.")
    done = api.expect(200, "GET", f"/v1/purchases/{waiting['id']}", api.key)
    assert done["status"] == "succeeded", done
    after = api.expect(200, "GET", "/v1/balance", api.key)["balance"]
    assert Decimal(after) - Decimal(before) == 100, (before, after)
    page.close()
