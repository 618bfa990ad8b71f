"""The committed openapi.yaml, as three independent validators and linters read it.

* test_openapi_spec_validator: the document is valid OpenAPI 3.1 (structure, JSON Schema
  dialect, every $ref resolves) by openapi-spec-validator, the reference Python validator.
* test_redocly_lint: Redocly CLI's `recommended` rules (tests/contract/redocly.yaml) find no
  error: unique operationIds, servers present, security declared on every operation, valid
  examples, no unused or unresolved components, path parameters declared, ...
* test_spectral_lint: Stoplight Spectral's `spectral:oas` rules (tests/contract/.spectral.yaml)
  find no error; its warnings are printed for reading.
"""

from __future__ import annotations

import json

from support import HERE, NODE_BIN, SPEC, VENV_BIN, run_tool


def test_openapi_spec_validator():
    proc = run_tool([VENV_BIN / "openapi-spec-validator", SPEC], name="openapi-spec-validator")
    assert proc.returncode == 0, f"openapi-spec-validator rejects {SPEC.name}:\n{proc.stdout}\n{proc.stderr}"


def _json_output(text: str):
    """The JSON document a tool printed (ignoring any banner before it)."""
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    assert start >= 0, f"no JSON in the output:\n{text}"
    return json.JSONDecoder().raw_decode(text[start:])[0]


def test_redocly_lint():
    proc = run_tool(
        [
            NODE_BIN / "redocly",
            "lint",
            SPEC,
            "--config",
            HERE / "redocly.yaml",
            "--format=json",
            "--max-problems=10000",
        ],
        name="redocly",
    )
    report = _json_output(proc.stdout)
    problems = [
        f"{p['severity']}: {p['ruleId']} at {p['location'][0]['pointer'] if p.get('location') else '?'}: {p['message']}"
        for p in report["problems"]
    ]
    print("\n".join(["redocly problems:", *problems]))
    errors = [p for p in problems if p.startswith("error")]
    assert report["totals"]["errors"] == 0 and not errors, "redocly lint errors:\n" + "\n".join(errors)
    assert proc.returncode == 0, proc.stderr


SPECTRAL_SEVERITY = {0: "error", 1: "warning", 2: "info", 3: "hint"}


def test_spectral_lint():
    proc = run_tool(
        [
            NODE_BIN / "spectral",
            "lint",
            SPEC,
            "--ruleset",
            HERE / ".spectral.yaml",
            "--fail-severity",
            "error",
            "--format",
            "json",
            "--quiet",
        ],
        name="spectral",
    )
    results = _json_output(proc.stdout) if proc.stdout.strip() else []
    lines = [
        f"{SPECTRAL_SEVERITY.get(r['severity'], r['severity'])}: {r['code']} at "
        f"{'/'.join(map(str, r['path']))} (line {r['range']['start']['line'] + 1}): {r['message']}"
        for r in results
    ]
    print("\n".join(["spectral results:", *lines]))
    errors = [line for line in lines if line.startswith("error")]
    assert not errors, "spectral errors:\n" + "\n".join(errors)
    assert proc.returncode == 0, f"spectral failed:\n{proc.stdout}\n{proc.stderr}"
