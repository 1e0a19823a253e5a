//! `fieldsync-server`: parses the command line and runs the server from the library, or one
//! of the admin subcommands (`user ...`, `device ...`, `backup`, `restore`) in [`admin`].

mod admin;

use anyhow::Context as _;
use clap::Parser as _;
use fieldsync_server::config::{Cli, Command, ServeConfig};
use fieldsync_server::serving::Serving;
use fieldsync_server::{AppState, serve_with, tls};
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tracing_subscriber::EnvFilter;

/// mimalloc rather than the system allocator: syncing allocates and frees many small objects
/// (automerge documents, on several threads), and glibc's malloc spent a fifth of the server's
/// time on it under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    fieldsync_server::runtime()
        .context("cannot start the async runtime")?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();

    match cli.command {
        Command::Serve(config) => run_server(config).await,
        Command::Demo(db) => match admin::load_demo(&db.db)? {
            Some(summary) => print(format!("{summary}\n")),
            None => anyhow::bail!(
                "{} already holds accounts; the demo loads only into an empty database",
                db.db.display()
            ),
        },
        Command::User(command) => print(admin::user(command)?),
        Command::Device(command) => print(admin::device(command)?),
        Command::Company(args) => print(admin::company(args)?),
        Command::Backup(args) => print(admin::backup(&args.db.db, &args.to)?),
        Command::Restore(args) => print(admin::restore(&args.from, &args.db.db)?),
    }
}

fn print(output: String) -> anyhow::Result<()> {
    print!("{output}");
    Ok(())
}

async fn run_server(config: ServeConfig) -> anyhow::Result<()> {
    // Held until the process ends: one server per database, and no restore under it.
    let _lock = fieldsync_server::lock::lock_database(&config.db)?;
    if config.demo
        && let Some(summary) = admin::load_demo(&config.db)?
    {
        println!("{summary}");
    }
    let tls = if let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) {
        Some(tls::from_pem_files(cert, key)?)
    } else if config.tls_self_signed {
        let names = tls::default_names(config.listen, &config.tls_names);
        let made = tls::self_signed(&config.db, &names)?;
        println!(
            "Self-signed TLS certificate for {}; pair tablets with\n  --fingerprint {}",
            names.join(", "),
            made.fingerprint
        );
        Some(made)
    } else {
        None
    };
    let serving = Serving {
        tls: tls.as_ref().map(|tls| tls.config.clone()),
        behind_proxy: config.behind_proxy,
        ..Serving::default()
    };
    let state = AppState::open(&config.db)?.with_max_sync_connections(config.max_sync_connections);
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let shutdown = shutdown_signal().context("cannot install signal handlers")?;
    let addr = listener
        .local_addr()
        .context("cannot read the bound address")?;
    let url = format!("{}://{addr}", fieldsync_server::serving::scheme(&serving));
    if tls.is_none() && !config.behind_proxy {
        tracing::warn!(
            "serving plain HTTP: fine for a trial on this computer, but tokens, passwords and \
             customer records cross the network in clear; use --tls-cert/--tls-key or \
             --tls-self-signed (or --behind-proxy behind a proxy that terminates TLS)"
        );
    }
    tracing::info!(%addr, %url, db = %config.db.display(), "listening");

    serve_with(listener, state, serving, shutdown)
        .await
        .context("server failed")?;
    tracing::info!("stopped");
    Ok(())
}

/// A future that resolves on the first SIGINT or SIGTERM.
///
/// The handlers are installed before it is returned, so a signal that arrives while the
/// server is starting is not lost.
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        let name = tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        };
        tracing::info!(signal = name, "shutting down; finishing in-flight requests");
    })
}
