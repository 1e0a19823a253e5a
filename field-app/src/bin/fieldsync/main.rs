//! `fieldsync`: the tablet core from the command line, for scripts and tests. Acts as the
//! paired technician on the replica in `--data` (or `FIELDSYNC_DATA`); every command but
//! `pair` and `sync` works with no network at all.
//!
//! ```text
//! fieldsync pair http://10.0.0.5:8080 fsd_...
//! fieldsync sync
//! fieldsync jobs
//! fieldsync search harbor
//! fieldsync customer show <account id>
//! fieldsync customer log <account id> --how call "Confirmed Thursday's visit"
//! fieldsync job show <job id>
//! fieldsync job costs --job <job id> --final-amount 212.50 "2 x Gasket" "Flue seal"
//! fieldsync note add --job <job id> "Replaced the pump seal"
//! fieldsync invoice create --job <job id> --line "Pump seal; 1; 120.00" --tax 8.25
//! fieldsync invoice show INV-3-00001
//! fieldsync payment record --job <job id> --amount 120.50 --method check --reference 1042
//! fieldsync photo add boiler.jpg --job <job id> --caption "After" --tag after
//! fieldsync outbox
//! fieldsync sign-out
//! ```

/// `println!` for results: a reader that goes away early (`fieldsync jobs | head -3`) ends the
/// command quietly, as other command-line tools do, instead of a panic on the broken pipe.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(error) = writeln!(std::io::stdout().lock(), $($arg)*) {
            if error.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            eprintln!("fieldsync: cannot write the output: {error}");
            std::process::exit(1);
        }
    }};
}

mod invoice;
mod records;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use chrono::{Local, NaiveDate, TimeZone as _};
use clap::{Args, Parser, Subcommand};
use fieldsync_app::net::{self, SyncLimits};
use fieldsync_app::{PaymentForm, PhotoForm, PhotoTarget, Tablet, check_device_token, queries};
use fieldsync_protocol::{
    Author, JobId, NoteKind, PaymentId, PaymentMethod, PhotoId, PhotoTag, SiteId, Timestamp, UserId,
};

/// The Fieldsync tablet core, headless.
#[derive(Debug, Parser)]
#[command(name = "fieldsync", version, about)]
struct Cli {
    /// Directory holding the tablet's files (its replica database).
    #[arg(
        long,
        env = "FIELDSYNC_DATA",
        default_value = "fieldsync-data",
        global = true
    )]
    data: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Pairs this tablet with a server, checking the device token against it. The token
    /// (printed by `fieldsync-server device add`) is read from FIELDSYNC_TOKEN or standard
    /// input, never from the command line, where other users of the machine could see it.
    Pair {
        /// The server's address, e.g. https://fieldsync.example.com or
        /// https://192.168.1.20:8443 (http:// only for a trial on a trusted network).
        url: String,
        /// The SHA-256 fingerprint of a self-signed server's certificate, as the server
        /// printed it at start; the connection is refused, and nothing sent, if the
        /// certificate does not match. Without it, the system's root certificates are trusted.
        #[arg(long)]
        fingerprint: Option<String>,
        /// The id of the technician the token was made for (the server says; when given,
        /// it must match).
        #[arg(long)]
        user_id: Option<UserId>,
        /// The name stamped on what the technician writes (the server's user name when left
        /// out).
        #[arg(long)]
        name: Option<String>,
    },
    /// Today's jobs (or another day's), in schedule order.
    Jobs {
        /// The day, as YYYY-MM-DD (local time); today when left out.
        #[arg(long)]
        date: Option<NaiveDate>,
    },
    /// Finds customers on the tablet by any part of their name, phone, address, contact or email.
    Search {
        /// What to look for.
        query: String,
    },
    /// Customers: `customer show ID`, `customer log ID --how call "..."`.
    #[command(subcommand)]
    Customer(records::CustomerCommand),
    /// Jobs: `job show ID` (the packet with its notes), `job costs` (materials, final amount).
    #[command(subcommand)]
    Job(records::JobCommand),
    /// Notes on jobs.
    #[command(subcommand)]
    Note(NoteCommand),
    /// Payments.
    #[command(subcommand)]
    Payment(PaymentCommand),
    /// Invoices.
    #[command(subcommand)]
    Invoice(invoice::InvoiceCommand),
    /// Photos.
    #[command(subcommand)]
    Photo(PhotoCommand),
    /// Connects, exchanges until caught up, reports and exits.
    Sync {
        /// Give up after this many seconds (what is unsent stays in the outbox).
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
    /// Changes not yet on the server, and those it refused with why.
    Outbox,
    /// The sync state: online, changes waiting, last sync.
    Status,
    /// Signs out: removes this tablet's data (refused while changes wait to be sent).
    SignOut,
}

#[derive(Debug, Subcommand)]
enum NoteCommand {
    /// Adds a note to a job, stamped with your name and the time.
    Add {
        /// The job.
        #[arg(long)]
        job: JobId,
        /// site, service_request, service_performed or private.
        #[arg(long, default_value = "service_performed")]
        kind: NoteKind,
        /// The note.
        text: String,
    },
}

#[derive(Debug, Subcommand)]
enum PaymentCommand {
    /// Records a payment from a customer (once, however often it is run with the same --id).
    Record(PaymentArgs),
}

#[derive(Debug, Args)]
struct PaymentArgs {
    /// The job paid for; its customer is the paying account.
    #[arg(long)]
    job: JobId,
    /// The amount, a positive decimal with at most two places (e.g. 120.50).
    #[arg(long, allow_hyphen_values = true)]
    amount: String,
    /// cash, check, card, bank_transfer or other.
    #[arg(long, default_value = "cash")]
    method: PaymentMethod,
    /// Check number or card transaction id.
    #[arg(long, default_value = "")]
    reference: String,
    /// The invoice paid: its number, or `none` to leave the payment as the customer's credit.
    /// The job's oldest invoice still owed something when left out.
    #[arg(long)]
    invoice: Option<String>,
    /// The payment's id; running the command again with the same id records nothing more.
    #[arg(long)]
    id: Option<PaymentId>,
}

#[derive(Debug, Subcommand)]
enum PhotoCommand {
    /// Adds a photo (JPEG or PNG) to a job or a job site.
    Add(PhotoArgs),
}

#[derive(Debug, Args)]
struct PhotoArgs {
    /// The picture file.
    file: PathBuf,
    /// The job the photo belongs to.
    #[arg(long, conflicts_with = "site", required_unless_present = "site")]
    job: Option<JobId>,
    /// The job site the photo belongs to.
    #[arg(long)]
    site: Option<SiteId>,
    /// Caption.
    #[arg(long, default_value = "")]
    caption: String,
    /// before, after or other.
    #[arg(long, default_value = "other")]
    tag: PhotoTag,
    /// The photo's id; running the command again with the same id adds nothing more.
    #[arg(long)]
    id: Option<PhotoId>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Quiet unless asked (`RUST_LOG=info` shows reconnects); results go to stdout, errors below.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fieldsync: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn db_path(data: &Path) -> PathBuf {
    data.join("tablet.sqlite3")
}

fn open(data: &Path) -> anyhow::Result<Tablet> {
    Tablet::open_paired(&db_path(data))
        .with_context(|| format!("cannot open the tablet in {}", data.display()))
}

fn now() -> Timestamp {
    Timestamp(chrono::Utc::now())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the network runtime")
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let data = cli.data;
    match cli.command {
        Command::Pair {
            url,
            fingerprint,
            user_id,
            name,
        } => {
            let token = read_token()?;
            pair(
                &data,
                &url,
                fingerprint.as_deref(),
                &token,
                user_id,
                name.as_deref(),
            )
        }
        Command::Jobs { date } => jobs(&data, date),
        Command::Search { query } => records::search(&data, &query),
        Command::Customer(command) => records::customer(&data, command),
        Command::Job(command) => records::job(&data, command),
        Command::Note(NoteCommand::Add { job, kind, text }) => {
            if text.trim().is_empty() {
                bail!("the note is empty");
            }
            let mut tablet = open(&data)?;
            tablet
                .add_job_note(now(), job, kind, &text)
                .context("cannot add the note")?;
            say!("Note added to job {job}; {}", waiting(&tablet)?);
            Ok(())
        }
        Command::Payment(PaymentCommand::Record(args)) => record_payment(&data, args),
        Command::Invoice(command) => invoice::run(&data, command),
        Command::Photo(PhotoCommand::Add(args)) => add_photo(&data, args),
        Command::Sync { timeout } => sync(&data, timeout),
        Command::Outbox => outbox(&data),
        Command::SignOut => {
            Tablet::sign_out(&db_path(&data)).context("cannot sign out")?;
            say!("Signed out; {} holds no tablet data.", data.display());
            Ok(())
        }
        Command::Status => {
            let tablet = open(&data)?;
            say!("{}", tablet.status()?.summary());
            Ok(())
        }
    }
}

/// "1 change", "3 changes".
fn count(n: usize, what: &str) -> String {
    match n {
        1 => format!("1 {what}"),
        n => format!("{n} {what}s"),
    }
}

fn waiting(tablet: &Tablet) -> anyhow::Result<String> {
    Ok(match tablet.pending()? {
        1 => "1 change waits to be sent".to_string(),
        n => format!("{n} changes wait to be sent"),
    })
}

/// The device token to pair with: `FIELDSYNC_TOKEN`, or the first line of standard input
/// (asked for when it is a terminal).
fn read_token() -> anyhow::Result<String> {
    use std::io::{BufRead as _, IsTerminal as _, Write as _};
    if let Ok(token) = std::env::var("FIELDSYNC_TOKEN")
        && !token.trim().is_empty()
    {
        return Ok(token.trim().to_string());
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Device token (from `fieldsync-server device add`): ");
        std::io::stderr().flush().ok();
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("cannot read the device token from standard input")?;
    let token = line.trim();
    if token.is_empty() {
        bail!("no device token: give it on standard input or in FIELDSYNC_TOKEN");
    }
    Ok(token.to_string())
}

fn pair(
    data: &Path,
    url: &str,
    fingerprint: Option<&str>,
    token: &str,
    user_id: Option<UserId>,
    name: Option<&str>,
) -> anyhow::Result<()> {
    let tls_fingerprint = net::check_server(url, fingerprint)
        .map_err(anyhow::Error::msg)
        .context("cannot pair")?;
    // Check against the server first, so that a wrong token or address leaves nothing behind;
    // the server says whose token it is.
    check_device_token(token.trim())?;
    let identity = runtime()?
        .block_on(net::check_pairing(url, token, tls_fingerprint.as_deref()))
        .context("cannot pair")?;
    if let Some(given) = user_id
        && given != identity.user
    {
        anyhow::bail!(
            "cannot pair: this token belongs to {} ({}), not to user {given}",
            identity.name,
            identity.user
        );
    }
    let author = Author {
        user: identity.user,
        name: name
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .unwrap_or(&identity.name)
            .to_string(),
    };
    std::fs::create_dir_all(data)
        .with_context(|| format!("cannot create the data directory {}", data.display()))?;
    let mut tablet = Tablet::pair_pinned(
        &db_path(data),
        url,
        tls_fingerprint.as_deref(),
        token,
        author,
    )?;
    identity.remember(&mut tablet)?;
    say!(
        "Paired with {} as {}; run `fieldsync sync` to download your jobs.",
        url.trim(),
        tablet.author().name
    );
    Ok(())
}

fn jobs(data: &Path, date: Option<NaiveDate>) -> anyhow::Result<()> {
    let tablet = open(data)?;
    let day = date.unwrap_or_else(|| Local::now().date_naive());
    let start_of = |day: NaiveDate| -> anyhow::Result<Timestamp> {
        let midnight = day.and_hms_opt(0, 0, 0).context("midnight exists")?;
        let local = Local
            .from_local_datetime(&midnight)
            .earliest()
            .with_context(|| format!("{day} has no midnight in the local time zone"))?;
        Ok(Timestamp(local.with_timezone(&chrono::Utc)))
    };
    let next = day.succ_opt().context("the day after is out of range")?;
    let jobs = queries::day_jobs(
        tablet.store(),
        tablet.author().user,
        start_of(day)?,
        start_of(next)?,
    )?;
    if jobs.is_empty() {
        say!("No jobs on {day}.");
    }
    for job in jobs {
        let start = job
            .job
            .scheduled_start
            .map(|t| t.0.with_timezone(&Local).format("%H:%M").to_string())
            .unwrap_or_default();
        let hold = if job.credit_hold { " CREDIT HOLD" } else { "" };
        let ready = if job.ready_offline {
            ""
        } else {
            " (not ready offline)"
        };
        say!(
            "{start}  {:<10} {}  {} @ {}{hold}{ready}  [{}]",
            job.job.status.to_string(),
            job.job.title,
            job.account_name,
            job.site_name,
            job.job.id
        );
    }
    Ok(())
}

fn record_payment(data: &Path, args: PaymentArgs) -> anyhow::Result<()> {
    // The amount is checked before anything else, so a typo never needs the tablet.
    let amount = fieldsync_protocol::validate::parse_payment_amount(&args.amount)
        .context("cannot record the payment")?;
    let mut tablet = open(data)?;
    let packet = queries::job_packet(tablet.store(), args.job)
        .map_err(|e| anyhow::anyhow!("cannot record the payment: {e}"))?;
    let invoice = match args.invoice.as_deref().map(str::trim) {
        None => packet.open_invoice(),
        Some("none") => None,
        Some(number) => Some(
            packet
                .invoices
                .iter()
                .map(|row| &row.invoice)
                .find(|i| i.number == number || i.id.to_string() == number)
                .with_context(|| {
                    format!("cannot record the payment: invoice {number} is not one of the job's")
                })?,
        ),
    };
    let form = PaymentForm {
        id: args.id.unwrap_or_default(),
        account: packet.account.id,
        job: Some(args.job),
        amount: args.amount.clone(),
        method: args.method,
        reference: args.reference,
        invoice: invoice.map(|i| i.id),
    };
    let applied = match invoice {
        Some(i) => format!(" against invoice {}", i.number),
        None => " as account credit".to_string(),
    };
    tablet
        .record_payment(now(), &form)
        .context("cannot record the payment")?;
    say!(
        "Payment {} of {amount} recorded for {}{applied}; {}",
        form.id,
        packet.job.title,
        waiting(&tablet)?
    );
    Ok(())
}

fn add_photo(data: &Path, args: PhotoArgs) -> anyhow::Result<()> {
    let target = match (args.job, args.site) {
        (Some(job), _) => PhotoTarget::Job(job),
        (None, Some(site)) => PhotoTarget::Site(site),
        (None, None) => bail!("say which job (--job) or site (--site) the photo is of"),
    };
    let picture = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let mut tablet = open(data)?;
    let form = PhotoForm {
        id: args.id.unwrap_or_default(),
        target,
        caption: args.caption,
        tag: args.tag,
    };
    let (photo, _) = tablet
        .add_photo(now(), &form, &picture)
        .with_context(|| format!("cannot add {} as a photo", args.file.display()))?;
    say!(
        "Photo {} added ({}x{}, {} KiB, thumbnail {} KiB); {}",
        photo.id,
        photo.width,
        photo.height,
        photo.full_size.div_ceil(1024),
        photo.thumb_size.div_ceil(1024),
        waiting(&tablet)?
    );
    Ok(())
}

fn sync(data: &Path, timeout: u64) -> anyhow::Result<()> {
    let tablet = net::shared(open(data)?);
    let limits = SyncLimits {
        timeout: Duration::from_secs(timeout),
        ..SyncLimits::default()
    };
    let result = runtime()?.block_on(net::sync_until_caught_up(&tablet, limits));
    let pending = net::lock(&tablet).pending()?;
    let report = result
        .with_context(|| format!("sync did not finish; {pending} changes wait in the outbox"))?;
    let over = match report.connections {
        0 | 1 => String::new(),
        n => format!(" (over {n} connections)"),
    };
    let removed = match report.removed {
        0 => String::new(),
        n => format!(
            ", {} removed (no longer assigned to you)",
            count(n, "record")
        ),
    };
    say!(
        "Synced{over}: {} sent, {} updated from the server{removed}.",
        count(report.sent, "change"),
        count(report.received, "record")
    );
    if report.repairs > 0 {
        say!(
            "Repaired: the server did not have this tablet's history (restored from a backup, or replaced); every record was compared and each side got what it lacked."
        );
    }
    if report.differs {
        say!(
            "Some records still differ from the server's: it refused changes this tablet holds (they stay on this tablet and in the server's quarantine for the office to review)."
        );
    }
    for reason in &report.refused {
        say!("Refused by the server: {reason}");
    }
    for (hash, why) in &report.status.transfer_errors {
        say!("Photo image {hash} not transferred (retried next sync): {why}");
    }
    say!("{}", report.status.summary());
    Ok(())
}

fn outbox(data: &Path) -> anyhow::Result<()> {
    let tablet = open(data)?;
    let lines = queries::outbox(tablet.store())?;
    if lines.is_empty() {
        say!("The outbox is empty: everything is on the server.");
    }
    for line in lines {
        let made = line.made_at.map(|t| t.to_string()).unwrap_or_default();
        match line.refused {
            None => say!("waiting  {made}  {}", line.what),
            Some(reason) => say!("REFUSED  {made}  {}: {reason}", line.what),
        }
    }
    let uploads = tablet.uploads_pending()?;
    if uploads > 0 {
        say!("{uploads} photo images wait to be uploaded.");
    }
    Ok(())
}
