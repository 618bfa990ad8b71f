//! The `apinfer` command line: `openapi` prints the committed spec, `migrate` prepares a
//! database, `admin create-user` checks what sign-up checks, production mode refuses to start
//! without its secrets or with SQLite commits that a power loss could undo, and a SQLite WAL
//! restart threshold SQLite's own checkpoint would pre-empt is refused.

use std::process::Command;

fn apinfer() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_apinfer"));
    cmd.env("APINFER_CONFIG", "/nonexistent/apinfer.toml").env("RUST_LOG", "warn");
    for var in [
        "APINFER_ENV",
        "APINFER_JWT_SECRET",
        "APINFER_PAYMENTS_WEBHOOK_SECRET",
        "APINFER_DATABASE_URL",
        "APINFER_PAYMENTS_PROVIDER",
        "APINFER_METRICS_ADDR",
        "APINFER_METRICS_TOKEN",
        "APINFER_PUBLIC_BASE_URL",
        "APINFER_STRIPE_SECRET_KEY",
        "APINFER_STRIPE_PUBLISHABLE_KEY",
        "APINFER_STRIPE_WEBHOOK_SECRET",
        "APINFER_STRIPE_API_BASE",
        "APINFER_SQLITE_SYNCHRONOUS",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

#[test]
fn openapi_prints_the_committed_spec() {
    let out = apinfer().arg("openapi").output().unwrap();
    assert!(out.status.success());
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml")).unwrap();
    assert!(String::from_utf8(out.stdout).unwrap() == committed, "`apinfer openapi` differs from openapi.yaml");
}

#[test]
fn migrate_creates_a_ready_sqlite_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fresh.db");
    let out = apinfer().args(["migrate", "--database-url", &format!("sqlite://{}", db.display())]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(db.exists());
    // Migrating twice is harmless.
    let again = apinfer().args(["migrate", "--database-url", &format!("sqlite://{}", db.display())]).output().unwrap();
    assert!(again.status.success());
}

#[test]
fn admin_create_user_checks_what_sign_up_checks() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("users.db").display());
    let create = |email: &str, password: &str| {
        apinfer()
            .args(["admin", "create-user", "--email", email, "--password", password, "--database-url", &url])
            .output()
            .unwrap()
    };
    for (email, password, expected) in [
        ("not-an-address", "a long enough password", "email must be a valid address"),
        ("ops@example.com", "password", "commonly used passwords"),
        ("ops@example.com", "short", "password must be 8"),
    ] {
        let out = create(email, password);
        assert!(!out.status.success(), "{email} / {password} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{stderr}");
    }
    let out = create("Ops@Example.com", "a long enough password");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ops@example.com"), "the address is stored normalized");
}

#[test]
fn a_wal_restart_past_sqlites_own_checkpoint_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("wal.db").display());
    let migrate = |pages: &str| {
        apinfer().env("APINFER_SQLITE_WAL_RESTART_PAGES", pages).args(["migrate", "--database-url", &url]).output()
    };
    let refused = migrate("100000").unwrap();
    assert!(!refused.status.success(), "a restart threshold at the automatic checkpoint was accepted");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("APINFER_SQLITE_WAL_RESTART_PAGES must be below 100000"), "{stderr}");
    let accepted = migrate("99999").unwrap();
    assert!(accepted.status.success(), "{}", String::from_utf8_lossy(&accepted.stderr));
}

#[test]
fn sqlite_commits_are_durable_unless_opted_out_and_never_in_production() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("sync.db").display());
    let migrate = |env: &[(&str, &str)]| {
        apinfer().envs(env.iter().copied()).args(["migrate", "--database-url", &url]).output().unwrap()
    };
    // The opt-in is accepted in development, and a value that names nothing is refused.
    let normal = migrate(&[("APINFER_SQLITE_SYNCHRONOUS", "normal")]);
    assert!(normal.status.success(), "{}", String::from_utf8_lossy(&normal.stderr));
    let unknown = migrate(&[("APINFER_SQLITE_SYNCHRONOUS", "off")]);
    assert!(!unknown.status.success(), "synchronous=off was accepted");
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("APINFER_SQLITE_SYNCHRONOUS must be full or normal"));
    // Production refuses it: a power loss could take back answered payments.
    let production = [
        ("APINFER_ENV", "production"),
        ("APINFER_JWT_SECRET", "a-production-secret-of-some-length"),
        ("APINFER_PAYMENTS_WEBHOOK_SECRET", "another-production-secret-value"),
        ("APINFER_PUBLIC_BASE_URL", "https://api.example.com"),
        ("APINFER_METRICS_TOKEN", "a-metrics-token-of-some-length"),
    ];
    let refused = migrate(&[&production[..], &[("APINFER_SQLITE_SYNCHRONOUS", "normal")]].concat());
    assert!(!refused.status.success(), "production accepted synchronous=normal");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("APINFER_SQLITE_SYNCHRONOUS=normal is refused in production"), "{stderr}");
    let full = migrate(&[&production[..], &[("APINFER_SQLITE_SYNCHRONOUS", "full")]].concat());
    assert!(full.status.success(), "{}", String::from_utf8_lossy(&full.stderr));
}

#[test]
fn production_refuses_to_start_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("prod.db").display());
    let out = apinfer()
        .env("APINFER_ENV", "production")
        .args(["serve", "--addr", "127.0.0.1:0", "--database-url", &url])
        .output()
        .unwrap();
    assert!(!out.status.success(), "production started without secrets");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("APINFER_JWT_SECRET"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Each further setting production requires is named while it is missing; with all of them
    // it gets past configuration (here: `migrate`, which exits when done).
    let settings = [
        ("APINFER_JWT_SECRET", "a-production-secret-of-some-length"),
        ("APINFER_PAYMENTS_WEBHOOK_SECRET", "another-production-secret-value"),
        // Image URLs come from the configured origin, never from request headers.
        ("APINFER_PUBLIC_BASE_URL", "https://api.example.com"),
        // The metrics (request patterns, money totals) are never open to anyone.
        ("APINFER_METRICS_TOKEN", "a-metrics-token-of-some-length"),
    ];
    let migrate = |given: &[(&str, &str)]| {
        apinfer()
            .env("APINFER_ENV", "production")
            .envs(given.iter().copied())
            .args(["migrate", "--database-url", &url])
            .output()
            .unwrap()
    };
    for missing in 2..settings.len() {
        let out = migrate(&settings[..missing]);
        assert!(!out.status.success(), "production started without {}", settings[missing].0);
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(settings[missing].0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let ok = migrate(&settings);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    // A separate metrics listener stands in for the metrics token.
    let mut with_listener = settings[..3].to_vec();
    with_listener.push(("APINFER_METRICS_ADDR", "127.0.0.1:0"));
    let ok = migrate(&with_listener);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    // Serving takes a payment provider that moves real money: the sandbox approves test
    // payments, so production refuses to serve with it (and names the setting).
    for provider in [None, Some("sandbox")] {
        let mut serve = apinfer();
        serve.env("APINFER_ENV", "production").envs(settings.iter().copied());
        if let Some(provider) = provider {
            serve.env("APINFER_PAYMENTS_PROVIDER", provider);
        }
        let out = serve.args(["serve", "--addr", "127.0.0.1:0", "--database-url", &url]).output().unwrap();
        assert!(!out.status.success(), "production served with the sandbox");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("APINFER_PAYMENTS_PROVIDER") && stderr.contains("sandbox"), "{stderr}");
    }
    // Stripe without its settings is refused too, naming each one missing.
    let out = apinfer()
        .env("APINFER_ENV", "production")
        .envs(settings.iter().copied())
        .env("APINFER_PAYMENTS_PROVIDER", "stripe")
        .env("APINFER_STRIPE_SECRET_KEY", "sk_live_something")
        .args(["serve", "--addr", "127.0.0.1:0", "--database-url", &url])
        .output()
        .unwrap();
    assert!(!out.status.success(), "stripe served without its settings");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("APINFER_STRIPE_PUBLISHABLE_KEY")
            && stderr.contains("APINFER_STRIPE_WEBHOOK_SECRET")
            && !stderr.contains("APINFER_STRIPE_SECRET_KEY"),
        "{stderr}"
    );
}

/// Logs written anywhere but a terminal are plain text (no colour codes), and JSON lines with
/// `APINFER_LOG_JSON`.
#[test]
fn logs_are_plain_text_off_a_terminal_and_json_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("logs.db").display());
    let run = |json: bool| {
        let mut cmd = apinfer();
        cmd.env("RUST_LOG", "info").args(["migrate", "--database-url", &url]);
        if json {
            cmd.env("APINFER_LOG_JSON", "true");
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let plain = run(false);
    assert!(plain.contains("migrations applied"), "{plain}");
    assert!(!plain.contains('\u{1b}'), "colour codes in a piped log: {plain:?}");
    let json = run(true);
    let line = json.lines().find(|l| l.contains("migrations applied")).expect("the line");
    let parsed: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
    assert_eq!(parsed["fields"]["message"], "migrations applied");
    assert!(!json.contains('\u{1b}'));
}
