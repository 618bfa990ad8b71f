//! apinfer's domain: exact credits and money, typed ids, pricing, and the storage layer that
//! moves credits (accounts, ledger, keys, catalog, idempotency records).
//!
//! Nothing here knows about HTTP. Every rule about how credits move lives in this crate, so
//! that "how is X charged" has one answer, found in one file.

#[macro_use]
mod text_enum;
#[macro_use]
mod insert_kept;
#[doc(hidden)]
pub use text_enum::__anyhow;

pub mod adjusting;
pub mod auth;
pub mod clock;
pub mod crediting;
pub mod credits;
pub mod db;
pub mod domain;
pub mod error;
pub mod generating;
pub mod group_commit;
pub mod ids;
pub mod ledger;
pub mod metrics;
pub mod payments;
pub mod purchasing;
pub mod queueing;
pub mod refunding;
pub mod signature;
pub mod signed_url;
pub mod store;
pub mod topping_up;

pub use clock::{Clock, SystemClock};
pub use credits::{Credits, CreditsError, Money};
/// Pricing is part of the domain; `apinfer_core::pricing` is its usual path.
pub use domain::pricing;
pub use error::{Error, Result};
