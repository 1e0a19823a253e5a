use std::collections::{BTreeMap, BTreeSet};

use automerge::AutoCommit;
use fieldsync_protocol::wire::DocData;
use fieldsync_protocol::{AccountId, DocId, Record, Role};

use crate::fixtures::*;
use crate::{COMPACT_AFTER, Origin, Scope, Store};

/// Loads each page's data into fresh documents (as a tablet would).
fn replay(pages: &[Vec<DocData>]) -> BTreeMap<DocId, AutoCommit> {
    let mut docs: BTreeMap<DocId, AutoCommit> = BTreeMap::new();
    for page in pages {
        for data in page {
            docs.entry(data.doc)
                .or_default()
                .load_incremental(&data.data)
                .unwrap();
        }
    }
    docs
}

/// Two accounts, each with an account document and a payment; the second payment pushed by
/// device 5.
fn two_accounts() -> (Store, AccountId, AccountId) {
    let office = writer(Role::Office, "Dana");
    let mut store = Store::open_in_memory().unwrap();
    let (a, b) = (
        Record::new_account(account("Acme")),
        Record::new_account(account("Bolt")),
    );
    create(&mut store, &office, &a);
    create(
        &mut store,
        &office,
        &Record::new_payment(payment(a.account(), "10.00", &person("Ann"))),
    );
    create(&mut store, &office, &b);
    let pay = Record::new_payment(payment(b.account(), "12.00", &person("Ann")));
    let (_, change) = writer(Role::Technician, "Tess")
        .create(&pay, now())
        .unwrap();
    let tx = store.transaction().unwrap();
    let outcome = tx
        .apply_checked(
            pay.doc_id(),
            change.raw_bytes(),
            Role::Technician,
            Origin(5),
        )
        .unwrap();
    assert!(matches!(outcome, crate::CheckedOutcome::Stored(_)));
    tx.commit().unwrap();
    (store, a.account(), b.account())
}

#[test]
fn catch_up_respects_scope_and_exclude() {
    let (store, a, b) = two_accounts();
    let only_a = Scope::Accounts(BTreeSet::from([a]));
    let page = store.changes_since(0, &only_a, None, usize::MAX).unwrap();
    assert_eq!((page.to, page.complete), (4, true));
    let docs: BTreeSet<DocId> = page.docs.iter().map(|d| d.doc).collect();
    assert_eq!(docs, store.doc_ids(&only_a).unwrap().into_iter().collect());
    assert_eq!(docs.len(), 2);

    let only_b = Scope::Accounts(BTreeSet::from([b]));
    assert_eq!(
        store
            .changes_since(0, &only_b, None, usize::MAX)
            .unwrap()
            .docs
            .len(),
        2
    );
    let page = store
        .changes_since(0, &only_b, Some(Origin(5)), usize::MAX)
        .unwrap();
    assert_eq!(
        page.docs.len(),
        1,
        "device 5's own payment is not sent back to it"
    );
    assert_eq!(page.docs[0].doc, DocId::from(b));
    assert!(
        store
            .changes_since(4, &Scope::All, None, 1)
            .unwrap()
            .docs
            .is_empty()
    );
}

#[test]
fn catch_up_pages_never_split_a_change_and_load_to_the_same_heads() {
    let (store, _, _) = two_accounts();
    let mut pages = Vec::new();
    let mut after = 0;
    loop {
        let page = store.changes_since(after, &Scope::All, None, 1).unwrap();
        assert_eq!(page.docs.len(), 1, "one change per page at this size");
        assert!(page.to > after);
        pages.push(page.docs);
        after = page.to;
        if page.complete {
            break;
        }
    }
    assert_eq!(pages.len(), 4);
    for (doc, mut replayed) in replay(&pages) {
        let mut stored = store.load(doc).unwrap().unwrap();
        assert_eq!(replayed.get_heads(), stored.get_heads());
    }
}

#[test]
fn compaction_keeps_documents_and_catch_up_identical() {
    let office = writer(Role::Office, "Dana");
    let mut store = Store::open_in_memory().unwrap();
    let record = Record::new_account(account("Acme"));
    let (doc, mut document) = create(&mut store, &office, &record);
    for i in 0..COMPACT_AFTER + 5 {
        let change = edit(&mut document, &office, |r| {
            let Record::Account(a) = r else {
                unreachable!()
            };
            a.record.comments = format!("visit {i}");
        });
        let tx = store.transaction().unwrap();
        tx.record_local(doc, &mut document, &change, false).unwrap();
        tx.commit().unwrap();
    }
    let uncompacted: i64 = store
        .conn()
        .query_row("SELECT uncompacted FROM documents", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        uncompacted, 5,
        "compacted automatically after {COMPACT_AFTER} changes"
    );
    let before = store
        .changes_since(0, &Scope::All, None, usize::MAX)
        .unwrap();

    let tx = store.transaction().unwrap();
    tx.compact(doc).unwrap();
    tx.commit().unwrap();
    let nulls: i64 = store
        .conn()
        .query_row(
            "SELECT count(*) FROM changes WHERE bytes IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(nulls as u64, store.latest_seq().unwrap());

    let mut loaded = store.load(doc).unwrap().unwrap();
    assert_eq!(loaded.get_heads(), document.get_heads());
    assert_eq!(
        Record::read(&loaded).unwrap(),
        Record::read(&document).unwrap()
    );
    let after = store
        .changes_since(0, &Scope::All, None, usize::MAX)
        .unwrap();
    let mut replayed = replay(&[after.docs]);
    assert_eq!(
        replayed.get_mut(&doc).unwrap().get_heads(),
        document.get_heads()
    );
    assert_eq!(after.to, before.to);
    let (snapshots, next) = store.snapshots(&Scope::All, None, usize::MAX).unwrap();
    assert_eq!(next, None);
    assert_eq!(
        AutoCommit::load(&snapshots[0].data).unwrap().get_heads(),
        document.get_heads()
    );
}

#[test]
fn snapshots_page_by_document_id_within_scope() {
    let (store, a, _) = two_accounts();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let (page, next) = store.snapshots(&Scope::All, after, 1).unwrap();
        seen.extend(page.iter().map(|d| d.doc));
        let mut fresh = Store::open_in_memory().unwrap();
        let tx = fresh.transaction().unwrap();
        for data in &page {
            assert_eq!(
                tx.apply(data.doc, &data.data, Origin::REMOTE)
                    .unwrap()
                    .new_changes,
                1
            );
        }
        tx.commit().unwrap();
        match next {
            Some(last) => after = Some(last),
            None => break,
        }
    }
    assert_eq!(seen, store.doc_ids(&Scope::All).unwrap());
    assert_eq!(seen.len(), 4);
    let scoped = store
        .snapshots(&Scope::Accounts(BTreeSet::from([a])), None, usize::MAX)
        .unwrap();
    assert_eq!(scoped.0.len(), 2);
}

#[test]
fn heads_digest_matches_between_replicas_holding_the_same_documents() {
    let (server, a, _) = two_accounts();
    let scope = Scope::Accounts(BTreeSet::from([a]));
    let mut tablet = Store::open_in_memory().unwrap();
    let page = server.changes_since(0, &scope, None, usize::MAX).unwrap();
    let tx = tablet.transaction().unwrap();
    for data in &page.docs {
        tx.apply(data.doc, &data.data, Origin::REMOTE).unwrap();
    }
    tx.commit().unwrap();
    let digest = tablet.heads_digest(&Scope::All).unwrap();
    assert_eq!(digest, server.heads_digest(&scope).unwrap());
    assert_ne!(digest, server.heads_digest(&Scope::All).unwrap());
    assert_ne!(
        digest,
        tablet
            .heads_digest(&Scope::Accounts(BTreeSet::new()))
            .unwrap()
    );
}

#[test]
fn heads_digest_is_the_engines() {
    let (store, a, _) = two_accounts();
    for scope in [Scope::All, Scope::Accounts(BTreeSet::from([a]))] {
        let docs = store.doc_ids(&scope).unwrap().into_iter().map(|doc| {
            let heads = store.load(doc).unwrap().unwrap().get_heads();
            (doc, heads)
        });
        let engine = fieldsync_protocol::engine::heads_digest(docs);
        assert_eq!(store.heads_digest(&scope).unwrap(), engine);
    }
}

#[test]
fn what_the_server_sends_carries_its_attestation_of_each_documents_heads() {
    let (mut store, a, _) = two_accounts();
    let edited = {
        let id = DocId::from(a);
        let mut doc = store.load(id).unwrap().unwrap();
        let change = edit(&mut doc, &writer(Role::Office, "Dana"), |r| {
            if let Record::Account(acc) = r {
                acc.record.name = "Acme Heating".into();
            }
        });
        let tx = store.transaction().unwrap();
        tx.record_local(id, &mut doc, &change, false).unwrap();
        tx.commit().unwrap();
        id
    };
    let page = store
        .changes_since(0, &Scope::All, None, usize::MAX)
        .unwrap();
    let (snapshots, _) = store.snapshots(&Scope::All, None, usize::MAX).unwrap();
    for data in page.docs.iter().chain(&snapshots) {
        let attested = data.attested.clone().expect("every document is attested");
        let heads: Vec<u8> = crate::fixtures::heads(&store, data.doc)
            .iter()
            .flat_map(|h| h.0)
            .collect();
        assert_eq!(attested.heads, heads, "the document's heads when sent");
    }
    // This database (or a copy) takes its own attestations back, once per document however
    // many histories they came from; another database, or other heads, not.
    let shown: Vec<(DocId, fieldsync_protocol::wire::HeadsAttestation)> = page
        .docs
        .iter()
        .chain(&snapshots)
        .map(|d| (d.doc, d.attested.clone().unwrap()))
        .collect();
    let taken = store.check_heads_attestations(&shown);
    assert_eq!(taken.len(), snapshots.len());
    assert_eq!(taken[&edited].len(), 1);
    let other = Store::open_in_memory().unwrap();
    assert!(other.check_heads_attestations(&shown).is_empty());
    let mut forged = shown[0].clone();
    forged.1.heads = vec![7; 32];
    assert!(store.check_heads_attestations(&[forged]).is_empty());
}
