//! `fieldsync invoice create` and `fieldsync invoice show`: invoices issued on the tablet,
//! offline, and read back as the customer sees them.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use fieldsync_app::{InvoiceForm, InvoiceLineForm, queries};
use fieldsync_protocol::{InvoiceId, JobId, Record};

use super::{now, open, waiting};

#[derive(Debug, Subcommand)]
pub(crate) enum InvoiceCommand {
    /// Issues an invoice for a job, numbered by this tablet (no network needed).
    Create(CreateArgs),
    /// Shows an invoice: lines, tax, total, payments, balance due and due date.
    Show {
        /// The invoice's number (INV-3-00012) or id.
        number: String,
        /// Also write the invoice's PDF to this file.
        #[arg(long)]
        pdf: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// The job invoiced.
    #[arg(long)]
    job: JobId,
    /// A line, as "description; quantity; unit price" (repeat for more lines). Without any,
    /// the job's services and materials are the lines, and every price must be known.
    #[arg(long = "line")]
    lines: Vec<String>,
    /// Tax rate in percent, such as 8.25.
    #[arg(long, default_value = "")]
    tax: String,
    /// The invoice's id; running the command again with the same id issues nothing more.
    #[arg(long)]
    id: Option<InvoiceId>,
}

pub(crate) fn run(data: &Path, command: InvoiceCommand) -> anyhow::Result<()> {
    match command {
        InvoiceCommand::Create(args) => create(data, args),
        InvoiceCommand::Show { number, pdf } => show(data, &number, pdf.as_deref()),
    }
}

/// "description; quantity; unit price": the description may hold semicolons itself.
fn line(text: &str) -> anyhow::Result<InvoiceLineForm> {
    let mut parts = text.rsplitn(3, ';').map(str::trim);
    match (parts.next(), parts.next(), parts.next()) {
        (Some(unit_price), Some(quantity), Some(description)) => Ok(InvoiceLineForm {
            description: description.to_string(),
            quantity: quantity.to_string(),
            unit_price: unit_price.to_string(),
        }),
        _ => {
            bail!("invoice line {text:?} must be written as \"description; quantity; unit price\"")
        }
    }
}

fn create(data: &Path, args: CreateArgs) -> anyhow::Result<()> {
    let lines = args
        .lines
        .iter()
        .map(|l| line(l))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut tablet = open(data)?;
    let Some(Record::Job(job)) = tablet.store().record(args.job.into())? else {
        bail!(
            "cannot issue the invoice: job {} is not on this tablet",
            args.job
        );
    };
    let mut form = InvoiceForm::for_job(&job.record);
    if let Some(id) = args.id {
        form.id = id;
    }
    if !lines.is_empty() {
        form.lines = lines;
    }
    form.tax_rate = args.tax;
    if let Some(unpriced) = form.lines.iter().find(|l| l.unit_price.trim().is_empty()) {
        bail!(
            "cannot issue the invoice: {:?} has no price; give the lines with --line \"description; quantity; unit price\"",
            unpriced.description
        );
    }
    let (invoice, _) = tablet
        .issue_invoice(now(), &form)
        .context("cannot issue the invoice")?;
    say!(
        "Invoice {} issued for {}: total {}; {}",
        invoice.number,
        job.record.title,
        invoice.total().grouped(),
        waiting(&tablet)?
    );
    Ok(())
}

fn show(data: &Path, number: &str, pdf: Option<&Path>) -> anyhow::Result<()> {
    let tablet = open(data)?;
    let view = queries::invoice_view(tablet.store(), number)?;
    let invoice = &view.invoice;
    say!(
        "{}  {}  {} · {}",
        invoice.number,
        view.standing.status.label(),
        view.account.name,
        view.job.title
    );
    say!(
        "Date {} · due {} (net {} days)",
        invoice.date.0,
        view.due,
        view.account.terms_net_days
    );
    for line in &invoice.lines {
        say!(
            "  {:<40} {:>8} × {:>10} {:>12}",
            line.description,
            line.quantity.to_string(),
            line.unit_price.grouped(),
            line.amount().grouped()
        );
    }
    say!(
        "Subtotal {} · tax {}% {} · total {}",
        invoice.subtotal().grouped(),
        invoice.tax_rate,
        invoice.tax().grouped(),
        invoice.total().grouped()
    );
    for (payment, applied) in &view.payments {
        say!(
            "  paid {} by {} {} on {}",
            applied.grouped(),
            payment.method,
            payment.reference,
            payment.received_at.0.date_naive()
        );
    }
    say!(
        "Paid {} · balance due {}",
        view.standing.paid.grouped(),
        (view.standing.total - view.standing.paid).grouped()
    );
    if let Some(voided) = &invoice.voided {
        say!("VOID: {}", voided.reason);
    }
    if let Some(path) = pdf {
        let bytes = fieldsync_app::documents::invoice_pdf(tablet.store(), invoice.id)?;
        std::fs::write(path, bytes)
            .with_context(|| format!("cannot write the PDF to {}", path.display()))?;
        say!("PDF written to {}", path.display());
    }
    Ok(())
}
