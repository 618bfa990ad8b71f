//! End-to-end tests over HTTP against the real application, on SQLite and PostgreSQL.

#[path = "../harness.rs"]
mod helpers;
mod http;

mod admin;
mod alerts;
mod async_generations;
mod auth;
mod catalog;
mod cli;
mod crash;
mod dashboard;
mod errors;
mod events;
mod generations;
mod idempotency;
mod keys;
mod ledger;
mod limits;
mod members;
mod openai_sdk;
mod ops;
mod provider_contract;
mod purchases;
mod retention;
mod stripe;
mod upstream;
mod usage;
mod webhook_endpoints;

// Reliability and security (issue 8).
mod attacker;
mod bad_input;
mod multi_process;
mod outage;
mod races;
mod security;
