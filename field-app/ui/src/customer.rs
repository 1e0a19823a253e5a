//! The customer page and search, both read from the tablet's replica (they work offline).

use std::rc::Rc;

use fieldsync_app::{AppError, queries};
use slint::ComponentHandle as _;

use crate::controller::{Inner, model};
use crate::{
    AppWindow, CustomerAdapter, FieldRow, HitRow, MoneyRow, NoteRow, SearchAdapter, format,
};
use fieldsync_protocol::ContactChannel;
use fieldsync_protocol::custom_fields::{FieldKind, FieldValue};

/// Most accounts listed for one search.
const SEARCH_LIMIT: usize = 40;

/// How a contact was made, in the order of the buttons.
const CHANNELS: [ContactChannel; 4] = [
    ContactChannel::Call,
    ContactChannel::Visit,
    ContactChannel::Email,
    ContactChannel::Text,
];

pub(crate) fn wire(ui: &AppWindow, inner: &Rc<Inner>) {
    let adapter = ui.global::<CustomerAdapter>();
    adapter.set_log_channels(crate::controller::strings(
        CHANNELS.iter().map(|c| c.label()),
    ));
    let on = inner.clone();
    adapter.on_log_contact(move || log_contact(&on));
    let on = inner.clone();
    adapter.on_set_field(move |name, value| set_field(&on, &name, &value));
    let on = inner.clone();
    adapter.on_open_file(move |id| {
        let account = on.selection.borrow().account;
        crate::files::open(&on, account, &id);
    });
    let on = inner.clone();
    ui.global::<SearchAdapter>().on_search(move |_| {
        if let Err(error) = search(&on) {
            on.notice(error);
        }
    });
}

/// Logs the call, visit, email or text typed on the customer page.
fn log_contact(inner: &Rc<Inner>) {
    let (Some(ui), Some(account)) = (inner.ui(), inner.selection.borrow().account) else {
        return;
    };
    let adapter = ui.global::<CustomerAdapter>();
    let text = adapter.get_log_text().trim().to_string();
    if text.is_empty() {
        adapter.set_log_message("Write what it was about first.".into());
        return;
    }
    let channel = usize::try_from(adapter.get_log_channel())
        .ok()
        .and_then(|i| CHANNELS.get(i).copied())
        .unwrap_or(ContactChannel::Call);
    let now = inner.now();
    let result =
        inner.act(|tablet| Ok(((), tablet.log_contact(now, account, channel, None, &text)?)));
    match result {
        Ok(()) => {
            adapter.set_log_text("".into());
            adapter.set_log_message(format!("{} logged.", channel.label()).into());
        }
        Err(error) => adapter.set_log_message(error.to_string().into()),
    }
    inner.refresh_page();
}

/// Most choices shown as buttons; a field with more is typed (the hint lists them).
const CHOICE_BUTTONS: usize = 4;

/// Saves a custom field of the selected customer as typed or picked.
fn set_field(inner: &Rc<Inner>, name: &str, value: &str) {
    let (Some(ui), Some(account)) = (inner.ui(), inner.selection.borrow().account) else {
        return;
    };
    let now = inner.now();
    let result = inner.act(|tablet| Ok(((), tablet.set_custom_field(now, account, name, value)?)));
    let adapter = ui.global::<CustomerAdapter>();
    match result {
        Ok(()) if value.trim().is_empty() => {
            adapter.set_field_message(format!("{name} cleared.").into())
        }
        Ok(()) => adapter.set_field_message(format!("{name} saved.").into()),
        Err(error) => adapter.set_field_message(error.to_string().into()),
    }
    inner.refresh_page();
}

/// A custom field as the page shows it.
fn field_row(field: &FieldValue) -> FieldRow {
    let choices: Vec<String> = match &field.def {
        Some(def) if def.kind == FieldKind::YesNo => vec!["Yes".into(), "No".into()],
        Some(def) if def.kind == FieldKind::Choice && def.choices.len() <= CHOICE_BUTTONS => {
            def.choices.clone()
        }
        _ => Vec::new(),
    };
    let hint = match &field.def {
        None => "No longer a field of the company: can only be cleared".to_string(),
        Some(def) => match def.kind {
            FieldKind::Text => "Text".into(),
            FieldKind::Number => "A number, such as 12 or 3.5".into(),
            FieldKind::Date => "A date, such as 2027-01-31".into(),
            FieldKind::YesNo => "Yes or no".into(),
            FieldKind::Choice => format!("One of: {}", def.choices.join(", ")),
        },
    };
    FieldRow {
        name: field.name.clone().into(),
        value: field.shown().into(),
        hint: hint.into(),
        choices: crate::controller::strings(choices.iter().map(String::as_str)),
    }
}

/// Fills the page of the selected account.
pub(crate) fn refresh(inner: &Rc<Inner>) -> Result<(), AppError> {
    let (Some(ui), Some(account)) = (inner.ui(), inner.selection.borrow().account) else {
        return Ok(());
    };
    let page = queries::customer_page(inner.tablet().store(), account)?;
    let zone = inner.zone();
    let adapter = ui.global::<CustomerAdapter>();
    let a = &page.account;
    adapter.set_id(a.id.to_string().into());
    adapter.set_name(a.name.clone().into());
    adapter.set_detail(
        format!(
            "{} · {} {} · {} · net {} days",
            a.number, a.party, a.account_type, a.status, a.terms_net_days
        )
        .into(),
    );
    adapter.set_phone(a.phone.clone().unwrap_or_default().into());
    adapter.set_email(a.email.clone().unwrap_or_default().into());
    adapter.set_address(a.billing_address.to_string().into());
    adapter.set_credit_hold(a.credit_hold);
    adapter.set_alerts(
        page.alerts
            .iter()
            .map(|alert| format!("ALERT: {}", alert.text))
            .collect::<Vec<_>>()
            .join("\n")
            .into(),
    );
    adapter.set_comments(a.comments.trim().to_string().into());
    adapter.set_balance(format::money(page.ledger.balance).into());
    adapter.set_credit(format::money(page.ledger.unapplied_credit).into());
    adapter.set_contacts(model(
        page.contacts.iter().map(crate::job::contact_row).collect(),
    ));
    adapter.set_fields(model(page.fields.iter().map(field_row).collect()));
    adapter.set_files(crate::files::rows(&page.files));
    adapter.set_contact_log(model(
        page.contact_log
            .iter()
            .map(|e| NoteRow {
                kind: e.channel.label().into(),
                text: e.summary.clone().into(),
                stamp: format!("{} · {}", e.user_name, format::stamp(e.at, zone)).into(),
            })
            .collect(),
    ));
    adapter.set_jobs(model(
        page.jobs
            .iter()
            .rev()
            .map(|j| MoneyRow {
                left: j
                    .scheduled_start
                    .map(|s| format::short_stamp(s, zone))
                    .unwrap_or_else(|| "unscheduled".into())
                    .into(),
                middle: j.title.clone().into(),
                right: j
                    .final_amount
                    .or(j.estimate)
                    .map(format::money)
                    .unwrap_or_default()
                    .into(),
                status: format::status(j.status).into(),
                status_key: j.status.as_str().into(),
            })
            .collect(),
    ));
    adapter.set_invoices(model(
        page.invoices
            .iter()
            .rev()
            .map(|row| MoneyRow {
                left: format::short_date(row.invoice.date.0).into(),
                middle: match &row.standing {
                    Some(s) if s.paid.0 > rust_decimal::Decimal::ZERO => {
                        format!("{} · paid {}", row.invoice.number, format::money(s.paid))
                    }
                    _ => row.invoice.number.clone(),
                }
                .into(),
                right: format::money(row.invoice.total()).into(),
                status: row
                    .standing
                    .as_ref()
                    .map(|s| s.status.label())
                    .unwrap_or("pending")
                    .into(),
                status_key: row
                    .standing
                    .as_ref()
                    .map_or("pending", |s| s.status.key())
                    .into(),
            })
            .collect(),
    ));
    adapter.set_payments(model(
        page.payments
            .iter()
            .rev()
            .map(|p| MoneyRow {
                left: format::short_stamp(p.received_at, zone).into(),
                middle: format!(
                    "{} {} · {}",
                    format::method(p.method),
                    p.reference,
                    p.recorded_by_name
                )
                .into(),
                right: format::money(p.amount).into(),
                status: if p.invoice.is_some() {
                    "applied"
                } else {
                    "credit"
                }
                .into(),
                status_key: if p.invoice.is_some() {
                    "applied"
                } else {
                    "credit"
                }
                .into(),
            })
            .collect(),
    ));
    Ok(())
}

/// Runs the search typed in the search field.
pub(crate) fn search(inner: &Rc<Inner>) -> Result<(), AppError> {
    let Some(ui) = inner.ui() else { return Ok(()) };
    let adapter = ui.global::<SearchAdapter>();
    let query = adapter.get_query().to_string();
    let hits = queries::search(inner.tablet().store(), &query, SEARCH_LIMIT)?;
    adapter.set_summary(
        match (query.trim().is_empty(), hits.len()) {
            (true, n) => format!("{n} customers on this tablet, by name"),
            (false, 0) => format!("Nothing on this tablet matches \"{}\"", query.trim()),
            (false, 1) => format!("1 customer matches \"{}\"", query.trim()),
            (false, n) => format!("{n} customers match \"{}\"", query.trim()),
        }
        .into(),
    );
    adapter.set_hits(model(
        hits.into_iter()
            .map(|h| HitRow {
                id: h.summary.id.to_string().into(),
                detail: format!("{} · {}", h.summary.account_type, h.summary.status).into(),
                name: h.summary.name.into(),
                contacts: h.contacts.join(" · ").into(),
                credit_hold: h.summary.credit_hold,
            })
            .collect(),
    ));
    Ok(())
}
