//! `fieldsync-server backup` and `restore`, as an operator runs them: a consistent copy taken
//! while the server serves, a restore refused while it runs and done once it stopped.

use std::path::Path;
use std::process::{Command, Output};

mod common;

fn server(args: &[&str], db: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fieldsync-server"))
        .args(args)
        .arg("--db")
        .arg(db)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run fieldsync-server")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn a_backup_is_taken_while_serving_and_restored_only_once_the_server_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fieldsync.sqlite3");
    let copy = dir.path().join("nightly.sqlite3");
    assert!(server(&["demo"], &db).status.success());

    // The lock is taken before the server listens.
    let (mut serving, _) = common::serve(&db);

    let backup = server(&["backup", "--to", copy.to_str().unwrap()], &db);
    assert!(backup.status.success(), "{}", text(&backup));
    assert!(text(&backup).contains("Backed up"), "{}", text(&backup));
    let again = server(&["backup", "--to", copy.to_str().unwrap()], &db);
    assert!(!again.status.success());
    assert!(text(&again).contains("already exists"), "{}", text(&again));

    let refused = server(&["restore", "--from", copy.to_str().unwrap()], &db);
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("is running on"),
        "{}",
        text(&refused)
    );

    serving.kill().unwrap();
    serving.wait().unwrap();
    let restored = server(&["restore", "--from", copy.to_str().unwrap()], &db);
    assert!(restored.status.success(), "{}", text(&restored));
    assert!(text(&restored).contains("Restored"), "{}", text(&restored));
    let users = server(&["user", "list"], &db);
    assert!(text(&users).contains("dana"), "{}", text(&users));

    // A damaged backup is refused and the database is left as it was.
    let damaged = dir.path().join("damaged.sqlite3");
    std::fs::write(&damaged, b"not a database at all").unwrap();
    let refused = server(&["restore", "--from", damaged.to_str().unwrap()], &db);
    assert!(!refused.status.success());
    let users = server(&["user", "list"], &db);
    assert!(text(&users).contains("dana"), "{}", text(&users));
}

/// A database damaged on disk (pages overwritten) is refused at start with a message saying
/// what to do, and nothing is written to it; its backup, restored in its place, serves.
#[test]
fn a_damaged_database_is_refused_at_start_with_what_to_do() {
    use std::io::{Seek as _, SeekFrom, Write as _};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fieldsync.sqlite3");
    let copy = dir.path().join("nightly.sqlite3");
    assert!(server(&["demo"], &db).status.success());
    let backup = server(&["backup", "--to", copy.to_str().unwrap()], &db);
    assert!(backup.status.success(), "{}", text(&backup));

    // Garbage over pages in the middle of the file, the header left alone.
    let size = std::fs::metadata(&db).unwrap().len();
    let mut file = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
    file.seek(SeekFrom::Start(size / 2 / 4096 * 4096)).unwrap();
    file.write_all(&vec![0xA5; 3 * 4096]).unwrap();
    drop(file);
    let damaged = std::fs::read(&db).unwrap();

    let refused = Command::new(env!("CARGO_BIN_EXE_fieldsync-server"))
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(&db)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run fieldsync-server");
    assert!(!refused.status.success(), "{}", text(&refused));
    let said = text(&refused);
    assert!(said.contains("is damaged"), "{said}");
    assert!(said.contains("fieldsync-server restore"), "{said}");
    assert_eq!(
        std::fs::read(&db).unwrap(),
        damaged,
        "nothing written to it"
    );

    let restored = server(&["restore", "--from", copy.to_str().unwrap()], &db);
    assert!(restored.status.success(), "{}", text(&restored));
    // The restored database serves.
    let (mut serving, _) = common::serve(&db);
    serving.kill().unwrap();
    serving.wait().unwrap();
}
