//! How a credit package is bought: record the purchase, take the payment through the
//! provider, and credit the balance exactly once.
//!
//! Cards (one-time provider tokens, or saved cards) are charged at once: the purchase is
//! recorded as `processing` first (its id is the provider's idempotency reference), so a
//! process that dies mid-charge leaves a visible record rather than an untracked charge; on
//! success the credits are on the balance before this returns. A card that needs 3-D Secure,
//! and wallets, answer `requires_action`, bank transfers `pending`, credited later by the
//! provider's webhook or an admin's confirmation.

use chrono::{DateTime, Utc};

use crate::db::DbConn;
use crate::ids::{AccountId, ApiKeyId, PaymentMethodId, PurchaseId, UserId};
use crate::payments::{
    ChargeSource, Charged, PaymentDeclined, PaymentProvider, Settlement, TokenError, Wallet, UNAVAILABLE,
};
use crate::store::catalog;
use crate::store::purchases::{self, MethodType, NewPurchase, Purchase, PurchaseStatus};
use crate::Result;

/// How the customer pays.
pub enum Payment {
    /// A one-time card token from the provider's page or script.
    CardToken(String),
    SavedCard(PaymentMethodId),
    Wallet(Wallet),
    BankTransfer,
}

/// A purchase to make.
pub struct PurchaseRequest<'a> {
    pub account_id: &'a AccountId,
    pub package_id: &'a str,
    pub payment: Payment,
    pub user_id: Option<&'a UserId>,
    pub api_key_id: Option<&'a ApiKeyId>,
    /// Made by automatic top-up (ledger type `auto_topup`).
    pub auto_topup: bool,
}

/// What came of it.
pub enum PurchaseOutcome {
    /// Succeeded, or awaiting the customer/bank (`requires_action`, `pending`).
    Accepted(Purchase),
    /// The card was declined; the purchase is recorded as `failed`.
    Declined(Purchase, PaymentDeclined),
}

/// Buys a package. Provider calls are blocking; run this off the async executor.
pub fn purchase(
    conn: &mut DbConn,
    provider: &dyn PaymentProvider,
    request: PurchaseRequest<'_>,
    now: DateTime<Utc>,
) -> Result<PurchaseOutcome> {
    let package = catalog::get_package(conn, request.package_id)?;
    let id = PurchaseId::generate();
    let base = |method_type, card, payment_method_id| NewPurchase {
        account_id: request.account_id,
        package: &package,
        method_type,
        card,
        payment_method_id,
        provider: provider.name(),
        auto_topup: request.auto_topup,
        user_id: request.user_id,
        api_key_id: request.api_key_id,
    };
    match &request.payment {
        Payment::CardToken(token) => {
            let card = provider.card_token(token).map_err(|e| token_error(&e))?;
            let new = base(MethodType::Card, Some((card.brand, card.last4.as_str())), None);
            purchases::insert(conn, new, PurchaseStatus::Processing, None, None, &id, now)?;
            charge(conn, provider, &id, ChargeSource::Token(token), &request, package.price, now)
        }
        Payment::SavedCard(pm_id) => {
            let pm = crate::store::payment_methods::get_payment_method(conn, request.account_id, pm_id)?;
            let brand = crate::payments::CardBrand::parse(&pm.brand);
            let new = base(MethodType::Card, brand.map(|b| (b, pm.last4.as_str())), Some(pm_id));
            purchases::insert(conn, new, PurchaseStatus::Processing, None, None, &id, now)?;
            charge(conn, provider, &id, ChargeSource::Saved(&pm.token), &request, package.price, now)
        }
        Payment::Wallet(wallet) => {
            let action = provider.start_wallet_payment(*wallet, package.price, id.as_str());
            let method = match wallet {
                Wallet::Alipay => MethodType::Alipay,
                Wallet::WechatPay => MethodType::WechatPay,
            };
            match action {
                Err(unknown) if unknown.code == UNAVAILABLE => Err(crate::Error::Unavailable(anyhow::anyhow!(
                    "the payment provider did not answer: {}",
                    unknown.message
                ))),
                Ok(next) => Ok(PurchaseOutcome::Accepted(purchases::insert(
                    conn,
                    base(method, None, None),
                    PurchaseStatus::RequiresAction,
                    Some(&next),
                    None,
                    &id,
                    now,
                )?)),
                Err(declined) => {
                    purchases::insert(
                        conn,
                        base(method, None, None),
                        PurchaseStatus::Processing,
                        None,
                        None,
                        &id,
                        now,
                    )?;
                    let failed = purchases::mark_failed(conn, &id, declined.code, &declined.message, now)?;
                    Ok(PurchaseOutcome::Declined(failed, declined))
                }
            }
        }
        Payment::BankTransfer => {
            let instructions = provider.start_bank_transfer(package.price, id.as_str()).map_err(|d| match d.code {
                UNAVAILABLE => crate::Error::Unavailable(anyhow::anyhow!("{}", d.message)),
                _ => crate::Error::unprocessable("payment_method_unavailable", d.message, "payment_method.type"),
            })?;
            Ok(PurchaseOutcome::Accepted(purchases::insert(
                conn,
                base(MethodType::BankTransfer, None, None),
                PurchaseStatus::Pending,
                None,
                Some(&instructions),
                &id,
                now,
            )?))
        }
    }
}

/// What a card token the provider refuses answers: 400, naming the field.
pub fn token_error(e: &TokenError) -> crate::Error {
    let code = match e {
        TokenError::Unknown => "invalid_card_token",
        TokenError::UnsupportedBrand(_) => "unsupported_card_brand",
        TokenError::Unavailable(message) => return crate::Error::Unavailable(anyhow::anyhow!("{message}")),
    };
    crate::Error::invalid(code, e.to_string(), "payment_method.token")
}

fn charge(
    conn: &mut DbConn,
    provider: &dyn PaymentProvider,
    id: &PurchaseId,
    source: ChargeSource<'_>,
    request: &PurchaseRequest<'_>,
    amount: crate::Money,
    now: DateTime<Utc>,
) -> Result<PurchaseOutcome> {
    let charged = provider.charge(source, amount, id.as_str()).and_then(|charged| match charged {
        // Off-session (automatic top-up) nobody is there to authenticate: a decline.
        Charged::RequiresAction { .. } if request.auto_topup => Err(PaymentDeclined {
            code: "authentication_required",
            message: "the card needs the cardholder to authenticate, which an automatic top-up cannot do".into(),
        }),
        charged => Ok(charged),
    });
    match charged {
        Ok(Charged::Succeeded { charge_id }) => {
            let (purchase, _) = crate::crediting::credit(conn, id, Some(&charge_id), now)?;
            Ok(PurchaseOutcome::Accepted(purchase))
        }
        Ok(Charged::RequiresAction { charge_id, next_action }) => {
            Ok(PurchaseOutcome::Accepted(purchases::mark_requires_action(conn, id, &charge_id, &next_action)?))
        }
        Ok(Charged::Pending { charge_id }) => {
            Ok(PurchaseOutcome::Accepted(purchases::set_provider_charge(conn, id, &charge_id)?))
        }
        // Unknown: the purchase stays `processing` for the webhook (or a retry with the same
        // reference, which the provider answers the same) to settle; never marked failed.
        Err(unknown) if unknown.code == UNAVAILABLE => Err(crate::Error::Unavailable(anyhow::anyhow!(
            "the payment provider did not answer for purchase {id}: {}",
            unknown.message
        ))),
        Err(declined) => {
            let failed = purchases::mark_failed(conn, id, declined.code, &declined.message, now)?;
            Ok(PurchaseOutcome::Declined(failed, declined))
        }
    }
}

/// How long a card purchase may stay `processing` before its charge is looked up at the
/// provider: longer than any charge call (their timeout) takes.
pub const SETTLE_AFTER_SECONDS: i64 = 120;
/// A purchase the provider has never heard of this long after it was made is failed: its
/// charge call never reached the provider (and idempotency keys make a late one harmless).
pub const GIVE_UP_AFTER_SECONDS: i64 = 3600;

/// Settles card purchases whose charge call got no answer, from the provider's own record of
/// the charge (never a guess): succeeded is credited (exactly once), failed is failed, pending
/// waits, and one the provider never saw is failed after [`GIVE_UP_AFTER_SECONDS`]. Returns how
/// many changed. Provider calls block: run this off the async executor.
pub fn settle_unknown(conn: &mut DbConn, provider: &dyn PaymentProvider, now: DateTime<Utc>) -> Result<usize> {
    let due = now - chrono::Duration::seconds(SETTLE_AFTER_SECONDS);
    let mut changed = 0;
    for id in purchases::unsettled(conn, provider.name(), due, 20)? {
        let purchase = purchases::get_any(conn, &id)?;
        match provider.settlement(id.as_str()) {
            Ok(Settlement::Succeeded { charge_id }) => {
                let (_, credited) = crate::crediting::credit(conn, &id, Some(&charge_id), now)?;
                changed += usize::from(credited);
            }
            Ok(Settlement::Failed(declined)) => {
                purchases::mark_failed(conn, &id, declined.code, &declined.message, now)?;
                changed += 1;
            }
            Ok(Settlement::NotFound)
                if now - purchase.created_at > chrono::Duration::seconds(GIVE_UP_AFTER_SECONDS) =>
            {
                purchases::mark_failed(
                    conn,
                    &id,
                    "payment_not_found",
                    "the payment provider never received this charge",
                    now,
                )?;
                changed += 1;
            }
            Ok(Settlement::Pending | Settlement::NotFound) => {}
            // The provider is still not answering: ask again next round.
            Err(e) => tracing::warn!(purchase = %id, error = %e, "looking up an unsettled charge failed"),
        }
    }
    Ok(changed)
}
