//! The office web page in a real headless Chromium (tests/src/browser.rs), against the real
//! server on 127.0.0.1:0 with the demo company loaded for this week, and a technician's tablet
//! on the real `/sync` WebSocket where the field changes what the office sees.
//!
//! With `FIELDSYNC_WRITE_SCREENSHOTS=1` the board, customer and job pages are also saved to
//! `docs/office-*.png` (the README's screenshots); otherwise screenshots go to a temporary
//! directory, so that CI never rewrites checked-in files.

use std::path::PathBuf;

use chrono::{NaiveTime, Utc};
use fieldsync_protocol::views::InvoiceStatus;
use fieldsync_protocol::{
    AccountId, Author, InvoiceId, Job, JobId, JobStatus, Money, Record, Role, Timestamp, UserId,
    Writer,
};
use fieldsync_server::serving::Serving;
use fieldsync_store::Store;
use fieldsync_tests::api::Api;
use fieldsync_tests::browser::Browser;
use fieldsync_tests::sync_client::SyncClient;
use fieldsync_tests::{ServingExt as _, TestServer};
use serde_json::json;

/// A technician of the demo company and their tablet's token.
struct Technician {
    user: UserId,
    name: String,
    token: String,
}

/// The server with this week's demo company, plus one job of today's for Tess that the tests
/// drive (the demo's own jobs of today depend on the weekday).
struct World {
    server: TestServer,
    tess: Technician,
    /// Tess's job of today, scheduled.
    job: JobId,
    /// Its customer's name.
    job_account_name: String,
    /// A demo job with notes and an invoice, for the job page.
    rich_job: JobId,
    /// A customer with a pending invoice, and the invoice with its total.
    billed: (AccountId, InvoiceId, Money),
    /// Where screenshots go.
    shots: PathBuf,
    _dir: tempfile::TempDir,
}

impl World {
    fn base(&self) -> String {
        self.server.url("")
    }

    async fn signed_in_browser(&self) -> Browser {
        let browser = Browser::start().await;
        browser
            .sign_in(&self.base(), "dana", "dana-office-demo")
            .await;
        browser
    }

    /// Saves a screenshot of the top of the page as `name` (in docs/ when asked to).
    async fn screenshot(&self, browser: &Browser, name: &str) {
        browser.run("window.scrollTo(0, 0);").await;
        browser.screenshot(&self.shots.join(name)).await;
    }
}

fn now() -> Timestamp {
    Timestamp(Utc::now())
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.sqlite3");
    let today = fieldsync_server::demo::today();
    let mut store = Store::open(&path).unwrap();
    let summary = fieldsync_server::demo::load(&mut store, today).unwrap();
    let (name, _, token) = summary.tablets[0].clone();
    let tess = Technician {
        user: store.user_by_name(&name).unwrap().unwrap().0.id,
        name,
        token,
    };
    let accounts = store.accounts().unwrap();

    // A customer with a pending invoice (nothing paid on it), for voiding.
    let billed = accounts
        .iter()
        .find_map(|a| {
            let ledger = store.ledger(a.id).unwrap();
            store
                .invoices_for_account(a.id)
                .unwrap()
                .into_iter()
                .find(|i| {
                    ledger
                        .invoices
                        .get(&i.id)
                        .is_some_and(|s| s.status == InvoiceStatus::Pending)
                })
                .map(|i| (a.id, i.id, i.total()))
        })
        .expect("a demo customer with a pending invoice");

    let rich_job = accounts
        .iter()
        .flat_map(|a| store.jobs_for_account(a.id).unwrap())
        .find(|j| {
            matches!(store.record(j.id.into()).unwrap(),
                Some(Record::Job(d)) if d.notes.len() >= 2 && !d.invoices.is_empty())
        })
        .expect("a demo job with notes and an invoice")
        .id;

    // Tess's job of today, early, so that it is on today's board whatever the weekday.
    let account = accounts
        .iter()
        .find(|a| a.id != billed.0)
        .expect("another demo customer");
    let site = store.sites_for_account(account.id).unwrap()[0].id;
    let zone = fieldsync_server::zone::Zone::named(fieldsync_server::demo::TIME_ZONE).unwrap();
    let at = |h, m| {
        zone.at(today, NaiveTime::from_hms_opt(h, m, 0).unwrap())
            .unwrap()
    };
    let job = Job {
        id: JobId::new(),
        account: account.id,
        site,
        title: "Thermostat replacement".into(),
        requested_services: vec!["Thermostat".into()],
        pickup_address: None,
        delivery_address: None,
        inventory: Vec::new(),
        estimate: Some("180.00".parse().unwrap()),
        final_amount: None,
        status: JobStatus::Scheduled,
        technicians: [(tess.user, now())].into(),
        scheduled_start: Some(at(6, 0)),
        scheduled_end: Some(at(7, 0)),
        created_at: now(),
        contact: None,
    };
    let office = Writer::new(Role::Office, UserId::new(), "Seeder");
    let record = Record::new_job(job.clone());
    let (mut doc, change) = office.create(&record, now()).unwrap();
    let tx = store.transaction().unwrap();
    tx.record_local(record.doc_id(), &mut doc, &change, false)
        .unwrap();
    tx.commit().unwrap();
    drop(store);

    let shots = if std::env::var("FIELDSYNC_WRITE_SCREENSHOTS").as_deref() == Ok("1") {
        let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs");
        std::fs::create_dir_all(&docs).unwrap();
        docs
    } else {
        dir.path().to_path_buf()
    };
    // Over TLS, as an office reaches a real server.
    let state = fieldsync_server::AppState::open(&path).unwrap();
    let serving = Serving::default().with_test_tls();
    World {
        server: TestServer::start_serving(state, &path, serving)
            .await
            .unwrap(),
        tess,
        job: job.id,
        job_account_name: account.name.clone(),
        rich_job,
        billed,
        shots,
        _dir: dir,
    }
}

/// An amount as the page shows it (`1,234.50`, `-20.00`).
fn shown_money(text: &str) -> Money {
    let digits: String = text
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '.' || *c == '-')
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("{text:?} is not an amount"))
}

/// A status as the page shows it, compared without regard to `_` or case.
fn shown_status(text: &str) -> String {
    text.trim().replace('_', " ").to_lowercase()
}

#[tokio::test]
async fn signing_in_refuses_a_wrong_password_and_lands_on_the_board() {
    let world = world().await;
    let browser = Browser::start().await;
    browser.goto(&format!("{}/", world.base())).await;
    browser
        .wait_until("the board sends a stranger to sign in", async || {
            (browser.path().await == "/login").then_some(())
        })
        .await;
    browser.wait_for("form#login").await;
    assert!(
        browser.text(".error").await.is_none(),
        "no error before trying"
    );
    browser.fill("form#login input[name=name]", "dana").await;
    browser
        .fill("form#login input[name=password]", "not-the-password")
        .await;
    browser
        .click("form#login button[type=submit], form#login input[type=submit]")
        .await;
    let error = browser
        .wait_for_text(".error", |t| !t.trim().is_empty())
        .await;
    assert!(
        error.to_lowercase().contains("password"),
        "a clear message: {error:?}"
    );
    assert_eq!(browser.path().await, "/login");
    assert!(browser.text("#board").await.is_none());

    browser.fill("form#login input[name=name]", "dana").await;
    browser
        .fill("form#login input[name=password]", "dana-office-demo")
        .await;
    browser
        .click("form#login button[type=submit], form#login input[type=submit]")
        .await;
    browser.wait_for("#board").await;
    assert_eq!(browser.path().await, "/");
    browser.close().await;
}

#[tokio::test]
async fn the_board_shows_a_tablets_status_change_without_a_reload() {
    let world = world().await;
    let browser = world.signed_in_browser().await;
    browser.goto(&format!("{}/", world.base())).await;
    browser.wait_for("#board").await;
    browser.wait_for("#board section#unassigned").await;
    let columns = browser
        .count("#board section.column[data-technician]:not(#unassigned)")
        .await;
    assert_eq!(columns, 5, "one column per technician");
    let card = format!(
        "#board section.column[data-technician=\"{}\"] article.job[data-job=\"{}\"]",
        world.tess.user, world.job
    );
    let status = browser
        .wait_for_text(&format!("{card} .status"), |t| !t.trim().is_empty())
        .await;
    assert_eq!(shown_status(&status), "scheduled");
    assert_eq!(
        browser.text(&format!("{card} .account")).await.as_deref(),
        Some(world.job_account_name.as_str())
    );
    let time = browser.text(&format!("{card} .time")).await.unwrap();
    assert!(time.contains("06:00"), "{time:?}");
    world.screenshot(&browser, "office-board.png").await;
    browser.run("window.__marker = 1;").await;

    // Tess's tablet: the job is on site, pushed through the sync protocol.
    let author = Author {
        user: world.tess.user,
        name: world.tess.name.clone(),
    };
    let tablet = SyncClient::push_job_status(
        &world.server,
        &world.tess.token,
        author,
        world.job,
        JobStatus::OnSite,
    )
    .await;

    browser
        .wait_for_text(&format!("{card} .status"), |t| shown_status(t) == "on site")
        .await;
    assert_eq!(
        browser.run("return window.__marker === 1;").await,
        serde_json::Value::Bool(true),
        "the page was not reloaded"
    );
    tablet.close().await;
    browser.close().await;
}

#[tokio::test]
async fn the_board_redraws_only_the_cards_that_changed_and_moves_them_between_columns() {
    let world = world().await;
    let tess = world.tess.user.to_string();
    // Two more jobs today (the demo's own depend on the weekday): Tess's later one, and a
    // colleague's.
    let (colleague, account, site) = {
        let store = Store::open(world.server.db_path()).unwrap();
        let colleague = (store.users().unwrap().into_iter())
            .find(|u| u.role == Role::Technician && u.id != world.tess.user)
            .unwrap()
            .id
            .to_string();
        // Another customer's: a change redraws every card of the customer it changed.
        let theirs = store.jobs_for_technician(world.tess.user).unwrap();
        let ours = theirs.iter().find(|j| j.id == world.job).unwrap().account;
        let account = (store.accounts().unwrap().into_iter())
            .find(|a| a.id != ours)
            .unwrap()
            .id;
        let site = store.sites_for_account(account).unwrap()[0].id;
        (colleague, account, site)
    };
    let api = Api::sign_in(&world.server, "dana", "dana-office-demo").await;
    for (technician, start, end) in [(&tess, "09:00", "10:00"), (&colleague, "08:00", "09:00")] {
        let job = json!({
            "account": account.to_string(),
            "site": site.to_string(),
            "title": "Filter change",
            "requested_services": "Filters",
            "day": fieldsync_server::demo::today().to_string(),
            "start": start,
            "end": end,
            "technician": technician,
            "estimate": "",
        });
        api.post_ok("/api/jobs", job, 201).await;
    }
    let browser = world.signed_in_browser().await;
    browser.goto(&format!("{}/", world.base())).await;
    let column =
        |technician: &str| format!("#board section.column[data-technician=\"{technician}\"]");
    let card = |technician: &str| {
        format!(
            "{} article.job[data-job=\"{}\"]",
            column(technician),
            world.job
        )
    };
    browser.wait_for(&card(&tess)).await;
    let count = async |technician: &str| -> usize {
        let text = browser
            .text(&format!("{} h2 .count", column(technician)))
            .await;
        text.unwrap_or_default().trim().parse().unwrap()
    };
    let (tess_before, waiting_before) = (count(&tess).await, count("").await);
    // Every other card is marked: redrawing the board whole would replace them.
    browser
        .run(&format!(
            "document.querySelectorAll('#board article.job:not([data-job=\"{}\"])')
               .forEach(c => c.dataset.mark = 'kept');",
            world.job
        ))
        .await;
    let marked = browser.count("#board article.job[data-mark=kept]").await;
    assert!(marked > 1, "the demo's board has other cards ({marked})");

    // Dana takes the job from Tess: the card moves to the unassigned column.
    let assign = |technicians: Vec<String>| {
        let path = format!("/api/jobs/{}/assign", world.job);
        let api = &api;
        async move {
            api.post_ok(&path, json!({ "technicians": technicians }), 200)
                .await
        }
    };
    assign(Vec::new()).await;
    browser.wait_for(&card("")).await;
    assert_eq!(browser.count(&card(&tess)).await, 0, "not in Tess's column");
    assert_eq!(count(&tess).await, tess_before - 1);
    assert_eq!(count("").await, waiting_before + 1);
    // Then to Tess and a colleague: one card in each column, in order, none left waiting.
    assign(vec![tess.clone(), colleague.clone()]).await;
    browser.wait_for(&card(&colleague)).await;
    browser.wait_for(&card(&tess)).await;
    assert_eq!(browser.count(&card("")).await, 0);
    assert_eq!(count("").await, waiting_before);
    let order: Vec<String> = serde_json::from_value(
        browser
            .run(&format!(
                "return [...document.querySelectorAll('{} article.job')].map(c => c.dataset.sort);",
                column(&tess)
            ))
            .await,
    )
    .unwrap();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted, "cards stay in their order");
    assert_eq!(
        browser.count("#board article.job[data-mark=kept]").await,
        marked,
        "the other cards were left as they were"
    );
    browser.close().await;
}

#[tokio::test]
async fn a_payment_and_a_void_change_the_customers_balance() {
    let world = world().await;
    let browser = world.signed_in_browser().await;
    let (account, invoice, total) = world.billed;
    browser
        .goto(&format!("{}/customers/{account}", world.base()))
        .await;
    let balance = shown_money(&browser.wait_for_text("#balance", |t| !t.is_empty()).await);
    let row = format!("tr.invoice[data-invoice=\"{invoice}\"]");
    let status = browser
        .wait_for_text(&format!("{row} .status"), |t| !t.is_empty())
        .await;
    assert_eq!(shown_status(&status), "pending");
    world.screenshot(&browser, "office-customer.png").await;

    // Void the pending invoice: the page asks first; called off, nothing changes.
    browser.click(&format!("{row} form button.void")).await;
    let asked = browser.client().get_alert_text().await.unwrap();
    assert!(asked.starts_with("Void invoice INV-"), "{asked}");
    assert!(
        asked.contains("stays on the record, marked void"),
        "{asked}"
    );
    browser.client().dismiss_alert().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let still = browser.text(&format!("{row} .status")).await.unwrap();
    assert_eq!(shown_status(&still), "pending", "called off: not voided");
    // Confirmed: it reads void and the balance drops by its total.
    browser.click(&format!("{row} form button.void")).await;
    browser.client().accept_alert().await.unwrap();
    browser
        .wait_for_text(&format!("{row} .status"), |t| shown_status(t) == "void")
        .await;
    let after_void = balance - total;
    browser
        .wait_for_text("#balance", |t| shown_money(t) == after_void)
        .await;

    // A payment of 25.00.
    browser
        .fill("form#payment input[name=amount]", "25.00")
        .await;
    browser
        .select("form#payment select[name=method]", "check")
        .await;
    browser
        .fill("form#payment input[name=reference]", "CHK-2231")
        .await;
    browser
        .click("form#payment button[type=submit], form#payment input[type=submit]")
        .await;
    let after_payment = after_void - "25.00".parse::<Money>().unwrap();
    browser
        .wait_for_text("#balance", |t| shown_money(t) == after_payment)
        .await;

    // A bad amount: a clear error, and nothing changes.
    browser.wait_for("form#payment input[name=amount]").await;
    assert!(
        browser.text(".error").await.is_none(),
        "no error before trying"
    );
    browser.fill("form#payment input[name=amount]", "-5").await;
    browser
        .click("form#payment button[type=submit], form#payment input[type=submit]")
        .await;
    let error = browser
        .wait_for_text(".error", |t| !t.trim().is_empty())
        .await;
    assert!(
        error.contains("positive") || error.contains("amount"),
        "a clear message: {error:?}"
    );
    let server = Store::open(world.server.db_path()).unwrap();
    assert_eq!(
        server.ledger(account).unwrap().balance,
        after_payment,
        "the refused payment changed nothing"
    );
    let payments = server.payments_for_account(account).unwrap();
    assert_eq!(
        payments
            .iter()
            .filter(|p| p.reference == "CHK-2231")
            .count(),
        1
    );
    browser.close().await;
}

#[tokio::test]
async fn deleting_or_merging_a_customer_asks_first_and_can_be_called_off() {
    let world = world().await;
    let browser = world.signed_in_browser().await;
    let (account, _, _) = world.billed;
    let page = format!("{}/customers/{account}", world.base());
    browser.goto(&page).await;
    let name = browser.wait_for_text("h1", |t| !t.is_empty()).await;

    browser.click("form#delete button[type=submit]").await;
    let asked = browser.client().get_alert_text().await.unwrap();
    let named = asked
        .strip_prefix("Delete ")
        .and_then(|rest| rest.split_once('?'))
        .map(|(who, _)| who)
        .unwrap_or_else(|| panic!("{asked}"));
    assert!(name.contains(named), "{asked} (page: {name})");
    browser.client().dismiss_alert().await.unwrap();

    // Merge: the question names the customer chosen.
    browser.goto(&format!("{page}?merge_q=a#merge")).await;
    let merge = "form[action$=\"/merge\"]";
    let into = browser
        .run(&format!(
            "var s = document.querySelector('{merge} select'); s.selectedIndex = 1; \
             return s.options[1].text;"
        ))
        .await;
    let into = into
        .as_str()
        .expect("another customer to merge into")
        .to_string();
    browser.click(&format!("{merge} button[type=submit]")).await;
    let asked = browser.client().get_alert_text().await.unwrap();
    assert!(asked.contains(&format!("into {into}?")), "{asked}");
    assert!(asked.contains("cannot be undone"), "{asked}");
    browser.client().dismiss_alert().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    // Called off twice: the customer is still there, neither deleted nor merged.
    browser.goto(&page).await;
    let still = browser.wait_for_text("h1", |t| !t.is_empty()).await;
    assert_eq!(still, name);
    let merged = browser
        .run("return document.body.innerText.includes('Merged into');")
        .await;
    assert_eq!(merged, serde_json::Value::Bool(false), "not merged");
    browser.close().await;
}

#[tokio::test]
async fn an_invoice_is_made_from_line_rows_added_and_removed_on_the_job_page() {
    let world = world().await;
    let browser = world.signed_in_browser().await;
    let job = world.rich_job;
    browser.goto(&format!("{}/jobs/{job}", world.base())).await;
    browser.wait_for("form#invoice").await;
    let rows = "form#invoice table.lines tbody tr";
    assert_eq!(
        browser.count(rows).await,
        3,
        "three empty rows to start with"
    );
    let cell = |row: usize, name: &str| format!("{rows}:nth-child({row}) input[name={name}]");
    browser
        .fill(&cell(1, "description"), "Boiler service")
        .await;
    browser.fill(&cell(1, "unit_price"), "180.00").await;
    browser.click("form#invoice button.add-line").await;
    assert_eq!(browser.count(rows).await, 4);
    browser.fill(&cell(4, "description"), "Filter").await;
    browser.fill(&cell(4, "quantity"), "2").await;
    browser.fill(&cell(4, "unit_price"), "12.50").await;
    // Row 2 is taken out; row 3 stays empty and is left out.
    browser
        .click(&format!("{rows}:nth-child(2) button.remove-line"))
        .await;
    assert_eq!(browser.count(rows).await, 3);
    let account = match Store::open(world.server.db_path())
        .unwrap()
        .record(job.into())
    {
        Ok(Some(Record::Job(j))) => j.record.account,
        other => panic!("the job is gone: {other:?}"),
    };
    let before = Store::open(world.server.db_path())
        .unwrap()
        .invoices_for_account(account)
        .unwrap()
        .len();
    browser.click("form#invoice button[type=submit]").await;
    browser
        .wait_for_text("#invoices", |t| t.contains("Filter (2 × 12.50)"))
        .await;
    let invoices = Store::open(world.server.db_path())
        .unwrap()
        .invoices_for_account(account)
        .unwrap();
    assert_eq!(invoices.len(), before + 1);
    let made = invoices
        .iter()
        .find(|i| i.lines.iter().any(|l| l.description == "Filter"))
        .expect("the new invoice");
    let lines: Vec<(String, String, String)> = made
        .lines
        .iter()
        .map(|l| {
            (
                l.description.clone(),
                l.quantity.to_string(),
                l.unit_price.to_string(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("Boiler service".into(), "1".into(), "180.00".into()),
            ("Filter".into(), "2".into(), "12.50".into())
        ]
    );

    // A row with a price and no description is refused, naming the row.
    browser.goto(&format!("{}/jobs/{job}", world.base())).await;
    browser.fill(&cell(1, "description"), "Call-out").await;
    browser.fill(&cell(1, "unit_price"), "60").await;
    browser.fill(&cell(2, "unit_price"), "15").await;
    browser.click("form#invoice button[type=submit]").await;
    browser
        .wait_for_text("p.error[role=alert]", |t| {
            t.contains("invoice line 2 needs a description")
        })
        .await;
    browser.close().await;
}

#[tokio::test]
async fn a_note_added_on_the_job_page_shows_in_its_notes() {
    let world = world().await;
    let browser = world.signed_in_browser().await;
    let job = world.rich_job;
    browser.goto(&format!("{}/jobs/{job}", world.base())).await;
    browser.wait_for("form#note").await;
    browser
        .select("form#note select[name=kind]", "service_request")
        .await;
    let text = "Bring the long ladder: the boiler flue is on the roof.";
    browser.fill("form#note textarea[name=text]", text).await;
    browser
        .click("form#note button[type=submit], form#note input[type=submit]")
        .await;
    browser.wait_for_text("#notes", |t| t.contains(text)).await;
    world.screenshot(&browser, "office-job.png").await;
    let server = Store::open(world.server.db_path()).unwrap();
    match server.record(job.into()).unwrap() {
        Some(Record::Job(j)) => assert!(j.notes.values().any(|n| n.text == text)),
        other => panic!("the job is gone: {other:?}"),
    }
    browser.close().await;
}

#[tokio::test]
async fn the_aging_report_opens_from_the_menu_and_its_csv_downloads() {
    let world = world().await;
    let browser = world.signed_in_browser().await;
    browser.goto(&format!("{}/", world.base())).await;
    browser.click("header nav a[href='/reports/aging']").await;
    let total = browser
        .wait_for_text("#aging-totals th:last-child", |t| !t.is_empty())
        .await;
    // The pending invoice of the billed customer is among what is owed.
    assert!(shown_money(&total) >= world.billed.2, "{total}");
    assert!(browser.count("#aging tr.aging-row").await > 0);

    // The CSV link downloads what the page shows (fetched as the browser would, with the
    // session; headless Chromium keeps downloads out of sight).
    let csv = browser
        .client()
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(document.getElementById('aging-csv').href, {credentials: 'same-origin'})
               .then(r => r.text()).then(done, e => done('failed: ' + e));",
            Vec::new(),
        )
        .await
        .unwrap();
    let csv = csv.as_str().unwrap().to_string();
    assert!(
        csv.starts_with("customer,terms (net days),current"),
        "{csv}"
    );
    let last = csv.trim_end().lines().last().unwrap().to_string();
    assert!(last.starts_with("Total,,"), "{csv}");
    assert_eq!(
        shown_money(last.rsplit(',').next().unwrap()),
        shown_money(&total)
    );
    browser.close().await;
}

#[tokio::test]
async fn a_payment_goes_to_the_open_invoice_by_default_and_the_invoice_pdf_opens() {
    let world = world().await;
    let browser = world.signed_in_browser().await;
    let (account, _, _) = world.billed;
    browser
        .goto(&format!("{}/customers/{account}", world.base()))
        .await;
    browser.wait_for("form#payment select[name=invoice]").await;
    // The form offers the customer's first invoice still owed something, already chosen.
    let chosen = browser
        .run("return document.querySelector('form#payment select[name=invoice]').value")
        .await;
    let chosen: InvoiceId = chosen
        .as_str()
        .unwrap()
        .parse()
        .expect("an invoice is chosen");
    let row = format!("tr.invoice[data-invoice=\"{chosen}\"]");
    let total = shown_money(&browser.text(&format!("{row} td.total")).await.unwrap());
    let paid = shown_money(&browser.text(&format!("{row} td.paid")).await.unwrap());
    let owed = total - paid;
    browser
        .fill("form#payment input[name=amount]", &owed.to_string())
        .await;
    browser.click("form#payment button[type=submit]").await;
    browser
        .wait_for_text(&format!("{row} .status"), |t| shown_status(t) == "paid")
        .await;

    // The invoice's "View PDF" link serves its PDF (fetched as the browser opens it, with the
    // session), which says it is paid.
    let bytes = browser
        .client()
        .execute_async(
            &format!(
                "const done = arguments[arguments.length - 1];
                 fetch(document.querySelector('{row} a.pdf').href, {{credentials: 'same-origin'}})
                   .then(r => r.arrayBuffer())
                   .then(b => done(Array.from(new Uint8Array(b))), e => done('failed: ' + e));"
            ),
            Vec::new(),
        )
        .await
        .unwrap();
    let bytes: Vec<u8> = bytes
        .as_array()
        .unwrap_or_else(|| panic!("{bytes}"))
        .iter()
        .map(|b| b.as_u64().unwrap() as u8)
        .collect();
    let pdf = lopdf::Document::load_mem(&bytes).expect("a PDF");
    let pages: Vec<u32> = pdf.get_pages().keys().copied().collect();
    let text = pdf.extract_text(&pages).unwrap();
    let server = Store::open(world.server.db_path()).unwrap();
    let number = server
        .invoice_with_id(chosen)
        .unwrap()
        .pop()
        .unwrap()
        .number;
    assert!(text.contains(&number) && text.contains("paid"), "{text}");
    let ledger = server.ledger(account).unwrap();
    assert_eq!(ledger.invoices[&chosen].status, InvoiceStatus::Paid);
    browser.close().await;
}

#[tokio::test]
async fn a_job_is_edited_an_alert_shown_and_a_contact_linked_to_a_site_from_the_pages() {
    let world = world().await;
    let browser = world.signed_in_browser().await;
    let job = world.job;
    browser.goto(&format!("{}/jobs/{job}", world.base())).await;
    browser.wait_for("form#edit-job").await;
    // The status form offers the job's own status and where it may go from there.
    let offered = browser
        .run("return [...document.querySelectorAll('form#status option')].map(o => o.value);")
        .await;
    assert_eq!(
        offered,
        serde_json::json!([
            "scheduled",
            "en_route",
            "on_site",
            "completed",
            "lead",
            "on_hold",
            "cancelled"
        ])
    );
    browser
        .fill(
            "form#edit-job input[name=title]",
            "Thermostat and valve replacement",
        )
        .await;
    browser
        .fill(
            "form#edit-job textarea[name=materials]",
            "1 x Smart thermostat\n2 x Radiator valve",
        )
        .await;
    browser.click("form#edit-job button[type=submit]").await;
    browser
        .wait_for_text("#materials", |t| t.contains("Radiator valve"))
        .await;
    browser
        .wait_for_text("h1", |t| t.contains("Thermostat and valve replacement"))
        .await;

    // An alert on the customer shows on the customer page and on the job page.
    let account = match Store::open(world.server.db_path())
        .unwrap()
        .job(job)
        .unwrap()
    {
        Some(j) => j.account,
        None => panic!("the job is gone"),
    };
    browser
        .goto(&format!("{}/customers/{account}", world.base()))
        .await;
    let alert = "Gate code changed: ask the office";
    browser.fill("form#alert input[name=text]", alert).await;
    browser.click("form#alert button[type=submit]").await;
    browser
        .wait_for_text("#alerts .alert", |t| t.contains(alert))
        .await;

    // Link the first contact to the first site.
    browser.click("li.contact details.edit summary").await;
    browser
        .click("li.contact form.edit-contact input[name=sites]")
        .await;
    browser
        .click("li.contact form.edit-contact button[type=submit]")
        .await;
    browser
        .wait_for_text("li.contact", |t| t.contains("Contact for:"))
        .await;
    world
        .screenshot(&browser, "office-customer-records.png")
        .await;

    browser.goto(&format!("{}/jobs/{job}", world.base())).await;
    browser
        .wait_for_text("#alerts", |t| t.contains(alert))
        .await;

    // Removed on the customer page, it is gone from both.
    browser
        .goto(&format!("{}/customers/{account}", world.base()))
        .await;
    browser.click("#alerts .alert button.remove-alert").await;
    browser
        .wait_until("the alert to go", async || {
            (browser.count("#alerts .alert").await == 0).then_some(())
        })
        .await;

    // A call logged on the customer page shows there and in the contact report.
    let call = "Called about the new gate code";
    browser
        .fill("form#log-contact textarea[name=summary]", call)
        .await;
    browser.click("form#log-contact button[type=submit]").await;
    browser
        .wait_for_text("#contact-log", |t| t.contains(call))
        .await;
    browser.click("nav a[href='/reports/contacts']").await;
    browser
        .wait_for_text("#contacts", |t| t.contains(call))
        .await;
    let csv = browser
        .run("return document.querySelector('#contacts-csv').getAttribute('href');")
        .await;
    assert!(
        csv.as_str()
            .is_some_and(|href| href.starts_with("/reports/contacts.csv?from=")),
        "{csv}"
    );
    browser.close().await;
}

#[tokio::test]
async fn custom_fields_are_defined_in_settings_and_filled_in_on_the_customer_page() {
    let world = world().await;
    let browser = world.signed_in_browser().await;
    browser
        .goto(&format!("{}/settings/custom-fields", world.base()))
        .await;
    browser.wait_for("form#add-field").await;
    // The demo company's fields are listed; a new one is added.
    browser
        .wait_for_text("#custom-field-list", |t| t.contains("Dog on site"))
        .await;
    browser
        .fill("form#add-field input[name=name]", "Roof access")
        .await;
    browser
        .run("document.querySelector('form#add-field select[name=kind]').value = 'choice';")
        .await;
    browser
        .fill(
            "form#add-field textarea[name=choices]",
            "Ladder\nHatch\nNone",
        )
        .await;
    browser.click("form#add-field button[type=submit]").await;
    browser
        .wait_for_text("#custom-field-list", |t| t.contains("Ladder, Hatch, None"))
        .await;
    // A second field of the same name is refused, with the reason on the page.
    browser
        .fill("form#add-field input[name=name]", "Gate code")
        .await;
    browser.click("form#add-field button[type=submit]").await;
    browser
        .wait_for_text("p.error", |t| t.contains("already a custom field"))
        .await;

    // The customer page has a form with an input of the right kind for each.
    let account = world.billed.0;
    browser
        .goto(&format!("{}/customers/{account}", world.base()))
        .await;
    browser.wait_for("form#custom-fields").await;
    let kinds = browser
        .run(
            "return [...document.querySelectorAll('form#custom-fields [name^=\"field:\"]')]
                .map(e => e.name + '=' + (e.type || e.tagName));",
        )
        .await;
    assert_eq!(
        kinds,
        serde_json::json!([
            "field:Gate code=text",
            "field:Main equipment=select-one",
            "field:Dog on site=select-one",
            "field:Warranty until=date",
            "field:Units serviced=number",
            "field:Roof access=select-one"
        ])
    );
    browser
        .fill(
            "form#custom-fields input[name='field:Gate code']",
            "Side gate 2580#",
        )
        .await;
    browser
        .run(
            "document.querySelector(\"form#custom-fields select[name='field:Roof access']\").value = 'Hatch';
             document.querySelector(\"form#custom-fields select[name='field:Dog on site']\").value = 'yes';",
        )
        .await;
    browser
        .click("form#custom-fields button[type=submit]")
        .await;
    browser
        .wait_for_text(".facts", |t| {
            t.contains("Side gate 2580#") && t.contains("Hatch") && t.contains("Yes")
        })
        .await;
    let store = Store::open(world.server.db_path()).unwrap();
    let Some(fieldsync_protocol::Record::Account(doc)) = store.record(account.into()).unwrap()
    else {
        panic!("the customer is there");
    };
    assert_eq!(doc.record.custom_fields["Dog on site"], "yes");
    assert_eq!(doc.record.custom_fields["Roof access"], "Hatch");
    assert_eq!(doc.record.custom_fields["Gate code"], "Side gate 2580#");
}

#[tokio::test]
async fn a_file_is_uploaded_to_a_site_downloaded_and_removed_from_the_customer_page() {
    let world = world().await;
    let browser = world.signed_in_browser().await;
    let account = world.billed.0;
    browser
        .goto(&format!("{}/customers/{account}", world.base()))
        .await;
    browser.wait_for("form#upload-file").await;
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("Roof plan.pdf");
    std::fs::write(&plan, "%PDF-1.4 roof plan, ladder on the north side").unwrap();
    browser
        .attach("form#upload-file input[name=file]", &plan)
        .await;
    // On the first site.
    let site = browser
        .run("return document.querySelector('form#upload-file select[name=site] option:nth-child(2)').value;")
        .await;
    let site = site.as_str().unwrap().to_string();
    browser
        .select("form#upload-file select[name=site]", &site)
        .await;
    browser.click("form#upload-file button[type=submit]").await;
    let listed = browser
        .wait_for_text("#files li.file", |t| t.contains("Roof plan.pdf"))
        .await;
    assert!(listed.contains("at "), "{listed}");
    let downloaded = browser
        .run(
            "const a = document.querySelector('#files li.file a');
             const x = new XMLHttpRequest(); x.open('GET', a.href, false); x.send();
             return [x.status, x.getResponseHeader('content-type'), x.responseText];",
        )
        .await;
    assert_eq!(
        downloaded,
        serde_json::json!([
            200,
            "application/pdf",
            "%PDF-1.4 roof plan, ladder on the north side"
        ])
    );
    world
        .screenshot(&browser, "office-customer-files.png")
        .await;
    browser.click("#files li.file button.remove-file").await;
    browser
        .wait_for_text("#files", |t| t.contains("No files yet"))
        .await;
}

#[tokio::test]
async fn customer_and_job_pages_fit_a_tablets_browser_and_print_as_a_clean_record() {
    let world = world().await;
    let browser = world.signed_in_browser().await;
    let (account, _, _) = world.billed;
    let pages = [
        format!("{}/customers/{account}", world.base()),
        format!("{}/jobs/{}", world.base(), world.rich_job),
        format!("{}/", world.base()),
    ];
    // A tablet's browser, upright and on its side, and a small laptop: nothing runs off the
    // right edge, and the menu stays on screen.
    for (width, height) in [(768, 1024), (1024, 768), (1280, 800)] {
        browser.resize(width, height).await;
        for page in &pages {
            browser.goto(page).await;
            browser.wait_for("main h1").await;
            let overflow = browser
                .run("return document.documentElement.scrollWidth - window.innerWidth;")
                .await;
            assert!(
                overflow.as_i64().unwrap() <= 0,
                "{page} at {width}×{height} is {overflow} px too wide"
            );
            let menu = browser
                .run(
                    "return Array.from(document.querySelectorAll('header.top nav a')).every(a => { \
                     const r = a.getBoundingClientRect(); \
                     return r.width > 0 && r.right <= window.innerWidth; });",
                )
                .await;
            assert_eq!(
                menu,
                serde_json::json!(true),
                "{page} at {width}×{height}: the menu fits"
            );
        }
    }

    // Printed, a customer or a job is its record: no menu, forms or buttons, white paper.
    browser.resize(1280, 900).await;
    let shown = |css: &str| {
        format!(
            "return Array.from(document.querySelectorAll({css:?})).filter(e => e.getClientRects().length > 0).length;"
        )
    };
    for page in &pages[..2] {
        browser.goto(page).await;
        let title = browser.wait_for_text("main h1", |t| !t.is_empty()).await;
        assert!(browser.run(&shown("main form")).await.as_u64().unwrap() > 0);
        browser.emulate_media("print").await;
        for hidden in ["header.top", "main form", "[data-print]", "details"] {
            assert_eq!(
                browser.run(&shown(hidden)).await,
                serde_json::json!(0),
                "{page}: {hidden} is not printed"
            );
        }
        assert_eq!(browser.run(&shown("main h1")).await, serde_json::json!(1));
        assert_eq!(
            browser.text("main h1").await.as_deref(),
            Some(title.as_str())
        );
        assert!(browser.run(&shown("main .card")).await.as_u64().unwrap() > 1);
        assert_eq!(
            browser
                .run("return getComputedStyle(document.body).backgroundColor;")
                .await,
            serde_json::json!("rgb(255, 255, 255)")
        );
        browser.emulate_media("").await;
        // The page's Print button opens the browser's print dialog.
        browser
            .run("window.printed = 0; window.print = function () { window.printed += 1; };")
            .await;
        browser.click("[data-print]").await;
        assert_eq!(
            browser.run("return window.printed;").await,
            serde_json::json!(1)
        );
    }
    browser.close().await;
}
