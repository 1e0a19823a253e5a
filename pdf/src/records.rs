//! Sheets from records: what an invoice and a statement say, in dollars and dates as people
//! read them.

use chrono::NaiveDate;
use fieldsync_protocol::views::InvoiceStanding;
use fieldsync_protocol::{
    Account, AgingBucket, Company, Invoice, Job, JobSite, Ledger, Money, Payment, PaymentMethod,
};

use crate::layout::{
    InvoiceSheet, Party, PaymentLine, SheetLine, Signature, StatementLine, StatementSheet,
    invoice_pdf, statement_pdf,
};

/// The signature as the PDF prints it: the picture (a PNG blob, when the replica has it;
/// grey, on white) with the signer's name and the time.
///
/// The time it was signed is printed in the company's time zone, with the zone's abbreviation.
pub fn signature(
    signed: &fieldsync_protocol::Signature,
    png: Option<&[u8]>,
    company: &Company,
) -> Signature {
    let picture = png
        .and_then(|bytes| image::load_from_memory_with_format(bytes, image::ImageFormat::Png).ok())
        .map(|picture| {
            // Transparent parts print as white paper.
            let mut white = image::RgbaImage::from_pixel(
                picture.width(),
                picture.height(),
                image::Rgba([255, 255, 255, 255]),
            );
            image::imageops::overlay(&mut white, &picture.to_rgba8(), 0, 0);
            image::DynamicImage::ImageRgba8(white).to_luma8()
        });
    let (width, height, gray) = match picture {
        Some(gray) => (gray.width(), gray.height(), gray.into_raw()),
        None => (0, 0, Vec::new()),
    };
    Signature {
        signer: signed.signer.clone(),
        signed_at: signed
            .signed_at
            .0
            .with_timezone(&zone(company))
            .format("%b %-d, %Y %H:%M %Z")
            .to_string(),
        width,
        height,
        gray,
    }
}

/// Everything an invoice PDF prints.
#[derive(Clone, Debug)]
pub struct InvoiceDocument<'a> {
    /// The company invoicing.
    pub company: &'a Company,
    /// The customer.
    pub account: &'a Account,
    /// The job's site, if known.
    pub site: Option<&'a JobSite>,
    /// The job invoiced.
    pub job: &'a Job,
    /// The invoice.
    pub invoice: &'a Invoice,
    /// Its standing (status, paid).
    pub standing: &'a InvoiceStanding,
    /// The payments applied to it, each with the part applied.
    pub payments: &'a [(Payment, Money)],
    /// When it is due.
    pub due: NaiveDate,
    /// The customer's signature, when signed.
    pub signature: Option<Signature>,
}

/// A file name for a PDF of `name` (an invoice number, a customer's name): letters, digits
/// and `-` kept, anything else `_`, so that no name can reach outside a folder or break a
/// header.
pub fn file_name(name: &str) -> String {
    let stem: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{stem}.pdf")
}

/// The PDF of an invoice.
pub fn invoice(doc: &InvoiceDocument<'_>) -> Vec<u8> {
    invoice_pdf(&invoice_sheet(doc))
}

/// The company's time zone (UTC when it has none, or one this build does not know).
fn zone(company: &Company) -> chrono_tz::Tz {
    company.time_zone.parse().unwrap_or(chrono_tz::Tz::UTC)
}

/// The company's date at `at`.
fn day_of(company: &Company, at: fieldsync_protocol::Timestamp) -> NaiveDate {
    at.0.with_timezone(&zone(company)).date_naive()
}

fn date(day: NaiveDate) -> String {
    day.format("%b %-d, %Y").to_string()
}

fn method(method: PaymentMethod) -> &'static str {
    method.label()
}

fn customer(account: &Account) -> Party {
    let mut lines = account.billing_address.lines();
    lines.extend(account.phone.clone());
    lines.extend(account.email.clone());
    Party {
        name: account.name.clone(),
        lines,
    }
}

fn invoice_sheet(doc: &InvoiceDocument<'_>) -> InvoiceSheet {
    let invoice = doc.invoice;
    let status = match &invoice.voided {
        Some(_) => "Void".to_string(),
        None => doc.standing.status.label().to_string(),
    };
    InvoiceSheet {
        company: doc.company.clone(),
        number: invoice.number.clone(),
        date: date(invoice.date.0),
        due: date(doc.due),
        status,
        customer: customer(doc.account),
        site: doc.site.map(|site| Party {
            name: site.name.clone(),
            lines: site.address.lines(),
        }),
        job: doc.job.title.clone(),
        lines: invoice
            .lines
            .iter()
            .map(|line| SheetLine {
                description: line.description.clone(),
                quantity: line.quantity.to_string(),
                unit_price: line.unit_price.dollars(),
                amount: line.amount().dollars(),
            })
            .collect(),
        subtotal: invoice.subtotal().dollars(),
        tax_label: format!("Tax {}%", invoice.tax_rate),
        tax: invoice.tax().dollars(),
        total: invoice.total().dollars(),
        payments: doc
            .payments
            .iter()
            .map(|(payment, applied)| PaymentLine {
                date: date(day_of(doc.company, payment.received_at)),
                method: method(payment.method).to_string(),
                reference: payment.reference.clone(),
                amount: applied.dollars(),
            })
            .collect(),
        paid: doc.standing.paid.dollars(),
        balance_due: (doc.standing.total - doc.standing.paid).dollars(),
        signature: doc.signature.clone(),
        void_reason: invoice.voided.as_ref().map(|v| v.reason.clone()),
    }
}

/// Everything a customer statement prints: the account's activity over a period.
#[derive(Clone, Debug)]
pub struct StatementDocument<'a> {
    /// The company.
    pub company: &'a Company,
    /// The customer.
    pub account: &'a Account,
    /// All the customer's invoices.
    pub invoices: &'a [Invoice],
    /// All the customer's payments.
    pub payments: &'a [Payment],
    /// The customer's ledger (computed from those).
    pub ledger: &'a Ledger,
    /// First day of the period.
    pub from: NaiveDate,
    /// Last day of the period.
    pub to: NaiveDate,
    /// The day the statement is issued (for the open invoices' aging).
    pub today: NaiveDate,
}

/// The PDF of a customer statement.
pub fn statement(doc: &StatementDocument<'_>) -> Vec<u8> {
    statement_pdf(&statement_sheet(doc))
}

/// One dated movement of the account: an invoice charged or a payment received.
struct Movement {
    day: NaiveDate,
    description: String,
    charge: Money,
    payment: Money,
}

fn statement_sheet(doc: &StatementDocument<'_>) -> StatementSheet {
    let mut movements: Vec<Movement> = doc
        .invoices
        .iter()
        .filter(|i| !i.is_void())
        .map(|i| Movement {
            day: i.date.0,
            description: format!("Invoice {}", i.number),
            charge: i.total(),
            payment: Money::ZERO,
        })
        .chain(doc.payments.iter().map(|p| Movement {
            day: day_of(doc.company, p.received_at),
            description: match p.reference.trim() {
                "" => format!("Payment, {}", method(p.method).to_lowercase()),
                reference => format!("Payment, {} {reference}", method(p.method).to_lowercase()),
            },
            charge: Money::ZERO,
            payment: p.amount,
        }))
        .collect();
    movements.sort_by(|a, b| a.day.cmp(&b.day).then(b.charge.cmp(&a.charge)));
    let opening: Money = movements
        .iter()
        .filter(|m| m.day < doc.from)
        .map(|m| m.charge - m.payment)
        .sum();
    let mut balance = opening;
    let lines = movements
        .iter()
        .filter(|m| m.day >= doc.from && m.day <= doc.to)
        .map(|m| {
            balance = balance + m.charge - m.payment;
            let shown = |amount: Money| {
                if amount == Money::ZERO {
                    String::new()
                } else {
                    amount.dollars()
                }
            };
            StatementLine {
                date: date(m.day),
                description: m.description.clone(),
                charge: shown(m.charge),
                payment: shown(m.payment),
                balance: balance.dollars(),
            }
        })
        .collect();
    let mut aging: Vec<Money> = vec![Money::ZERO; AgingBucket::ALL.len()];
    let net_days = doc.account.terms_net_days;
    let open_invoices = doc
        .invoices
        .iter()
        .filter_map(|i| {
            let owed = doc.ledger.owed_on(i.id);
            (owed > Money::ZERO).then_some((i, owed))
        })
        .map(|(i, owed)| {
            let due = fieldsync_protocol::due_date(i.date.0, net_days);
            let bucket = AgingBucket::of(due, doc.today);
            if let Some(slot) = AgingBucket::ALL.iter().position(|b| *b == bucket) {
                aging[slot] = aging[slot] + owed;
            }
            (i.number.clone(), date(i.date.0), date(due), owed.dollars())
        })
        .collect();
    StatementSheet {
        company: doc.company.clone(),
        customer: customer(doc.account),
        period: format!("{} – {}", date(doc.from), date(doc.to)),
        issued: date(doc.today),
        opening_balance: opening.dollars(),
        lines,
        closing_balance: balance.dollars(),
        open_invoices,
        aging: AgingBucket::ALL
            .iter()
            .zip(aging)
            .map(|(bucket, amount)| {
                let label = match bucket {
                    AgingBucket::Current => "Current".to_string(),
                    AgingBucket::Over90 => "Over 90 days".to_string(),
                    other => format!("{} days", other.label()),
                };
                (label, amount.dollars())
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use fieldsync_protocol::{
        AccountId, AccountStatus, AccountType, Address, Day, InvoiceId, InvoiceLine, JobId,
        JobStatus, PaymentId, SiteId, Timestamp, UserId,
    };

    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 10, d).unwrap()
    }

    fn account() -> Account {
        Account {
            id: AccountId::new(),
            name: "Harbor View Café".into(),
            party: fieldsync_protocol::Party::Business,
            account_type: AccountType::Customer,
            status: AccountStatus::Active,
            number: "C-1001".into(),
            phone: Some("(217) 555-0199".into()),
            email: None,
            website: None,
            business_type: None,
            terms_net_days: 10,
            credit_hold: false,
            payment_method: None,
            billing_address: Address {
                line1: "1 Harbor Way".into(),
                line2: None,
                city: "Springfield".into(),
                region: "IL".into(),
                postal_code: "62701".into(),
                country: "US".into(),
            },
            shipping_address: None,
            rep: None,
            comments: String::new(),
            custom_fields: Default::default(),
            merged_into: None,
            deleted_at: None,
            created_at: Timestamp::from_millis(0).unwrap(),
        }
    }

    fn invoice(job: JobId, number: &str, on: NaiveDate, price: &str) -> Invoice {
        Invoice {
            id: InvoiceId::new(),
            job,
            number: number.into(),
            date: Day(on),
            lines: vec![InvoiceLine {
                description: "Boiler service".into(),
                quantity: "1".parse().unwrap(),
                unit_price: price.parse().unwrap(),
            }],
            tax_rate: "0".parse().unwrap(),
            voided: None,
            signature: None,
            created_by: UserId::new(),
            created_at: Timestamp::from_millis(0).unwrap(),
        }
    }

    fn payment(
        account: AccountId,
        on: NaiveDate,
        amount: &str,
        invoice: Option<InvoiceId>,
    ) -> Payment {
        Payment {
            id: PaymentId::new(),
            account,
            job: None,
            invoice,
            amount: amount.parse().unwrap(),
            method: PaymentMethod::Check,
            reference: "1042".into(),
            received_at: Timestamp(on.and_hms_opt(12, 0, 0).unwrap().and_utc()),
            recorded_by: UserId::new(),
            recorded_by_name: "Dana".into(),
            credit_applied: Vec::new(),
        }
    }

    fn text(pdf: &[u8]) -> String {
        let doc = lopdf::Document::load_mem(pdf).unwrap();
        let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
        doc.extract_text(&pages).unwrap()
    }

    #[test]
    fn a_statement_carries_the_balance_through_the_period_and_ages_what_is_open() {
        let customer = account();
        let job = JobId::new();
        let before = invoice(job, "INV-0-00001", day(1), "100.00");
        let during = invoice(job, "INV-3-00002", day(12), "250.00");
        let invoices = [before.clone(), during.clone()];
        let payments = [
            payment(customer.id, day(3), "60.00", Some(before.id)),
            payment(customer.id, day(20), "100.00", Some(during.id)),
        ];
        let ledger = Ledger::compute(&invoices, &payments);
        let company = Company {
            name: "Northwind Heating & Plumbing".into(),
            address_lines: vec!["410 Foundry Street".into()],
            phone: "(217) 555-0140".into(),
            time_zone: "America/Chicago".into(),
        };
        let doc = StatementDocument {
            company: &company,
            account: &customer,
            invoices: &invoices,
            payments: &payments,
            ledger: &ledger,
            from: day(10),
            to: day(31),
            today: day(31),
        };
        let sheet = statement_sheet(&doc);
        // Before the period: 100 billed, 60 paid.
        assert_eq!(sheet.opening_balance, "$40.00");
        let rows: Vec<(&str, &str, &str)> = sheet
            .lines
            .iter()
            .map(|l| {
                (
                    l.description.as_str(),
                    l.charge.as_str(),
                    l.balance.as_str(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("Invoice INV-3-00002", "$250.00", "$290.00"),
                ("Payment, check 1042", "", "$190.00"),
            ]
        );
        assert_eq!(sheet.closing_balance, "$190.00");
        // Open on Oct 31: INV-0-00001 (40, due Oct 11: 20 days over) and INV-3-00002 (150,
        // due Oct 22: 9 days over).
        assert_eq!(sheet.open_invoices.len(), 2);
        assert_eq!(
            sheet.aging[1],
            ("1-30 days".to_string(), "$190.00".to_string())
        );
        assert_eq!(sheet.aging[0].1, "$0.00");
        let printed = text(&statement(&doc));
        assert!(
            printed.contains("$190.00") && printed.contains("Harbor View Caf"),
            "{printed}"
        );
    }

    #[test]
    fn an_invoice_prints_its_lines_payments_and_what_is_still_due() {
        let customer = account();
        let work = Job {
            id: JobId::new(),
            account: customer.id,
            site: SiteId::new(),
            title: "Annual boiler service".into(),
            requested_services: vec![],
            pickup_address: None,
            delivery_address: None,
            inventory: vec![],
            estimate: None,
            final_amount: None,
            status: JobStatus::Completed,
            technicians: Default::default(),
            scheduled_start: None,
            scheduled_end: None,
            created_at: Timestamp::from_millis(0).unwrap(),
            contact: None,
        };
        let bill = invoice(work.id, "INV-3-00007", day(12), "1234.50");
        let paid = payment(customer.id, day(14), "1000.00", Some(bill.id));
        let ledger = Ledger::compute([&bill], [&paid]);
        let company = Company::default();
        let pdf = invoice_pdf_of(&InvoiceDocument {
            company: &company,
            account: &customer,
            site: None,
            job: &work,
            invoice: &bill,
            standing: &ledger.invoices[&bill.id],
            payments: &[(paid.clone(), "1000.00".parse().unwrap())],
            due: fieldsync_protocol::due_date(bill.date.0, customer.terms_net_days),
            signature: None,
        });
        let printed = text(&pdf);
        for expected in [
            "INV-3-00007",
            "$1,234.50",
            "$1,000.00",
            "$234.50",
            "Oct 22, 2026",
            "Annual boiler service",
        ] {
            assert!(printed.contains(expected), "{expected:?} in {printed}");
        }
    }

    fn invoice_pdf_of(doc: &InvoiceDocument<'_>) -> Vec<u8> {
        super::invoice(doc)
    }
}
