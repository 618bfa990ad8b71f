"""Clients that popular generators make from openapi.yaml work.

* test_openapi_python_client: openapi-python-client generates a client (`--meta none`, a bare
  package) and scripts/python_client_smoke.py uses it against the live server: the module
  of POST /v1/generations' operationId sends POST /v1/generations (not another operation's
  endpoint), and parses the answer into the generated GenerationView type (status
  `succeeded`, `credits_charged` "1.75"); GET /v1/transactions' module parses the page into the
  generated list type, whose entries include that generation's charge. The generator's
  warnings (pieces of the spec it could not use) are printed.
* test_openapi_typescript: openapi-typescript generates `paths`/`components` types, and
  scripts/check.ts, code written against them, compiles with `tsc --strict`: the transactions
  page's `type` is exactly the ledger's enum, the generation request accepts a full valid body
  and refuses (at compile time) a missing prompt, an unknown quality or response format and an
  unknown field, and a generation's `status` is its enum and its credits a string.
"""

from __future__ import annotations

import shutil

from support import HERE, NODE_BIN, SPEC, VENV_BIN, run_tool, tool_env


def test_openapi_python_client(api, tmp_path):
    package = tmp_path / "apinfer_client"
    generated = run_tool(
        [VENV_BIN / "openapi-python-client", "generate", "--path", SPEC, "--output-path", package, "--meta", "none"],
        name="openapi-python-client",
        cwd=tmp_path,
    )
    assert generated.returncode == 0, f"openapi-python-client failed:\n{generated.stdout}\n{generated.stderr}"
    assert (package / "client.py").is_file()

    smoke = run_tool(
        [VENV_BIN / "python", HERE / "scripts" / "python_client_smoke.py", SPEC, tmp_path, api.base, api.key],
        name="python-client-smoke",
        cwd=tmp_path,
        timeout=120,
    )
    assert smoke.returncode == 0, f"the generated Python client failed:\n{smoke.stdout}\n{smoke.stderr}"
    assert smoke.stdout.rstrip().endswith("ok")


def test_openapi_typescript(tmp_path):
    generated = run_tool(
        [NODE_BIN / "openapi-typescript", SPEC, "-o", tmp_path / "schema.d.ts"],
        name="openapi-typescript",
    )
    assert generated.returncode == 0, f"openapi-typescript failed:\n{generated.stdout}\n{generated.stderr}"
    shutil.copy(HERE / "scripts" / "check.ts", tmp_path / "check.ts")
    compiled = run_tool(
        [
            NODE_BIN / "tsc",
            "--strict",
            "--noEmit",
            "--module",
            "nodenext",
            "--moduleResolution",
            "nodenext",
            "--target",
            "es2022",
            "check.ts",
        ],
        name="tsc",
        cwd=tmp_path,
        env=tool_env(),
    )
    assert compiled.returncode == 0, f"check.ts does not compile against the generated types:\n{compiled.stdout}"
