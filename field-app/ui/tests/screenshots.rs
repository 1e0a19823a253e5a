//! Renders the main screens with the demo-like company to PNG through Slint's software
//! renderer, headless. With `FIELDSYNC_WRITE_SCREENSHOTS=1` they are written to `docs/` (for
//! the README); otherwise to a temporary directory, so CI never rewrites checked-in files.

mod common;

use std::path::{Path, PathBuf};

use fieldsync_app_ui::{
    InvoiceAdapter, JobAdapter, Nav, NewCustomerAdapter, Page, PaymentAdapter, PhotoAdapter,
    SearchAdapter,
};
use i_slint_backend_testing::{TestingBackend, TestingBackendOptions};
use slint::ComponentHandle;

fn save(ui: &impl ComponentHandle, dir: &Path, name: &str) -> PathBuf {
    let shot = ui
        .window()
        .take_snapshot()
        .expect("the software renderer draws");
    assert_eq!((shot.width(), shot.height()), (1280, 800), "{name}");
    let pixels = shot.as_bytes();
    // A screen with text on it has many distinct colours; a blank or failed render has few.
    let distinct: std::collections::HashSet<&[u8]> = pixels.chunks(4).collect();
    assert!(
        distinct.len() > 50,
        "{name} looks blank ({} colours)",
        distinct.len()
    );
    let path = dir.join(format!("tablet-{name}.png"));
    image::save_buffer(
        &path,
        pixels,
        shot.width(),
        shot.height(),
        image::ColorType::Rgba8,
    )
    .unwrap();
    path
}

/// A handwritten "Ana Ruiz"-like scribble, in pixels of the 600 × 200 signature pad.
fn signature_strokes() -> Vec<Vec<(f32, f32)>> {
    let wave = |x0: f32, width: f32, height: f32, turns: f32| -> Vec<(f32, f32)> {
        (0..=40)
            .map(|i| {
                let t = i as f32 / 40.0;
                let x = x0 + width * t;
                let y =
                    120.0 - height * (t * turns * std::f32::consts::TAU).sin() * (1.0 - t * 0.4);
                (x, y)
            })
            .collect()
    };
    vec![
        wave(60.0, 150.0, 45.0, 2.5),
        wave(220.0, 110.0, 30.0, 3.0),
        wave(350.0, 170.0, 40.0, 3.5),
        vec![(70.0, 150.0), (520.0, 140.0)],
    ]
}

#[test]
fn main_screens_render_to_png() {
    slint::platform::set_platform(Box::new(TestingBackend::new(TestingBackendOptions {
        mock_time: true,
        threading: false,
        renderer_name: Some("software".into()),
    })))
    .unwrap();
    let temp = tempfile::tempdir().unwrap();
    let dir = if std::env::var("FIELDSYNC_WRITE_SCREENSHOTS").is_ok_and(|v| v == "1") {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs")
    } else {
        temp.path().to_path_buf()
    };
    std::fs::create_dir_all(&dir).unwrap();
    let app = common::app(common::morning());
    let ui = &app.ui;
    let nav = ui.global::<Nav>();
    save(ui, &dir, "today");

    nav.invoke_open_job(app.company.boiler.to_string().into());
    save(ui, &dir, "job-packet");

    ui.global::<JobAdapter>().set_tab(1);
    let photos = ui.global::<PhotoAdapter>();
    photos.set_caption("Flue joint, resealed".into());
    save(ui, &dir, "photos");

    // An invoice written on site: the job's services as lines, priced, with tax.
    nav.invoke_go(Page::Invoice);
    let invoice = ui.global::<InvoiceAdapter>();
    invoice.invoke_remove_line(2);
    invoice.invoke_edit_line(0, 2, "150.00".into());
    invoice.invoke_edit_line(1, 2, "45.00".into());
    invoice.invoke_add_line();
    invoice.invoke_edit_line(2, 0, "Burner gasket".into());
    invoice.invoke_edit_line(2, 1, "2".into());
    invoice.invoke_edit_line(2, 2, "7.50".into());
    invoice.set_tax_rate("8.25".into());
    invoice.invoke_tax_edited("8.25".into());
    invoice.invoke_show(-1); // shows the form anew, as typed
    save(ui, &dir, "invoice-new");
    {
        // What the server tells a tablet when it connects.
        let tablet = app.controller.tablet();
        let mut tablet = tablet.lock().unwrap();
        tablet.remember_device_number(4, 0).unwrap();
        tablet
            .remember_company(&fieldsync_protocol::Company {
                name: "Northwind Heating & Plumbing".into(),
                address_lines: vec!["410 Foundry Street".into(), "Springfield, IL 62701".into()],
                phone: "(217) 555-0140".into(),
                time_zone: "America/Chicago".into(),
            })
            .unwrap();
    }
    invoice.invoke_issue();
    // The customer signs with a finger.
    invoice.set_signer("Ana Ruiz".into());
    for stroke in signature_strokes() {
        invoice.invoke_stroke_start(stroke[0].0, stroke[0].1);
        for (x, y) in &stroke[1..] {
            invoice.invoke_stroke_to(*x, *y);
        }
    }
    save(ui, &dir, "invoice");
    invoice.invoke_save_signature();
    if dir != temp.path() {
        // The invoice's PDF as the tablet prints it (docs/invoice-sample.pdf; the README shows
        // its first page rendered to PNG).
        let tablet = app.controller.tablet();
        let tablet = tablet.lock().unwrap();
        let issued = tablet
            .store()
            .invoices_for_account(app.company.harbor)
            .unwrap()
            .into_iter()
            .find(|i| i.number.starts_with("INV-4-"))
            .unwrap();
        let pdf = fieldsync_app::documents::invoice_pdf(tablet.store(), issued.id).unwrap();
        std::fs::write(dir.join("invoice-sample.pdf"), pdf).unwrap();
    }

    nav.invoke_go(Page::Payment);
    let payment = ui.global::<PaymentAdapter>();
    payment.set_amount("80.00".into());
    payment.set_method(1);
    payment.set_reference("#2291".into());
    payment.invoke_record();
    save(ui, &dir, "payment");

    nav.invoke_open_customer(app.company.harbor.to_string().into());
    save(ui, &dir, "customer");

    nav.invoke_go(Page::Search);
    let search = ui.global::<SearchAdapter>();
    search.set_query("lindqv".into());
    search.invoke_search("lindqv".into());
    save(ui, &dir, "search");

    // A customer met on the job, being added (with a refusal to show what it says).
    nav.invoke_go(Page::NewCustomer);
    let new = ui.global::<NewCustomerAdapter>();
    new.set_name("Rosa Delgado".into());
    new.set_phone("(217) 555-0199".into());
    new.set_street("88 Orchard Lane".into());
    new.set_job_title("No heat: furnace igniter".into());
    new.invoke_save();
    save(ui, &dir, "new-customer");
    new.set_city("Springfield".into());
    new.set_region("IL".into());
    new.invoke_save();

    // A day's work waiting for coverage, one change of which the server refused.
    nav.invoke_open_job(app.company.boiler.to_string().into());
    let job = ui.global::<JobAdapter>();
    job.set_note_text("Replaced burner gasket and cleaned the flue; CO 9 ppm at the flue.".into());
    job.invoke_add_note();
    job.invoke_set_status(3);
    nav.invoke_open_job(app.company.dental_job.to_string().into());
    job.invoke_set_status(1);
    {
        let path = app.dir.path().join("tablet.sqlite3");
        let mut store = fieldsync_store::Store::open(&path).unwrap();
        let refused = store.outbox().unwrap().last().unwrap().hash;
        let tx = store.transaction().unwrap();
        tx.outbox_refused(
            refused,
            "Lindqvist Dental is on credit hold: the office must release the job first",
        )
        .unwrap();
        tx.commit().unwrap();
    }
    app.controller.refresh();
    nav.invoke_go(Page::Outbox);
    save(ui, &dir, "outbox");

    // The office revoked the tablet: the outbox offers to pair again, the work kept.
    let tablet = app.controller.tablet();
    {
        let mut tablet = tablet.lock().unwrap();
        tablet.set_needs_pairing(true);
        // What the sync service says (field-app/src/net/service.rs).
        tablet.set_last_error(Some(
            "the server refused this tablet (HTTP 401): device token revoked: pair the tablet \
             again. Pair this tablet again to sync; its work stays on it"
                .into(),
        ));
    }
    app.controller.refresh();
    save(ui, &dir, "pair-again");
    {
        let mut tablet = tablet.lock().unwrap();
        tablet.set_needs_pairing(false);
        tablet.set_last_error(None);
    }
    app.controller.refresh();

    nav.invoke_open_job(app.company.dental_job.to_string().into());
    save(ui, &dir, "credit-hold");

    // The first run: pairing with a server that has a self-signed certificate.
    let pair = fieldsync_app_ui::PairWindow::new().unwrap();
    pair.window().set_size(slint::PhysicalSize::new(1280, 800));
    pair.show().unwrap();
    pair.set_server_url("https://192.168.1.20:8443".into());
    pair.set_token("fsd_x7Qm2vLr9TcNw4pKs8BdHe1YgZa6UjFo3iXq5RtVy0M".into());
    pair.set_fingerprint(
        "3F:A2:91:0C:5E:77:D4:18:B6:2A:E0:4F:C9:13:8D:65:71:BE:0A:F2:39:C4:5D:86:1E:A7:3B:90:6C:F5:28:D1"
            .into(),
    );
    save(&pair, &dir, "pair");
}
