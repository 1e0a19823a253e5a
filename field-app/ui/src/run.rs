//! Running the app on a device: the Slint event loop on the main thread, tokio on its own
//! worker thread for the background sync, and the sync service's status forwarded to the UI.

use std::path::Path;
use std::time::Duration;

use chrono::{Local, Offset as _, Utc};
use fieldsync_app::net::{self, Backoff, SyncService};
use fieldsync_app::{AppError, Tablet};
use slint::ComponentHandle as _;

use crate::{AppWindow, Options, SyncAdapter, wire};

/// Why the app could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The replica could not be opened, or the tablet is not paired.
    #[error(transparent)]
    App(#[from] AppError),
    /// No window could be opened.
    #[error("cannot open the window")]
    Platform(#[from] slint::PlatformError),
    /// The sync runtime could not start.
    #[error("cannot start the sync runtime")]
    Runtime(#[from] std::io::Error),
}

/// Runs the app on the paired replica at `replica` until its window is closed. Everything the
/// technician does is saved locally first; the background sync pushes it whenever there is a
/// connection.
pub fn run(replica: &Path) -> Result<(), RunError> {
    let tablet = net::shared(Tablet::open_paired(replica)?);
    // Tokio gets its own worker thread; the Slint event loop keeps the main thread.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("fieldsync-sync")
        .enable_all()
        .build()?;
    let sync = {
        let _in_runtime = runtime.enter();
        SyncService::start(tablet.clone(), Backoff::default())?
    };
    let mut status = sync.status();
    let ui = AppWindow::new()?;
    let _controller = wire(
        &ui,
        tablet,
        Options {
            clock: Box::new(Utc::now),
            zone: Local::now().offset().fix(),
            open_link: Box::new(open_link),
            sync: Some(sync),
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
    ui.run()?;
    // Every change is already durable on the tablet: an unfinished exchange is redone next time.
    runtime.shutdown_timeout(Duration::from_secs(2));
    Ok(())
}

/// Opens a `tel:` or `mailto:` link with the desktop's handler (a dialer or mail app on a
/// tablet).
fn open_link(link: &str) {
    if let Err(error) = std::process::Command::new("xdg-open").arg(link).spawn() {
        eprintln!("cannot open {link}: {error}");
    }
}
