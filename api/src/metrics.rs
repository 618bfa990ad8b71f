//! Prometheus metrics kept in process, through the official `prometheus-client` crate: request
//! counts and latency histograms by route and status class, credits moved by ledger type, and
//! the group-commit counters. Every label takes its values from a closed set (route patterns,
//! known methods, status classes, entry types), so no client can add a series.

use std::time::Duration;

use apinfer_core::group_commit::Stats;
use apinfer_core::metrics::CreditsMoved;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::config::CacheBudget;

const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LatencyLabels {
    method: &'static str,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    cache: &'static str,
}

/// The process's metrics registry.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<LatencyLabels, Histogram>,
    credits: CreditsMoved,
    cache_bytes: Family<CacheLabels, Gauge>,
    images_expired: Counter,
    blobs_collected: Counter,
}

impl Metrics {
    /// A registry with the request, credit, cache and retention metrics, the committers'
    /// `stats`, and the local renderer's count of renders.
    pub fn new(stats: &Stats, budget: CacheBudget, local_renders: Counter) -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency =
            Family::<LatencyLabels, Histogram>::new_with_constructor((|| Histogram::new(BUCKETS)) as fn() -> Histogram);
        let credits = stats.credits.clone();
        registry.register(
            "apinfer_http_requests",
            "HTTP requests served, by method, route pattern and status class",
            requests.clone(),
        );
        registry.register(
            "apinfer_http_request_duration_seconds",
            "HTTP request latency, by method and route pattern",
            latency.clone(),
        );
        credits.register(&mut registry);
        stats.register(&mut registry);
        let cache_budget = Family::<CacheLabels, Gauge>::default();
        let gauge = |value: usize| i64::try_from(value).unwrap_or(i64::MAX);
        cache_budget.get_or_create(&CacheLabels { cache: "render" }).set(gauge(budget.render_cache_bytes));
        let pages = usize::try_from(budget.sqlite_cache_kib).unwrap_or(usize::MAX).saturating_mul(1024);
        cache_budget.get_or_create(&CacheLabels { cache: "sqlite_pages" }).set(gauge(pages));
        registry.register(
            "apinfer_cache_budget_bytes",
            "Cache memory allowed (APINFER_CACHE_MEMORY_MB): the render cache's, and each SQLite connection's page cache",
            cache_budget,
        );
        let sqlite = Gauge::<i64>::default();
        sqlite.set(i64::from(budget.sqlite_connections));
        registry.register("apinfer_sqlite_connections_max", "SQLite connections that may hold a page cache", sqlite);
        let cache_bytes = Family::<CacheLabels, Gauge>::default();
        registry.register("apinfer_cache_bytes", "Bytes the render cache holds now", cache_bytes.clone());
        let images_expired = Counter::default();
        registry.register(
            "apinfer_images_expired",
            "Generated images deleted at the end of their retention period",
            images_expired.clone(),
        );
        let blobs_collected = Counter::default();
        registry.register(
            "apinfer_image_blobs_collected",
            "Image blobs deleted once unreferenced",
            blobs_collected.clone(),
        );
        registry.register(
            "apinfer_local_renders",
            "Images the local renderer rendered (a request for an image being rendered waits for that render; \
             cached images are not rendered again)",
            local_renders,
        );
        Metrics { registry, requests, latency, credits, cache_bytes, images_expired, blobs_collected }
    }

    pub fn observe_request(&self, method: &'static str, route: &str, status: u16, elapsed: Duration) {
        let status = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.requests.get_or_create(&RequestLabels { method, route: route.to_string(), status }).inc();
        self.latency.get_or_create(&LatencyLabels { method, route: route.to_string() }).observe(elapsed.as_secs_f64());
    }

    /// The credit counters, to count what the ledger engine moved (see [`CreditsMoved`]).
    pub fn credits(&self) -> &CreditsMoved {
        &self.credits
    }

    /// Records what the render cache holds now.
    pub fn set_render_cache_bytes(&self, bytes: usize) {
        self.cache_bytes.get_or_create(&CacheLabels { cache: "render" }).set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    /// Counts images expired and blobs collected by the retention task.
    pub fn observe_retention(&self, images: usize, blobs: usize) {
        self.images_expired.inc_by(images as u64);
        self.blobs_collected.inc_by(blobs as u64);
    }

    /// The OpenMetrics text exposition, and its content type.
    pub fn render(&self) -> (String, &'static str) {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        (out, "application/openmetrics-text; version=1.0.0; charset=utf-8")
    }
}
