//! Purchases, credit lots and refunds.
//!
//! Every succeeded purchase is a credit lot: `credits_remaining` is its unused part. Spending
//! consumes lots oldest first ([`consume_lots`], called in the same transaction as the debit);
//! credits from admin adjustments are not lots and are consumed after all lots, so
//! `sum(lots' credits_remaining) <= balance` always. A refund returns a lot's unused credits at
//! the price paid per credit, never more than `available` (held credits stay put).
//!
//! Crediting is exactly once: it is a conditional status change (`... WHERE status IN
//! (awaiting)`) and the ledger entry is written only by the one transaction that made it.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, Utc, Weekday};
use diesel::prelude::*;

use super::catalog::Package;
use super::ledger::{append_entry, lock_account, EntryType, NewEntry, Page};
use super::{naive, utc};
use crate::credits::Currency;
use crate::db::schema::{payment_methods, purchases, refunds, webhook_events};
use crate::db::{is_unique_violation, padded, write_transaction, DbConn, Kept};
use crate::ids::{AccountId, ApiKeyId, PaymentMethodId, PurchaseId, RefundId, UserId};
use crate::payments::{BankInstructions, CardBrand, NextAction};
use crate::{Credits, Error, Money, Result};

/// How long after a purchase its unused credits can be refunded.
pub const REFUND_WINDOW: Duration = Duration::days(30);
/// Business days until a refund reaches the customer.
pub const REFUND_BUSINESS_DAYS: u32 = 5;

/// How a purchase is paid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MethodType {
    Card,
    Alipay,
    WechatPay,
    BankTransfer,
}

impl MethodType {
    pub fn as_str(self) -> &'static str {
        match self {
            MethodType::Card => "card",
            MethodType::Alipay => "alipay",
            MethodType::WechatPay => "wechat_pay",
            MethodType::BankTransfer => "bank_transfer",
        }
    }

    fn parse(text: &str) -> MethodType {
        match text {
            "alipay" => MethodType::Alipay,
            "wechat_pay" => MethodType::WechatPay,
            "bank_transfer" => MethodType::BankTransfer,
            _ => MethodType::Card,
        }
    }
}

/// Where a purchase stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PurchaseStatus {
    /// A card charge is under way (only seen if a process died mid-charge).
    Processing,
    Succeeded,
    /// Waiting for the customer to pay by redirect or QR code.
    RequiresAction,
    /// Waiting for a bank transfer to arrive.
    Pending,
    Failed,
    Refunded,
    PartiallyRefunded,
}

impl PurchaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PurchaseStatus::Processing => "processing",
            PurchaseStatus::Succeeded => "succeeded",
            PurchaseStatus::RequiresAction => "requires_action",
            PurchaseStatus::Pending => "pending",
            PurchaseStatus::Failed => "failed",
            PurchaseStatus::Refunded => "refunded",
            PurchaseStatus::PartiallyRefunded => "partially_refunded",
        }
    }

    fn parse(text: &str) -> PurchaseStatus {
        match text {
            "processing" => PurchaseStatus::Processing,
            "succeeded" => PurchaseStatus::Succeeded,
            "requires_action" => PurchaseStatus::RequiresAction,
            "pending" => PurchaseStatus::Pending,
            "refunded" => PurchaseStatus::Refunded,
            "partially_refunded" => PurchaseStatus::PartiallyRefunded,
            _ => PurchaseStatus::Failed,
        }
    }
}

/// The statuses from which a purchase may still be paid.
const AWAITING: [&str; 3] = ["processing", "requires_action", "pending"];

#[derive(Clone, Debug)]
pub struct Purchase {
    pub id: PurchaseId,
    pub account_id: AccountId,
    pub package_id: String,
    pub credits: Credits,
    pub amount: Money,
    pub status: PurchaseStatus,
    pub method_type: MethodType,
    pub card_brand: Option<String>,
    pub card_last4: Option<String>,
    pub payment_method_id: Option<String>,
    pub provider: String,
    pub provider_charge: Option<String>,
    pub next_action: Option<NextAction>,
    pub bank_transfer: Option<BankInstructions>,
    pub credits_remaining: Credits,
    pub refunded_credits: Credits,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub auto_topup: bool,
    pub created_at: DateTime<Utc>,
    pub succeeded_at: Option<DateTime<Utc>>,
}

impl Purchase {
    /// Until when unused credits may be refunded (succeeded purchases only).
    pub fn refundable_until(&self) -> Option<DateTime<Utc>> {
        self.succeeded_at.map(|t| t + REFUND_WINDOW)
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = purchases)]
struct PurchaseRow {
    id: String,
    account_id: String,
    package_id: String,
    credits: i64,
    amount_minor: i64,
    currency: String,
    status: String,
    method_type: String,
    card_brand: Option<String>,
    card_last4: Option<String>,
    payment_method_id: Option<String>,
    provider: String,
    provider_charge: Option<String>,
    next_action_type: Option<String>,
    next_action_url: Option<String>,
    bank_reference: Option<String>,
    bank_beneficiary: Option<String>,
    bank_name: Option<String>,
    bank_account: Option<String>,
    credits_remaining: i64,
    refunded_credits: i64,
    failure_code: Option<String>,
    failure_message: Option<String>,
    auto_topup: bool,
    created_at: chrono::NaiveDateTime,
    succeeded_at: Option<chrono::NaiveDateTime>,
}

fn currency(code: &str) -> Currency {
    Currency::parse(code).unwrap_or(Currency::Cny)
}

impl From<PurchaseRow> for Purchase {
    fn from(r: PurchaseRow) -> Self {
        let next_action = match (r.next_action_type, r.next_action_url) {
            (Some(action_type), Some(url)) => Some(NextAction { action_type, url }),
            _ => None,
        };
        let bank_transfer = match (r.bank_reference, r.bank_beneficiary, r.bank_name, r.bank_account) {
            (Some(reference), Some(beneficiary), Some(bank_name), Some(account_number)) => {
                Some(BankInstructions { reference, beneficiary, bank_name, account_number })
            }
            _ => None,
        };
        Purchase {
            id: PurchaseId::from_db(r.id),
            account_id: AccountId::from_db(r.account_id),
            package_id: r.package_id,
            credits: Credits::from_units(r.credits),
            amount: Money::from_minor(r.amount_minor, currency(&r.currency)),
            status: PurchaseStatus::parse(&r.status),
            method_type: MethodType::parse(&r.method_type),
            card_brand: r.card_brand,
            card_last4: r.card_last4,
            payment_method_id: r.payment_method_id,
            provider: r.provider,
            provider_charge: r.provider_charge,
            next_action,
            bank_transfer,
            credits_remaining: Credits::from_units(r.credits_remaining),
            refunded_credits: Credits::from_units(r.refunded_credits),
            failure_code: r.failure_code,
            failure_message: r.failure_message,
            auto_topup: r.auto_topup,
            created_at: utc(r.created_at),
            succeeded_at: r.succeeded_at.map(utc),
        }
    }
}

/// A purchase to record before the payment is attempted.
pub struct NewPurchase<'a> {
    pub account_id: &'a AccountId,
    pub package: &'a Package,
    pub method_type: MethodType,
    pub card: Option<(CardBrand, &'a str)>,
    pub payment_method_id: Option<&'a PaymentMethodId>,
    pub provider: &'a str,
    pub auto_topup: bool,
    pub user_id: Option<&'a UserId>,
    pub api_key_id: Option<&'a ApiKeyId>,
}

/// Records a purchase in `processing` (cards, before the charge), `requires_action` or
/// `pending` (with its next action or bank instructions).
pub fn insert(
    conn: &mut DbConn,
    new: NewPurchase<'_>,
    status: PurchaseStatus,
    next_action: Option<&NextAction>,
    bank: Option<&BankInstructions>,
    id: &PurchaseId,
    now: DateTime<Utc>,
) -> Result<Purchase> {
    if !new.package.active {
        return Err(Error::NotFound("package"));
    }
    diesel::insert_into(purchases::table)
        .values((
            purchases::id.eq(id.as_str()),
            purchases::account_id.eq(new.account_id.as_str()),
            purchases::package_id.eq(&new.package.id),
            purchases::credits.eq(new.package.credits.units()),
            purchases::amount_minor.eq(new.package.price.minor()),
            purchases::currency.eq(new.package.price.currency().code()),
            purchases::status.eq(status.as_str()),
            purchases::method_type.eq(new.method_type.as_str()),
            purchases::card_brand.eq(new.card.map(|(b, _)| b.as_str())),
            purchases::card_last4.eq(new.card.map(|(_, l)| l)),
            purchases::payment_method_id.eq(new.payment_method_id.map(PaymentMethodId::as_str)),
            purchases::provider.eq(new.provider),
            purchases::next_action_type.eq(next_action.map(|a| a.action_type.as_str())),
            purchases::next_action_url.eq(next_action.map(|a| a.url.as_str())),
            purchases::bank_reference.eq(bank.map(|b| b.reference.as_str())),
            purchases::bank_beneficiary.eq(bank.map(|b| b.beneficiary.as_str())),
            purchases::bank_name.eq(bank.map(|b| b.bank_name.as_str())),
            purchases::bank_account.eq(bank.map(|b| b.account_number.as_str())),
            purchases::auto_topup.eq(new.auto_topup),
            purchases::user_id.eq(new.user_id.map(UserId::as_str)),
            purchases::api_key_id.eq(new.api_key_id.map(ApiKeyId::as_str)),
            purchases::created_at.eq(naive(now)),
        ))
        .execute(conn)?;
    get_any(conn, id)
}

/// Any purchase by id (webhooks, admins).
pub fn get_any(conn: &mut DbConn, id: &PurchaseId) -> Result<Purchase> {
    purchases::table
        .find(id.as_str())
        .select(PurchaseRow::as_select())
        .first(conn)
        .optional()?
        .map(Purchase::from)
        .ok_or(Error::NotFound("purchase"))
}

/// One of the account's purchases.
pub fn get(conn: &mut DbConn, account: &AccountId, id: &PurchaseId) -> Result<Purchase> {
    let purchase = get_any(conn, id)?;
    if &purchase.account_id != account {
        return Err(Error::NotFound("purchase"));
    }
    Ok(purchase)
}

/// The account's purchases, newest first, after the cursor purchase.
pub fn list(conn: &mut DbConn, account: &AccountId, after: Option<&PurchaseId>, limit: i64) -> Result<Page<Purchase>> {
    let mut query = purchases::table.filter(purchases::account_id.eq(account.as_str())).into_boxed();
    if let Some(after) = after {
        let cursor = get(conn, account, after).map_err(super::cursor_error)?;
        let at = naive(cursor.created_at);
        query = query.filter(
            purchases::created_at
                .lt(at)
                .or(purchases::created_at.eq(at).and(purchases::id.lt(after.as_str().to_string()))),
        );
    }
    let rows: Vec<PurchaseRow> = query
        .order((purchases::created_at.desc(), purchases::id.desc()))
        .limit(limit + 1)
        .select(PurchaseRow::as_select())
        .load(conn)?;
    Ok(Page::from_overfetch(rows.into_iter().map(Purchase::from).collect(), limit))
}

/// Marks an unpaid purchase failed (a decline, or the provider's `payment.failed`).
/// Returns the purchase; a purchase already settled is left as it is.
/// Marks a charged-but-unconfirmed card purchase as waiting for the customer (3-D Secure):
/// the provider's charge id and what the customer must do.
pub fn mark_requires_action(
    conn: &mut DbConn,
    id: &PurchaseId,
    charge: &str,
    next_action: &NextAction,
) -> Result<Purchase> {
    diesel::update(
        purchases::table.find(id.as_str()).filter(purchases::status.eq(PurchaseStatus::Processing.as_str())),
    )
    .set((
        purchases::status.eq(PurchaseStatus::RequiresAction.as_str()),
        purchases::provider_charge.eq(charge),
        purchases::next_action_type.eq(&next_action.action_type),
        purchases::next_action_url.eq(&next_action.url),
    ))
    .execute(conn)?;
    get_any(conn, id)
}

/// Card purchases of `provider` left `processing` since before `older_than` (their charge call
/// got no answer), oldest first, at most `limit`.
pub fn unsettled(conn: &mut DbConn, provider: &str, older_than: DateTime<Utc>, limit: i64) -> Result<Vec<PurchaseId>> {
    let ids: Vec<String> = purchases::table
        .filter(purchases::provider.eq(provider))
        .filter(purchases::status.eq(PurchaseStatus::Processing.as_str()))
        .filter(purchases::method_type.eq(MethodType::Card.as_str()))
        .filter(purchases::created_at.lt(naive(older_than)))
        .order(purchases::created_at.asc())
        .limit(limit)
        .select(purchases::id)
        .load(conn)?;
    Ok(ids.into_iter().map(PurchaseId::from_db).collect())
}

/// Records the provider's id of a charge still being processed (the purchase stays
/// `processing` until the provider's webhook settles it).
pub fn set_provider_charge(conn: &mut DbConn, id: &PurchaseId, charge: &str) -> Result<Purchase> {
    diesel::update(purchases::table.find(id.as_str())).set(purchases::provider_charge.eq(charge)).execute(conn)?;
    get_any(conn, id)
}

pub fn mark_failed(conn: &mut DbConn, id: &PurchaseId, code: &str, message: &str) -> Result<Purchase> {
    diesel::update(purchases::table.find(id.as_str()).filter(purchases::status.eq_any(AWAITING)))
        .set((
            purchases::status.eq(PurchaseStatus::Failed.as_str()),
            purchases::failure_code.eq(code),
            purchases::failure_message.eq(message),
        ))
        .execute(conn)?;
    get_any(conn, id)
}

/// Marks a purchase paid and puts its credits on the balance, exactly once: only the call that
/// moves it out of an awaiting status writes the ledger entry. Returns the purchase and whether
/// this call credited it.
pub fn credit(
    conn: &mut DbConn,
    id: &PurchaseId,
    charge: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(Purchase, bool)> {
    write_transaction(conn, |conn| credit_in_transaction(conn, id, charge, now))
}

/// [`credit`] inside the caller's transaction.
pub fn credit_in_transaction(
    conn: &mut DbConn,
    id: &PurchaseId,
    charge: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(Purchase, bool)> {
    credit_from(conn, id, &AWAITING, charge, now)
}

/// The provider's own word that the money was taken (its signed event, or its record of the
/// charge): credits a purchase awaiting payment, or one marked failed before, when a first
/// attempt failed and a later one on the same payment succeeded (events may arrive in any
/// order). Exactly once, like [`credit`]. Inside the caller's transaction.
pub fn credit_confirmed_by_provider(
    conn: &mut DbConn,
    id: &PurchaseId,
    charge: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(Purchase, bool)> {
    let from = [AWAITING[0], AWAITING[1], AWAITING[2], PurchaseStatus::Failed.as_str()];
    credit_from(conn, id, &from, charge, now)
}

fn credit_from(
    conn: &mut DbConn,
    id: &PurchaseId,
    from: &[&str],
    charge: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(Purchase, bool)> {
    // A confirmation without a charge id (the sandbox's webhook) keeps the one already known.
    let charge = match charge {
        Some(charge) => Some(charge.to_string()),
        None => get_any(conn, id)?.provider_charge,
    };
    let updated = diesel::update(purchases::table.find(id.as_str()).filter(purchases::status.eq_any(from)))
        .set((
            purchases::status.eq(PurchaseStatus::Succeeded.as_str()),
            purchases::succeeded_at.eq(naive(now)),
            purchases::credits_remaining.eq(purchases::credits),
            purchases::provider_charge.eq(charge.as_deref()),
        ))
        .execute(conn)?;
    let purchase = get_any(conn, id)?;
    if updated == 0 {
        return Ok((purchase, false));
    }
    let (entry_type, description) = if purchase.auto_topup {
        (EntryType::AutoTopup, format!("Automatic top-up: {}", purchase.package_id))
    } else {
        (EntryType::Purchase, format!("Purchase of the {} package", purchase.package_id))
    };
    append_entry(
        conn,
        NewEntry {
            account_id: &purchase.account_id,
            entry_type,
            credits: purchase.credits,
            reference_id: Some(purchase.id.as_str()),
            description: &description,
            user_id: None,
            api_key_id: None,
        },
        now,
    )?;
    Ok((purchase, true))
}

/// Takes `amount` out of the account's lots, oldest first. Run in the transaction that debits
/// the balance, after the debit (which holds the account's row lock). What no lot covers came
/// from non-lot credits (adjustments).
pub fn consume_lots(conn: &mut DbConn, account: &AccountId, amount: Credits) -> Result<()> {
    consume_lots_set(conn, &[(account.as_str(), amount.units())])
}

/// [`consume_lots`] for several accounts at once, `(account id, amount)` each (each account
/// once): their lots read in one statement, taken from oldest first in memory, and written back
/// in one statement per distinct amount taken.
pub fn consume_lots_set(conn: &mut DbConn, amounts: &[(&str, i64)]) -> Result<()> {
    let accounts: Vec<&str> = amounts.iter().map(|(account, _)| *account).collect();
    let lots: Vec<(String, String, i64)> = Kept(
        purchases::table
            .filter(purchases::account_id.eq_any(padded(&accounts)))
            .filter(purchases::credits_remaining.gt(0))
            .order((purchases::account_id.asc(), purchases::succeeded_at.asc(), purchases::id.asc()))
            .select((purchases::account_id, purchases::id, purchases::credits_remaining)),
    )
    .load(conn)?;
    let mut left: HashMap<&str, i64> = amounts.iter().copied().collect();
    let mut takes: Vec<(i64, Vec<String>)> = Vec::new();
    for (account, id, remaining) in lots {
        let Some(left) = left.get_mut(account.as_str()) else { continue };
        let take = remaining.min(*left);
        if take == 0 {
            continue;
        }
        *left -= take;
        match takes.iter_mut().find(|(t, _)| *t == take) {
            Some((_, ids)) => ids.push(id),
            None => takes.push((take, vec![id])),
        }
    }
    for (take, ids) in takes {
        let lots: Vec<&str> = ids.iter().map(String::as_str).collect();
        let updated = Kept(
            diesel::update(purchases::table.filter(purchases::id.eq_any(padded(&lots))))
                .set(purchases::credits_remaining.eq(purchases::credits_remaining - take)),
        )
        .execute(conn)?;
        if updated != ids.len() {
            return Err(Error::Internal(anyhow::anyhow!("a lot vanished under its account's row lock")));
        }
    }
    Ok(())
}

#[derive(Clone, Debug)]
pub struct Refund {
    pub id: RefundId,
    pub account_id: AccountId,
    pub purchase_id: PurchaseId,
    pub credits: Credits,
    pub amount: Money,
    /// `processing` until the money has reached the customer, then `succeeded`.
    pub status: String,
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

impl From<RefundRow> for Refund {
    fn from(r: RefundRow) -> Self {
        Refund {
            id: RefundId::from_db(r.id),
            account_id: AccountId::from_db(r.account_id),
            purchase_id: PurchaseId::from_db(r.purchase_id),
            credits: Credits::from_units(r.credits),
            amount: Money::from_minor(r.amount_minor, currency(&r.currency)),
            status: r.status,
            expected_by: utc(r.expected_by),
            created_at: utc(r.created_at),
            completed_at: r.completed_at.map(utc),
        }
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

/// Refunds a purchase's unused credits at the price paid per credit. The credits leave the
/// balance at once (ledger type `refund`); never more than `available`, so credits held by
/// generations in flight stay.
pub fn refund(conn: &mut DbConn, account: &AccountId, id: &PurchaseId, now: DateTime<Utc>) -> Result<Refund> {
    write_transaction(conn, |conn| {
        let balance = lock_account(conn, account, now)?;
        let purchase = get(conn, account, id)?;
        if !matches!(purchase.status, PurchaseStatus::Succeeded | PurchaseStatus::PartiallyRefunded) {
            return Err(Error::unprocessable(
                "purchase_not_refundable",
                format!("a {} purchase has nothing to refund", purchase.status.as_str()),
                None,
            ));
        }
        if purchase.refundable_until().is_some_and(|until| now > until) {
            return Err(Error::unprocessable(
                "refund_window_expired",
                "unused credits can be refunded within 30 days of the purchase",
                None,
            ));
        }
        if !purchase.credits_remaining.is_positive() {
            return Err(Error::unprocessable("nothing_to_refund", "every credit of this purchase has been used", None));
        }
        let credits = purchase.credits_remaining.min(balance.available());
        if !credits.is_positive() {
            return Err(Error::conflict(
                "credits_held",
                "this purchase's unused credits are reserved by generations in flight; retry when they finish",
            ));
        }
        // Price paid per credit, rounded down to the fen: never more back than was paid.
        let amount_minor =
            i128::from(purchase.amount.minor()) * i128::from(credits.units()) / i128::from(purchase.credits.units());
        let amount = Money::from_minor(amount_minor as i64, purchase.amount.currency());
        let refund_id = RefundId::generate();
        let reduced = diesel::update(
            purchases::table.find(purchase.id.as_str()).filter(purchases::credits_remaining.ge(credits.units())),
        )
        .set((
            purchases::credits_remaining.eq(purchases::credits_remaining - credits.units()),
            purchases::refunded_credits.eq(purchases::refunded_credits + credits.units()),
        ))
        .execute(conn)?;
        if reduced != 1 {
            return Err(Error::conflict("concurrent_change", "the purchase changed; retry"));
        }
        let refunded_all = purchase.refunded_credits.checked_add(credits) == Some(purchase.credits);
        let status = if refunded_all { PurchaseStatus::Refunded } else { PurchaseStatus::PartiallyRefunded };
        diesel::update(purchases::table.find(purchase.id.as_str()))
            .set(purchases::status.eq(status.as_str()))
            .execute(conn)?;
        append_entry(
            conn,
            NewEntry {
                account_id: account,
                entry_type: EntryType::Refund,
                credits: credits.checked_neg().ok_or_else(|| Error::Internal(anyhow::anyhow!("refund overflow")))?,
                reference_id: Some(refund_id.as_str()),
                description: &format!("Refund of unused credits from {}", purchase.id),
                user_id: None,
                api_key_id: None,
            },
            now,
        )?;
        let expected_by = add_business_days(now, REFUND_BUSINESS_DAYS);
        diesel::insert_into(refunds::table)
            .values((
                refunds::id.eq(refund_id.as_str()),
                refunds::account_id.eq(account.as_str()),
                refunds::purchase_id.eq(purchase.id.as_str()),
                refunds::credits.eq(credits.units()),
                refunds::amount_minor.eq(amount.minor()),
                refunds::currency.eq(amount.currency().code()),
                refunds::status.eq("processing"),
                refunds::expected_by.eq(naive(expected_by)),
                refunds::created_at.eq(naive(now)),
            ))
            .execute(conn)?;
        get_refund_any(conn, &refund_id)
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
        .map(Refund::from)
        .ok_or(Error::NotFound("refund"))
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
    Ok(Page::from_overfetch(rows.into_iter().map(Refund::from).collect(), limit))
}

/// Marks a refund as having reached the customer (admin).
pub fn complete_refund(conn: &mut DbConn, id: &RefundId, now: DateTime<Utc>) -> Result<Refund> {
    diesel::update(refunds::table.find(id.as_str()).filter(refunds::status.eq("processing")))
        .set((refunds::status.eq("succeeded"), refunds::completed_at.eq(naive(now))))
        .execute(conn)?;
    get_refund_any(conn, id)
}

/// Remembers a provider webhook event; false if it was seen before (a redelivery).
pub fn remember_event(
    conn: &mut DbConn,
    provider: &str,
    event_id: &str,
    body_sha256: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let insert = diesel::insert_into(webhook_events::table)
        .values((
            webhook_events::provider.eq(provider),
            webhook_events::event_id.eq(event_id),
            webhook_events::received_at.eq(naive(now)),
            webhook_events::body_sha256.eq(body_sha256),
        ))
        .on_conflict_do_nothing();
    // ON CONFLICT cannot be expressed over the multi-backend, so run it on the concrete one.
    let inserted = match conn {
        DbConn::Sqlite(c) => insert.execute(c)?,
        DbConn::Pg(c) => insert.execute(c)?,
    };
    if inserted == 1 {
        return Ok(true);
    }
    // Seen before: the same event again, unless its body differs (an id is one event).
    let stored: Option<String> = webhook_events::table
        .filter(webhook_events::provider.eq(provider))
        .filter(webhook_events::event_id.eq(event_id))
        .select(webhook_events::body_sha256)
        .first(conn)?;
    match stored {
        Some(stored) if stored != body_sha256 => Err(Error::conflict(
            "event_id_reused",
            "this event id was received before with a different body; nothing changed",
        )),
        _ => Ok(false),
    }
}

/// A saved card.
#[derive(Clone, Debug)]
pub struct PaymentMethod {
    pub id: PaymentMethodId,
    pub account_id: AccountId,
    pub provider: String,
    pub token: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: i32,
    pub exp_year: i32,
    pub created_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = payment_methods)]
struct PaymentMethodRow {
    id: String,
    account_id: String,
    provider: String,
    token: String,
    brand: String,
    last4: String,
    exp_month: i32,
    exp_year: i32,
    created_at: chrono::NaiveDateTime,
}

impl From<PaymentMethodRow> for PaymentMethod {
    fn from(r: PaymentMethodRow) -> Self {
        PaymentMethod {
            id: PaymentMethodId::from_db(r.id),
            account_id: AccountId::from_db(r.account_id),
            provider: r.provider,
            token: r.token,
            brand: r.brand,
            last4: r.last4,
            exp_month: r.exp_month,
            exp_year: r.exp_year,
            created_at: utc(r.created_at),
        }
    }
}

/// Saves a card the provider tokenized: at most [`MAX_SAVED_CARDS`] per account, counted under
/// the account's row lock so concurrent saves cannot both pass the count.
pub fn save_payment_method(conn: &mut DbConn, pm: &PaymentMethod) -> Result<PaymentMethod> {
    write_transaction(conn, |conn| {
        super::ledger::lock_account_row(conn, &pm.account_id, pm.created_at)?;
        let saved: i64 = payment_methods::table
            .filter(payment_methods::account_id.eq(pm.account_id.as_str()))
            .filter(payment_methods::deleted_at.is_null())
            .count()
            .get_result(conn)?;
        if saved >= MAX_SAVED_CARDS {
            return Err(Error::conflict(
                "too_many_payment_methods",
                format!("an account keeps at most {MAX_SAVED_CARDS} saved cards; remove one first"),
            ));
        }
        insert_payment_method(conn, pm)
    })
}

fn insert_payment_method(conn: &mut DbConn, pm: &PaymentMethod) -> Result<PaymentMethod> {
    diesel::insert_into(payment_methods::table)
        .values((
            payment_methods::id.eq(pm.id.as_str()),
            payment_methods::account_id.eq(pm.account_id.as_str()),
            payment_methods::provider.eq(&pm.provider),
            payment_methods::token.eq(&pm.token),
            payment_methods::brand.eq(&pm.brand),
            payment_methods::last4.eq(&pm.last4),
            payment_methods::exp_month.eq(pm.exp_month),
            payment_methods::exp_year.eq(pm.exp_year),
            payment_methods::created_at.eq(naive(pm.created_at)),
        ))
        .execute(conn)
        .map_err(|e| {
            if is_unique_violation(&e) {
                Error::conflict("duplicate", "payment method exists")
            } else {
                e.into()
            }
        })?;
    get_payment_method(conn, &pm.account_id, &pm.id)
}

/// One of the account's saved cards (not deleted).
pub fn get_payment_method(conn: &mut DbConn, account: &AccountId, id: &PaymentMethodId) -> Result<PaymentMethod> {
    payment_methods::table
        .find(id.as_str())
        .filter(payment_methods::account_id.eq(account.as_str()))
        .filter(payment_methods::deleted_at.is_null())
        .select(PaymentMethodRow::as_select())
        .first(conn)
        .optional()?
        .map(PaymentMethod::from)
        .ok_or(Error::NotFound("payment method"))
}

/// The account's saved cards, newest first, a page at a time (`after`: the previous page's last).
pub fn list_payment_methods(
    conn: &mut DbConn,
    account: &AccountId,
    after: Option<&PaymentMethodId>,
    limit: i64,
) -> Result<Page<PaymentMethod>> {
    let mut query = payment_methods::table
        .filter(payment_methods::account_id.eq(account.as_str()))
        .filter(payment_methods::deleted_at.is_null())
        .into_boxed();
    if let Some(after) = after {
        let at: chrono::NaiveDateTime = payment_methods::table
            .find(after.as_str())
            .filter(payment_methods::account_id.eq(account.as_str()))
            .select(payment_methods::created_at)
            .first(conn)
            .optional()?
            .ok_or(Error::NotFound(super::CURSOR))?;
        query = query.filter(
            payment_methods::created_at
                .lt(at)
                .or(payment_methods::created_at.eq(at).and(payment_methods::id.lt(after.as_str().to_string()))),
        );
    }
    let items: Vec<PaymentMethod> = query
        .order((payment_methods::created_at.desc(), payment_methods::id.desc()))
        .limit(limit + 1)
        .select(PaymentMethodRow::as_select())
        .load(conn)?
        .into_iter()
        .map(PaymentMethod::from)
        .collect();
    Ok(Page::from_overfetch(items, limit))
}

/// Saved cards an account may have at once.
pub const MAX_SAVED_CARDS: i64 = 20;

/// Forgets a saved card (purchases made with it keep their brand and last4).
pub fn delete_payment_method(
    conn: &mut DbConn,
    account: &AccountId,
    id: &PaymentMethodId,
    now: DateTime<Utc>,
) -> Result<PaymentMethod> {
    let pm = get_payment_method(conn, account, id)?;
    diesel::update(payment_methods::table.find(id.as_str()))
        .set(payment_methods::deleted_at.eq(naive(now)))
        .execute(conn)?;
    Ok(pm)
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
