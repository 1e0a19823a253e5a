//! Benchmarks over real WebSockets against the server in its own process
//! (`fieldsync-server-under-test`, built beside this binary).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fieldsync_protocol::wire::{ClientMessage, DocData, ServerMessage};
use fieldsync_protocol::{DocId, PaymentMethod, Record, Role, Timestamp, UserId, Writer};
use fieldsync_store::Store;
use fieldsync_tests::sync_client::SyncClient;

use crate::print;

pub(crate) struct Server {
    child: Child,
    pub(crate) addr: SocketAddr,
}

/// The certificate and key (PEM) every server of a run over TLS (`FIELDSYNC_BENCH_TLS=1`)
/// serves with: [`start`] puts them next to its database, where the server finds them.
static CERTIFICATE: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();

/// Whether the benchmarks run over TLS (`FIELDSYNC_BENCH_TLS=1`).
pub(crate) fn over_tls() -> bool {
    std::env::var("FIELDSYNC_BENCH_TLS").is_ok_and(|v| v == "1")
}

/// Opens `/sync` on the benchmark's server, over TLS when the benchmarks run over TLS.
pub(crate) async fn open(addr: SocketAddr, token: &str) -> SyncClient {
    SyncClient::connect_secure(addr, CERTIFICATE.get().map(|c| c.0.as_str()), Some(token))
        .await
        .unwrap()
}

/// An HTTP client for the benchmark's server (trusting its certificate over TLS).
pub(crate) fn http_client() -> reqwest::ClientBuilder {
    let builder = reqwest::Client::builder();
    match CERTIFICATE.get() {
        Some((pem, _)) => {
            builder.add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        }
        None => builder,
    }
}

/// The base URL of the benchmark's server at `addr`.
pub(crate) fn base_url(addr: SocketAddr) -> String {
    let scheme = if CERTIFICATE.get().is_some() {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{addr}")
}

/// `GET path` on the benchmark's server: status and body.
pub(crate) async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let response = http_client()
        .build()
        .unwrap()
        .get(format!("{}{path}", base_url(addr)))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's resident memory now.
    pub(crate) fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS:")
    }

    /// The most resident memory the server has had.
    pub(crate) fn peak_rss_kib(&self) -> u64 {
        self.status_kib("VmHWM:")
    }

    fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}

/// A database with the demo company and one office device; returns its token.
pub(crate) fn setup(dir: &tempfile::TempDir) -> (std::path::PathBuf, String) {
    let (path, tokens) = setup_devices(dir, 1);
    (path, tokens.into_iter().next().unwrap())
}

/// A database with the demo company and `n` office devices; returns their tokens. Every
/// connection a benchmark holds at once is a device of its own, as on a real fleet (the
/// server lets one device hold only a few).
pub(crate) fn setup_devices(
    dir: &tempfile::TempDir,
    n: usize,
) -> (std::path::PathBuf, Vec<String>) {
    let path = dir.path().join("server.sqlite3");
    let mut store = Store::open(&path).unwrap();
    let today = fieldsync_server::demo::today();
    fieldsync_server::demo::load(&mut store, today).unwrap();
    let tx = store.transaction().unwrap();
    let office = tx.add_user("bench", Role::Office, None).unwrap();
    let tokens = (0..n)
        .map(|i| {
            let (token, hash) = fieldsync_server::auth::new_device_token();
            tx.add_device(office.id, &format!("bench {i}"), hash)
                .unwrap();
            token
        })
        .collect();
    tx.commit().unwrap();
    (path, tokens)
}

/// Starts `fieldsync-server-under-test` on `db` and waits until it listens.
pub(crate) fn start(db: &std::path::Path) -> Server {
    let exe = std::env::current_exe()
        .unwrap()
        .with_file_name("fieldsync-server-under-test");
    let mut command = Command::new(&exe);
    command.arg(db);
    if over_tls() {
        let (cert_pem, key_pem) = CERTIFICATE.get_or_init(|| {
            let names = ["localhost".to_string(), "127.0.0.1".to_string()];
            fieldsync_server::tls::generate(&names).unwrap()
        });
        let (cert, key) = fieldsync_server::tls::self_signed_paths(db);
        std::fs::write(cert, cert_pem).unwrap();
        std::fs::write(key, key_pem).unwrap();
        command.arg("--tls");
    }
    let mut child = command.stdout(Stdio::piped()).spawn().unwrap_or_else(|e| {
        panic!(
            "{}: {e} (build it: cargo build --release --bins -p fieldsync-tests)",
            exe.display()
        )
    });
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening ")
        .unwrap()
        .parse()
        .unwrap();
    Server { child, addr }
}

pub(crate) async fn connect(addr: SocketAddr, token: &str) -> SyncClient {
    let mut client = open(addr, token).await;
    client.hello().await;
    client
}

/// `count` payment documents, each one change, made by an office writer.
fn payments(count: usize, account: fieldsync_protocol::AccountId) -> Vec<DocData> {
    let writer = Writer::new(Role::Office, UserId::new(), "Bench");
    let now = Timestamp(chrono::Utc::now());
    (0..count)
        .map(|i| {
            let payment = fieldsync_protocol::Payment {
                id: fieldsync_protocol::PaymentId::new(),
                account,
                job: None,
                invoice: None,
                amount: format!("{}.{:02}", 1 + i % 500, i % 100).parse().unwrap(),
                method: PaymentMethod::Card,
                reference: format!("bench {i}"),
                received_at: now,
                recorded_by: writer.author.user,
                recorded_by_name: "Bench".into(),
                credit_applied: Vec::new(),
            };
            let record = Record::new_payment(payment);
            let (_, mut change) = writer.create(&record, now).unwrap();
            DocData {
                doc: record.doc_id(),
                data: change.bytes().to_vec(),
                attested: None,
            }
        })
        .collect()
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

/// The server's group-commit latency histogram from `GET /metrics`: cumulative counts per
/// upper bound in seconds (`+Inf` last).
pub(crate) async fn commit_histogram(addr: SocketAddr) -> Vec<(String, u64)> {
    let (status, text) = get(addr, "/metrics").await;
    assert_eq!(status, 200, "{text}");
    text.lines()
        .filter_map(|line| line.strip_prefix("fieldsync_commit_seconds_bucket{le=\""))
        .filter_map(|rest| {
            let (bound, count) = rest.split_once("\"} ")?;
            Some((bound.to_owned(), count.trim().parse().ok()?))
        })
        .collect()
}

/// Prints how many group commits between two readings of [`commit_histogram`] took longer
/// than each bound from 0.25 ms up.
pub(crate) fn print_slow_commits(phase: &str, before: &[(String, u64)], after: &[(String, u64)]) {
    let total = after.last().map_or(0, |b| b.1) - before.last().map_or(0, |b| b.1);
    print(&format!("{phase}_commits"), total, "commits");
    for ((bound, was), (_, now)) in before.iter().zip(after) {
        let Ok(seconds) = bound.parse::<f64>() else {
            continue;
        };
        if (0.00025..=0.05).contains(&seconds) {
            let ms = seconds * 1000.0;
            print(
                &format!("{phase}_commits_over_{ms}ms"),
                total - (now - was),
                "commits",
            );
        }
    }
}

pub(crate) async fn wait_ack(client: &mut SyncClient, batch: u64) {
    let (refused, _) = client.ack(batch).await;
    assert!(refused.is_empty(), "{refused:?}");
}

pub async fn ingest() {
    // Throughput: 16 devices, each pushing 2,000 changes in batches of 50, 4 batches in flight.
    let (devices, per_device, batch_size) = (16usize, 2_000usize, 50usize);
    let dir = tempfile::tempdir().unwrap();
    // The throughput devices, then the ten of the latency phase.
    let (db, tokens) = setup_devices(&dir, devices + 10);
    let account = Store::open(&db).unwrap().accounts().unwrap()[0].id;
    let server = start(&db);
    // Every device connected (and caught up) before the clock starts.
    let mut clients = Vec::with_capacity(devices);
    for token in &tokens[..devices] {
        clients.push((
            connect(server.addr, token).await,
            payments(per_device, account),
        ));
    }
    let mut tasks = Vec::new();
    let pushing = Instant::now();
    for (mut client, changes) in clients {
        tasks.push(tokio::spawn(async move {
            let mut batch = 0u64;
            let mut in_flight = std::collections::VecDeque::new();
            for chunk in changes.chunks(batch_size) {
                batch += 1;
                client
                    .send(&ClientMessage::Push {
                        batch,
                        changes: chunk.to_vec(),
                    })
                    .await;
                in_flight.push_back(batch);
                if in_flight.len() == 4 {
                    wait_ack(&mut client, in_flight.pop_front().unwrap()).await;
                }
            }
            while let Some(b) = in_flight.pop_front() {
                wait_ack(&mut client, b).await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = pushing.elapsed().as_secs_f64();
    print("ingest_devices", devices, "devices");
    print("ingest_changes", devices * per_device, "changes");
    print(
        "ingest_acknowledged_per_second",
        format!("{:.0}", (devices * per_device) as f64 / elapsed),
        "changes/s",
    );

    // Latency at 1,000 changes/s: 10 devices, each one single-change push every 10 ms.
    let commits_before = commit_histogram(server.addr).await;
    let mut tasks = Vec::new();
    for token in &tokens[devices..] {
        let changes = payments(200, account);
        let mut client = connect(server.addr, token).await;
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            for (i, change) in changes.into_iter().enumerate() {
                tick.tick().await;
                let sent = Instant::now();
                client
                    .send(&ClientMessage::Push {
                        batch: i as u64 + 1,
                        changes: vec![change],
                    })
                    .await;
                wait_ack(&mut client, i as u64 + 1).await;
                latencies.push(sent.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    latencies.sort();
    let commits_after = commit_histogram(server.addr).await;
    print_slow_commits("ack_phase", &commits_before, &commits_after);
    print(
        "ack_latency_at_1000_per_second_p50",
        format!("{:.2}", percentile(&latencies, 0.50)),
        "ms",
    );
    print(
        "ack_latency_at_1000_per_second_p99",
        format!("{:.2}", percentile(&latencies, 0.99)),
        "ms",
    );
}

/// `watchers` office connections watch while one device pushes `rate` changes a second for
/// three seconds; prints the latency from push to receipt on every watcher.
pub async fn fanout(watchers: usize, rate: u64) {
    let dir = tempfile::tempdir().unwrap();
    // The watchers and the writer are different devices: a device is not sent its own changes.
    let (db, tokens) = setup_devices(&dir, watchers + 1);
    let (watcher_tokens, writer_token) = (&tokens[..watchers], &tokens[watchers]);
    let account = Store::open(&db).unwrap().accounts().unwrap()[0].id;
    let server = start(&db);
    let seconds = 3u64;
    let changes = payments((rate * seconds) as usize, account);
    let sent_at: Arc<Mutex<HashMap<DocId, Instant>>> = Default::default();
    // Everyone connected (and caught up) before the first change.
    let mut clients = Vec::with_capacity(watchers);
    for token in watcher_tokens {
        clients.push(connect(server.addr, token).await);
    }
    let expected = changes.len();
    let mut tasks = Vec::new();
    for mut client in clients {
        let sent_at = Arc::clone(&sent_at);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(expected);
            let deadline = Instant::now() + Duration::from_secs(seconds + 30);
            while latencies.len() < expected && Instant::now() < deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                match tokio::time::timeout(left, client.recv()).await {
                    Ok(Some(ServerMessage::Changes { docs, .. })) => {
                        let now = Instant::now();
                        let sent = sent_at.lock().unwrap();
                        latencies.extend(
                            docs.iter()
                                .filter_map(|d| sent.get(&d.doc))
                                .map(|t| now - *t),
                        );
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                }
            }
            latencies
        }));
    }
    let mut writer = connect(server.addr, writer_token).await;
    let commits_before = commit_histogram(server.addr).await;
    let mut tick = tokio::time::interval(Duration::from_millis(1000 / rate.max(1)));
    for (i, change) in changes.into_iter().enumerate() {
        tick.tick().await;
        sent_at.lock().unwrap().insert(change.doc, Instant::now());
        writer
            .send(&ClientMessage::Push {
                batch: i as u64 + 1,
                changes: vec![change],
            })
            .await;
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    latencies.sort();
    let commits_after = commit_histogram(server.addr).await;
    print_slow_commits("fanout", &commits_before, &commits_after);
    print("fanout_watchers", watchers, "connections");
    print("fanout_rate", rate, "changes/s");
    print(
        "fanout_deliveries_expected",
        watchers * expected,
        "messages",
    );
    print("fanout_deliveries", latencies.len(), "messages");
    print(
        "fanout_latency_p50",
        format!("{:.2}", percentile(&latencies, 0.50)),
        "ms",
    );
    print(
        "fanout_latency_p90",
        format!("{:.2}", percentile(&latencies, 0.90)),
        "ms",
    );
    print(
        "fanout_latency_p99",
        format!("{:.2}", percentile(&latencies, 0.99)),
        "ms",
    );
}

pub async fn connections() {
    let (warm_up, count) = (20, 1_000);
    let dir = tempfile::tempdir().unwrap();
    let (db, tokens) = setup_devices(&dir, warm_up + count);
    let mut tokens = tokens.iter();
    let server = start(&db);
    let mut clients = Vec::new();
    // Warm up: the first connections load caches that later ones share.
    for token in tokens.by_ref().take(warm_up) {
        clients.push(connect(server.addr, token).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = server.rss_kib();
    for token in tokens {
        clients.push(connect(server.addr, token).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = server.rss_kib();
    print("idle_connections", count, "connections");
    print("server_rss_before", before, "KiB");
    print("server_rss_after", after, "KiB");
    print(
        "memory_per_idle_connection",
        format!("{:.1}", after.saturating_sub(before) as f64 / count as f64),
        "KiB",
    );
}

/// Fetches `path` `requests` times with `http` (signed in); the time of each request and the
/// size of the last answer. Fails unless every answer is a success.
pub(crate) async fn time_page(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    requests: usize,
) -> (Vec<Duration>, usize) {
    let mut times = Vec::with_capacity(requests);
    let mut bytes = 0;
    for _ in 0..requests {
        let started = Instant::now();
        let response = http.get(format!("{base}{path}")).send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        bytes = response.bytes().await.unwrap().len();
        times.push(started.elapsed());
    }
    (times, bytes)
}
