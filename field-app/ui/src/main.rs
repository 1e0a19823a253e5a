//! `fieldsync-app`: the technician's tablet app. On first run it asks for the server's address
//! and the tablet's device token (or pair it with `fieldsync pair`, same `--data` directory).

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;

/// The Fieldsync tablet app.
#[derive(Debug, Parser)]
#[command(name = "fieldsync-app", version, about)]
struct Cli {
    /// Directory holding the tablet's files (its replica database), as for `fieldsync`.
    #[arg(long, env = "FIELDSYNC_DATA", default_value = "fieldsync-data")]
    data: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // What the app does (pairing, photos prepared, sync reconnects) goes to stderr through
    // tracing, at `info` unless RUST_LOG says otherwise.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let replica = cli.data.join("tablet.sqlite3");
    fieldsync_app_ui::run(&replica)
        .with_context(|| format!("cannot run the app on {}", replica.display()))
}
