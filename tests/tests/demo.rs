//! The demo company: realistic, complete, and usable from a tablet straight away.

use std::collections::BTreeSet;

use fieldsync_app::Tablet;
use fieldsync_protocol::{Author, NoteKind, Record};
use fieldsync_store::{Scope, Store};
use fieldsync_tests::TestServer;
use fieldsync_tests::sync_client::SyncClient;

#[tokio::test]
async fn the_demo_company_is_complete_and_a_technician_can_sync_their_day() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.sqlite3");
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(); // a Wednesday
    let summary = {
        let mut store = Store::open(&path).unwrap();
        let summary = fieldsync_server::demo::load(&mut store, today).unwrap();
        assert_eq!(store.accounts().unwrap().len(), 50);
        let mut kinds = BTreeSet::new();
        let (mut jobs, mut invoices, mut payments) = (0, 0, 0);
        for id in store.doc_ids(&Scope::All).unwrap() {
            match store.record(id).unwrap().unwrap() {
                Record::Job(j) => {
                    jobs += 1;
                    invoices += j.invoices.len();
                    kinds.extend(j.notes.values().map(|n| n.kind));
                }
                Record::Site(s) => kinds.extend(s.notes.values().map(|n| n.kind)),
                Record::Account(a) => kinds.extend(a.notes.values().map(|n| n.kind)),
                Record::Payment(_) => payments += 1,
            }
        }
        assert_eq!(jobs, 200);
        assert!(
            invoices > 10 && payments > 10,
            "{invoices} invoices, {payments} payments"
        );
        assert_eq!(
            kinds.len(),
            NoteKind::ALL.len(),
            "notes of every type: {kinds:?}"
        );
        summary
    };
    assert_eq!(summary.tablets.len(), 5);
    assert_eq!(summary.logins.len(), 2);

    let server = TestServer::start_with_db(&path).await.unwrap();
    let (name, _, token) = &summary.tablets[0];
    let user = Store::open(&path)
        .unwrap()
        .user_by_name(name)
        .unwrap()
        .unwrap()
        .0;
    let mut tablet = Tablet::open(
        &dir.path().join("tablet.sqlite3"),
        Author {
            user: user.id,
            name: name.clone(),
        },
    )
    .unwrap();
    SyncClient::sync(server.addr(), token, &mut tablet)
        .await
        .close()
        .await;
    let mine = tablet.store().jobs_for_technician(user.id).unwrap();
    assert!(
        mine.len() >= 30,
        "a technician has a week of jobs: {}",
        mine.len()
    );
    let accounts: BTreeSet<_> = mine.iter().map(|j| j.account).collect();
    let held: BTreeSet<_> = tablet
        .store()
        .accounts()
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(
        held, accounts,
        "exactly the accounts of the technician's jobs"
    );
}
