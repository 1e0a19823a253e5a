use automerge::ScalarValue;
use fieldsync_protocol::{AccountId, DocId, JobStatus, Record, Role, ValidationError};

use crate::fixtures::*;
use crate::{Applied, CheckedOutcome, Origin, Store};

fn checked(store: &mut Store, doc: DocId, change: &[u8], role: Role) -> CheckedOutcome {
    let tx = store.transaction().unwrap();
    let outcome = tx.apply_checked(doc, change, role, Origin(3)).unwrap();
    tx.commit().unwrap();
    outcome
}

/// Changes to `doc` pushed by a technician's device in one batch, checked and committed.
fn technician_batch(store: &mut Store, doc: DocId, changes: &[&[u8]]) -> Vec<CheckedOutcome> {
    let batch: Vec<fieldsync_protocol::wire::DocData> = changes
        .iter()
        .map(|data| fieldsync_protocol::wire::DocData {
            doc,
            data: data.to_vec(),
            attested: None,
        })
        .collect();
    let tx = store.transaction().unwrap();
    let outcomes = tx
        .apply_checked_batch(&batch, Role::Technician, Origin(4))
        .unwrap();
    tx.commit().unwrap();
    outcomes
}

fn assert_refused(
    server: &mut HarborAlone,
    doc: DocId,
    change: &[u8],
    role: Role,
) -> ValidationError {
    let before = (
        server.store.latest_seq().unwrap(),
        heads(&server.store, doc),
    );
    let outcome = checked(&mut server.store, doc, change, role);
    let CheckedOutcome::Refused(reason) = outcome else {
        panic!("not refused: {outcome:?}")
    };
    assert_eq!(
        (
            server.store.latest_seq().unwrap(),
            heads(&server.store, doc)
        ),
        before
    );
    reason
}

#[test]
fn apply_checked_refuses_invalid_changes_and_stores_nothing() {
    let mut server = Company::harbor_alone();
    let (payment_doc, payment) = (server.payment.0, &server.payment.1);

    let negative = tamper(&mut payment.clone(), &["record", "amount"], "-5.00");
    let reason = assert_refused(&mut server, payment_doc, negative.raw_bytes(), Role::Office);
    assert!(
        matches!(reason, ValidationError::NotPositive(_)),
        "{reason}"
    );

    let other = ScalarValue::Bytes(AccountId::new().as_bytes().to_vec());
    let moved = tamper(&mut server.payment.1.clone(), &["account"], other);
    let reason = assert_refused(&mut server, payment_doc, moved.raw_bytes(), Role::Office);
    assert_eq!(reason, ValidationError::AccountChanged);

    let (job_doc, job) = (server.job.0, server.job.1.clone());
    let rekinded = tamper(&mut job.clone(), &["kind"], "payment");
    let reason = assert_refused(&mut server, job_doc, rekinded.raw_bytes(), Role::Admin);
    assert!(
        matches!(reason, ValidationError::KindChanged { .. }),
        "{reason}"
    );
    // A document that still reads as its old kind but claims another is refused by kind.
    let rekinded = tamper(&mut job.clone(), &["kind"], "site");
    let reason = assert_refused(&mut server, job_doc, rekinded.raw_bytes(), Role::Admin);
    assert!(
        matches!(
            reason,
            ValidationError::Malformed(_) | ValidationError::KindChanged { .. }
        ),
        "{reason}"
    );

    let reason = assert_refused(&mut server, job_doc, b"not a change", Role::Office);
    assert!(matches!(reason, ValidationError::Malformed(_)));
}

#[test]
fn apply_checked_enforces_the_writers_role() {
    let mut server = Company::harbor_alone();
    let office = writer(Role::Office, "Dana");
    let account_doc = DocId::from(server.account);
    let mut document = server.store.load(account_doc).unwrap().unwrap();
    let renamed = edit(&mut document, &office, |r| {
        let Record::Account(a) = r else {
            unreachable!()
        };
        a.record.name = "Acme Two".into();
    });
    let reason = assert_refused(
        &mut server,
        account_doc,
        renamed.raw_bytes(),
        Role::Technician,
    );
    assert!(
        matches!(
            reason,
            ValidationError::Forbidden {
                role: Role::Technician,
                ..
            }
        ),
        "{reason}"
    );
    // The same change from the office is fine.
    assert!(matches!(
        checked(
            &mut server.store,
            account_doc,
            renamed.raw_bytes(),
            Role::Office
        ),
        CheckedOutcome::Stored(_)
    ));

    // A technician may create a customer met in the field, but not one already merged.
    let mut other = Record::new_account(account("Other"));
    if let Record::Account(d) = &mut other {
        d.record.merged_into = Some(server.account);
    }
    let (_, change) = office.create(&other, now()).unwrap();
    let reason = assert_refused(
        &mut server,
        other.doc_id(),
        change.raw_bytes(),
        Role::Technician,
    );
    assert!(
        matches!(reason, ValidationError::Forbidden { .. }),
        "{reason}"
    );
}

#[test]
fn apply_checked_defers_accepts_and_recognises_changes() {
    let mut server = Company::harbor_alone();
    let technician = writer(Role::Technician, "Tess");
    let (job_doc, mut job) = (server.job.0, server.job.1.clone());
    let en_route = edit(&mut job, &technician, |r| {
        let Record::Job(j) = r else { unreachable!() };
        j.record.status = JobStatus::EnRoute;
    });
    let on_site = edit(&mut job, &technician, |r| {
        let Record::Job(j) = r else { unreachable!() };
        j.record.status = JobStatus::OnSite;
    });
    let latest = server.store.latest_seq().unwrap();

    let outcome = checked(
        &mut server.store,
        job_doc,
        on_site.raw_bytes(),
        Role::Technician,
    );
    assert_eq!(outcome, CheckedOutcome::Deferred);
    assert_eq!(server.store.latest_seq().unwrap(), latest);

    let outcome = checked(
        &mut server.store,
        job_doc,
        en_route.raw_bytes(),
        Role::Technician,
    );
    assert_eq!(
        outcome,
        CheckedOutcome::Stored(Applied {
            new_changes: 1,
            seqs: vec![latest + 1],
            waiting: 0
        })
    );
    let outcome = checked(
        &mut server.store,
        job_doc,
        on_site.raw_bytes(),
        Role::Technician,
    );
    assert!(matches!(outcome, CheckedOutcome::Stored(_)));
    let outcome = checked(
        &mut server.store,
        job_doc,
        on_site.raw_bytes(),
        Role::Technician,
    );
    assert_eq!(outcome, CheckedOutcome::AlreadyHad);

    assert_eq!(heads(&server.store, job_doc), job.get_heads());
    let jobs = server.store.jobs_for_account(server.account).unwrap();
    assert_eq!(jobs[0].status, JobStatus::OnSite);
    let log = server
        .store
        .changes_since(latest, &crate::Scope::All, None, usize::MAX)
        .unwrap();
    assert_eq!(log.docs.len(), 1);
    assert_eq!(log.to, latest + 2);
}

#[test]
fn a_technicians_new_payment_is_accepted() {
    let mut server = Company::harbor_alone();
    let technician = writer(Role::Technician, "Tess");
    let record = Record::new_payment(payment(server.account, "40.10", &person("Ann")));
    let (_, change) = technician.create(&record, now()).unwrap();
    let outcome = checked(
        &mut server.store,
        record.doc_id(),
        change.raw_bytes(),
        Role::Technician,
    );
    assert!(matches!(outcome, CheckedOutcome::Stored(_)), "{outcome:?}");
    assert_eq!(
        server
            .store
            .payments_for_account(server.account)
            .unwrap()
            .len(),
        2
    );
    // Stored under another document id, it is refused.
    let (_, change) = technician
        .create(
            &Record::new_payment(payment(server.account, "1.00", &person("Ann"))),
            now(),
        )
        .unwrap();
    let reason = assert_refused(
        &mut server,
        DocId::new(),
        change.raw_bytes(),
        Role::Technician,
    );
    assert!(
        matches!(reason, ValidationError::IdMismatch { .. }),
        "{reason}"
    );
}

#[test]
fn a_rolled_back_transaction_leaves_no_trace_in_the_cache() {
    let mut server = Company::harbor_alone();
    let technician = writer(Role::Technician, "Tess");
    let (job_doc, mut job) = (server.job.0, server.job.1.clone());
    // Warm the cache with the job.
    let first = edit(&mut job, &technician, |r| {
        let Record::Job(j) = r else { unreachable!() };
        j.record.status = JobStatus::EnRoute;
    });
    checked(
        &mut server.store,
        job_doc,
        first.raw_bytes(),
        Role::Technician,
    );
    let second = edit(&mut job, &technician, |r| {
        let Record::Job(j) = r else { unreachable!() };
        j.record.status = JobStatus::OnSite;
    });
    let latest = server.store.latest_seq().unwrap();
    {
        let tx = server.store.transaction().unwrap();
        let outcome = tx
            .apply_checked(job_doc, second.raw_bytes(), Role::Technician, Origin(3))
            .unwrap();
        assert!(matches!(outcome, CheckedOutcome::Stored(_)));
        // dropped: rolled back
    }
    assert_eq!(server.store.latest_seq().unwrap(), latest);
    assert_ne!(heads(&server.store, job_doc), job.get_heads());
    let outcome = checked(
        &mut server.store,
        job_doc,
        second.raw_bytes(),
        Role::Technician,
    );
    assert!(matches!(outcome, CheckedOutcome::Stored(_)), "{outcome:?}");
    assert_eq!(heads(&server.store, job_doc), job.get_heads());
}

#[test]
fn a_batch_is_judged_change_by_change_as_if_in_order() {
    let mut server = Company::harbor_alone();
    let technician = writer(Role::Technician, "Tess");
    let (job_doc, mut job) = (server.job.0, server.job.1.clone());
    let status = |status: JobStatus| {
        move |r: &mut Record| {
            let Record::Job(j) = r else { unreachable!() };
            j.record.status = status;
        }
    };
    let first = edit(&mut job, &technician, status(JobStatus::EnRoute));
    let second = edit(&mut job, &technician, status(JobStatus::OnSite));
    // A forbidden change on top of `second`, and a change that depends on it.
    let mut rogue = job.clone();
    let forbidden = tamper(&mut rogue, &["record", "title"], "Renamed by a technician");
    let orphan = edit(&mut rogue, &technician, status(JobStatus::OnHold));
    // A valid change on top of `second`, made without the forbidden one.
    let third = edit(&mut job, &technician, status(JobStatus::Completed));
    let new_payment = Record::new_payment(payment(server.account, "12.00", &person("Ann")));
    let (_, created) = technician.create(&new_payment, now()).unwrap();

    let batch: Vec<(DocId, &[u8])> = vec![
        (job_doc, first.raw_bytes()),
        (job_doc, second.raw_bytes()),
        (job_doc, forbidden.raw_bytes()),
        (job_doc, orphan.raw_bytes()),
        (new_payment.doc_id(), created.raw_bytes()),
        (job_doc, third.raw_bytes()),
        (job_doc, first.raw_bytes()),
        (job_doc, b"garbage"),
    ];
    let batch: Vec<fieldsync_protocol::wire::DocData> = batch
        .into_iter()
        .map(|(doc, data)| fieldsync_protocol::wire::DocData {
            doc,
            data: data.to_vec(),
            attested: None,
        })
        .collect();
    let latest = server.store.latest_seq().unwrap();
    let tx = server.store.transaction().unwrap();
    let outcomes = tx
        .apply_checked_batch(&batch, Role::Technician, Origin(4))
        .unwrap();
    tx.commit().unwrap();

    let stored = |seq: u64| {
        CheckedOutcome::Stored(Applied {
            new_changes: 1,
            seqs: vec![seq],
            waiting: 0,
        })
    };
    assert_eq!(outcomes[0], stored(latest + 1));
    assert_eq!(outcomes[1], stored(latest + 2));
    assert!(
        matches!(
            &outcomes[2],
            CheckedOutcome::Refused(ValidationError::Forbidden { .. })
        ),
        "{:?}",
        outcomes[2]
    );
    assert_eq!(outcomes[3], CheckedOutcome::Deferred);
    assert_eq!(outcomes[5], stored(latest + 3));
    assert_eq!(outcomes[4], stored(latest + 4));
    assert_eq!(outcomes[6], CheckedOutcome::AlreadyHad);
    assert!(matches!(
        &outcomes[7],
        CheckedOutcome::Refused(ValidationError::Malformed(_))
    ));

    assert_eq!(heads(&server.store, job_doc), job.get_heads());
    assert_eq!(server.store.latest_seq().unwrap(), latest + 4);
    assert_eq!(
        server.store.jobs_for_account(server.account).unwrap()[0].status,
        JobStatus::Completed
    );
    assert_eq!(
        server
            .store
            .payments_for_account(server.account)
            .unwrap()
            .len(),
        2
    );
    // The stored document reloads from SQLite to the same state as the cached one.
    let mut fresh = Store::open_in_memory().unwrap();
    let page = server
        .store
        .changes_since(0, &crate::Scope::All, None, usize::MAX)
        .unwrap();
    let tx = fresh.transaction().unwrap();
    tx.apply_batch(&page.docs, Origin::REMOTE).unwrap();
    tx.commit().unwrap();
    assert_eq!(heads(&fresh, job_doc), job.get_heads());
}

#[test]
fn a_refused_last_change_does_not_spoil_earlier_ones_of_its_document() {
    let mut server = Company::harbor_alone();
    let technician = writer(Role::Technician, "Tess");
    let (job_doc, mut job) = (server.job.0, server.job.1.clone());
    let first = edit(&mut job, &technician, |r| {
        let Record::Job(j) = r else { unreachable!() };
        j.record.status = JobStatus::EnRoute;
    });
    let forbidden = tamper(&mut job.clone(), &["record", "title"], "Renamed");
    let outcomes = technician_batch(
        &mut server.store,
        job_doc,
        &[first.raw_bytes(), forbidden.raw_bytes()],
    );
    assert!(matches!(outcomes[0], CheckedOutcome::Stored(_)));
    assert!(matches!(outcomes[1], CheckedOutcome::Refused(_)));
    assert_eq!(heads(&server.store, job_doc), job.get_heads());
    let record = server.store.record(job_doc).unwrap().unwrap();
    let Record::Job(j) = record else {
        unreachable!()
    };
    assert_eq!(
        (j.record.status, j.record.title.as_str()),
        (JobStatus::EnRoute, "Annual boiler service")
    );
}

#[test]
fn a_large_batch_checked_on_every_core_stores_what_sequential_checks_would() {
    let mut server = Company::harbor_alone();
    let technician = writer(Role::Technician, "Tess");
    let mut batch = Vec::new();
    for i in 0..40 {
        let record = Record::new_payment(payment(server.account, "2.50", &person("Ann")));
        let doc = record.doc_id();
        let (mut document, change) = technician.create(&record, now()).unwrap();
        batch.push(fieldsync_protocol::wire::DocData {
            doc,
            data: change.raw_bytes().to_vec(),
            attested: None,
        });
        if i % 5 == 0 {
            // Made negative afterwards: refused on whichever core checks it.
            let negative = tamper(&mut document, &["record", "amount"], "-1.00");
            batch.push(fieldsync_protocol::wire::DocData {
                doc,
                data: negative.raw_bytes().to_vec(),
                attested: None,
            });
        }
    }
    let tx = server.store.transaction().unwrap();
    let outcomes = tx
        .apply_checked_batch(&batch, Role::Technician, Origin(4))
        .unwrap();
    tx.commit().unwrap();
    let refused = outcomes
        .iter()
        .filter(|o| matches!(o, CheckedOutcome::Refused(ValidationError::NotPositive(_))))
        .count();
    let stored = outcomes
        .iter()
        .filter(|o| matches!(o, CheckedOutcome::Stored(_)))
        .count();
    let others: Vec<_> = outcomes
        .iter()
        .filter(|o| !matches!(o, CheckedOutcome::Stored(_)))
        .collect();
    assert_eq!((stored, refused, outcomes.len()), (40, 8, 48), "{others:?}");
    assert_eq!(
        server
            .store
            .payments_for_account(server.account)
            .unwrap()
            .len(),
        1 + 40
    );
    let amounts: Vec<String> = server
        .store
        .payments_for_account(server.account)
        .unwrap()
        .iter()
        .map(|p| p.amount.to_string())
        .collect();
    assert!(
        amounts.iter().all(|a| a == "2.50" || a == "25.00"),
        "{amounts:?}"
    );
}

#[test]
fn a_change_that_depends_on_nothing_is_checked_against_the_stored_document_if_there_is_one() {
    let mut server = Company::harbor_alone();
    let job_doc = server.job.0;
    // A change with no dependencies, as if it started a document. Alone it holds no record;
    // merged into the stored job it adds a key the schema does not declare.
    let mut other = automerge::AutoCommit::new();
    let change = tamper(&mut other, &["unrelated"], 1);
    assert!(change.deps().is_empty());

    let stranger = DocId::new();
    let reason = assert_refused(&mut server, stranger, change.raw_bytes(), Role::Office);
    assert!(
        matches!(reason, ValidationError::Required { field: "kind" }),
        "{reason:?}"
    );

    let reason = assert_refused(&mut server, job_doc, change.raw_bytes(), Role::Office);
    assert_eq!(reason, ValidationError::Undeclared("unrelated".into()));
    assert!(!heads(&server.store, job_doc).contains(&change.hash()));
    assert_eq!(
        server.store.jobs_for_account(server.account).unwrap()[0].title,
        "Annual boiler service"
    );
}

#[test]
fn a_refused_change_pushed_twice_in_a_batch_is_refused_both_times() {
    let mut server = Company::harbor_alone();
    let technician = writer(Role::Technician, "Tess");
    let record = Record::new_payment(payment(server.account, "12.00", &person("Ann")));
    let doc = record.doc_id();
    // Alone, `stray` holds no record and is refused as the start of a document; on top of the
    // payment it would be harmless. Its repeat must get the same outcome as its first push.
    let stray = tamper(&mut automerge::AutoCommit::new(), &["unrelated"], 1);
    let (_, created) = technician.create(&record, now()).unwrap();
    let outcomes = technician_batch(
        &mut server.store,
        doc,
        &[stray.raw_bytes(), created.raw_bytes(), stray.raw_bytes()],
    );
    let required = CheckedOutcome::Refused(ValidationError::Required { field: "kind" });
    assert_eq!(outcomes[0], required);
    assert!(
        matches!(outcomes[1], CheckedOutcome::Stored(_)),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[2], required);
    assert_eq!(heads(&server.store, doc), vec![created.hash()]);
}

#[test]
fn a_new_invoice_may_not_take_a_number_another_invoice_has() {
    let mut server = Company::harbor_alone();
    let office = writer(Role::Office, "Dana");
    let (job_doc, mut job) = server.job;
    let numbered = |number: &str| {
        let Record::Job(j) = Record::new_job(crate::fixtures::job(
            server.account,
            fieldsync_protocol::SiteId::new(),
            "Annual boiler service",
        )) else {
            unreachable!()
        };
        let mut made =
            crate::fixtures::invoice(j.record.id, "INV-0-00001", &[("Service", "1", "10")]);
        made.number = number.into();
        made
    };
    let add = |job: &mut automerge::AutoCommit, number: &str| {
        let mut made = numbered(number);
        edit(job, &office, |r| {
            if let Record::Job(j) = r {
                made.job = j.record.id;
                j.invoices.insert(made.id, made);
            }
        })
    };
    let first = add(&mut job, "INV-3-00007");
    let outcome = checked(&mut server.store, job_doc, first.raw_bytes(), Role::Office);
    assert!(matches!(outcome, CheckedOutcome::Stored(_)), "{outcome:?}");

    // The same number again, on the same job or another one, is refused and nothing is stored.
    let before = (
        server.store.latest_seq().unwrap(),
        heads(&server.store, job_doc),
    );
    let again = add(&mut job, "INV-3-00007");
    let outcome = checked(&mut server.store, job_doc, again.raw_bytes(), Role::Office);
    assert!(
        matches!(&outcome, CheckedOutcome::Refused(ValidationError::DuplicateInvoiceNumber(n)) if n == "INV-3-00007"),
        "{outcome:?}"
    );
    assert_eq!(
        (
            server.store.latest_seq().unwrap(),
            heads(&server.store, job_doc)
        ),
        before
    );
    assert_eq!(
        server.store.invoices_numbered("INV-3-00007").unwrap().len(),
        1
    );

    // An edit of the stored invoice (voiding it) keeps its number: not a duplicate.
    let mut fresh = server.store.load(job_doc).unwrap().unwrap();
    let void = edit(&mut fresh, &office, |r| {
        if let Record::Job(j) = r {
            for invoice in j.invoices.values_mut() {
                invoice.voided = Some(fieldsync_protocol::Voided {
                    at: now(),
                    by: fieldsync_protocol::UserId::new(),
                    reason: "typo".into(),
                });
            }
        }
    });
    let outcome = checked(&mut server.store, job_doc, void.raw_bytes(), Role::Office);
    assert!(matches!(outcome, CheckedOutcome::Stored(_)), "{outcome:?}");
    let next = add(&mut fresh, "INV-3-00008");
    let outcome = checked(&mut server.store, job_doc, next.raw_bytes(), Role::Office);
    assert!(matches!(outcome, CheckedOutcome::Stored(_)), "{outcome:?}");
}
