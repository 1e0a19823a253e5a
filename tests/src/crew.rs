//! The small company most end-to-end tests start from: generated accounts and jobs, Tess and
//! Theo (technicians) both assigned to the first job of the first account, and Dana (office),
//! each with one registered device.

use std::path::Path;

use fieldsync_protocol::{AccountId, JobId, Record, Role, Timestamp, UserId, Writer};
use fieldsync_store::Store;

use fieldsync_server::serving::Serving;

use crate::demo::{self, Rng};
use crate::{ServingExt as _, TestServer};

/// A user with one registered device.
#[derive(Debug)]
pub struct Person {
    /// The user.
    pub user: UserId,
    /// Their name.
    pub name: String,
    /// Their role.
    pub role: Role,
    /// Their device's token.
    pub token: String,
}

impl Person {
    /// Them writing on their device (a new actor each time: another device of theirs).
    pub fn writer(&self) -> Writer {
        Writer::new(self.role, self.user, self.name.clone())
    }
}

/// What [`seed`] made.
#[derive(Debug)]
pub struct Crew {
    /// A technician.
    pub tess: Person,
    /// Another technician.
    pub theo: Person,
    /// The office.
    pub dana: Person,
    /// The job assigned to both technicians.
    pub job: JobId,
    /// Its account.
    pub account: AccountId,
}

/// Seeds the database at `path`: `accounts` generated accounts with `jobs` jobs each (from
/// `seed`), the three people with their devices, and the shared job assigned at `now`.
pub fn seed(path: &Path, seed: u64, accounts: usize, jobs: usize, now: Timestamp) -> Crew {
    let mut store = Store::open(path).unwrap();
    demo::seed_company(&mut store, &mut Rng::new(seed), accounts, jobs);
    let tx = store.transaction().unwrap();
    let mut people = Vec::new();
    for (name, role) in [
        ("tess", Role::Technician),
        ("theo", Role::Technician),
        ("dana", Role::Office),
    ] {
        let user = tx.add_user(name, role, None).unwrap();
        let (token, hash) = fieldsync_server::auth::new_device_token();
        tx.add_device(user.id, &format!("{name}'s tablet"), hash)
            .unwrap();
        people.push(Person {
            user: user.id,
            name: name.into(),
            role,
            token,
        });
    }
    tx.commit().unwrap();
    let account = store.accounts().unwrap()[0].id;
    let job = store.jobs_for_account(account).unwrap()[0].id;
    let tx = store.transaction().unwrap();
    let mut doc = tx.load(job.into()).unwrap().unwrap();
    let (tess, theo) = (people[0].user, people[1].user);
    let change = people[2]
        .writer()
        .edit(&mut doc, now, |r| {
            if let Record::Job(j) = r {
                j.record.technicians.insert(tess, now);
                j.record.technicians.insert(theo, now);
            }
            Ok(())
        })
        .unwrap()
        .unwrap();
    tx.record_local(job.into(), &mut doc, &change, false)
        .unwrap();
    tx.commit().unwrap();
    let mut people = people.into_iter();
    Crew {
        tess: people.next().unwrap(),
        theo: people.next().unwrap(),
        dana: people.next().unwrap(),
        job,
        account,
    }
}

/// The crew's company served by the real server, over a database in its own temporary
/// directory.
#[derive(Debug)]
pub struct Running {
    /// The server.
    pub server: TestServer,
    /// A technician.
    pub tess: Person,
    /// Another technician.
    pub theo: Person,
    /// The office.
    pub dana: Person,
    /// The job assigned to both technicians.
    pub job: JobId,
    /// Its account.
    pub account: AccountId,
    _dir: tempfile::TempDir,
}

/// [`seed`] into a new database, then the server on it.
pub async fn start(seed_with: u64, accounts: usize, jobs: usize, now: Timestamp) -> Running {
    start_serving(seed_with, accounts, jobs, now, Serving::default().plain()).await
}

/// [`start`], with the server over TLS (a self-signed certificate made for the test).
pub async fn start_tls(seed_with: u64, accounts: usize, jobs: usize, now: Timestamp) -> Running {
    start_serving(
        seed_with,
        accounts,
        jobs,
        now,
        Serving::default().with_test_tls(),
    )
    .await
}

async fn start_serving(
    seed_with: u64,
    accounts: usize,
    jobs: usize,
    now: Timestamp,
    serving: (Serving, Option<(String, String)>),
) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.sqlite3");
    let crew = seed(&path, seed_with, accounts, jobs, now);
    let state = fieldsync_server::AppState::open(&path).unwrap();
    let server = TestServer::start_serving(state, &path, serving)
        .await
        .unwrap();
    Running {
        server,
        tess: crew.tess,
        theo: crew.theo,
        dana: crew.dana,
        job: crew.job,
        account: crew.account,
        _dir: dir,
    }
}
