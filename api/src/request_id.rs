//! The id of the request being served (`req_...`, or the client's own `X-Request-Id`), set by
//! the telemetry middleware for everything the request runs, and read by whatever reports on
//! it: error bodies, logs, idempotency records.

use std::future::Future;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served, or `req_unknown` outside one.
pub fn current() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_else(|_| "req_unknown".to_string())
}

/// Runs `fut` with `request_id` as the current request id (the request itself, or work moved
/// to another task).
pub fn scope<F: Future>(request_id: String, fut: F) -> impl Future<Output = F::Output> {
    REQUEST_ID.scope(request_id, fut)
}
