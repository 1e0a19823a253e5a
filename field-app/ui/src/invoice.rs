//! The invoice page: writing an invoice for the open job (lines as rows, a tax rate, totals as
//! typed), issuing it offline with this tablet's own numbers, and reading an issued one with
//! what was paid against it. The form is kept until the invoice is issued or a new one is
//! started, so a second tap on "Issue" issues nothing more.

use std::rc::Rc;

use fieldsync_app::{AppError, InvoiceForm, InvoiceLineForm, queries};
use fieldsync_protocol::validate::{parse_invoice_line, parse_tax_rate};
use fieldsync_protocol::{Invoice, InvoiceId, InvoiceLine, Percent};
use slint::ComponentHandle as _;

use crate::controller::{Inner, model};
use crate::{AppWindow, InvoiceAdapter, LineRow, MoneyRow, Nav, Page, format};

pub(crate) fn wire(ui: &AppWindow, inner: &Rc<Inner>) {
    let adapter = ui.global::<InvoiceAdapter>();
    let on = inner.clone();
    adapter.on_edit_line(move |index, field, text| {
        edit_form(&on, false, |form| {
            if let Some(line) = usize::try_from(index)
                .ok()
                .and_then(|i| form.lines.get_mut(i))
            {
                match field {
                    0 => line.description = text.to_string(),
                    1 => line.quantity = text.to_string(),
                    _ => line.unit_price = text.to_string(),
                }
            }
        });
    });
    let on = inner.clone();
    adapter.on_add_line(move || {
        edit_form(&on, true, |form| {
            form.lines.push(InvoiceLineForm {
                quantity: "1".into(),
                ..InvoiceLineForm::default()
            });
        });
    });
    let on = inner.clone();
    adapter.on_remove_line(move |index| {
        edit_form(&on, true, |form| {
            if let Ok(i) = usize::try_from(index)
                && i < form.lines.len()
            {
                form.lines.remove(i);
            }
        });
    });
    let on = inner.clone();
    adapter.on_tax_edited(move |text| {
        edit_form(&on, false, |form| form.tax_rate = text.to_string());
    });
    let on = inner.clone();
    adapter.on_issue(move || issue(&on));
    let on = inner.clone();
    adapter.on_show(move |index| {
        let shown = usize::try_from(index).ok().and_then(|i| {
            let job = on.selection.borrow().job?;
            let packet = queries::job_packet(on.tablet().store(), job).ok()?;
            packet.invoices.get(i).map(|row| row.invoice.id)
        });
        {
            let mut selection = on.selection.borrow_mut();
            selection.shown_invoice = shown;
            selection.strokes.clear();
        }
        show_strokes(&on);
        refresh_or_notice(&on);
    });
    let on = inner.clone();
    adapter.on_new_invoice(move || {
        let mut selection = on.selection.borrow_mut();
        selection.invoice = None;
        selection.shown_invoice = None;
        selection.strokes.clear();
        drop(selection);
        show_strokes(&on);
        refresh_or_notice(&on);
    });
    let on = inner.clone();
    adapter.on_view_pdf(move || view_pdf(&on));
    let on = inner.clone();
    adapter.on_stroke_start(move |x, y| {
        on.selection.borrow_mut().strokes.push(vec![(x, y)]);
        show_strokes(&on);
    });
    let on = inner.clone();
    adapter.on_stroke_to(move |x, y| {
        if let Some(stroke) = on.selection.borrow_mut().strokes.last_mut() {
            stroke.push((x, y));
        }
        show_strokes(&on);
    });
    let on = inner.clone();
    adapter.on_clear_signature(move || {
        on.selection.borrow_mut().strokes.clear();
        show_strokes(&on);
    });
    let on = inner.clone();
    adapter.on_save_signature(move || save_signature(&on));
    let on = inner.clone();
    adapter.on_pay(move || {
        // The payment form opens on the invoice shown.
        {
            let mut selection = on.selection.borrow_mut();
            selection.payment = None;
            selection.pay_invoice = selection.shown_invoice;
        }
        if let Some(ui) = on.ui() {
            ui.global::<Nav>().invoke_go(Page::Payment);
        }
    });
}

/// The pad's strokes as path commands (`M x y L x y ...`).
fn show_strokes(inner: &Rc<Inner>) {
    let Some(ui) = inner.ui() else { return };
    let path: String = inner
        .selection
        .borrow()
        .strokes
        .iter()
        .filter(|s| s.len() >= 2)
        .flat_map(|stroke| {
            stroke
                .iter()
                .enumerate()
                .map(|(i, (x, y))| format!("{} {x:.1} {y:.1} ", if i == 0 { "M" } else { "L" }))
        })
        .collect();
    ui.global::<InvoiceAdapter>()
        .set_signature_path(path.trim_end().into());
}

fn save_signature(inner: &Rc<Inner>) {
    let Some(ui) = inner.ui() else { return };
    let adapter = ui.global::<InvoiceAdapter>();
    let Some(id) = inner.selection.borrow().shown_invoice else {
        return;
    };
    let strokes = inner.selection.borrow().strokes.clone();
    let signer = adapter.get_signer().to_string();
    let now = inner.now();
    match inner.act(|tablet| tablet.sign_invoice(now, id, &signer, &strokes)) {
        Ok(_) => {
            inner.selection.borrow_mut().strokes.clear();
            show_strokes(inner);
            adapter.set_error("".into());
            adapter.set_message("Signature saved with the invoice.".into());
        }
        Err(AppError::Invalid(reason)) => adapter.set_error(reason.to_string().into()),
        Err(AppError::Photo(reason)) => adapter.set_error(reason.to_string().into()),
        Err(error) => inner.notice(error),
    }
    inner.refresh_page();
}

fn refresh_or_notice(inner: &Rc<Inner>) {
    if let Err(error) = refresh(inner) {
        inner.notice(error);
    }
}

/// Changes the form as typed; `rows` when its rows changed (added or removed), which the page
/// then shows anew (while typing, the fields keep what is typed and only the totals change).
fn edit_form(inner: &Rc<Inner>, rows: bool, change: impl FnOnce(&mut InvoiceForm)) {
    let Some(ui) = inner.ui() else { return };
    let adapter = ui.global::<InvoiceAdapter>();
    let form = {
        let mut selection = inner.selection.borrow_mut();
        let Some(form) = selection.invoice.as_mut() else {
            return;
        };
        change(form);
        form.clone()
    };
    adapter.set_error("".into());
    if rows {
        adapter.set_lines(line_rows(&form));
    }
    show_totals(&adapter, &form);
}

/// The amount of each line as typed, or empty while it cannot be read.
fn line_rows(form: &InvoiceForm) -> slint::ModelRc<LineRow> {
    model(
        form.lines
            .iter()
            .map(|l| LineRow {
                description: l.description.clone().into(),
                quantity: l.quantity.clone().into(),
                price: l.unit_price.clone().into(),
                amount: read_line(l)
                    .map(|line| format::money(line.amount()))
                    .unwrap_or_default()
                    .into(),
            })
            .collect(),
    )
}

fn read_line(line: &InvoiceLineForm) -> Option<InvoiceLine> {
    parse_invoice_line(&line.description, &line.quantity, &line.unit_price).ok()
}

/// Subtotal, tax and total of the lines that can be read so far.
fn show_totals(adapter: &InvoiceAdapter<'_>, form: &InvoiceForm) {
    let draft = Invoice {
        lines: form.lines.iter().filter_map(read_line).collect(),
        tax_rate: parse_tax_rate(&form.tax_rate).unwrap_or_default(),
        ..placeholder(form)
    };
    adapter.set_subtotal(format::money(draft.subtotal()).into());
    adapter.set_tax(format::money(draft.tax()).into());
    adapter.set_total(format::money(draft.total()).into());
}

/// An invoice to compute a draft's totals with (never stored).
fn placeholder(form: &InvoiceForm) -> Invoice {
    Invoice {
        id: form.id,
        job: form.job,
        number: String::new(),
        date: fieldsync_protocol::Day(chrono::NaiveDate::MIN),
        lines: Vec::new(),
        tax_rate: Percent::default(),
        voided: None,
        signature: None,
        created_by: fieldsync_protocol::UserId::default(),
        created_at: fieldsync_protocol::Timestamp(chrono::DateTime::UNIX_EPOCH),
    }
}

/// Fills the page for the selected job: the invoice shown, or the form of a new one (with
/// the job's services and materials as its first lines).
pub(crate) fn refresh(inner: &Rc<Inner>) -> Result<(), AppError> {
    let (Some(ui), Some(job)) = (inner.ui(), inner.selection.borrow().job) else {
        return Ok(());
    };
    let packet = queries::job_packet(inner.tablet().store(), job)?;
    let adapter = ui.global::<InvoiceAdapter>();
    adapter.set_account(packet.account.name.clone().into());
    adapter.set_job(packet.job.title.clone().into());
    adapter.set_invoices(model(
        packet
            .invoices
            .iter()
            .map(|row| MoneyRow {
                left: row.invoice.number.clone().into(),
                middle: "".into(),
                right: format::money(row.invoice.total()).into(),
                status: row
                    .standing
                    .as_ref()
                    .map_or("pending", |s| s.status.label())
                    .into(),
                status_key: row
                    .standing
                    .as_ref()
                    .map_or("pending", |s| s.status.key())
                    .into(),
            })
            .collect(),
    ));
    let shown = inner.selection.borrow().shown_invoice;
    let shown = shown.filter(|id| packet.invoices.iter().any(|r| r.invoice.id == *id));
    match shown {
        Some(id) => show_invoice(inner, &adapter, id),
        None => {
            let fresh = {
                let mut selection = inner.selection.borrow_mut();
                let stale = selection.invoice.as_ref().is_none_or(|f| f.job != job);
                if stale {
                    selection.invoice = Some(InvoiceForm::for_job(&packet.job));
                }
                stale
            };
            let form = inner.selection.borrow().invoice.clone();
            if let Some(form) = form {
                if fresh {
                    adapter.set_error("".into());
                    adapter.set_message("".into());
                }
                adapter.set_shown_number("".into());
                adapter.set_lines(line_rows(&form));
                adapter.set_tax_rate(form.tax_rate.clone().into());
                show_totals(&adapter, &form);
            }
            Ok(())
        }
    }
}

fn show_invoice(
    inner: &Rc<Inner>,
    adapter: &InvoiceAdapter<'_>,
    id: InvoiceId,
) -> Result<(), AppError> {
    let view = queries::invoice_view(inner.tablet().store(), &id.to_string())?;
    let invoice = &view.invoice;
    adapter.set_shown_number(invoice.number.clone().into());
    let status = match &invoice.voided {
        Some(voided) => format!("void: {}", voided.reason),
        None => view.standing.status.label().to_string(),
    };
    adapter.set_shown_status(status.into());
    let today = inner.zone().local(inner.now().0).date_naive();
    let overdue = (today - view.due).num_days();
    let dates = format!(
        "Dated {} · due {}{}",
        format::short_date(invoice.date.0),
        format::short_date(view.due),
        if view.standing.status.is_open() && overdue > 0 {
            format!(" · overdue {overdue} days")
        } else {
            String::new()
        }
    );
    adapter.set_shown_dates(dates.into());
    adapter.set_shown_lines(model(
        invoice
            .lines
            .iter()
            .map(|l| MoneyRow {
                left: l.description.clone().into(),
                middle: format!("{} × {}", l.quantity, format::money(l.unit_price)).into(),
                right: format::money(l.amount()).into(),
                status: "".into(),
                status_key: "".into(),
            })
            .collect(),
    ));
    let zone = inner.zone();
    let mut totals = vec![
        money_row("Subtotal", "", invoice.subtotal()),
        money_row("Tax", &format!("{}%", invoice.tax_rate), invoice.tax()),
        money_row("Total", "", invoice.total()),
    ];
    for (payment, applied) in &view.payments {
        totals.push(money_row(
            &format!("Paid {}", format::method(payment.method).to_lowercase()),
            &format::short_stamp(payment.received_at, zone),
            *applied,
        ));
    }
    adapter.set_shown_totals(model(totals));
    adapter.set_shown_balance(format::money(view.standing.total - view.standing.paid).into());
    adapter.set_can_sign(invoice.signature.is_none() && invoice.voided.is_none());
    match &invoice.signature {
        Some(signed) => {
            adapter.set_signed_by(
                format!(
                    "Signed by {} on {}",
                    signed.signer,
                    format::stamp(signed.signed_at, zone)
                )
                .into(),
            );
            let picture = inner.tablet().store().blob(&signed.image)?;
            adapter.set_signature(
                picture
                    .as_deref()
                    .and_then(crate::photos::decode)
                    .unwrap_or_default(),
            );
        }
        None => {
            adapter.set_signed_by("".into());
            adapter.set_signature(slint::Image::default());
        }
    }
    Ok(())
}

fn money_row(left: &str, middle: &str, amount: fieldsync_protocol::Money) -> MoneyRow {
    MoneyRow {
        left: left.into(),
        middle: middle.into(),
        right: format::money(amount).into(),
        status: "".into(),
        status_key: "".into(),
    }
}

fn issue(inner: &Rc<Inner>) {
    let Some(ui) = inner.ui() else { return };
    let adapter = ui.global::<InvoiceAdapter>();
    let Some(form) = inner.selection.borrow().invoice.clone() else {
        return;
    };
    let now = inner.now();
    match inner.act(|tablet| tablet.issue_invoice(now, &form)) {
        Ok(invoice) => {
            {
                let mut selection = inner.selection.borrow_mut();
                selection.invoice = None;
                selection.shown_invoice = Some(invoice.id);
            }
            adapter.set_error("".into());
            adapter.set_message(
                format!(
                    "Invoice {} issued. It is saved on this tablet and will be sent when online.",
                    invoice.number
                )
                .into(),
            );
        }
        Err(AppError::Invalid(reason)) => adapter.set_error(reason.to_string().into()),
        Err(AppError::NoDeviceNumber) => {
            adapter.set_error(AppError::NoDeviceNumber.to_string().into())
        }
        Err(error) => inner.notice(error),
    }
    inner.refresh_page();
}

/// Writes the PDF of the invoice shown next to the tablet's data and opens it with the
/// tablet's viewer: it works offline, from the invoice on the tablet.
fn view_pdf(inner: &Rc<Inner>) {
    let Some(ui) = inner.ui() else { return };
    let adapter = ui.global::<InvoiceAdapter>();
    let Some(id) = inner.selection.borrow().shown_invoice else {
        return;
    };
    let written = {
        let tablet = inner.tablet();
        fieldsync_app::documents::write_invoice_pdf(&tablet, id)
    };
    match written {
        Ok(path) => {
            adapter.set_message(format!("PDF saved as {}", path.display()).into());
            (inner.options.open_link)(&format!("file://{}", path.display()));
        }
        Err(error) => inner.notice(error),
    }
}
