//! Usage analytics from a daily rollup (`usage_daily`), written in the same transaction that
//! captures a generation's hold. Queries aggregate days, not ledger entries, so they stay fast
//! for accounts with millions of entries. Granularity is one UTC day.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::db::schema::usage_daily;
use crate::db::DbConn;
use crate::ids::{AccountId, ApiKeyId, UserId};
use crate::{Credits, Result};

text_enum! {
    /// How usage is grouped.
    pub enum GroupBy {
        Model = "model",
        Day = "day",
        ApiKey = "api_key",
        Member = "member",
    }
}

impl GroupBy {
    fn column(self) -> &'static str {
        match self {
            GroupBy::Model => "model",
            GroupBy::Day => "day",
            GroupBy::ApiKey => "api_key_id",
            GroupBy::Member => "user_id",
        }
    }
}

/// One group's totals.
#[derive(Clone, Debug, QueryableByName)]
pub struct Bucket {
    /// The model id, the day (`YYYY-MM-DD`), the key id or the user id; empty when a spend
    /// had none (a session's spend has no key).
    #[diesel(sql_type = Text)]
    pub key: String,
    #[diesel(sql_type = BigInt)]
    credits: i64,
    #[diesel(sql_type = BigInt)]
    pub generations: i64,
    #[diesel(sql_type = BigInt)]
    pub images: i64,
}

impl Bucket {
    pub fn credits(&self) -> Credits {
        Credits::from_units(self.credits)
    }
}

/// The day a time falls on (UTC).
pub fn day_of(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// What captured generations of one group add to the rollup.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spent {
    pub credits: i64,
    pub generations: i64,
    pub images: i64,
}

/// One rollup group's addition: who spent on which model, and how much.
pub struct Addition<'a> {
    pub account: &'a AccountId,
    pub model: &'a str,
    pub api_key: Option<&'a ApiKeyId>,
    pub user: Option<&'a UserId>,
    pub spent: Spent,
}

/// Adds captured generations to the rollup, several groups (distinct ones) in one statement. Run
/// inside the capture transaction.
pub fn record_many(conn: &mut DbConn, at: DateTime<Utc>, additions: &[Addition<'_>]) -> Result<()> {
    use diesel::upsert::excluded;
    let day = day_of(at);
    let rows: Vec<_> = additions
        .iter()
        .map(|a| {
            (
                usage_daily::account_id.eq(a.account.as_str().to_owned()),
                usage_daily::day.eq(day.clone()),
                usage_daily::model.eq(a.model.to_owned()),
                usage_daily::api_key_id.eq(a.api_key.map(ApiKeyId::as_str).unwrap_or("").to_owned()),
                usage_daily::user_id.eq(a.user.map(UserId::as_str).unwrap_or("").to_owned()),
                usage_daily::credits.eq(a.spent.credits),
                usage_daily::generations.eq(a.spent.generations),
                usage_daily::images.eq(a.spent.images),
            )
        })
        .collect();
    // The same statement for any set of rows (a `Vec` or, on SQLite, an array).
    macro_rules! upsert {
        ($rows:expr) => {
            diesel::insert_into(usage_daily::table)
                .values($rows)
                .on_conflict((
                    usage_daily::account_id,
                    usage_daily::day,
                    usage_daily::model,
                    usage_daily::api_key_id,
                    usage_daily::user_id,
                ))
                .do_update()
                .set((
                    usage_daily::credits.eq(usage_daily::credits + excluded(usage_daily::credits)),
                    usage_daily::generations.eq(usage_daily::generations + excluded(usage_daily::generations)),
                    usage_daily::images.eq(usage_daily::images + excluded(usage_daily::images)),
                ))
        };
    }
    // ON CONFLICT and multi-row inserts cannot be expressed over the multi-backend, so run it
    // on the concrete one.
    match conn {
        DbConn::Sqlite(c) => insert_kept_sqlite!(c, rows, |rows| upsert!(rows)),
        DbConn::Pg(c) => upsert!(rows).execute(c)?,
    };
    Ok(())
}

/// Totals per group over the days `from` (inclusive) to `to` (exclusive).
pub fn query(
    conn: &mut DbConn,
    account: &AccountId,
    from: NaiveDate,
    to: NaiveDate,
    group_by: GroupBy,
) -> Result<Vec<Bucket>> {
    let column = group_by.column();
    let (p1, p2, p3) = match conn {
        DbConn::Pg(_) => ("$1", "$2", "$3"),
        DbConn::Sqlite(_) => ("?", "?", "?"),
    };
    // `column` comes from the enum above, never from input.
    let sql = format!(
        "SELECT {column} AS key, CAST(SUM(credits) AS BIGINT) AS credits, \
         CAST(SUM(generations) AS BIGINT) AS generations, CAST(SUM(images) AS BIGINT) AS images \
         FROM usage_daily WHERE account_id = {p1} AND day >= {p2} AND day < {p3} \
         GROUP BY {column} ORDER BY {column}"
    );
    Ok(diesel::sql_query(sql)
        .bind::<Text, _>(account.as_str())
        .bind::<Text, _>(from.format("%Y-%m-%d").to_string())
        .bind::<Text, _>(to.format("%Y-%m-%d").to_string())
        .load(conn)?)
}
