//! The story's company (see [`crate::fixtures`]) on the server most end-to-end tests start
//! from: Tess and Theo (technicians) and Dana (office), each with one registered device; Dana
//! has sent Theo to help Tess with Harbor Bakery's boiler service, and the office also has a
//! quiet customer nobody visits this week.

use std::collections::BTreeSet;
use std::path::Path;

use fieldsync_protocol::{AccountId, Author, JobId, Role, Timestamp, UserId, Writer};
use fieldsync_store::Store;

use fieldsync_server::serving::Serving;

use crate::fixtures::{self, People};
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
    /// Harbor Bakery's boiler service, assigned to both technicians.
    pub job: JobId,
    /// Harbor Bakery, in both technicians' scopes.
    pub account: AccountId,
    /// Northgate Library, a customer nobody is assigned to.
    pub quiet: AccountId,
    /// Its job, assigned to nobody.
    pub quiet_job: JobId,
    /// The rest of the story's company.
    pub company: fixtures::Company,
}

/// Seeds the database at `path` with the story's company, the three people with their devices
/// (the story's names and their login names), Theo sent to the boiler service at `now`, and the
/// quiet customer.
pub fn seed(path: &Path, now: Timestamp) -> Crew {
    let mut store = Store::open(path).unwrap();
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
    let story = People::new();
    let author = |person: &Person, named: Author| Author {
        user: person.user,
        ..named
    };
    let company = fixtures::Company::seed(
        &mut store,
        &People {
            tess: author(&people[0], story.tess),
            theo: author(&people[1], story.theo),
            dana: author(&people[2], story.dana),
        },
    );
    company.send_to_boiler(&mut store, people[1].user, now);
    let (quiet, quiet_job) = company.add_quiet_customer(&mut store);
    let mut people = people.into_iter();
    Crew {
        tess: people.next().unwrap(),
        theo: people.next().unwrap(),
        dana: people.next().unwrap(),
        job: company.boiler,
        account: company.harbor,
        quiet,
        quiet_job,
        company,
    }
}

impl Crew {
    /// The accounts `technician` works for (their tablet's scope), as the server has them.
    pub fn scope(path: &Path, technician: UserId) -> BTreeSet<AccountId> {
        Store::open(path)
            .unwrap()
            .technician_accounts(technician)
            .unwrap()
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
    /// Harbor Bakery's boiler service, assigned to both technicians.
    pub job: JobId,
    /// Harbor Bakery, in both technicians' scopes.
    pub account: AccountId,
    /// Northgate Library, a customer nobody is assigned to.
    pub quiet: AccountId,
    /// Its job, assigned to nobody.
    pub quiet_job: JobId,
    /// The rest of the story's company.
    pub company: fixtures::Company,
    _dir: tempfile::TempDir,
}

impl Running {
    /// The accounts `technician` works for (their tablet's scope), as the server has them.
    pub fn scope(&self, technician: &Person) -> BTreeSet<AccountId> {
        Crew::scope(self.server.db_path(), technician.user)
    }
}

/// [`seed`] into a new database, then the server on it.
pub async fn start(now: Timestamp) -> Running {
    start_serving(now, Serving::default().plain()).await
}

/// [`start`], with the server over TLS (a self-signed certificate made for the test).
pub async fn start_tls(now: Timestamp) -> Running {
    start_serving(now, Serving::default().with_test_tls()).await
}

async fn start_serving(now: Timestamp, serving: (Serving, Option<(String, String)>)) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.sqlite3");
    let crew = seed(&path, now);
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
        quiet: crew.quiet,
        quiet_job: crew.quiet_job,
        company: crew.company,
        _dir: dir,
    }
}
