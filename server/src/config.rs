//! Command-line and environment configuration.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser as _};
use clap::{Args, Parser, Subcommand};
use fieldsync_protocol::Role;

/// The database file used when neither `--db` nor `FIELDSYNC_DB` says otherwise.
pub const DEFAULT_DB: &str = "fieldsync.sqlite3";

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
    /// Load a realistic demo company (50 accounts, 200 jobs this week, five technicians with
    /// paired tablets) into an empty database, and print the logins and tablet tokens.
    Demo(DbArg),
    /// Add or list users.
    #[command(subcommand)]
    User(UserCommand),
    /// Pair, revoke or list devices (tablets).
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Set (or show, with no options) the company's name, address and phone, as invoices and
    /// statements print them; tablets learn them when they next connect.
    Company(CompanyArgs),
    /// Copy the database, consistently, to a new file, while the server runs (SQLite's online
    /// backup API).
    Backup(BackupArgs),
    /// Put a backup in place of the database; refused while a server runs on it. Tablets that
    /// synced after the backup repair on their next sync: the server gets back what they hold.
    Restore(RestoreArgs),
}

/// Settings for `company`.
#[derive(Debug, Args)]
pub struct CompanyArgs {
    /// The company's name.
    #[arg(long)]
    pub name: Option<String>,
    /// Its postal address; lines separated by `|` ("12 Main St|Springfield, IL 62701").
    #[arg(long)]
    pub address: Option<String>,
    /// Its phone number.
    #[arg(long)]
    pub phone: Option<String>,
    /// Its time zone, an IANA name ("America/Chicago"): the office page shows and reads times
    /// in it.
    #[arg(long)]
    pub time_zone: Option<String>,

    /// The database.
    #[command(flatten)]
    pub db: DbArg,
}

/// Settings for `backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The file to write; it must not exist.
    #[arg(long)]
    pub to: PathBuf,

    /// The database to copy.
    #[command(flatten)]
    pub db: DbArg,
}

/// Settings for `restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup to put in place.
    #[arg(long)]
    pub from: PathBuf,

    /// The database to replace (the one `serve` uses).
    #[command(flatten)]
    pub db: DbArg,
}

/// Settings for `serve`.
#[derive(Debug, Args)]
pub struct ServeConfig {
    /// Address and port to listen on for HTTP and WebSocket connections.
    #[arg(long, env = "FIELDSYNC_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Path of the SQLite database file; created if missing (its directory must exist).
    #[arg(long, env = "FIELDSYNC_DB", default_value = DEFAULT_DB)]
    pub db: PathBuf,

    /// Load the demo company first if the database has no accounts yet.
    #[arg(long, env = "FIELDSYNC_DEMO")]
    pub demo: bool,

    /// Serve HTTPS and WSS with this certificate chain (PEM; the server's certificate first).
    #[arg(
        long,
        env = "FIELDSYNC_TLS_CERT",
        requires = "tls_key",
        value_name = "FILE"
    )]
    pub tls_cert: Option<PathBuf>,

    /// The private key of `--tls-cert` (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(
        long,
        env = "FIELDSYNC_TLS_KEY",
        requires = "tls_cert",
        value_name = "FILE"
    )]
    pub tls_key: Option<PathBuf>,

    /// Serve HTTPS and WSS with a self-signed certificate, made on first use and kept next to
    /// the database (`<db>.tls-cert.pem`, `<db>.tls-key.pem`); its SHA-256 fingerprint is
    /// printed, for pairing tablets (`fieldsync pair URL --fingerprint ...`).
    #[arg(long, env = "FIELDSYNC_TLS_SELF_SIGNED", conflicts_with = "tls_cert")]
    pub tls_self_signed: bool,

    /// A host name or IP address the self-signed certificate is made for, besides localhost,
    /// the listening address and this machine's host name (repeatable).
    #[arg(long = "tls-name", value_name = "NAME", requires = "tls_self_signed")]
    pub tls_names: Vec<String>,

    /// Behind a reverse proxy that terminates TLS: trust its `X-Forwarded-Proto` (so that
    /// cookies are `Secure` and HSTS is sent) and `X-Forwarded-For` (the address sign-in
    /// attempts are counted by). Listen on an address only the proxy can reach.
    #[arg(long, env = "FIELDSYNC_BEHIND_PROXY")]
    pub behind_proxy: bool,

    /// Most sync connections open at once, all devices together; beyond, a device is asked
    /// to come back later (503).
    #[arg(long, env = "FIELDSYNC_MAX_SYNC_CONNECTIONS", default_value_t = 5000)]
    pub max_sync_connections: usize,
}

/// The database an admin command works on.
#[derive(Debug, Args)]
pub struct DbArg {
    /// Path of the SQLite database file (the one `serve` uses); created if missing.
    #[arg(long, env = "FIELDSYNC_DB", default_value = DEFAULT_DB)]
    pub db: PathBuf,
}

/// `user ...`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user. Office and admin users need a password (for office login).
    Add(UserAdd),
    /// List users.
    List(DbArg),
}

/// Settings for `user add`.
#[derive(Debug, Args)]
pub struct UserAdd {
    /// Login name; unique regardless of case.
    #[arg(long)]
    pub name: String,

    /// What the user may do.
    #[arg(long, value_parser = role_parser())]
    pub role: Role,

    /// Password for office login (at least 8 characters); prefer the environment variable,
    /// which other users of the machine cannot see in the process list.
    #[arg(long, env = "FIELDSYNC_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,

    /// The database.
    #[command(flatten)]
    pub db: DbArg,
}

/// `device ...`
#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Register a tablet for a user and print its token (shown once).
    Add(DeviceAdd),
    /// Revoke a device: it can no longer sync; its number is never reused.
    Revoke(DeviceRevoke),
    /// List devices, revoked ones included.
    List(DbArg),
}

/// Settings for `device add`.
#[derive(Debug, Args)]
pub struct DeviceAdd {
    /// Name of the user whose tablet it is.
    #[arg(long)]
    pub user: String,

    /// A name for people, e.g. "Tess's tablet" (default: "<user>'s tablet").
    #[arg(long)]
    pub name: Option<String>,

    /// The database.
    #[command(flatten)]
    pub db: DbArg,
}

/// Settings for `device revoke`.
#[derive(Debug, Args)]
pub struct DeviceRevoke {
    /// The device's number (see `device list`).
    #[arg(long)]
    pub number: i64,

    /// The database.
    #[command(flatten)]
    pub db: DbArg,
}

/// `--role`: one of the role names, listed in `--help` and in the error for anything else.
fn role_parser() -> impl clap::builder::TypedValueParser<Value = Role> {
    let names = [Role::Technician, Role::Office, Role::Admin].map(|role| role.as_str());
    PossibleValuesParser::new(names).map(|name| name.parse::<Role>().expect("a listed role"))
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

        let Command::Serve(config) = cli.command else {
            panic!("not serve: {:?}", cli.command);
        };
        assert_eq!(config.listen, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(config.db, PathBuf::from("/var/lib/fieldsync/db.sqlite3"));
    }

    #[test]
    fn tls_takes_a_certificate_with_its_key_or_a_self_signed_one() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(["fieldsync-server", "serve"].iter().chain(args)).map(|cli| {
                let Command::Serve(config) = cli.command else {
                    panic!("not serve");
                };
                config
            })
        };

        let config = parse(&["--tls-cert", "c.pem", "--tls-key", "k.pem"]).unwrap();
        assert_eq!(config.tls_cert, Some(PathBuf::from("c.pem")));
        assert!(
            parse(&["--tls-cert", "c.pem"]).is_err(),
            "a certificate needs its key"
        );
        let config = parse(&["--tls-self-signed", "--tls-name", "office.lan"]).unwrap();
        assert!(config.tls_self_signed);
        assert_eq!(config.tls_names, ["office.lan"]);
        assert!(parse(&["--tls-self-signed", "--tls-cert", "c", "--tls-key", "k"]).is_err());
        assert!(parse(&["--tls-name", "office.lan"]).is_err());
    }

    #[test]
    fn a_listen_address_without_a_port_is_rejected() {
        let err = Cli::try_parse_from(["fieldsync-server", "serve", "--listen", "localhost"])
            .unwrap_err();

        assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
    }

    #[test]
    fn user_add_takes_a_name_a_role_and_a_password() {
        let cli = Cli::try_parse_from([
            "fieldsync-server",
            "user",
            "add",
            "--name",
            "Olga",
            "--role",
            "office",
            "--password",
            "secret password",
            "--db",
            "/tmp/x.sqlite3",
        ])
        .unwrap();

        let Command::User(UserCommand::Add(add)) = cli.command else {
            panic!("not user add: {:?}", cli.command);
        };
        assert_eq!(add.name, "Olga");
        assert_eq!(add.role, Role::Office);
        assert_eq!(add.password.as_deref(), Some("secret password"));
        assert_eq!(add.db.db, PathBuf::from("/tmp/x.sqlite3"));
    }

    #[test]
    fn a_bad_role_is_rejected_with_the_roles_listed() {
        let err = Cli::try_parse_from([
            "fieldsync-server",
            "user",
            "add",
            "--name",
            "x",
            "--role",
            "boss",
        ])
        .unwrap_err();

        assert_eq!(err.kind(), clap::error::ErrorKind::InvalidValue);
        let text = err.to_string();
        assert!(text.contains("technician, office, admin"), "{text}");
    }

    #[test]
    fn device_subcommands_parse() {
        let cli = Cli::try_parse_from([
            "fieldsync-server",
            "device",
            "add",
            "--user",
            "Tess",
            "--name",
            "Tess's tablet",
        ])
        .unwrap();
        let Command::Device(DeviceCommand::Add(add)) = cli.command else {
            panic!("not device add: {:?}", cli.command);
        };
        assert_eq!(
            (add.user.as_str(), add.name.as_deref()),
            ("Tess", Some("Tess's tablet"))
        );

        let cli =
            Cli::try_parse_from(["fieldsync-server", "device", "revoke", "--number", "3"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Device(DeviceCommand::Revoke(DeviceRevoke { number: 3, .. }))
        ));
        assert!(Cli::try_parse_from(["fieldsync-server", "device", "revoke"]).is_err());
    }

    #[test]
    fn a_subcommand_is_required() {
        assert!(Cli::try_parse_from(["fieldsync-server"]).is_err());
    }
}
