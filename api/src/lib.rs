//! apinfer's HTTP API (actix-web): routes, authentication, errors, idempotency, rate limits,
//! telemetry and the OpenAPI document. Business rules live in `apinfer_core`.

pub mod auth;
pub mod config;
pub mod dashboard;
pub mod dispatcher;
pub mod enums;
pub mod error;
pub mod extract;
pub mod generation;
pub mod http;
pub mod idempotency;
pub mod identity;
pub mod image_urls;
pub mod memory;
pub mod metrics;
pub mod openapi;
mod openapi_conventions;
pub mod outbound;
pub mod providers;
pub mod queue;
pub mod rate_limit;
pub mod request_id;
pub mod retention;
pub mod routes;
pub mod sandbox;
pub mod startup;
pub mod state;
pub mod stored_blobs;
pub mod telemetry;
