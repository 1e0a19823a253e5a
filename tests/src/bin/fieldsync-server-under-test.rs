//! The real server in a process of its own, for tests that kill it with SIGKILL:
//! `fieldsync-server-under-test <db path>` serves on 127.0.0.1 (a free port) and prints
//! `listening <addr>` once it accepts connections.

use std::io::Write as _;

/// The allocator of `fieldsync-server`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    fieldsync_server::runtime()
        .expect("start the runtime")
        .block_on(run());
}

async fn run() {
    let db = std::env::args()
        .nth(1)
        .expect("usage: fieldsync-server-under-test <db path>");
    let state = fieldsync_server::AppState::open(&db).expect("open the database");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    println!(
        "listening {}",
        listener.local_addr().expect("bound address")
    );
    std::io::stdout().flush().expect("flush stdout");
    fieldsync_server::serve(listener, state, std::future::pending())
        .await
        .expect("serve");
}
