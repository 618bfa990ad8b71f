//! The route table: one list that builds both the actix router and the OpenAPI document.

pub mod account;
pub mod admin;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod balance;
pub mod catalog;
pub mod events;
pub mod generations;
pub mod images;
pub mod members;
pub mod notifications;
pub mod ops;
pub mod payment_methods;
pub mod purchases;
pub mod settings;
pub mod transactions;
pub mod usage;
pub mod views;
pub mod webhook_endpoints;
pub mod webhooks;

use utoipa_actix_web::service_config::ServiceConfig;

/// Everything under `/v1`.
pub fn v1(cfg: &mut ServiceConfig) {
    cfg.service(auth::signup)
        .service(auth::login)
        .service(auth::create_session)
        .service(auth::retrieve_session)
        .service(auth::switch_account)
        .service(auth::logout)
        .service(auth::logout_all)
        .service(account::me)
        .service(account::account)
        .service(members::list)
        .service(members::add)
        .service(members::remove)
        .service(api_keys::create)
        .service(api_keys::current)
        .service(api_keys::list)
        .service(api_keys::revoke)
        .service(audit::list)
        .service(catalog::packages)
        .service(catalog::models)
        .service(catalog::retrieve_model)
        .service(catalog::quote)
        .service(balance::balance)
        .service(transactions::list)
        .service(usage::usage_report)
        .service(usage::export)
        .service(notifications::list)
        .service(settings::get_alert)
        .service(settings::put_alert)
        .service(settings::get_topup)
        .service(settings::put_topup)
        .service(purchases::create)
        .service(purchases::list)
        .service(purchases::retrieve)
        .service(purchases::refund)
        .service(purchases::list_refunds)
        .service(payment_methods::create)
        .service(payment_methods::list)
        .service(payment_methods::remove)
        .service(payment_methods::payment_provider)
        .service(generations::create)
        .service(generations::list)
        .service(generations::retrieve)
        .service(generations::cancel)
        .service(events::list)
        .service(events::retrieve)
        .service(webhook_endpoints::create)
        .service(webhook_endpoints::list)
        .service(webhook_endpoints::retrieve)
        .service(webhook_endpoints::update)
        .service(webhook_endpoints::remove)
        .service(webhook_endpoints::rotate_secret)
        .service(webhook_endpoints::list_deliveries)
        .service(webhook_endpoints::retry_delivery)
        .service(generations::image)
        .service(images::create)
        .service(webhooks::payments)
        .service(admin::confirm_purchase)
        .service(admin::complete_refund)
        .service(admin::create_adjustment)
        .service(admin::update_account)
        .service(admin::list_models)
        .service(admin::create_model)
        .service(admin::update_model)
        .service(admin::list_packages)
        .service(admin::create_package)
        .service(admin::update_package);
}

/// Operational endpoints at the root.
pub fn ops(cfg: &mut ServiceConfig) {
    cfg.service(ops::healthz).service(ops::readyz).service(ops::metrics).service(ops::openapi_yaml);
}
