//! The real server in a process of its own, for tests that kill it with SIGKILL and for the
//! benchmarks: `fieldsync-server-under-test <db path> [--tls]` serves on 127.0.0.1 (a free
//! port) and prints `listening <addr>` once it accepts connections. With `--tls` it serves
//! TLS with the self-signed certificate kept next to the database (made if missing:
//! `fieldsync_server::tls::self_signed_paths`), as `serve --tls-self-signed` does.

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
    let tls = std::env::args().nth(2).as_deref() == Some("--tls");
    let serving = fieldsync_server::serving::Serving {
        tls: tls.then(|| {
            let names = ["localhost".to_string(), "127.0.0.1".to_string()];
            fieldsync_server::tls::self_signed(std::path::Path::new(&db), &names)
                .expect("a self-signed certificate")
                .config
        }),
        ..Default::default()
    };
    let state = fieldsync_server::AppState::open(&db).expect("open the database");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    println!(
        "listening {}",
        listener.local_addr().expect("bound address")
    );
    std::io::stdout().flush().expect("flush stdout");
    fieldsync_server::serve_with(listener, state, serving, std::future::pending())
        .await
        .expect("serve");
}
