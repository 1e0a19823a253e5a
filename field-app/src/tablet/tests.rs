//! The tablet's actions, pairing and session, without a server.

use fieldsync_protocol::wire::{ClientMessage, ServerMessage, SyncMode};
use fieldsync_protocol::{
    AccountId, DocId, JobId, JobStatus, PaymentMethod, UserId, ValidationError,
};
use fieldsync_store::Store;
use fieldsync_store::host::DeviceEvent;

use super::*;

fn tablet(dir: &tempfile::TempDir) -> Tablet {
    let author = Author {
        user: UserId::new(),
        name: "Tess Tech".into(),
    };
    Tablet::open(&dir.path().join("tablet.sqlite3"), author).unwrap()
}

fn now() -> Timestamp {
    Timestamp::from_millis(1_790_000_000_000).unwrap()
}

fn form(account: AccountId, amount: &str) -> PaymentForm {
    PaymentForm {
        amount: amount.into(),
        ..PaymentForm::new(account, None)
    }
}

const TOKEN: &str = "fsd_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

#[test]
fn a_payment_is_checked_and_recorded_once_even_when_tapped_twice() {
    let dir = tempfile::tempdir().unwrap();
    let mut tablet = tablet(&dir);
    let account = AccountId::new();
    let bad = tablet.record_payment(now(), &form(account, "-5"));
    assert!(
        matches!(bad, Err(AppError::Invalid(ValidationError::NotPositive(_)))),
        "{bad:?}"
    );
    let bad = tablet.record_payment(now(), &form(account, "12.345"));
    assert!(matches!(
        bad,
        Err(AppError::Invalid(ValidationError::TooPrecise(_)))
    ));
    let bad = tablet.record_payment(now(), &form(account, "twelve"));
    assert_eq!(
        bad.unwrap_err().to_string(),
        "\"twelve\" is not a decimal amount such as 120.50"
    );
    let bad = tablet.record_payment(now(), &form(account, "1.234"));
    assert_eq!(
        bad.unwrap_err().to_string(),
        "an amount has at most two decimal places, not 1.234"
    );
    let good = PaymentForm {
        method: PaymentMethod::Check,
        reference: "#1042".into(),
        ..form(account, "120.50")
    };
    tablet.record_payment(now(), &good).unwrap();
    tablet.record_payment(now(), &good).unwrap();
    assert_eq!(tablet.pending().unwrap(), 1);
    assert_eq!(
        tablet.store().payments_for_account(account).unwrap().len(),
        1
    );
}

#[test]
fn offline_work_survives_a_restart_in_the_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let account = AccountId::new();
    {
        let mut tablet = tablet(&dir);
        tablet.record_payment(now(), &form(account, "40")).unwrap();
        tablet.record_payment(now(), &form(account, "2.5")).unwrap();
    }
    let tablet = tablet(&dir);
    assert_eq!(tablet.pending().unwrap(), 2);
    assert_eq!(
        tablet
            .store()
            .ledger(account)
            .unwrap()
            .unapplied_credit
            .to_string(),
        "42.5"
    );
    let status = tablet.status().unwrap();
    assert!(!status.online);
    assert_eq!(status.pending, 2);
    assert!(status.refused.is_empty());
    assert_eq!(status.last_sync, None);
}

#[test]
fn editing_a_job_that_is_not_on_the_tablet_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut tablet = tablet(&dir);
    let err = tablet
        .set_job_status(now(), JobId::new(), JobStatus::OnSite)
        .unwrap_err();
    assert!(err.to_string().contains("is not on this tablet"));
    let photo = PhotoForm::new(PhotoTarget::Job(JobId::new()));
    let err = tablet
        .add_photo(now(), &photo, &crate::photo::tests::jpeg(10, 10, None))
        .unwrap_err();
    assert!(err.to_string().contains("is not on this tablet"), "{err}");
}

#[test]
fn a_change_the_server_refuses_stays_in_the_outbox_with_the_reason() {
    use fieldsync_protocol::wire::{PROTOCOL_VERSION, Refusal};

    let dir = tempfile::tempdir().unwrap();
    let mut tablet = tablet(&dir);
    let payment = form(AccountId::new(), "15");
    tablet.record_payment(now(), &payment).unwrap();
    let hello = tablet.connected(0).unwrap();
    assert!(matches!(hello[1], ClientMessage::Lineage { .. }));
    assert!(matches!(hello[2], ClientMessage::Holding { .. }));
    assert!(matches!(hello[3], ClientMessage::Push { batch: 1, .. }));
    let welcome = ServerMessage::Welcome {
        version: PROTOCOL_VERSION,
        epoch: 7,
        mode: SyncMode::Initial,
    };
    tablet.received(1, welcome).unwrap();
    assert!(tablet.status().unwrap().online);
    assert_eq!(tablet.status().unwrap().first_sync_documents, Some(0));
    let ack = ServerMessage::Ack {
        batch: 1,
        refused: vec![Refusal {
            index: 0,
            reason: "the account is not yours".into(),
        }],
        deferred: vec![],
        committed: (9, fieldsync_protocol::wire::Lineage::EMPTY),
    };
    let (_, events) = tablet.received(2, ack).unwrap();
    assert_eq!(
        events,
        [DeviceEvent::Refused("the account is not yours".into())]
    );
    let status = tablet.status().unwrap();
    assert_eq!(status.pending, 0);
    assert_eq!(status.refused.len(), 1);
    assert_eq!(status.refused[0].reason, "the account is not yours");
    assert_eq!(status.refused[0].doc, DocId::from(payment.id));
    tablet.disconnected();
    assert!(!tablet.status().unwrap().online);
}

#[test]
fn pairing_is_kept_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tablet.sqlite3");
    assert!(matches!(
        Tablet::open_paired(&path),
        Err(AppError::NotPaired)
    ));
    let tess = Author {
        user: UserId::new(),
        name: "Tess".into(),
    };
    for (url, token) in [
        ("", TOKEN),
        ("ftp://example.com", TOKEN),
        ("http://127.0.0.1:8080", "secret"),
        ("http://127.0.0.1:8080", "fsd_short"),
    ] {
        let err = Tablet::pair(&path, url, token, tess.clone()).unwrap_err();
        assert!(
            matches!(err, AppError::BadPairing(_)),
            "{url} {token}: {err}"
        );
    }
    let actor = {
        let mut tablet = Tablet::pair(&path, "http://127.0.0.1:8080", TOKEN, tess.clone()).unwrap();
        tablet
            .record_payment(now(), &form(AccountId::new(), "10"))
            .unwrap();
        tablet.writer.actor.clone()
    };
    let tablet = Tablet::open_paired(&path).unwrap();
    assert_eq!(tablet.author(), &tess);
    assert_eq!(tablet.writer.actor, actor, "the same actor across runs");
    assert_eq!(
        tablet.pairing().unwrap().unwrap().server_url,
        "http://127.0.0.1:8080"
    );
    drop(tablet);
    // The server moved: same user, new address, unsent changes kept.
    let moved = Tablet::pair(&path, "http://10.0.0.9:8080", TOKEN, tess).unwrap();
    assert_eq!(moved.writer.actor, actor);
    assert_eq!(moved.pending().unwrap(), 1);
    drop(moved);
    // Another technician may not take over a tablet with unsent changes.
    let theo = Author {
        user: UserId::new(),
        name: "Theo".into(),
    };
    let err = Tablet::pair(&path, "http://10.0.0.9:8080", TOKEN, theo.clone()).unwrap_err();
    assert!(matches!(err, AppError::UnsentChanges(1)), "{err}");
    let err = Tablet::sign_out(&path).unwrap_err();
    assert!(matches!(err, AppError::UnsentChanges(1)), "{err}");

    // Once the server has everything, Tess signs out and Theo starts afresh.
    let mut store = Store::open(&path).unwrap();
    let sent: Vec<_> = store.outbox().unwrap().iter().map(|i| i.hash).collect();
    let tx = store.transaction().unwrap();
    tx.outbox_acked(&sent).unwrap();
    tx.commit().unwrap();
    drop(store);
    let err = Tablet::pair(&path, "http://10.0.0.9:8080", TOKEN, theo.clone()).unwrap_err();
    assert!(err.to_string().contains("holds Tess's data"), "{err}");
    Tablet::sign_out(&path).unwrap();
    assert!(!path.exists());
    let theos = Tablet::pair(&path, "http://10.0.0.9:8080", TOKEN, theo.clone()).unwrap();
    assert_eq!(theos.author(), &theo);
    assert_eq!(
        theos
            .store()
            .doc_ids(&fieldsync_store::Scope::All)
            .unwrap()
            .len(),
        0
    );
}

fn seq_of(number: &str) -> u32 {
    number
        .parse::<fieldsync_protocol::InvoiceNumber>()
        .unwrap()
        .seq
}

#[test]
fn an_invoice_is_issued_offline_with_the_tablets_numbers_then_paid_and_printed() {
    use fieldsync_tests::demo::{Rng, seed_company};
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = Store::open(&dir.path().join("tablet.sqlite3")).unwrap();
        seed_company(&mut store, &mut Rng::new(5), 2, 2);
    }
    let mut tablet = tablet(&dir);
    let account = tablet.store().accounts().unwrap()[0].id;
    let jobs = tablet.store().jobs_for_account(account).unwrap();
    let (job, other_job) = (&jobs[0], &jobs[1]);
    let mut written = InvoiceForm::for_job(job);
    written.lines = vec![InvoiceLineForm {
        description: "Pump seal".into(),
        quantity: "".into(),
        unit_price: "120.00".into(),
    }];
    written.tax_rate = "8.25".into();

    // Until the server has said the tablet's number, it cannot number invoices.
    let err = tablet.issue_invoice(now(), &written).unwrap_err();
    assert!(matches!(err, AppError::NoDeviceNumber), "{err}");
    // The server says how far this device's numbers went (the tablet was signed out since).
    tablet.remember_device_number(7, 40).unwrap();
    let (invoice, _) = tablet.issue_invoice(now(), &written).unwrap();
    assert!(invoice.number.starts_with("INV-7-"), "{}", invoice.number);
    assert!(seq_of(&invoice.number) > 40, "{}", invoice.number);
    assert_eq!(invoice.total().to_string(), "129.90");
    assert_eq!(invoice.created_by, tablet.author().user);
    let (again, _) = tablet.issue_invoice(now(), &written).unwrap();
    assert_eq!(again, invoice, "the same form issues one invoice");
    let mut second = InvoiceForm::for_job(job);
    second.lines[0] = InvoiceLineForm {
        description: "Filter".into(),
        quantity: "2".into(),
        unit_price: "12.50".into(),
    };
    second.lines.truncate(1);
    let (next, _) = tablet.issue_invoice(now(), &second).unwrap();
    assert_eq!(seq_of(&next.number), seq_of(&invoice.number) + 1);

    // Bad forms are refused with the reason, and issue nothing.
    let mut bad = InvoiceForm::for_job(job);
    bad.lines = vec![InvoiceLineForm {
        description: "Refund".into(),
        quantity: "1".into(),
        unit_price: "-5".into(),
    }];
    let err = tablet.issue_invoice(now(), &bad).unwrap_err();
    assert!(err.to_string().contains("must not be negative"), "{err}");
    bad.lines.clear();
    let err = tablet.issue_invoice(now(), &bad).unwrap_err();
    assert!(
        err.to_string().contains("an invoice line is required"),
        "{err}"
    );

    // The packet offers the oldest invoice still owed as the payment's default.
    let packet = crate::queries::job_packet(tablet.store(), job.id).unwrap();
    let default = packet.open_invoice().map(|i| i.id);
    assert!(default.is_some());
    // A payment for an invoice of another job is refused.
    let wrong = PaymentForm {
        job: Some(other_job.id),
        invoice: Some(invoice.id),
        ..form(account, "10")
    };
    assert!(matches!(
        tablet.record_payment(now(), &wrong),
        Err(AppError::NotFound(_))
    ));
    let pay = PaymentForm {
        job: Some(job.id),
        invoice: Some(invoice.id),
        ..form(account, "150")
    };
    tablet.record_payment(now(), &pay).unwrap();
    let view = crate::queries::invoice_view(tablet.store(), &invoice.number).unwrap();
    assert_eq!(
        view.standing.status,
        fieldsync_protocol::InvoiceStatus::Paid
    );
    assert_eq!(view.payments.len(), 1);
    assert_eq!(
        view.payments[0].1.to_string(),
        "129.90",
        "the rest is credit"
    );
    let ledger = tablet.store().ledger(account).unwrap();
    assert!(ledger.unapplied_credit >= "20.10".parse().unwrap());

    let path = crate::documents::write_invoice_pdf(&tablet, invoice.id).unwrap();
    assert!(path.starts_with(dir.path()), "{}", path.display());
    let pdf = lopdf::Document::load(&path).unwrap();
    let pages: Vec<u32> = pdf.get_pages().keys().copied().collect();
    let text = pdf.extract_text(&pages).unwrap();
    assert!(
        text.contains(&invoice.number) && text.contains("$129.90"),
        "{text}"
    );
}
