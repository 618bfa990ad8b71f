//! Purchases: a package bought with a payment method, from recording to crediting.
//!
//! Every succeeded purchase is a credit lot (see [`super::lots`]). Crediting is exactly once:
//! it is a conditional status change (`... WHERE status IN (awaiting)`) and the ledger entry is
//! written only by the one transaction that made it.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::catalog::Package;
use super::events::{self, EventType};
use super::refunds::REFUND_WINDOW;
use super::Page;
use super::{naive, utc};
use crate::credits::Currency;
use crate::db::schema::purchases;
use crate::db::{write_transaction, DbConn};
use crate::ids::{AccountId, ApiKeyId, PaymentMethodId, PurchaseId, UserId};
use crate::payments::{BankInstructions, CardBrand, NextAction};
use crate::{Credits, Error, Money, Result};

text_enum! {
    /// How a purchase is paid.
    pub enum MethodType {
        Card = "card",
        Alipay = "alipay",
        WechatPay = "wechat_pay",
        BankTransfer = "bank_transfer",
    }
}

text_enum! {
    /// Where a purchase stands.
    pub enum PurchaseStatus {
        /// A card charge is under way (only seen if a process died mid-charge).
        Processing = "processing",
        Succeeded = "succeeded",
        /// Waiting for the customer to pay by redirect or QR code.
        RequiresAction = "requires_action",
        /// Waiting for a bank transfer to arrive.
        Pending = "pending",
        Failed = "failed",
        Refunded = "refunded",
        PartiallyRefunded = "partially_refunded",
    }
}

/// The statuses from which a purchase may still be paid.
pub(crate) const AWAITING: [&str; 3] =
    [PurchaseStatus::Processing.as_str(), PurchaseStatus::RequiresAction.as_str(), PurchaseStatus::Pending.as_str()];

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

    /// What its unused credits are worth back at `now`, if they can be refunded then.
    pub fn refundable_amount(&self, now: DateTime<Utc>) -> Option<Money> {
        let paid = matches!(self.status, PurchaseStatus::Succeeded | PurchaseStatus::PartiallyRefunded);
        let open = self.refundable_until().is_some_and(|until| now <= until);
        (paid && open && self.credits_remaining.is_positive()).then(|| self.refund_value(self.credits_remaining))
    }

    /// What `credits` of this purchase are worth back: the price paid per credit, rounded down
    /// to the fen (never more back than was paid).
    pub fn refund_value(&self, credits: Credits) -> Money {
        let minor = i128::from(self.amount.minor()) * i128::from(credits.units()) / i128::from(self.credits.units());
        Money::from_minor(minor as i64, self.amount.currency())
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

impl TryFrom<PurchaseRow> for Purchase {
    type Error = Error;

    fn try_from(r: PurchaseRow) -> Result<Self> {
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
        Ok(Purchase {
            id: PurchaseId::from_db(r.id),
            account_id: AccountId::from_db(r.account_id),
            package_id: r.package_id,
            credits: Credits::from_units(r.credits),
            amount: Money::from_minor(r.amount_minor, Currency::from_db(&r.currency)?),
            status: PurchaseStatus::from_db(&r.status)?,
            method_type: MethodType::from_db(&r.method_type)?,
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
        })
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
            purchases::currency.eq(new.package.price.currency().as_str()),
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
        .map(Purchase::try_from)
        .ok_or(Error::NotFound("purchase"))?
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
    Ok(Page::from_overfetch(rows.into_iter().map(Purchase::try_from).collect::<Result<_>>()?, limit))
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

/// Marks a purchase awaiting payment failed (and records `purchase.failed`); a purchase in any
/// other state is left as it is.
pub fn mark_failed(
    conn: &mut DbConn,
    id: &PurchaseId,
    code: &str,
    message: &str,
    now: DateTime<Utc>,
) -> Result<Purchase> {
    write_transaction(conn, |conn| {
        let updated = diesel::update(purchases::table.find(id.as_str()).filter(purchases::status.eq_any(AWAITING)))
            .set((
                purchases::status.eq(PurchaseStatus::Failed.as_str()),
                purchases::failure_code.eq(code),
                purchases::failure_message.eq(message),
            ))
            .execute(conn)?;
        let purchase = get_any(conn, id)?;
        if updated == 1 {
            events::record(conn, &purchase.account_id, EventType::PurchaseFailed, event_data(&purchase), now)?;
        }
        Ok(purchase)
    })
}

/// What a `purchase.*` event carries.
pub fn event_data(purchase: &Purchase) -> serde_json::Value {
    serde_json::json!({
        "object": "purchase",
        "id": purchase.id.as_str(),
        "package_id": purchase.package_id,
        "credits": purchase.credits.to_string(),
        "amount": purchase.amount.amount_string(),
        "currency": purchase.amount.currency().as_str(),
        "status": purchase.status.as_str(),
        "auto_topup": purchase.auto_topup,
        "failure_code": purchase.failure_code,
        "failure_message": purchase.failure_message,
    })
}
