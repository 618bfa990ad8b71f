//! Asynchronous generations (`Prefer: respond-async`): queued at once with their cost held, run
//! by a worker against a local OpenAI-compatible provider with a delay, then charged, released or
//! canceled; bounded in how many run at once; surviving a killed process. On both databases.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{dec, Backend, Resp, TestApp};
use crate::per_backend;
use crate::upstream::Upstream;

/// `qwen-image` at 1.75 a standard image: high quality (×1.5), two images.
const HIGH_PAIR: &str = "5.25";

async fn app_with(backend: Backend, upstream: &Upstream, per_account: u32, total: u32) -> Option<TestApp> {
    let provider = upstream.config();
    TestApp::spawn_with(backend, move |c| {
        c.upstream = Some(provider);
        c.async_concurrency = total;
        c.async_concurrency_per_account = per_account;
        c.async_lease_seconds = 3;
        c.worker_interval_ms = 20;
    })
    .await
}

fn request() -> Value {
    json!({"model": "qwen-image", "prompt": "a lighthouse, later", "size": "512x512", "quality": "high", "n": 2})
}

async fn queue(app: &TestApp, key: &str) -> Resp {
    app.request(reqwest::Method::POST, "/v1/generations", Some(key), Some(request()), &[("Prefer", "respond-async")])
        .await
}

/// Polls a generation until `done` holds (20 s at most).
async fn wait_for(app: &TestApp, key: &str, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let generation = app.get(&format!("/v1/generations/{id}"), Some(key)).await.expect(200);
        if done(&generation) {
            return generation;
        }
        assert!(Instant::now() < deadline, "still {generation}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn finished(generation: &Value) -> bool {
    ["succeeded", "failed", "canceled"].contains(&generation["status"].as_str().unwrap_or(""))
}

async fn funded(app: &TestApp, credits: &str) -> (crate::helpers::TestUser, String) {
    let admin = app.admin().await;
    let user = app.signup(&format!("u{}@example.com", apinfer_core::ids::random_base62(6).to_lowercase())).await;
    app.grant(&admin, &user.account_id, credits).await;
    let (_, key) = app.api_key(&user, &["balance:read", "generations:write", "usage:read"]).await;
    (user, key)
}

/// 202 at once with the generation queued and its cost held; it then runs and is charged once.
/// Its cost breakdown, timings and `X-Credits-Charged` are shown at every step, and the
/// synchronous form is unchanged (201, charged).
async fn an_async_generation_is_queued_then_charged(backend: Backend) {
    let upstream = Upstream::start(Duration::from_millis(400)).await;
    let Some(app) = app_with(backend, &upstream, 2, 4).await else { return };
    let (_, key) = funded(&app, "20").await;

    let queued = queue(&app, &key).await;
    assert_eq!(queued.status.as_u16(), 202, "{}", queued.body);
    let id = queued.body["id"].as_str().unwrap().to_string();
    assert_eq!(queued.header("location"), Some(format!("/v1/generations/{id}").as_str()));
    assert_eq!(queued.header("preference-applied"), Some("respond-async"));
    assert_eq!(queued.header("x-credits-charged"), Some("0"));
    let body = &queued.body;
    assert_eq!(body["status"], "queued");
    assert_eq!(
        body["cost"],
        json!({"credits_per_image": "1.75", "quality_multiplier": "1.5", "n": 2, "total": HIGH_PAIR})
    );
    assert_eq!((body["credits_held"].as_str(), body["credits_charged"].as_str()), (Some(HIGH_PAIR), Some("0")));
    assert!(body["timings"]["queued_at"].is_string() && body["timings"]["finished_at"].is_null(), "{body}");
    assert_eq!(app.balance(&key).await["held"], HIGH_PAIR, "held from the start");

    let running = wait_for(&app, &key, &id, |g| g["status"] != "queued").await;
    assert!(["processing", "succeeded"].contains(&running["status"].as_str().unwrap()), "{running}");
    let done = wait_for(&app, &key, &id, finished).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!((done["credits_charged"].as_str(), done["credits_held"].as_str()), (Some(HIGH_PAIR), Some("0")));
    assert_eq!(done["images"].as_array().unwrap().len(), 2);
    let timing = |name: &str| -> chrono::DateTime<chrono::Utc> {
        done["timings"][name].as_str().unwrap_or_else(|| panic!("{name} in {done}")).parse().unwrap()
    };
    assert!(timing("queued_at") <= timing("started_at") && timing("started_at") <= timing("finished_at"));
    assert!(timing("finished_at") - timing("started_at") >= chrono::Duration::milliseconds(400), "{done}");
    let fetched = app.get(&format!("/v1/generations/{id}"), Some(&key)).await;
    assert_eq!(fetched.header("x-credits-charged"), Some(HIGH_PAIR));
    let image = app.client.get(done["images"][1]["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(image.status().as_u16(), 200);
    let balance = app.balance(&key).await;
    assert_eq!((balance["balance"].as_str(), balance["held"].as_str()), (Some("14.75"), Some("0")));
    assert_eq!(upstream.calls(), 1);

    // The synchronous form: 201 when done, with the same breakdown and header.
    let sync = app.post("/v1/generations", Some(&key), request()).await;
    assert_eq!(sync.header("x-credits-charged"), Some(HIGH_PAIR));
    let sync = sync.expect(201);
    assert_eq!((sync["status"].as_str(), sync["cost"]["total"].as_str()), (Some("succeeded"), Some(HIGH_PAIR)));
    assert_eq!(app.balance(&key).await["balance"], "9.5");
    app.assert_ledger_consistent(&key).await;
}

/// The provider fails: the generation ends `failed` (`upstream_error`) and its hold is released.
async fn an_async_generation_failing_upstream_is_released(backend: Backend) {
    let upstream = Upstream::start(Duration::from_millis(100)).await;
    upstream.set_failing(true);
    let Some(app) = app_with(backend, &upstream, 2, 4).await else { return };
    let (_, key) = funded(&app, "10").await;
    let id = queue(&app, &key).await.expect(202)["id"].as_str().unwrap().to_string();
    let done = wait_for(&app, &key, &id, finished).await;
    assert_eq!(
        (done["status"].as_str(), done["error_code"].as_str(), done["credits_charged"].as_str()),
        (Some("failed"), Some("upstream_error"), Some("0")),
        "{done}"
    );
    let events = app.get("/v1/events?type=generation.failed", Some(&key)).await.expect(200);
    assert_eq!(events["data"][0]["data"]["id"].as_str(), Some(id.as_str()), "{events}");
    assert_eq!(events["data"][0]["data"]["error_code"], "upstream_error");
    let balance = app.balance(&key).await;
    assert_eq!((balance["balance"].as_str(), balance["held"].as_str()), (Some("10"), Some("0")));
    app.assert_ledger_consistent(&key).await;
}

/// Canceling: a running generation's provider call is abandoned and nothing is charged; a queued
/// one never reaches the provider; canceling again answers the same; a finished generation is
/// answered as it is; a synchronous one still running cannot be canceled.
async fn a_canceled_generation_is_not_charged(backend: Backend) {
    let upstream = Upstream::start(Duration::from_secs(30)).await;
    let Some(app) = app_with(backend, &upstream, 1, 4).await else { return };
    let (_, key) = funded(&app, "30").await;
    let running = queue(&app, &key).await.expect(202)["id"].as_str().unwrap().to_string();
    let waiting = queue(&app, &key).await.expect(202)["id"].as_str().unwrap().to_string();
    wait_for(&app, &key, &running, |g| g["status"] == "processing").await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while upstream.in_flight() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(upstream.in_flight(), 1, "one account, one at a time");
    assert_eq!(app.get(&format!("/v1/generations/{waiting}"), Some(&key)).await.expect(200)["status"], "queued");
    assert_eq!(app.balance(&key).await["held"], "10.5", "both held");

    // The queued one first: it never reaches the provider.
    let cancel = |id: &str| {
        let path = format!("/v1/generations/{id}/cancel");
        let app = &app;
        let key = key.clone();
        async move { app.post(&path, Some(&key), json!({})).await }
    };
    let canceled = cancel(&waiting).await;
    assert_eq!(canceled.header("x-credits-charged"), Some("0"));
    let canceled = canceled.expect(200);
    assert_eq!((canceled["status"].as_str(), canceled["credits_held"].as_str()), (Some("canceled"), Some("0")));
    assert!(canceled["timings"]["started_at"].is_null() && canceled["timings"]["finished_at"].is_string());
    // The running one: its provider call is abandoned.
    assert_eq!(cancel(&running).await.expect(200)["status"], "canceled");
    let deadline = Instant::now() + Duration::from_secs(5);
    while upstream.abandoned() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!((upstream.abandoned(), upstream.calls()), (1, 1), "the call in flight was dropped");
    let events = app.get("/v1/events?type=generation.canceled", Some(&key)).await.expect(200);
    let canceled: Vec<&str> =
        events["data"].as_array().unwrap().iter().map(|e| e["data"]["id"].as_str().unwrap()).collect();
    assert_eq!(canceled, [running.as_str(), waiting.as_str()], "one event per cancel, newest first");
    let again = cancel(&running).await.expect(200);
    assert_eq!((again["status"].as_str(), again["credits_charged"].as_str()), (Some("canceled"), Some("0")));
    let balance = app.balance(&key).await;
    assert_eq!((balance["balance"].as_str(), balance["held"].as_str()), (Some("30"), Some("0")));

    // A finished one is answered as it is.
    upstream.set_delay(Duration::from_millis(50));
    let id = queue(&app, &key).await.expect(202)["id"].as_str().unwrap().to_string();
    wait_for(&app, &key, &id, finished).await;
    let late = cancel(&id).await.expect(200);
    assert_eq!((late["status"].as_str(), late["credits_charged"].as_str()), (Some("succeeded"), Some(HIGH_PAIR)));

    // A synchronous one, while its request waits.
    upstream.set_delay(Duration::from_secs(2));
    let sync = tokio::spawn({
        let post = app.client.post(format!("{}/v1/generations", app.base)).bearer_auth(&key);
        post.json(&request()).send()
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    let sync_id = loop {
        let list = app.get("/v1/generations", Some(&key)).await.expect(200);
        if let Some(g) = list["data"].as_array().unwrap().iter().find(|g| g["status"] == "processing") {
            break g["id"].as_str().unwrap().to_string();
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    cancel(&sync_id).await.expect_error(409, "conflict", "generation_not_cancelable");
    assert_eq!(sync.await.unwrap().unwrap().status().as_u16(), 201, "the synchronous request is unharmed");
    let balance = app.balance(&key).await;
    assert_eq!((balance["balance"].as_str(), balance["held"].as_str()), (Some("19.5"), Some("0")));
    app.assert_ledger_consistent(&key).await;
}

/// Cancels fired as the provider answers: each generation ends in exactly one outcome, the
/// cancel's answer is that outcome, and the account is charged for the succeeded ones alone.
async fn a_cancel_racing_the_capture_has_one_outcome(backend: Backend) {
    let upstream = Upstream::start(Duration::from_millis(300)).await;
    let Some(app) = app_with(backend, &upstream, 8, 8).await else { return };
    let (_, key) = funded(&app, "100").await;
    let mut ids = Vec::new();
    for _ in 0..8 {
        ids.push(queue(&app, &key).await.expect(202)["id"].as_str().unwrap().to_string());
    }
    // The first cancels come well before the answers, the last well after, the middle ones
    // around them.
    let cancels = ids.iter().enumerate().map(|(i, id)| {
        let (app, key, path) = (&app, key.clone(), format!("/v1/generations/{id}/cancel"));
        async move {
            tokio::time::sleep(Duration::from_millis(150 + 40 * i as u64)).await;
            app.post(&path, Some(&key), json!({})).await.expect(200)
        }
    });
    let answers = futures::future::join_all(cancels).await;
    let mut charged = rust_decimal::Decimal::ZERO;
    for (id, answer) in ids.iter().zip(&answers) {
        let done = wait_for(&app, &key, id, finished).await;
        let outcome = done["status"].as_str().unwrap();
        assert!(["succeeded", "canceled"].contains(&outcome), "{done}");
        assert_eq!(answer["status"].as_str(), Some(outcome), "the cancel answered the outcome that won");
        let expected = if outcome == "succeeded" { HIGH_PAIR } else { "0" };
        assert_eq!(done["credits_charged"], expected);
        charged += dec(&done["credits_charged"]);
    }
    // One event per generation, of the outcome that won.
    let events = app.get("/v1/events?limit=100", Some(&key)).await.expect(200);
    for (id, answer) in ids.iter().zip(&answers) {
        let reported: Vec<&str> = events["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["data"]["id"] == id.as_str())
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        assert_eq!(reported, [format!("generation.{}", answer["status"].as_str().unwrap())], "{id}");
    }
    let balance = app.balance(&key).await;
    assert_eq!(dec(&balance["balance"]), rust_decimal::Decimal::from(100) - charged);
    assert_eq!(balance["held"], "0");
    app.assert_ledger_consistent(&key).await;
}

/// At most `total` run at once and `per_account` of one account; the rest wait (every request is
/// accepted) and all finish.
async fn concurrency_is_bounded_and_the_rest_waits(backend: Backend) {
    let upstream = Upstream::start(Duration::from_millis(300)).await;
    let Some(app) = app_with(backend, &upstream, 2, 3).await else { return };
    let (_, busy) = funded(&app, "100").await;
    let (_, other) = funded(&app, "100").await;
    let mut ids = Vec::new();
    for i in 0..9 {
        let key = if i < 6 { &busy } else { &other };
        ids.push((key.clone(), queue(&app, key).await.expect(202)["id"].as_str().unwrap().to_string()));
    }
    let mut most_of_busy = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let list = app.get("/v1/generations?limit=100", Some(&busy)).await.expect(200);
        let statuses: Vec<&str> =
            list["data"].as_array().unwrap().iter().map(|g| g["status"].as_str().unwrap()).collect();
        most_of_busy = most_of_busy.max(statuses.iter().filter(|s| **s == "processing").count());
        let other_list = app.get("/v1/generations", Some(&other)).await.expect(200);
        let all_done = statuses.iter().all(|s| *s == "succeeded")
            && other_list["data"].as_array().unwrap().iter().all(|g| g["status"] == "succeeded");
        if all_done {
            break;
        }
        assert!(Instant::now() < deadline, "{list}");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert!(most_of_busy <= 2, "one account ran {most_of_busy} at once");
    assert_eq!(upstream.max_in_flight(), 3, "the total bound is reached and never passed");
    assert_eq!(upstream.calls(), 9);
    assert_eq!(app.balance(&busy).await["balance"], "68.5");
    assert_eq!(app.balance(&other).await["balance"], "84.25");
}

/// Two `apinfer serve` processes on one database run the queue; both are killed (SIGKILL)
/// while generations run and more wait, and one comes back. Once the dead workers' leases run
/// out it takes their work over: every generation succeeds, each charged once (the killed calls
/// are made again), and nothing stays held; the bound held across the processes throughout.
async fn killed_processes_leave_work_that_another_finishes(backend: Backend) {
    let upstream = Upstream::start(Duration::from_millis(1500)).await;
    let provider = upstream.config();
    let Some(mut app) = TestApp::builder(backend)
        .processes(2)
        .configure(move |c| {
            c.upstream = Some(provider);
            c.async_concurrency = 2;
            c.async_concurrency_per_account = 2;
            c.async_lease_seconds = 3;
            c.worker_interval_ms = 50;
        })
        .spawn()
        .await
    else {
        return;
    };
    let (_, key) = funded(&app, "50").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let queued = app.server(i % 2).request(
            reqwest::Method::POST,
            "/v1/generations",
            Some(&key),
            Some(request()),
            &[("Prefer", "respond-async")],
        );
        ids.push(queued.await.expect(202)["id"].as_str().unwrap().to_string());
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while upstream.in_flight() < 2 {
        assert!(Instant::now() < deadline, "work started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.kill(0);
    app.kill(1);
    let deadline = Instant::now() + Duration::from_secs(5);
    while upstream.abandoned() < 2 {
        assert!(Instant::now() < deadline, "the killed calls end");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.restart(1).await;
    let survivor = app.server(1);
    let deadline = Instant::now() + Duration::from_secs(60);
    for id in &ids {
        loop {
            let generation = survivor.get(&format!("/v1/generations/{id}"), Some(&key)).await.expect(200);
            if finished(&generation) {
                assert_eq!(
                    (generation["status"].as_str(), generation["credits_charged"].as_str()),
                    (Some("succeeded"), Some(HIGH_PAIR)),
                    "{generation}"
                );
                break;
            }
            assert!(Instant::now() < deadline, "{generation}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let balance = survivor.get("/v1/balance", Some(&key)).await.expect(200);
    assert_eq!(
        (balance["balance"].as_str(), balance["held"].as_str()),
        (Some("23.75"), Some("0")),
        "each charged once"
    );
    assert_eq!((upstream.calls(), upstream.abandoned()), (7, 2), "the two killed calls were made again");
    assert!(upstream.max_in_flight() <= 2, "the bound holds across processes");
    survivor.assert_ledger_consistent(&key).await;
}

/// A cancel made through one process stops the provider call another process is making for it
/// (it finds out when it renews its lease), and nothing is charged.
async fn a_cancel_through_another_process_abandons_the_call(backend: Backend) {
    let upstream = Upstream::start(Duration::from_secs(30)).await;
    let provider = upstream.config();
    let Some(app) = TestApp::builder(backend)
        .processes(2)
        .configure(move |c| {
            c.upstream = Some(provider);
            c.async_lease_seconds = 3;
            c.worker_interval_ms = 50;
        })
        .spawn()
        .await
    else {
        return;
    };
    let (_, key) = funded(&app, "10").await;
    for i in 0..2 {
        let queued = app.server(i).request(
            reqwest::Method::POST,
            "/v1/generations",
            Some(&key),
            Some(request()),
            &[("Prefer", "respond-async")],
        );
        let id = queued.await.expect(202)["id"].as_str().unwrap().to_string();
        let deadline = Instant::now() + Duration::from_secs(10);
        while upstream.in_flight() == 0 {
            assert!(Instant::now() < deadline, "work started");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Through the process that queued it and through the other: whichever runs it, its call
        // is dropped within a lease renewal (a second, with a 3 s lease).
        let path = format!("/v1/generations/{id}/cancel");
        let cancel = app.server(1 - i).post(&path, Some(&key), json!({})).await;
        assert_eq!(cancel.expect(200)["status"], "canceled");
        let deadline = Instant::now() + Duration::from_secs(5);
        while upstream.abandoned() < i + 1 {
            assert!(Instant::now() < deadline, "the call in flight was dropped");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let balance = app.server(0).get("/v1/balance", Some(&key)).await.expect(200);
    assert_eq!((balance["balance"].as_str(), balance["held"].as_str()), (Some("10"), Some("0")));
}

per_backend!(
    an_async_generation_is_queued_then_charged,
    an_async_generation_failing_upstream_is_released,
    a_canceled_generation_is_not_charged,
    a_cancel_racing_the_capture_has_one_outcome,
    concurrency_is_bounded_and_the_rest_waits,
    killed_processes_leave_work_that_another_finishes,
    a_cancel_through_another_process_abandons_the_call,
);
