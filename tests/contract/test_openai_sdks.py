"""The official OpenAI SDKs, unchanged, pointed at apinfer's /v1.

* test_openai_python_sdk (the `openai` package): `images.generate(size="auto")` answers a URL
  that anyone can fetch without a key (a signed link: 200, `image/png`, PNG bytes) and that
  stops working (403) once its `signature` is altered; `response_format="b64_json"` answers a
  decodable PNG inline; `models.list()` has `qwen-image` with `owned_by`;
  `models.retrieve("qwen-image")` returns it and `models.retrieve("nope")` raises
  `NotFoundError`; a wrong key raises `AuthenticationError`; an account without credits gets
  `APIStatusError` 402.
* test_openai_node_sdk (the `openai` npm package, scripts/openai_node.mjs): the same
  generation (URL and b64_json), models and error checks.

Each test runs all its checks and reports every one that failed, not only the first.
"""

from __future__ import annotations

import base64
import contextlib
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import openai
import pytest

from support import HERE, TOOLS, run_tool, tool_env

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Checks:
    """Runs named checks, keeps going after a failure, and fails the test with all of them."""

    def __init__(self):
        self.failures: list[str] = []

    @contextlib.contextmanager
    def __call__(self, name: str):
        try:
            yield
            print(f"PASS {name}")
        except (Exception, pytest.fail.Exception) as e:  # every failure is reported at the end
            self.failures.append(f"{name}: {type(e).__name__}: {e}")
            print(f"FAIL {self.failures[-1]}")

    def done(self):
        if self.failures:
            pytest.fail("\n".join([f"{len(self.failures)} check(s) failed:", *self.failures]), pytrace=False)


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_openai_python_sdk(api):
    client = openai.OpenAI(base_url=f"{api.base}/v1", api_key=api.key, max_retries=0)
    check = Checks()

    with check('images.generate(size="auto") answers a signed URL anyone can fetch'):
        r = client.images.generate(model="qwen-image", prompt="a red fox", size="auto")
        url = r.data[0].url
        assert url and url.startswith(f"{api.base}/v1/generations/"), url
        image = httpx.get(url)  # no Authorization header
        assert image.status_code == 200, f"GET {url} without auth: {image.status_code} {image.text[:300]}"
        assert image.headers["content-type"] == "image/png", image.headers["content-type"]
        assert image.content.startswith(PNG_MAGIC), image.content[:16]

        with check("the URL with an altered signature answers 403"):
            signature = dict(parse_qsl(urlsplit(url).query)).get("signature")
            assert signature, f"no signature in {url}"
            altered = signature[:-1] + ("0" if signature[-1] != "0" else "1")  # still 64 hex digits
            forged = httpx.get(_with_query(url, signature=altered))
            assert forged.status_code == 403, f"{forged.status_code} {forged.text[:300]}"

    with check('images.generate(response_format="b64_json") answers an inline PNG'):
        r = client.images.generate(model="qwen-image", prompt="a red fox", response_format="b64_json")
        assert base64.b64decode(r.data[0].b64_json).startswith(PNG_MAGIC)

    with check("models.list() includes qwen-image with owned_by"):
        models = {m.id: m for m in client.models.list()}
        assert "qwen-image" in models, list(models)
        assert models["qwen-image"].owned_by, models["qwen-image"]

    with check('models.retrieve("qwen-image")'):
        assert client.models.retrieve("qwen-image").id == "qwen-image"

    with check('models.retrieve("nope") raises NotFoundError'):
        with pytest.raises(openai.NotFoundError):
            client.models.retrieve("nope")

    with check("a wrong key raises AuthenticationError"):
        bad = openai.OpenAI(base_url=f"{api.base}/v1", api_key="sk_not_a_key", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            bad.images.generate(model="qwen-image", prompt="a red fox")

    with check("an account without credits gets a 402"):
        poor = api.signup("no-credits@example.com")
        poor_client = openai.OpenAI(
            base_url=f"{api.base}/v1", api_key=api.api_key(poor["token"], ["generations:write"]), max_retries=0
        )
        with pytest.raises(openai.APIStatusError) as refused:
            poor_client.images.generate(model="qwen-image", prompt="a red fox")
        assert refused.value.status_code == 402, (refused.value.status_code, refused.value.message)

    check.done()


def test_openai_node_sdk(api):
    proc = run_tool(
        ["node", HERE / "scripts" / "openai_node.mjs"],
        name="openai-node",
        timeout=120,
        env=tool_env({"OPENAI_SDK": str(TOOLS / "node_modules" / "openai"), "BASE": api.base, "KEY": api.key}),
    )
    failures = [line for line in proc.stdout.splitlines() if line.startswith("FAIL")]
    assert proc.returncode == 0 and not failures, "the OpenAI Node SDK checks failed:\n" + (
        "\n".join(failures) or proc.stdout + proc.stderr
    )
