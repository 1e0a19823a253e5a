//! One device, buggy or hostile, against the real server: each attack gets a clear answer, what
//! is stored stays untouched, nothing panics, and the server goes on serving `/healthz` and a
//! second device. One test per attack, named after it (issue 12; the attacks not closed yet are
//! listed on the issue). The server is reached over TLS, as tablets reach it (issue 14).

use automerge::ActorId;
use fieldsync_protocol::wire::{ClientMessage, DocData, ServerMessage};
use fieldsync_protocol::{
    ContentHash, DocId, Note, NoteId, NoteKind, Payment, PaymentId, PaymentMethod, Record,
    Timestamp, UserId,
};
use fieldsync_store::Store;
use fieldsync_tests::crew;
use fieldsync_tests::sync_client::SyncClient;

/// The crew's company, served: Tess and Theo (technicians) both on one job, and Dana's office
/// device.
type Company = crew::Running;

fn now() -> Timestamp {
    Timestamp(chrono::Utc::now())
}

/// The company, its server over TLS: hostile devices reach a real server as tablets do.
async fn company() -> Company {
    crew::start_tls(12, 2, 1, now()).await
}

/// What a hostile device does, and what the tests check after it.
trait Attacks {
    fn job_change(&self, edit: impl FnOnce(&mut fieldsync_protocol::JobDoc)) -> DocData;
    fn note_change(&self, note: Note) -> DocData;
    fn payment_change(&self, amount: &str, recorded_by: UserId) -> DocData;
    async fn refused(&self, change: DocData) -> String;
    async fn stored(&self, change: DocData);
    async fn push(&self, change: DocData) -> (SyncClient, Vec<fieldsync_protocol::wire::Refusal>);
    fn stored_heads(&self, change: &DocData) -> Option<Vec<automerge::ChangeHash>>;
    async fn still_serving(&self);
}

impl Attacks for Company {
    /// A change making `edit` to the shared job, made on a copy of the server's job as Tess's
    /// tablet holds it, with none of the checks a well-behaved tablet makes first.
    fn job_change(&self, edit: impl FnOnce(&mut fieldsync_protocol::JobDoc)) -> DocData {
        let mut doc = Store::open(self.server.db_path())
            .unwrap()
            .load(self.job.into())
            .unwrap()
            .unwrap();
        let Ok(Record::Job(mut job)) = Record::read(&doc) else {
            panic!("the job reads as a job");
        };
        edit(&mut job);
        unchecked_change(&mut doc, &Record::Job(job))
    }

    /// A change adding `note` to the shared job (see [`Attacks::job_change`]).
    fn note_change(&self, note: Note) -> DocData {
        self.job_change(|job| {
            job.notes.insert(note.id, note);
        })
    }

    /// A new payment on the shared account, made on Tess's device (unchecked), recorded in
    /// `recorded_by`'s name.
    fn payment_change(&self, amount: &str, recorded_by: UserId) -> DocData {
        let payment = Payment {
            id: PaymentId::new(),
            account: self.account,
            job: Some(self.job),
            invoice: None,
            amount: amount.parse().unwrap(),
            method: PaymentMethod::Cash,
            reference: String::new(),
            received_at: now(),
            recorded_by,
            recorded_by_name: "someone".into(),
            credit_applied: Vec::new(),
        };
        unchecked_change(
            &mut automerge::AutoCommit::new(),
            &Record::new_payment(payment),
        )
    }

    /// Tess's device pushes `change`; returns the reason it was refused (the test fails if it
    /// was stored), after checking nothing of it was stored.
    async fn refused(&self, change: DocData) -> String {
        let stored_before = self.stored_heads(&change);
        let (mut tess, refused) = self.push(change.clone()).await;
        assert_eq!(refused.len(), 1, "the change was stored: {refused:?}");
        assert_eq!(self.stored_heads(&change), stored_before, "nothing stored");
        // The connection carries on.
        tess.send(&ClientMessage::Ping { nonce: 5 }).await;
        loop {
            match tess.recv().await {
                Some(ServerMessage::Pong { nonce: 5 }) => break,
                Some(_) => continue,
                None => panic!("the server closed the connection"),
            }
        }
        refused[0].reason.clone()
    }

    /// Tess's device pushes `change`; the test fails unless it is stored.
    async fn stored(&self, change: DocData) {
        let (_, refused) = self.push(change).await;
        assert!(refused.is_empty(), "{refused:?}");
    }

    /// Tess's device connects and pushes `change` as batch 1; the connection and what the
    /// server refused of it.
    async fn push(&self, change: DocData) -> (SyncClient, Vec<fieldsync_protocol::wire::Refusal>) {
        let mut tess = SyncClient::connect_to(&self.server, Some(&self.tess.token))
            .await
            .unwrap();
        tess.hello().await;
        tess.send(&ClientMessage::Push {
            batch: 1,
            changes: vec![change],
        })
        .await;
        let (refused, _) = tess.ack(1).await;
        (tess, refused)
    }

    fn stored_heads(&self, change: &DocData) -> Option<Vec<automerge::ChangeHash>> {
        Store::open(self.server.db_path())
            .unwrap()
            .load(change.doc)
            .unwrap()
            .map(|mut d| d.get_heads())
    }

    /// `/healthz` answers ok and Theo's device still syncs.
    async fn still_serving(&self) {
        let health = self
            .server
            .http_client()
            .get(self.server.url("/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 200, "{:?}", health.text().await);
        let mut theo = SyncClient::connect_to(&self.server, Some(&self.theo.token))
            .await
            .unwrap();
        theo.hello().await;
        theo.close().await;
    }
}

/// A change writing `record` into `doc` as a fresh actor, with none of the checks a
/// well-behaved tablet makes before a change: what a hostile device can send.
fn unchecked_change(doc: &mut automerge::AutoCommit, record: &Record) -> DocData {
    doc.set_actor(ActorId::random());
    record.write(doc).unwrap();
    doc.commit_with(automerge::transaction::CommitOptions::default().with_time(now().millis()));
    let change = doc.get_last_local_change().expect("a change");
    DocData {
        doc: record.doc_id(),
        data: change.raw_bytes().to_vec(),
        attested: None,
    }
}

fn note(author: UserId, text: String) -> Note {
    Note {
        id: NoteId::new(),
        kind: NoteKind::ServicePerformed,
        text,
        author,
        author_name: "tess".into(),
        created_at: now(),
    }
}

#[tokio::test]
async fn a_blob_asked_for_from_past_its_end_gets_an_error_and_every_write_goes_on() {
    let company = company().await;
    let mut device = SyncClient::connect_to(&company.server, Some(&company.dana.token))
        .await
        .unwrap();
    device.hello().await;
    let empty = ContentHash::of(b"");
    device
        .send(&ClientMessage::BlobPut {
            hash: empty,
            total: 0,
            offset: 0,
            bytes: Vec::new(),
        })
        .await;
    for offset in [1, u64::MAX] {
        device
            .send(&ClientMessage::BlobGet {
                hash: empty,
                offset,
            })
            .await;
        loop {
            match device.recv().await {
                Some(ServerMessage::BlobError { message, .. }) => {
                    assert!(message.contains("past the end"), "{message}");
                    break;
                }
                Some(ServerMessage::BlobStatus { .. }) => continue,
                other => panic!("expected a blob error, got {other:?}"),
            }
        }
    }
    company.still_serving().await;
    // Writes go on: a valid note lands.
    let fine = company.note_change(note(company.tess.user, "Checked the valve.".into()));
    company.stored(fine).await;
}

#[tokio::test]
async fn a_note_in_a_colleagues_name_is_refused() {
    let company = company().await;
    let forged = company.note_change(note(company.theo.user, "Theo did it.".into()));
    let why = company.refused(forged).await;
    assert!(
        why.contains("note's author must be the device's own user"),
        "{why}"
    );
    company.still_serving().await;
}

#[tokio::test]
async fn a_payment_recorded_in_a_colleagues_name_is_refused() {
    let company = company().await;
    let forged = company.payment_change("40.00", company.theo.user);
    let why = company.refused(forged).await;
    assert!(why.contains("payment's recorder"), "{why}");
    company.still_serving().await;
}

#[tokio::test]
async fn an_amount_beyond_a_billion_is_refused() {
    let company = company().await;
    let huge = company.payment_change("79228162514264337593543950", company.tess.user);
    let why = company.refused(huge).await;
    assert!(why.contains("at most 1000000000"), "{why}");
    company.still_serving().await;
}

#[tokio::test]
async fn a_note_longer_than_its_limit_is_refused() {
    let company = company().await;
    let long = "x".repeat(fieldsync_protocol::validate::MAX_NOTE_CHARS + 1);
    let why = company
        .refused(company.note_change(note(company.tess.user, long)))
        .await;
    assert!(why.contains("at most 20000 characters"), "{why}");
    company.still_serving().await;
}

#[tokio::test]
async fn deeply_nested_data_hidden_in_a_new_note_is_refused() {
    use automerge::transaction::Transactable;
    let company = company().await;
    let job = DocId::from(company.job);
    let mut document = Store::open(company.server.db_path())
        .unwrap()
        .load(job)
        .unwrap()
        .unwrap();
    let Ok(Record::Job(mut record)) = Record::read(&document) else {
        panic!("the job reads as a job");
    };
    // A well-formed note, and ten thousand maps nested under a key the schema does not have,
    // in one change.
    let hidden = note(company.tess.user, "Looks normal.".into());
    record.notes.insert(hidden.id, hidden.clone());
    document.set_actor(ActorId::random());
    autosurgeon::reconcile(&mut document, &record).unwrap();
    let notes = match automerge::ReadDoc::get(&document, automerge::ROOT, "notes") {
        Ok(Some((automerge::Value::Object(_), id))) => id,
        other => panic!("no notes: {other:?}"),
    };
    let mut obj = match automerge::ReadDoc::get(&document, &notes, hidden.id.to_string()) {
        Ok(Some((automerge::Value::Object(_), id))) => id,
        other => panic!("no note: {other:?}"),
    };
    for _ in 0..10_000 {
        obj = document
            .put_object(&obj, "more", automerge::ObjType::Map)
            .unwrap();
    }
    document.commit();
    let change = DocData {
        doc: job,
        data: document
            .get_last_local_change()
            .unwrap()
            .raw_bytes()
            .to_vec(),
        attested: None,
    };
    let why = company.refused(change).await;
    assert!(
        why.contains(&format!("notes.{}.more is not a field", hidden.id)),
        "{why}"
    );
    company.still_serving().await;
}

#[tokio::test]
async fn an_invoice_under_another_devices_number_or_below_zero_is_refused() {
    let company = company().await;
    let tess_device = Store::open(company.server.db_path())
        .unwrap()
        .devices()
        .unwrap()
        .into_iter()
        .find(|d| d.user.id == company.tess.user)
        .unwrap()
        .number;
    let invoice_change = |number: String, unit_price: &str| {
        let invoice = fieldsync_protocol::Invoice {
            id: fieldsync_protocol::InvoiceId::new(),
            job: company.job,
            number,
            date: fieldsync_protocol::Day(now().0.date_naive()),
            lines: vec![fieldsync_protocol::InvoiceLine {
                description: "Labour".into(),
                quantity: "1".parse().unwrap(),
                unit_price: unit_price.parse().unwrap(),
            }],
            tax_rate: "0".parse().unwrap(),
            voided: None,
            signature: None,
            created_by: company.tess.user,
            created_at: now(),
        };
        company.job_change(|job| {
            job.invoices.insert(invoice.id, invoice);
        })
    };

    // Another tablet's number (an invoice made offline there could carry it too), or the
    // office's: refused, so that two devices' invoices never share a number.
    for device in [tess_device + 1, 0] {
        let forged = invoice_change(format!("INV-{device}-00001"), "80.00");
        let why = company.refused(forged).await;
        assert!(why.contains("is not one of this device's"), "{why}");
    }
    let credit = invoice_change(format!("INV-{tess_device}-00001"), "-80.00");
    let why = company.refused(credit).await;
    assert!(why.contains("invoice total"), "{why}");

    // Under Tess's own number, it is stored.
    let own = invoice_change(format!("INV-{tess_device}-00001"), "80.00");
    company.stored(own).await;
    // The same number once more (a tablet that lost count, or a forger): refused.
    let again = invoice_change(format!("INV-{tess_device}-00001"), "95.00");
    let why = company.refused(again).await;
    assert!(why.contains("is already another invoice's"), "{why}");
    company.still_serving().await;
}

/// A customer "met in the field" (a new account, its site and a job) whose job is assigned to
/// a colleague, or whose account carries an alert: the job and the account are refused, and
/// the customer is in nobody's scope.
#[tokio::test]
async fn a_field_customer_with_a_job_for_a_colleague_or_an_alert_is_refused() {
    use fieldsync_protocol::{
        Account, AccountId, AccountStatus, AccountType, Address, Alert, Job, JobId, JobStatus,
        Party,
    };
    let company = company().await;
    let address = Address {
        line1: "88 Orchard Lane".into(),
        line2: None,
        city: "Springfield".into(),
        region: "IL".into(),
        postal_code: String::new(),
        country: String::new(),
    };
    let account = Account {
        id: AccountId::new(),
        name: "Made up".into(),
        party: Party::Person,
        account_type: AccountType::Customer,
        status: AccountStatus::Active,
        number: String::new(),
        phone: None,
        email: None,
        website: None,
        business_type: None,
        terms_net_days: 0,
        credit_hold: false,
        payment_method: None,
        billing_address: address,
        shipping_address: None,
        rep: None,
        comments: String::new(),
        custom_fields: Default::default(),
        merged_into: None,
        deleted_at: None,
        created_at: now(),
    };
    let site = fieldsync_protocol::SiteId::new();
    let job = Job {
        id: JobId::new(),
        account: account.id,
        site,
        title: "Anything".into(),
        requested_services: Vec::new(),
        pickup_address: None,
        delivery_address: None,
        inventory: Vec::new(),
        estimate: None,
        final_amount: None,
        status: JobStatus::OnSite,
        technicians: [(company.theo.user, now())].into_iter().collect(),
        scheduled_start: None,
        scheduled_end: None,
        created_at: now(),
        contact: None,
    };
    let why = company
        .refused(unchecked_change(
            &mut automerge::AutoCommit::new(),
            &Record::new_job(job),
        ))
        .await;
    assert!(
        why.contains("a job made in the field's technician"),
        "{why}"
    );

    let mut record = Record::new_account(account.clone());
    if let Record::Account(d) = &mut record {
        let alert = Alert {
            id: NoteId::new(),
            text: "Pay me first".into(),
            author: company.tess.user,
            author_name: "tess".into(),
            created_at: now(),
        };
        d.alerts.insert(alert.id, alert);
    }
    let why = company
        .refused(unchecked_change(&mut automerge::AutoCommit::new(), &record))
        .await;
    assert!(why.contains("create a customer with alerts"), "{why}");
    let store = Store::open(company.server.db_path()).unwrap();
    assert!(store.record(account.id.into()).unwrap().is_none());
    company.still_serving().await;
}
