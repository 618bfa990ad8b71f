"""Drives a client that openapi-python-client generated from openapi.yaml against a live apinfer.

    python python_client_smoke.py SPEC PACKAGE_PARENT BASE_URL API_KEY

The generated package is `apinfer_client` under PACKAGE_PARENT. Each operation is found the
way a user of the client finds it, by its operationId (and tag) in the spec, and every request
the client sends is recorded, so a module that calls another endpoint than its operation's
(as two operations sharing an operationId would make it) is caught.
"""

from __future__ import annotations

import importlib
import sys

import yaml
from openapi_python_client.strings import ClassName, PythonIdentifier

spec_path, package_parent, base, key = sys.argv[1:5]
sys.path.insert(0, package_parent)
with open(spec_path) as f:
    spec = yaml.safe_load(f)

from apinfer_client import models
from apinfer_client.client import AuthenticatedClient


def endpoint(path: str, method: str):
    """The generated module of an operation and the model class of its success response."""
    op = spec["paths"][path][method]
    tag = op["tags"][0] if op.get("tags") else "default"
    name = f"apinfer_client.api.{PythonIdentifier(tag, 'tag')}.{PythonIdentifier(op['operationId'], 'field_')}"
    module = importlib.import_module(name)
    status, response = next((s, r) for s, r in op["responses"].items() if s.startswith("2"))
    ref = response["content"]["application/json"]["schema"]["$ref"]
    model = getattr(models, ClassName(ref.rsplit("/", 1)[1], ""))
    print(f"{method.upper()} {path}: operationId {op['operationId']!r} -> {name}, {status} -> {model.__name__}")
    return module, model


sent: list[tuple[str, str]] = []
client = AuthenticatedClient(
    base_url=base,
    token=key,
    httpx_args={"event_hooks": {"request": [lambda r: sent.append((r.method, r.url.path))]}},
)


def value(x):
    """An enum member's wire value, or the value itself."""
    return getattr(x, "value", x)


# POST /v1/generations
create, generation_view = endpoint("/v1/generations", "post")
request_model = getattr(
    models,
    ClassName(
        spec["paths"]["/v1/generations"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit(
            "/", 1
        )[1],
        "",
    ),
)
body = request_model.from_dict({"model": "qwen-image", "prompt": "a red fox"})
response = create.sync_detailed(client=client, body=body)
assert sent[-1] == ("POST", "/v1/generations"), (
    f"the generations create module sent {sent[-1]}, not POST /v1/generations"
)
assert response.status_code == 201, f"{response.status_code}: {response.content!r}"
generation = response.parsed
assert isinstance(generation, generation_view), (
    f"parsed as {type(generation)}, not {generation_view.__name__}: {generation!r}"
)
assert value(generation.status) == "succeeded", generation
assert generation.credits_charged == "1.75", generation.credits_charged
print(f"created {generation.id}: {value(generation.status)}, {generation.credits_charged} credits")

# GET /v1/transactions
list_transactions, transaction_list = endpoint("/v1/transactions", "get")
response = list_transactions.sync_detailed(client=client)
assert sent[-1] == ("GET", "/v1/transactions"), f"the transactions list module sent {sent[-1]}"
assert response.status_code == 200, f"{response.status_code}: {response.content!r}"
page = response.parsed
assert isinstance(page, transaction_list), f"parsed as {type(page)}, not {transaction_list.__name__}: {page!r}"
# Entries as the wire names them (the generated attribute of `type` is `type_`).
entries = [t.to_dict() for t in page.data]
entry = next((t for t in entries if t.get("reference_id") == generation.id), None)
assert entry is not None and entry["type"] == "generation", (generation.id, entries)
assert entry["credits"] == "-1.75", entry
print(f"transactions: {[t['type'] for t in entries]}")
print("ok")
