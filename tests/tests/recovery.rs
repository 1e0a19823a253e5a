//! Recovery: a server put back to an older copy of its database loses nothing that a tablet still
//! holds, and every tablet ends up with what the restored server writes afterwards. The real
//! server on loopback over a real SQLite file with the demo company, the office JSON API and the
//! tablet core on real WebSockets.

use std::path::{Path, PathBuf};

use fieldsync_app::Tablet;
use fieldsync_protocol::{Author, JobId, NoteKind, Timestamp, UserId};
use fieldsync_store::Store;
use fieldsync_tests::TestServer;
use fieldsync_tests::api::Api;
use fieldsync_tests::sync_client::SyncClient;
use serde_json::json;

/// The demo company's week is the week of this Wednesday.
const DAY: &str = "2026-11-25";

/// A technician's tablet and what it needs to sync.
struct Technician {
    token: String,
    tablet: Tablet,
    /// A job assigned to this technician.
    job: JobId,
    user: UserId,
}

impl Technician {
    async fn sync(&mut self, server: &TestServer) -> SyncClient {
        SyncClient::sync(server.addr(), &self.token, &mut self.tablet).await
    }

    async fn sync_and_close(&mut self, server: &TestServer) {
        self.sync(server).await.close().await;
    }

    fn note(&mut self, minute: i64, text: &str) {
        self.tablet
            .add_job_note(now(minute), self.job, NoteKind::ServicePerformed, text)
            .unwrap();
    }
}

fn now(minute: i64) -> Timestamp {
    Timestamp::from_millis(1_795_000_000_000 + minute * 60_000).unwrap()
}

/// The demo company in `dir`, with the first two technicians' tablets (not yet synced).
fn company(dir: &Path) -> (PathBuf, Vec<Technician>) {
    let path = dir.join("server.sqlite3");
    let mut store = Store::open(&path).unwrap();
    let day = chrono::NaiveDate::parse_from_str(DAY, "%Y-%m-%d").unwrap();
    let summary = fieldsync_server::demo::load(&mut store, day).unwrap();
    let technicians = summary
        .tablets
        .into_iter()
        .take(2)
        .map(|(name, _, token)| {
            let user = store.user_by_name(&name).unwrap().unwrap().0.id;
            let job = store.jobs_for_technician(user).unwrap()[0].id;
            let tablet =
                Tablet::open(&dir.join(format!("{name}.sqlite3")), Author { user, name }).unwrap();
            Technician {
                token,
                tablet,
                job,
                user,
            }
        })
        .collect();
    (path, technicians)
}

/// Notes' texts on `job` in `store`.
fn notes(store: &Store, job: JobId) -> Vec<String> {
    store
        .notes_for_doc(job.into())
        .unwrap()
        .into_iter()
        .map(|n| n.text)
        .collect()
}

async fn office_note(dana: &Api, job: JobId, text: &str) {
    let note = json!({"on": job, "kind": "service_performed", "text": text});
    dana.post_ok("/api/notes", note, 201).await;
}

/// Copies the database at `from` (closed) to `to`, the way a nightly file backup would.
fn copy_database(from: &Path, to: &Path) {
    let store = Store::open(from).unwrap();
    store.backup_to(to).unwrap();
}

/// Puts the copy at `from` back in place of the database at `to` (closed).
fn put_back(from: &Path, to: &Path) {
    fieldsync_store::restore(from, to).unwrap();
}

/// Restored from last night's copy: a tablet's acknowledged notes come back to the server even
/// though its cursor is older than the copy (found by comparing documents); the other tablet,
/// whose cursor names a history the restored server does not have, gives back the office's
/// notes it holds and its own, and gets what the restored server writes afterwards, whether it
/// wrote less or more than it had lost.
#[tokio::test]
async fn a_server_restored_from_an_older_copy_gets_back_what_tablets_hold() {
    for more_after_restore in [1, 40] {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut techs) = company(dir.path());
        let backup = dir.path().join("last-night.sqlite3");
        let server = TestServer::start_with_db(&path).await.unwrap();
        for tech in &mut techs {
            tech.sync_and_close(&server).await;
        }
        let server = server
            .restart(|db| copy_database(db, &backup))
            .await
            .unwrap();

        // The day's work, all acknowledged and delivered.
        let dana = Api::sign_in(&server, "dana", "dana-office-demo").await;
        let (job_a, job_b) = (techs[0].job, techs[1].job);
        for i in 0..5 {
            techs[0].note(i, &format!("A's note {i}"));
        }
        techs[0].sync_and_close(&server).await;
        for i in 0..3 {
            office_note(&dana, job_b, &format!("office note {i}")).await;
        }
        techs[1].note(10, "B's note");
        techs[1].sync_and_close(&server).await;
        assert_eq!(techs[1].tablet.pending().unwrap(), 0);

        // The disk dies; last night's copy goes back.
        let server = server.restart(|db| put_back(&backup, db)).await.unwrap();
        let dana = Api::sign_in(&server, "dana", "dana-office-demo").await;
        for i in 0..more_after_restore {
            office_note(&dana, job_b, &format!("after the restore {i}")).await;
        }

        for tech in &mut techs {
            tech.sync_and_close(&server).await;
        }
        let store = Store::open(&path).unwrap();
        let on_a = notes(&store, job_a);
        for i in 0..5 {
            assert!(
                on_a.contains(&format!("A's note {i}")),
                "A's acknowledged note {i} was lost ({more_after_restore} written after)"
            );
        }
        let on_tablet = notes(techs[1].tablet.store(), job_b);
        for i in 0..more_after_restore {
            assert!(
                on_tablet.contains(&format!("after the restore {i}")),
                "B never got what the restored server wrote ({more_after_restore} notes)"
            );
        }
        // The office's notes the restore lost come back from B's tablet, which the server
        // had found the same as its own when it held them (its attestation), and so does B's
        // own note written on top of them.
        let on_b = notes(&store, job_b);
        for i in 0..3 {
            assert!(
                on_b.contains(&format!("office note {i}")),
                "office note {i} was lost ({more_after_restore} written after)"
            );
        }
        assert!(on_b.contains(&"B's note".to_string()), "B's note was lost");
        assert!(
            store.quarantined(100).unwrap().is_empty(),
            "nothing refused: {:?}",
            store.quarantined(100).unwrap()
        );
        server.shutdown().await.unwrap();
    }
}

/// The office assigns a job to a technician after last night's copy, while the technician's
/// tablet is connected; it receives the job and goes offline before the server compares
/// documents with it again, then writes on the job, and the copy goes back. The restored
/// server never made that assignment, but the tablet shows the server's attestation of what it
/// sent: the assignment comes back, and the note is taken as written by an assigned
/// technician, nothing refused.
#[tokio::test]
async fn an_assignment_the_restore_lost_comes_back_from_the_tablet_with_the_work_done_under_it() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut techs) = company(dir.path());
    let a = techs[0].user;
    // A job at a customer none of A's jobs is for.
    let job = {
        let store = Store::open(&path).unwrap();
        let theirs = store.technician_accounts(a).unwrap();
        store
            .accounts()
            .unwrap()
            .into_iter()
            .filter(|account| !theirs.contains(&account.id))
            .find_map(|account| store.jobs_for_account(account.id).unwrap().first().cloned())
            .expect("a job for another customer")
            .id
    };
    let backup = dir.path().join("last-night.sqlite3");
    let server = TestServer::start_with_db(&path).await.unwrap();
    techs[0].sync_and_close(&server).await;
    let server = server
        .restart(|db| copy_database(db, &backup))
        .await
        .unwrap();

    // The job goes to A, after the copy, while A is connected.
    let dana = Api::sign_in(&server, "dana", "dana-office-demo").await;
    let tech = &mut techs[0];
    let mut live = tech.sync(&server).await;
    assert!(tech.tablet.store().record(job.into()).unwrap().is_none());
    dana.post_ok(
        &format!("/api/jobs/{job}/assign"),
        json!({"technicians": [a.to_string()]}),
        200,
    )
    .await;
    live.follow(&mut tech.tablet, |t| {
        t.store().record(job.into()).unwrap().is_some()
    })
    .await;
    live.close().await;
    tech.tablet
        .add_job_note(now(2), job, NoteKind::ServicePerformed, "written offline")
        .unwrap();

    let server = server.restart(|db| put_back(&backup, db)).await.unwrap();
    {
        let store = Store::open(&path).unwrap();
        let assigned = store.jobs_for_technician(a).unwrap();
        assert!(
            assigned.iter().all(|j| j.id != job),
            "the copy predates the assignment"
        );
    }
    tech.sync_and_close(&server).await;
    tech.sync_and_close(&server).await;
    assert_eq!(tech.tablet.pending().unwrap(), 0, "nothing left to send");

    let store = Store::open(&path).unwrap();
    assert!(
        store
            .jobs_for_technician(a)
            .unwrap()
            .iter()
            .any(|j| j.id == job),
        "the assignment came back"
    );
    assert!(
        notes(&store, job).contains(&"written offline".to_string()),
        "the note was lost: {:?}",
        notes(&store, job)
    );
    assert!(
        store.quarantined(100).unwrap().is_empty(),
        "nothing refused: {:?}",
        store.quarantined(100).unwrap()
    );
    server.shutdown().await.unwrap();
}

/// Litestream, the real binary, replicating the server's database to a file replica.
struct Litestream {
    config: PathBuf,
    socket: PathBuf,
    process: std::process::Child,
}

impl Litestream {
    /// Starts `litestream replicate` on `db`, into `dir/replica`.
    fn replicate(dir: &Path, db: &Path) -> Litestream {
        let (config, socket) = (dir.join("litestream.yml"), dir.join("litestream.sock"));
        std::fs::write(
            &config,
            format!(
                "socket:\n  enabled: true\n  path: {}\ndbs:\n  - path: {}\n    monitor-interval: 100ms\n    replica:\n      type: file\n      path: {}\n      sync-interval: 100ms\n",
                socket.display(),
                db.display(),
                dir.join("replica").display()
            ),
        )
        .unwrap();
        let process = std::process::Command::new("litestream")
            .args(["replicate", "-config"])
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("litestream is installed (scripts/setup installs it)");
        Litestream {
            config,
            socket,
            process,
        }
    }

    /// Waits until everything committed to `db` so far is in the replica.
    fn wait_replicated(&self, db: &Path) {
        for _ in 0..100 {
            let status = std::process::Command::new("litestream")
                .args(["sync", "-wait", "-timeout", "30", "-socket"])
                .arg(&self.socket)
                .arg(db)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .unwrap();
            if status.success() {
                return;
            }
            // The control socket is not up yet.
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("litestream never confirmed the replica");
    }

    /// `litestream restore` of `db` from the replica `config` names into `to`.
    fn restore(config: &Path, db: &Path, to: &Path) {
        let out = std::process::Command::new("litestream")
            .args(["restore", "-config"])
            .arg(config)
            .arg("-o")
            .arg(to)
            .arg(db)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "litestream restore failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Litestream {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Replicated with Litestream: the server dies with its disk (the database and its log
/// deleted), the replica is restored with `litestream restore` and put in place, and the server
/// starts again. What was replicated is there; what the server stored after the last
/// replication comes back from the tablets that hold it; both tablets get what the office
/// writes afterwards.
#[tokio::test]
async fn a_server_restored_from_its_litestream_replica_converges_with_the_tablets() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut techs) = company(dir.path());
    let litestream = Litestream::replicate(dir.path(), &path);
    let server = TestServer::start_with_db(&path).await.unwrap();
    for tech in &mut techs {
        tech.sync_and_close(&server).await;
    }
    let dana = Api::sign_in(&server, "dana", "dana-office-demo").await;
    let (job_a, job_b) = (techs[0].job, techs[1].job);
    techs[0].note(1, "replicated");
    techs[0].sync_and_close(&server).await;
    office_note(&dana, job_b, "office, replicated").await;
    techs[1].sync_and_close(&server).await;
    litestream.wait_replicated(&path);

    // The last moments before the disk dies: stored and acknowledged, perhaps not replicated.
    techs[0].note(2, "just before the crash");
    techs[0].sync_and_close(&server).await;
    office_note(&dana, job_b, "office, just before the crash").await;
    techs[1].sync_and_close(&server).await;
    assert_eq!(techs[1].tablet.pending().unwrap(), 0);

    let restored = dir.path().join("from-replica.sqlite3");
    let config = litestream.config.clone();
    let server = server
        .restart(|db| {
            drop(litestream);
            for suffix in ["", "-wal", "-shm"] {
                let mut file = db.as_os_str().to_owned();
                file.push(suffix);
                let _ = std::fs::remove_file(std::path::PathBuf::from(file));
            }
            assert!(!db.exists(), "the disk is gone");
            Litestream::restore(&config, db, &restored);
            put_back(&restored, db);
        })
        .await
        .unwrap();
    {
        let store = Store::open(&path).unwrap();
        assert!(notes(&store, job_a).contains(&"replicated".to_string()));
        assert!(notes(&store, job_b).contains(&"office, replicated".to_string()));
    }
    let dana = Api::sign_in(&server, "dana", "dana-office-demo").await;
    office_note(&dana, job_b, "office, after the restore").await;
    for tech in &mut techs {
        tech.sync_and_close(&server).await;
    }
    let store = Store::open(&path).unwrap();
    for text in ["replicated", "just before the crash"] {
        assert!(
            notes(&store, job_a).contains(&text.to_string()),
            "A's {text:?} lost"
        );
    }
    for text in [
        "office, replicated",
        "office, just before the crash",
        "office, after the restore",
    ] {
        assert!(
            notes(&store, job_b).contains(&text.to_string()),
            "{text:?} lost on the server"
        );
        assert!(
            notes(techs[1].tablet.store(), job_b).contains(&text.to_string()),
            "{text:?} not on B's tablet"
        );
    }
    assert!(store.quarantined(100).unwrap().is_empty());
    server.shutdown().await.unwrap();
}

/// A server restart signs nobody out: the office session goes on with the same cookie; signing
/// out then ends it for good, across the next restart too.
#[tokio::test]
async fn office_sessions_survive_a_restart_until_signed_out() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = company(dir.path());
    let server = TestServer::start_with_db(&path).await.unwrap();
    let dana = Api::sign_in(&server, "dana", "dana-office-demo").await;
    assert_eq!(dana.ok("/api/me").await["name"], "dana");
    let server = server.restart(|_| {}).await.unwrap();
    assert_eq!(dana.ok("/api/me").await["name"], "dana", "still signed in");
    dana.post_ok("/api/logout", json!({}), 200).await;
    let server = server.restart(|_| {}).await.unwrap();
    assert_eq!(
        dana.get("/api/me").await.0,
        401,
        "signed out stays signed out"
    );
    server.shutdown().await.unwrap();
}

/// A backup taken online while both tablets push (SQLite's backup API, from another process's
/// connection, as `fieldsync-server backup` does) is a consistent copy: restored, the server
/// starts on it and gets back from the tablets whatever it lacks.
#[tokio::test]
async fn a_backup_taken_while_tablets_push_restores_and_converges() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut techs) = company(dir.path());
    let backup = dir.path().join("online.sqlite3");
    let server = TestServer::start_with_db(&path).await.unwrap();
    for tech in &mut techs {
        tech.sync_and_close(&server).await;
    }
    let taker = {
        let (path, backup) = (path.clone(), backup.clone());
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            Store::open(&path).unwrap().backup_to(&backup).unwrap()
        })
    };
    for i in 0..12 {
        for (t, tech) in techs.iter_mut().enumerate() {
            tech.note(i, &format!("tech {t} note {i}"));
            tech.sync_and_close(&server).await;
        }
    }
    let taken = taker.join().unwrap();
    assert!(taken.latest_seq > 0);

    let server = server.restart(|db| put_back(&backup, db)).await.unwrap();
    for _ in 0..2 {
        for tech in &mut techs {
            tech.sync_and_close(&server).await;
        }
    }
    let store = Store::open(&path).unwrap();
    for (t, tech) in techs.iter().enumerate() {
        let on_job = notes(&store, tech.job);
        for i in 0..12 {
            let text = format!("tech {t} note {i}");
            assert_eq!(
                on_job.iter().filter(|n| **n == text).count(),
                1,
                "{text:?} on the server once"
            );
        }
        assert_eq!(tech.tablet.pending().unwrap(), 0);
    }
    assert!(store.quarantined(100).unwrap().is_empty());
    server.shutdown().await.unwrap();
}
