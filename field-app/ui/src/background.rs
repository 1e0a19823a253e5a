//! Slow work off the UI thread: a photo being processed or a server being checked while pairing
//! must not freeze the screen. [`run`] does the work on a thread of its own and hands the result
//! back to the UI thread, where the app's state lives (it is not `Send`), by polling a channel
//! on Slint timers: the event loop keeps handling taps and drawing meanwhile.

use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::Duration;

/// How often the UI thread looks for the result.
const POLL: Duration = Duration::from_millis(30);

/// Runs `work` on its own thread, then `done` with its result on the UI thread (from a Slint
/// timer, so only while the event loop runs; tests advance Slint's clock). A `work` that panics
/// gives `done` nothing: `None`.
pub(crate) fn run<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
    done: impl FnOnce(Option<T>) + 'static,
) {
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("fieldsync-background".into())
        .spawn(move || {
            let _ = tx.send(work());
        });
    match spawned {
        Ok(_) => wait(rx, done),
        Err(_) => done(None),
    }
}

fn wait<T: 'static>(rx: Receiver<T>, done: impl FnOnce(Option<T>) + 'static) {
    match rx.try_recv() {
        Ok(value) => done(Some(value)),
        Err(TryRecvError::Disconnected) => done(None),
        Err(TryRecvError::Empty) => slint::Timer::single_shot(POLL, move || wait(rx, done)),
    }
}
