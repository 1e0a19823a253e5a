//! The controller: answers the UI's callbacks with the core and fills the adapters from the
//! core's view models. Built by [`wire`], with no event loop, so tests drive the same app.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Duration, Utc};
use fieldsync_app::net::SyncService;
use fieldsync_app::{AppError, InvoiceForm, PaymentForm, PhotoForm, SyncStatus, Tablet, queries};
use fieldsync_protocol::wire::ClientMessage;
use fieldsync_protocol::{AccountId, InvoiceId, JobId, Timestamp};
use slint::{ComponentHandle as _, ModelRc, SharedString, VecModel};

use crate::{AppWindow, JobRow, Nav, OutboxAdapter, OutboxRow, Page, SyncAdapter, TodayAdapter};
use crate::{customer, format, invoice, job, new_customer, payment, photos};

/// Chooses a photo file: see [`Options::choose_photo`].
pub type PhotoChooser =
    std::sync::Arc<dyn Fn() -> Result<Option<std::path::PathBuf>, String> + Send + Sync>;

/// What the app needs from its surroundings; tests pass fixed ones.
pub struct Options {
    /// The current time.
    pub clock: Box<dyn Fn() -> DateTime<Utc>>,
    /// The time zone days and times are shown in: the device's own in the app.
    pub zone: format::Zone,
    /// Opens a `tel:` or `mailto:` link (the platform's dialer or mail app).
    pub open_link: Box<dyn Fn(&str)>,
    /// Asks the technician to choose a photo among the device's files (the platform's file
    /// dialog): the file, `None` when they closed it, or why there is no dialog. Called on a
    /// thread of its own, since a dialog waits for the person.
    pub choose_photo: PhotoChooser,
    /// The background sync with the paired server; `None` keeps the tablet offline (tests).
    pub sync: Option<SyncService>,
    /// Called once the technician has signed out (the app offers pairing the tablet again).
    pub signed_out: Option<Box<dyn Fn()>>,
    /// Called when the technician asks to pair again after the server refused the device
    /// token (the app opens the pairing window, keeping the tablet's work).
    pub pair_again: Option<Box<dyn Fn()>>,
}

/// Which record the open pages show, and where "back" goes.
#[derive(Debug, Default)]
pub(crate) struct Selection {
    pub(crate) job: Option<JobId>,
    pub(crate) account: Option<AccountId>,
    pub(crate) payment: Option<PaymentForm>,
    /// The invoice a new payment form goes to (the one shown when "Record payment" was tapped
    /// on the invoice page); the job's open invoice when `None`.
    pub(crate) pay_invoice: Option<InvoiceId>,
    pub(crate) invoice: Option<InvoiceForm>,
    pub(crate) shown_invoice: Option<InvoiceId>,
    /// The strokes drawn on the signature pad of the invoice shown, not saved yet.
    pub(crate) strokes: Vec<fieldsync_app::signature::Stroke>,
    pub(crate) photo: Option<PhotoForm>,
    /// The new-customer form being filled in (its ids, made once).
    pub(crate) new_customer: Option<fieldsync_app::NewCustomerForm>,
    pub(crate) history: Vec<Page>,
}

/// Shared by every callback.
pub(crate) struct Inner {
    pub(crate) ui: slint::Weak<AppWindow>,
    pub(crate) tablet: Arc<Mutex<Tablet>>,
    pub(crate) options: Options,
    pub(crate) selection: RefCell<Selection>,
    /// The day the Today page was last filled for, in the device's zone.
    pub(crate) shown_day: std::cell::Cell<Option<chrono::NaiveDate>>,
}

impl Inner {
    /// The tablet, locked (a poisoned lock still holds a usable replica: SQLite transactions
    /// roll back on their own).
    pub(crate) fn tablet(&self) -> MutexGuard<'_, Tablet> {
        self.tablet.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn now(&self) -> Timestamp {
        Timestamp((self.options.clock)())
    }

    pub(crate) fn zone(&self) -> format::Zone {
        self.options.zone
    }

    pub(crate) fn ui(&self) -> Option<AppWindow> {
        self.ui.upgrade()
    }

    /// Shows an error that is not about one field.
    pub(crate) fn notice(&self, error: impl std::fmt::Display) {
        if let Some(ui) = self.ui() {
            ui.global::<Nav>().set_notice(error.to_string().into());
        }
    }

    /// Runs a local action: saved on the tablet first, its messages pushed at once when the
    /// sync service is online.
    pub(crate) fn act<T>(
        &self,
        action: impl FnOnce(&mut Tablet) -> Result<(T, Vec<ClientMessage>), AppError>,
    ) -> Result<T, AppError> {
        match &self.options.sync {
            Some(sync) => sync.act(action),
            None => action(&mut self.tablet()).map(|(value, _offline)| value),
        }
    }

    fn go(&self, page: Page) {
        let Some(ui) = self.ui() else { return };
        let nav = ui.global::<Nav>();
        let current = nav.get_page();
        if current != page {
            let mut selection = self.selection.borrow_mut();
            match page {
                // The rail's top-level pages start a new trail.
                Page::Today | Page::Search | Page::Outbox | Page::About => {
                    selection.history.clear()
                }
                _ => selection.history.push(current),
            }
        }
        nav.set_page(page);
    }

    fn back(self: &Rc<Self>) {
        let previous = self.selection.borrow_mut().history.pop();
        if let Some(ui) = self.ui() {
            ui.global::<Nav>().set_page(previous.unwrap_or(Page::Today));
        }
        self.refresh_page();
    }

    /// Reloads what the current page shows (after a local edit or a sync).
    pub(crate) fn refresh_page(self: &Rc<Self>) {
        let Some(ui) = self.ui() else { return };
        let result = match ui.global::<Nav>().get_page() {
            Page::Today => self.refresh_today(),
            Page::Job | Page::Payment => job::refresh(self).and_then(|()| payment::refresh(self)),
            Page::Invoice => invoice::refresh(self),
            Page::Customer => customer::refresh(self),
            Page::Search => customer::search(self),
            Page::NewCustomer | Page::Outbox | Page::About => Ok(()),
        };
        if let Err(error) = result {
            self.notice(error);
        }
        self.refresh_outbox();
    }

    /// Today's jobs in schedule order.
    pub(crate) fn refresh_today(&self) -> Result<(), AppError> {
        let Some(ui) = self.ui() else { return Ok(()) };
        let zone = self.zone();
        let now = zone.local((self.options.clock)());
        // From this day's start to the next's: 23 or 25 hours when the clocks change.
        let (from, to) = zone
            .day(now.date_naive())
            .unwrap_or((now.to_utc(), now.to_utc() + Duration::days(1)));
        let (from, to) = (Timestamp(from), Timestamp(to));
        let jobs = {
            let tablet = self.tablet();
            queries::day_jobs(tablet.store(), tablet.author().user, from, to)?
        };
        let rows: Vec<JobRow> = jobs
            .into_iter()
            .map(|d| JobRow {
                id: d.job.id.to_string().into(),
                time: format::window(d.job.scheduled_start, d.job.scheduled_end, zone).into(),
                title: d.job.title.into(),
                status: format::status(d.job.status).into(),
                status_key: d.job.status.as_str().into(),
                account: d.account_name.into(),
                site: d.site_name.into(),
                address: d.site_address.into(),
                ready_offline: d.ready_offline,
                credit_hold: d.credit_hold,
            })
            .collect();
        self.shown_day.set(Some(now.date_naive()));
        let today = ui.global::<TodayAdapter>();
        today.set_date(format::date(now.to_utc(), zone).into());
        today.set_jobs(model(rows));
        Ok(())
    }

    /// The outbox page and the sync bar.
    pub(crate) fn refresh_outbox(&self) {
        let Some(ui) = self.ui() else { return };
        let read = {
            let tablet = self.tablet();
            queries::outbox(tablet.store()).and_then(|lines| Ok((lines, tablet.status()?)))
        };
        let (lines, status) = match read {
            Ok(read) => read,
            Err(error) => return self.notice(error),
        };
        self.show_status(&ui, &status);
        let zone = self.zone();
        let refused = lines.iter().filter(|l| l.refused.is_some()).count();
        let pending = lines.len() - refused;
        let rows: Vec<OutboxRow> = lines
            .into_iter()
            .map(|l| OutboxRow {
                what: l.what.into(),
                kind: l.kind.as_str().into(),
                made: l
                    .made_at
                    .map(|t| format::stamp(t, zone))
                    .unwrap_or_default()
                    .into(),
                refused: l.refused.is_some(),
                reason: l.refused.unwrap_or_default().into(),
            })
            .collect();
        ui.global::<OutboxAdapter>().set_rows(model(rows));
        let sync = ui.global::<SyncAdapter>();
        sync.set_pending(count(pending));
        sync.set_refused(count(refused));
    }

    /// Online or offline, the last sync, a first download's progress, and what went wrong.
    fn show_status(&self, ui: &AppWindow, status: &SyncStatus) {
        let sync = ui.global::<SyncAdapter>();
        sync.set_online(status.online);
        sync.set_last_sync(
            status
                .last_sync
                .map_or("never".into(), |t| format::stamp(t, self.zone()))
                .into(),
        );
        sync.set_needs_pairing(status.needs_pairing);
        sync.set_downloading(status.first_sync_documents.is_some());
        sync.set_downloaded(count(status.first_sync_documents.unwrap_or(0)));
        let mut detail = Vec::new();
        if status.uploads_pending > 0 {
            detail.push(match status.uploads_pending {
                1 => "1 photo image to upload".to_string(),
                n => format!("{n} photo images to upload"),
            });
        }
        if let Some(error) = &status.last_error {
            detail.push(error.clone());
        }
        sync.set_detail(detail.join(" · ").into());
    }

    /// Signing out is refused while changes wait to be sent: they would be lost. Otherwise
    /// the replica is removed and the tablet unpaired ([`Tablet::sign_out_here`]): nothing of
    /// the technician's stays for the next person.
    fn sign_out(&self) {
        let Some(ui) = self.ui() else { return };
        let sync = ui.global::<SyncAdapter>();
        let waiting = |pending: usize| {
            format!(
                "You cannot sign out yet: {pending} change{} still wait{} to be sent. \
                 Connect to the network and let the tablet sync first.",
                if pending == 1 { "" } else { "s" },
                if pending == 1 { "s" } else { "" },
            )
        };
        let signed_out = self.tablet().sign_out_here();
        let message = match signed_out {
            Ok(()) => {
                if let Some(service) = &self.options.sync {
                    service.request_stop();
                }
                sync.set_signed_out(true);
                "Signed out: nothing of yours is left on this tablet. You can hand it over; \
                 it is paired again for the next technician."
                    .to_string()
            }
            Err(fieldsync_app::AppError::UnsentChanges(pending)) => waiting(pending),
            Err(error) => return self.notice(error),
        };
        sync.set_sign_out_message(message.into());
        if sync.get_signed_out()
            && let Some(then) = &self.options.signed_out
        {
            then();
        }
    }
}

/// The wired app. Keep it alive as long as the window: dropping it does not unwire the UI
/// (the callbacks hold their own references), but it is the handle for refreshing after a sync.
#[derive(Clone)]
pub struct Controller {
    inner: Rc<Inner>,
    /// Looks at the clock every [`DAY_WATCH`], so that an app left open overnight turns the
    /// Today page to the new day (and follows a change of zone or the clocks' change).
    _day_watch: Rc<slint::Timer>,
}

/// How often the app looks whether the day has changed.
const DAY_WATCH: std::time::Duration = std::time::Duration::from_secs(30);

impl Controller {
    /// Reloads every count and the current page from the replica (after a sync).
    pub fn refresh(&self) {
        self.inner.refresh_page();
    }

    /// The tablet, for the sync worker and tests.
    pub fn tablet(&self) -> Arc<Mutex<Tablet>> {
        self.inner.tablet.clone()
    }
}

/// Connects the UI's callbacks to the core and fills the first page. No event loop is needed,
/// so tests build the same app as [`crate::run`].
pub fn wire(ui: &AppWindow, tablet: Arc<Mutex<Tablet>>, options: Options) -> Controller {
    let inner = Rc::new(Inner {
        ui: ui.as_weak(),
        tablet,
        options,
        selection: RefCell::new(Selection::default()),
        shown_day: std::cell::Cell::new(None),
    });
    let sync = ui.global::<SyncAdapter>();
    {
        let tablet = inner.tablet();
        sync.set_technician(tablet.author().name.clone().into());
        let server = match tablet.pairing() {
            Ok(Some(pairing)) => pairing.server_url,
            _ => "not paired".into(),
        };
        sync.set_server(server.into());
    }
    let on = inner.clone();
    sync.on_sign_out(move || on.sign_out());
    let on = inner.clone();
    sync.on_pair_again(move || match &on.options.pair_again {
        Some(pair) => pair(),
        None => on.notice("Pair this tablet again from the command line: fieldsync pair"),
    });
    let on = inner.clone();
    sync.on_changed(move || on.refresh_page());

    let nav = ui.global::<Nav>();
    let on = inner.clone();
    nav.on_go(move |page| {
        on.go(page);
        on.refresh_page();
    });
    let on = inner.clone();
    nav.on_back(move || on.back());
    let on = inner.clone();
    nav.on_open_job(move |id| match id.parse::<JobId>() {
        Ok(job) => {
            {
                let mut selection = on.selection.borrow_mut();
                selection.job = Some(job);
                selection.payment = None;
                selection.pay_invoice = None;
                selection.invoice = None;
                selection.shown_invoice = None;
                selection.strokes.clear();
            }
            job::opened(&on);
            on.go(Page::Job);
            on.refresh_page();
        }
        Err(_) => on.notice(format!("{id} is not a job id")),
    });
    let on = inner.clone();
    nav.on_open_customer(move |id| match id.parse::<AccountId>() {
        Ok(account) => {
            on.selection.borrow_mut().account = Some(account);
            on.go(Page::Customer);
            on.refresh_page();
        }
        Err(_) => on.notice(format!("{id} is not an account id")),
    });
    job::wire(ui, &inner);
    payment::wire(ui, &inner);
    invoice::wire(ui, &inner);
    photos::wire(ui, &inner);
    customer::wire(ui, &inner);
    new_customer::wire(ui, &inner);
    inner.refresh_page();
    let day_watch = slint::Timer::default();
    let watched = Rc::downgrade(&inner);
    day_watch.start(slint::TimerMode::Repeated, DAY_WATCH, move || {
        let Some(on) = watched.upgrade() else { return };
        let today = on.zone().local((on.options.clock)()).date_naive();
        let on_today = on
            .ui()
            .is_some_and(|ui| ui.global::<Nav>().get_page() == Page::Today);
        if on_today && on.shown_day.get() != Some(today) {
            on.refresh_page();
        }
    });
    Controller {
        inner,
        _day_watch: Rc::new(day_watch),
    }
}

/// A Slint model of `rows`.
pub(crate) fn model<T: Clone + 'static>(rows: Vec<T>) -> ModelRc<T> {
    ModelRc::new(VecModel::from(rows))
}

/// Strings as a Slint model.
pub(crate) fn strings<'a>(items: impl IntoIterator<Item = &'a str>) -> ModelRc<SharedString> {
    model(items.into_iter().map(SharedString::from).collect())
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}
