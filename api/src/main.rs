//! The `apinfer` binary: `serve`, `migrate`, `admin create-user`, `openapi`.

use anyhow::Context;
use apinfer_api::config::Config;
use apinfer_api::{openapi, startup, telemetry};
use apinfer_core::auth::hash_password;
use apinfer_core::domain::{Email, Password};
use apinfer_core::store::accounts::{self, NewUser};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "apinfer", version, about = "Prepaid credits API for AI image generation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (migrates the database first).
    Serve {
        /// Listen address (overrides APINFER_ADDR).
        #[arg(long)]
        addr: Option<String>,
        /// Database URL (overrides APINFER_DATABASE_URL).
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Apply pending database migrations.
    Migrate {
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Administrative tasks.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Print the OpenAPI document (YAML).
    Openapi,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a user with a personal account.
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
        #[arg(long)]
        name: Option<String>,
        /// Make the user an apinfer administrator.
        #[arg(long)]
        admin: bool,
        #[arg(long)]
        database_url: Option<String>,
    },
}

fn load(database_url: Option<String>) -> anyhow::Result<Config> {
    let (mut config, generated) = Config::load()?;
    telemetry::init(config.log_json);
    for name in generated {
        tracing::warn!("{name} is not set: using a random one for this process (development mode)");
    }
    if let Some(url) = database_url {
        config.database_url = url;
    }
    Ok(config)
}

/// mimalloc rather than glibc's malloc: the group-commit committer frees what the HTTP workers
/// allocated (each request's work, answers), and glibc makes such a free take the other
/// thread's arena lock, which the committer, the one serial stage under load, waited on
/// ~600 times a second under the spread benchmark (see bench/RESULTS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    apinfer_api::memory::return_freed_memory_promptly();
    run()
}

#[actix_web::main]
async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Openapi => print!("{}", openapi::yaml()),
        Command::Serve { addr, database_url } => {
            let mut config = load(database_url)?;
            if let Some(addr) = addr {
                config.addr = addr;
            }
            let app = startup::build(config.clone()).await?;
            tracing::info!(addr = %config.addr, port = app.port(), "apinfer listening");
            app.run().await?;
        }
        Command::Migrate { database_url } => {
            let config = load(database_url)?;
            startup::open_database(&config).await?;
            tracing::info!("migrations applied");
        }
        Command::Admin { command: AdminCommand::CreateUser { email, password, name, admin, database_url } } => {
            let config = load(database_url)?;
            let pool = startup::open_database(&config).await?;
            // The same checks as sign-up's.
            let email = Email::parse(&email).map_err(|e| anyhow::anyhow!("{e}"))?;
            let password = Password::new(password, &email).map_err(|e| anyhow::anyhow!("{e}"))?;
            let (user, account) = tokio::task::spawn_blocking(move || {
                let mut conn = pool.get()?;
                let hash = hash_password(&password)?;
                accounts::create_user_with_account(
                    &mut conn,
                    NewUser { email: &email, password_hash: &hash, name: name.as_deref(), is_admin: admin },
                    chrono::Utc::now(),
                )
            })
            .await?
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("creating the user")?;
            println!(
                "created user {} ({}) with account {}{}",
                user.id,
                user.email,
                account.id,
                if admin { " [admin]" } else { "" }
            );
        }
    }
    Ok(())
}
