"""What the contract tests share: paths of the spec and of the tools that tests/contract/run
installs into target/tools/, `run_tool` (runs a tool, keeps its output under target/contract/
and echoes it), and `Api`, the live server with the suite's credentials (made in conftest.py).
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SPEC = ROOT / "openapi.yaml"
TOOLS = Path(os.environ.get("CONTRACT_TOOLS", ROOT / "target" / "tools"))
NODE_BIN = TOOLS / "node_modules" / ".bin"
VENV_BIN = TOOLS / "venv" / "bin"
# What each tool printed, kept after the run for reading (target/ is not committed).
OUT = ROOT / "target" / "contract"

ALL_SCOPES = ["balance:read", "usage:read", "generations:write", "purchases:write"]
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "contract admin password"
USER_PASSWORD = "contract user password"


def apinfer_bin() -> Path:
    """The server under test: $APINFER_BIN (relative to the repository root), else the debug build."""
    return ROOT / os.environ.get("APINFER_BIN", "target/debug/apinfer")


def tool_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for tools: the venv's and node_modules' programs first on PATH."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(VENV_BIN), str(NODE_BIN), env.get("PATH", "")])
    env.setdefault("NO_COLOR", "1")
    env.update(extra or {})
    return env


def run_tool(
    args: list[str | Path],
    *,
    name: str,
    cwd: Path = ROOT,
    timeout: float = 300,
    env: dict[str, str] | None = None,
    echo: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Runs a tool, saves its output to target/contract/NAME.log and prints it (pytest shows
    it for a failed test, and with -s for all); with echo=False only says where it is."""
    argv = [str(a) for a in args]
    started = time.monotonic()
    proc = subprocess.run(
        argv,
        check=False,
        cwd=cwd,
        env=env or tool_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
    )
    took = time.monotonic() - started
    OUT.mkdir(parents=True, exist_ok=True)
    log = (
        f"$ {shlex.join(argv)}\n(exit {proc.returncode} after {took:.1f}s)\n"
        f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}\n"
    )
    (OUT / f"{name}.log").write_text(log)
    print(
        log if echo else f"$ {shlex.join(argv)}\n(exit {proc.returncode} after {took:.1f}s; output in {OUT / name}.log)"
    )
    return proc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Api:
    """The live server and the credentials of the suite."""

    base: str  # http://127.0.0.1:PORT, no trailing slash
    key: str  # an API key with every scope, of an account holding 100,000 credits
    token: str  # the key owner's session token
    account_id: str
    admin_token: str
    http: httpx.Client = field(repr=False)

    def call(self, method: str, path: str, token: str | None = None, json: object | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.http.request(method, self.base + path, headers=headers, json=json)

    def expect(self, status: int, method: str, path: str, token: str | None = None, json: object | None = None) -> dict:
        r = self.call(method, path, token, json)
        assert r.status_code == status, f"{method} {path}: expected {status}, got {r.status_code}: {r.text}"
        return r.json()

    def signup(self, email: str) -> dict:
        """Signs a user up; returns the signup response (`token`, `user`, `account`)."""
        return self.expect(201, "POST", "/v1/auth/signup", json={"email": email, "password": USER_PASSWORD})

    def api_key(self, session_token: str, scopes: list[str] = ALL_SCOPES, name: str = "contract") -> str:
        """Creates an API key with these scopes; returns its secret."""
        return self.expect(201, "POST", "/v1/api-keys", session_token, {"name": name, "scopes": scopes})["key"]

    def grant(self, account_id: str, credits: str) -> None:
        self.expect(
            201,
            "POST",
            f"/v1/admin/accounts/{account_id}/adjustments",
            self.admin_token,
            {"credits": credits, "reason": "contract tests"},
        )
