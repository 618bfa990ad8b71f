//! The official OpenAI Python SDK, unchanged, pointed at apinfer: `images.generate` works and
//! is charged like `/v1/generations`, and errors come back as the SDK's typed errors.
//! Needs python3 and PyPI (the SDK installs into `target/openai-sdk-venv` once); skipped with a
//! notice where python3 is missing, except under `CI=true`.

use std::path::PathBuf;
use std::process::Command;

use crate::helpers::{Backend, TestApp};
use crate::per_backend;

fn venv_python() -> Option<PathBuf> {
    // Both backends' tests share one venv: create it once.
    static CREATING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = CREATING.lock().unwrap_or_else(|p| p.into_inner());
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/openai-sdk-venv");
    let python = venv.join("bin/python");
    if python.exists() && Command::new(&python).args(["-c", "import openai"]).status().is_ok_and(|s| s.success()) {
        return Some(python);
    }
    let ci = std::env::var("CI").as_deref() == Ok("true");
    let created = Command::new("python3").args(["-m", "venv"]).arg(&venv).status();
    if !created.is_ok_and(|s| s.success()) {
        assert!(!ci, "CI=true and python3 -m venv failed");
        eprintln!("NOTICE: skipping the OpenAI SDK test: python3 -m venv failed");
        return None;
    }
    let installed = Command::new(&python).args(["-m", "pip", "install", "--quiet", "openai>=1.40,<3"]).status();
    if !installed.is_ok_and(|s| s.success()) {
        assert!(!ci, "CI=true and pip install openai failed");
        eprintln!("NOTICE: skipping the OpenAI SDK test: pip install openai failed");
        return None;
    }
    Some(python)
}

const SCRIPT: &str = r#"
import base64, os, sys
from openai import OpenAI, APIStatusError
client = OpenAI(base_url=os.environ["BASE"] + "/v1", api_key=os.environ["KEY"], max_retries=0)
r = client.images.generate(model="qwen-image", prompt="a red fox", size="512x512", quality="hd", n=2, response_format="b64_json")
assert len(r.data) == 2, r
png = base64.b64decode(r.data[0].b64_json)
assert png[:8] == b"\x89PNG\r\n\x1a\n"
u = client.images.generate(model="qwen-image", prompt="a red fox", size="512x512")
assert u.data[0].url.startswith(os.environ["BASE"]), u
try:
    client.images.generate(model="qwen-image", prompt="too many", n=10, quality="ultra")
    sys.exit("expected a 402")
except APIStatusError as e:
    assert e.status_code == 402, e.status_code
    assert "insufficient" in e.message.lower() or "credits" in e.message.lower(), e.message
print("ok")
"#;

async fn the_official_openai_sdk_works_unchanged(backend: Backend) {
    let Some(python) = tokio::task::spawn_blocking(venv_python).await.unwrap() else { return };
    let Some(app) = TestApp::spawn(backend).await else { return };
    let admin = app.admin().await;
    let ada = app.signup("ada@example.com").await;
    app.grant(&admin, &ada.account_id, "10").await;
    let (_, key) = app.api_key(&ada, &["generations:write", "balance:read"]).await;
    let base = app.base.clone();
    let key_for_script = key.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .args(["-c", SCRIPT])
            .env("BASE", base)
            .env("KEY", key_for_script)
            .output()
            .expect("python runs")
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // hd = high: 2 × 2.625, then one standard 1.75.
    assert_eq!(app.balance(&key).await["balance"], "3");
    app.assert_ledger_consistent(&ada.token).await;
}

per_backend!(the_official_openai_sdk_works_unchanged);
