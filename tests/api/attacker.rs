//! What an outside attacker of a billing API tries, each as a test of the class it belongs to
//! (issue 17). So far: request-controlled metrics labels, and a public `/metrics`.

use reqwest::Method;

use crate::helpers::{Backend, TestApp};
use crate::per_backend;

/// However many made-up methods arrive, the metrics gain one `OTHER` series per route and
/// status, never one per method.
async fn made_up_methods_add_no_metrics_series(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    for i in 0..40 {
        let method = Method::from_bytes(format!("ATTACK{i}").as_bytes()).unwrap();
        let res = app.request(method, "/v1/balance", None, None, &[]).await;
        assert_eq!(res.status.as_u16(), 405);
    }
    let text = app.get("/metrics", None).await.text;
    assert!(!text.contains("ATTACK"), "a client-chosen method became a label:\n{text}");
    let other: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("apinfer_http_requests_total{") && l.contains("method=\"OTHER\""))
        .collect();
    assert_eq!(other.len(), 1, "{other:?}");
    assert!(other[0].ends_with(" 40"), "{other:?}");
}

/// With `APINFER_METRICS_TOKEN`, `/metrics` answers only that bearer token.
async fn metrics_need_the_token_when_one_is_set(backend: Backend) {
    let token = "metrics-token-of-some-length";
    let Some(app) = TestApp::spawn_with(backend, |c| c.metrics_token = Some(token.to_string().into())).await else {
        return;
    };
    app.get("/metrics", None).await.expect_error(401, "authentication_required", "invalid_token");
    app.get("/metrics", Some("metrics-token-of-some-lengtX")).await.expect_error(
        401,
        "authentication_required",
        "invalid_token",
    );
    let ada = app.signup("ada@example.com").await;
    app.get("/metrics", Some(&ada.token)).await.expect_error(401, "authentication_required", "invalid_token");
    let res = app.get("/metrics", Some(token)).await;
    assert_eq!(res.status.as_u16(), 200);
    assert!(res.text.contains("apinfer_http_requests_total"), "{}", res.text);
}

per_backend!(made_up_methods_add_no_metrics_series, metrics_need_the_token_when_one_is_set);
