//! Command-line and environment configuration.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// The Fieldsync server.
#[derive(Debug, Parser)]
#[command(name = "fieldsync-server", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The server's subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server until SIGINT or SIGTERM.
    Serve(ServeConfig),
}

/// Settings for `serve`.
#[derive(Debug, Args)]
pub struct ServeConfig {
    /// Address and port to listen on for HTTP and WebSocket connections.
    #[arg(long, env = "FIELDSYNC_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Path of the SQLite database file; created if missing (its directory must exist).
    #[arg(long, env = "FIELDSYNC_DB", default_value = "fieldsync.sqlite3")]
    pub db: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_takes_listen_and_db_flags() {
        let cli = Cli::try_parse_from([
            "fieldsync-server",
            "serve",
            "--listen",
            "0.0.0.0:9000",
            "--db",
            "/var/lib/fieldsync/db.sqlite3",
        ])
        .unwrap();

        let Command::Serve(config) = cli.command;
        assert_eq!(config.listen, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(config.db, PathBuf::from("/var/lib/fieldsync/db.sqlite3"));
    }

    #[test]
    fn a_listen_address_without_a_port_is_rejected() {
        let err = Cli::try_parse_from(["fieldsync-server", "serve", "--listen", "localhost"])
            .unwrap_err();

        assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
    }

    #[test]
    fn a_subcommand_is_required() {
        assert!(Cli::try_parse_from(["fieldsync-server"]).is_err());
    }
}
