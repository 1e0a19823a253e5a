//! Records kept up to date for years, end to end: jobs edited in the office while the
//! technician records materials offline, the job lifecycle and its system notes, sites and
//! contacts edited and archived, alerts that reach the tablet, and site notes written on the
//! tablet that every later visit to the site shows. The real server on 127.0.0.1:0 over a real
//! SQLite file with the demo company, the office JSON API over HTTP, and the tablet core on
//! its own SQLite file syncing over the real `/sync` WebSocket.

use std::time::Duration;

use fieldsync_app::{Tablet, queries};
use fieldsync_protocol::{AccountId, Author, JobId, JobStatus, NoteKind, Timestamp, UserId};
use fieldsync_tests::office::{DAY, DemoOffice, Technician};
use fieldsync_tests::sync_client::SyncClient;
use serde_json::{Value, json};

type Office = DemoOffice;

async fn office() -> Office {
    DemoOffice::start(&[]).await
}

fn now() -> Timestamp {
    Timestamp(chrono::Utc::now())
}

fn text(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not text"))
}

/// What these tests do with the demo office.
trait Records {
    async fn assigned_job(&self) -> (JobId, AccountId, Tablet, String);
    async fn sync(&self, tablet: &mut Tablet, token: &str);
    async fn job(&self, id: impl std::fmt::Display) -> Value;
    async fn put(&self, path: &str, body: Value) -> (u16, Value);
}

impl Records for Office {
    /// A scheduled job of `DAY` assigned to a technician, that technician's tablet (synced),
    /// and the technician's token.
    async fn assigned_job(&self) -> (JobId, AccountId, Tablet, String) {
        let jobs = self.dana.ok(&format!("/api/jobs?day={DAY}")).await;
        let row = jobs["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| {
                r["job"]["status"] == "scheduled"
                    && r["job"]["technicians"].as_object().unwrap().len() == 1
            })
            .expect("a scheduled job with one technician")
            .clone();
        let user: UserId = row["job"]["technicians"]
            .as_object()
            .unwrap()
            .keys()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let Technician { name, token, .. } = self
            .technicians
            .iter()
            .find(|t| t.user == user)
            .unwrap()
            .clone();
        let mut tablet = Tablet::open(
            &self.dir.path().join(format!("{name}.sqlite3")),
            Author { user, name },
        )
        .unwrap();
        SyncClient::sync(self.server.addr(), &token, &mut tablet)
            .await
            .close()
            .await;
        (
            text(&row["job"]["id"]).parse().unwrap(),
            text(&row["job"]["account"]).parse().unwrap(),
            tablet,
            token,
        )
    }

    async fn sync(&self, tablet: &mut Tablet, token: &str) {
        tokio::time::timeout(
            Duration::from_secs(30),
            SyncClient::sync(self.server.addr(), token, tablet),
        )
        .await
        .expect("the sync finishes")
        .close()
        .await;
    }

    async fn job(&self, id: impl std::fmt::Display) -> Value {
        self.dana.ok(&format!("/api/jobs/{id}")).await
    }

    async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.dana.call(reqwest::Method::PUT, path, Some(body)).await
    }
}

/// The tablet of the technician whose device token is `token`, paired with the office's
/// server for real (in a replica file `file`), as the app is: it syncs with the app's own
/// network code, which also keeps what the server says when it connects.
fn paired_tablet(
    office: &Office,
    token: &str,
    file: &str,
) -> (
    fieldsync_app::net::SharedTablet,
    fieldsync_app::net::SyncLimits,
) {
    use fieldsync_app::net;
    let user = office
        .technicians
        .iter()
        .find(|t| t.token == token)
        .unwrap()
        .clone();
    let tablet = Tablet::pair(
        &office.dir.path().join(file),
        &office.server.url(""),
        token,
        Author {
            user: user.user,
            name: user.name,
        },
    )
    .unwrap();
    let limits = net::SyncLimits {
        timeout: Duration::from_secs(20),
        backoff: net::Backoff::new(Duration::from_millis(100), Duration::from_millis(500)),
    };
    (net::shared(tablet), limits)
}

/// The texts of a job's system notes, as the office reads them.
fn system_notes(detail: &Value) -> Vec<String> {
    detail["notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "system")
        .map(|n| {
            assert_eq!(n["author_name"], "System");
            text(&n["text"]).to_string()
        })
        .collect()
}

#[tokio::test]
async fn the_office_edits_a_job_while_the_technician_records_materials_offline_and_both_stand() {
    let office = office().await;
    let (job, _, mut tablet, token) = office.assigned_job().await;

    // Offline on site: on the way, then what was used and what it came to.
    tablet
        .set_job_status(now(), job, JobStatus::EnRoute)
        .unwrap();
    let materials = fieldsync_protocol::validate::parse_materials("2 x Gasket\nFlue seal").unwrap();
    tablet
        .record_job_costs(now(), job, materials, Some("212.50".parse().unwrap()))
        .unwrap();

    // Meanwhile the office reschedules it, renames it and adds a pickup address and contact.
    let detail = office.job(job).await;
    let contact = text(&detail["contacts"][0]["id"]).to_string();
    let edit = json!({
        "title": "Boiler service and flue check",
        "requested_services": "Annual service\nFlue check",
        "day": DAY, "start": "13:00", "end": "15:30",
        "estimate": "260.00",
        "pickup_address": "12 Oak St, Eugene, OR 97401",
        "contact": contact,
    });
    let (status, body) = office.put(&format!("/api/jobs/{job}"), edit.clone()).await;
    assert_eq!(status, 200, "{body}");

    office.sync(&mut tablet, &token).await;
    let detail = office.job(job).await;
    let stored = &detail["row"]["job"];
    assert_eq!(stored["title"], "Boiler service and flue check");
    assert_eq!(stored["estimate"], "260.00");
    assert_eq!(stored["pickup_address"]["city"], "Eugene");
    assert_eq!(stored["pickup_address"]["postal_code"], "97401");
    assert_eq!(stored["contact"], contact);
    assert_eq!(
        stored["status"], "en_route",
        "the technician's status stands"
    );
    assert_eq!(stored["final_amount"], "212.50");
    assert_eq!(
        stored["inventory"],
        json!([
            {"description": "Gasket", "quantity": "2"},
            {"description": "Flue seal", "quantity": "1"},
        ])
    );
    assert_eq!(
        detail["contacts"][0]["id"], contact,
        "the job's contact is listed first"
    );
    assert!(
        system_notes(&detail).contains(&"Status changed from Scheduled to En route.".into()),
        "{:?}",
        system_notes(&detail)
    );
    // The technician sees the office's edit.
    let packet = queries::job_packet(tablet.store(), job).unwrap();
    assert_eq!(packet.job.title, "Boiler service and flue check");
    assert_eq!(packet.job.inventory[0].description, "Gasket");

    // Bad input is refused with the reason, and nothing changes.
    for (field, value, reason) in [
        ("materials", "2 x", "says how many but not what"),
        ("materials", "-1 x Valve", "-1"),
        ("final_amount", "lots", "not an amount"),
        ("end", "12:00", "the end must be after the start"),
        ("pickup_address", "Oak St", "needs a street and a town"),
        (
            "contact",
            &uuid::Uuid::new_v4().to_string(),
            "current contacts",
        ),
        ("title", "  ", "title is required"),
    ] {
        let mut bad = edit.clone();
        bad[field] = json!(value);
        let (status, body) = office.put(&format!("/api/jobs/{job}"), bad).await;
        assert_eq!(status, 422, "{field}: {body}");
        assert!(body.to_string().contains(reason), "{field}: {body}");
    }
    assert_eq!(office.job(job).await["row"]["job"], detail["row"]["job"]);
}

#[tokio::test]
async fn status_changes_follow_the_lifecycle_and_leave_system_notes_nobody_can_type() {
    let office = office().await;
    let (job, _, mut tablet, token) = office.assigned_job().await;
    let status = |s: &str| json!({ "status": s });
    let refused = office
        .dana
        .refused(&format!("/api/jobs/{job}/status"), status("invoiced"), 422)
        .await;
    assert_eq!(
        refused,
        "a job that is scheduled cannot become invoiced; it can become En route, On site, \
         Completed, Lead, On hold, Cancelled"
    );
    office
        .dana
        .post_ok(&format!("/api/jobs/{job}/status"), status("on_hold"), 200)
        .await;
    // On the tablet, a held job may be picked up again but not completed.
    office.sync(&mut tablet, &token).await;
    let err = tablet
        .set_job_status(now(), job, JobStatus::Completed)
        .unwrap_err();
    assert!(err.to_string().contains("cannot become completed"), "{err}");
    tablet
        .set_job_status(now(), job, JobStatus::OnSite)
        .unwrap();
    office.sync(&mut tablet, &token).await;
    let detail = office.job(job).await;
    assert_eq!(
        system_notes(&detail),
        [
            "Status changed from Scheduled to On hold.",
            "Status changed from On hold to On site.",
        ]
    );
    let typed = office
        .dana
        .refused(
            "/api/notes",
            json!({"on": job.to_string(), "kind": "system", "text": "Invoice voided"}),
            422,
        )
        .await;
    assert!(typed.contains("written by the system"), "{typed}");
}

#[tokio::test]
async fn sites_and_contacts_are_edited_linked_and_archived_but_never_deleted() {
    let office = office().await;
    let dana = &office.dana;
    let account = dana
        .post_ok(
            "/api/accounts",
            json!({"name": "Quarry Co", "party": "business", "account_type": "customer",
                   "billing_line1": "12 Quarry Rd", "billing_city": "Bend",
                   "billing_region": "OR", "billing_postal_code": "97701"}),
            201,
        )
        .await;
    let account = text(&account["id"]).to_string();
    let site = |name: &str| json!({"name": name, "line1": "12 Quarry Rd", "city": "Bend", "postal_code": "97701"});
    let yard = dana
        .post_ok(&format!("/api/accounts/{account}/sites"), site("Yard"), 201)
        .await;
    let yard = text(&yard["id"]).to_string();
    let (status, body) = office
        .put(
            &format!("/api/sites/{yard}"),
            json!({"name": "North yard", "line1": "14 Quarry Rd", "city": "Bend",
                   "region": "OR", "postal_code": "97701", "access_instructions": "Gate code 4411"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let contact = |name: &str| json!({"name": name, "role": "Foreman", "phone": "+1 541 555 0199"});
    let ann = dana
        .post_ok(
            &format!("/api/accounts/{account}/contacts"),
            contact("Ann Abbot"),
            201,
        )
        .await;
    let zed = dana
        .post_ok(
            &format!("/api/accounts/{account}/contacts"),
            contact("Zed Zane"),
            201,
        )
        .await;
    let (ann, zed) = (text(&ann["id"]).to_string(), text(&zed["id"]).to_string());
    // Zed looks after the yard: he is listed first on the yard's jobs.
    let (status, body) = office
        .put(
            &format!("/api/accounts/{account}/contacts/{zed}"),
            json!({"name": "Zed Zane", "role": "Yard manager", "email": "zed@quarry.example",
                   "phone": "+1 541 555 0198", "sites": [yard]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let job = dana
        .post_ok(
            "/api/jobs",
            json!({"account": account, "site": yard, "title": "Conveyor check", "day": DAY,
                   "start": "09:00", "end": "10:00"}),
            201,
        )
        .await;
    let job = text(&job["id"]).to_string();
    let detail = office.job(&job).await;
    assert_eq!(detail["site"]["name"], "North yard");
    assert_eq!(detail["site"]["access_instructions"], "Gate code 4411");
    let names: Vec<&str> = detail["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| text(&c["name"]))
        .collect();
    assert_eq!(names, ["Zed Zane", "Ann Abbot"]);
    assert_eq!(detail["contacts"][0]["role"], "Yard manager");

    let (status, _) = office
        .put(
            &format!("/api/accounts/{account}/contacts/{}", uuid::Uuid::new_v4()),
            json!({"name": "Nobody"}),
        )
        .await;
    assert_eq!(status, 404, "a contact the customer does not have");
    // A contact linked to another customer's site is refused.
    let (status, body) = office
        .put(
            &format!("/api/accounts/{account}/contacts/{ann}"),
            json!({"name": "Ann Abbot", "sites": [uuid::Uuid::new_v4().to_string()]}),
        )
        .await;
    assert_eq!(status, 422, "{body}");

    // Ann leaves; the yard is sold. Both stay on the record, archived.
    let archive = json!({"archived": true});
    dana.post_ok(
        &format!("/api/accounts/{account}/contacts/{ann}/archive"),
        archive.clone(),
        200,
    )
    .await;
    dana.post_ok(&format!("/api/sites/{yard}/archive"), archive, 200)
        .await;
    let detail = office.job(&job).await;
    assert_eq!(detail["contacts"].as_array().unwrap().len(), 1);
    let customer = dana.ok(&format!("/api/accounts/{account}")).await;
    assert!(
        customer["contacts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == ann && c["archived_at"].is_string())
    );
    assert!(customer["sites"][0]["archived_at"].is_string());
    let refused = dana
        .refused(
            "/api/jobs",
            json!({"account": account, "site": yard, "title": "Another", "day": ""}),
            409,
        )
        .await;
    assert!(refused.contains("archived"), "{refused}");
    dana.post_ok(
        &format!("/api/sites/{yard}/archive"),
        json!({"archived": false}),
        200,
    )
    .await;
    dana.post_ok(
        "/api/jobs",
        json!({"account": account, "site": yard, "title": "Another", "day": ""}),
        201,
    )
    .await;
}

#[tokio::test]
async fn alerts_on_a_customer_and_a_site_reach_the_tablet_until_the_office_removes_them() {
    let office = office().await;
    let (job, account, mut tablet, token) = office.assigned_job().await;
    let site = text(&office.job(job).await["site"]["id"]).to_string();
    let on_account = office
        .dana
        .post_ok(
            &format!("/api/accounts/{account}/alerts"),
            json!({"text": "Pays by card only: no checks"}),
            201,
        )
        .await;
    office
        .dana
        .post_ok(
            &format!("/api/accounts/{account}/alerts"),
            json!({"text": "Dog in the yard: call before opening the gate", "site": site}),
            201,
        )
        .await;
    let detail = office.job(job).await;
    assert_eq!(detail["alerts"].as_array().unwrap().len(), 2);

    office.sync(&mut tablet, &token).await;
    let texts = |tablet: &Tablet| -> Vec<String> {
        queries::job_packet(tablet.store(), job)
            .unwrap()
            .alerts
            .into_iter()
            .map(|a| a.text)
            .collect()
    };
    assert_eq!(
        texts(&tablet),
        [
            "Pays by card only: no checks",
            "Dog in the yard: call before opening the gate"
        ]
    );
    let page = queries::customer_page(tablet.store(), account).unwrap();
    assert_eq!(page.alerts.len(), 2);

    let id = text(&on_account["id"]);
    let (status, body) = office
        .dana
        .call(
            reqwest::Method::DELETE,
            &format!("/api/accounts/{account}/alerts/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = office
        .dana
        .call(
            reqwest::Method::DELETE,
            &format!("/api/accounts/{account}/alerts/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 404, "an alert is removed once");
    office.sync(&mut tablet, &token).await;
    assert_eq!(
        texts(&tablet),
        ["Dog in the yard: call before opening the gate"]
    );
    let refused = office
        .dana
        .refused(
            &format!("/api/accounts/{account}/alerts"),
            json!({"text": "   "}),
            422,
        )
        .await;
    assert!(refused.contains("alert text"), "{refused}");
}

#[tokio::test]
async fn a_site_note_written_on_the_tablet_shows_on_every_later_visit_to_that_site() {
    let office = office().await;
    let (job, account, mut tablet, token) = office.assigned_job().await;
    tablet
        .add_job_note(
            now(),
            job,
            NoteKind::Site,
            "Stopcock is behind the boiler panel",
        )
        .unwrap();
    tablet
        .add_job_note(
            now(),
            job,
            NoteKind::ServicePerformed,
            "Serviced the boiler",
        )
        .unwrap();
    office.sync(&mut tablet, &token).await;

    let packet = queries::job_packet(tablet.store(), job).unwrap();
    assert!(
        packet
            .site_notes
            .iter()
            .any(|n| n.text == "Stopcock is behind the boiler panel")
    );
    assert!(packet.notes.iter().all(|n| n.kind != NoteKind::Site));

    // The office books the next visit there: it shows the note.
    let site = text(&office.job(job).await["site"]["id"]).to_string();
    let next = office
        .dana
        .post_ok(
            "/api/jobs",
            json!({"account": account.to_string(), "site": site, "title": "Next year's service",
                   "day": ""}),
            201,
        )
        .await;
    let next = office.job(text(&next["id"])).await;
    assert!(
        next["site_notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["text"] == "Stopcock is behind the boiler panel" && n["kind"] == "site"),
        "{}",
        next["site_notes"]
    );
}

#[tokio::test]
async fn the_office_and_the_tablet_find_a_customer_by_phone_however_typed_and_by_site_street() {
    let office = office().await;
    let (job, account, tablet, _) = office.assigned_job().await;
    let customer = office.dana.ok(&format!("/api/accounts/{account}")).await;
    let phone = text(&customer["account"]["phone"]).to_string();
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    // "+1 541 555 2041" typed as "555-2041" and as "(541) 555-2041".
    let local = format!("{}-{}", &digits[4..7], &digits[7..]);
    let area = format!("({}) {local}", &digits[1..4]);
    let street = text(&office.job(job).await["site"]["address"]["line1"]).to_string();
    for query in [local.as_str(), area.as_str(), street.as_str()] {
        let found = office
            .dana
            .ok(&format!("/api/accounts?q={}", urlencode(query)))
            .await;
        let ids: Vec<&str> = found["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| text(&a["id"]))
            .collect();
        assert!(
            ids.contains(&account.to_string().as_str()),
            "{query}: {found}"
        );
        let hits = queries::search(tablet.store(), query, 50).unwrap();
        assert!(
            hits.iter().any(|h| h.summary.id == account),
            "the tablet finds {query:?} offline"
        );
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn calls_and_visits_logged_in_the_office_and_on_the_tablet_make_the_contact_report() {
    let office = office().await;
    let (_, account, mut tablet, token) = office.assigned_job().await;
    let me = text(&office.dana.ok("/api/me").await["id"]).to_string();
    office
        .dana
        .post_ok(
            &format!("/api/accounts/{account}/contact-log"),
            json!({"channel": "call", "summary": "Confirmed Thursday's visit"}),
            201,
        )
        .await;
    let refused = office
        .dana
        .refused(
            &format!("/api/accounts/{account}/contact-log"),
            json!({"channel": "pigeon", "summary": "x"}),
            422,
        )
        .await;
    assert!(refused.contains("how"), "{refused}");
    let refused = office
        .dana
        .refused(
            &format!("/api/accounts/{account}/contact-log"),
            json!({"channel": "call", "summary": "x", "day": "2099-01-01"}),
            422,
        )
        .await;
    assert!(refused.contains("future"), "{refused}");
    // Offline on site: the technician logs the visit.
    tablet
        .log_contact(
            now(),
            account,
            fieldsync_protocol::ContactChannel::Visit,
            None,
            "Customer asked for a quote on a new boiler",
        )
        .unwrap();
    office.sync(&mut tablet, &token).await;

    let today = fieldsync_server::demo::today();
    let report = office
        .dana
        .ok(&format!(
            "/api/reports/contacts?from={today}&to={today}&customer={account}"
        ))
        .await;
    let lines: Vec<(String, String)> = report["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                text(&l["entry"]["channel"]).to_string(),
                text(&l["entry"]["summary"]).to_string(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("call".to_string(), "Confirmed Thursday's visit".to_string()),
            (
                "visit".to_string(),
                "Customer asked for a quote on a new boiler".to_string()
            ),
        ]
    );
    let dana_only = office
        .dana
        .ok(&format!(
            "/api/reports/contacts?from={today}&to={today}&user={me}"
        ))
        .await;
    assert_eq!(dana_only["lines"].as_array().unwrap().len(), 1);
    // A page at a time, with how many there are in all and where the next page starts.
    let page = async |offset: usize| {
        let path = format!(
            "/api/reports/contacts?from={today}&to={today}&customer={account}&limit=1&offset={offset}"
        );
        office.dana.ok(&path).await
    };
    let first = page(0).await;
    assert_eq!(first["total"], 2);
    assert_eq!(first["lines"].as_array().unwrap().len(), 1);
    assert_eq!(first["next"], 1);
    assert_eq!(first["previous"], Value::Null);
    let second = page(1).await;
    assert_eq!(text(&second["lines"][0]["entry"]["channel"]), "visit");
    assert_eq!(second["next"], Value::Null);
    assert_eq!(second["previous"], 0);
    let html = office
        .dana
        .page(&format!(
            "/reports/contacts?from={today}&to={today}&customer={account}&limit=1"
        ))
        .await;
    assert!(html.contains("Contacts 1–1 of 2"), "{html}");
    assert!(html.contains("offset=1\" rel=\"next\""), "{html}");
    let yesterday = today - chrono::Days::new(1);
    let before = office
        .dana
        .ok(&format!(
            "/api/reports/contacts?from={yesterday}&to={yesterday}"
        ))
        .await;
    assert!(before["lines"].as_array().unwrap().is_empty());

    // The CSV download, as the report page links it.
    let csv = office
        .dana
        .http()
        .get(office.server.url(&format!(
            "/reports/contacts.csv?from={today}&to={today}&customer={account}"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    let csv = csv.text().await.unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    // Times in the company's zone, which the heading names.
    assert_eq!(rows[0], "when (America/Chicago),customer,how,by,summary");
    assert_eq!(rows.len(), 3, "{csv}");
    assert!(
        rows[2].ends_with("Customer asked for a quote on a new boiler"),
        "{csv}"
    );
    // The customer page shows the log too.
    let customer = office.dana.ok(&format!("/api/accounts/{account}")).await;
    assert_eq!(customer["contact_log"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn custom_fields_defined_in_the_office_are_filled_in_on_the_tablet_offline_and_checked_by_type()
 {
    use fieldsync_app::net;
    let office = office().await;
    let names = |defs: &Value| -> Vec<String> {
        defs["custom_fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| text(&d["name"]).to_string())
            .collect()
    };
    let defs = office.dana.ok("/api/custom-fields").await;
    assert_eq!(
        names(&defs),
        [
            "Gate code",
            "Main equipment",
            "Dog on site",
            "Warranty until",
            "Units serviced"
        ]
    );
    // Definitions are checked, and a refusal says why.
    for (body, why) in [
        (
            json!({"name": "Roof access", "kind": "choice", "choices": ""}),
            "at least one choice",
        ),
        (json!({"name": "Gate code", "kind": "text"}), "already"),
        (
            json!({"name": "Colour", "kind": "colour"}),
            "type is one of",
        ),
        (json!({"name": "  ", "kind": "text"}), "name is required"),
    ] {
        let refused = office.dana.refused("/api/custom-fields", body, 422).await;
        assert!(refused.contains(why), "{why}: {refused}");
    }
    office
        .dana
        .post_ok(
            "/api/custom-fields",
            json!({"name": "Roof access", "kind": "choice", "choices": "Ladder, Hatch\nNone"}),
            201,
        )
        .await;

    // A technician's tablet, paired for real, learns them when it connects.
    let (job, account, _, token) = office.assigned_job().await;
    let (shared, limits) = paired_tablet(&office, &token, "paired.sqlite3");
    net::sync_until_caught_up(&shared, limits.clone())
        .await
        .unwrap();
    let defined = names(&office.dana.ok("/api/custom-fields").await);
    {
        let tablet = net::lock(&shared);
        let page = queries::customer_page(tablet.store(), account).unwrap();
        let shown: Vec<&str> = page.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(shown[..6], defined[..]);
        assert!(queries::job_packet(tablet.store(), job).is_ok());
    }

    // Offline, the technician fills in what they found; what does not fit its type is refused
    // on the tablet with the reason.
    {
        let mut tablet = net::lock(&shared);
        let refused = tablet
            .set_custom_field(now(), account, "Units serviced", "three")
            .unwrap_err();
        assert!(refused.to_string().contains("a number"), "{refused}");
        let refused = tablet
            .set_custom_field(now(), account, "Roof access", "Crane")
            .unwrap_err();
        assert!(
            refused.to_string().contains("Ladder, Hatch, None"),
            "{refused}"
        );
        let refused = tablet
            .set_custom_field(now(), account, "Favourite colour", "Blue")
            .unwrap_err();
        assert!(
            refused.to_string().contains("not one of the company's"),
            "{refused}"
        );
        tablet
            .set_custom_field(now(), account, "Dog on site", "Yes")
            .unwrap();
        tablet
            .set_custom_field(now(), account, "Roof access", "hatch")
            .unwrap();
        tablet
            .set_custom_field(now(), account, "Units serviced", "3.0")
            .unwrap();
    }
    // Meanwhile the office sets another field of the same customer.
    let (status, body) = office
        .put(
            &format!("/api/accounts/{account}/custom-fields"),
            json!({"Warranty until": "2027-01-31"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = office
        .put(
            &format!("/api/accounts/{account}/custom-fields"),
            json!({"Warranty until": "next spring"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        fieldsync_tests::api::error_of(&body).contains("a date"),
        "{body}"
    );

    // Back online: both stand, on the server and on the tablet.
    net::sync_until_caught_up(&shared, limits.clone())
        .await
        .unwrap();
    let on_server = office.dana.ok(&format!("/api/accounts/{account}")).await;
    let fields = &on_server["account"]["custom_fields"];
    assert_eq!(fields["Dog on site"], "yes", "{on_server}");
    assert_eq!(fields["Roof access"], "Hatch");
    assert_eq!(fields["Units serviced"], "3");
    assert_eq!(fields["Warranty until"], "2027-01-31");
    net::sync_until_caught_up(&shared, limits.clone())
        .await
        .unwrap();
    {
        let tablet = net::lock(&shared);
        let page = queries::customer_page(tablet.store(), account).unwrap();
        let value = |name: &str| {
            page.fields
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.shown())
                .unwrap()
        };
        assert_eq!(value("Dog on site"), "Yes");
        assert_eq!(value("Warranty until"), "2027-01-31");
        assert_eq!(tablet.pending().unwrap(), 0, "nothing refused or waiting");
    }

    // A field the office removes keeps its values, shown as no longer defined, and the next
    // connection tells the tablet.
    let (status, body) = office
        .dana
        .call(
            reqwest::Method::DELETE,
            "/api/custom-fields/Roof%20access",
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    net::sync_until_caught_up(&shared, limits).await.unwrap();
    let tablet = net::lock(&shared);
    let page = queries::customer_page(tablet.store(), account).unwrap();
    let roof = page
        .fields
        .iter()
        .find(|f| f.name == "Roof access")
        .unwrap();
    assert!(roof.def.is_none());
    assert_eq!(roof.value, "Hatch");
    assert_eq!(page.fields.last().unwrap().name, "Roof access");
}

#[tokio::test]
async fn a_customer_met_in_the_field_is_added_offline_with_its_site_and_job_and_the_office_sees_it()
{
    let office = office().await;
    let (_, _, mut tablet, token) = office.assigned_job().await;
    let me = tablet.author().user;
    let mut form = fieldsync_app::NewCustomerForm::new();
    form.name = "Rosa Delgado".into();
    form.phone = "(217) 555-0199".into();
    form.street = "88 Orchard Lane".into();
    form.city = "Springfield".into();
    form.region = "IL".into();
    form.job_title = "No heat: furnace igniter".into();
    // Offline: refused input says why, and nothing is made.
    let mut bad = form.clone();
    bad.street = " ".into();
    let refused = tablet.create_customer(now(), &bad).unwrap_err();
    assert!(refused.to_string().contains("street"), "{refused}");
    tablet.create_customer(now(), &form).unwrap();
    tablet.create_customer(now(), &form).unwrap(); // a second tap makes nothing more
    assert_eq!(
        tablet.pending().unwrap(),
        3,
        "account, site and job wait to be sent"
    );
    let packet = queries::job_packet(tablet.store(), form.job).unwrap();
    assert_eq!(packet.job.status, JobStatus::OnSite);

    office.sync(&mut tablet, &token).await;
    assert_eq!(tablet.pending().unwrap(), 0, "all three were taken");
    let account = office
        .dana
        .ok(&format!("/api/accounts/{}", form.account))
        .await;
    assert_eq!(account["account"]["name"], "Rosa Delgado");
    assert_eq!(account["sites"][0]["address"]["line1"], "88 Orchard Lane");
    let job = office.job(form.job).await;
    let assigned: Vec<&String> = job["row"]["job"]["technicians"]
        .as_object()
        .unwrap_or_else(|| panic!("{job}"))
        .keys()
        .collect();
    assert_eq!(assigned, [&me.to_string()]);
    let found = office.dana.ok("/api/accounts?q=555-0199").await;
    assert!(found.to_string().contains("Rosa Delgado"), "{found}");
    // The customer stays on the tablet: it is the technician's like any of their jobs'.
    office.sync(&mut tablet, &token).await;
    assert!(queries::customer_page(tablet.store(), form.account).is_ok());
    let store = fieldsync_store::Store::open(office.server.db_path()).unwrap();
    assert!(store.quarantined(10).unwrap().is_empty(), "nothing refused");
}

#[tokio::test]
async fn files_uploaded_in_the_office_open_on_the_tablet_offline_within_its_storage_budget() {
    use fieldsync_app::net;
    let office = office().await;
    let (job, account, _, token) = office.assigned_job().await;
    let site = text(&office.job(job).await["site"]["id"]).to_string();
    let upload = |name: &str, site: &str, bytes: Vec<u8>| {
        let url = office.server.url(&format!(
            "/api/accounts/{account}/files?name={}&site={site}",
            urlencode(name)
        ));
        let request = office.dana.http().post(url).body(bytes);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let plan: Vec<u8> = b"%PDF-1.4 site plan"
        .iter()
        .copied()
        .cycle()
        .take(40_000)
        .collect();
    let manual: Vec<u8> = (0..90_000u32).map(|i| (i % 251) as u8).collect();
    let (status, body) = upload("manual.xlsx", "", manual.clone()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["file"]["content_type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let (status, body) = upload("Site plan.pdf", &site, plan.clone()).await;
    assert_eq!(status, 201, "{body}");
    let plan_id: fieldsync_protocol::NoteId = text(&body["file"]["id"]).parse().unwrap();
    // Refused uploads say why.
    let (status, body) = upload("empty.txt", "", Vec::new()).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = upload("x.pdf", "not-a-site", plan.clone()).await;
    assert_eq!(status, 422, "{body}");
    // Just over the limit (read, then refused), and far over it (not even read).
    for size in [(16 << 20) + 1, 17 << 20] {
        let (status, body) = upload("huge.bin", "", vec![7; size]).await;
        assert_eq!(status, 422, "{body}");
        assert!(
            fieldsync_tests::api::error_of(&body).contains("larger than 16 MiB"),
            "{body}"
        );
    }

    // The technician's tablet, paired for real, downloads them with its sync.
    let (shared, limits) = paired_tablet(&office, &token, "files.sqlite3");
    // The first sync brings the records; the files come as soon as it has caught up.
    for _ in 0..3 {
        net::sync_until_caught_up(&shared, limits.clone())
            .await
            .unwrap();
    }
    {
        let tablet = net::lock(&shared);
        let packet = queries::job_packet(tablet.store(), job).unwrap();
        let files: Vec<(&str, bool)> = packet
            .files
            .iter()
            .map(|f| (f.file.name.as_str(), f.available))
            .collect();
        assert_eq!(
            files,
            [("Site plan.pdf", true), ("manual.xlsx", true)],
            "the job's site's first, both downloaded"
        );
        // Offline: the plan opens from the local copy, byte for byte.
        let path = tablet.open_file(account, plan_id).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), plan);
        assert!(path.ends_with("Site plan.pdf"), "{path:?}");
    }
    // Within a budget that holds only one, the current job's newest is kept and the other's
    // bytes are dropped (they come again when there is room).
    {
        let mut tablet = net::lock(&shared);
        let missing = tablet.keep_files(now(), 50_000).unwrap();
        assert!(missing.is_empty(), "{missing:?}");
        let packet = queries::job_packet(tablet.store(), job).unwrap();
        let available: Vec<(&str, bool)> = packet
            .files
            .iter()
            .map(|f| (f.file.name.as_str(), f.available))
            .collect();
        assert_eq!(available, [("Site plan.pdf", true), ("manual.xlsx", false)]);
        let manual_id = packet.files[1].file.id;
        let refused = tablet.open_file(account, manual_id).unwrap_err();
        assert!(
            refused.to_string().contains("not downloaded yet"),
            "{refused}"
        );
    }

    // The office removes the plan: it leaves the tablet's list with the next sync.
    let (status, body) = office
        .dana
        .call(
            reqwest::Method::DELETE,
            &format!("/api/accounts/{account}/files/{plan_id}?site={site}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    net::sync_until_caught_up(&shared, limits).await.unwrap();
    let tablet = net::lock(&shared);
    let packet = queries::job_packet(tablet.store(), job).unwrap();
    assert_eq!(packet.files.len(), 1);
    assert_eq!(packet.files[0].file.name, "manual.xlsx");
}

#[tokio::test]
async fn a_payment_taken_on_the_tablet_gets_its_system_note_once_on_every_replica() {
    let office = office().await;
    let (job, account, mut tablet, token) = office.assigned_job().await;
    let mut form = fieldsync_app::PaymentForm::new(account, Some(job));
    form.amount = "80.00".into();
    form.method = fieldsync_protocol::PaymentMethod::Check;
    form.reference = "2291".into();
    tablet.record_payment(now(), &form).unwrap();
    office.sync(&mut tablet, &token).await;
    let wanted = "Payment of $80.00 by check (2291) recorded.";
    // Written by the server once the payment is stored.
    let mut written = Vec::new();
    for _ in 0..100 {
        written = system_notes(&office.job(job).await);
        if written.iter().any(|t| t == wanted) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        written.iter().filter(|t| *t == wanted).count(),
        1,
        "{written:?}"
    );
    // The tablet gets it with its next sync; syncing again (the payment's change acknowledged
    // as already stored) writes no second one.
    office.sync(&mut tablet, &token).await;
    office.sync(&mut tablet, &token).await;
    let on_tablet: Vec<String> = tablet
        .store()
        .notes_for_doc(job.into())
        .unwrap()
        .into_iter()
        .filter(|n| n.kind == NoteKind::System)
        .map(|n| n.text)
        .collect();
    assert_eq!(
        on_tablet.iter().filter(|t| *t == wanted).count(),
        1,
        "{on_tablet:?}"
    );
    assert_eq!(
        system_notes(&office.job(job).await)
            .iter()
            .filter(|t| *t == wanted)
            .count(),
        1
    );
}

/// The server stopped after a tablet's payment was stored and before its system note was
/// written: the note is written at the next start (where the task got to is kept).
#[tokio::test]
async fn a_payment_stored_just_before_the_server_stopped_gets_its_note_at_the_next_start() {
    use fieldsync_store::Prechecked;
    use fieldsync_store::host::{DeviceContext, store_checked};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.sqlite3");
    let crew = fieldsync_tests::crew::seed(&db, now());
    let mut store = fieldsync_store::Store::open(&db).unwrap();
    let tess = store
        .devices()
        .unwrap()
        .into_iter()
        .find(|d| d.user.id == crew.tess.user)
        .unwrap();
    // The server had written the notes of everything so far...
    let tx = store.transaction().unwrap();
    tx.set_payment_notes_upto(tx.latest_seq().unwrap()).unwrap();
    tx.commit().unwrap();
    // ... then stored Tess's payment, and stopped before writing its note.
    let payment = fieldsync_protocol::Payment {
        id: fieldsync_protocol::PaymentId::new(),
        account: crew.account,
        job: Some(crew.job),
        invoice: None,
        amount: "80.00".parse().unwrap(),
        method: fieldsync_protocol::PaymentMethod::Check,
        reference: "2291".into(),
        received_at: now(),
        recorded_by: crew.tess.user,
        recorded_by_name: "tess".into(),
        credit_applied: Vec::new(),
    };
    let writer = crew.tess.writer();
    let record = fieldsync_protocol::Record::new_payment(payment.clone());
    let (_, change) = writer.create(&record, now()).unwrap();
    let device = DeviceContext::of_device(
        &store,
        tess.number,
        crew.tess.user,
        fieldsync_protocol::Role::Technician,
    )
    .unwrap();
    let pushed = vec![fieldsync_protocol::wire::DocData {
        doc: record.doc_id(),
        data: change.raw_bytes().to_vec(),
        attested: None,
    }];
    let tx = store.transaction().unwrap();
    let stored = store_checked(&tx, &device, Prechecked::new(pushed, device.pusher())).unwrap();
    tx.commit().unwrap();
    assert_eq!(stored, [fieldsync_protocol::engine::StoreOutcome::Stored]);
    drop(store);

    let server = fieldsync_tests::TestServer::start_with_db(&db)
        .await
        .unwrap();
    let wanted = fieldsync_protocol::system_notes::payment_note(&payment, payment.received_at);
    let mut found = false;
    for _ in 0..100 {
        let store = fieldsync_store::Store::open(&db).unwrap();
        found = store
            .notes_for_doc(crew.job.into())
            .unwrap()
            .iter()
            .any(|n| n.id == wanted.id && n.text == wanted.text);
        if found {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(found, "the note {:?} was written at the start", wanted.text);
    server.shutdown().await.unwrap();
}
