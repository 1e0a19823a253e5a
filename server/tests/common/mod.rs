//! What the binary's integration tests share: running `fieldsync-server` as an operator does.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// `fieldsync-server serve` on `db` at a free loopback port, once it listens; returns the
/// process and the address it logged.
#[allow(dead_code)] // not every test binary uses both
pub fn serve(db: &Path) -> (Child, String) {
    let (serving, addr, _) = serve_with(db, &[]);
    (serving, addr)
}

/// [`serve`] with more arguments; also returns what the server printed before it listened.
pub fn serve_with(db: &Path, args: &[&str]) -> (Child, String, Vec<String>) {
    let mut serving = Command::new(env!("CARGO_BIN_EXE_fieldsync-server"))
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(db)
        .args(args)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the server");
    let mut lines = BufReader::new(serving.stdout.take().expect("piped")).lines();
    let mut before = Vec::new();
    let addr = lines
        .by_ref()
        .map(|line| line.expect("the server's output"))
        .find_map(|line| {
            before.push(line.clone());
            line.contains("listening").then(|| {
                line.split("addr=")
                    .nth(1)
                    .and_then(|rest| rest.split_whitespace().next())
                    .expect("the address is logged")
                    .to_string()
            })
        })
        .expect("the server starts");
    // The rest of its output is read (and dropped) until it exits: a closed pipe would fail
    // its writes.
    std::thread::spawn(move || lines.for_each(drop));
    (serving, addr, before)
}
