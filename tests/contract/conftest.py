"""The one fixture of the contract suite, `api` (session scope): ONE live `apinfer serve` on a
fresh SQLite file, with generous rate limits, and the credentials every test uses: a user whose
account holds 100,000 credits (granted by an administrator made with
`apinfer admin create-user --admin`) and an API key of that account with every scope.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from support import ADMIN_EMAIL, ADMIN_PASSWORD, OUT, Api, apinfer_bin, free_port


def _server_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APINFER_")}
    env.update(
        APINFER_CONFIG=str(tmp / "absent.toml"),
        APINFER_RATE_LIMIT_PER_SECOND="1000",
        APINFER_RATE_LIMIT_BURST="2000",
        APINFER_AUTH_RATE_LIMIT_PER_MINUTE="100000",
        APINFER_PUBLIC_RATE_LIMIT_PER_MINUTE="100000",
        RUST_LOG=os.environ.get("RUST_LOG", "warn"),
    )
    return env


@pytest.fixture(scope="session")
def api(tmp_path_factory: pytest.TempPathFactory):
    binary = apinfer_bin()
    if not binary.is_file():
        pytest.fail(
            f"no apinfer binary at {binary}: build it first (`cargo test` or `cargo build -p apinfer-api`), "
            "or point APINFER_BIN at one",
            pytrace=False,
        )
    tmp = tmp_path_factory.mktemp("apinfer")
    db = f"sqlite://{tmp / 'db.sqlite'}"
    env = _server_env(tmp)

    # The administrator is made on the command line (which also creates and migrates the file).
    made = subprocess.run(
        [
            binary,
            "admin",
            "create-user",
            "--email",
            ADMIN_EMAIL,
            "--password",
            ADMIN_PASSWORD,
            "--admin",
            "--database-url",
            db,
        ],
        check=False,
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, f"apinfer admin create-user failed:\n{made.stdout}\n{made.stderr}"

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp / "server.log"
    log = open(log_path, "w")
    server = subprocess.Popen(
        [binary, "serve", "--addr", f"127.0.0.1:{port}", "--database-url", db],
        cwd=tmp,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    http = httpx.Client(timeout=30)
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                pytest.fail(f"apinfer serve exited with {server.returncode}:\n{log_path.read_text()}", pytrace=False)
            try:
                if http.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"apinfer serve did not answer /healthz in 60 s:\n{log_path.read_text()}", pytrace=False)
            time.sleep(0.1)

        admin_token = (
            http.post(f"{base}/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
            .raise_for_status()
            .json()["token"]
        )
        api = Api(base=base, key="", token="", account_id="", admin_token=admin_token, http=http)
        user = api.signup("contract@example.com")
        api.token = user["token"]
        api.account_id = user["account"]["id"]
        api.key = api.api_key(api.token)
        api.grant(api.account_id, "100000")
        yield api
    finally:
        http.close()
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "server.log").write_text(log_path.read_text(errors="replace"))
