//! The company's story (`fieldsync_tests::fixtures::Company`) on Tess's tablet, and the app
//! wired to it: shared by the UI tests and the screenshots.

#![allow(dead_code)] // each test binary uses a different part

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use fieldsync_app::Tablet;
use fieldsync_app_ui::{AppWindow, Controller, Options, wire};
use fieldsync_protocol::Author;
use fieldsync_store::Store;
use fieldsync_tests::fixtures::photo_bytes;
pub use fieldsync_tests::fixtures::{Company, People, at, today};
use slint::ComponentHandle as _;

/// The server the tablet is paired with.
pub const SERVER: &str = "http://192.168.1.20:8080";

/// Writes the company into the tablet's store at `path`, as the office's changes (already on
/// the server, so the tablet's outbox starts empty).
pub fn seed(path: &Path) -> Company {
    seed_for(path, People::new().tess)
}

/// [`seed`] with `tess` as the technician (a user the server knows).
pub fn seed_for(path: &Path, tess: Author) -> Company {
    Company::seed(&mut Store::open(path).unwrap(), &People::with_tess(tess))
}

/// The app on a seeded tablet: the window (1280×800, shown), its controller, the company, the
/// links the app asked to open, and the temp dir holding the replica.
pub struct App {
    pub ui: AppWindow,
    pub controller: Controller,
    pub company: Company,
    pub links: Rc<RefCell<Vec<String>>>,
    /// The app's clock: tests move it on.
    pub clock: Rc<std::cell::Cell<DateTime<Utc>>>,
    /// How many times the technician asked to pair the tablet again.
    pub pair_requests: Rc<std::cell::Cell<usize>>,
    pub dir: tempfile::TempDir,
}

/// What the test's file dialog answers: the file the technician picks, `None` for a dialog
/// closed, or an error for a tablet without a dialog.
static CHOSEN: Mutex<Result<Option<std::path::PathBuf>, String>> = Mutex::new(Ok(None));

/// The next time the app asks, the file dialog answers `answer`.
pub fn will_choose(answer: Result<Option<std::path::PathBuf>, String>) {
    *CHOSEN.lock().unwrap() = answer;
}

/// The file dialog the tests' app asks (see [`will_choose`]).
pub fn chooser() -> fieldsync_app_ui::PhotoChooser {
    Arc::new(|| CHOSEN.lock().unwrap().clone())
}

/// Lets the app's clock run, as the event loop would, until `busy` says the work the app sent
/// off the UI thread (a photo being prepared, a server being checked) is done; fails the test
/// after ten seconds, naming `what`.
pub fn until_done(what: &str, busy: impl Fn() -> bool) {
    for _ in 0..1_000 {
        if !busy() {
            return;
        }
        i_slint_backend_testing::mock_elapsed_time(std::time::Duration::from_millis(30));
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("{what} did not finish within ten seconds");
}

/// Builds the app as `fieldsync-app` does, without an event loop, at `now`.
pub fn app(now: DateTime<Utc>) -> App {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tablet.sqlite3");
    let company = seed(&path);
    // Paired as `fieldsync pair` does (the sync service is not started: the tablet stays
    // offline and every change waits in the outbox).
    let token = format!("fsd_{}", "Q".repeat(43));
    let tablet = Tablet::pair(&path, SERVER, &token, company.tess.clone()).unwrap();
    let links = Rc::new(RefCell::new(Vec::new()));
    let opened = links.clone();
    let pair_requests = Rc::new(std::cell::Cell::new(0));
    let clock = Rc::new(std::cell::Cell::new(now));
    let reading = clock.clone();
    let asked = pair_requests.clone();
    let ui = AppWindow::new().unwrap();
    let controller = wire(
        &ui,
        Arc::new(Mutex::new(tablet)),
        Options {
            clock: Box::new(move || reading.get()),
            zone: fieldsync_app_ui::Zone::UTC,
            choose_photo: chooser(),
            open_link: Box::new(move |link| opened.borrow_mut().push(link.to_string())),
            sync: None,
            signed_out: None,
            pair_again: Some(Box::new(move || asked.set(asked.get() + 1))),
        },
    );
    ui.window().set_size(slint::PhysicalSize::new(1280, 800));
    ui.show().unwrap();
    App {
        ui,
        controller,
        company,
        links,
        clock,
        pair_requests,
        dir,
    }
}

/// A photo file as a camera would leave it: a 1600×1200 JPEG.
pub fn camera_file(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("IMG_0042.jpg");
    std::fs::write(&path, photo_bytes(7, 1600, 1200)).unwrap();
    path
}

/// 10:05 on the test day, while Tess is on site at Harbor Bakery.
pub fn morning() -> DateTime<Utc> {
    at(today(), 10, 5).0
}
