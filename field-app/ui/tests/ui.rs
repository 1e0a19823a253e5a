//! The tablet UI driven headless with Slint's testing backend: elements are found by their
//! accessible labels (as a screen reader finds them) and acted on as a technician would.

mod common;

use common::{App, app, at, morning, today};
use fieldsync_app_ui::{
    CustomerAdapter, InvoiceAdapter, JobAdapter, Nav, Page, PaymentAdapter, PhotoAdapter,
    TodayAdapter,
};
use fieldsync_protocol::{DocId, JobStatus, NoteKind, Record};
use i_slint_backend_testing::ElementHandle;
use slint::{ComponentHandle as _, Model as _};

fn init() {
    thread_local!(static INIT: std::cell::OnceCell<()> = const { std::cell::OnceCell::new() });
    INIT.with(|once| {
        once.get_or_init(i_slint_backend_testing::init_no_event_loop);
    });
}

fn started() -> App {
    init();
    app(morning())
}

/// The one element with this accessible label.
fn element(app: &App, label: &str) -> ElementHandle {
    let found: Vec<_> = ElementHandle::find_by_accessible_label(&app.ui, label).collect();
    assert_eq!(found.len(), 1, "elements labelled {label:?}");
    found.into_iter().next().unwrap()
}

fn exists(app: &App, label: &str) -> bool {
    ElementHandle::find_by_accessible_label(&app.ui, label)
        .next()
        .is_some()
}

fn tap(app: &App, label: &str) {
    element(app, label).invoke_accessible_default_action();
}

fn type_into(app: &App, label: &str, text: &str) {
    element(app, label).set_accessible_value(text);
}

fn value(app: &App, label: &str) -> String {
    element(app, label)
        .accessible_value()
        .unwrap_or_default()
        .to_string()
}

/// Lets the app's clock run (as the event loop would) until the photo being prepared is saved
/// or refused; the preparing itself runs on a thread of its own.
fn until_photo_prepared(app: &App) {
    let adapter = app.ui.global::<PhotoAdapter>();
    common::until_done("preparing the photo", || adapter.get_busy());
}

fn open_boiler_job(app: &App) {
    tap(app, "Open job Annual boiler service, Harbor Bakery");
    assert_eq!(app.ui.global::<Nav>().get_page(), Page::Job);
}

/// A taller window, so that a long packet's lower cards are on screen (the accessibility
/// tree the tests search holds only what is visible).
fn tall(app: &App) {
    app.ui
        .window()
        .set_size(slint::PhysicalSize::new(1280, 1600));
}

fn pending(app: &App) -> usize {
    app.controller.tablet().lock().unwrap().pending().unwrap()
}

#[test]
fn today_lists_my_jobs_in_schedule_order_with_ready_offline_marks() {
    let app = started();
    let jobs = app.ui.global::<TodayAdapter>().get_jobs();
    let rows: Vec<_> = jobs.iter().collect();
    let summary: Vec<(String, String, String, bool)> = rows
        .iter()
        .map(|r| {
            (
                r.time.to_string(),
                r.account.to_string(),
                r.status.to_string(),
                r.ready_offline,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("08:00–09:30", "Patel Family Clinic", "Completed", true),
            ("09:30–11:00", "Harbor Bakery", "On site", true),
            ("11:00–12:30", "Lindqvist Dental", "Scheduled", true),
            ("12:30–14:00", "Moreau Bistro", "Scheduled", true),
            ("14:00–15:30", "Riverside Elementary", "Scheduled", false),
            ("15:30–17:00", "Grace Kim", "Scheduled", true),
        ]
        .map(|(t, a, s, r)| (t.to_string(), a.to_string(), s.to_string(), r)),
        "Theo's job at Harbor Bakery is not on Tess's list; Riverside's site photo has no thumbnail"
    );
    assert!(rows[2].credit_hold && !rows[1].credit_hold);
    assert_eq!(rows[1].site, "Main Street bakery");
    assert!(exists(&app, "Not ready offline"));
    assert_eq!(
        app.ui.global::<TodayAdapter>().get_date(),
        "Mon 23 Nov 2026"
    );
}

#[test]
fn recording_a_payment_tapped_twice_records_it_once_and_updates_the_balance() {
    let app = started();
    open_boiler_job(&app);
    assert_eq!(app.ui.global::<JobAdapter>().get_balance(), "$112.50");
    tap(&app, "Record payment");
    assert_eq!(app.ui.global::<Nav>().get_page(), Page::Payment);
    assert_eq!(value(&app, "Balance"), "$112.50");

    type_into(&app, "Amount", "80.00");
    tap(&app, "Method Check");
    type_into(&app, "Reference", "#2291");
    tap(&app, "Record payment");
    tap(&app, "Record payment");

    assert_eq!(
        value(&app, "Balance"),
        "$32.50",
        "the balance updates at once"
    );
    assert_eq!(app.ui.global::<PaymentAdapter>().get_error(), "");
    assert!(exists(&app, "Payment confirmation"));
    assert!(
        app.ui
            .global::<PaymentAdapter>()
            .get_confirmation()
            .starts_with("Recorded $80.00 by check (#2291)")
    );
    let tablet = app.controller.tablet();
    let tablet = tablet.lock().unwrap();
    let payments = tablet
        .store()
        .payments_for_account(app.company.harbor)
        .unwrap();
    let new: Vec<_> = payments.iter().filter(|p| p.reference == "#2291").collect();
    assert_eq!(new.len(), 1, "two taps, one payment");
    assert_eq!(new[0].amount.to_string(), "80.00");
    assert_eq!(new[0].job, Some(app.company.boiler));
    assert_eq!(new[0].recorded_by_name, "Tess Morgan");
    assert_eq!(tablet.pending().unwrap(), 1);
}

#[test]
fn changing_the_amount_after_recording_asks_for_a_new_payment() {
    let app = started();
    open_boiler_job(&app);
    tap(&app, "Record payment");
    type_into(&app, "Amount", "20");
    tap(&app, "Record payment");
    type_into(&app, "Amount", "25");
    tap(&app, "Record payment");
    assert!(value(&app, "Payment error").contains("already recorded"));
    assert_eq!(pending(&app), 1);
    tap(&app, "New payment");
    type_into(&app, "Amount", "25");
    tap(&app, "Record payment");
    assert_eq!(pending(&app), 2);
    assert_eq!(value(&app, "Balance"), "$67.50");
}

#[test]
fn a_bad_amount_shows_a_clear_message_and_stores_nothing() {
    let app = started();
    open_boiler_job(&app);
    tap(&app, "Record payment");
    for (typed, message) in [
        ("", "Enter the amount received, such as 120.50."),
        ("12,50", "\"12,50\" is not a decimal amount such as 120.50"),
        ("-5", "-5"),
        ("12.345", "12.345"),
    ] {
        type_into(&app, "Amount", typed);
        tap(&app, "Record payment");
        let shown = value(&app, "Payment error");
        assert!(shown.contains(message), "{typed:?} shows {shown:?}");
        assert_eq!(app.ui.global::<PaymentAdapter>().get_confirmation(), "");
    }
    assert_eq!(pending(&app), 0);
    assert_eq!(value(&app, "Balance"), "$112.50");
    type_into(&app, "Amount", "1");
    assert!(!exists(&app, "Payment error"), "typing clears the message");
}

#[test]
fn changing_the_job_status_saves_it_and_shows_it() {
    let app = started();
    open_boiler_job(&app);
    assert_eq!(value(&app, "Job status"), "On site");
    tap(&app, "Set status Completed");
    assert_eq!(value(&app, "Job status"), "Completed");
    assert_eq!(value(&app, "Job message"), "Status set to Completed.");
    let tablet = app.controller.tablet();
    let tablet = tablet.lock().unwrap();
    let Some(Record::Job(job)) = tablet
        .store()
        .record(DocId::from(app.company.boiler))
        .unwrap()
    else {
        panic!("the job is on the tablet")
    };
    assert_eq!(job.record.status, JobStatus::Completed);
    assert_eq!(tablet.pending().unwrap(), 1);
}

#[test]
fn a_note_of_each_type_is_stamped_with_author_and_time() {
    let app = started();
    open_boiler_job(&app);
    for (kind, button) in [
        (NoteKind::Site, "Note type Site"),
        (NoteKind::ServicePerformed, "Note type Service performed"),
        (NoteKind::ServiceRequest, "Note type Service request"),
        (NoteKind::Private, "Note type Private"),
    ] {
        tap(&app, button);
        type_into(
            &app,
            "Note text",
            &format!("  {kind} note from the field  "),
        );
        tap(&app, "Add note");
        assert_eq!(value(&app, "Note text"), "", "the composer is emptied");
    }
    tap(&app, "Add note");
    assert_eq!(value(&app, "Job message"), "Write the note first.");

    let tablet = app.controller.tablet();
    let tablet = tablet.lock().unwrap();
    let notes = tablet
        .store()
        .notes_for_doc(app.company.boiler.into())
        .unwrap();
    let site = tablet
        .store()
        .job(app.company.boiler)
        .unwrap()
        .unwrap()
        .site;
    // The site note went on the site, for every later visit there; the others on the job.
    let notes: Vec<_> = notes
        .into_iter()
        .chain(tablet.store().notes_for_doc(site.into()).unwrap())
        .collect();
    let mine: Vec<_> = notes
        .iter()
        .filter(|n| n.author == app.company.tess.user && n.text.ends_with("from the field"))
        .collect();
    assert_eq!(mine.len(), 4);
    for note in &mine {
        assert_eq!(note.author_name, "Tess Morgan");
        assert_eq!(note.created_at.0, morning());
        assert_eq!(note.text, format!("{} note from the field", note.kind));
    }
    let kinds: std::collections::BTreeSet<_> = mine.iter().map(|n| n.kind).collect();
    assert_eq!(kinds.len(), 4);
    assert_eq!(tablet.pending().unwrap(), 4);
    drop(tablet);
    let shown: std::collections::BTreeSet<String> = app
        .ui
        .global::<JobAdapter>()
        .get_notes()
        .iter()
        .map(|n| format!("{}: {}", n.kind, n.text))
        .collect();
    assert!(
        shown.contains("Private: private note from the field"),
        "{shown:?}"
    );
    assert_eq!(
        shown.len(),
        4,
        "the three job notes and the office's service request"
    );
    assert!(
        value(&app, "Access instructions").contains("site note from the field"),
        "the site note shows with the site's access"
    );
}

#[test]
fn the_packet_shows_site_access_contacts_history_and_calls_on_tap() {
    let app = started();
    tall(&app);
    open_boiler_job(&app);
    assert!(value(&app, "Access instructions").contains("key box code 4471"));
    assert!(value(&app, "Access instructions").contains("Gas shut-off"));
    assert!(!exists(&app, "Credit hold warning"));
    tap(&app, "Call Ana Okafor");
    tap(&app, "Email Ben Lindqvist");
    assert_eq!(
        *app.links.borrow(),
        ["tel:+15415552041", "mailto:ben@harborbakery.example"]
    );
    tap(&app, "Earlier visits");
    let visits = app.ui.global::<JobAdapter>().get_visits();
    let visits: Vec<_> = visits.iter().collect();
    assert_eq!(visits.len(), 2);
    assert_eq!(visits[0].title, "Water heater flush", "newest first");
    assert!(visits[1].performed.contains("thermocouple"));
}

#[test]
fn a_customer_on_credit_hold_is_flagged_on_the_packet() {
    let app = started();
    tap(&app, "Open job AC not cooling, Lindqvist Dental");
    assert!(value(&app, "Credit hold warning").contains("Two invoices over 60 days"));
    assert_eq!(app.ui.global::<JobAdapter>().get_balance(), "$820.00");
}

#[test]
fn photos_show_as_thumbnails_and_open_full_size() {
    let app = started();
    open_boiler_job(&app);
    tap(&app, "Photos");
    let photos = app.ui.global::<PhotoAdapter>().get_photos();
    let photos: Vec<_> = photos.iter().collect();
    assert_eq!(photos.len(), 3);
    assert!(
        photos
            .iter()
            .all(|p| p.has_thumb && p.thumb.size().width == 320)
    );
    assert_eq!(photos[2].tag, "After");
    tap(&app, "Photo Cleaned burner, new gasket");
    let adapter = app.ui.global::<PhotoAdapter>();
    assert_eq!(adapter.get_viewing(), 2);
    assert_eq!(adapter.get_full().size().width, 1024);
    assert!(
        adapter
            .get_full_caption()
            .contains("After · Cleaned burner")
    );
    tap(&app, "Close");
    assert_eq!(adapter.get_viewing(), -1);
}

#[test]
fn a_photo_attached_from_a_file_is_thumbnailed_and_queued_once() {
    let app = started();
    open_boiler_job(&app);
    tap(&app, "Photos");
    type_into(&app, "Photo file", "/no/such/file.jpg");
    tap(&app, "Attach");
    until_photo_prepared(&app);
    assert!(value(&app, "Photo message").starts_with("Cannot read /no/such/file.jpg"));

    let file = common::camera_file(app.dir.path());
    type_into(&app, "Photo file", file.to_str().unwrap());
    type_into(&app, "Photo caption", "Flue joint, resealed");
    tap(&app, "Photo tag After");
    tap(&app, "Attach");
    until_photo_prepared(&app);
    assert_eq!(
        value(&app, "Photo message"),
        "Photo saved (1600×1200); it uploads in the background."
    );
    let photos = app.ui.global::<PhotoAdapter>().get_photos();
    let photos: Vec<_> = photos.iter().collect();
    assert_eq!(photos.len(), 4);
    let added = &photos[3];
    assert_eq!(
        (added.caption.as_str(), added.tag.as_str()),
        ("Flue joint, resealed", "After")
    );
    assert!(added.has_thumb, "the thumbnail is made on the tablet");
    assert!(added.thumb.size().width <= 320 && added.thumb.size().height <= 320);
    assert_eq!(value(&app, "Photo file"), "", "the form is emptied");
    let tablet = app.controller.tablet();
    let tablet = tablet.lock().unwrap();
    assert_eq!(tablet.pending().unwrap(), 1);
    assert_eq!(
        tablet.uploads_pending().unwrap(),
        2,
        "the full image and its thumbnail"
    );
}

#[test]
fn search_finds_customers_offline_by_part_of_a_contact_email_and_opens_their_page() {
    let app = started();
    tap(&app, "Search");
    type_into(&app, "Search customers", "okafor@harbor");
    assert_eq!(
        value(&app, "Search summary"),
        "1 customer matches \"okafor@harbor\""
    );
    type_into(&app, "Search customers", "zzz-nobody");
    assert!(value(&app, "Search summary").starts_with("Nothing on this tablet matches"));
    type_into(&app, "Search customers", "lindqv");
    // The dental practice by name, and Harbor Bakery by its contact Ben Lindqvist.
    assert_eq!(
        value(&app, "Search summary"),
        "2 customers match \"lindqv\""
    );
    tap(&app, "Open customer Harbor Bakery");
    assert_eq!(app.ui.global::<Nav>().get_page(), Page::Customer);
    assert_eq!(value(&app, "Balance"), "$112.50");
    assert_eq!(value(&app, "Unapplied credit"), "$0.00");
    // Rows are coloured by what their status is, not by its words: the invoice half paid
    // reads "partly paid" and is keyed `partly_paid`; jobs by their status's key.
    let customer = app.ui.global::<CustomerAdapter>();
    let invoices: Vec<_> = customer.get_invoices().iter().collect();
    let keyed = |rows: &[fieldsync_app_ui::MoneyRow]| {
        rows.iter()
            .map(|r| (r.status.to_string(), r.status_key.to_string()))
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(
        keyed(&invoices),
        [
            ("paid".to_string(), "paid".to_string()),
            ("partly paid".to_string(), "partly_paid".to_string()),
        ]
        .into()
    );
    let jobs: Vec<_> = customer.get_jobs().iter().collect();
    assert!(keyed(&jobs).contains(&("On site".to_string(), "on_site".to_string())));
}

#[test]
fn signing_out_is_refused_while_changes_wait_and_otherwise_unpairs_the_tablet() {
    let app = started();
    let replica = app.dir.path().join("tablet.sqlite3");
    tap(&app, "Outbox");
    tap(&app, "Sign out");
    assert!(
        value(&app, "Sign-out message").starts_with("Signed out: nothing of yours is left"),
        "{}",
        value(&app, "Sign-out message")
    );
    assert!(
        app.ui
            .global::<fieldsync_app_ui::SyncAdapter>()
            .get_signed_out()
    );
    // The replica is gone: the tablet holds nothing of Tess's and is no longer paired.
    assert!(!replica.exists());
    assert!(matches!(
        fieldsync_app::Tablet::open_paired(&replica),
        Err(fieldsync_app::AppError::NotPaired)
    ));
    let tablet = app.controller.tablet();
    let tablet = tablet.lock().unwrap();
    assert!(tablet.pairing().unwrap().is_none());
    assert!(tablet.store().accounts().unwrap().is_empty());
    drop(tablet);

    let app = started();
    open_boiler_job(&app);
    tap(&app, "Set status Completed");
    tap(&app, "Outbox");
    assert_eq!(value(&app, "Changes waiting"), "1");
    assert_eq!(
        value(&app, "Annual boiler service · Harbor Bakery"),
        "waiting"
    );
    tap(&app, "Sign out");
    assert!(
        value(&app, "Sign-out message")
            .starts_with("You cannot sign out yet: 1 change still waits"),
        "{}",
        value(&app, "Sign-out message")
    );
    assert!(
        !app.ui
            .global::<fieldsync_app_ui::SyncAdapter>()
            .get_signed_out()
    );
}

#[test]
fn the_today_page_turns_to_the_next_day_at_midnight_without_a_restart() {
    init();
    let tomorrow = today().succ_opt().unwrap();
    // What the app shows when opened just after midnight.
    let (date, jobs) = {
        let fresh = app(at(tomorrow, 0, 1).0);
        let shown = fresh.ui.global::<TodayAdapter>();
        (shown.get_date(), shown.get_jobs().row_count())
    };
    let app = app(at(today(), 23, 58).0);
    let shown = app.ui.global::<TodayAdapter>();
    let before = (shown.get_date(), shown.get_jobs().row_count());
    assert_ne!(before.0, date);
    assert_ne!(
        before.1, jobs,
        "the story's day has jobs, the next day others"
    );
    // Left open overnight: the page turns within a minute of midnight, by itself.
    app.clock.set(at(tomorrow, 0, 1).0);
    i_slint_backend_testing::mock_elapsed_time(std::time::Duration::from_secs(31));
    assert_eq!(shown.get_date(), date);
    assert_eq!(shown.get_jobs().row_count(), jobs);
}

#[test]
fn a_tablet_whose_token_is_refused_offers_to_pair_again_and_keeps_its_work() {
    let app = started();
    open_boiler_job(&app);
    tap(&app, "Set status Completed");
    tap(&app, "Outbox");
    assert!(
        !exists(&app, "Pair again"),
        "not while the token is accepted"
    );
    assert!(!exists(&app, "Pairing needed"));
    // The sync service finds the token refused (revoked in the office).
    app.controller
        .tablet()
        .lock()
        .unwrap()
        .set_needs_pairing(true);
    app.ui
        .global::<fieldsync_app_ui::SyncAdapter>()
        .invoke_changed();
    assert!(
        value(&app, "Pairing needed").contains("your work stays on the tablet"),
        "{}",
        value(&app, "Pairing needed")
    );
    tap(&app, "Pair again");
    assert_eq!(
        app.pair_requests.get(),
        1,
        "the pairing window is asked for"
    );
    assert_eq!(
        value(&app, "Changes waiting"),
        "1",
        "the work is still there"
    );
    // Welcomed again with a new token: the offer goes.
    app.controller
        .tablet()
        .lock()
        .unwrap()
        .set_needs_pairing(false);
    app.ui
        .global::<fieldsync_app_ui::SyncAdapter>()
        .invoke_changed();
    assert!(!exists(&app, "Pair again"));
}

#[test]
fn the_outbox_lists_refused_changes_with_their_reason() {
    let app = started();
    open_boiler_job(&app);
    tap(&app, "Set status Completed");
    {
        let hash = app
            .controller
            .tablet()
            .lock()
            .unwrap()
            .store()
            .outbox()
            .unwrap()[0]
            .hash;
        // What the sync client does with the server's refusal, on a second connection.
        let mut store =
            fieldsync_store::Store::open(&app.dir.path().join("tablet.sqlite3")).unwrap();
        let tx = store.transaction().unwrap();
        tx.outbox_refused(hash, "a technician may not do that")
            .unwrap();
        tx.commit().unwrap();
    }
    app.controller.refresh();
    tap(&app, "Outbox");
    assert_eq!(
        value(&app, "Annual boiler service · Harbor Bakery"),
        "refused: a technician may not do that"
    );
    assert_eq!(value(&app, "Changes waiting"), "0");
    // A refused change is not waiting: it goes with the replica when the technician signs out.
    tap(&app, "Sign out");
    assert!(value(&app, "Sign-out message").starts_with("Signed out"));
}

#[test]
fn the_sync_bar_shows_the_last_successful_sync() {
    let app = started();
    assert_eq!(value(&app, "Connection"), "Offline");
    assert_eq!(value(&app, "Last sync"), "never");
    {
        let path = app.dir.path().join("tablet.sqlite3");
        let mut store = fieldsync_store::Store::open(&path).unwrap();
        let tx = store.transaction().unwrap();
        tx.set_last_sync_ms(common::at(common::today(), 9, 58).millis())
            .unwrap();
        tx.commit().unwrap();
    }
    app.controller.refresh();
    assert_eq!(value(&app, "Last sync"), "Mon 23 Nov 09:58");
}

#[test]
fn the_about_page_shows_slints_attribution() {
    let app = started();
    tap(&app, "About");
    assert_eq!(app.ui.global::<Nav>().get_page(), Page::About);
    let about = i_slint_backend_testing::ElementQuery::from_root(&app.ui)
        .match_descendants()
        .match_type_name("AboutSlint")
        .find_all();
    assert!(!about.is_empty(), "the About page shows AboutSlint");
}

#[test]
fn an_invoice_written_offline_is_issued_once_paid_and_printed() {
    let app = started();
    open_boiler_job(&app);
    tap(&app, "Invoice");
    assert_eq!(app.ui.global::<Nav>().get_page(), Page::Invoice);
    let invoices = app.ui.global::<InvoiceAdapter>();
    // The form starts with the job's three services as lines, their prices to fill in.
    let lines: Vec<String> = invoices
        .get_lines()
        .iter()
        .map(|l| l.description.to_string())
        .collect();
    assert_eq!(
        lines,
        ["Boiler service", "Flue inspection", "Carbon monoxide test"]
    );
    tap(&app, "Remove line 3");
    type_into(&app, "Line 1 price", "150.00");
    type_into(&app, "Line 2 price", "45");
    tap(&app, "+ Add line");
    type_into(&app, "Line 3 description", "Gasket");
    type_into(&app, "Line 3 quantity", "2");
    type_into(&app, "Line 3 price", "7.50");
    type_into(&app, "Tax rate", "10");
    // 150 + 45 + 2 × 7.50 = 210, and 10 % tax.
    assert_eq!(value(&app, "Invoice total"), "$231.00");

    // Until the tablet has talked to its server it has no invoice numbers, and says so.
    tap(&app, "Issue invoice");
    assert!(value(&app, "Invoice error").contains("connect to the server once"));
    assert_eq!(pending(&app), 0);
    app.controller
        .tablet()
        .lock()
        .unwrap()
        .remember_device_number(4, 0)
        .unwrap();
    tap(&app, "Issue invoice");
    assert_eq!(pending(&app), 1);
    let number = invoices.get_shown_number().to_string();
    assert!(number.starts_with("INV-4-"), "{number}");
    assert_eq!(value(&app, "Invoice status"), "pending");
    assert_eq!(value(&app, "Balance due"), "$231.00");
    assert!(exists(&app, "Invoice message"));

    // The customer signs on the glass: a name and some strokes are needed.
    tap(&app, "Save signature");
    assert!(value(&app, "Signature error").contains("signer's name"));
    type_into(&app, "Signer's name", "Ana Ruiz");
    tap(&app, "Save signature");
    assert!(value(&app, "Signature error").contains("signature is empty"));
    invoices.invoke_stroke_start(40.0, 120.0);
    for i in 1..60 {
        let x = 40.0 + i as f32 * 8.0;
        invoices.invoke_stroke_to(x, 120.0 - 30.0 * (i as f32 / 5.0).sin());
    }
    assert!(invoices.get_signature_path().starts_with("M 40.0 120.0 L"));
    tap(&app, "Save signature");
    assert!(value(&app, "Signed by").starts_with("Signed by Ana Ruiz on "));
    assert!(!exists(&app, "Signature pad"), "signed once");
    assert_eq!(
        pending(&app),
        2,
        "the signature goes with the job's changes"
    );
    {
        let tablet = app.controller.tablet();
        let tablet = tablet.lock().unwrap();
        let signed = tablet
            .store()
            .invoices_numbered(&number)
            .unwrap()
            .pop()
            .unwrap()
            .signature
            .expect("signed");
        assert!(
            tablet
                .store()
                .queued_uploads()
                .unwrap()
                .contains(&signed.image)
        );
    }

    // "Record payment" opens the payment form on this invoice; paying it in full marks it paid.
    tap(&app, "Record payment");
    assert_eq!(app.ui.global::<Nav>().get_page(), Page::Payment);
    assert!(exists(&app, &format!("Apply to {number} · owes $231.00")));
    type_into(&app, "Amount", "231.00");
    tap(&app, "Method Card");
    tap(&app, "Record payment");
    assert!(
        app.ui
            .global::<PaymentAdapter>()
            .get_confirmation()
            .contains(&format!("against {number}")),
        "{}",
        app.ui.global::<PaymentAdapter>().get_confirmation()
    );
    assert_eq!(pending(&app), 3);
    app.ui.global::<Nav>().invoke_back();
    assert_eq!(app.ui.global::<Nav>().get_page(), Page::Invoice);
    assert_eq!(value(&app, "Invoice status"), "paid");
    assert_eq!(value(&app, "Balance due"), "$0.00");

    // The PDF is made on the tablet, offline, and handed to the viewer.
    tap(&app, "View PDF");
    let opened = app.links.borrow().last().cloned().expect("the PDF opened");
    let path = opened.strip_prefix("file://").expect("a file");
    let pdf = lopdf::Document::load(path).expect("a PDF");
    let pages: Vec<u32> = pdf.get_pages().keys().copied().collect();
    let text = pdf.extract_text(&pages).unwrap();
    assert!(
        text.contains(&number) && text.contains("$231.00") && text.contains("Gasket"),
        "{text}"
    );
}

#[test]
fn a_payment_defaults_to_the_invoice_issued_after_the_form_was_first_opened() {
    let app = started();
    open_boiler_job(&app);
    app.controller
        .tablet()
        .lock()
        .unwrap()
        .remember_device_number(4, 0)
        .unwrap();
    tap(&app, "Record payment");
    assert!(exists(&app, "Apply to account credit"));
    app.ui.global::<Nav>().invoke_back();
    tap(&app, "Invoice");
    type_into(&app, "Line 1 price", "90");
    tap(&app, "Remove line 3");
    tap(&app, "Remove line 2");
    tap(&app, "Issue invoice");
    let number = app
        .ui
        .global::<InvoiceAdapter>()
        .get_shown_number()
        .to_string();
    app.ui.global::<Nav>().invoke_back();
    tap(&app, "Record payment");
    // The form was opened before the invoice existed; the technician had not chosen: the new
    // invoice is now the default.
    let payment = app.ui.global::<PaymentAdapter>();
    let chosen = usize::try_from(payment.get_apply_to())
        .ok()
        .and_then(|i| payment.get_open_invoices().row_data(i))
        .map(|row| row.label.to_string())
        .unwrap_or_default();
    assert!(chosen.starts_with(&number), "{chosen:?}");
    // Once the technician chooses, the choice stays.
    tap(&app, "Apply to account credit");
    app.controller.refresh();
    assert_eq!(payment.get_apply_to(), -1);
}

#[test]
fn the_packet_warns_of_what_the_customer_owes_past_due() {
    // Harbor Bakery owes $112.50 on an invoice of 21 days ago, on 30-day terms: not yet due.
    let today = started();
    open_boiler_job(&today);
    assert!(!exists(&today, "Overdue invoices"));
    // Fifteen days on, the same invoice is six days past due.
    let later = app(morning() + chrono::Duration::days(15));
    later
        .ui
        .global::<Nav>()
        .invoke_open_job(later.company.boiler.to_string().into());
    assert_eq!(
        value(&later, "Overdue invoices"),
        "Overdue: $112.50 on 1 invoice, 6 days past due. Ask about payment."
    );
}

#[test]
fn the_sites_alert_shows_first_on_the_packet_and_the_customer_page() {
    let app = started();
    open_boiler_job(&app);
    assert_eq!(
        value(&app, "Alerts"),
        "ALERT: Dough proofing room: keep the door shut, never open it during a bake."
    );
    tap(&app, "Search");
    type_into(&app, "Search customers", "harbor");
    tap(&app, "Open customer Harbor Bakery");
    assert!(value(&app, "Alerts").contains("Dough proofing room"));
}

#[test]
fn materials_and_the_final_amount_are_recorded_on_the_job_and_bad_ones_explained() {
    let app = started();
    tall(&app);
    open_boiler_job(&app);
    type_into(&app, "Materials used", "2 x Gasket\nFlue seal");
    type_into(&app, "Final amount", "212.50");
    tap(&app, "Save materials");
    assert_eq!(value(&app, "Materials message"), "Saved.");
    let job = app
        .controller
        .tablet()
        .lock()
        .unwrap()
        .store()
        .job(app.company.boiler)
        .unwrap()
        .unwrap();
    assert_eq!(job.final_amount, Some("212.50".parse().unwrap()));
    let items: Vec<_> = job
        .inventory
        .iter()
        .map(|i| (i.quantity.to_string(), i.description.as_str()))
        .collect();
    assert_eq!(
        items,
        [("2".to_string(), "Gasket"), ("1".to_string(), "Flue seal")]
    );
    assert_eq!(pending(&app), 1);

    type_into(&app, "Materials used", "3 x");
    tap(&app, "Save materials");
    assert!(value(&app, "Materials message").contains("says how many but not what"));
    type_into(&app, "Materials used", "Gasket");
    type_into(&app, "Final amount", "lots");
    tap(&app, "Save materials");
    assert!(value(&app, "Materials message").contains("not an amount"));
    assert_eq!(pending(&app), 1, "nothing more was saved");
}

#[test]
fn status_buttons_follow_the_jobs_lifecycle() {
    let app = started();
    open_boiler_job(&app);
    // On site: the job may be completed or held, not sent back on the road.
    let allowed: Vec<bool> = app
        .ui
        .global::<JobAdapter>()
        .get_status_allowed()
        .iter()
        .collect();
    let keys: Vec<String> = app
        .ui
        .global::<JobAdapter>()
        .get_status_keys()
        .iter()
        .map(|k| k.to_string())
        .collect();
    let shown: Vec<(&str, bool)> = keys.iter().map(String::as_str).zip(allowed).collect();
    assert_eq!(
        shown,
        [
            ("scheduled", false),
            ("en_route", false),
            ("on_site", true),
            ("completed", true),
            ("on_hold", true),
        ]
    );
    tap(&app, "Set status Completed");
    assert_eq!(value(&app, "Job status"), "Completed");
    let tablet = app.controller.tablet();
    let tablet = tablet.lock().unwrap();
    let notes = tablet
        .store()
        .notes_for_doc(app.company.boiler.into())
        .unwrap();
    let system: Vec<_> = notes
        .iter()
        .filter(|n| n.kind == NoteKind::System)
        .map(|n| (n.author_name.as_str(), n.text.as_str()))
        .collect();
    assert_eq!(
        system,
        [("System", "Status changed from On site to Completed.")]
    );
}

#[test]
fn a_visit_logged_on_the_customer_page_is_kept_and_listed() {
    let app = started();
    tall(&app);
    tap(&app, "Search");
    type_into(&app, "Search customers", "harbor");
    tap(&app, "Open customer Harbor Bakery");
    tap(&app, "Log contact");
    assert_eq!(
        value(&app, "Contact log message"),
        "Write what it was about first."
    );
    tap(&app, "Contact by Visit");
    type_into(
        &app,
        "Contact summary",
        "Owner asked for a quote on a second oven",
    );
    tap(&app, "Log contact");
    assert_eq!(value(&app, "Contact log message"), "Visit logged.");
    assert_eq!(
        value(&app, "Logged contact"),
        "Owner asked for a quote on a second oven"
    );
    assert_eq!(pending(&app), 1);
}

#[test]
fn custom_fields_are_picked_or_typed_on_the_customer_page_and_checked_by_type() {
    let app = started();
    tall(&app);
    tap(&app, "Search");
    type_into(&app, "Search customers", "harbor");
    tap(&app, "Open customer Harbor Bakery");
    // Yes/no and a short list of choices are buttons; the rest are typed.
    tap(&app, "Dog on site: Yes");
    assert_eq!(value(&app, "Custom field message"), "Dog on site saved.");
    tap(&app, "Oven type: Rack");
    type_into(&app, "Units serviced", "three");
    tap(&app, "Save Units serviced");
    assert!(
        value(&app, "Custom field message").contains("a number such as 12 or 3.5"),
        "{}",
        value(&app, "Custom field message")
    );
    type_into(&app, "Units serviced", "2");
    tap(&app, "Save Units serviced");
    assert_eq!(value(&app, "Custom field message"), "Units serviced saved.");
    // Tapping the chosen one again clears it.
    tap(&app, "Oven type: Rack");
    tap(&app, "Oven type: Deck");
    let fields = app.ui.global::<CustomerAdapter>().get_fields();
    let shown: Vec<(String, String)> = fields
        .iter()
        .map(|f| (f.name.to_string(), f.value.to_string()))
        .collect();
    assert_eq!(
        shown,
        [
            ("Gate code".to_string(), "Back door, code 4410#".to_string()),
            ("Oven type".to_string(), "Deck".to_string()),
            ("Dog on site".to_string(), "Yes".to_string()),
            ("Units serviced".to_string(), "2".to_string()),
        ]
    );
    let tablet = app.controller.tablet();
    let tablet = tablet.lock().unwrap();
    let page = fieldsync_app::queries::customer_page(tablet.store(), app.company.harbor).unwrap();
    assert_eq!(
        page.account.custom_fields,
        std::collections::BTreeMap::from([
            ("Dog on site".to_string(), "yes".to_string()),
            ("Gate code".to_string(), "Back door, code 4410#".to_string()),
            ("Oven type".to_string(), "Deck".to_string()),
            ("Units serviced".to_string(), "2".to_string()),
        ])
    );
    assert!(
        tablet.pending().unwrap() >= 1,
        "saved offline, waiting to be sent"
    );
}

#[test]
fn a_customer_met_in_the_field_is_added_offline_and_their_job_opens() {
    let app = started();
    tall(&app);
    tap(&app, "Search");
    tap(&app, "New customer");
    assert_eq!(app.ui.global::<Nav>().get_page(), Page::NewCustomer);
    type_into(&app, "Name", "Rosa Delgado");
    type_into(&app, "Phone", "(217) 555-0199");
    type_into(&app, "What the job is", "No heat: furnace igniter");
    tap(&app, "Add customer and start the job");
    assert_eq!(
        value(&app, "New customer message"),
        "the street is required"
    );
    assert_eq!(pending(&app), 0, "nothing made");
    type_into(&app, "Street", "88 Orchard Lane");
    type_into(&app, "City", "Springfield");
    tap(&app, "Add customer and start the job");
    // The new job's packet opens, on site, and all of it waits to be sent.
    assert_eq!(app.ui.global::<Nav>().get_page(), Page::Job);
    assert_eq!(value(&app, "Job status"), "On site");
    assert_eq!(pending(&app), 3);
    // The customer is found offline like any other.
    tap(&app, "Search");
    type_into(&app, "Search customers", "555-0199");
    tap(&app, "Open customer Rosa Delgado");
    assert_eq!(app.ui.global::<Nav>().get_page(), Page::Customer);
}

#[test]
fn a_site_plan_on_the_tablet_opens_offline_and_one_not_downloaded_says_so() {
    let app = started();
    tall(&app);
    app.ui
        .global::<Nav>()
        .invoke_open_job(app.company.boiler.to_string().into());
    assert!(
        value(&app, "File Boiler manual.pdf").contains("not downloaded yet"),
        "{}",
        value(&app, "File Boiler manual.pdf")
    );
    tap(&app, "Open Boiler manual.pdf"); // disabled: nothing happens
    assert!(app.links.borrow().is_empty());
    assert!(value(&app, "File Floor plan.pdf").contains("on this tablet"));
    tap(&app, "Open Floor plan.pdf");
    let links = app.links.borrow().clone();
    assert_eq!(links.len(), 1, "{links:?}");
    let path = links[0].strip_prefix("file://").unwrap();
    assert!(path.ends_with("Floor plan.pdf"), "{path}");
    assert_eq!(
        std::fs::read_to_string(path).unwrap(),
        fieldsync_tests::fixtures::FLOOR_PLAN
    );
}

#[test]
fn the_app_answers_taps_while_a_large_photo_is_prepared() {
    let app = started();
    open_boiler_job(&app);
    tap(&app, "Photos");
    // A 24-megapixel camera picture: decoding, scaling and thumbnailing it takes a while.
    let file = app.dir.path().join("IMG_4000.jpg");
    std::fs::write(&file, fieldsync_tests::fixtures::photo_bytes(5, 6000, 4000)).unwrap();
    type_into(&app, "Photo file", file.to_str().unwrap());
    type_into(&app, "Photo caption", "Whole boiler room");
    tap(&app, "Attach");

    // The tap came back at once: the photo is being prepared elsewhere, nothing saved yet.
    let adapter = app.ui.global::<PhotoAdapter>();
    assert!(adapter.get_busy());
    assert_eq!(value(&app, "Photo message"), "Preparing the photo…");
    assert!(
        exists(&app, "Preparing the photo"),
        "a progress indicator shows"
    );
    assert_eq!(adapter.get_photos().row_count(), 3);
    assert_eq!(pending(&app), 0);
    // Meanwhile the technician keeps working: taps are handled, a second Attach is ignored.
    tap(&app, "Photo tag Before");
    assert_eq!(adapter.get_tag(), 0);
    tap(&app, "Attach");
    tap(&app, "Outbox");
    assert_eq!(app.ui.global::<Nav>().get_page(), Page::Outbox);
    tap(&app, "Today");
    assert_eq!(app.ui.global::<Nav>().get_page(), Page::Today);
    assert!(adapter.get_busy(), "still preparing");

    until_photo_prepared(&app);
    assert_eq!(
        adapter.get_message().as_str(),
        "Photo saved (2048×1365); it uploads in the background."
    );
    open_boiler_job(&app);
    tap(&app, "Photos");
    let photos = adapter.get_photos();
    assert_eq!(photos.row_count(), 4, "saved once");
    assert_eq!(
        photos.row_data(3).unwrap().caption.as_str(),
        "Whole boiler room"
    );
    assert_eq!(pending(&app), 1);
}

#[test]
fn a_photo_is_chosen_in_the_devices_file_dialog_and_attached() {
    let app = started();
    open_boiler_job(&app);
    tap(&app, "Photos");
    // The technician closes the dialog: nothing changes.
    common::will_choose(Ok(None));
    tap(&app, "Choose a photo file");
    until_photo_prepared(&app);
    assert_eq!(value(&app, "Photo file"), "");
    // A tablet without a dialog says so, and the path can still be typed.
    common::will_choose(Err("no desktop portal".into()));
    tap(&app, "Choose a photo file");
    until_photo_prepared(&app);
    assert!(
        value(&app, "Photo message").starts_with("No file dialog on this device"),
        "{}",
        value(&app, "Photo message")
    );
    // A picture chosen in the dialog fills the form and attaches.
    let file = common::camera_file(app.dir.path());
    common::will_choose(Ok(Some(file.clone())));
    tap(&app, "Choose a photo file");
    until_photo_prepared(&app);
    assert_eq!(value(&app, "Photo file"), file.display().to_string());
    tap(&app, "Attach");
    until_photo_prepared(&app);
    assert_eq!(
        value(&app, "Photo message"),
        "Photo saved (1600×1200); it uploads in the background."
    );
    assert_eq!(app.ui.global::<PhotoAdapter>().get_photos().row_count(), 4);
}
