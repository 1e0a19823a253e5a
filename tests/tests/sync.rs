//! The `/sync` endpoint end to end: the real server on 127.0.0.1:0 over a real SQLite file,
//! real WebSocket clients, the tablet core on its own SQLite files.

use fieldsync_app::Tablet;
use fieldsync_protocol::wire::{
    ClientMessage, DocData, ErrorCode, PROTOCOL_VERSION, ServerMessage,
};
use fieldsync_protocol::{
    AccountId, Author, DocId, JobId, JobStatus, NoteKind, PaymentMethod, Record, Timestamp, Writer,
};
use fieldsync_store::{Scope, Store};
use fieldsync_tests::TestServer;
use fieldsync_tests::crew::{self, Person};
use fieldsync_tests::sync_client::SyncClient;

/// The crew's company, served.
type World = crew::Running;

fn now() -> Timestamp {
    Timestamp::from_millis(1_790_000_000_000).unwrap()
}

async fn world() -> World {
    crew::start(now()).await
}

fn tablet(dir: &tempfile::TempDir, person: &Person) -> Tablet {
    let author = Author {
        user: person.user,
        name: person.name.clone(),
    };
    Tablet::open(&dir.path().join(format!("{}.sqlite3", person.name)), author).unwrap()
}

fn job_of(tablet: &Tablet, job: JobId) -> fieldsync_protocol::JobDoc {
    match tablet.store().record(job.into()).unwrap() {
        Some(Record::Job(j)) => j,
        other => panic!("job not on the tablet: {other:?}"),
    }
}

/// Tess's device, connected and caught up, and a writer making changes as Tess would.
async fn tess_connected(world: &World) -> (SyncClient, Writer) {
    let mut client = SyncClient::connect(world.server.addr(), Some(&world.tess.token))
        .await
        .unwrap();
    client.hello().await;
    (client, world.tess.writer())
}

/// A payment Tess records on `job` of `account` at `at`, as a change to push.
fn tess_payment(
    world: &World,
    (account, job): (AccountId, JobId),
    amount: &str,
    at: Timestamp,
) -> DocData {
    let tech = world.tess.writer();
    let payment = fieldsync_protocol::Payment {
        id: fieldsync_protocol::PaymentId::new(),
        account,
        job: Some(job),
        invoice: None,
        amount: amount.parse().unwrap(),
        method: PaymentMethod::Card,
        reference: "on site".into(),
        received_at: at,
        recorded_by: world.tess.user,
        recorded_by_name: "tess".into(),
        credit_applied: Vec::new(),
    };
    let (_, mut change) = tech
        .create(&Record::new_payment(payment.clone()), at)
        .unwrap();
    DocData {
        doc: payment.id.into(),
        data: change.bytes().to_vec(),
        attested: None,
    }
}

#[tokio::test]
async fn two_tablets_edit_the_same_job_offline_and_converge_through_the_server() {
    let world = world().await;
    let addr = world.server.addr();
    let dir = tempfile::tempdir().unwrap();
    let mut tess = tablet(&dir, &world.tess);
    let mut theo = tablet(&dir, &world.theo);
    SyncClient::sync(addr, &world.tess.token, &mut tess)
        .await
        .close()
        .await;
    SyncClient::sync(addr, &world.theo.token, &mut theo)
        .await
        .close()
        .await;
    assert_eq!(job_of(&tess, world.job).record.status, JobStatus::OnSite);

    // Offline: Tess finishes the boiler, Theo writes a note and records a payment.
    tess.set_job_status(now(), world.job, JobStatus::Completed)
        .unwrap();
    theo.add_job_note(
        now(),
        world.job,
        NoteKind::ServicePerformed,
        "Replaced the filter",
    )
    .unwrap();
    let mut form = fieldsync_app::PaymentForm::new(world.account, Some(world.job));
    form.amount = "85.00".into();
    form.method = PaymentMethod::Card;
    theo.record_payment(now(), &form).unwrap();
    theo.record_payment(now(), &form).unwrap(); // a double tap
    assert_eq!((tess.pending().unwrap(), theo.pending().unwrap()), (1, 2));

    // Coverage returns: Tess first, and she stays connected; Theo's work reaches her live.
    let mut live = SyncClient::sync(addr, &world.tess.token, &mut tess).await;
    let theo_connection = SyncClient::sync(addr, &world.theo.token, &mut theo).await;
    let job = world.job;
    live.follow(&mut tess, |t| {
        job_of(t, job)
            .notes
            .values()
            .any(|n| n.text == "Replaced the filter")
    })
    .await;
    let (account, payment) = (world.account, form.id);
    live.follow(&mut tess, |t| {
        t.store()
            .payments_for_account(account)
            .unwrap()
            .iter()
            .any(|p| p.id == payment)
    })
    .await;
    theo_connection.close().await;
    let mut theo_again = SyncClient::sync(addr, &world.theo.token, &mut theo).await;
    theo_again
        .follow(&mut theo, |t| {
            job_of(t, job).record.status == JobStatus::Completed
        })
        .await;

    for tablet in [&tess, &theo] {
        let merged = job_of(tablet, world.job);
        assert_eq!(merged.record.status, JobStatus::Completed);
        let filter: Vec<_> = merged
            .notes
            .values()
            .filter(|n| n.text == "Replaced the filter")
            .collect();
        assert_eq!(filter.len(), 1, "the note is there once");
        assert!(
            merged
                .notes
                .values()
                .any(|n| n.text == "Status changed from On site to Completed.")
        );
        assert_eq!(tablet.pending().unwrap(), 0);
    }
    let server = Store::open(world.server.db_path()).unwrap();
    let payments = server.payments_for_account(world.account).unwrap();
    let recorded: Vec<_> = payments
        .iter()
        .filter(|p| p.amount.to_string() == "85.00")
        .collect();
    assert_eq!(
        recorded.len(),
        1,
        "the payment is on the server exactly once"
    );
    assert_eq!(
        server.ledger(world.account).unwrap(),
        tess.store().ledger(world.account).unwrap(),
        "the balance is the same on the server and the tablet"
    );
}

#[tokio::test]
async fn missing_wrong_and_revoked_tokens_are_refused_at_the_upgrade() {
    let world = world().await;
    let addr = world.server.addr();
    let missing = SyncClient::connect(addr, None).await.unwrap_err();
    assert_eq!(missing.status, 401);
    assert!(missing.body.contains("missing"), "{}", missing.body);
    let wrong = SyncClient::connect(
        addr,
        Some("fsd_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
    )
    .await
    .unwrap_err();
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("not recognised"), "{}", wrong.body);
    let junk = SyncClient::connect(addr, Some("hunter2"))
        .await
        .unwrap_err();
    assert_eq!(junk.status, 401);

    let devices = Store::open(world.server.db_path())
        .unwrap()
        .devices()
        .unwrap();
    let tess_device = devices
        .iter()
        .find(|d| d.user.id == world.tess.user)
        .unwrap()
        .id;
    {
        let mut store = Store::open(world.server.db_path()).unwrap();
        let tx = store.transaction().unwrap();
        assert!(tx.revoke_device(tess_device).unwrap());
        tx.commit().unwrap();
    }
    let revoked = SyncClient::connect(addr, Some(&world.tess.token))
        .await
        .unwrap_err();
    assert_eq!(revoked.status, 401);
    assert!(revoked.body.contains("revoked"), "{}", revoked.body);
    // Others are still served.
    assert!(
        SyncClient::connect(addr, Some(&world.theo.token))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn an_old_protocol_version_is_told_to_update() {
    let world = world().await;
    let mut client = SyncClient::connect(world.server.addr(), Some(&world.theo.token))
        .await
        .unwrap();
    client
        .send(&ClientMessage::Hello {
            version: PROTOCOL_VERSION + 100,
            cursor: None,
        })
        .await;
    match client.recv().await {
        Some(ServerMessage::Error {
            code: ErrorCode::UpgradeRequired,
            message,
        }) => {
            assert!(message.contains("update"), "{message}");
        }
        other => panic!("expected an upgrade error, got {other:?}"),
    }
    assert_eq!(
        client.recv().await,
        None,
        "the server closes the connection"
    );
}

#[tokio::test]
async fn a_malformed_frame_gets_an_error_and_the_connection_carries_on() {
    let world = world().await;
    let mut client = SyncClient::connect(world.server.addr(), Some(&world.dana.token))
        .await
        .unwrap();
    client.hello().await;
    client.send_raw(vec![0xF5, 0xFF, 0xFF, 0xFF, 0x00]).await;
    match client.recv().await {
        Some(ServerMessage::Error {
            code: ErrorCode::Malformed,
            ..
        }) => {}
        other => panic!("expected a malformed-frame error, got {other:?}"),
    }
    client.send(&ClientMessage::Ping { nonce: 42 }).await;
    pong(&mut client, 42).await;
}

#[tokio::test]
async fn invalid_changes_are_refused_with_a_reason_and_kept_aside_while_valid_ones_land() {
    let world = world().await;
    let (mut client, tech) = tess_connected(&world).await;
    // A payment whose amount was made negative behind the app's back.
    let mut form = fieldsync_app::PaymentForm::new(world.account, None);
    form.amount = "10".into();
    let payment = fieldsync_protocol::Payment {
        id: form.id,
        account: world.account,
        job: None,
        invoice: None,
        amount: "10".parse().unwrap(),
        method: PaymentMethod::Cash,
        reference: String::new(),
        received_at: now(),
        recorded_by: world.tess.user,
        recorded_by_name: "tess".into(),
        credit_applied: Vec::new(),
    };
    let (mut doc, mut first) = tech
        .create(&Record::new_payment(payment.clone()), now())
        .unwrap();
    let record = match automerge::ReadDoc::get(&doc, automerge::ROOT, "record").unwrap() {
        Some((_, id)) => id,
        None => unreachable!(),
    };
    automerge::transaction::Transactable::put(&mut doc, &record, "amount", "-10.00").unwrap();
    doc.commit();
    let mut negative = doc.get_last_local_change().unwrap();
    // A payment for a customer none of Tess's jobs is for.
    let foreign = world.quiet;
    let mut other = payment.clone();
    other.id = fieldsync_protocol::PaymentId::new();
    other.account = foreign;
    let (_, mut foreign_change) = tech
        .create(&Record::new_payment(other.clone()), now())
        .unwrap();
    let doc_id = DocId::from(payment.id);
    let changes = vec![
        DocData {
            doc: doc_id,
            data: first.bytes().to_vec(),
            attested: None,
        },
        DocData {
            doc: doc_id,
            data: negative.bytes().to_vec(),
            attested: None,
        },
        DocData {
            doc: other.id.into(),
            data: foreign_change.bytes().to_vec(),
            attested: None,
        },
        DocData {
            doc: DocId::new(),
            data: b"not an automerge change".to_vec(),
            attested: None,
        },
    ];
    client
        .send(&ClientMessage::Push { batch: 1, changes })
        .await;
    let (refused, deferred) = client.ack(1).await;
    assert!(deferred.is_empty());
    let reasons: Vec<(u32, &str)> = refused
        .iter()
        .map(|r| (r.index, r.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(
        reasons[0].0 == 1 && reasons[0].1.contains("positive"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].0 == 2 && reasons[1].1.contains("not among the jobs assigned"),
        "{reasons:?}"
    );
    assert_eq!(reasons[2].0, 3);
    // The valid first change landed, untouched by the refused one after it.
    let server = Store::open(world.server.db_path()).unwrap();
    match server.record(doc_id).unwrap() {
        Some(Record::Payment(p)) => assert_eq!(p.record.amount.to_string(), "10"),
        other => panic!("payment not stored: {other:?}"),
    }
    assert!(server.record(other.id.into()).unwrap().is_none());
    assert_eq!(server.quarantined(10).unwrap().len(), 3);
    client.send(&ClientMessage::Ping { nonce: 7 }).await;
    pong(&mut client, 7).await;
    // Accepted: the payment, and the system note the server writes for it once it is stored
    // (`payment_notes`, a task following the commits: wait for it).
    let mut metrics = String::new();
    for _ in 0..100 {
        let (status, text) = fieldsync_tests::http_get(world.server.addr(), "/metrics")
            .await
            .unwrap();
        assert_eq!(status, 200);
        metrics = text;
        if metrics.contains("fieldsync_changes_accepted_total 2\n") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        metrics.contains("fieldsync_changes_refused_total 3\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("fieldsync_changes_accepted_total 2\n"),
        "{metrics}"
    );
    assert!(metrics.contains("fieldsync_connections 1\n"), "{metrics}");
}

/// Waits for the pong (live `Changes` may come first), proving the connection still serves.
async fn pong(client: &mut SyncClient, nonce: u64) {
    loop {
        match client.recv().await {
            Some(ServerMessage::Pong { nonce: n }) if n == nonce => return,
            Some(ServerMessage::Changes { .. }) => continue,
            other => panic!("expected a pong, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_technician_only_ever_receives_documents_of_their_accounts() {
    let world = world().await;
    let dir = tempfile::tempdir().unwrap();
    let mut tess = tablet(&dir, &world.tess);
    let connection = SyncClient::sync(world.server.addr(), &world.tess.token, &mut tess).await;
    let scope = world.scope(&world.tess);
    assert!(scope.contains(&world.account) && !scope.contains(&world.quiet));
    let held = tess.store().doc_ids(&Scope::All).unwrap();
    assert!(!held.is_empty());
    for id in held {
        let record = tess.store().record(id).unwrap().unwrap();
        assert!(
            scope.contains(&record.account()),
            "{id} is outside Tess's scope"
        );
    }
    let server = Store::open(world.server.db_path()).unwrap();
    let expected = server.doc_ids(&Scope::Accounts(scope)).unwrap();
    assert_eq!(
        tess.store().doc_ids(&Scope::All).unwrap().len(),
        expected.len()
    );
    connection.close().await;
}

/// An office device edits a job through the sync protocol: the change is made on a copy of the
/// server's document, as the office device holds it, and pushed.
async fn office_edit(
    world: &World,
    office: &mut SyncClient,
    job: JobId,
    edit: impl FnOnce(&mut fieldsync_protocol::JobDoc),
    batch: u64,
) {
    let mut doc = {
        let store = Store::open(world.server.db_path()).unwrap();
        store.load(job.into()).unwrap().unwrap()
    };
    let mut change = world
        .dana
        .writer()
        .edit(&mut doc, now(), |r| {
            if let Record::Job(j) = r {
                edit(j);
            }
            Ok(())
        })
        .unwrap()
        .unwrap();
    let changes = vec![DocData {
        doc: job.into(),
        data: change.bytes().to_vec(),
        attested: None,
    }];
    office.send(&ClientMessage::Push { batch, changes }).await;
    let (refused, _) = office.ack(batch).await;
    assert!(refused.is_empty(), "{refused:?}");
}

#[tokio::test]
async fn a_technicians_scope_follows_assignments_live() {
    let world = world().await;
    let addr = world.server.addr();
    let dir = tempfile::tempdir().unwrap();
    let mut tess = tablet(&dir, &world.tess);
    let mut live = SyncClient::sync(addr, &world.tess.token, &mut tess).await;
    // Theo shares Tess's first job and is connected too: Tess's new assignment is hers alone.
    let mut theo = tablet(&dir, &world.theo);
    let mut theo_live = SyncClient::sync(addr, &world.theo.token, &mut theo).await;
    let (tess_scope, theo_scope) = (world.scope(&world.tess), world.scope(&world.theo));
    // The quiet customer's job, which nobody is on.
    let (other_account, other_job) = (world.quiet, world.quiet_job);
    assert!(tess.store().record(other_job.into()).unwrap().is_none());

    let mut office = SyncClient::connect(addr, Some(&world.dana.token))
        .await
        .unwrap();
    office.hello().await;
    let tess_user = world.tess.user;
    office_edit(
        &world,
        &mut office,
        other_job,
        |j| {
            j.record.technicians.insert(tess_user, now());
        },
        1,
    )
    .await;
    // The newly assigned account reaches the tablet live, whole.
    live.follow(&mut tess, |t| {
        t.store().record(other_job.into()).unwrap().is_some()
    })
    .await;
    let expected = Store::open(world.server.db_path())
        .unwrap()
        .doc_ids(&Scope::Accounts([other_account].into()))
        .unwrap();
    for id in &expected {
        assert!(
            tess.store().record(*id).unwrap().is_some(),
            "{id} of the new account is missing"
        );
    }
    for id in tess.store().doc_ids(&Scope::All).unwrap() {
        let account = tess.store().record(id).unwrap().unwrap().account();
        assert!(
            tess_scope.contains(&account) || account == other_account,
            "{id} is outside Tess's scope"
        );
    }
    // A note on the job both share reaches Theo after the assignment: nothing of Tess's new
    // account came before it.
    let note = fieldsync_protocol::Note {
        id: fieldsync_protocol::NoteId::new(),
        kind: fieldsync_protocol::NoteKind::ServiceRequest,
        text: "Gate code changed".into(),
        author: world.dana.user,
        author_name: "dana".into(),
        created_at: now(),
    };
    let note_id = note.id;
    office_edit(
        &world,
        &mut office,
        world.job,
        |j| {
            j.notes.insert(note.id, note);
        },
        3,
    )
    .await;
    theo_live
        .follow(&mut theo, |t| {
            job_of(t, world.job).notes.contains_key(&note_id)
        })
        .await;
    for id in theo.store().doc_ids(&Scope::All).unwrap() {
        let account = theo.store().record(id).unwrap().unwrap().account();
        assert!(
            theo_scope.contains(&account),
            "{id} reached Theo, whose scope did not change"
        );
    }

    // Unassigned: the account leaves the tablet.
    office_edit(
        &world,
        &mut office,
        other_job,
        |j| {
            j.record.technicians.remove(&tess_user);
        },
        4,
    )
    .await;
    live.follow(&mut tess, |t| {
        t.store().record(other_job.into()).unwrap().is_none()
    })
    .await;
    for id in tess.store().doc_ids(&Scope::All).unwrap() {
        let account = tess.store().record(id).unwrap().unwrap().account();
        assert!(tess_scope.contains(&account), "{id} stayed on the tablet");
    }
}

#[tokio::test]
async fn a_device_revoked_while_connected_is_told_and_disconnected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.sqlite3");
    let crew = crew::seed(&path, now());
    let (device, token) = {
        let store = Store::open(&path).unwrap();
        let devices = store.devices().unwrap();
        let device = devices.into_iter().find(|d| d.user.id == crew.tess.user);
        (device.unwrap(), crew.tess.token)
    };
    let state = fieldsync_server::AppState::open(&path)
        .unwrap()
        .with_revocation_check(std::time::Duration::from_millis(50));
    let server = TestServer::start_with_state(state, &path).await.unwrap();
    let mut client = SyncClient::connect(server.addr(), Some(&token))
        .await
        .unwrap();
    client.hello().await;

    // An operator revokes the tablet from the command line: another connection to the file.
    {
        let mut store = Store::open(&path).unwrap();
        let tx = store.transaction().unwrap();
        assert!(tx.revoke_device(device.id).unwrap());
        tx.commit().unwrap();
    }

    match client.recv().await {
        Some(ServerMessage::Error { code, message }) => {
            assert_eq!(code, ErrorCode::Revoked);
            assert!(message.contains("pair"), "{message}");
        }
        other => panic!("expected the revocation to be announced, got {other:?}"),
    }
    assert!(client.recv().await.is_none(), "the connection is closed");
    let again = SyncClient::connect(server.addr(), Some(&token)).await;
    assert_eq!(again.err().map(|r| r.status), Some(401));
}

#[tokio::test]
async fn pushes_sent_back_to_back_are_acknowledged_in_order_each_stored_after_the_one_it_builds_on()
{
    let world = world().await;
    let (mut client, tech) = tess_connected(&world).await;
    let (mut job, payments_before) = {
        let server = Store::open(world.server.db_path()).unwrap();
        let job = server.load(world.job.into()).unwrap().unwrap();
        (
            job,
            server.payments_for_account(world.account).unwrap().len(),
        )
    };
    // Each status change depends on the one before, and each goes in a batch of its own, sent
    // without waiting for the acknowledgements (with a new payment in the middle batch).
    let statuses = [JobStatus::EnRoute, JobStatus::OnSite, JobStatus::Completed];
    for (batch, status) in (1..).zip(statuses) {
        let mut change = tech
            .edit(&mut job, now(), |r| {
                if let Record::Job(j) = r {
                    j.record.status = status;
                }
                Ok(())
            })
            .unwrap()
            .unwrap();
        let mut changes = vec![DocData {
            doc: world.job.into(),
            data: change.bytes().to_vec(),
            attested: None,
        }];
        if batch == 2 {
            changes.push(tess_payment(
                &world,
                (world.account, world.job),
                "45.50",
                now(),
            ));
        }
        client.send(&ClientMessage::Push { batch, changes }).await;
    }
    let mut acks = Vec::new();
    while acks.len() < 3 {
        match client.recv().await {
            Some(ServerMessage::Ack {
                batch,
                refused,
                deferred,
                ..
            }) => {
                assert!(
                    refused.is_empty() && deferred.is_empty(),
                    "{refused:?} {deferred:?}"
                );
                acks.push(batch);
            }
            Some(ServerMessage::Changes { .. }) => continue,
            other => panic!("expected acknowledgements, got {other:?}"),
        }
    }
    assert_eq!(acks, [1, 2, 3]);
    let server = Store::open(world.server.db_path()).unwrap();
    assert_eq!(
        server
            .jobs_for_account(world.account)
            .unwrap()
            .into_iter()
            .find(|j| j.id == world.job)
            .unwrap()
            .status,
        JobStatus::Completed
    );
    assert_eq!(
        server.payments_for_account(world.account).unwrap().len(),
        payments_before + 1
    );
}

#[tokio::test]
async fn offline_work_on_a_job_taken_away_lands_whatever_its_clock_says_and_nothing_once_the_tablet_dropped_it()
 {
    let world = world().await;
    let addr = world.server.addr();
    let tess_user = world.tess.user;
    let dir = tempfile::tempdir().unwrap();
    let mut tess = tablet(&dir, &world.tess);
    SyncClient::sync(addr, &world.tess.token, &mut tess)
        .await
        .close()
        .await;
    // While Tess is offline the office takes her off Lindqvist Dental's job, her only one
    // there; she records two payments on it, one with her tablet's clock an hour ahead.
    let (account, job) = (world.company.dental, world.company.dental_job);
    let mut office = SyncClient::connect(addr, Some(&world.dana.token))
        .await
        .unwrap();
    office.hello().await;
    office_edit(
        &world,
        &mut office,
        job,
        |j| {
            j.record.technicians.remove(&tess_user);
        },
        1,
    )
    .await;
    let mut payments = Vec::new();
    for (amount, ahead) in [("80.00", 0), ("20.00", 1)] {
        let mut form = fieldsync_app::PaymentForm::new(account, Some(job));
        form.amount = amount.into();
        let at = Timestamp(chrono::Utc::now() + chrono::Duration::hours(ahead));
        tess.record_payment(at, &form).unwrap();
        payments.push(form.id);
    }
    // Both land (the server gave her the account and she never said she dropped it), then
    // the account leaves the tablet.
    SyncClient::sync(addr, &world.tess.token, &mut tess)
        .await
        .close()
        .await;
    let server = Store::open(world.server.db_path()).unwrap();
    for id in &payments {
        assert!(server.record((*id).into()).unwrap().is_some());
    }
    assert!(
        tess.store()
            .doc_ids(&Scope::Accounts([account].into()))
            .unwrap()
            .is_empty(),
        "the account left the tablet"
    );
    // Her device said at its last handshake that it holds nothing of the account: a change to
    // it from that device is refused now, backdated or not.
    let backdated = tess_payment(&world, (account, job), "5.00", now());
    let mut device = SyncClient::connect(addr, Some(&world.tess.token))
        .await
        .unwrap();
    device.hello().await;
    device
        .send(&ClientMessage::Push {
            batch: 1,
            changes: vec![backdated.clone()],
        })
        .await;
    let (refused, _) = device.ack(1).await;
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0]
            .reason
            .contains("not among the jobs assigned to you"),
        "{refused:?}"
    );
    assert!(server.record(backdated.doc).unwrap().is_none());
}

#[tokio::test]
async fn a_job_with_many_changes_is_compacted_in_the_background_and_keeps_every_note() {
    let world = world().await;
    let (mut client, tech) = tess_connected(&world).await;
    let db = world.server.db_path().to_owned();
    let mut job = Store::open(&db)
        .unwrap()
        .load(world.job.into())
        .unwrap()
        .unwrap();
    // More single-note changes than a document keeps uncompacted, each acknowledged.
    let notes = fieldsync_store::COMPACT_AFTER as usize + 16;
    for batch in 1..=notes as u64 {
        let mut change = tech
            .edit(&mut job, now(), |r| {
                if let Record::Job(j) = r {
                    let note = fieldsync_store::fixtures::note(
                        NoteKind::ServicePerformed,
                        &format!("Step {batch}"),
                        &tech.author,
                        now(),
                    );
                    j.notes.insert(note.id, note);
                }
                Ok(())
            })
            .unwrap()
            .unwrap();
        let changes = vec![DocData {
            doc: world.job.into(),
            data: change.bytes().to_vec(),
            attested: None,
        }];
        client.send(&ClientMessage::Push { batch, changes }).await;
        loop {
            match client.recv().await {
                Some(ServerMessage::Ack {
                    batch: b, refused, ..
                }) if b == batch => {
                    assert!(refused.is_empty(), "{refused:?}");
                    break;
                }
                Some(_) => continue,
                None => panic!("the connection closed"),
            }
        }
    }
    // The server's compactor re-saves the job within a few of its passes, off the commits.
    let uncompacted = |store: &Store| -> i64 {
        store
            .conn()
            .query_row(
                "SELECT uncompacted FROM documents WHERE id = ?1",
                [world.job.as_bytes()],
                |row| row.get(0),
            )
            .unwrap()
    };
    let store = Store::open(&db).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while uncompacted(&store) > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "not compacted: {} changes",
            uncompacted(&store)
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mut stored = store.load(world.job.into()).unwrap().unwrap();
    assert_eq!(stored.get_heads(), job.get_heads(), "nothing lost or added");
    let Some(Record::Job(j)) = store.record(world.job.into()).unwrap() else {
        panic!("the job is not a job")
    };
    let steps = j
        .notes
        .values()
        .filter(|n| n.text.starts_with("Step "))
        .count();
    assert_eq!(steps, notes);
}
