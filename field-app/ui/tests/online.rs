//! The app wired to the core's background sync against the real server on loopback: the first
//! sync fills the day's list, a payment recorded through the UI reaches the server once, and
//! the sync bar shows what the service reports.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use fieldsync_app::net::{self, Backoff, SyncService};
use fieldsync_app::{SyncStatus, Tablet};
use fieldsync_app_ui::{Nav, Options, Page, SyncAdapter, TodayAdapter, wire};
use fieldsync_protocol::{Author, Role};
use fieldsync_store::Store;
use fieldsync_tests::TestServer;
use i_slint_backend_testing::ElementHandle;
use slint::{ComponentHandle as _, Model as _};
use tokio::sync::watch;

/// The server's database with Tess's user and tablet, and the company; returns her device
/// token and the company.
fn server_db(path: &Path) -> (String, common::Company) {
    let mut store = Store::open(path).unwrap();
    let tx = store.transaction().unwrap();
    let user = tx.add_user("tess", Role::Technician, None).unwrap();
    let (token, hash) = fieldsync_server::auth::new_device_token();
    tx.add_device(user.id, "Tess's tablet", hash).unwrap();
    tx.commit().unwrap();
    drop(store);
    let tess = Author {
        user: user.id,
        name: "Tess Morgan".into(),
    };
    (token, common::seed_for(path, tess))
}

/// Waits until the service's status satisfies `ready` (the bound only turns a hang into a
/// failure; nothing here measures time).
fn until(
    runtime: &tokio::runtime::Runtime,
    status: &mut watch::Receiver<SyncStatus>,
    what: &str,
    ready: impl FnMut(&SyncStatus) -> bool,
) {
    let waited = runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(60), status.wait_for(ready))
            .await
            .map(|ready| ready.is_ok())
    });
    assert_eq!(
        waited,
        Ok(true),
        "{what}: the status stayed {:?}",
        *status.borrow()
    );
}

fn element(ui: &fieldsync_app_ui::AppWindow, label: &str) -> ElementHandle {
    let found: Vec<_> = ElementHandle::find_by_accessible_label(ui, label).collect();
    assert_eq!(found.len(), 1, "elements labelled {label:?}");
    found.into_iter().next().unwrap()
}

/// The app's window on `shared`, wired and shown, in the morning of the company's day.
fn app_window(
    shared: &net::SharedTablet,
    sync: Option<SyncService>,
) -> (fieldsync_app_ui::AppWindow, fieldsync_app_ui::Controller) {
    let ui = fieldsync_app_ui::AppWindow::new().unwrap();
    let controller = wire(
        &ui,
        Arc::clone(shared),
        Options {
            clock: Box::new(common::morning),
            zone: fieldsync_app_ui::Zone::UTC,
            choose_photo: common::chooser(),
            open_link: Box::new(|_| {}),
            sync,
            signed_out: None,
            pair_again: None,
        },
    );
    ui.show().unwrap();
    (ui, controller)
}

/// The real server on the company, and Tess's tablet paired with it (not synced yet).
struct Paired {
    runtime: tokio::runtime::Runtime,
    server: TestServer,
    shared: net::SharedTablet,
    company: common::Company,
    db: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

fn paired() -> Paired {
    i_slint_backend_testing::init_no_event_loop();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.sqlite3");
    let (token, company) = server_db(&db);
    let server = runtime.block_on(TestServer::start_with_db(&db)).unwrap();
    let replica = dir.path().join("tablet.sqlite3");
    let tablet = Tablet::pair(&replica, &server.url(""), &token, company.tess.clone()).unwrap();
    Paired {
        runtime,
        server,
        shared: net::shared(tablet),
        company,
        db,
        _dir: dir,
    }
}

/// The background sync of `shared` on `runtime`, retrying quickly.
fn start_sync(runtime: &tokio::runtime::Runtime, shared: &net::SharedTablet) -> SyncService {
    let _in_runtime = runtime.enter();
    SyncService::start(
        shared.clone(),
        Backoff::new(Duration::from_millis(20), Duration::from_millis(200)),
    )
    .unwrap()
}

/// [`start_sync`], once its first sync (the first download) is over.
fn synced(runtime: &tokio::runtime::Runtime, shared: &net::SharedTablet) -> SyncService {
    let service = start_sync(runtime, shared);
    until(runtime, &mut service.status(), "first sync", |s| {
        s.online && s.last_sync.is_some() && s.first_sync_documents.is_none()
    });
    service
}

#[test]
fn a_payment_recorded_in_the_ui_reaches_the_server_once() {
    let Paired {
        runtime,
        server,
        shared,
        company,
        db,
        _dir,
    } = paired();
    let service = synced(&runtime, &shared);
    let mut status = service.status();

    let (ui, controller) = app_window(&shared, Some(service));
    let today = ui.global::<TodayAdapter>().get_jobs();
    assert_eq!(today.row_count(), 6, "the first sync brought Tess's day");
    let sync = ui.global::<SyncAdapter>();
    assert!(sync.get_online());
    assert_eq!(sync.get_pending(), 0);
    assert_ne!(sync.get_last_sync(), "never");

    element(&ui, "Open job Annual boiler service, Harbor Bakery")
        .invoke_accessible_default_action();
    element(&ui, "Record payment").invoke_accessible_default_action();
    assert_eq!(ui.global::<Nav>().get_page(), Page::Payment);
    element(&ui, "Amount").set_accessible_value("80.00");
    element(&ui, "Reference").set_accessible_value("#7781");
    let record = element(&ui, "Record payment");
    record.invoke_accessible_default_action();
    record.invoke_accessible_default_action();
    // The outbox empties only when the server has acknowledged the payment.
    let acknowledged = runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(60), async {
            while net::lock(&shared).pending().unwrap() > 0 {
                if status.changed().await.is_err() {
                    return false;
                }
            }
            true
        })
        .await
    });
    assert_eq!(acknowledged, Ok(true), "the payment was acknowledged");
    // What `run` does when the service's status changes.
    sync.invoke_changed();
    assert_eq!(sync.get_pending(), 0);
    assert!(sync.get_online());

    let server_store = Store::open(&db).unwrap();
    let on_server: Vec<_> = server_store
        .payments_for_account(company.harbor)
        .unwrap()
        .into_iter()
        .filter(|p| p.reference == "#7781")
        .collect();
    assert_eq!(on_server.len(), 1, "two taps, one payment on the server");
    assert_eq!(on_server[0].amount.to_string(), "80.00");
    assert_eq!(on_server[0].recorded_by, company.tess.user);

    drop(controller);
    drop(ui);
    runtime.block_on(server.shutdown()).unwrap();
}

#[test]
fn a_job_assigned_overnight_is_on_today_with_its_customer_after_one_sync() {
    let Paired {
        runtime,
        server,
        shared,
        company,
        _dir,
        ..
    } = paired();
    let limits = || net::SyncLimits {
        timeout: Duration::from_secs(60),
        ..Default::default()
    };
    runtime
        .block_on(net::sync_until_caught_up(&shared, limits()))
        .unwrap();

    // Overnight, with the tablet off, the office gives Tess a job of a new customer (written
    // while the server is down for its nightly restart).
    let mut assigned = None;
    let server = runtime
        .block_on(server.restart(|db| {
            assigned = Some(company.assign_new_customer(&mut Store::open(db).unwrap()));
        }))
        .unwrap();
    let (basalt, job) = assigned.unwrap();

    // In the morning: one sync.
    let report = runtime
        .block_on(net::sync_until_caught_up(&shared, limits()))
        .unwrap();
    assert_eq!(report.connections, 1, "{report:?}");
    assert!(
        report.received >= 3,
        "account, site and job arrived: {report:?}"
    );

    let (ui, controller) = app_window(&shared, None);
    let today = ui.global::<TodayAdapter>().get_jobs();
    assert_eq!(today.row_count(), 7, "Tess's day and the new job");
    element(&ui, "Open job Conveyor motor service, Basalt Works")
        .invoke_accessible_default_action();
    assert_eq!(ui.global::<Nav>().get_page(), Page::Job);
    let tablet = net::lock(&shared);
    assert!(tablet.store().account(basalt).unwrap().is_some());
    assert!(tablet.store().record(job.into()).unwrap().is_some());
    drop(tablet);
    drop(controller);
    drop(ui);
    runtime.block_on(server.shutdown()).unwrap();
}

#[test]
fn a_revoked_tablet_pairs_again_from_the_app_and_its_work_reaches_the_server() {
    let Paired {
        runtime,
        server,
        shared,
        company,
        db,
        _dir,
    } = paired();
    runtime.block_on(synced(&runtime, &shared).stop());
    // The office revokes the tablet while it is away; Tess finishes the job offline.
    let mut server_store = Store::open(&db).unwrap();
    let device = server_store
        .devices()
        .unwrap()
        .into_iter()
        .find(|d| d.user.id == company.tess.user)
        .unwrap();
    let tx = server_store.transaction().unwrap();
    assert!(tx.revoke_device(device.id).unwrap());
    tx.commit().unwrap();
    let service = start_sync(&runtime, &shared);
    let mut status = service.status();
    let (ui, controller) = app_window(&shared, Some(service));
    element(&ui, "Open job Annual boiler service, Harbor Bakery")
        .invoke_accessible_default_action();
    element(&ui, "Set status Completed").invoke_accessible_default_action();
    until(&runtime, &mut status, "told to pair again", |s| {
        s.needs_pairing
    });
    let sync = ui.global::<SyncAdapter>();
    sync.invoke_changed();
    assert!(sync.get_needs_pairing());
    assert_eq!(sync.get_pending(), 1, "the work waits on the tablet");

    // "Pair again": the window starts from the server's address; the office's new token.
    let app_runtime = std::rc::Rc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap(),
    );
    let window = fieldsync_app_ui::PairWindow::new().unwrap();
    let paired = net::lock(&shared).pairing().unwrap();
    let replica = _dir.path().join("tablet.sqlite3");
    fieldsync_app_ui::wire_pairing_again(&window, app_runtime, replica, paired);
    window.show().unwrap();
    assert_eq!(window.get_server_url(), server.url(""));
    let (token, hash) = fieldsync_server::auth::new_device_token();
    let tx = server_store.transaction().unwrap();
    tx.add_device(company.tess.user, "Tess's tablet, paired again", hash)
        .unwrap();
    tx.commit().unwrap();
    pairing_element(&window, "Device token").set_accessible_value(&token);
    pair_now(&window);
    assert_eq!(window.get_error(), "", "paired again");
    assert!(!window.window().is_visible(), "the pairing window closed");

    // The running sync takes the new token and sends the work done meanwhile.
    until(&runtime, &mut status, "synced with the new token", |s| {
        s.online && !s.needs_pairing && s.pending == 0
    });
    sync.invoke_changed();
    assert!(!sync.get_needs_pairing());
    let job = Store::open(&db)
        .unwrap()
        .job(company.boiler)
        .unwrap()
        .unwrap();
    assert_eq!(job.status, fieldsync_protocol::JobStatus::Completed);

    drop(controller);
    drop(ui);
    runtime.block_on(server.shutdown()).unwrap();
}

/// Taps "Pair" and lets the app's clock run (as the event loop would) until the pairing window
/// is no longer busy checking the server: the check runs off the UI thread.
fn pair_now(window: &fieldsync_app_ui::PairWindow) {
    pairing_element(window, "Pair").invoke_accessible_default_action();
    // The tap comes back at once: the window is checking, with its spinner, or the check was
    // already over (a token refused before any network, such as a malformed one, is answered
    // before the tap returns).
    if window.get_busy() {
        assert_eq!(
            ElementHandle::find_by_accessible_label(window, "Checking the server").count(),
            1,
            "a spinner shows"
        );
    } else {
        assert!(!window.get_error().is_empty(), "busy, or already answered");
    }
    common::until_done("pairing", || window.get_busy());
}

/// The element of the pairing window labelled `label`.
fn pairing_element(window: &fieldsync_app_ui::PairWindow, label: &str) -> ElementHandle {
    let found: Vec<_> = ElementHandle::find_by_accessible_label(window, label).collect();
    assert_eq!(found.len(), 1, "elements labelled {label:?}");
    found.into_iter().next().unwrap()
}

/// A server on a new company (over TLS when `tls`), and a new tablet's pairing window wired to
/// pair with it.
struct Pairing {
    server: TestServer,
    token: String,
    window: fieldsync_app_ui::PairWindow,
    app: fieldsync_app_ui::OpenApp,
    replica: std::path::PathBuf,
    _runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

fn pairing(tls: bool) -> Pairing {
    use fieldsync_tests::ServingExt as _;
    i_slint_backend_testing::init_no_event_loop();
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.sqlite3");
    let (token, _company) = server_db(&db);
    let serving = fieldsync_server::serving::Serving::default();
    let serving = if tls {
        serving.with_test_tls()
    } else {
        serving.plain()
    };
    let server = server_runtime
        .block_on(async {
            let state = fieldsync_server::AppState::open(&db)?;
            TestServer::start_serving(state, &db, serving).await
        })
        .unwrap();
    let app_runtime = std::rc::Rc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap(),
    );
    let replica = dir.path().join("tablet").join("tablet.sqlite3");
    let window = fieldsync_app_ui::PairWindow::new().unwrap();
    let app = fieldsync_app_ui::wire_pairing(&window, app_runtime, replica.clone());
    window.show().unwrap();
    Pairing {
        server,
        token,
        window,
        app,
        replica,
        _runtime: server_runtime,
        _dir: dir,
    }
}

#[test]
fn a_new_tablet_pairs_from_the_app_with_the_address_and_token_alone() {
    let Pairing {
        server,
        token,
        window,
        app,
        replica,
        _runtime,
        _dir,
    } = pairing(false);
    let address = pairing_element(&window, "Server address");
    let token_field = pairing_element(&window, "Device token");
    address.set_accessible_value(server.url(""));
    token_field.set_accessible_value("fsd_short");
    pair_now(&window);
    assert!(
        window.get_error().contains("fsd_"),
        "a malformed token is explained: {}",
        window.get_error()
    );
    let stranger = format!("fsd_{}", "A".repeat(43));
    token_field.set_accessible_value(&stranger);
    pair_now(&window);
    assert!(
        window.get_error().contains("refused"),
        "an unknown token is refused by the server: {}",
        window.get_error()
    );
    assert!(app.borrow().is_none());
    assert!(matches!(
        Tablet::open_paired(&replica),
        Err(fieldsync_app::AppError::NotPaired)
    ));

    token_field.set_accessible_value(&token);
    pair_now(&window);
    assert_eq!(window.get_error(), "", "paired");
    assert!(
        app.borrow().is_some(),
        "the main window replaced the pairing window"
    );
    let tablet = Tablet::open_paired(&replica).unwrap();
    assert_eq!(
        tablet.author().name,
        "tess",
        "the server said whose token it is"
    );
}

#[test]
fn a_tablet_pairs_with_a_self_signed_server_by_its_fingerprint() {
    let Pairing {
        server,
        token,
        window,
        app,
        replica,
        _runtime,
        _dir,
    } = pairing(true);
    pairing_element(&window, "Server address").set_accessible_value(server.url(""));
    pairing_element(&window, "Device token").set_accessible_value(&token);
    let fingerprint = pairing_element(&window, "Certificate fingerprint");

    // Without the fingerprint the self-signed certificate is not trusted; with another
    // certificate's, the tablet says it is not the server it was told of.
    pair_now(&window);
    assert!(
        window.get_error().contains("not trusted"),
        "{}",
        window.get_error()
    );
    fingerprint.set_accessible_value("12".repeat(32));
    pair_now(&window);
    assert!(
        window
            .get_error()
            .contains("not the one this tablet was paired with"),
        "{}",
        window.get_error()
    );
    assert!(app.borrow().is_none());

    fingerprint.set_accessible_value(server.fingerprint().unwrap());
    pair_now(&window);
    assert_eq!(window.get_error(), "", "paired");
    assert!(app.borrow().is_some());
    let pairing = Tablet::open_paired(&replica)
        .unwrap()
        .pairing()
        .unwrap()
        .unwrap();
    assert_eq!(pairing.tls_fingerprint.as_deref(), server.fingerprint());
}
