//! The payment form. The form's payment id is made when the form opens and kept until the
//! technician starts a new payment, so tapping "Record payment" twice records it once.

use std::rc::Rc;

use fieldsync_app::{AppError, PaymentForm, queries};
use fieldsync_protocol::{InvoiceId, Money, PaymentMethod};
use slint::{ComponentHandle as _, Model as _};

use crate::controller::{Inner, model, strings};
use crate::{AppWindow, ApplyRow, MoneyRow, PaymentAdapter, format};

pub(crate) fn wire(ui: &AppWindow, inner: &Rc<Inner>) {
    let adapter = ui.global::<PaymentAdapter>();
    adapter.set_methods(strings(
        PaymentMethod::ALL.iter().map(|m| format::method(*m)),
    ));
    let on = inner.clone();
    adapter.on_record(move || record(&on));
    let on = inner.clone();
    adapter.on_new_payment(move || {
        on.selection.borrow_mut().payment = None;
        if let Err(error) = refresh(&on) {
            on.notice(error);
        }
    });
}

/// Fills the form for the selected job's customer, starting a new form if there is none.
pub(crate) fn refresh(inner: &Rc<Inner>) -> Result<(), AppError> {
    let (Some(ui), Some(job)) = (inner.ui(), inner.selection.borrow().job) else {
        return Ok(());
    };
    let packet = queries::job_packet(inner.tablet().store(), job)?;
    let adapter = ui.global::<PaymentAdapter>();
    let fresh = {
        let mut selection = inner.selection.borrow_mut();
        let stale = selection
            .payment
            .as_ref()
            .is_none_or(|f| f.account != packet.account.id || f.job != Some(job));
        if stale {
            selection.payment = Some(PaymentForm::new(packet.account.id, Some(job)));
        }
        stale
    };
    // What the form applies the payment to so far: the row chosen in the list shown until now.
    let shown_choice = usize::try_from(adapter.get_apply_to())
        .ok()
        .and_then(|i| adapter.get_open_invoices().row_data(i))
        .and_then(|row| row.id.parse::<InvoiceId>().ok());
    // The invoices the payment can go to: those of the job still owed something.
    let open: Vec<_> = packet
        .invoices
        .iter()
        .filter(|row| packet.ledger.owed_on(row.invoice.id) > Money::ZERO)
        .map(|row| &row.invoice)
        .collect();
    adapter.set_open_invoices(model(
        open.iter()
            .map(|i| ApplyRow {
                id: i.id.to_string().into(),
                label: format!(
                    "{} · owes {}",
                    i.number,
                    format::money(packet.ledger.owed_on(i.id))
                )
                .into(),
            })
            .collect(),
    ));
    let recorded = !fresh && adapter.get_confirmation() != "";
    let mut asked = None;
    let applies_to = if recorded {
        // The invoice it went to may be paid now and gone from the choices.
        inner
            .selection
            .borrow()
            .payment
            .as_ref()
            .and_then(|f| f.invoice)
    } else if !fresh && adapter.get_apply_chosen() {
        shown_choice
    } else {
        // Preselected until the technician chooses: the invoice chosen on the invoice page,
        // or the job's oldest invoice still owed something.
        asked = inner.selection.borrow_mut().pay_invoice.take();
        asked.or_else(|| packet.open_invoice().map(|i| i.id))
    };
    adapter.set_apply_to(
        applies_to
            .and_then(|id| open.iter().position(|i| i.id == id))
            .and_then(|i| i32::try_from(i).ok())
            .unwrap_or(-1),
    );
    if fresh {
        // The customer's usual payment method, preselected.
        let method = packet
            .account
            .payment_method
            .and_then(|m| PaymentMethod::ALL.iter().position(|x| *x == m))
            .and_then(|i| i32::try_from(i).ok())
            .unwrap_or(0);
        adapter.set_apply_chosen(false);
        adapter.set_amount("".into());
        adapter.set_method(method);
        adapter.set_reference("".into());
        adapter.set_error("".into());
        adapter.set_confirmation("".into());
    }
    if asked.is_some() {
        // Asked for on the invoice page: kept as if chosen here.
        adapter.set_apply_chosen(true);
    }
    adapter.set_account(packet.account.name.clone().into());
    adapter.set_job(packet.job.title.clone().into());
    adapter.set_credit_hold(packet.account.credit_hold);
    adapter.set_balance(format::money(packet.ledger.balance).into());
    adapter.set_credit(format::money(packet.ledger.unapplied_credit).into());
    let zone = inner.zone();
    let payments = inner
        .tablet()
        .store()
        .payments_for_account(packet.account.id)?;
    adapter.set_recent(model(
        payments
            .iter()
            .rev()
            .map(|p| MoneyRow {
                left: format::short_stamp(p.received_at, zone).into(),
                middle: format!("{} {}", format::method(p.method), p.reference).into(),
                right: format::money(p.amount).into(),
                status: "".into(),
                status_key: "".into(),
            })
            .collect(),
    ));
    Ok(())
}

fn record(inner: &Rc<Inner>) {
    let Some(ui) = inner.ui() else { return };
    let adapter = ui.global::<PaymentAdapter>();
    let Some(mut form) = inner.selection.borrow().payment.clone() else {
        return;
    };
    let amount = adapter.get_amount().trim().to_string();
    if amount.is_empty() {
        adapter.set_error("Enter the amount received, such as 120.50.".into());
        return;
    }
    let method = usize::try_from(adapter.get_method())
        .ok()
        .and_then(|i| PaymentMethod::ALL.get(i).copied())
        .unwrap_or(PaymentMethod::Cash);
    let reference = adapter.get_reference().to_string();
    let invoice = usize::try_from(adapter.get_apply_to())
        .ok()
        .and_then(|i| adapter.get_open_invoices().row_data(i))
        .and_then(|row| row.id.parse::<InvoiceId>().ok());
    let recorded = adapter.get_confirmation() != "";
    if recorded
        && (amount != form.amount
            || method != form.method
            || reference != form.reference
            || invoice != form.invoice)
    {
        adapter.set_error(
            "This payment is already recorded. Tap \"New payment\" to record another.".into(),
        );
        return;
    }
    form.amount = amount;
    form.method = method;
    form.reference = reference;
    form.invoice = invoice;
    let now = inner.now();
    let result = inner.act(|tablet| Ok(((), tablet.record_payment(now, &form)?)));
    match result {
        Ok(()) => {
            let applied = usize::try_from(adapter.get_apply_to())
                .ok()
                .and_then(|i| adapter.get_open_invoices().row_data(i))
                .map_or(" as account credit".to_string(), |row| {
                    let number = row
                        .label
                        .split(" · ")
                        .next()
                        .unwrap_or_default()
                        .to_string();
                    format!(" against {number}")
                });
            let confirmation = format!(
                "Recorded {} by {}{}{applied}. It is saved on this tablet and will be sent when online.",
                format::money(form.amount.trim().parse().unwrap_or_default()),
                format::method(form.method).to_lowercase(),
                if form.reference.trim().is_empty() {
                    String::new()
                } else {
                    format!(" ({})", form.reference.trim())
                }
            );
            inner.selection.borrow_mut().payment = Some(form);
            adapter.set_error("".into());
            adapter.set_confirmation(confirmation.into());
        }
        Err(AppError::Invalid(reason)) => adapter.set_error(reason.to_string().into()),
        Err(error) => inner.notice(error),
    }
    inner.refresh_page();
}
