//! End-to-end test of the generated Rust SDK against a real apinfer server; see the Python twin
//! (`../python/e2e_test.py`) for the environment it expects.

use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apinfer::{
    AdjustmentRequest, Client, CreateApiKeyRequest, CreateGenerationRequest, CreatePurchaseRequest,
    CreateWebhookEndpointRequest, Decimal, Error, EventType, EventsListParams, GenerationStatus,
    GenerationsCreateParams, LoginRequest, PaymentMethodInput, PurchaseStatus, RequestOptions, Scope, SignupRequest,
    TransactionsListParams,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).expect("a decimal literal")
}

fn check(name: &str) {
    println!("ok: {name}");
}

fn anon(base: &str) -> Client {
    Client::builder().base_url(base).api_key("").build().expect("client")
}

fn with_key(base: &str, key: &str) -> Client {
    Client::builder().base_url(base).api_key(key).build().expect("client")
}

async fn new_user(base: &str, tag: &str) -> (String, String) {
    let email = format!("rs-{tag}-{}@example.com", std::process::id());
    let signup = anon(base)
        .auth()
        .signup(&SignupRequest { email, password: "correct horse battery".into(), name: None })
        .await
        .expect("signup");
    let session = with_key(base, &signup.token);
    let created = session
        .api_keys()
        .create(&CreateApiKeyRequest {
            name: "e2e".into(),
            scopes: ["balance:read", "usage:read", "purchases:write", "generations:write"].map(Scope::from).to_vec(),
            spend_limit: None,
            spend_limit_reset: None,
            expires_at: None,
        })
        .await
        .expect("api key");
    (created.key, signup.account.id)
}

fn adjustment(credits: &str, reason: &str) -> AdjustmentRequest {
    AdjustmentRequest { credits: dec(credits), reason: reason.into() }
}

/// A one-connection-per-request HTTP server that answers 503 first, then 201 with `body`,
/// recording each request's `Idempotency-Key`.
async fn flaky_server(body: String) -> (String, Arc<Mutex<Vec<Option<String>>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Read the head, then the body by Content-Length.
            let (head, mut rest) = loop {
                let n = sock.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break (String::new(), Vec::new());
                }
                buf.extend_from_slice(&chunk[..n]);
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break (String::from_utf8_lossy(&buf[..i]).to_string(), buf[i + 4..].to_vec());
                }
            };
            let header = |name: &str| {
                head.lines().find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
                })
            };
            let len: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
            while rest.len() < len {
                let n = sock.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                rest.extend_from_slice(&chunk[..n]);
            }
            let count = {
                let mut s = seen2.lock().expect("lock");
                s.push(header("idempotency-key"));
                s.len()
            };
            let (status, payload) = if count == 1 {
                ("503 Service Unavailable", r#"{"error":{"type":"unavailable","code":"unavailable","message":"x","request_id":"req_1"}}"#.to_owned())
            } else {
                ("201 Created", body.clone())
            };
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\nretry-after: 0\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{payload}",
                payload.len()
            );
            let _ = sock.write_all(response.as_bytes()).await;
        }
    });
    (format!("http://{addr}"), seen)
}

/// A receiver of webhook deliveries: each request's body and `Apinfer-Signature`, answered 200.
async fn webhook_receiver() -> (String, Arc<Mutex<Vec<(Vec<u8>, String)>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let received = Arc::new(Mutex::new(Vec::new()));
    let store = received.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let store = store.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    let header = |name: &str| {
                        head.lines().find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned())).unwrap_or_default()
                    };
                    let length: usize = header("content-length:").parse().unwrap_or(0);
                    let signature = String::from_utf8_lossy(&buf[..end])
                        .lines()
                        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("apinfer-signature")))
                        .map(|(_, v)| v.trim().to_owned())
                        .unwrap_or_default();
                    while buf.len() < end + 4 + length {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let body = buf[end + 4..end + 4 + length].to_vec();
                    buf.drain(..end + 4 + length);
                    store.lock().unwrap().push((body, signature));
                    let _ = sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
                }
            });
        }
    });
    (url, received)
}

/// Queued generations (`wait: Some(false)`), `wait_for`, cancel, events, and a webhook delivery
/// verified with `apinfer::webhooks`, on an account of its own.
async fn async_generations_events_and_webhooks(base: &str, admin: &Client) {
    let signup = anon(base)
        .auth()
        .signup(&SignupRequest {
            email: format!("rs-async-{}@example.com", std::process::id()),
            password: "correct horse battery".into(),
            name: None,
        })
        .await
        .expect("signup");
    let session = with_key(base, &signup.token);
    let scopes = ["balance:read", "usage:read", "generations:write"].map(Scope::from).to_vec();
    let request = CreateApiKeyRequest { name: "async".into(), scopes, spend_limit: None, spend_limit_reset: None, expires_at: None };
    let client = with_key(base, &session.api_keys().create(&request).await.expect("key").key);
    admin.admin().create_adjustment(&signup.account.id, &adjustment("20", "e2e async")).await.expect("grant");
    let (url, received) = webhook_receiver().await;
    let endpoint = session
        .webhook_endpoints()
        .create(&CreateWebhookEndpointRequest {
            url,
            enabled_events: vec!["generation.succeeded".into()],
            description: None,
        })
        .await
        .expect("endpoint");

    let fox = CreateGenerationRequest {
        model: "qwen-image".into(),
        prompt: "a patient fox".into(),
        size: Some("512x512".into()),
        quality: None,
        n: None,
        response_format: None,
    };
    let queue = GenerationsCreateParams { wait: Some(false) };
    let queued = client.generations().create(&fox, &queue).await.expect("queued");
    assert_eq!((queued.status.clone(), queued.credits_held), (GenerationStatus::Queued, dec("1.75")));
    let done = client.generations().wait_for(&queued.id, Duration::from_secs(60)).await.expect("finished");
    assert_eq!((done.status, done.credits_charged, done.cost.total), (GenerationStatus::Succeeded, dec("1.75"), dec("1.75")));
    check("create with wait: Some(false) queues; wait_for polls until it succeeds");

    let other = client.generations().create(&fox, &queue).await.expect("queued");
    let canceled = client.generations().cancel(&other.id).await.expect("cancel");
    let charged = match canceled.status {
        GenerationStatus::Canceled => dec("0"),
        GenerationStatus::Succeeded => dec("1.75"),
        ref other => panic!("canceled or succeeded, not {other:?}"),
    };
    assert_eq!(canceled.credits_charged, charged);
    assert_eq!(client.generations().cancel(&other.id).await.expect("again").status, canceled.status);
    check("cancel");

    let params = EventsListParams { r#type: Some(EventType::GenerationSucceeded), limit: Some(1), ..Default::default() };
    let events = client.events().list(&params).collect_all().await.expect("events");
    assert!(events.iter().any(|e| e.data["id"] == queued.id.as_str()), "{events:?}");
    check("iterating events across pages");

    let deadline = Instant::now() + Duration::from_secs(20);
    let (body, header) = loop {
        let found = received.lock().unwrap().iter().find(|(b, _)| String::from_utf8_lossy(b).contains(&queued.id)).cloned();
        if let Some(found) = found {
            break found;
        }
        assert!(Instant::now() < deadline, "the webhook arrives");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let secret = endpoint.secret.as_str();
    let event = apinfer::webhooks::construct_event(&body, &header, &[secret], 300).expect("a verified delivery");
    assert_eq!((event["type"].as_str(), event["data"]["id"].as_str()), (Some("generation.succeeded"), Some(queued.id.as_str())));
    let mut tampered = body.clone();
    tampered.push(b' ');
    assert!(apinfer::webhooks::construct_event(&tampered, &header, &[secret], 300).is_err());
    assert!(apinfer::webhooks::construct_event(&body, &header, &["whsec_not_it"], 300).is_err());
    check("webhook delivery verified with apinfer::webhooks::construct_event");
}

#[tokio::main]
async fn main() {
    let base = env("APINFER_E2E_BASE_URL");
    let rl_base = env("APINFER_E2E_RL_BASE_URL");
    let admin_email = env("APINFER_E2E_ADMIN_EMAIL");
    let admin_password = env("APINFER_E2E_ADMIN_PASSWORD");

    let packages = anon(&base).packages().list().await.expect("packages");
    assert!(!packages.data.is_empty());
    check("public catalog");

    let (key, account_id) = new_user(&base, "main").await;
    let client = with_key(&base, &key);
    let login = anon(&base)
        .auth()
        .login(&LoginRequest { email: admin_email, password: admin_password, account_id: None })
        .await
        .expect("admin login");
    let admin = with_key(&base, &login.token);

    let balance = client.balance().retrieve().await.expect("balance");
    assert_eq!(balance.available, Decimal::ZERO);
    assert_eq!(balance.account_id, account_id);
    check("balance");

    let fox = CreateGenerationRequest {
        model: "qwen-image".into(),
        prompt: "a red fox".into(),
        size: Some("512x512".into()),
        ..Default::default()
    };
    match client.generations().create(&fox, &Default::default()).await {
        Err(Error::InsufficientCredits(e)) => assert_eq!(e.r#type.as_deref(), Some("insufficient_credits")),
        other => panic!("expected InsufficientCredits, got {other:?}"),
    }
    assert_eq!(client.balance().retrieve().await.expect("balance").held, Decimal::ZERO);
    check("typed 402 InsufficientCredits from a generation");

    let idem = format!("rs-e2e-{}", std::process::id());
    let first = admin
        .admin()
        .with_options(RequestOptions::new().idempotency_key(&idem))
        .create_adjustment(&account_id, &adjustment("100.5", "e2e grant"))
        .await
        .expect("grant");
    let again = admin
        .admin()
        .with_options(RequestOptions::new().idempotency_key(&idem))
        .create_adjustment(&account_id, &adjustment("100.5", "e2e grant"))
        .await
        .expect("replay");
    assert_eq!(first.id, again.id);
    assert_eq!(first.credits, dec("100.5"));
    assert_eq!(client.balance().retrieve().await.expect("balance").balance, dec("100.5"));
    check("idempotency key sent and replayed");

    let (mock_url, seen) = flaky_server(serde_json::to_string(&first).expect("json")).await;
    let mocked = with_key(&mock_url, "sk_x");
    let entry = mocked.admin().create_adjustment("acct_x", &adjustment("1", "r")).await.expect("retried");
    assert_eq!(entry.id, first.id);
    {
        let seen = seen.lock().expect("lock");
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert!(seen[0].is_some() && seen[0] == seen[1], "{seen:?}");
    }
    check("retry after 503 reuses the generated idempotency key");

    for i in 0..24 {
        admin.admin().create_adjustment(&account_id, &adjustment("0.25", &format!("page filler {i}"))).await.expect("filler");
    }
    let params = TransactionsListParams { limit: Some(10), ..Default::default() };
    let mut ledger = client.transactions().list(&params);
    let mut txs = Vec::new();
    while let Some(tx) = ledger.next().await {
        txs.push(tx.expect("transaction"));
    }
    assert_eq!(txs.len(), 25);
    let total: Decimal = txs.iter().map(|t| t.credits).sum();
    assert_eq!(total, dec("106.5"));
    let page = client.transactions().list_page(&params).await.expect("page");
    assert_eq!(page.data.len(), 10);
    assert!(page.has_more && page.next_cursor.is_some());
    let all = client.transactions().list(&params).collect_all().await.expect("all");
    assert_eq!(all.len(), 25);
    check("auto-pagination over 3 pages; exact decimal sum");

    match admin.admin().create_adjustment(&account_id, &adjustment("-1000000", "too much")).await {
        Err(Error::InsufficientCredits(e)) => {
            assert_eq!(e.status_code, 402);
            assert_eq!(e.r#type.as_deref(), Some("insufficient_credits"));
            assert!(e.request_id.is_some() && !e.message.is_empty());
        }
        other => panic!("expected InsufficientCredits, got {other:?}"),
    }
    check("typed 402 InsufficientCredits from an adjustment");

    let card = |token: &str| CreatePurchaseRequest {
        package_id: "basic".into(),
        payment_method: PaymentMethodInput { r#type: "card".into(), token: Some(token.into()), payment_method_id: None },
    };
    let purchase = client.purchases().create(&card("tok_visa")).await.expect("purchase");
    assert_eq!(purchase.status, PurchaseStatus::Succeeded);
    assert_eq!(purchase.credits, dec("100"));
    assert_eq!(client.balance().retrieve().await.expect("balance").balance, dec("206.5"));
    check("purchase with a card");
    let generation = client.generations().create(&fox, &Default::default()).await.expect("generation");
    assert_eq!(generation.credits_charged, dec("1.75"));
    let png = client.generations().download_image(&generation.id, 0, &Default::default()).await.expect("image");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{:?}", &png[..png.len().min(16)]);
    assert_eq!(client.balance().retrieve().await.expect("balance").available, dec("204.75"));
    check("generation and its PNG download");
    async_generations_events_and_webhooks(&base, &admin).await;
    match client.purchases().create(&card("tok_chargeDeclined")).await {
        Err(Error::PaymentFailed(e)) => assert_eq!(e.code.as_deref(), Some("card_declined")),
        other => panic!("expected PaymentFailed, got {other:?}"),
    }
    check("typed 402 PaymentFailed (declined card)");

    let bad = Client::builder().base_url(&base).api_key(format!("sk_{}", "x".repeat(40))).max_retries(0).build().expect("client");
    match bad.balance().retrieve().await {
        Err(Error::Authentication(e)) => {
            assert_eq!(e.status_code, 401);
            assert_eq!(e.r#type.as_deref(), Some("authentication_required"));
        }
        other => panic!("expected Authentication, got {other:?}"),
    }
    check("typed 401 Authentication");

    match admin.admin().create_adjustment("acct_doesnotexist", &adjustment("1", "nobody")).await {
        Err(e @ Error::NotFound(_)) => assert_eq!(e.status_code(), Some(404)),
        other => panic!("expected NotFound, got {other:?}"),
    }
    check("typed 404 NotFound");

    let (rl_key, _) = new_user(&rl_base, "rl").await;
    let rl = Client::builder().base_url(&rl_base).api_key(&rl_key).max_retries(4).build().expect("client");
    let started = Instant::now();
    for _ in 0..6 {
        assert_eq!(rl.balance().retrieve().await.expect("waited out").balance, Decimal::ZERO);
    }
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_secs(1), "6 calls at 2/s should have waited, took {elapsed:?}");
    let no_retry = Client::builder().base_url(&rl_base).api_key(&rl_key).max_retries(0).build().expect("client");
    let mut limited = None;
    for _ in 0..6 {
        if let Err(e) = no_retry.balance().retrieve().await {
            limited = Some(e);
            break;
        }
    }
    assert!(matches!(limited, Some(Error::RateLimit(_))), "{limited:?}");
    check(&format!("rate limit waited out ({elapsed:?}); typed 429 without retries"));

    println!("rust e2e: all checks passed");
}
