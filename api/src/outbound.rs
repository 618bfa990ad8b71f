//! Outbound webhooks: the SSRF guard for customer-supplied URLs, and the background workers
//! that deliver the event outbox (signed, retried with exponential backoff, every attempt
//! recorded) and run automatic top-ups. Workers never run on a request's path: a request that
//! causes an alert only writes the outbox row in its own transaction.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use actix_web::web;
use apinfer_core::signature;
use apinfer_core::store::{alerts, autotopup};
use chrono::Utc;

use crate::error::ApiError;
use crate::state::AppState;

/// Whether an address is one a customer's webhook must not reach (loopback, private,
/// link-local, carrier-grade NAT, unspecified, multicast, documentation, unique-local).
fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal_v4(v4);
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || v6 == Ipv6Addr::LOCALHOST
        }
    }
}

fn is_internal_v4(v4: Ipv4Addr) -> bool {
    let [a, b, ..] = v4.octets();
    v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || v4.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
}

/// Checks a webhook URL: http(s), a host that resolves, and (unless `allow_private`) no
/// resolved address inside the network. Checked when the URL is set and again before each
/// delivery, after DNS resolution.
pub async fn check_webhook_url(url: &str, allow_private: bool) -> Result<reqwest::Url, ApiError> {
    let invalid = |code: &str, message: &str| ApiError::invalid(code, message, Some("webhook_url"));
    // A well-formed URL whose destination cannot be used is refused as unprocessable.
    let refused = |code: &str, message: &str| {
        let mut e = invalid(code, message);
        e.kind = crate::error::ErrorKind::Unprocessable;
        e
    };
    let parsed = reqwest::Url::parse(url)
        .map_err(|_| invalid("invalid_webhook_url", "webhook_url must be an absolute http(s) URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.username() != "" || parsed.password().is_some() {
        return Err(invalid("invalid_webhook_url", "webhook_url must be an http(s) URL without credentials"));
    }
    let host = parsed.host_str().ok_or_else(|| invalid("invalid_webhook_url", "webhook_url needs a host"))?;
    let port = parsed.port_or_known_default().unwrap_or(443);
    let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
    let addresses: Vec<IpAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|_| refused("webhook_url_unresolvable", "webhook_url's host does not resolve"))?
        .map(|a| a.ip())
        .collect();
    if addresses.is_empty() {
        return Err(refused("webhook_url_unresolvable", "webhook_url's host does not resolve"));
    }
    if !allow_private && addresses.iter().any(|ip| is_internal(*ip)) {
        return Err(refused(
            "webhook_url_not_allowed",
            "webhook_url resolves to a loopback, private or link-local address, which is not allowed",
        ));
    }
    Ok(parsed)
}

/// Delay before attempt `attempt + 1`: base × 2^(attempt − 1), capped at one hour.
pub fn backoff(base: Duration, attempt: i32) -> Duration {
    let factor = 2u32.saturating_pow((attempt.max(1) - 1).min(20) as u32);
    base.saturating_mul(factor).min(Duration::from_secs(3600))
}

/// Starts the delivery and top-up workers.
pub fn spawn_workers(state: web::Data<AppState>) {
    let interval = Duration::from_millis(state.config.worker_interval_ms.max(10));
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(state.config.webhook_timeout_seconds.max(1)))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        loop {
            tick.tick().await;
            if let Err(e) = deliver_due(&state, &client).await {
                tracing::warn!(error = %e, "webhook delivery round failed");
            }
            let (clock, provider) = (state.clone(), state.payments.clone());
            match state.db(move |conn| autotopup::run_pending(conn, provider.as_ref(), &|| clock.now())).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(handled = n, "automatic top-ups run"),
                Err(e) => tracing::warn!(error = %e, "automatic top-up round failed"),
            }
        }
    });
}

async fn deliver_due(state: &AppState, client: &reqwest::Client) -> Result<(), ApiError> {
    let now = state.now();
    let lease = chrono::Duration::seconds(state.config.webhook_timeout_seconds as i64 + 30);
    let due = state.db(move |conn| alerts::claim_due_deliveries(conn, now, lease, 20)).await?;
    for delivery in due {
        let (status, error) = send(state, client, &delivery).await;
        let delivered = status.is_some_and(|s| (200..300).contains(&s));
        let attempt = delivery.attempts + 1;
        let retry_at = (!delivered && attempt < state.config.webhook_max_attempts).then(|| {
            state.now()
                + chrono::Duration::from_std(backoff(state.config.webhook_backoff_base(), attempt)).unwrap_or_default()
        });
        let now = state.now();
        state
            .db(move |conn| alerts::record_attempt(conn, &delivery, status, error.as_deref(), delivered, retry_at, now))
            .await?;
    }
    Ok(())
}

async fn send(
    state: &AppState,
    client: &reqwest::Client,
    delivery: &alerts::DueDelivery,
) -> (Option<u16>, Option<String>) {
    if let Err(e) = check_webhook_url(&delivery.url, state.config.allow_private_webhooks).await {
        return (None, Some(e.message));
    }
    let timestamp = Utc::now().timestamp();
    let header = signature::sign(delivery.secret.as_bytes(), timestamp, delivery.payload.as_bytes());
    let sent = client
        .post(&delivery.url)
        .header("content-type", "application/json")
        .header(signature::HEADER, header)
        .header("user-agent", concat!("apinfer-webhooks/", env!("CARGO_PKG_VERSION")))
        .body(delivery.payload.clone())
        .send()
        .await;
    match sent {
        Ok(res) => {
            let status = res.status().as_u16();
            let error = (!res.status().is_success()).then(|| format!("HTTP {status}"));
            (Some(status), error)
        }
        Err(e) if e.is_timeout() => (None, Some("timed out".into())),
        Err(_) => (None, Some("connection failed".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let base = Duration::from_millis(100);
        assert_eq!(backoff(base, 1), Duration::from_millis(100));
        assert_eq!(backoff(base, 2), Duration::from_millis(200));
        assert_eq!(backoff(base, 4), Duration::from_millis(800));
        assert_eq!(backoff(base, 40), Duration::from_secs(3600));
    }

    #[actix_web::test]
    async fn urls_are_checked_after_resolution() {
        assert!(check_webhook_url("ftp://example.com/x", true).await.is_err());
        assert!(check_webhook_url("http://user:pw@127.0.0.1/x", true).await.is_err());
        let refused = check_webhook_url("http://127.0.0.1:9/hook", false).await.unwrap_err();
        assert_eq!(refused.code, "webhook_url_not_allowed");
        let refused = check_webhook_url("http://localhost:9/hook", false).await.unwrap_err();
        assert_eq!(refused.code, "webhook_url_not_allowed", "names are resolved before the check");
        assert!(check_webhook_url("http://127.0.0.1:9/hook", true).await.is_ok());
    }
}
