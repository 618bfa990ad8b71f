//! The dashboard: the web app in `dashboard/` (TypeScript on the generated SDK), built into
//! `dashboard/dist/` and embedded in the binary, served at `/` from the API's own origin so
//! that its session cookie is first-party and needs no CORS.
//!
//! Every page answer carries a strict Content-Security-Policy: scripts, styles, frames and
//! connections only from this origin, no inline script or style, no `eval`, except Stripe.js's
//! origin when Stripe is the payment provider (its card entry is Stripe's own frame).

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::config::{Config, PaymentsProvider};
use crate::state::AppState;

const INDEX_HTML: &[u8] = include_bytes!("../../dashboard/dist/index.html");
const APP_JS: &[u8] = include_bytes!("../../dashboard/dist/app.js");
const APP_CSS: &[u8] = include_bytes!("../../dashboard/dist/app.css");

/// Mounts the dashboard's three files.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(index))
        .route("/app.js", web::get().to(script))
        .route("/app.css", web::get().to(styles));
}

async fn index(state: web::Data<AppState>) -> HttpResponse {
    asset(&state, "text/html; charset=utf-8", INDEX_HTML)
}

async fn script(state: web::Data<AppState>) -> HttpResponse {
    asset(&state, "text/javascript; charset=utf-8", APP_JS)
}

async fn styles(state: web::Data<AppState>) -> HttpResponse {
    asset(&state, "text/css; charset=utf-8", APP_CSS)
}

fn asset(state: &AppState, content_type: &'static str, body: &'static [u8]) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CONTENT_SECURITY_POLICY, content_security_policy(&state.config)))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        // Not content-hashed names: revalidate each time (the files are small and local).
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

/// The dashboard's Content-Security-Policy for this configuration.
pub fn content_security_policy(config: &Config) -> String {
    let stripe = match config.payments_provider {
        PaymentsProvider::Stripe => {
            let mut origins: Vec<String> = [&config.stripe.js_url, &config.stripe.api_base]
                .iter()
                .filter_map(|url| reqwest::Url::parse(url).ok())
                .map(|url| format!(" {}", url.origin().ascii_serialization()))
                .collect();
            origins.dedup();
            origins.join("")
        }
        PaymentsProvider::Sandbox => String::new(),
    };
    // Stripe's own 3-D Secure frames come from hooks.stripe.com (Stripe's CSP guide).
    let stripe_frames = if stripe.contains("https://js.stripe.com") { " https://hooks.stripe.com" } else { "" };
    format!(
        "default-src 'self'; script-src 'self'{stripe}; style-src 'self'; img-src 'self' data: blob:; \
         connect-src 'self'{stripe}; frame-src 'self'{stripe}{stripe_frames}; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_stripe_is_a_third_party_and_only_when_configured() {
        let mut config = Config::development("sqlite://unused.db");
        config.payments_provider = PaymentsProvider::Sandbox;
        let csp = content_security_policy(&config);
        assert!(csp.contains("script-src 'self';"), "{csp}");
        assert!(!csp.contains("unsafe") && !csp.contains("http"), "{csp}");
        config.payments_provider = PaymentsProvider::Stripe;
        config.stripe.js_url = "https://js.stripe.com/v3/".into();
        config.stripe.api_base = "https://api.stripe.com".into();
        let csp = content_security_policy(&config);
        assert!(csp.contains("script-src 'self' https://js.stripe.com https://api.stripe.com;"), "{csp}");
        assert!(
            csp.contains("frame-src 'self' https://js.stripe.com https://api.stripe.com https://hooks.stripe.com;"),
            "{csp}"
        );
        config.stripe.js_url = "http://127.0.0.1:8420/js.stripe.com/v3/".into();
        config.stripe.api_base = "http://127.0.0.1:8420".into();
        let csp = content_security_policy(&config);
        assert!(csp.contains("script-src 'self' http://127.0.0.1:8420;"), "{csp}");
        assert!(!csp.contains("hooks.stripe.com"), "{csp}");
    }
}
