//! No acknowledged change is ever lost: the server process is killed with SIGKILL in the middle
//! of syncing, again and again; after every restart, everything it acknowledged is there.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use fieldsync_app::Tablet;
use fieldsync_protocol::wire::ServerMessage;
use fieldsync_protocol::{Author, JobId, NoteKind, Timestamp};
use fieldsync_store::Store;
use fieldsync_tests::sync_client::SyncClient;

struct Server {
    child: Child,
    addr: SocketAddr,
}

fn start(db: &std::path::Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fieldsync-server-under-test"))
        .arg(db)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the server process");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening ")
        .expect("the server says where it listens");
    Server {
        child,
        addr: addr.parse().unwrap(),
    }
}

fn now(minute: i64) -> Timestamp {
    Timestamp::from_millis(1_790_000_000_000 + minute * 60_000).unwrap()
}

#[tokio::test]
async fn no_acknowledged_change_is_lost_across_repeated_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.sqlite3");
    let (token, user) = {
        let mut store = Store::open(&db).unwrap();
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let summary = fieldsync_server::demo::load(&mut store, today).unwrap();
        let (name, _, token) = summary.tablets[0].clone();
        (token, store.user_by_name(&name).unwrap().unwrap().0)
    };
    let author = Author {
        user: user.id,
        name: user.name.clone(),
    };
    let mut tablet = Tablet::open(&dir.path().join("tablet.sqlite3"), author).unwrap();
    let mut server = start(&db);
    SyncClient::sync(server.addr, &token, &mut tablet)
        .await
        .close()
        .await;
    let job: JobId = tablet.store().jobs_for_technician(user.id).unwrap()[0].id;

    let mut minute = 0;
    for round in 0..6 {
        // Work offline, then connect and push; kill the server after its first acknowledgement.
        for _ in 0..25 {
            minute += 1;
            tablet
                .add_job_note(
                    now(minute),
                    job,
                    NoteKind::ServicePerformed,
                    &format!("note {minute}"),
                )
                .unwrap();
        }
        let mut client = SyncClient::connect(server.addr, Some(&token))
            .await
            .unwrap();
        for message in tablet.connected(0).unwrap() {
            client.send(&message).await;
        }
        // Kill right after the first acknowledgement, before any answer, or once all is acked.
        let strategy = round % 3;
        while strategy != 1
            && let Some(message) = client.recv().await
        {
            let acked = matches!(message, ServerMessage::Ack { .. });
            let (send, _) = tablet.received(0, message).unwrap();
            for message in send {
                client.send(&message).await;
            }
            if (acked && strategy == 0) || tablet.pending().unwrap() == 0 {
                break;
            }
        }
        server.child.kill().unwrap(); // SIGKILL
        server.child.wait().unwrap();
        tablet.disconnected();

        // Everything the tablet no longer holds as pending was acknowledged: it must be stored.
        let made: Vec<String> = (1..=minute).map(|m| format!("note {m}")).collect();
        let pending = tablet.pending().unwrap();
        let stored = Store::open(&db).unwrap();
        let notes: Vec<String> = stored
            .notes_for_doc(job.into())
            .unwrap()
            .into_iter()
            .map(|n| n.text)
            .collect();
        let on_server = made.iter().filter(|t| notes.contains(t)).count();
        assert!(
            on_server + pending >= made.len(),
            "round {round}: {} notes made, {on_server} on the server, {pending} still pending: an acknowledged note was lost",
            made.len()
        );
        server = start(&db);
    }
    // Coverage returns for good: everything arrives, exactly once.
    SyncClient::sync(server.addr, &token, &mut tablet)
        .await
        .close()
        .await;
    let stored = Store::open(&db).unwrap();
    let notes = stored.notes_for_doc(job.into()).unwrap();
    let ours = notes.iter().filter(|n| n.text.starts_with("note ")).count();
    assert_eq!(
        ours, minute as usize,
        "every note made offline is on the server exactly once"
    );
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}
