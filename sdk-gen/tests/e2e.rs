//! End-to-end tests of the generated SDKs and the examples against real `apinfer` servers.
//!
//! Each test starts two servers with the shared test harness (`tests/harness.rs`) as processes
//! of the workspace's `apinfer` binary (`APINFER_BIN`, default `<target>/debug/apinfer`, which
//! `cargo test --workspace` builds first): one with the harness's generous limits and one
//! limited to 2 requests/s (burst 2), each on its own SQLite file with an admin.
//! Then it runs an SDK's own test program against them: Python in a venv with `pip install
//! ./sdks/python`, TypeScript compiled with `tsc --strict` and run with node, Rust built with
//! cargo (in `<target>/sdk-rust`). Tool set-up lives under `<target>/sdk-e2e/`.
//!
//! Without the binary, python3, node or npm the tests are skipped with a notice, except under
//! `CI=true`, where they fail.

#[path = "../../tests/harness.rs"]
mod helpers;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use serde_json::json;

use crate::helpers::{Backend, TestApp};

const ADMIN_EMAIL: &str = "sdk-admin@example.com";
const ADMIN_PASSWORD: &str = "sdk e2e admin password";

/// Serializes tool set-up (venv, npm) between the tests of this binary, which run in parallel.
static SETUP: Mutex<()> = Mutex::new(());

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("sdk-gen is in the workspace").to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace().join("target"))
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// `Some(())` when the test can run; otherwise skips (a notice) or, under CI, fails.
fn require(what: &str, ok: bool) -> Option<()> {
    if ok {
        return Some(());
    }
    if in_ci() {
        panic!("{what} is missing, and CI=true: the SDK end-to-end tests must run");
    }
    eprintln!("NOTICE: {what} is missing; skipping this SDK end-to-end test (it fails when CI=true)");
    None
}

fn has_tool(name: &str) -> bool {
    Command::new(name).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// Runs `cmd`, failing the test with its output when it fails.
fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: could not start: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    if !out.status.success() {
        panic!("{what} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}", out.status);
    }
    print!("{stdout}");
    stdout
}

/// A running `apinfer serve` (the shared test harness's, as a process of the binary) on its
/// own SQLite file, with the e2e admin; killed when dropped.
struct Server {
    app: TestApp,
    url: String,
}

/// The runtime the harness's set-up requests run on.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| tokio::runtime::Runtime::new().expect("a Tokio runtime"))
}

impl Server {
    /// With the harness's test settings; `rate_limited` allows 2 requests/s (burst 2).
    fn start(rate_limited: bool) -> Server {
        let builder = TestApp::builder(Backend::Sqlite).binary().configure(move |c| {
            if rate_limited {
                (c.rate_limit_per_second, c.rate_limit_burst) = (2, 2);
            }
        });
        let app = runtime().block_on(builder.spawn()).expect("SQLite is always at hand");
        let admin = ["admin", "create-user", "--email", ADMIN_EMAIL, "--password", ADMIN_PASSWORD, "--admin"];
        run(app.cli().args(admin), "apinfer admin create-user");
        Server { url: app.base.clone(), app }
    }
}

/// A user with an API key holding every scope, and `credits` granted by the admin: (key, account).
fn user_with_key(server: &Server, email: &str, credits: &str) -> (String, String) {
    let app = &server.app;
    runtime().block_on(async {
        let user = app.signup(email).await;
        let scopes = ["balance:read", "usage:read", "purchases:write", "generations:write"];
        let (_, key) = app.api_key(&user, &scopes).await;
        let admin = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let grant = json!({"credits": credits, "reason": "examples"});
        let path = format!("/v1/admin/accounts/{}/adjustments", user.account_id);
        app.post(&path, Some(&admin), grant).await.expect(201);
        (key, user.account_id)
    })
}

fn e2e_env(cmd: &mut Command, main: &Server, limited: &Server) {
    cmd.env("APINFER_E2E_BASE_URL", &main.url)
        .env("APINFER_E2E_RL_BASE_URL", &limited.url)
        .env("APINFER_E2E_ADMIN_EMAIL", ADMIN_EMAIL)
        .env("APINFER_E2E_ADMIN_PASSWORD", ADMIN_PASSWORD);
}

fn setup_dir() -> PathBuf {
    let dir = target_dir().join("sdk-e2e");
    std::fs::create_dir_all(&dir).expect("the set-up dir");
    dir
}

/// A venv with the generated Python SDK freshly installed; its python.
fn python_venv() -> Option<PathBuf> {
    require("python3", has_tool("python3"))?;
    static VENV: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let _guard = SETUP.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(python) = VENV.get() {
        return Some(python.clone());
    }
    // A fresh venv, and exactly the SDK README's command, run from an empty directory: the
    // package must bring its own dependencies.
    let venv = setup_dir().join("venv");
    let _ = std::fs::remove_dir_all(&venv);
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv), "python3 -m venv");
    let python = venv.join("bin").join("python");
    let empty = tempfile::tempdir().expect("an empty directory");
    let sdk = workspace().join("sdks").join("python");
    run(
        Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
            .arg(&sdk)
            .current_dir(empty.path()),
        "pip install ./sdks/python",
    );
    Some(VENV.get_or_init(|| python).clone())
}

/// `tsc` from a local install of TypeScript.
fn tsc() -> Option<PathBuf> {
    require("node", has_tool("node"))?;
    require("npm", has_tool("npm"))?;
    let _guard = SETUP.lock().unwrap_or_else(|e| e.into_inner());
    let tools = setup_dir().join("node-tools");
    let bin = tools.join("node_modules").join(".bin").join("tsc");
    if !bin.exists() {
        std::fs::create_dir_all(&tools).expect("node tools dir");
        std::fs::write(tools.join("package.json"), "{\"private\": true}\n").expect("package.json");
        run(
            Command::new("npm")
                .args(["install", "--no-audit", "--no-fund", "--silent", "typescript@5.9.3"])
                .current_dir(&tools),
            "npm install typescript",
        );
    }
    Some(bin)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("readable") {
        let path = entry.expect("an entry").path();
        let dest = to.join(path.file_name().expect("a name"));
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "node_modules" || n == "dist") {
                continue;
            }
            copy_dir(&path, &dest);
        } else {
            std::fs::copy(&path, &dest).expect("copy");
        }
    }
}

/// Every file under `dir`, by path relative to it.
fn files_under(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("readable") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).expect("under the root").to_path_buf();
                out.insert(rel, std::fs::read(&path).expect("readable"));
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// An empty project directory with the TypeScript SDK installed exactly as its README says
/// (`npm install <path to sdks/typescript>`): no TypeScript, nothing built on install.
fn npm_project(name: &str, module_type: &str) -> Option<PathBuf> {
    require("node", has_tool("node"))?;
    require("npm", has_tool("npm"))?;
    let dir = setup_dir().join(format!("ts-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a project dir");
    std::fs::write(dir.join("package.json"), format!("{{\"private\": true, \"type\": \"{module_type}\"}}\n"))
        .expect("package.json");
    run(
        Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--silent"])
            .arg(workspace().join("sdks").join("typescript"))
            .current_dir(&dir),
        "npm install ./sdks/typescript",
    );
    Some(dir)
}

/// Installs the TypeScript SDK into a fresh project (as its README says), then compiles
/// `sources` with `tsc --strict` against it; the compiled entry point (first source).
fn compile_typescript(name: &str, sources: &[PathBuf]) -> Option<PathBuf> {
    let tsc = tsc()?;
    let dir = npm_project(name, "module")?;
    let mut copied = Vec::new();
    for src in sources {
        let dest = dir.join(src.file_name().expect("a file name"));
        std::fs::copy(src, &dest).expect("copy a source");
        copied.push(dest);
    }
    run(
        Command::new(&tsc)
            .args(["--strict", "--target", "es2022", "--module", "nodenext", "--moduleResolution", "nodenext"])
            .args(["--lib", "es2022,dom", "--outDir", "out"])
            .args(&copied)
            .current_dir(&dir),
        &format!("tsc --strict {name}"),
    );
    let entry = sources[0].file_stem().expect("a stem").to_string_lossy().to_string();
    Some(dir.join("out").join(format!("{entry}.js")))
}

fn cargo_run(manifest: &Path) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(["run", "--quiet", "--manifest-path"])
        .arg(manifest)
        .env("CARGO_TARGET_DIR", target_dir().join("sdk-rust"));
    cmd
}

fn servers() -> Option<(Server, Server)> {
    let bin = helpers::apinfer_bin();
    require(&format!("the apinfer binary at {} (build it, or set APINFER_BIN)", bin.display()), bin.exists())?;
    Some((Server::start(false), Server::start(true)))
}

/// The Python SDK README's walk-through (key → buy → generate → download → list → errors),
/// run as written against a live server: only its base URL is changed.
#[test]
fn python_readme_walk_through_runs() {
    let Some(python) = python_venv() else { return };
    let Some((main, _limited)) = servers() else { return };
    let readme = std::fs::read_to_string(workspace().join("sdks/python/README.md")).expect("the README");
    let section = readme.split("## Walk-through").nth(1).expect("a walk-through section");
    let code = section.split("```python\n").nth(1).and_then(|c| c.split("```").next()).expect("a python block");
    assert!(code.contains("BASE = \"http://localhost:8080\""), "the walk-through names its base URL");
    let code = code.replace("BASE = \"http://localhost:8080\"", &format!("BASE = {:?}", main.url));
    let script = tempfile::NamedTempFile::with_suffix(".py").expect("a temp file");
    std::fs::write(script.path(), format!("{code}\nprint(\"walk-through done\")\n")).expect("the script");
    let out = run(Command::new(&python).arg(script.path()), "the Python README's walk-through");
    assert!(out.contains("succeeded 5000"), "{out}");
    assert!(out.contains("walk-through done"), "{out}");
}

/// The Rust SDK README's walk-through, built against the crate by path and run against a live
/// server: only its base URL is changed.
#[test]
fn rust_readme_walk_through_runs() {
    let Some((main, _limited)) = servers() else { return };
    let readme = std::fs::read_to_string(workspace().join("sdks/rust/README.md")).expect("the README");
    let section = readme.split("## Walk-through").nth(1).expect("a walk-through section");
    let code = section.split("```rust,no_run\n").nth(1).and_then(|c| c.split("```").next()).expect("a rust block");
    assert!(code.contains("let base = \"http://localhost:8080\";"), "the walk-through names its base URL");
    let code = code.replace("let base = \"http://localhost:8080\";", &format!("let base = {:?};", main.url));
    let project = setup_dir().join("rust-readme");
    let _ = std::fs::remove_dir_all(&project);
    std::fs::create_dir_all(project.join("src")).expect("a project");
    let sdk = workspace().join("sdks").join("rust");
    std::fs::write(
        project.join("Cargo.toml"),
        format!(
            "[package]\nname = \"readme-walk-through\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n[workspace]\n\n\
             [dependencies]\napinfer = {{ path = {:?} }}\ntokio = {{ version = \"1\", features = [\"macros\", \"rt-multi-thread\"] }}\n",
            sdk.display().to_string()
        ),
    )
    .expect("Cargo.toml");
    // The e2e crate's lock file pins the same dependencies' versions.
    std::fs::copy(workspace().join("sdk-gen/tests/e2e/rust/Cargo.lock"), project.join("Cargo.lock"))
        .expect("Cargo.lock");
    std::fs::write(project.join("src/main.rs"), code).expect("main.rs");
    let out = run(cargo_run(&project.join("Cargo.toml")).current_dir(&project), "the Rust README's walk-through");
    assert!(out.contains("succeeded +5000 credits"), "{out}");
    assert!(std::fs::read(project.join("lighthouse.png")).expect("the image").starts_with(b"\x89PNG"), "a PNG");
}

/// The TypeScript SDK README's walk-through, compiled with `tsc --strict` against the installed
/// package and run against a live server: only its base URL is changed.
#[test]
fn typescript_readme_walk_through_runs() {
    let readme = std::fs::read_to_string(workspace().join("sdks/typescript/README.md")).expect("the README");
    let section = readme.split("## Walk-through").nth(1).expect("a walk-through section");
    let code = section.split("```ts\n").nth(1).and_then(|c| c.split("```").next()).expect("a ts block");
    let local = "const baseURL = \"http://localhost:8080\";";
    assert!(code.contains(local), "the walk-through names its base URL");
    let source = tempfile::tempdir().expect("a temp dir");
    let walk = source.path().join("walk.ts");
    let code = code.replace(local, "const baseURL = process.env.APINFER_BASE_URL ?? \"\";");
    std::fs::write(&walk, format!("{code}\nconsole.log(\"walk-through done\");\n")).expect("walk.ts");
    let shims = workspace().join("examples/typescript/node-shims.d.ts");
    let Some(entry) = compile_typescript("readme", &[walk, shims]) else { return };
    let Some((main, _limited)) = servers() else { return };
    let mut node = Command::new("node");
    node.arg(&entry).env("APINFER_BASE_URL", &main.url);
    let out = run(&mut node, "the TypeScript README's walk-through");
    assert!(out.contains("succeeded 5000"), "{out}");
    assert!(out.contains("walk-through done"), "{out}");
}

#[test]
fn python_sdk_against_a_real_server() {
    let Some(python) = python_venv() else { return };
    let Some((main, limited)) = servers() else { return };
    let script = workspace().join("sdk-gen/tests/e2e/python/e2e_test.py");
    let mut cmd = Command::new(&python);
    cmd.arg(&script);
    e2e_env(&mut cmd, &main, &limited);
    let out = run(&mut cmd, "python SDK e2e");
    assert!(out.contains("python e2e: all checks passed"));
}

#[test]
fn typescript_sdk_against_a_real_server() {
    let Some(entry) = compile_typescript("e2e", &[workspace().join("sdk-gen/tests/e2e/typescript/e2e.ts")]) else {
        return;
    };
    let Some((main, limited)) = servers() else { return };
    let mut cmd = Command::new("node");
    cmd.arg(&entry);
    e2e_env(&mut cmd, &main, &limited);
    let out = run(&mut cmd, "typescript SDK e2e");
    assert!(out.contains("typescript e2e: all checks passed"));
}

/// The committed `dist/` (what users install: ESM, CommonJS and types) is exactly what the
/// package's own build makes of the committed sources with the pinned TypeScript.
#[test]
fn typescript_dist_is_built_from_the_committed_sources() {
    let Some(tsc) = tsc() else { return };
    let committed = workspace().join("sdks").join("typescript");
    let fresh = tempfile::tempdir().expect("a temp dir");
    copy_dir(&committed, fresh.path());
    let tsc_dir = tsc.parent().expect("a bin dir").to_path_buf();
    let path = format!("{}:{}", tsc_dir.display(), std::env::var("PATH").unwrap_or_default());
    run(
        Command::new("npm").args(["run", "--silent", "build"]).env("PATH", path).current_dir(fresh.path()),
        "npm run build",
    );
    let (built, have) = (files_under(&fresh.path().join("dist")), files_under(&committed.join("dist")));
    let stale: Vec<String> = built
        .keys()
        .chain(have.keys())
        .filter(|p| built.get(*p) != have.get(*p))
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        stale.is_empty(),
        "sdks/typescript/dist is stale ({stale:?}); rebuild: cd sdks/typescript && npm install && npm run build"
    );
}

/// `npm install ./sdks/typescript` in an empty project, with no TypeScript anywhere, gives a
/// package that works from an ES module and from CommonJS.
#[test]
fn typescript_sdk_installs_and_runs_from_esm_and_commonjs() {
    let Some(esm) = npm_project("esm", "module") else { return };
    let Some(cjs) = npm_project("cjs", "commonjs") else { return };
    let Some((main, _limited)) = servers() else { return };
    let (key, _account) = user_with_key(&main, "node@example.com", "10");
    let script = |import: &str| {
        format!(
            "{import}\n\
             const client = new Apinfer({{ baseURL: process.env.APINFER_BASE_URL, apiKey: process.env.APINFER_API_KEY }});\n\
             client.packages.list().then(async (packages) => {{\n\
               const balance = await client.balance.retrieve();\n\
               console.log(`packages=${{packages.data.length}} available=${{balance.available}}`);\n\
             }}).catch((e) => {{ console.error(e); process.exit(1); }});\n"
        )
    };
    std::fs::write(esm.join("main.js"), script("import { Apinfer } from \"apinfer\";")).expect("main.js");
    std::fs::write(cjs.join("main.js"), script("const { Apinfer } = require(\"apinfer\");")).expect("main.js");
    for dir in [esm, cjs] {
        let mut node = Command::new("node");
        node.arg("main.js").current_dir(&dir).env("APINFER_BASE_URL", &main.url).env("APINFER_API_KEY", &key);
        let out = run(&mut node, &format!("node {}", dir.display()));
        assert!(out.contains("packages=3 available=10"), "{out}");
    }
}

#[test]
fn rust_sdk_against_a_real_server() {
    let Some((main, limited)) = servers() else { return };
    let mut cmd = cargo_run(&workspace().join("sdk-gen/tests/e2e/rust/Cargo.toml"));
    e2e_env(&mut cmd, &main, &limited);
    let out = run(&mut cmd, "rust SDK e2e");
    assert!(out.contains("rust e2e: all checks passed"));
}

#[test]
fn examples_run_against_a_real_server() {
    let Some(python) = python_venv() else { return };
    let examples = workspace().join("examples");
    let Some(ts_entry) = compile_typescript(
        "examples",
        &[examples.join("typescript/buy_and_generate.ts"), examples.join("typescript/node-shims.d.ts")],
    ) else {
        return;
    };
    let Some((main, _limited)) = servers() else { return };
    let (key, _account) = user_with_key(&main, "examples@example.com", "150");
    let with_env = |cmd: &mut Command| {
        cmd.env("APINFER_API_KEY", &key).env("APINFER_BASE_URL", &main.url);
    };

    // The balance check: exit 0 at or above the threshold, 1 below it.
    let check = examples.join("python/balance_check.py");
    let mut ok = Command::new(&python);
    ok.arg(&check).args(["--threshold", "100"]);
    with_env(&mut ok);
    let out = run(&mut ok, "balance_check.py --threshold 100");
    assert!(out.contains("150"), "{out}");
    let mut low = Command::new(&python);
    low.arg(&check).args(["--threshold", "1000"]);
    with_env(&mut low);
    let status = low.status().expect("balance_check.py runs");
    assert_eq!(status.code(), Some(1), "below the threshold the balance check exits 1");
    let mut bad = Command::new(&python);
    bad.arg(&check).args(["--threshold", "1"]).env("APINFER_API_KEY", "sk_invalid").env("APINFER_BASE_URL", &main.url);
    assert_eq!(bad.status().expect("runs").code(), Some(2), "an API error exits 2");

    // Buy and generate (TypeScript): writes the PNG.
    let out_dir = tempfile::tempdir().expect("a temp dir");
    let png = out_dir.path().join("fox.png");
    let mut node = Command::new("node");
    node.arg(&ts_entry).args(["basic", "a red fox in the snow"]).arg(&png);
    with_env(&mut node);
    run(&mut node, "buy_and_generate.ts");
    let bytes = std::fs::read(&png).expect("the image was written");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");

    // The Rust example: a usage report.
    let mut report = cargo_run(&examples.join("rust/Cargo.toml"));
    with_env(&mut report);
    let out = run(&mut report, "examples/rust");
    assert!(out.contains("available"), "{out}");
}
