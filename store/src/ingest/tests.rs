use fieldsync_protocol::{DocId, Record, Role};

use crate::fixtures::*;
use crate::{Applied, Origin, Store, StoreError};

fn apply(store: &mut Store, doc: DocId, data: &[u8]) -> Applied {
    let tx = store.transaction().unwrap();
    let applied = tx.apply(doc, data, Origin::REMOTE).unwrap();
    tx.commit().unwrap();
    applied
}

#[test]
fn applied_data_loads_back_with_the_same_heads_and_content() {
    let office = writer(Role::Office, "Dana");
    let record = Record::new_account(account("Acme Plumbing"));
    let doc = record.doc_id();
    let (mut document, _) = office.create(&record, now()).unwrap();
    let mut store = Store::open_in_memory().unwrap();

    let applied = apply(&mut store, doc, &document.save());
    assert_eq!(
        applied,
        Applied {
            new_changes: 1,
            seqs: vec![1],
            waiting: 0
        }
    );
    assert_eq!(heads(&store, doc), document.get_heads());
    assert_eq!(store.record(doc).unwrap(), Some(record));

    let change = edit(&mut document, &office, |r| {
        let Record::Account(a) = r else {
            unreachable!()
        };
        a.record.name = "Acme Heating".into();
    });
    let applied = apply(&mut store, doc, change.raw_bytes());
    assert_eq!(applied.seqs, vec![2]);
    assert_eq!(heads(&store, doc), document.get_heads());
    assert_eq!(store.accounts().unwrap()[0].name, "Acme Heating");
    assert_eq!(
        store.record(doc).unwrap(),
        Some(Record::read(&document).unwrap())
    );
}

#[test]
fn applying_the_same_data_again_stores_nothing() {
    let office = writer(Role::Office, "Dana");
    let record = Record::new_account(account("Acme"));
    let doc = record.doc_id();
    let (mut document, _) = office.create(&record, now()).unwrap();
    let change = edit(&mut document, &office, |r| {
        let Record::Account(a) = r else {
            unreachable!()
        };
        a.record.credit_hold = true;
    });
    let mut store = Store::open_in_memory().unwrap();
    assert_eq!(apply(&mut store, doc, &document.save()).new_changes, 2);
    for data in [
        document.save(),
        change.raw_bytes().to_vec(),
        document.save_after(&[]),
    ] {
        assert_eq!(apply(&mut store, doc, &data), Applied::default());
    }
    assert_eq!(store.latest_seq().unwrap(), 2);
}

#[test]
fn changes_are_stored_in_causal_order_and_gaps_wait() {
    let office = writer(Role::Office, "Dana");
    let record = Record::new_account(account("Acme"));
    let doc = record.doc_id();
    let (mut document, first) = office.create(&record, now()).unwrap();
    let second = edit(&mut document, &office, |r| {
        let Record::Account(a) = r else {
            unreachable!()
        };
        a.record.comments = "gate code 1234".into();
    });
    let mut store = Store::open_in_memory().unwrap();

    // The second change alone cannot be applied: nothing is stored.
    let applied = apply(&mut store, doc, second.raw_bytes());
    assert_eq!(
        applied,
        Applied {
            new_changes: 0,
            seqs: vec![],
            waiting: 1
        }
    );
    assert!(store.load(doc).unwrap().is_none());

    // Both, newest first: stored oldest first.
    let mut data = second.raw_bytes().to_vec();
    data.extend(first.raw_bytes());
    assert_eq!(apply(&mut store, doc, &data).seqs, vec![1, 2]);
    let log = store
        .changes_since(0, &crate::Scope::All, None, usize::MAX)
        .unwrap();
    assert_eq!(
        log.docs[0].data[..first.raw_bytes().len()],
        *first.raw_bytes()
    );
    assert_eq!(heads(&store, doc), document.get_heads());
}

#[test]
fn merging_a_saved_document_into_a_stored_one_records_its_new_changes() {
    let office = writer(Role::Office, "Dana");
    let record = Record::new_account(account("Acme"));
    let doc = record.doc_id();
    let (mut document, _) = office.create(&record, now()).unwrap();
    let mut store = Store::open_in_memory().unwrap();
    apply(&mut store, doc, &document.save());
    for comment in ["one", "two"] {
        edit(&mut document, &office, |r| {
            let Record::Account(a) = r else {
                unreachable!()
            };
            a.record.comments = comment.into();
        });
    }
    let applied = apply(&mut store, doc, &document.save());
    assert_eq!(applied.seqs, vec![2, 3]);
    assert_eq!(heads(&store, doc), document.get_heads());
}

#[test]
fn garbage_data_is_refused_whole() {
    let mut store = Store::open_in_memory().unwrap();
    let doc = DocId::new();
    let tx = store.transaction().unwrap();
    let error = tx
        .apply(doc, b"\x85\x6f\x4a\x83 not really", Origin::REMOTE)
        .unwrap_err();
    assert!(
        matches!(error, StoreError::InvalidData { doc: d, .. } if d == doc),
        "{error}"
    );
    tx.commit().unwrap();
    assert_eq!(store.latest_seq().unwrap(), 0);
}

#[test]
fn record_local_stores_edits_and_anything_the_document_holds_beyond_the_store() {
    let office = writer(Role::Office, "Dana");
    let mut store = Store::open_in_memory().unwrap();
    let record = Record::new_account(account("Acme"));
    let doc = record.doc_id();
    let (mut document, first) = office.create(&record, now()).unwrap();
    let tx = store.transaction().unwrap();
    assert_eq!(
        tx.record_local(doc, &mut document, &first, true).unwrap(),
        1
    );
    // Recording the same change again is harmless.
    assert_eq!(
        tx.record_local(doc, &mut document, &first, true).unwrap(),
        1
    );
    tx.commit().unwrap();

    // Two edits, only the last one recorded: both are stored and queued, in order.
    let comment = |text: &'static str| {
        move |r: &mut Record| {
            let Record::Account(a) = r else {
                unreachable!()
            };
            a.record.comments = text.into();
        }
    };
    let second = edit(&mut document, &office, comment("two"));
    let third = edit(&mut document, &office, comment("three"));
    let tx = store.transaction().unwrap();
    assert_eq!(
        tx.record_local(doc, &mut document, &third, true).unwrap(),
        3
    );
    tx.commit().unwrap();
    assert_eq!(heads(&store, doc), document.get_heads());
    let queued: Vec<[u8; 32]> = store.outbox().unwrap().iter().map(|i| i.hash).collect();
    assert_eq!(
        queued,
        vec![first.hash().0, second.hash().0, third.hash().0]
    );
}

#[test]
fn a_batch_applies_like_one_item_after_another() {
    let office = writer(Role::Office, "Dana");
    let mut documents = Vec::new();
    let mut items = Vec::new();
    for i in 0..40 {
        let record = Record::new_account(account(&format!("Account {i}")));
        let (mut document, first) = office.create(&record, now()).unwrap();
        let second = edit(&mut document, &office, |r| {
            let Record::Account(a) = r else {
                unreachable!()
            };
            a.record.comments = "second".into();
        });
        let doc = record.doc_id();
        // Some as a saved document, some as two changes in separate items.
        if i % 2 == 0 {
            items.push(fieldsync_protocol::wire::DocData {
                doc,
                data: document.save(),
                attested: None,
            });
        } else {
            items.push(fieldsync_protocol::wire::DocData {
                doc,
                data: first.raw_bytes().to_vec(),
                attested: None,
            });
            items.push(fieldsync_protocol::wire::DocData {
                doc,
                data: second.raw_bytes().to_vec(),
                attested: None,
            });
        }
        documents.push((doc, document));
    }
    let mut store = Store::open_in_memory().unwrap();
    let tx = store.transaction().unwrap();
    let applied = tx.apply_batch(&items, Origin::REMOTE).unwrap();
    tx.commit().unwrap();
    assert_eq!(applied.iter().map(|a| a.new_changes).sum::<usize>(), 80);
    assert!(applied.iter().all(|a| a.new_changes > 0 && a.waiting == 0));
    for (doc, mut document) in documents {
        assert_eq!(heads(&store, doc), document.get_heads());
    }
    assert_eq!(store.accounts().unwrap().len(), 40);
    let tx = store.transaction().unwrap();
    let again = tx.apply_batch(&items, Origin::REMOTE).unwrap();
    assert!(again.iter().all(|a| *a == Applied::default()));
}

#[test]
fn changes_held_aside_never_reach_a_snapshot_or_the_cache() {
    let office = writer(Role::Office, "Dana");
    let record = Record::new_account(account("Acme"));
    let doc = record.doc_id();
    let (mut document, first) = office.create(&record, now()).unwrap();
    let mut changes = vec![first];
    for i in 0..crate::COMPACT_AFTER + 3 {
        changes.push(edit(&mut document, &office, |r| {
            let Record::Account(a) = r else {
                unreachable!()
            };
            a.record.comments = format!("visit {i}");
        }));
    }
    let (gap, after_gap) = (changes.len() - 2, changes.len() - 1);
    let mut data = Vec::new();
    for (i, change) in changes.iter().enumerate() {
        if i != gap {
            data.extend(change.raw_bytes());
        }
    }
    let mut store = Store::open_in_memory().unwrap();
    let applied = apply(&mut store, doc, &data);
    assert_eq!(
        (applied.new_changes, applied.waiting),
        (changes.len() - 2, 1)
    );
    // Compacted on the way (more than COMPACT_AFTER changes), without the change held aside.
    let snapshot: Option<Vec<u8>> = store
        .conn()
        .query_row("SELECT snapshot FROM documents", [], |r| r.get(0))
        .unwrap();
    assert!(snapshot.is_some());
    assert_eq!(heads(&store, doc), vec![changes[gap - 1].hash()]);

    let mut rest = changes[gap].raw_bytes().to_vec();
    rest.extend(changes[after_gap].raw_bytes());
    assert_eq!(apply(&mut store, doc, &rest).new_changes, 2);
    assert_eq!(heads(&store, doc), document.get_heads());
}
