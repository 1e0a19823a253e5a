//! After every sync a technician's tablet holds exactly the documents of its current scope (the
//! accounts of the jobs assigned to them), however the office assigned, unassigned and
//! reassigned jobs while it was offline; and the work done offline on jobs taken away meanwhile
//! still lands. The real server on loopback over a real SQLite file with the demo company, the
//! office JSON API for dispatch, and the tablet core on real WebSockets.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use fieldsync_app::Tablet;
use fieldsync_protocol::{Author, DocId, JobId, NoteKind, Record, Timestamp, UserId};
use fieldsync_store::{Scope, Store};
use fieldsync_tests::TestServer;
use fieldsync_tests::api::Api;
use fieldsync_tests::demo::Rng;
use fieldsync_tests::sync_client::SyncClient;
use serde_json::json;

/// The demo company's week is the week of this Wednesday.
const DAY: &str = "2026-11-25";
/// Dispatch rounds per test; each ends with every tablet syncing once.
const ROUNDS: usize = 4;
/// Assignments the office changes per round.
const DISPATCHES: usize = 8;

/// A technician with their tablet (the tablet core, on its own SQLite file).
struct Technician {
    user: UserId,
    token: String,
    tablet: Tablet,
    /// Notes written on the tablet offline, by job: each must reach the server.
    notes: Vec<(JobId, String)>,
}

/// The server on the demo company, Dana (office) signed in, and two technicians' tablets.
struct Company {
    path: PathBuf,
    server: TestServer,
    dana: Api,
    technicians: Vec<Technician>,
    /// Every job of the company.
    jobs: Vec<JobId>,
    _dir: tempfile::TempDir,
}

async fn start(path: &Path) -> (TestServer, Api) {
    let server = TestServer::start_with_db(path).await.unwrap();
    let dana = Api::sign_in(&server, "dana", "dana-office-demo").await;
    (server, dana)
}

async fn company() -> Company {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.sqlite3");
    let (tablets, jobs) = {
        let mut store = Store::open(&path).unwrap();
        let day = chrono::NaiveDate::parse_from_str(DAY, "%Y-%m-%d").unwrap();
        let summary = fieldsync_server::demo::load(&mut store, day).unwrap();
        let mut jobs = Vec::new();
        for account in store.accounts().unwrap() {
            jobs.extend(
                store
                    .jobs_for_account(account.id)
                    .unwrap()
                    .iter()
                    .map(|j| j.id),
            );
        }
        let tablets: Vec<(UserId, String, String)> = summary
            .tablets
            .into_iter()
            .take(2)
            .map(|(name, _, token)| {
                (
                    store.user_by_name(&name).unwrap().unwrap().0.id,
                    name,
                    token,
                )
            })
            .collect();
        (tablets, jobs)
    };
    let technicians = tablets
        .into_iter()
        .map(|(user, name, token)| Technician {
            tablet: Tablet::open(
                &dir.path().join(format!("{name}.sqlite3")),
                Author { user, name },
            )
            .unwrap(),
            user,
            token,
            notes: Vec::new(),
        })
        .collect();
    let (server, dana) = start(&path).await;
    Company {
        path,
        server,
        dana,
        technicians,
        jobs,
        _dir: dir,
    }
}

impl Company {
    /// The office, while the tablets are offline, assigns a few random jobs to one, both or
    /// neither of the technicians.
    async fn dispatch(&self, rng: &mut Rng) {
        for _ in 0..DISPATCHES {
            let job = *rng.pick(&self.jobs);
            let technicians: Vec<UserId> = self
                .technicians
                .iter()
                .filter(|_| rng.below(2) == 0)
                .map(|t| t.user)
                .collect();
            self.assign(job, &technicians).await;
        }
    }

    /// The office assigns `job` to exactly `technicians`, on its API.
    async fn assign(&self, job: JobId, technicians: &[UserId]) {
        let technicians: Vec<String> = technicians.iter().map(UserId::to_string).collect();
        self.dana
            .post_ok(
                &format!("/api/jobs/{job}/assign"),
                json!({ "technicians": technicians }),
                200,
            )
            .await;
    }

    /// Stops the server and starts it again on the same file and address (office sessions
    /// live in its memory: Dana signs in again).
    async fn restart(self) -> Company {
        let server = self.server.restart(|_| {}).await.unwrap();
        let dana = Api::sign_in(&server, "dana", "dana-office-demo").await;
        Company {
            server,
            dana,
            ..self
        }
    }

    /// The server's documents of a technician's scope now: their ids and heads digest.
    fn scope_of(&self, user: UserId) -> (BTreeSet<DocId>, [u8; 32]) {
        let store = Store::open(&self.path).unwrap();
        let scope = Scope::Accounts(store.technician_accounts(user).unwrap());
        (
            store.doc_ids(&scope).unwrap().into_iter().collect(),
            store.heads_digest(&scope).unwrap(),
        )
    }

    /// Checks that technician `t`'s tablet, just synced, holds exactly its scope's documents,
    /// as the server has them, and that every note written on it offline is on the server.
    fn check(&self, t: usize, round: usize) {
        let t = &self.technicians[t];
        let store = t.tablet.store();
        let held: BTreeSet<DocId> = store.doc_ids(&Scope::All).unwrap().into_iter().collect();
        let (expected, digest) = self.scope_of(t.user);
        let extra: Vec<_> = held.difference(&expected).collect();
        let missing: Vec<_> = expected.difference(&held).collect();
        assert!(
            extra.is_empty() && missing.is_empty(),
            "round {round}, {}: {} documents outside the scope, {} of it missing",
            t.tablet.author().name,
            extra.len(),
            missing.len()
        );
        assert_eq!(
            store.heads_digest(&Scope::All).unwrap(),
            digest,
            "round {round}: the tablet's documents differ from the server's"
        );
        let server = Store::open(&self.path).unwrap();
        for (job, text) in &t.notes {
            let Some(Record::Job(doc)) = server.record((*job).into()).unwrap() else {
                panic!("job {job} is gone");
            };
            assert!(
                doc.notes.values().any(|n| &n.text == text),
                "round {round}: the note {text:?} written offline never reached the server"
            );
        }
    }

    /// Technician `t` syncs once, and holds exactly their scope.
    async fn sync_and_check(&mut self, t: usize, round: usize) {
        let server = self.server.addr();
        let technician = &mut self.technicians[t];
        SyncClient::sync(server, &technician.token, &mut technician.tablet)
            .await
            .close()
            .await;
        self.check(t, round);
    }
}

impl Technician {
    /// Offline, adds a note to a random job the tablet holds (it may have been taken off it
    /// meanwhile).
    fn work_offline(&mut self, rng: &mut Rng, round: usize) {
        let jobs = self.tablet.store().jobs_for_technician(self.user).unwrap();
        if jobs.is_empty() {
            return;
        }
        let job = rng.pick(&jobs).id;
        let text = format!("round {round}: replaced the filter");
        let now = Timestamp(chrono::Utc::now());
        self.tablet
            .add_job_note(now, job, NoteKind::ServicePerformed, &text)
            .unwrap();
        self.notes.push((job, text));
    }
}

async fn offline_rounds(seed: u64, restart: bool) {
    let mut rng = Rng::new(seed);
    let mut company = company().await;
    for t in 0..company.technicians.len() {
        company.sync_and_check(t, 0).await;
    }
    for round in 1..=ROUNDS {
        for t in &mut company.technicians {
            t.work_offline(&mut rng, round);
        }
        company.dispatch(&mut rng).await;
        if restart {
            company = company.restart().await;
        }
        for t in 0..company.technicians.len() {
            company.sync_and_check(t, round).await;
        }
    }
}

#[tokio::test]
async fn a_tablet_offline_while_jobs_are_assigned_and_taken_away_holds_exactly_its_scope_after_each_sync()
 {
    offline_rounds(18, false).await;
}

#[tokio::test]
async fn the_same_holds_with_the_server_restarted_between_rounds() {
    offline_rounds(1818, true).await;
}

#[tokio::test]
async fn a_job_assigned_overnight_arrives_with_its_customer_and_site_in_one_sync() {
    let mut company = company().await;
    company.sync_and_check(0, 0).await;
    // In the evening the office assigns Tess a job of a customer she has nothing of.
    let tess = company.technicians[0].user;
    let (job, account) = {
        let store = Store::open(&company.path).unwrap();
        let mine = store.technician_accounts(tess).unwrap();
        let account = store
            .accounts()
            .unwrap()
            .into_iter()
            .find(|a| !mine.contains(&a.id))
            .unwrap()
            .id;
        (store.jobs_for_account(account).unwrap()[0].id, account)
    };
    company.assign(job, &[tess]).await;
    // In the morning, one sync.
    company.sync_and_check(0, 1).await;
    let store = company.technicians[0].tablet.store();
    let listed = store.jobs_for_technician(tess).unwrap();
    let listed = listed
        .iter()
        .find(|j| j.id == job)
        .expect("the job is listed");
    assert!(store.account(account).unwrap().is_some(), "its customer");
    assert!(
        store
            .sites_for_account(account)
            .unwrap()
            .iter()
            .any(|s| s.id == listed.site),
        "its site"
    );
}
