//! Prometheus metrics kept in process: request counts and latency histograms by route and
//! status, and credits moved by ledger type.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use apinfer_core::store::ledger::EntryType;
use apinfer_core::Credits;

const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<(String, String), Histogram>,
    credits: BTreeMap<&'static str, i64>,
}

/// The process's metrics registry.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *inner.requests.entry((method.to_string(), route.to_string(), status)).or_default() += 1;
        let h = inner.latency.entry((method.to_string(), route.to_string())).or_default();
        h.count += 1;
        h.sum += seconds;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
    }

    /// Counts credits moved (absolute value) by ledger entry type.
    pub fn observe_credits(&self, entry_type: EntryType, credits: Credits) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *inner.credits.entry(entry_type.as_str()).or_default() += credits.units().abs();
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        out.push_str("# HELP apinfer_http_requests_total HTTP requests served, by method, route and status.\n");
        out.push_str("# TYPE apinfer_http_requests_total counter\n");
        for ((method, route, status), n) in &inner.requests {
            let _ = writeln!(
                out,
                "apinfer_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP apinfer_http_request_duration_seconds HTTP request latency, by method and route.\n");
        out.push_str("# TYPE apinfer_http_request_duration_seconds histogram\n");
        for ((method, route), h) in &inner.latency {
            let labels = format!("method=\"{method}\",route=\"{route}\"");
            for (bound, count) in BUCKETS.iter().zip(h.counts) {
                let _ =
                    writeln!(out, "apinfer_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}");
            }
            let _ = writeln!(out, "apinfer_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "apinfer_http_request_duration_seconds_sum{{{labels}}} {}", h.sum);
            let _ = writeln!(out, "apinfer_http_request_duration_seconds_count{{{labels}}} {}", h.count);
        }
        out.push_str(
            "# HELP apinfer_credits_moved_total Credits moved through the ledger by this process, by entry type.\n",
        );
        out.push_str("# TYPE apinfer_credits_moved_total counter\n");
        for (kind, units) in &inner.credits {
            let _ = writeln!(out, "apinfer_credits_moved_total{{type=\"{kind}\"}} {}", Credits::from_units(*units));
        }
        let spent = inner.credits.get(EntryType::Generation.as_str()).copied().unwrap_or(0);
        out.push_str("# HELP apinfer_credits_spent_total Credits spent on generations through this process.\n");
        out.push_str("# TYPE apinfer_credits_spent_total counter\n");
        let _ = writeln!(out, "apinfer_credits_spent_total {}", Credits::from_units(spent));
        out
    }
}
