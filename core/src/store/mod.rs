//! Repositories: the only code that reads or writes tables. Each function takes a connection
//! and returns domain values; callers that must be atomic wrap calls in
//! [`crate::db::write_transaction`].

pub mod accounts;
pub mod alerts;
pub mod api_keys;
pub mod autotopup;
pub mod catalog;
pub mod generations;
pub mod holds;
pub mod idempotency;
pub mod ledger;
pub mod members;
pub mod purchases;
pub mod usage;

use chrono::{DateTime, NaiveDateTime, Utc};

pub(crate) fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

/// Timestamps are stored as UTC without zone and at microsecond precision, the finest both
/// backends keep, so a value reads back exactly as it was written.
pub(crate) fn naive(t: DateTime<Utc>) -> NaiveDateTime {
    use chrono::{SubsecRound, Timelike};
    let t = t.naive_utc();
    t.with_nanosecond(t.nanosecond() / 1_000 * 1_000).unwrap_or_else(|| t.trunc_subsecs(0))
}

/// A cursor that names nothing in the list is the client's error; a database failure while
/// looking it up stays what it is.
pub(crate) fn cursor_error(e: crate::Error) -> crate::Error {
    match e {
        crate::Error::NotFound(_) => {
            crate::Error::invalid("invalid_cursor", "cursor does not name an item of this list", "cursor")
        }
        other => other,
    }
}
