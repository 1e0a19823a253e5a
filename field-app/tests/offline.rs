//! A technician's offline day through the `fieldsync` binary, each command a process of its
//! own (so every "restart the app" is real), against the real server on 127.0.0.1:0 over a
//! real SQLite file: pair and sync, lose the server, add a note, a photo and a payment, get the
//! server back on the same database, sync, and find everything on the server exactly once.
//!
//! The test lives in this package because cargo builds a package's binaries for its own
//! integration tests (`CARGO_BIN_EXE_fieldsync`); `fieldsync-tests` supplies the server.

use std::path::Path;
use std::process::Output;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fieldsync_app::net::{self, Backoff, SyncService};
use fieldsync_app::{PaymentForm, SyncStatus, Tablet};
use fieldsync_protocol::{
    AccountId, Author, ContentHash, JobId, NoteKind, PaymentMethod, PhotoTag, Record, Role,
    Timestamp, UserId, Writer,
};
use fieldsync_server::auth::new_device_token;
use fieldsync_store::Store;
use fieldsync_tests::TestServer;
use fieldsync_tests::demo::{self, Rng};
use image::ImageEncoder as _;

struct Seeded {
    technician: UserId,
    token: String,
    job: JobId,
    job_title: String,
    account: AccountId,
}

/// A company with one technician, Tess, who has one job today.
fn seed(path: &Path) -> Seeded {
    let mut store = Store::open(path).unwrap();
    demo::seed_company(&mut store, &mut Rng::new(11), 3, 2);
    let tx = store.transaction().unwrap();
    let tess = tx.add_user("tess", Role::Technician, None).unwrap();
    let (token, hash) = new_device_token();
    tx.add_device(tess.id, "Tess's tablet", hash).unwrap();
    tx.commit().unwrap();
    let account = store.accounts().unwrap()[0].id;
    let job = store.jobs_for_account(account).unwrap()[0].clone();
    let office = Writer::new(Role::Office, UserId::new(), "Dana Dispatch");
    let noon = chrono::Local::now()
        .date_naive()
        .and_hms_opt(12, 0, 0)
        .unwrap()
        .and_local_timezone(chrono::Local)
        .earliest()
        .unwrap()
        .with_timezone(&chrono::Utc);
    let start = Timestamp(noon);
    let end = Timestamp(noon + chrono::Duration::hours(2));
    let now = Timestamp(chrono::Utc::now());
    let tx = store.transaction().unwrap();
    let mut doc = tx.load(job.id.into()).unwrap().unwrap();
    let change = office
        .edit(&mut doc, now, |record| {
            if let Record::Job(j) = record {
                j.record.technicians.insert(tess.id, now);
                j.record.scheduled_start = Some(start);
                j.record.scheduled_end = Some(end);
            }
            Ok(())
        })
        .unwrap()
        .unwrap();
    tx.record_local(job.id.into(), &mut doc, &change, false)
        .unwrap();
    tx.commit().unwrap();
    Seeded {
        technician: tess.id,
        token,
        job: job.id,
        job_title: job.title,
        account,
    }
}

/// Runs `fieldsync --data <data> <args>` in a process of its own. For `pair`, the token
/// written here third (`pair URL TOKEN ...`) goes on standard input, as a technician types it:
/// it is never on the command line.
async fn fieldsync(data: &Path, args: &[&str]) -> Output {
    let mut args: Vec<&str> = args.to_vec();
    let stdin = match args.first() {
        Some(&"pair") if args.len() > 2 => format!("{}\n", args.remove(2)),
        _ => String::new(),
    };
    run_fieldsync(data, &args, None, stdin).await
}

/// Runs `fieldsync --data <data> <args>` with `token` in `FIELDSYNC_TOKEN`.
async fn fieldsync_with_token(data: &Path, args: &[&str], token: &str) -> Output {
    run_fieldsync(data, args, Some(token), String::new()).await
}

async fn run_fieldsync(data: &Path, args: &[&str], token: Option<&str>, stdin: String) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_fieldsync"));
    command
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("FIELDSYNC_DATA")
        .env_remove("FIELDSYNC_TOKEN");
    if let Some(token) = token {
        command.env("FIELDSYNC_TOKEN", token);
    }
    command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    tokio::task::spawn_blocking(move || {
        use std::io::Write as _;
        let mut child = command.spawn().expect("run fieldsync");
        let mut input = child.stdin.take().expect("piped");
        // A command that does not read its input may have ended already.
        let _ = input.write_all(stdin.as_bytes());
        drop(input);
        child.wait_with_output().expect("fieldsync's output")
    })
    .await
    .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs a command that must succeed; returns its standard output.
async fn ok(data: &Path, args: &[&str]) -> String {
    let out = fieldsync(data, args).await;
    assert!(
        out.status.success(),
        "fieldsync {args:?} failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Runs a command that must fail with exit code 1 and a message containing `says`.
async fn refused(data: &Path, args: &[&str], says: &str) {
    let out = fieldsync(data, args).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "fieldsync {args:?}: {stderr}");
    assert!(
        stderr.contains(says),
        "fieldsync {args:?} should say {says:?}, said: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A 400 x 200 JPEG whose EXIF says "rotate 90° clockwise" (a phone held upright).
fn sideways_jpeg() -> Vec<u8> {
    let mut exif = b"II*\0".to_vec();
    exif.extend(8u32.to_le_bytes());
    exif.extend(1u16.to_le_bytes());
    exif.extend(0x0112u16.to_le_bytes());
    exif.extend(3u16.to_le_bytes());
    exif.extend(1u32.to_le_bytes());
    exif.extend(6u16.to_le_bytes());
    exif.extend([0, 0]);
    exif.extend(0u32.to_le_bytes());
    let pixels = image::RgbImage::from_fn(400, 200, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let mut out = Vec::new();
    let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90);
    encoder.set_exif_metadata(exif).unwrap();
    encoder
        .write_image(pixels.as_raw(), 400, 200, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_offline_reaches_the_server_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.sqlite3");
    let world = seed(&db);
    let data = dir.path().join("tablet");
    let data = data.as_path();
    let user = world.technician.to_string();
    let job = world.job.to_string();

    // Before pairing, nothing works, and says why.
    refused(data, &["jobs"], "not paired").await;

    let server = TestServer::start_with_db(&db).await.unwrap();
    let url = server.url("");
    refused(
        data,
        &[
            "pair",
            &url,
            "fsd_short",
            "--user-id",
            &user,
            "--name",
            "Tess",
        ],
        "a device token is fsd_ followed by 43",
    )
    .await;
    let wrong = format!("fsd_{}", "A".repeat(43));
    refused(
        data,
        &["pair", &url, &wrong, "--user-id", &user, "--name", "Tess"],
        "refused this tablet",
    )
    .await;
    refused(data, &["jobs"], "not paired").await;
    let stranger = fieldsync_protocol::UserId::new().to_string();
    refused(
        data,
        &["pair", &url, &world.token, "--user-id", &stranger],
        "this token belongs to tess",
    )
    .await;
    // The server says whose token it is: no user id or name needed.
    let paired = ok(data, &["pair", &url, &world.token]).await;
    assert!(paired.contains("as tess"), "{paired}");
    let synced = ok(data, &["sync", "--timeout", "30"]).await;
    assert!(synced.contains("Synced"), "{synced}");
    let jobs = ok(data, &["jobs"]).await;
    assert!(
        jobs.contains(&world.job_title) && jobs.contains(&job),
        "{jobs}"
    );
    assert_eq!(jobs.lines().count(), 1, "only Tess's job today: {jobs}");
    // A reader that goes away (`fieldsync jobs | head -0`) ends the command quietly.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let closed = std::process::Command::new(env!("CARGO_BIN_EXE_fieldsync"))
        .arg("--data")
        .arg(data)
        .arg("jobs")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert!(closed.status.success(), "{closed:?}");
    assert!(!text(&closed.stderr).contains("panicked"), "{closed:?}");

    // The server goes away. Everything below works without it.
    server.shutdown().await.unwrap();
    ok(
        data,
        &["note", "add", "--job", &job, "Replaced the pump seal"],
    )
    .await;
    let picture = dir.path().join("boiler.jpg");
    std::fs::write(&picture, sideways_jpeg()).unwrap();
    let picture = picture.to_str().unwrap();
    let added = ok(
        data,
        &[
            "photo",
            "add",
            picture,
            "--job",
            &job,
            "--caption",
            "Boiler after",
            "--tag",
            "after",
        ],
    )
    .await;
    assert!(added.contains("200x400"), "turned upright: {added}");
    let payment = uuid_like();
    let record = [
        "payment",
        "record",
        "--job",
        &job,
        "--amount",
        "120.50",
        "--method",
        "check",
        "--reference",
        "1042",
        "--id",
        &payment,
    ];
    ok(data, &record).await;
    ok(data, &record).await; // a retried script (or a double tap) records it once

    // Bad input is refused with a clear message and changes nothing.
    let bad_amount = |amount: &'static str| {
        ["payment", "record", "--job", &job, "--amount", amount].map(str::to_string)
    };
    for (amount, says) in [
        ("-5", "must be positive"),
        ("abc", "is not a decimal amount"),
        ("1.234", "at most two decimal places"),
        ("0", "must be positive"),
    ] {
        let args = bad_amount(amount);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(data, &args, says).await;
    }
    let stranger = JobId::new().to_string();
    refused(
        data,
        &["note", "add", "--job", &stranger, "Wrong job"],
        "is not on this tablet",
    )
    .await;
    let not_a_picture = dir.path().join("notes.txt");
    std::fs::write(&not_a_picture, "not a picture").unwrap();
    refused(
        data,
        &[
            "photo",
            "add",
            not_a_picture.to_str().unwrap(),
            "--job",
            &job,
        ],
        "not a picture",
    )
    .await;
    refused(
        data,
        &["photo", "add", "/nonexistent/x.jpg", "--job", &job],
        "cannot read",
    )
    .await;
    let usage = fieldsync(data, &["payment", "record", "--job", &job]).await;
    assert_eq!(usage.status.code(), Some(2), "a usage error: {usage:?}");
    refused(data, &["sync", "--timeout", "1"], "cannot reach the server").await;

    let outbox = ok(data, &["outbox"]).await;
    assert_eq!(
        outbox.lines().filter(|l| l.starts_with("waiting")).count(),
        3,
        "the note, the photo and the payment wait: {outbox}"
    );
    assert!(outbox.contains("2 photo images wait"), "{outbox}");
    let status = ok(data, &["status"]).await;
    assert!(
        status.starts_with("Offline · 3 changes waiting"),
        "{status}"
    );
    refused(data, &["sign-out"], "3 changes are not on the server yet").await;

    // The server comes back on the same database (at a new address: pair again, keeping the
    // outbox) and the tablet syncs.
    let server = TestServer::start_with_db(&db).await.unwrap();
    let url = server.url("");
    ok(
        data,
        &[
            "pair",
            &url,
            &world.token,
            "--user-id",
            &user,
            "--name",
            "Tess",
        ],
    )
    .await;
    let synced = ok(data, &["sync", "--timeout", "30"]).await;
    assert!(synced.contains("3 changes sent"), "{synced}");
    assert!(synced.contains("all changes sent"), "{synced}");
    ok(data, &["sync", "--timeout", "30"]).await; // nothing more, nothing twice
    let outbox = ok(data, &["outbox"]).await;
    assert!(outbox.contains("outbox is empty"), "{outbox}");
    server.shutdown().await.unwrap();
    ok(data, &["sign-out"]).await;
    refused(data, &["jobs"], "not paired").await;

    let server = Store::open(&db).unwrap();
    let notes = server.notes_for_doc(world.job.into()).unwrap();
    let ours: Vec<_> = notes
        .iter()
        .filter(|n| n.text == "Replaced the pump seal")
        .collect();
    assert_eq!(ours.len(), 1, "the note once: {notes:?}");
    assert_eq!(ours[0].author, world.technician);
    assert_eq!(
        ours[0].author_name, "tess",
        "the name the server gave at pairing"
    );

    let photos = server.photos_for_doc(world.job.into()).unwrap();
    assert_eq!(photos.len(), 1, "the photo once: {photos:?}");
    let photo = &photos[0];
    assert_eq!(
        (photo.caption.as_str(), photo.tag),
        ("Boiler after", PhotoTag::After)
    );
    assert_eq!((photo.width, photo.height), (200, 400));
    let full = server.blob(&photo.full_hash).unwrap().expect("full image");
    assert_eq!(ContentHash::of(&full), photo.full_hash);
    assert_eq!(full.len() as u64, photo.full_size);
    let thumb = server.blob(&photo.thumb_hash).unwrap().expect("thumbnail");
    assert_eq!(thumb.len() as u64, photo.thumb_size);
    let thumb = image::load_from_memory(&thumb).unwrap();
    assert!(thumb.width().max(thumb.height()) <= 320);

    let payments: Vec<_> = server
        .payments_for_account(world.account)
        .unwrap()
        .into_iter()
        .filter(|p| p.id.to_string() == payment)
        .collect();
    assert_eq!(payments.len(), 1, "the payment once");
    assert_eq!(payments[0].amount.to_string(), "120.50");
    assert_eq!(payments[0].method, PaymentMethod::Check);
    assert_eq!(payments[0].reference, "1042");
    assert_eq!(payments[0].recorded_by, world.technician);
    assert!(
        server.quarantined(10).unwrap().is_empty(),
        "nothing refused"
    );
}

fn uuid_like() -> String {
    fieldsync_protocol::PaymentId::new().to_string()
}

/// A TCP proxy on a fixed loopback address, so that the server can restart (on a new port)
/// behind an address the tablet keeps, and connections can be cut: at once, or after a number
/// of bytes from the tablet.
struct Proxy {
    addr: std::net::SocketAddr,
    shared: Arc<ProxyShared>,
    cut: tokio::sync::watch::Sender<u64>,
    /// Connections opened and closed so far.
    counts: tokio::sync::watch::Sender<(u64, u64)>,
}

#[derive(Default)]
struct ProxyShared {
    target: Mutex<Option<std::net::SocketAddr>>,
    /// The next connection is cut after this many bytes from the tablet.
    cap_next: Mutex<Option<u64>>,
    /// Bytes from the tablet to the server, over all connections.
    upstream: AtomicU64,
}

/// Copies `from` to `to` until either ends or `cap` bytes have been copied.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    cap: Option<u64>,
    counter: Option<&AtomicU64>,
) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut buffer = vec![0; 16 * 1024];
    let mut copied = 0u64;
    loop {
        let room = cap.map_or(buffer.len() as u64, |cap| cap - copied);
        let want = room.min(buffer.len() as u64) as usize;
        if want == 0 {
            return;
        }
        let n = match from.read(&mut buffer[..want]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
        copied += n as u64;
        if let Some(counter) = counter {
            counter.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
}

impl Proxy {
    async fn start() -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(ProxyShared::default());
        let cut = tokio::sync::watch::Sender::new(0u64);
        let counts = tokio::sync::watch::Sender::new((0u64, 0u64));
        let (state, cuts, tally) = (shared.clone(), cut.subscribe(), counts.clone());
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let to = *state.target.lock().unwrap();
                let cap = state.cap_next.lock().unwrap().take();
                let mut cuts = cuts.clone();
                cuts.mark_unchanged();
                tally.send_modify(|(opened, _)| *opened += 1);
                let (tally, state) = (tally.clone(), state.clone());
                tokio::spawn(async move {
                    // No server behind the proxy: the connection is refused.
                    if let Some(Ok(outbound)) = match to {
                        Some(to) => Some(tokio::net::TcpStream::connect(to).await),
                        None => None,
                    } {
                        let (from_tablet, to_tablet) = inbound.into_split();
                        let (from_server, to_server) = outbound.into_split();
                        tokio::select! {
                            _ = pipe(from_tablet, to_server, cap, Some(&state.upstream)) => {}
                            _ = pipe(from_server, to_tablet, None, None) => {}
                            _ = cuts.changed() => {}
                        }
                    }
                    tally.send_modify(|(_, closed)| *closed += 1);
                });
            }
        });
        Proxy {
            addr,
            shared,
            cut,
            counts,
        }
    }

    fn point_at(&self, server: Option<&TestServer>) {
        *self.shared.target.lock().unwrap() = server.map(TestServer::addr);
    }

    /// The next connection is cut after `bytes` from the tablet.
    fn cap_next(&self, bytes: u64) {
        *self.shared.cap_next.lock().unwrap() = Some(bytes);
    }

    /// Bytes sent by the tablet so far.
    fn upstream(&self) -> u64 {
        self.shared.upstream.load(Ordering::Relaxed)
    }

    /// Drops every open connection, as a tablet leaving coverage does, and waits until they
    /// are closed.
    async fn cut(&self) {
        let (opened, _) = *self.counts.borrow();
        self.cut.send_modify(|n| *n += 1);
        let mut counts = self.counts.subscribe();
        counts
            .wait_for(|(_, closed)| *closed >= opened)
            .await
            .unwrap();
    }
}

/// Tess's tablet, paired through a [`Proxy`] with a running server, its background service
/// through its first sync.
struct Online {
    _dir: tempfile::TempDir,
    db: std::path::PathBuf,
    world: Seeded,
    proxy: Proxy,
    server: TestServer,
    tess: Author,
    url: String,
    path: std::path::PathBuf,
    shared: net::SharedTablet,
    service: SyncService,
    status: tokio::sync::watch::Receiver<SyncStatus>,
}

async fn online() -> Online {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.sqlite3");
    let world = seed(&db);
    let proxy = Proxy::start().await;
    let server = TestServer::start_with_db(&db).await.unwrap();
    proxy.point_at(Some(&server));
    let tess = Author {
        user: world.technician,
        name: "Tess".into(),
    };
    let url = format!("http://{}", proxy.addr);
    let path = dir.path().join("tablet.sqlite3");
    let tablet = Tablet::pair(&path, &url, &world.token, tess.clone()).unwrap();
    let shared = net::shared(tablet);
    let service = SyncService::start(
        shared.clone(),
        Backoff::new(Duration::from_millis(20), Duration::from_millis(200)),
    )
    .unwrap();
    let mut status = service.status();
    until(&mut status, "first sync", |s| {
        s.online && s.last_sync.is_some()
    })
    .await;
    Online {
        _dir: dir,
        db,
        world,
        proxy,
        server,
        tess,
        url,
        path,
        shared,
        service,
        status,
    }
}

/// Waits until the published status satisfies `ready` (fails the test after a generous bound).
async fn until(
    status: &mut tokio::sync::watch::Receiver<SyncStatus>,
    what: &str,
    ready: impl FnMut(&SyncStatus) -> bool,
) {
    let waited = tokio::time::timeout(Duration::from_secs(30), status.wait_for(ready))
        .await
        .map(|ready| ready.is_ok());
    if waited != Ok(true) {
        panic!("{what}: the status stayed {:?}", *status.borrow());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(
    clippy::result_large_err,
    reason = "the actions return the library's own AppError, as the UI's do"
)]
async fn the_background_service_reconnects_and_drains_the_outbox() {
    let Online {
        _dir,
        db,
        world,
        proxy,
        server,
        shared,
        service,
        mut status,
        ..
    } = online().await;
    assert!(
        net::lock(&shared)
            .store()
            .record(world.job.into())
            .unwrap()
            .is_some(),
        "the job was downloaded"
    );

    // Online: a note is pushed at once.
    let note = |text: &'static str| {
        let job = world.job;
        move |tablet: &mut Tablet| {
            let now = Timestamp(chrono::Utc::now());
            Ok((
                (),
                tablet.add_job_note(now, job, NoteKind::ServicePerformed, text)?,
            ))
        }
    };
    service.act(note("Live note")).unwrap();
    until(&mut status, "the live note acknowledged", |s| {
        s.pending == 0
    })
    .await;

    // The connection drops; a note made meanwhile goes out after the service reconnects.
    proxy.cut().await;
    service.act(note("Note across a drop")).unwrap();
    until(&mut status, "reconnected and sent", |s| {
        s.online && s.pending == 0
    })
    .await;
    assert!(net::lock(&shared).connection_id() >= 2, "it reconnected");

    // The server goes away for a while: the service keeps trying, the work waits.
    proxy.point_at(None);
    server.shutdown().await.unwrap();
    until(&mut status, "offline", |s| {
        !s.online && s.last_error.is_some()
    })
    .await;
    let mut form = PaymentForm::new(world.account, Some(world.job));
    form.amount = "75.25".into();
    let payment = form.id;
    let record = |form: PaymentForm| {
        move |tablet: &mut Tablet| {
            let now = Timestamp(chrono::Utc::now());
            Ok(((), tablet.record_payment(now, &form)?))
        }
    };
    service.act(record(form.clone())).unwrap();
    service.act(record(form)).unwrap(); // a double tap
    assert_eq!(service.status().borrow().pending, 1);

    let server = TestServer::start_with_db(&db).await.unwrap();
    proxy.point_at(Some(&server));
    until(&mut status, "back online and sent", |s| {
        s.online && s.pending == 0 && s.last_error.is_none()
    })
    .await;
    service.stop().await;
    server.shutdown().await.unwrap();

    let server = Store::open(&db).unwrap();
    let notes = server.notes_for_doc(world.job.into()).unwrap();
    for text in ["Live note", "Note across a drop"] {
        assert_eq!(notes.iter().filter(|n| n.text == text).count(), 1, "{text}");
    }
    let payments = server.payments_for_account(world.account).unwrap();
    assert_eq!(payments.iter().filter(|p| p.id == payment).count(), 1);
}

/// A picture of noise (which JPEG cannot shrink much): a photo of a few megabytes.
fn noisy_png(width: u32, height: u32) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let pixels = image::RgbImage::from_fn(width, height, |_, _| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let [r, g, b, ..] = state.to_le_bytes();
        image::Rgb([r, g, b])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(pixels)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_upload_cut_off_midway_resumes_where_the_server_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.sqlite3");
    let world = seed(&db);
    let proxy = Proxy::start().await;
    let server = TestServer::start_with_db(&db).await.unwrap();
    proxy.point_at(Some(&server));
    let data = dir.path().join("tablet");
    let data = data.as_path();
    let (user, job) = (world.technician.to_string(), world.job.to_string());
    let url = format!("http://{}", proxy.addr);
    ok(
        data,
        &[
            "pair",
            &url,
            &world.token,
            "--user-id",
            &user,
            "--name",
            "Tess",
        ],
    )
    .await;
    ok(data, &["sync", "--timeout", "30"]).await;

    let picture = dir.path().join("wall.png");
    std::fs::write(&picture, noisy_png(2048, 1536)).unwrap();
    ok(
        data,
        &["photo", "add", picture.to_str().unwrap(), "--job", &job],
    )
    .await;
    let photo = {
        let tablet = Tablet::open_paired(&data.join("tablet.sqlite3")).unwrap();
        tablet.store().photos_for_doc(world.job.into()).unwrap()[0].clone()
    };
    let cap = 1024 * 1024;
    assert!(
        photo.full_size > 2 * cap,
        "the photo is large enough to be cut midway: {} bytes",
        photo.full_size
    );

    // The connection dies after 1 MiB from the tablet; `sync` reconnects and carries on.
    proxy.cap_next(cap);
    let before = proxy.upstream();
    let synced = ok(data, &["sync", "--timeout", "60"]).await;
    assert!(synced.contains("2 connections"), "{synced}");
    let sent = proxy.upstream() - before;
    let server_store = Store::open(&db).unwrap();
    let full = server_store
        .blob(&photo.full_hash)
        .unwrap()
        .expect("the full image");
    assert_eq!(ContentHash::of(&full), photo.full_hash);
    assert!(server_store.blob(&photo.thumb_hash).unwrap().is_some());
    // Starting again from zero would have sent the first MiB twice; resuming re-sends at most
    // the chunks that were in flight when the connection died.
    assert!(
        sent < photo.full_size + photo.thumb_size + cap / 2,
        "{sent} bytes sent for {} bytes of photo",
        photo.full_size + photo.thumb_size
    );
    assert_eq!(
        server_store.photos_for_doc(world.job.into()).unwrap().len(),
        1
    );
    server.shutdown().await.unwrap();
}

/// The server's disk fills up (its database capped at its size, as SQLite's `max_page_count`
/// does): a tablet's sync is refused with a message saying so and everything stays in its
/// outbox; `/healthz` reports the full disk while reads go on; once there is room, the next
/// sync delivers everything, once, with no restart.
#[tokio::test]
async fn a_full_disk_refuses_changes_clearly_and_recovers_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.sqlite3");
    let world = seed(&db);
    let data = dir.path().join("tablet");
    let data = data.as_path();
    let job = world.job.to_string();
    let second_token = {
        let mut store = Store::open(&db).unwrap();
        let tx = store.transaction().unwrap();
        let (token, hash) = new_device_token();
        tx.add_device(world.technician, "Tess's phone", hash)
            .unwrap();
        tx.commit().unwrap();
        token
    };
    let second = dir.path().join("second-tablet");
    let second = second.as_path();
    let server = TestServer::start_with_db(&db).await.unwrap();
    ok(data, &["pair", &server.url(""), &world.token]).await;
    ok(data, &["sync", "--timeout", "30"]).await;
    ok(second, &["pair", &server.url(""), &second_token]).await;
    ok(second, &["sync", "--timeout", "30"]).await;

    server.state().db().cap_size(Some(0)).await.unwrap();
    // Long notes (a page of findings each): they need room the capped database lacks.
    let findings = |i: usize| {
        let words: String = (0..600)
            .map(|w| format!("w{} ", (w * 7919 + i * 104_729) % 100_003))
            .collect();
        format!("Note {i} written while the server's disk was full: {words}")
    };
    for i in 0..3 {
        ok(data, &["note", "add", "--job", &job, &findings(i)]).await;
    }
    refused(
        data,
        &["sync", "--timeout", "3"],
        "the server's disk is full",
    )
    .await;
    let outbox = ok(data, &["outbox"]).await;
    assert_eq!(
        outbox.lines().filter(|l| l.starts_with("waiting")).count(),
        3,
        "every note waits on the tablet: {outbox}"
    );
    let (status, body) = fieldsync_tests::http_get(server.addr(), "/healthz")
        .await
        .unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(body.contains(r#""storage":"full""#), "{body}");
    // Reads go on: a tablet with nothing to send syncs.
    ok(second, &["sync", "--timeout", "30"]).await;

    server.state().db().cap_size(None).await.unwrap();
    let synced = ok(data, &["sync", "--timeout", "30"]).await;
    assert!(synced.contains("3"), "{synced}");
    let outbox = ok(data, &["outbox"]).await;
    assert_eq!(
        outbox.lines().filter(|l| l.starts_with("waiting")).count(),
        0,
        "{outbox}"
    );
    let (status, body) = fieldsync_tests::http_get(server.addr(), "/healthz")
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let store = Store::open(&db).unwrap();
    let notes: Vec<String> = store
        .notes_for_doc(world.job.into())
        .unwrap()
        .into_iter()
        .map(|n| n.text)
        .collect();
    for i in 0..3 {
        let start = format!("Note {i} written while the server's disk was full:");
        let copies = notes.iter().filter(|n| n.starts_with(&start)).count();
        assert_eq!(copies, 1, "note {i} on the server once");
    }
    server.shutdown().await.unwrap();
}

/// `fieldsync pair` over TLS, as a technician pairs with a server that has a self-signed
/// certificate: the fingerprint the server printed, the token in `FIELDSYNC_TOKEN` (never on
/// the command line). A wrong fingerprint is refused, saying so, and leaves the tablet unpaired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_pairs_over_tls_with_the_servers_fingerprint() {
    let company = fieldsync_tests::crew::start_tls(Timestamp(chrono::Utc::now())).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let url = company.server.url("");
    let fingerprint = company.server.fingerprint().unwrap().to_string();
    let token = company.tess.token.as_str();
    // Without the fingerprint, the self-signed certificate is not trusted.
    let untrusted = fieldsync_with_token(data, &["pair", &url], token).await;
    assert_eq!(untrusted.status.code(), Some(1));
    assert!(
        text(&untrusted.stderr).contains("not trusted"),
        "{}",
        text(&untrusted.stderr)
    );
    // Another certificate's fingerprint: refused, and said why.
    let other = "AB:".repeat(31) + "AB";
    let wrong = fieldsync_with_token(data, &["pair", &url, "--fingerprint", &other], token).await;
    let said = text(&wrong.stderr);
    assert_eq!(wrong.status.code(), Some(1), "{said}");
    assert!(
        said.contains("not the one this tablet was paired with"),
        "{said}"
    );
    refused(data, &["jobs"], "not paired").await;
    // The token is not taken from the command line.
    let on_line = fieldsync_with_token(data, &["pair", &url, token], token).await;
    assert_eq!(on_line.status.code(), Some(2), "{}", text(&on_line.stderr));

    let paired =
        fieldsync_with_token(data, &["pair", &url, "--fingerprint", &fingerprint], token).await;
    assert!(paired.status.success(), "{}", text(&paired.stderr));
    assert!(text(&paired.stdout).contains("Paired with https://"));
    let synced = ok(data, &["sync", "--timeout", "30"]).await;
    assert!(synced.contains("Synced"), "{synced}");
}

/// Adds a technician with a device to the company at `db`, assigned to `job`; returns their
/// device token.
fn add_technician(db: &Path, name: &str, job: JobId) -> String {
    let mut store = Store::open(db).unwrap();
    let tx = store.transaction().unwrap();
    let user = tx.add_user(name, Role::Technician, None).unwrap();
    let (token, hash) = new_device_token();
    tx.add_device(user.id, &format!("{name}'s tablet"), hash)
        .unwrap();
    let office = Writer::new(Role::Office, UserId::new(), "Dana Dispatch");
    let now = Timestamp(chrono::Utc::now());
    let mut doc = tx.load(job.into()).unwrap().unwrap();
    let change = office
        .edit(&mut doc, now, |record| {
            if let Record::Job(j) = record {
                j.record.technicians.insert(user.id, now);
                // The job starts with nothing owed, so that the payment below has one
                // invoice to go to.
                for invoice in j.invoices.values_mut() {
                    invoice.voided.get_or_insert(fieldsync_protocol::Voided {
                        at: now,
                        by: UserId::new(),
                        reason: "test".into(),
                    });
                }
            }
            Ok(())
        })
        .unwrap()
        .unwrap();
    tx.record_local(job.into(), &mut doc, &change, false)
        .unwrap();
    tx.set_company(&fieldsync_protocol::Company {
        name: "Northwind Heating & Plumbing".into(),
        address_lines: vec!["410 Foundry Street".into()],
        phone: "(217) 555-0140".into(),
        ..Default::default()
    })
    .unwrap();
    tx.commit().unwrap();
    token
}

/// Two technicians invoice the same job offline, each with the `fieldsync` binary: their
/// numbers never collide (each carries its tablet's number), a payment goes to the invoice by
/// default and pays it, the PDF is printed offline, and the server ends up with both invoices
/// and the payment applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoices_issued_offline_on_two_tablets_are_paid_printed_and_never_collide() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.sqlite3");
    let world = seed(&db);
    let theo = add_technician(&db, "theo", world.job);
    let job = world.job.to_string();
    let (tess_data, theo_data) = (dir.path().join("tess"), dir.path().join("theo"));
    let (tess_data, theo_data) = (tess_data.as_path(), theo_data.as_path());

    let server = TestServer::start_with_db(&db).await.unwrap();
    let url = server.url("");
    for (data, token) in [(tess_data, &world.token), (theo_data, &theo)] {
        ok(data, &["pair", &url, token]).await;
        ok(data, &["sync", "--timeout", "30"]).await;
    }
    server.shutdown().await.unwrap();

    // Offline from here. Bad lines are refused with a reason.
    refused(
        tess_data,
        &[
            "invoice",
            "create",
            "--job",
            &job,
            "--line",
            "Seal; two; 10",
        ],
        "quantity \"two\" of \"Seal\" is not a number",
    )
    .await;
    refused(
        tess_data,
        &[
            "invoice",
            "create",
            "--job",
            &job,
            "--line",
            "Refund; 1; -10",
        ],
        "must not be negative",
    )
    .await;
    refused(
        tess_data,
        &["invoice", "create", "--job", &job, "--line", "no price"],
        "must be written as",
    )
    .await;
    let id = fieldsync_protocol::InvoiceId::new().to_string();
    let create = [
        "invoice",
        "create",
        "--job",
        &job,
        "--line",
        "Pump seal; 1; 120.00",
        "--line",
        "Labour; 1.5; 80",
        "--tax",
        "8.25",
        "--id",
        &id,
    ];
    let issued = ok(tess_data, &create).await;
    // 120 + 1.5 × 80 = 240; 8.25 % tax = 19.80.
    assert!(issued.contains("total 259.80"), "{issued}");
    let number = issued
        .split_whitespace()
        .nth(1)
        .expect("Invoice <number> issued")
        .to_string();
    assert!(
        number.starts_with("INV-") && number.ends_with("-00001"),
        "{issued}"
    );
    let again = ok(tess_data, &create).await;
    assert!(
        again.contains(&number),
        "the same form issues it once: {again}"
    );
    let theirs = ok(
        theo_data,
        &[
            "invoice",
            "create",
            "--job",
            &job,
            "--line",
            "Filter; 2; 12.50",
        ],
    )
    .await;
    let their_number = theirs.split_whitespace().nth(1).unwrap().to_string();
    assert!(their_number.ends_with("-00001"), "{theirs}");
    assert_ne!(number, their_number, "two tablets never share a number");

    let shown = ok(tess_data, &["invoice", "show", &number]).await;
    assert!(
        shown.contains("pending") && shown.contains("balance due 259.80"),
        "{shown}"
    );
    // The customer signs on Tess's tablet (the app's signature pad; here its core).
    {
        let mut tablet = Tablet::open_paired(&tess_data.join("tablet.sqlite3")).unwrap();
        let issued = tablet
            .store()
            .invoices_numbered(&number)
            .unwrap()
            .pop()
            .unwrap();
        let stroke: Vec<(f32, f32)> = (0..50)
            .map(|i| (20.0 + 10.0 * i as f32, 100.0 + (i % 7) as f32 * 9.0))
            .collect();
        tablet
            .sign_invoice(
                Timestamp(chrono::Utc::now()),
                issued.id,
                "Ana Ruiz",
                &[stroke],
            )
            .unwrap();
    }
    // A payment goes to the job's open invoice unless told otherwise; the rest is credit.
    let paid = ok(
        tess_data,
        &[
            "payment", "record", "--job", &job, "--amount", "300", "--method", "card",
        ],
    )
    .await;
    assert!(
        paid.contains(&format!("against invoice {number}")),
        "{paid}"
    );
    let pdf = dir.path().join("invoice.pdf");
    let shown = ok(
        tess_data,
        &["invoice", "show", &number, "--pdf", pdf.to_str().unwrap()],
    )
    .await;
    assert!(
        shown.contains("  paid  ") || shown.contains("paid "),
        "{shown}"
    );
    assert!(shown.contains("balance due 0.00"), "{shown}");
    let printed = lopdf::Document::load(&pdf).expect("a PDF");
    let pages: Vec<u32> = printed.get_pages().keys().copied().collect();
    let text = printed.extract_text(&pages).unwrap();
    for expected in [
        number.as_str(),
        "Northwind Heating & Plumbing",
        "$259.80",
        "Pump seal",
        "Balance due",
    ] {
        assert!(text.contains(expected), "{expected:?} in the PDF: {text}");
    }

    // Back online: both invoices and the payment reach the server, the payment applied.
    let server = TestServer::start_with_db(&db).await.unwrap();
    let url = server.url("");
    for (data, token) in [(tess_data, &world.token), (theo_data, &theo)] {
        ok(data, &["pair", &url, token]).await;
        let synced = ok(data, &["sync", "--timeout", "30"]).await;
        assert!(synced.contains("all changes sent"), "{synced}");
    }
    // The server tells a tablet how far its numbers went (a tablet signed out and paired
    // again goes on from there) and the company its invoices name.
    let identity = net::check_pairing(&url, &world.token, None).await.unwrap();
    assert_eq!(identity.invoice_seq, Some(1));
    assert_eq!(
        identity.company.map(|c| c.name),
        Some("Northwind Heating & Plumbing".to_string())
    );
    server.shutdown().await.unwrap();
    let store = Store::open(&db).unwrap();
    assert!(store.quarantined(10).unwrap().is_empty(), "nothing refused");
    let invoices = store.invoices_for_account(world.account).unwrap();
    let numbers: Vec<&str> = invoices.iter().map(|i| i.number.as_str()).collect();
    assert!(
        numbers.contains(&number.as_str()) && numbers.contains(&their_number.as_str()),
        "{numbers:?}"
    );
    let ledger = store.ledger(world.account).unwrap();
    let ours = invoices.iter().find(|i| i.number == number).unwrap();
    let signed = ours
        .signature
        .as_ref()
        .expect("the signature reached the server");
    assert_eq!(signed.signer, "Ana Ruiz");
    let picture = store
        .blob(&signed.image)
        .unwrap()
        .expect("its picture was uploaded");
    assert_eq!(ContentHash::of(&picture), signed.image);
    assert_eq!(
        ledger.invoices[&ours.id].status,
        fieldsync_protocol::InvoiceStatus::Paid
    );
    assert!(ledger.unapplied_credit >= "40.20".parse().unwrap());
}

#[tokio::test]
async fn the_command_line_shows_a_job_and_a_customer_and_records_materials_offline() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.sqlite3");
    let world = seed(&db);
    let data = dir.path().join("tablet");
    let data = data.as_path();
    let job = world.job.to_string();
    let server = TestServer::start_with_db(&db).await.unwrap();
    ok(data, &["pair", &server.url(""), &world.token]).await;
    ok(data, &["sync", "--timeout", "30"]).await;
    server.shutdown().await.unwrap();

    // Offline from here on.
    ok(
        data,
        &[
            "note",
            "add",
            "--job",
            &job,
            "--kind",
            "site",
            "Side gate code 1234",
        ],
    )
    .await;
    ok(
        data,
        &[
            "job",
            "costs",
            "--job",
            &job,
            "--final-amount",
            "212.50",
            "2 x Gasket",
            "Flue seal",
        ],
    )
    .await;
    let shown = ok(data, &["job", "show", &job]).await;
    for wanted in [
        world.job_title.as_str(),
        "Site notes:",
        "Side gate code 1234",
        "2 x Gasket",
        "1 x Flue seal",
        "Final:     $212.50",
    ] {
        assert!(shown.contains(wanted), "{wanted:?} in {shown}");
    }
    refused(
        data,
        &["job", "costs", "--job", &job, "3 x"],
        "says how many but not what",
    )
    .await;
    refused(
        data,
        &[
            "job",
            "costs",
            "--job",
            &job,
            "--final-amount",
            "lots",
            "Gasket",
        ],
        "not an amount",
    )
    .await;

    let account = world.account.to_string();
    ok(
        data,
        &[
            "customer",
            "log",
            &account,
            "--how",
            "visit",
            "Quoted a new boiler",
        ],
    )
    .await;
    refused(
        data,
        &["customer", "log", &account, "  "],
        "what the contact was about",
    )
    .await;
    let customer = ok(data, &["customer", "show", &account]).await;
    assert!(
        customer.contains("Visit by tess: Quoted a new boiler"),
        "{customer}"
    );
    assert!(customer.contains(&world.job_title), "{customer}");
    let name = customer.lines().next().unwrap().split(" (").next().unwrap();
    let word = name.split_whitespace().next().unwrap().to_lowercase();
    let found = ok(data, &["search", &word]).await;
    assert!(found.contains(&account), "{found}");
    let nothing = ok(data, &["search", "zzz-no-such-customer"]).await;
    assert!(
        nothing.contains("Nothing on this tablet matches"),
        "{nothing}"
    );

    // A customer met in the field, added offline with a job; a custom field filled in.
    refused(
        data,
        &[
            "customer",
            "new",
            "--name",
            "Rosa Delgado",
            "--street",
            " ",
            "--city",
            "Springfield",
            "--job",
            "No heat",
        ],
        "the street is required",
    )
    .await;
    let added = ok(
        data,
        &[
            "customer",
            "new",
            "--name",
            "Rosa Delgado",
            "--phone",
            "(217) 555-0199",
            "--street",
            "88 Orchard Lane",
            "--city",
            "Springfield",
            "--job",
            "No heat: furnace igniter",
        ],
    )
    .await;
    assert!(added.contains("Rosa Delgado added"), "{added}");
    let rosa = added
        .lines()
        .find_map(|l| l.strip_prefix("customer "))
        .unwrap()
        .to_string();
    let found = ok(data, &["search", "555-0199"]).await;
    assert!(found.contains(&rosa), "{found}");
    let shown = ok(data, &["customer", "show", &rosa]).await;
    assert!(shown.contains("No heat: furnace igniter"), "{shown}");
    assert!(shown.contains("On site"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_stops_the_retries_until_the_tablet_is_paired_again() {
    let Online {
        _dir,
        db,
        world,
        proxy,
        server: _server,
        tess,
        url,
        path,
        service,
        mut status,
        ..
    } = online().await;

    // The office revokes the tablet; its connection drops, and the next attempt is refused.
    let mut store = Store::open(&db).unwrap();
    let device = store
        .devices()
        .unwrap()
        .into_iter()
        .find(|d| d.user.id == world.technician)
        .unwrap();
    let tx = store.transaction().unwrap();
    assert!(tx.revoke_device(device.id).unwrap());
    tx.commit().unwrap();
    proxy.cut().await;
    until(&mut status, "told to pair again", |s| {
        s.needs_pairing
            && s.last_error
                .as_deref()
                .is_some_and(|e| e.contains("Pair this tablet again"))
    })
    .await;
    // No more attempts: with a backoff of at most 200 ms, retrying would open several.
    let opened = proxy.counts.borrow().0;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        proxy.counts.borrow().0,
        opened,
        "no retries with a refused token"
    );
    assert!(!service.status().borrow().online);

    // Paired again with a new device for Tess: the service syncs again by itself.
    let (token, hash) = new_device_token();
    let tx = store.transaction().unwrap();
    tx.add_device(world.technician, "Tess's tablet, paired again", hash)
        .unwrap();
    tx.commit().unwrap();
    drop(Tablet::pair(&path, &url, &token, tess).unwrap());
    until(&mut status, "online again", |s| {
        s.online && s.last_error.is_none() && !s.needs_pairing
    })
    .await;
    service.stop().await;
}
