//! Repositories: the only code that reads or writes tables. Each function takes a connection
//! and returns domain values; callers that must be atomic wrap calls in
//! [`crate::db::write_transaction`].

pub mod accounts;
pub mod alerts;
pub mod api_keys;
pub mod audit;
pub mod autotopup;
pub mod catalog;
pub mod entries;
pub mod events;
pub mod generations;
pub mod idempotency;
pub mod images;
pub mod locks;
pub mod members;
mod page;
pub mod payment_methods;
pub mod purchases;
pub mod refunds;
pub mod sessions;
pub mod usage;
pub mod webhook_endpoints;
pub mod webhook_events;

pub(crate) use page::cursor_error;
pub use page::{Page, CURSOR};

use chrono::{DateTime, NaiveDateTime, Utc};

pub(crate) fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

/// Timestamps are stored as UTC without zone and at microsecond precision, the finest both
/// backends keep, so a value reads back exactly as it was written.
pub(crate) fn naive(t: DateTime<Utc>) -> Stamp {
    use chrono::{SubsecRound, Timelike};
    let t = t.naive_utc();
    Stamp(t.with_nanosecond(t.nanosecond() / 1_000 * 1_000).unwrap_or_else(|| t.trunc_subsecs(0)))
}

/// A timestamp bound to a statement (a `Timestamp` column's value). SQLite gets the text
/// diesel writes for a `NaiveDateTime` (`%F %T%.f`), formatted here digit by digit: through
/// chrono's formatter, which interprets the pattern on every call, it was ~3 % of the
/// group-commit lane's instructions. PostgreSQL gets diesel's own binary encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, diesel::expression::AsExpression)]
#[diesel(sql_type = diesel::sql_types::Timestamp)]
pub(crate) struct Stamp(pub(crate) NaiveDateTime);

mod stamp_sql {
    use chrono::{Datelike, NaiveDateTime, Timelike};
    use diesel::pg::Pg;
    use diesel::serialize::{self, IsNull, Output, ToSql};
    use diesel::sql_types::Timestamp;
    use diesel::sqlite::Sqlite;

    use super::Stamp;
    use crate::db::DbConn;

    type Multi = <DbConn as diesel::Connection>::Backend;

    impl ToSql<Timestamp, Sqlite> for Stamp {
        fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
            out.set_value(sqlite_text(self.0));
            Ok(IsNull::No)
        }
    }

    impl ToSql<Timestamp, Pg> for Stamp {
        fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
            <NaiveDateTime as ToSql<Timestamp, Pg>>::to_sql(&self.0, out)
        }
    }

    impl ToSql<Timestamp, Multi> for Stamp {
        fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Multi>) -> serialize::Result {
            out.set_value((Timestamp, self));
            Ok(IsNull::No)
        }
    }

    /// `t` as chrono's `%F %T%.f` writes it: the fraction left out when zero, else in 3, 6 or
    /// 9 digits, as few as show it exactly.
    pub(super) fn sqlite_text(t: NaiveDateTime) -> String {
        let nanos = t.nanosecond();
        if !(0..=9999).contains(&t.year()) || nanos >= 1_000_000_000 {
            // Outside what the fixed layout below can show (and never produced by a clock).
            return t.format("%F %T%.f").to_string();
        }
        let mut text = String::with_capacity(29);
        let mut digits = |value: u32, width: u32, separator: Option<char>| {
            if let Some(separator) = separator {
                text.push(separator);
            }
            for place in (0..width).rev() {
                let digit = value / 10_u32.pow(place) % 10;
                text.push(char::from(b'0' + digit as u8));
            }
        };
        digits(t.year() as u32, 4, None);
        digits(t.month(), 2, Some('-'));
        digits(t.day(), 2, Some('-'));
        digits(t.hour(), 2, Some(' '));
        digits(t.minute(), 2, Some(':'));
        digits(t.second(), 2, Some(':'));
        match nanos {
            0 => {}
            n if n % 1_000_000 == 0 => digits(n / 1_000_000, 3, Some('.')),
            n if n % 1_000 == 0 => digits(n / 1_000, 6, Some('.')),
            n => digits(n, 9, Some('.')),
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, NaiveDateTime};

    use super::stamp_sql::sqlite_text;

    #[test]
    fn stamps_read_as_chrono_writes_them() {
        let day = NaiveDate::from_ymd_opt(2026, 1, 2).expect("date");
        let times: Vec<NaiveDateTime> = [
            (0, 0, 0, 0),
            (3, 4, 5, 0),
            (23, 59, 59, 7_000_000),
            (12, 30, 1, 120_000),
            (9, 8, 7, 123_456_000),
            (9, 8, 7, 123_456_789),
            (0, 0, 1, 1),
        ]
        .into_iter()
        .map(|(h, m, s, n)| day.and_hms_nano_opt(h, m, s, n).expect("time"))
        .chain([
            NaiveDate::from_ymd_opt(1, 12, 31).expect("date").and_hms_opt(0, 0, 0).expect("time"),
            NaiveDate::from_ymd_opt(12345, 6, 7).expect("date").and_hms_opt(1, 2, 3).expect("time"),
            day.and_hms_nano_opt(23, 59, 59, 1_500_000_000).expect("leap second"),
        ])
        .collect();
        for t in times {
            assert_eq!(sqlite_text(t), t.format("%F %T%.f").to_string(), "{t:?}");
        }
    }
}
