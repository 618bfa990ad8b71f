//! Outbound webhooks: the SSRF guard for customer-supplied URLs, and the background workers
//! that deliver the event outbox (signed, retried with exponential backoff, every attempt
//! recorded) and run automatic top-ups. Workers never run on a request's path: a request that
//! causes an alert only writes the outbox row in its own transaction.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ip_network::{Ipv4Network, Ipv6Network};
use std::time::Duration;

use actix_web::web;
use apinfer_core::purchasing;
use apinfer_core::signature;
use apinfer_core::store::alerts;
use chrono::Utc;

use crate::error::ApiError;
use crate::state::AppState;

/// Whether a customer's webhook may reach `ip`: only globally reachable addresses, by the
/// IANA special-purpose registries as the `ip_network` crate encodes them (private, loopback,
/// link-local, shared, benchmarking, documentation, reserved… all refused), and no multicast
/// address. An IPv6
/// address that carries an IPv4 one (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`, NAT64
/// `64:ff9b::/96`) is judged by that IPv4 address; 6to4 (`2002::/16`) and Teredo
/// (`2001::/32`) tunnel into IPv4 the filter cannot see, so they are refused.
fn is_global(ip: IpAddr) -> bool {
    match ip {
        // A webhook is unicast HTTP: multicast, which the registries leave global, is not.
        IpAddr::V4(v4) => !v4.is_multicast() && Ipv4Network::new(v4, 32).is_ok_and(|n| n.is_global()),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_ipv4(v6) {
                return is_global(IpAddr::V4(v4));
            }
            let [first, second, ..] = v6.segments();
            if first == 0x2002 || (first, second) == (0x2001, 0) {
                return false;
            }
            !v6.is_multicast() && Ipv6Network::new(v6, 128).is_ok_and(|n| n.is_global())
        }
    }
}

/// The IPv4 address an IPv6 address stands for, if it is one of the forms that carry one.
fn embedded_ipv4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let segments = v6.segments();
    let tail = Ipv4Addr::from(((segments[6] as u32) << 16) | segments[7] as u32);
    let nat64 = segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    // `::a.b.c.d` (deprecated IPv4-compatible), but not `::` or `::1`.
    let compatible = segments[..6] == [0; 6] && u32::from(tail) > 1;
    v6.to_ipv4_mapped().or((nat64 || compatible).then_some(tail))
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
    if !allow_private && addresses.iter().any(|ip| !is_global(*ip)) {
        return Err(refused(
            "webhook_url_not_allowed",
            "webhook_url resolves to an address that is not globally reachable (loopback, private, link-local, reserved or special-purpose), which is not allowed",
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
        for round in 0_u64.. {
            tick.tick().await;
            if let Err(e) = deliver_due(&state, &client).await {
                tracing::warn!(error = %e, "webhook delivery round failed");
            }
            // Charges left unknown are rare and wait two minutes anyway: every 30th round
            // (30 s by default), not every second, is often enough to look for them.
            if round % 30 == 0 {
                let (provider, now) = (state.payments.clone(), state.now());
                match state.db(move |conn| purchasing::settle_unknown(conn, provider.as_ref(), now)).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(settled = n, "unsettled card purchases settled from the provider's record"),
                    Err(e) => tracing::warn!(error = %e, "settling unknown card purchases failed"),
                }
            }
            let (clock, provider) = (state.clone(), state.payments.clone());
            match state
                .db(move |conn| apinfer_core::topping_up::run_pending(conn, provider.as_ref(), &|| clock.now()))
                .await
            {
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
    let disable_after = chrono::Duration::seconds(state.config.webhook_disable_after_seconds as i64);
    for delivery in due {
        let began = std::time::Instant::now();
        let (status_code, error) = send(state, client, &delivery).await;
        let duration = began.elapsed();
        let delivered = status_code.is_some_and(|s| (200..300).contains(&s));
        let attempt = delivery.attempts + 1;
        let retry_at = (!delivered && attempt < state.config.webhook_max_attempts).then(|| {
            state.now()
                + chrono::Duration::from_std(backoff(state.config.webhook_backoff_base(), attempt)).unwrap_or_default()
        });
        let now = state.now();
        state
            .db(move |conn| {
                let error = error.as_deref();
                let outcome =
                    alerts::AttemptOutcome { status_code, error, delivered, duration, retry_at, disable_after };
                alerts::record_attempt(conn, &delivery, &outcome, now)
            })
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
    let secrets: Vec<&[u8]> = delivery.secrets.iter().map(|s| s.as_bytes()).collect();
    let header = signature::sign_all(&secrets, timestamp, delivery.payload.as_bytes());
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
    fn only_globally_reachable_addresses_pass() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "192.0.0.8",  // IETF protocol assignments
            "192.0.2.1",  // documentation
            "198.18.0.1", // benchmarking
            "240.0.0.1",  // reserved
            "255.255.255.255",
            "224.0.0.1",
            "239.1.2.3",
            "ff0e::1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",  // NAT64 of 169.254.169.254
            "64:ff9b::7f00:1",     // NAT64 of 127.0.0.1
            "2002:7f00:1::1",      // 6to4
            "2001:0:4136:e378::1", // Teredo
        ] {
            assert!(!is_global(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"] {
            assert!(is_global(ip.parse().unwrap()), "{ip}");
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
