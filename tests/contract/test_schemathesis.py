"""Schemathesis fuzzes the live server against the document it serves (/openapi.json).

test_schemathesis proves, for every operation and with every check schemathesis 4 has (all
are on by default; schemathesis.toml says which statuses valid data may meet for the state no
schema describes, and names the three operations whose valid requests no fuzzer can make): no 5xx; every status, content type, header and body the server answers is
one the document declares for that operation (and the body matches its schema); data the
document calls invalid is rejected and data it calls valid is accepted; a missing or wrong
Authorization is refused where the document asks for one; required headers, unsupported
methods (405 with `Allow`) and resources that links say exist behave as documented. It runs
all phases (examples, coverage, fuzzing, stateful) in `--mode all` (valid and invalid data).

It runs four times, each as a different caller, so that every operation is reached by a
caller allowed to use it:
* `api-key`: an API key with every scope, as API clients call it (operations that take a
  session only, such as API keys, members, settings and admin, answer it 403);
* `session`: the account owner's session token, which reaches the session-only operations;
* `logout`: a throwaway session, on the two logout operations only (the first call that
  succeeds ends the session, after which each answers the documented 401);
* `admin`: the administrator's session, on the /v1/admin/ operations only. It runs last of
  all the tests that use the server, since it may rewrite the shared catalog (models, prices,
  packages) that the other tests rely on.
The `api-key` and `session` callers each have a fresh account of their own with 100,000
credits, so whatever the fuzzer changes there (settings, purchases, members, spent credits)
touches no other test's account. The fuzzer cannot revoke the credential it uses:
/v1/api-keys takes session tokens only (and key ids are not guessable), and the `session`
caller leaves the two logout operations to the `logout` caller; the test checks afterwards
that the credential still works. No operation is left out of every run.

The run is reproducible (fixed --seed, no example database). Its full output is in
target/contract/schemathesis-CALLER.log and its reports (JUnit, NDJSON) in
target/contract/schemathesis/CALLER/.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from support import ALL_SCOPES, OUT, VENV_BIN, run_tool

SEED = 20240601
# The statuses valid data may meet for state no schema can describe, and the one operation
# whose valid requests the fuzzer cannot make (signed webhooks), each with its reason.
CONFIG = Path(__file__).parent / "schemathesis.toml"
# Test cases per operation and phase (the coverage phase adds its own, deterministic ones).
# About 40 s a pass against the debug build on a 2-core machine; raise it locally with
# CONTRACT_MAX_EXAMPLES=500 tests/contract/run -k schemathesis.
MAX_EXAMPLES = os.environ.get("CONTRACT_MAX_EXAMPLES", "100")


LOGOUT = ["auth_logout", "auth_logout_all"]


@pytest.mark.parametrize("caller", ["api-key", "session", "logout", "admin"])
def test_schemathesis(api, caller):
    if caller == "admin":
        token, only = api.admin_token, ["--include-path-regex", "^/v1/admin/"]
    elif caller == "logout":
        token = api.signup("fuzz-logout@example.com")["token"]
        only = [x for op in LOGOUT for x in ("--include-operation-id", op)]
    else:
        user = api.signup(f"fuzz-{caller}@example.com")
        api.grant(user["account"]["id"], "100000")
        token = api.api_key(user["token"], ALL_SCOPES, name="schemathesis") if caller == "api-key" else user["token"]
        only = [x for op in LOGOUT for x in ("--exclude-operation-id", op)] if caller == "session" else []

    report_dir = OUT / "schemathesis" / caller
    shutil.rmtree(report_dir, ignore_errors=True)
    options = {
        "--url": api.base,
        "--mode": "all",  # valid and invalid data
        "--header": f"Authorization: Bearer {token}",
        "--max-examples": MAX_EXAMPLES,
        "--seed": str(SEED),
        "--generation-database": "none",
        "--workers": "1",  # one at a time: the same seed then makes the same requests in the same order
        "--request-timeout": "30",
        "--report": "junit,ndjson",
        "--report-dir": str(report_dir),
        # Show every header and body as sent: the credentials are a throwaway server's.
        "--output-sanitize": "false",
    }
    proc = run_tool(
        [
            VENV_BIN / "st",
            "--config-file",
            str(CONFIG),
            "run",
            f"{api.base}/openapi.json",
            *(x for kv in options.items() for x in kv),
            *only,
            "--no-color",
        ],
        name=f"schemathesis-{caller}",
        timeout=900,
        echo=False,  # the assertion below shows its report
    )

    # The credential it fuzzed with still works: nothing the fuzzer did revoked it (but for
    # the logout caller, whose session the first logout ended).
    assert api.call("GET", "/v1/me", token).status_code == (401 if caller == "logout" else 200)

    output = proc.stdout + proc.stderr
    report = _failures_section(output)
    assert proc.returncode == 0, f"schemathesis ({caller}) found failures:\n{report}"
    print(report)  # its warnings and summary


def _failures_section(output: str) -> str:
    """Schemathesis' own report of the failures (each with operation, check, response and a
    curl line to reproduce it) and its summary, without the progress lines."""
    match = re.search(r"^=+ ?(FAILURES|ERRORS|WARNINGS|SUMMARY)\b.*", output, re.MULTILINE)
    return output[match.start() :] if match else output
