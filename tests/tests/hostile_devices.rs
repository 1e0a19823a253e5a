//! One device, buggy or hostile, against the real server: each attack gets a clear answer, what
//! is stored stays untouched, nothing panics, and the server goes on serving `/healthz` and a
//! second device. One test per attack, named after it (issue 12). The server is reached over
//! TLS, as tablets reach it (issue 14). Writing after unassignment with a backdated change is in
//! `sync.rs` (`offline_work_on_a_job_taken_away_lands_whatever_its_clock_says_and_nothing_once_the_tablet_dropped_it`),
//! beside the offline work it must not stop; the boundary is also fuzzed (`fuzz_pushes.rs`).

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
    crew::start_tls(now()).await
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
    use fieldsync_protocol::{Account, AccountId, Address, Alert, Job, JobId, JobStatus, Party};
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
        party: Party::Person,
        terms_net_days: 0,
        billing_address: address,
        ..Account::new(AccountId::new(), "Made up", now())
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

/// `chars` characters of text that compresses poorly: random CJK ideographs (3 bytes each).
fn incompressible(chars: usize, seed: u64) -> String {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..chars)
        .map(|_| char::from_u32(rng.random_range(0x4e00..0x9fa5)).unwrap())
        .collect()
}

/// Tess's device pushes `changes` as `batch` on `device`; what was refused.
async fn push_batch(
    device: &mut SyncClient,
    batch: u64,
    changes: Vec<DocData>,
) -> Vec<fieldsync_protocol::wire::Refusal> {
    device.send(&ClientMessage::Push { batch, changes }).await;
    device.ack(batch).await.0
}

/// A compressed automerge change whose body inflates to 64 MiB of zeros: 65 KB on the wire.
fn compressed_bomb() -> Vec<u8> {
    use std::io::Read;
    let mut deflate = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::copy(&mut std::io::repeat(0).take(64 << 20), &mut deflate).unwrap();
    let body = deflate.finish().unwrap();
    // Magic, checksum, "compressed change", the body's length (LEB128), the body.
    let mut bomb = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 2];
    let mut len = body.len();
    while len >= 0x80 {
        bomb.push((len & 0x7f) as u8 | 0x80);
        len >>= 7;
    }
    bomb.push(len as u8);
    bomb.extend(body);
    bomb
}

#[tokio::test]
async fn a_change_that_inflates_to_gigabytes_is_refused_before_it_is_inflated() {
    let company = company().await;
    let bomb = DocData {
        doc: company.job.into(),
        data: compressed_bomb(),
        attested: None,
    };
    assert!(bomb.data.len() < 100_000, "{} bytes", bomb.data.len());
    let why = company.refused(bomb.clone()).await;
    assert!(
        why.contains("more than 4194304 bytes once inflated"),
        "{why}"
    );

    // The same inside an automerge sync message: ignored, the connection goes on.
    let message = automerge::sync::Message {
        heads: Vec::new(),
        need: Vec::new(),
        have: Vec::new(),
        changes: vec![bomb.data].into(),
        flags: None,
        version: automerge::sync::MessageVersion::V1,
    };
    let mut tess = SyncClient::connect_to(&company.server, Some(&company.tess.token))
        .await
        .unwrap();
    tess.hello().await;
    let before = company.stored_heads(&company.note_change(note(company.tess.user, "x".into())));
    tess.send(&ClientMessage::AmSync {
        doc: company.job.into(),
        message: message.encode(),
    })
    .await;
    tess.send(&ClientMessage::Ping { nonce: 9 }).await;
    while !matches!(tess.recv().await, Some(ServerMessage::Pong { nonce: 9 })) {}
    let after = company.stored_heads(&company.note_change(note(company.tess.user, "x".into())));
    assert_eq!(before, after, "nothing of the job changed");
    company.still_serving().await;
    let fine = company.note_change(note(company.tess.user, "Checked the valve.".into()));
    company.stored(fine).await;
}

#[tokio::test]
async fn a_device_that_keeps_adding_to_one_document_is_stopped_at_its_size_limit() {
    let company = company().await;
    let job = DocId::from(company.job);
    let base = Store::open(company.server.db_path())
        .unwrap()
        .load(job)
        .unwrap()
        .unwrap();
    let Ok(Record::Job(record)) = Record::read(&base) else {
        panic!("the job reads as a job");
    };
    // Notes of 20,000 characters (the most a note may hold), each on the job as Tess's device
    // holds it: 60 KB each as pushed, about 36 KB once the document is compacted, so the 12
    // MiB limit comes after 200 to 350 of them.
    let mut made = 0u64;
    let mut next_note = || {
        made += 1;
        let mut job = record.clone();
        let text = incompressible(fieldsync_protocol::validate::MAX_NOTE_CHARS, made);
        let note = note(company.tess.user, text);
        job.notes.insert(note.id, note);
        unchecked_change(&mut base.clone(), &Record::Job(job))
    };
    let mut tess = SyncClient::connect_to(&company.server, Some(&company.tess.token))
        .await
        .unwrap();
    tess.hello().await;
    let limit = fieldsync_protocol::validate::MAX_DOCUMENT_BYTES;
    let mut refusal = None;
    for batch in 1..=20 {
        let changes: Vec<DocData> = (0..50).map(|_| next_note()).collect();
        let refused = push_batch(&mut tess, batch, changes).await;
        if let Some(first) = refused.first() {
            refusal = Some((batch, first.clone(), refused.len()));
            break;
        }
    }
    let (batch, first, count) = refusal.expect("the document reached its limit");
    assert!(
        batch >= 4,
        "refused early, in batch {batch}: {}",
        first.reason
    );
    assert!(
        first
            .reason
            .contains(&format!("more than the {limit} one document may hold")),
        "{}",
        first.reason
    );
    assert!(count < 50, "the changes within the limit were stored");
    // The server compacts the document in the background (its notes then take less room than
    // as pushed): once it has, the device fills the room that made, and is stopped again.
    let store = Store::open(company.server.db_path()).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while store.due_for_compaction(100).unwrap().contains(&job) {
        assert!(
            std::time::Instant::now() < deadline,
            "not compacted in time"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mut batch = batch;
    let why = loop {
        batch += 1;
        assert!(batch < 1_000, "never full again");
        let refused = push_batch(&mut tess, batch, vec![next_note()]).await;
        if let Some(first) = refused.first() {
            break first.reason.clone();
        }
    };
    assert!(why.contains("one document may hold"), "{why}");
    let heads = company.stored_heads(&next_note());
    // Full: one more note is refused and nothing is stored, but the device carries on and
    // other documents take its changes.
    let why = company.refused(next_note()).await;
    assert!(why.contains("one document may hold"), "{why}");
    assert_eq!(company.stored_heads(&next_note()), heads);
    let payment = company.payment_change("40.00", company.tess.user);
    company.stored(payment).await;
    company.still_serving().await;
}

#[tokio::test]
async fn a_device_that_uploads_images_no_record_names_is_stopped_at_its_quota() {
    let company = company().await;
    let mut tess = SyncClient::connect_to(&company.server, Some(&company.tess.token))
        .await
        .unwrap();
    tess.hello().await;
    let total = fieldsync_protocol::blob::MAX_BLOB_SIZE;
    let quota = fieldsync_store::blobs::MAX_UNNAMED_BYTES_PER_DEVICE;
    // Each blob declares 16 MiB and sends its first chunk: what it declares is reserved.
    let start = async |device: &mut SyncClient, n: u64| {
        let hash = ContentHash::of(&n.to_le_bytes());
        device
            .send(&ClientMessage::BlobPut {
                hash,
                total,
                offset: 0,
                bytes: vec![n as u8; fieldsync_protocol::blob::BLOB_CHUNK],
            })
            .await;
        loop {
            match device.recv().await {
                Some(ServerMessage::BlobStatus { hash: h, .. }) if h == hash => return None,
                Some(ServerMessage::BlobError { hash: h, message }) if h == hash => {
                    return Some(message);
                }
                Some(_) => continue,
                None => panic!("the server closed the connection"),
            }
        }
    };
    let fit = quota / total;
    for n in 0..fit {
        assert_eq!(start(&mut tess, n).await, None, "blob {n} within the quota");
    }
    let why = start(&mut tess, fit).await.expect("past the quota");
    assert!(why.contains("no record names yet"), "{why}");
    assert!(why.contains(&format!("at most {quota}")), "{why}");
    // Another device's quota is its own.
    let mut theo = SyncClient::connect_to(&company.server, Some(&company.theo.token))
        .await
        .unwrap();
    theo.hello().await;
    assert_eq!(start(&mut theo, 1_000).await, None);
    company.still_serving().await;

    // A week later nothing names them: the server's housekeeping collects them, and Tess's
    // device may upload again.
    let mut store = Store::open(company.server.db_path()).unwrap();
    let week = fieldsync_store::blobs::UNNAMED_GRACE_MS;
    let tx = store.transaction().unwrap();
    let (collected, bytes) = tx
        .collect_unnamed_blobs(chrono::Utc::now().timestamp_millis() + week + 1, 1_000)
        .unwrap();
    tx.commit().unwrap();
    assert_eq!(collected as u64, fit + 1, "Tess's and Theo's");
    assert_eq!(bytes, (fit + 1) * total);
    assert_eq!(start(&mut tess, fit).await, None);
}

#[tokio::test]
async fn refused_changes_kept_for_review_are_bounded_per_device_and_expire() {
    let company = company().await;
    let mut tess = SyncClient::connect_to(&company.server, Some(&company.tess.token))
        .await
        .unwrap();
    tess.hello().await;
    // Changes of 3.5 MB each, hiding bytes under a key the job does not have: each refused;
    // 64 MiB of them fill what the server keeps of one device's refusals.
    let junk = |seed: u64| {
        use automerge::transaction::Transactable;
        use rand::{RngCore, SeedableRng};
        let mut bytes = vec![0; 3_500_000];
        rand_chacha::ChaCha8Rng::seed_from_u64(seed).fill_bytes(&mut bytes);
        let mut doc = Store::open(company.server.db_path())
            .unwrap()
            .load(company.job.into())
            .unwrap()
            .unwrap();
        doc.set_actor(ActorId::random());
        doc.put(automerge::ROOT, "junk", bytes).unwrap();
        doc.commit();
        DocData {
            doc: company.job.into(),
            data: doc.get_last_local_change().unwrap().raw_bytes().to_vec(),
            attested: None,
        }
    };
    let mut refused = 0;
    // Three at a time: four in one batch would take the job past its size limit, and the
    // fourth would be refused for that instead.
    for batch in 1..=8 {
        let changes = (0..3).map(|n| junk(batch * 10 + n)).collect();
        refused += push_batch(&mut tess, batch, changes).await.len();
    }
    assert_eq!(refused, 24, "every one refused");
    let mut store = Store::open(company.server.db_path()).unwrap();
    let kept = store.quarantined(100).unwrap();
    assert_eq!(kept.len(), 24, "every refusal is kept, with its reason");
    let bytes: usize = kept.iter().map(|q| q.change.len()).sum();
    let most = fieldsync_store::quarantine::MAX_BYTES_PER_DEVICE as usize;
    assert!(bytes <= most, "{bytes} bytes kept");
    let newest = &kept[0];
    assert!(newest.change.is_empty());
    assert!(
        newest.reason.contains("junk is not a field"),
        "{}",
        newest.reason
    );
    assert!(
        newest.reason.contains("bytes were not kept"),
        "{}",
        newest.reason
    );
    assert!(
        !kept.last().unwrap().change.is_empty(),
        "the first ones keep their bytes"
    );
    company.still_serving().await;

    // Thirty days on, the housekeeping deletes them.
    let tx = store.transaction().unwrap();
    let later = chrono::Utc::now().timestamp_millis() + fieldsync_store::quarantine::RETENTION_MS;
    assert_eq!(tx.expire_quarantine(later + 1).unwrap(), 24);
    tx.commit().unwrap();
    assert!(store.quarantined(10).unwrap().is_empty());
}

#[tokio::test]
async fn sync_messages_past_their_bound_for_one_document_are_ignored() {
    let company = company().await;
    let job = DocId::from(company.job);
    let carrying = |change: &DocData| {
        automerge::sync::Message {
            heads: Vec::new(),
            need: Vec::new(),
            have: Vec::new(),
            changes: vec![change.data.clone()].into(),
            flags: None,
            version: automerge::sync::MessageVersion::V1,
        }
        .encode()
    };
    let empty = automerge::sync::Message {
        heads: Vec::new(),
        need: Vec::new(),
        have: Vec::new(),
        changes: Vec::<Vec<u8>>::new().into(),
        flags: None,
        version: automerge::sync::MessageVersion::V1,
    }
    .encode();
    let mut tess = SyncClient::connect_to(&company.server, Some(&company.tess.token))
        .await
        .unwrap();
    tess.hello().await;
    let bound = fieldsync_protocol::engine::fallback::MAX_RECEIVED;
    for _ in 0..bound {
        tess.send(&ClientMessage::AmSync {
            doc: job,
            message: empty.clone(),
        })
        .await;
    }
    // Past the bound: a valid note in the next message is not even read.
    let note_change = company.note_change(note(company.tess.user, "Late.".into()));
    let heads = company.stored_heads(&note_change);
    tess.send(&ClientMessage::AmSync {
        doc: job,
        message: carrying(&note_change),
    })
    .await;
    tess.send(&ClientMessage::Ping { nonce: 3 }).await;
    while !matches!(tess.recv().await, Some(ServerMessage::Pong { nonce: 3 })) {}
    assert_eq!(company.stored_heads(&note_change), heads, "ignored");
    company.still_serving().await;

    // On a new connection the same message is read, and its note stored.
    let mut again = SyncClient::connect_to(&company.server, Some(&company.tess.token))
        .await
        .unwrap();
    again.hello().await;
    again
        .send(&ClientMessage::AmSync {
            doc: job,
            message: carrying(&note_change),
        })
        .await;
    again.send(&ClientMessage::Ping { nonce: 4 }).await;
    while !matches!(again.recv().await, Some(ServerMessage::Pong { nonce: 4 })) {}
    assert_ne!(company.stored_heads(&note_change), heads, "stored");
}

#[tokio::test]
async fn a_batch_that_fails_in_the_store_fails_alone_and_its_device_is_told_why() {
    let company = company().await;
    let job = DocId::from(company.job);
    // A change to the job, made before its stored bytes are damaged (a disk fault, a bad
    // restore): storing it needs the stored document, which cannot be read any more.
    let change = company.note_change(note(company.tess.user, "Replaced the pump.".into()));
    let store = Store::open(company.server.db_path()).unwrap();
    let changes_of_job = || -> i64 {
        store
            .conn()
            .query_row(
                "SELECT count(*) FROM changes WHERE doc = ?1",
                [job.as_bytes()],
                |row| row.get(0),
            )
            .unwrap()
    };
    let before = changes_of_job();
    store
        .conn()
        .execute_batch(&format!(
            "UPDATE changes SET bytes = x'0badc0de' WHERE doc = x'{0}' AND bytes IS NOT NULL;
             UPDATE documents SET snapshot = x'0badc0de' WHERE id = x'{0}' AND snapshot IS NOT NULL;",
            job.as_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>()
        ))
        .unwrap();

    // Tess's batch and Theo's arrive together; Tess's fails alone.
    let mut tess = SyncClient::connect_to(&company.server, Some(&company.tess.token))
        .await
        .unwrap();
    tess.hello().await;
    let mut theo = SyncClient::connect_to(&company.server, Some(&company.theo.token))
        .await
        .unwrap();
    theo.hello().await;
    let payment = company.payment_change("40.00", company.theo.user);
    tess.send(&ClientMessage::Push {
        batch: 1,
        changes: vec![change],
    })
    .await;
    theo.send(&ClientMessage::Push {
        batch: 1,
        changes: vec![payment.clone()],
    })
    .await;
    let told = loop {
        match tess.recv().await {
            Some(ServerMessage::Error { code, message }) => break (code, message),
            Some(ServerMessage::Ack { .. }) => panic!("Tess's batch was acknowledged"),
            Some(_) => continue,
            None => panic!("closed without a word"),
        }
    };
    assert_eq!(
        told.0,
        fieldsync_protocol::wire::ErrorCode::NotStored,
        "{}",
        told.1
    );
    assert!(
        told.1
            .contains("could not store what this tablet last sent"),
        "{}",
        told.1
    );
    assert!(told.1.contains("stays on this tablet"), "{}", told.1);
    let (refused, deferred) = theo.ack(1).await;
    assert!(
        refused.is_empty() && deferred.is_empty(),
        "{refused:?} {deferred:?}"
    );
    assert!(
        company.stored_heads(&payment).is_some(),
        "Theo's payment is stored"
    );
    assert_eq!(changes_of_job(), before, "nothing of Tess's batch");
    company.still_serving().await;
}

#[tokio::test]
async fn a_change_with_a_colleagues_actor_and_next_sequence_number_is_refused() {
    let company = company().await;
    let stored_job = || {
        Store::open(company.server.db_path())
            .unwrap()
            .load(company.job.into())
            .unwrap()
            .unwrap()
    };
    let with_actor = |doc: &mut automerge::AutoCommit, actor: &ActorId, note: Note| {
        let Ok(Record::Job(mut job)) = Record::read(doc) else {
            panic!("the job reads as a job");
        };
        job.notes.insert(note.id, note);
        doc.set_actor(actor.clone());
        Record::Job(job).write(doc).unwrap();
        doc.commit();
        DocData {
            doc: company.job.into(),
            data: doc.get_last_local_change().unwrap().raw_bytes().to_vec(),
            attested: None,
        }
    };
    // Theo's tablet writes with its actor: the actor is his from then on.
    let theos = ActorId::random();
    let mut job = stored_job();
    let first = with_actor(
        &mut job,
        &theos,
        note(company.theo.user, "Drained the tank.".into()),
    );
    let mut theo = SyncClient::connect_to(&company.server, Some(&company.theo.token))
        .await
        .unwrap();
    theo.hello().await;
    assert!(push_batch(&mut theo, 1, vec![first]).await.is_empty());

    // Tess's device takes Theo's actor and his next sequence number: refused.
    let mut forged_on = stored_job();
    let forged = with_actor(
        &mut forged_on,
        &theos,
        note(company.tess.user, "Theo's next change.".into()),
    );
    let why = company.refused(forged).await;
    assert!(why.contains("another user's automerge actor"), "{why}");

    // Theo's own next change (the same sequence number) is stored, not taken for a duplicate.
    let next = with_actor(
        &mut job,
        &theos,
        note(company.theo.user, "Refilled it.".into()),
    );
    assert!(push_batch(&mut theo, 2, vec![next]).await.is_empty());
    let Ok(Record::Job(stored)) = Record::read(&stored_job()) else {
        panic!("the job reads as a job");
    };
    let texts: Vec<_> = stored.notes.values().map(|n| n.text.as_str()).collect();
    assert!(texts.contains(&"Refilled it."), "{texts:?}");
    assert!(!texts.contains(&"Theo's next change."), "{texts:?}");
    company.still_serving().await;
}
