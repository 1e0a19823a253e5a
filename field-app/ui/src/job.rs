//! The job packet page: what the technician reads on site, the status buttons and the notes.

use std::rc::Rc;

use fieldsync_app::{AppError, queries};
use fieldsync_protocol::{Contact, JobStatus, Note, NoteKind, validate};
use slint::ComponentHandle as _;

use crate::controller::{Inner, model, strings};
use crate::{AppWindow, ContactRow, JobAdapter, NoteRow, VisitRow, format};

/// Note kinds a technician writes, in the order of the buttons (system notes are Fieldsync's).
const NOTE_KINDS: [NoteKind; 4] = [
    NoteKind::ServicePerformed,
    NoteKind::ServiceRequest,
    NoteKind::Site,
    NoteKind::Private,
];

pub(crate) fn wire(ui: &AppWindow, inner: &Rc<Inner>) {
    let adapter = ui.global::<JobAdapter>();
    adapter.set_statuses(strings(JobStatus::FIELD.iter().map(|s| format::status(*s))));
    adapter.set_status_keys(strings(JobStatus::FIELD.iter().map(JobStatus::as_str)));
    adapter.set_note_kinds(strings(NOTE_KINDS.iter().map(|k| format::note_kind(*k))));
    let on = inner.clone();
    adapter.on_set_status(move |index| set_status(&on, index));
    let on = inner.clone();
    adapter.on_add_note(move || add_note(&on));
    let on = inner.clone();
    adapter.on_save_costs(move || save_costs(&on));
    let on = inner.clone();
    adapter.on_open_link(move |uri| match format::link(&uri) {
        Some(link) => (on.options.open_link)(&link),
        None => on.notice(format!("{uri} cannot be opened")),
    });
    let on = inner.clone();
    adapter.on_open_file(move |id| {
        let account = on
            .selection
            .borrow()
            .job
            .and_then(|job| queries::job_packet(on.tablet().store(), job).ok())
            .map(|packet| packet.job.account);
        crate::files::open(&on, account, &id);
    });
}

/// A job was opened: start on the work tab with an empty note.
pub(crate) fn opened(inner: &Inner) {
    if let Some(ui) = inner.ui() {
        let adapter = ui.global::<JobAdapter>();
        adapter.set_tab(0);
        adapter.set_note_kind(0);
        adapter.set_note_text("".into());
        adapter.set_message("".into());
        adapter.set_costs_message("".into());
    }
    if let (Some(ui), Some(job)) = (inner.ui(), inner.selection.borrow().job)
        && let Ok(Some(job)) = inner.tablet().store().job(job)
    {
        let adapter = ui.global::<JobAdapter>();
        adapter.set_materials(validate::format_materials(&job.inventory).into());
        adapter.set_final_amount(
            job.final_amount
                .map(|m| m.to_string())
                .unwrap_or_default()
                .into(),
        );
    }
    crate::photos::opened(inner);
}

/// Fills the packet of the selected job.
pub(crate) fn refresh(inner: &Rc<Inner>) -> Result<(), AppError> {
    let (Some(ui), Some(job)) = (inner.ui(), inner.selection.borrow().job) else {
        return Ok(());
    };
    let packet = queries::job_packet(inner.tablet().store(), job)?;
    let zone = inner.zone();
    let adapter = ui.global::<JobAdapter>();
    let j = &packet.job;
    adapter.set_id(j.id.to_string().into());
    adapter.set_files(crate::files::rows(&packet.files));
    adapter.set_title(j.title.clone().into());
    adapter.set_status(format::status(j.status).into());
    adapter.set_status_key(j.status.as_str().into());
    adapter.set_status_allowed(model(
        JobStatus::FIELD
            .iter()
            .map(|s| j.status.check_move(*s).is_ok())
            .collect(),
    ));
    adapter.set_alerts(
        packet
            .alerts
            .iter()
            .map(|a| format!("ALERT: {}", a.text))
            .collect::<Vec<_>>()
            .join("\n")
            .into(),
    );
    let day = j
        .scheduled_start
        .map(|s| format::date(s.0, zone))
        .unwrap_or_default();
    adapter.set_window(
        format!(
            "{day}  {}",
            format::window(j.scheduled_start, j.scheduled_end, zone)
        )
        .into(),
    );
    let today = zone.local(inner.now().0).date_naive();
    let overdue = queries::overdue(
        inner.tablet().store(),
        &packet.account,
        &packet.ledger,
        today,
    )?;
    show_customer(&adapter, &packet, &overdue);
    show_site(&adapter, &packet);
    adapter.set_services(if j.requested_services.is_empty() {
        "—".into()
    } else {
        j.requested_services.join(" · ").into()
    });
    adapter.set_contacts(model(packet.contacts.iter().map(contact_row).collect()));
    adapter.set_notes(model(
        packet
            .notes
            .iter()
            .rev()
            .map(|n| note_row(n, zone))
            .collect(),
    ));
    adapter.set_visits(model(
        packet
            .earlier_visits
            .iter()
            .map(|v| visit_row(v, zone))
            .collect(),
    ));
    crate::photos::refresh(inner, &packet.photos)?;
    Ok(())
}

/// The customer card: who, their terms, the credit-hold warning and the money.
fn show_customer(
    adapter: &JobAdapter<'_>,
    packet: &queries::JobPacket,
    overdue: &queries::Overdue,
) {
    let account = &packet.account;
    adapter.set_account_id(account.id.to_string().into());
    adapter.set_account(account.name.clone().into());
    adapter.set_account_detail(
        format!(
            "{} · {} · net {} days",
            account.number, account.account_type, account.terms_net_days
        )
        .into(),
    );
    adapter.set_credit_hold(account.credit_hold);
    adapter.set_credit_hold_text(
        if account.comments.trim().is_empty() {
            "CREDIT HOLD: no new work on credit. Collect payment or call the office first.".into()
        } else {
            format!("CREDIT HOLD: {}", account.comments.trim())
        }
        .into(),
    );
    adapter.set_balance(format::money(packet.ledger.balance).into());
    adapter.set_overdue(
        match overdue.invoices {
            0 => String::new(),
            1 => format!(
                "Overdue: {} on 1 invoice, {} days past due. Ask about payment.",
                format::money(overdue.owed),
                overdue.oldest_days
            ),
            n => format!(
                "Overdue: {} on {n} invoices, the oldest {} days past due. Ask about payment.",
                format::money(overdue.owed),
                overdue.oldest_days
            ),
        }
        .into(),
    );
    adapter.set_credit(format::money(packet.ledger.unapplied_credit).into());
    adapter.set_estimate(
        packet
            .job
            .estimate
            .map(format::money)
            .unwrap_or("—".into())
            .into(),
    );
}

/// The site card: where, and how to get in (access instructions and the site's notes).
fn show_site(adapter: &JobAdapter<'_>, packet: &queries::JobPacket) {
    match &packet.site {
        Some(site) => {
            adapter.set_site(site.name.clone().into());
            adapter.set_address(site.address.to_string().into());
            let mut access = site.access_instructions.trim().to_string();
            for note in &packet.site_notes {
                access.push_str(&format!("\n• {}", note.text));
            }
            adapter.set_access(access.into());
        }
        None => {
            adapter.set_site("(site not on this tablet)".into());
            adapter.set_address("".into());
            adapter.set_access("".into());
        }
    }
}

/// A contact as the packet lists it.
pub(crate) fn contact_row(c: &Contact) -> ContactRow {
    ContactRow {
        name: c.name.clone().into(),
        role: c.role.clone().into(),
        phone: c.phone.clone().unwrap_or_default().into(),
        email: c.email.clone().unwrap_or_default().into(),
    }
}

fn note_row(n: &Note, zone: format::Zone) -> NoteRow {
    NoteRow {
        kind: format::note_kind(n.kind).into(),
        text: n.text.clone().into(),
        stamp: format!("{} · {}", n.author_name, format::stamp(n.created_at, zone)).into(),
    }
}

fn visit_row(v: &queries::Visit, zone: format::Zone) -> VisitRow {
    let performed = if v.performed.is_empty() {
        "No service-performed notes.".to_string()
    } else {
        v.performed
            .iter()
            .map(|n| format!("{} ({})", n.text, n.author_name))
            .collect::<Vec<_>>()
            .join("\n")
    };
    VisitRow {
        date: v
            .job
            .scheduled_start
            .map(|s| format::date(s.0, zone))
            .unwrap_or_default()
            .into(),
        title: v.job.title.clone().into(),
        status: format::status(v.job.status).into(),
        performed: performed.into(),
    }
}

fn set_status(inner: &Rc<Inner>, index: i32) {
    let Some(job) = inner.selection.borrow().job else {
        return;
    };
    let Some(status) = usize::try_from(index)
        .ok()
        .and_then(|i| JobStatus::FIELD.get(i))
    else {
        return;
    };
    let now = inner.now();
    let result = inner.act(|tablet| Ok(((), tablet.set_job_status(now, job, *status)?)));
    match result {
        Ok(()) => {
            if let Some(ui) = inner.ui() {
                ui.global::<JobAdapter>()
                    .set_message(format!("Status set to {}.", format::status(*status)).into());
            }
        }
        Err(error) => inner.notice(error),
    }
    inner.refresh_page();
}

fn save_costs(inner: &Rc<Inner>) {
    let (Some(ui), Some(job)) = (inner.ui(), inner.selection.borrow().job) else {
        return;
    };
    let adapter = ui.global::<JobAdapter>();
    let materials = match validate::parse_materials(&adapter.get_materials()) {
        Ok(materials) => materials,
        Err(error) => return adapter.set_costs_message(error.to_string().into()),
    };
    let final_amount = match adapter.get_final_amount().trim() {
        "" => None,
        text => match validate::parse_payment_amount(text) {
            Ok(amount) => Some(amount),
            Err(_) => {
                return adapter
                    .set_costs_message(format!("{text:?} is not an amount such as 212.50").into());
            }
        },
    };
    let now = inner.now();
    let result = inner.act(|tablet| {
        Ok((
            (),
            tablet.record_job_costs(now, job, materials, final_amount)?,
        ))
    });
    match result {
        Ok(()) => adapter.set_costs_message("Saved.".into()),
        Err(error) => adapter.set_costs_message(error.to_string().into()),
    }
    inner.refresh_page();
}

fn add_note(inner: &Rc<Inner>) {
    let (Some(ui), Some(job)) = (inner.ui(), inner.selection.borrow().job) else {
        return;
    };
    let adapter = ui.global::<JobAdapter>();
    let text = adapter.get_note_text().trim().to_string();
    if text.is_empty() {
        adapter.set_message("Write the note first.".into());
        return;
    }
    let kind = usize::try_from(adapter.get_note_kind())
        .ok()
        .and_then(|i| NOTE_KINDS.get(i).copied())
        .unwrap_or(NoteKind::ServicePerformed);
    let now = inner.now();
    let result = inner.act(|tablet| Ok(((), tablet.add_job_note(now, job, kind, &text)?)));
    match result {
        Ok(()) => {
            adapter.set_note_text("".into());
            adapter.set_message(format!("{} note saved.", format::note_kind(kind)).into());
        }
        Err(error) => adapter.set_message(error.to_string().into()),
    }
    inner.refresh_page();
}
