//! `fieldsync search`, `fieldsync customer show|log|field|new` and `fieldsync job show|costs`: reading the
//! records on the tablet (offline) and recording what a job used.

use std::path::Path;

use anyhow::Context as _;
use chrono::Local;
use clap::Subcommand;
use fieldsync_app::queries;
use fieldsync_protocol::{AccountId, ContactChannel, JobId, Note, Timestamp, validate};

use super::{now, open, waiting};

/// Jobs.
#[derive(Debug, Subcommand)]
pub(crate) enum JobCommand {
    /// The job's packet: alerts, customer, site and access, contacts, services, materials,
    /// notes (the site's too) and invoices.
    Show {
        /// The job.
        job: JobId,
    },
    /// Records what the job used and what it came to: materials (one argument each, such as
    /// "2 x Gasket") replacing the list, and the final amount.
    Costs {
        /// The job.
        #[arg(long)]
        job: JobId,
        /// The final amount, such as 212.50 (left as it is when not given).
        #[arg(long)]
        final_amount: Option<String>,
        /// Materials used, each "quantity x item" or just the item.
        materials: Vec<String>,
    },
}

/// Customers.
#[derive(Debug, Subcommand)]
pub(crate) enum CustomerCommand {
    /// The customer's page: alerts, details, sites, contacts, contact log, jobs, invoices and
    /// balance.
    Show {
        /// The customer (an account id, as `search` prints).
        account: AccountId,
    },
    /// Logs a call, email or visit with the customer.
    Log {
        /// The customer.
        account: AccountId,
        /// call, email, visit, text or other.
        #[arg(long, default_value = "call")]
        how: ContactChannel,
        /// What it was about.
        summary: String,
    },
    /// Adds a customer met in the field, with their site (at the address given, also the
    /// billing address) and a job there assigned to you, on site now; prints the ids.
    New {
        /// The customer's name.
        #[arg(long)]
        name: String,
        /// A business (else a person).
        #[arg(long)]
        business: bool,
        /// Phone.
        #[arg(long, default_value = "")]
        phone: String,
        /// Email.
        #[arg(long, default_value = "")]
        email: String,
        /// The site's street.
        #[arg(long)]
        street: String,
        /// City.
        #[arg(long)]
        city: String,
        /// State or region.
        #[arg(long, default_value = "")]
        region: String,
        /// Postal code.
        #[arg(long, default_value = "")]
        postal_code: String,
        /// What the job is.
        #[arg(long)]
        job: String,
    },
    /// Sets one of the customer's custom fields (as the company defines them; `customer
    /// show` lists them with their types). An empty value clears it.
    Field {
        /// The customer.
        account: AccountId,
        /// The field's name, as shown.
        name: String,
        /// The value: text, a number, a date as 2027-01-31, yes or no, or one of the choices.
        value: String,
    },
}

/// Finds customers on the tablet by any part of their name, phone, address, contact or email.
pub(crate) fn search(data: &Path, query: &str) -> anyhow::Result<()> {
    let tablet = open(data)?;
    let hits = queries::search(tablet.store(), query, 50)?;
    if hits.is_empty() {
        say!("Nothing on this tablet matches {query:?}.");
    }
    for hit in hits {
        say!("{}  [{}]", hit.summary.name, hit.summary.id);
        for contact in hit.contacts {
            say!("    {contact}");
        }
    }
    Ok(())
}

fn stamp(at: Timestamp) -> String {
    at.0.with_timezone(&Local)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

fn invoice_line(row: &queries::InvoiceRow) -> String {
    format!(
        "Invoice:   {} {} {}",
        row.invoice.number,
        row.invoice.total().dollars(),
        row.standing
            .as_ref()
            .map(|s| s.status.label())
            .unwrap_or_default()
    )
}

fn note_line(note: &Note) -> String {
    format!(
        "  {} · {} · {}: {}",
        stamp(note.created_at),
        note.kind,
        note.author_name,
        note.text
    )
}

pub(crate) fn job(data: &Path, command: JobCommand) -> anyhow::Result<()> {
    match command {
        JobCommand::Show { job } => show_job(data, job),
        JobCommand::Costs {
            job,
            final_amount,
            materials,
        } => {
            let mut tablet = open(data)?;
            let items = validate::parse_materials(&materials.join("\n"))?;
            let current = tablet
                .store()
                .job(job)?
                .with_context(|| format!("job {job} is not on this tablet"))?;
            let amount = match final_amount.as_deref().map(str::trim) {
                None => current.final_amount,
                Some("") => None,
                Some(text) => Some(validate::parse_payment_amount(text).with_context(|| {
                    format!("the final amount {text:?} is not an amount such as 212.50")
                })?),
            };
            tablet
                .record_job_costs(now(), job, items, amount)
                .context("cannot record the materials")?;
            say!("Materials recorded on job {job}; {}", waiting(&tablet)?);
            Ok(())
        }
    }
}

fn show_job(data: &Path, job: JobId) -> anyhow::Result<()> {
    let tablet = open(data)?;
    let packet = queries::job_packet(tablet.store(), job)?;
    let j = &packet.job;
    for alert in &packet.alerts {
        say!("ALERT: {}", alert.text);
    }
    say!("{}  ({})", j.title, j.status.label());
    if let (Some(start), Some(end)) = (j.scheduled_start, j.scheduled_end) {
        say!(
            "When:      {}–{}",
            stamp(start),
            end.0.with_timezone(&Local).format("%H:%M")
        );
    }
    let account = &packet.account;
    say!(
        "Customer:  {} ({}){}",
        account.name,
        account.number,
        if account.credit_hold {
            "  CREDIT HOLD"
        } else {
            ""
        }
    );
    say!("Balance:   {}", packet.ledger.balance.dollars());
    match &packet.site {
        Some(site) => {
            say!("Site:      {}, {}", site.name, site.address);
            if !site.access_instructions.trim().is_empty() {
                say!("Access:    {}", site.access_instructions.trim());
            }
        }
        None => say!("Site:      (not on this tablet)"),
    }
    for contact in &packet.contacts {
        let mut line = format!("Contact:   {}", contact.name);
        if !contact.role.is_empty() {
            line.push_str(&format!(" ({})", contact.role));
        }
        for way in [&contact.phone, &contact.email].into_iter().flatten() {
            line.push_str(&format!("  {way}"));
        }
        say!("{line}");
    }
    if !j.requested_services.is_empty() {
        say!("Services:  {}", j.requested_services.join("; "));
    }
    if let Some(estimate) = j.estimate {
        say!("Estimate:  {}", estimate.dollars());
    }
    if !j.inventory.is_empty() {
        say!("Materials:");
        for line in validate::format_materials(&j.inventory).lines() {
            say!("  {line}");
        }
    }
    if let Some(amount) = j.final_amount {
        say!("Final:     {}", amount.dollars());
    }
    if !packet.site_notes.is_empty() {
        say!("Site notes:");
        for note in &packet.site_notes {
            say!("{}", note_line(note));
        }
    }
    say!("Notes:");
    if packet.notes.is_empty() {
        say!("  (none)");
    }
    for note in &packet.notes {
        say!("{}", note_line(note));
    }
    for row in &packet.invoices {
        say!("{}", invoice_line(row));
    }
    Ok(())
}

pub(crate) fn customer(data: &Path, command: CustomerCommand) -> anyhow::Result<()> {
    let account = match command {
        CustomerCommand::Show { account } => account,
        CustomerCommand::Log {
            account,
            how,
            summary,
        } => {
            if summary.trim().is_empty() {
                anyhow::bail!("say what the contact was about");
            }
            let mut tablet = open(data)?;
            tablet
                .log_contact(now(), account, how, None, &summary)
                .context("cannot log the contact")?;
            say!("{} logged; {}", how.label(), waiting(&tablet)?);
            return Ok(());
        }
        CustomerCommand::New {
            name,
            business,
            phone,
            email,
            street,
            city,
            region,
            postal_code,
            job,
        } => {
            let mut form = fieldsync_app::NewCustomerForm::new();
            form.name = name;
            form.business = business;
            form.phone = phone;
            form.email = email;
            form.street = street;
            form.city = city;
            form.region = region;
            form.postal_code = postal_code;
            form.job_title = job;
            let mut tablet = open(data)?;
            tablet
                .create_customer(now(), &form)
                .context("cannot add the customer")?;
            say!("customer {}", form.account);
            say!("job {}", form.job);
            say!("{} added; {}", form.name.trim(), waiting(&tablet)?);
            return Ok(());
        }
        CustomerCommand::Field {
            account,
            name,
            value,
        } => {
            let mut tablet = open(data)?;
            tablet
                .set_custom_field(now(), account, &name, &value)
                .with_context(|| format!("cannot set {name}"))?;
            say!("{name} saved; {}", waiting(&tablet)?);
            return Ok(());
        }
    };
    let tablet = open(data)?;
    let page = queries::customer_page(tablet.store(), account)?;
    let a = &page.account;
    for alert in &page.alerts {
        say!("ALERT: {}", alert.text);
    }
    say!("{} ({})", a.name, a.number);
    if let Some(phone) = &a.phone {
        say!("Phone:     {phone}");
    }
    if let Some(email) = &a.email {
        say!("Email:     {email}");
    }
    say!("Billing:   {}", a.billing_address);
    say!(
        "Balance:   {}  (unapplied credit {})",
        page.ledger.balance.dollars(),
        page.ledger.unapplied_credit.dollars()
    );
    for field in &page.fields {
        let kind = match &field.def {
            Some(def) if def.choices.is_empty() => def.kind.label().to_lowercase(),
            Some(def) => format!("one of {}", def.choices.join(", ")),
            None => "no longer defined".into(),
        };
        say!("Field:     {}: {}  ({kind})", field.name, field.shown());
    }
    for site in &page.sites {
        say!("Site:      {}, {}", site.name, site.address);
    }
    for contact in &page.contacts {
        say!(
            "Contact:   {} {}",
            contact.name,
            contact.phone.as_deref().unwrap_or_default()
        );
    }
    for entry in &page.contact_log {
        say!(
            "Contact:   {}  {} by {}: {}",
            stamp(entry.at),
            entry.channel.label(),
            entry.user_name,
            entry.summary
        );
    }
    for job in &page.jobs {
        say!(
            "Job:       {}  {}  ({})  [{}]",
            job.scheduled_start.map(stamp).unwrap_or_default(),
            job.title,
            job.status.label(),
            job.id
        );
    }
    for row in &page.invoices {
        say!("{}", invoice_line(row));
    }
    Ok(())
}
