//! Refunds of unused credits: a refund returns a lot's unused credits at the price paid per
//! credit, never more than `available` (held credits stay put).

use chrono::{DateTime, Datelike, Duration, Utc, Weekday};
use diesel::prelude::*;

use super::events::{self, EventType};
use super::purchases::Purchase;
use super::purchases::PurchaseStatus;
use super::Page;
use super::{naive, utc};
use crate::credits::Currency;
use crate::db::schema::{purchases, refunds};
use crate::db::{write_transaction, DbConn};
use crate::ids::{AccountId, PurchaseId, RefundId};
use crate::{Credits, Error, Money, Result};

/// How long after a purchase its unused credits can be refunded.
pub const REFUND_WINDOW: Duration = Duration::days(30);
/// Business days until a refund reaches the customer.
pub const REFUND_BUSINESS_DAYS: u32 = 5;

#[derive(Clone, Debug)]
pub struct Refund {
    pub id: RefundId,
    pub account_id: AccountId,
    pub purchase_id: PurchaseId,
    pub credits: Credits,
    pub amount: Money,
    pub status: RefundStatus,
    pub expected_by: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = refunds)]
struct RefundRow {
    id: String,
    account_id: String,
    purchase_id: String,
    credits: i64,
    amount_minor: i64,
    currency: String,
    status: String,
    expected_by: chrono::NaiveDateTime,
    created_at: chrono::NaiveDateTime,
    completed_at: Option<chrono::NaiveDateTime>,
}

text_enum! {
    /// Where a refund stands.
    pub enum RefundStatus {
        /// The credits are taken back; the money is on its way to the customer.
        Processing = "processing",
        /// The money has reached the customer.
        Succeeded = "succeeded",
    }
}

impl TryFrom<RefundRow> for Refund {
    type Error = Error;

    fn try_from(r: RefundRow) -> Result<Self> {
        Ok(Refund {
            id: RefundId::from_db(r.id),
            account_id: AccountId::from_db(r.account_id),
            purchase_id: PurchaseId::from_db(r.purchase_id),
            credits: Credits::from_units(r.credits),
            amount: Money::from_minor(r.amount_minor, Currency::from_db(&r.currency)?),
            status: RefundStatus::from_db(&r.status)?,
            expected_by: utc(r.expected_by),
            created_at: utc(r.created_at),
            completed_at: r.completed_at.map(utc),
        })
    }
}

/// `days` business days (Monday–Friday) after `from`.
pub fn add_business_days(from: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    let mut t = from;
    let mut left = days;
    while left > 0 {
        t += Duration::days(1);
        if !matches!(t.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    t
}

/// Records a refund of `credits` (worth `amount`) of `purchase`, whose credits the ledger engine
/// takes back in the same transaction: the purchase's refunded credits and status, and the
/// refund, `processing` until the money reaches the customer.
pub fn record(
    conn: &mut DbConn,
    id: &RefundId,
    purchase: &Purchase,
    credits: Credits,
    amount: Money,
    now: DateTime<Utc>,
) -> Result<()> {
    let refunded_all = purchase.refunded_credits.checked_add(credits) == Some(purchase.credits);
    let status = if refunded_all { PurchaseStatus::Refunded } else { PurchaseStatus::PartiallyRefunded };
    diesel::update(purchases::table.find(purchase.id.as_str()))
        .set((
            purchases::refunded_credits.eq(purchases::refunded_credits + credits.units()),
            purchases::status.eq(status.as_str()),
        ))
        .execute(conn)?;
    let expected_by = add_business_days(now, REFUND_BUSINESS_DAYS);
    diesel::insert_into(refunds::table)
        .values((
            refunds::id.eq(id.as_str()),
            refunds::account_id.eq(purchase.account_id.as_str()),
            refunds::purchase_id.eq(purchase.id.as_str()),
            refunds::credits.eq(credits.units()),
            refunds::amount_minor.eq(amount.minor()),
            refunds::currency.eq(amount.currency().as_str()),
            refunds::status.eq(RefundStatus::Processing.as_str()),
            refunds::expected_by.eq(naive(expected_by)),
            refunds::created_at.eq(naive(now)),
        ))
        .execute(conn)?;
    let refund = get_refund_any(conn, id)?;
    events::record(conn, &refund.account_id, EventType::RefundCreated, event_data(&refund), now)?;
    Ok(())
}

/// What a `refund.*` event carries.
fn event_data(refund: &Refund) -> serde_json::Value {
    serde_json::json!({
        "object": "refund",
        "id": refund.id.as_str(),
        "purchase_id": refund.purchase_id.as_str(),
        "credits": refund.credits.to_string(),
        "amount": refund.amount.amount_string(),
        "currency": refund.amount.currency().as_str(),
        "status": refund.status.as_str(),
        "expected_by": refund.expected_by,
    })
}

/// Records the provider's id for a refund.
pub fn set_provider_refund(conn: &mut DbConn, id: &RefundId, provider_refund: &str) -> Result<()> {
    diesel::update(refunds::table.find(id.as_str())).set(refunds::provider_refund.eq(provider_refund)).execute(conn)?;
    Ok(())
}

pub fn get_refund_any(conn: &mut DbConn, id: &RefundId) -> Result<Refund> {
    refunds::table
        .find(id.as_str())
        .select(RefundRow::as_select())
        .first(conn)
        .optional()?
        .map(Refund::try_from)
        .ok_or(Error::NotFound("refund"))?
}

/// The account's refunds, newest first.
pub fn list_refunds(
    conn: &mut DbConn,
    account: &AccountId,
    after: Option<&RefundId>,
    limit: i64,
) -> Result<Page<Refund>> {
    let mut query = refunds::table.filter(refunds::account_id.eq(account.as_str())).into_boxed();
    if let Some(after) = after {
        let cursor = get_refund_any(conn, after)
            .and_then(|r| if &r.account_id == account { Ok(r) } else { Err(Error::NotFound("refund")) })
            .map_err(super::cursor_error)?;
        let at = naive(cursor.created_at);
        query = query.filter(
            refunds::created_at.lt(at).or(refunds::created_at.eq(at).and(refunds::id.lt(after.as_str().to_string()))),
        );
    }
    let rows: Vec<RefundRow> = query
        .order((refunds::created_at.desc(), refunds::id.desc()))
        .limit(limit + 1)
        .select(RefundRow::as_select())
        .load(conn)?;
    Ok(Page::from_overfetch(rows.into_iter().map(Refund::try_from).collect::<Result<_>>()?, limit))
}

/// Marks a refund as having reached the customer (admin).
pub fn complete_refund(conn: &mut DbConn, id: &RefundId, now: DateTime<Utc>) -> Result<Refund> {
    write_transaction(conn, |conn| {
        let updated = diesel::update(
            refunds::table.find(id.as_str()).filter(refunds::status.eq(RefundStatus::Processing.as_str())),
        )
        .set((refunds::status.eq(RefundStatus::Succeeded.as_str()), refunds::completed_at.eq(naive(now))))
        .execute(conn)?;
        let refund = get_refund_any(conn, id)?;
        if updated == 1 {
            events::record(conn, &refund.account_id, EventType::RefundSucceeded, event_data(&refund), now)?;
        }
        Ok(refund)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn business_days_skip_weekends() {
        let friday = Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap();
        assert_eq!(add_business_days(friday, 5), Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap());
        let wednesday = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        assert_eq!(add_business_days(wednesday, 5), Utc.with_ymd_and_hms(2026, 12, 2, 12, 0, 0).unwrap());
    }
}
