//! Running the app on a device: the Slint event loop on the main thread, tokio on its own
//! worker thread for the background sync, and the sync service's status forwarded to the UI.
//! On first run the tablet is not paired yet: a pairing window asks for the server's address
//! and the device token first.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use chrono::Utc;
use fieldsync_app::net::{self, Backoff, SyncService};
use fieldsync_app::{AppError, Tablet};
use fieldsync_protocol::Author;
use slint::ComponentHandle as _;
use tokio::runtime::Runtime;

use crate::{AppWindow, Controller, Options, PairWindow, SyncAdapter, background, wire};

/// Why the app could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The replica could not be opened.
    #[error(transparent)]
    App(#[from] AppError),
    /// No window could be opened.
    #[error("cannot open the window")]
    Platform(#[from] slint::PlatformError),
    /// The sync runtime could not start.
    #[error("cannot start the sync runtime")]
    Runtime(#[from] std::io::Error),
}

/// Runs the app on the replica at `replica` until its window is closed, pairing it first if
/// it is new. Everything the technician does is saved locally first; the background sync
/// pushes it whenever there is a connection.
pub fn run(replica: &Path) -> Result<(), RunError> {
    // Tokio gets its own worker thread; the Slint event loop keeps the main thread.
    let runtime = Rc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("fieldsync-sync")
            .enable_all()
            .build()?,
    );
    match Tablet::open_paired(replica) {
        Ok(tablet) => {
            tracing::info!(replica = %replica.display(), "opening the paired tablet");
            let (ui, _controller) = start(&runtime, replica, tablet)?;
            ui.run()?;
        }
        Err(AppError::NotPaired) => {
            tracing::info!(replica = %replica.display(), "not paired yet: asking for the server");
            let window = PairWindow::new()?;
            let _app = wire_pairing(&window, Rc::clone(&runtime), replica.to_owned());
            window.show()?;
            slint::run_event_loop()?;
        }
        Err(other) => return Err(other.into()),
    }
    // Every change is already durable on the tablet: an unfinished exchange is redone next time.
    if let Ok(runtime) = Rc::try_unwrap(runtime) {
        runtime.shutdown_timeout(Duration::from_secs(2));
    }
    Ok(())
}

/// The main window on a paired tablet (its replica at `replica`), with the background sync
/// started. Once the technician signs out, the pairing window takes its place.
fn start(
    runtime: &Rc<Runtime>,
    replica: &Path,
    tablet: Tablet,
) -> Result<(AppWindow, Controller), RunError> {
    let tablet = net::shared(tablet);
    let sync = {
        let _in_runtime = runtime.enter();
        SyncService::start(tablet.clone(), Backoff::default())?
    };
    let mut status = sync.status();
    let ui = AppWindow::new()?;
    let signed_out = {
        let (main, runtime, replica) = (ui.as_weak(), Rc::clone(runtime), replica.to_owned());
        let pairing: Rc<RefCell<Option<(PairWindow, OpenApp)>>> = Rc::default();
        move || match PairWindow::new() {
            Ok(window) => {
                let app = wire_pairing(&window, Rc::clone(&runtime), replica.clone());
                match window.show() {
                    Ok(()) => {
                        if let Some(main) = main.upgrade() {
                            let _ = main.hide();
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "cannot open the pairing window"),
                }
                *pairing.borrow_mut() = Some((window, app));
            }
            Err(e) => tracing::error!(error = %e, "cannot open the pairing window"),
        }
    };
    // One pairing window for pairing again, made the first time it is asked for.
    let pair_again = {
        let (runtime, replica, shared) = (Rc::clone(runtime), replica.to_owned(), tablet.clone());
        let window: RefCell<Option<PairWindow>> = RefCell::default();
        move || {
            if window.borrow().is_none() {
                match PairWindow::new() {
                    Ok(made) => {
                        let paired = net::lock(&shared).pairing().ok().flatten();
                        wire_pairing_again(&made, Rc::clone(&runtime), replica.clone(), paired);
                        *window.borrow_mut() = Some(made);
                    }
                    Err(e) => tracing::error!(error = %e, "cannot open the pairing window"),
                }
            }
            if let Some(Err(e)) = window.borrow().as_ref().map(|w| w.show()) {
                tracing::error!(error = %e, "cannot open the pairing window");
            }
        }
    };
    let controller = wire(
        &ui,
        tablet,
        Options {
            clock: Box::new(Utc::now),
            zone: crate::format::Zone::Device,
            open_link: Box::new(open_link),
            choose_photo: std::sync::Arc::new(choose_photo),
            sync: Some(sync),
            signed_out: Some(Box::new(signed_out)),
            pair_again: Some(Box::new(pair_again)),
        },
    );
    let window = ui.as_weak();
    runtime.spawn(async move {
        while status.changed().await.is_ok() {
            let shown =
                window.upgrade_in_event_loop(|ui| ui.global::<SyncAdapter>().invoke_changed());
            if shown.is_err() {
                break; // the event loop has ended
            }
        }
    });
    Ok((ui, controller))
}

/// The main window once it is open (kept alive for as long as the event loop runs).
pub type OpenApp = Rc<RefCell<Option<(AppWindow, Controller)>>>;

/// Wires the pairing window: "Pair" checks the address, token and certificate fingerprint (for
/// a self-signed server) against the server, keeps the pairing on the tablet, and replaces
/// the pairing window by the main window; a refusal is shown in the window.
pub fn wire_pairing(window: &PairWindow, runtime: Rc<Runtime>, replica: PathBuf) -> OpenApp {
    let app: OpenApp = Rc::default();
    let opened = Rc::clone(&app);
    let (started_on, at) = (Rc::clone(&runtime), replica.clone());
    on_paired(window, runtime, replica, move |tablet| {
        let (ui, controller) = start(&started_on, &at, tablet).map_err(|e| e.to_string())?;
        ui.show().map_err(|e| {
            tracing::error!(error = %e, "paired, but the app cannot open");
            format!("cannot open the app: {e}")
        })?;
        tracing::info!("paired with the server; the app is open");
        *opened.borrow_mut() = Some((ui, controller));
        Ok(())
    });
    app
}

/// Wires the pairing window of a tablet whose device token the server refused, over the main
/// window: it starts from the server's address and fingerprint as paired, and once the new
/// token is checked and kept it closes. The running sync service finds the new token by
/// itself; everything on the tablet stays.
pub fn wire_pairing_again(
    window: &PairWindow,
    runtime: Rc<Runtime>,
    replica: PathBuf,
    paired: Option<fieldsync_store::Pairing>,
) {
    if let Some(pairing) = paired {
        window.set_server_url(pairing.server_url.into());
        window.set_fingerprint(pairing.tls_fingerprint.unwrap_or_default().into());
    }
    on_paired(window, runtime, replica, |_tablet| {
        tracing::info!("paired again; the sync service picks up the new token");
        Ok(())
    });
}

/// "Pair" of the pairing window: checks the address, token and fingerprint against the server
/// off the UI thread (the window busy meanwhile), keeps the pairing, and hands the paired
/// tablet to `then`; the window closes once `then` succeeds, and shows a refusal or `then`'s
/// error otherwise.
fn on_paired(
    window: &PairWindow,
    runtime: Rc<Runtime>,
    replica: PathBuf,
    then: impl Fn(Tablet) -> Result<(), String> + 'static,
) {
    let weak = window.as_weak();
    let then = Rc::new(then);
    window.on_pair(move |url, token, fingerprint| {
        let Some(window) = weak.upgrade() else {
            return;
        };
        if window.get_busy() {
            return;
        }
        window.set_error("".into());
        window.set_busy(true);
        // Checking the server and the token takes a network round trip or a timeout: off the
        // UI thread, the window showing that it is busy.
        let (handle, path) = (runtime.handle().clone(), replica.clone());
        let (weak, then) = (weak.clone(), Rc::clone(&then));
        background::run(
            move || pair_tablet(&handle, &path, &url, &token, &fingerprint),
            move |paired| {
                let Some(window) = weak.upgrade() else {
                    return;
                };
                window.set_busy(false);
                let done = paired
                    .unwrap_or_else(|| Err("pairing stopped unexpectedly; try again".into()))
                    .and_then(|tablet| then(tablet));
                match done {
                    Ok(()) => {
                        let _ = window.hide();
                    }
                    Err(why) => {
                        tracing::warn!(%why, "pairing refused");
                        window.set_error(why.into());
                    }
                }
            },
        );
    });
}

/// Pairs the replica at `replica` with the server at `url` using the device `token`, pinning
/// the server's certificate `fingerprint` when one is given (a self-signed server): checks
/// them against the server, which says whose token it is, then keeps the pairing on the
/// tablet. A certificate that does not match is refused before the token is sent.
pub fn pair_tablet(
    runtime: &tokio::runtime::Handle,
    replica: &Path,
    url: &str,
    token: &str,
    fingerprint: &str,
) -> Result<Tablet, String> {
    let (url, token) = (url.trim(), token.trim());
    let tls_fingerprint = net::check_server(url, Some(fingerprint))?;
    fieldsync_app::check_device_token(token).map_err(|e| e.to_string())?;
    let identity = runtime
        .block_on(net::check_pairing(url, token, tls_fingerprint.as_deref()))
        .map_err(|e| e.to_string())?;
    if let Some(dir) = replica.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let author = Author {
        user: identity.user,
        name: identity.name.clone(),
    };
    let mut tablet = Tablet::pair_pinned(replica, url, tls_fingerprint.as_deref(), token, author)
        .map_err(|e| e.to_string())?;
    identity.remember(&mut tablet).map_err(|e| e.to_string())?;
    Ok(tablet)
}

/// The desktop's file dialog (through the XDG desktop portal) for a picture file. Without a
/// session bus there is no portal to ask (the dialog would just not appear): that is said.
fn choose_photo() -> Result<Option<PathBuf>, String> {
    let runtime_bus = std::env::var_os("XDG_RUNTIME_DIR")
        .map(|dir| Path::new(&dir).join("bus"))
        .is_some_and(|bus| bus.exists());
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() && !runtime_bus {
        return Err("no desktop session bus for the file dialog".into());
    }
    let chosen = rfd::FileDialog::new()
        .set_title("Choose a photo")
        .add_filter("Photos", &["jpg", "jpeg", "png", "JPG", "JPEG", "PNG"])
        .pick_file();
    Ok(chosen)
}

/// Opens a `tel:` or `mailto:` link with the desktop's handler (a dialer or mail app on a
/// tablet).
fn open_link(link: &str) {
    if let Err(error) = std::process::Command::new("xdg-open").arg(link).spawn() {
        tracing::warn!(%link, %error, "cannot open the link");
    }
}
