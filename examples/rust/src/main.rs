//! A usage report: the balance, what one image costs, and the ledger grouped by entry type,
//! walking every page. Needs a key with `balance:read` and `usage:read`.
//!
//! ```sh
//! APINFER_API_KEY=sk_... cargo run --manifest-path examples/rust/Cargo.toml
//! ```

use std::collections::BTreeMap;
use std::process::ExitCode;

use apinfer::{Client, Decimal, Error, PricingQuoteParams, QualityInput, TransactionsListParams};

async fn report(client: &Client) -> Result<(), Error> {
    let balance = client.balance().retrieve().await?;
    println!("available: {} credits (balance {}, held {})", balance.available, balance.balance, balance.held);

    let quote = client
        .pricing()
        .quote(&PricingQuoteParams { model: "qwen-image".into(), quality: Some(QualityInput::Standard), n: Some(1) })
        .await?;
    println!("one {} image: {} credits", quote.model, quote.total_credits);

    let mut by_type: BTreeMap<String, (usize, Decimal)> = BTreeMap::new();
    let mut ledger = client.transactions().list(&TransactionsListParams { limit: Some(100), ..Default::default() });
    while let Some(tx) = ledger.next().await {
        let tx = tx?;
        let entry = by_type.entry(tx.r#type.to_string()).or_default();
        entry.0 += 1;
        entry.1 += tx.credits;
    }
    for (kind, (count, credits)) in &by_type {
        println!("{kind:>12}: {count:>5} entries, {credits:>12} credits");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let client = match Client::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match report(&client).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::Authentication(e)) => {
            eprintln!("the API key was refused: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
