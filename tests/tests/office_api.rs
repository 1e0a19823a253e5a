//! The office JSON API end to end: the real server on 127.0.0.1:0 over a real SQLite file with
//! the demo company loaded, spoken to over real HTTP by a cookie-keeping client (reqwest), with
//! technicians' devices on the real `/sync` WebSocket where the office and the field meet.

use std::collections::BTreeSet;
use std::time::Duration;

use fieldsync_protocol::wire::ServerMessage;
use fieldsync_protocol::{AccountId, Author, DocId, JobId, JobStatus, Money, Role, UserId};
use fieldsync_store::Store;
use fieldsync_tests::api::{Api, error_of};
use fieldsync_tests::office::{DAY, DemoOffice};
use fieldsync_tests::sync_client::SyncClient;
use futures_util::StreamExt as _;
use reqwest::Method;
use serde_json::{Value, json};

/// Longest wait for anything the test waits on; it only bounds waits.
const PATIENCE: Duration = Duration::from_secs(15);

type Office = DemoOffice;

async fn office_with(extra: &[(&str, Role, &str)]) -> Office {
    DemoOffice::start(extra).await
}

async fn office() -> Office {
    office_with(&[]).await
}

/// What the office pages show, read through the API.
trait OfficeReads {
    async fn account(&self, id: &str) -> Value;
    async fn balance(&self, id: &str) -> Money;
    async fn account_names(&self, query: &str) -> BTreeSet<String>;
    async fn job(&self, id: &str) -> Value;
}

impl OfficeReads for Api {
    async fn account(&self, id: &str) -> Value {
        self.ok(&format!("/api/accounts/{id}")).await
    }

    async fn balance(&self, id: &str) -> Money {
        money(&self.account(id).await["balance"])
    }

    async fn account_names(&self, query: &str) -> BTreeSet<String> {
        let path = format!(
            "/api/accounts?q={}",
            query.replace(' ', "+").replace('@', "%40")
        );
        self.ok(&path).await["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap().to_string())
            .collect()
    }

    async fn job(&self, id: &str) -> Value {
        self.ok(&format!("/api/jobs/{id}")).await
    }
}

fn money(value: &Value) -> Money {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not an amount"))
        .parse()
        .unwrap()
}

fn text(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not text"))
}

/// The ids of a JSON list's items, at `key`.
fn ids(list: &Value, key: impl Fn(&Value) -> &Value) -> BTreeSet<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("{list} is not a list"))
        .iter()
        .map(|item| text(key(item)).to_string())
        .collect()
}

/// A new business account's form, with a billing address.
fn new_account(name: &str) -> Value {
    json!({
        "name": name,
        "party": "business",
        "account_type": "customer",
        "phone": "+1 541 555 0100",
        "email": "office@example.net",
        "billing_line1": "12 Quarry Rd",
        "billing_city": "Bend",
        "billing_region": "OR",
        "billing_postal_code": "97701",
    })
}

/// Creates an account with one site; returns (account id, site id).
async fn account_with_site(api: &Api, name: &str) -> (String, String) {
    let account = api.post_ok("/api/accounts", new_account(name), 201).await;
    let account = text(&account["id"]).to_string();
    let site = api
        .post_ok(
            &format!("/api/accounts/{account}/sites"),
            json!({"name": "Yard", "line1": "12 Quarry Rd", "city": "Bend", "postal_code": "97701"}),
            201,
        )
        .await;
    (account, text(&site["id"]).to_string())
}

/// Creates an unassigned job on `DAY` for the account and site; returns its id.
async fn new_job(api: &Api, account: &str, site: &str) -> String {
    let job = api
        .post_ok(
            "/api/jobs",
            json!({
                "account": account, "site": site, "title": "Gravel conveyor check",
                "requested_services": "Conveyor service\nBelt inspection",
                "day": DAY, "start": "09:00", "end": "10:30", "estimate": "240.00",
            }),
            201,
        )
        .await;
    text(&job["id"]).to_string()
}

/// The form of an existing account (as the edit page would fill it in).
fn form_of(account: &Value) -> Value {
    let field = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let billing = &account["billing_address"];
    json!({
        "name": field(&account["name"]),
        "party": field(&account["party"]),
        "account_type": field(&account["account_type"]),
        "status": field(&account["status"]),
        "number": field(&account["number"]),
        "phone": field(&account["phone"]),
        "email": field(&account["email"]),
        "website": field(&account["website"]),
        "business_type": field(&account["business_type"]),
        "terms_net_days": account["terms_net_days"].to_string(),
        "credit_hold": account["credit_hold"].as_bool().unwrap(),
        "billing_line1": field(&billing["line1"]),
        "billing_line2": field(&billing["line2"]),
        "billing_city": field(&billing["city"]),
        "billing_region": field(&billing["region"]),
        "billing_postal_code": field(&billing["postal_code"]),
        "billing_country": field(&billing["country"]),
        "comments": field(&account["comments"]),
    })
}

/// Non-void invoice totals less payments, computed here from the customer page's data.
fn balance_from_parts(detail: &Value) -> Money {
    let invoiced: Money = detail["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| row["status"] != "void")
        .map(|row| money(&row["total"]))
        .sum();
    let paid: Money = detail["payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| money(&p["amount"]))
        .sum();
    invoiced - paid
}

/// Every account's customer page.
async fn all_details(api: &Api) -> Vec<Value> {
    let list = api.ok("/api/accounts").await;
    let mut details = Vec::new();
    for id in ids(&list["accounts"], |a| &a["id"]) {
        details.push(api.account(&id).await);
    }
    details
}

fn count(detail: &Value, key: &str) -> usize {
    detail[key].as_array().unwrap().len()
}

#[tokio::test]
async fn signing_in_takes_an_office_password_and_every_route_needs_the_session() {
    let office = office_with(&[("tpass", Role::Technician, "tech-pass-1")]).await;
    let anonymous = office.anonymous();

    let wrong = anonymous
        .refused(
            "/api/login",
            json!({"name": "dana", "password": "dana-office-dem"}),
            401,
        )
        .await;
    let unknown = anonymous
        .refused(
            "/api/login",
            json!({"name": "nobody", "password": "dana-office-demo"}),
            401,
        )
        .await;
    assert_eq!(
        wrong, unknown,
        "a wrong name and a wrong password look alike"
    );
    let technician = anonymous
        .refused(
            "/api/login",
            json!({"name": "tpass", "password": "tech-pass-1"}),
            403,
        )
        .await;
    assert!(technician.contains("technicians"), "{technician}");
    anonymous
        .refused("/api/login", json!({"name": "dana"}), 422)
        .await;

    let me = office.dana.ok("/api/me").await;
    assert_eq!(
        (me["name"].as_str(), me["role"].as_str()),
        (Some("dana"), Some("office"))
    );
    let admin = Api::sign_in(&office.server, "admin", "admin-demo-pass").await;
    assert_eq!(admin.ok("/api/me").await["role"], "admin");

    // Real ids, so that a 401 cannot be a 404 in disguise.
    let account = text(&office.dana.ok("/api/accounts").await["accounts"][0]["id"]).to_string();
    let job = text(&office.dana.ok(&format!("/api/jobs?day={DAY}")).await["jobs"][0]["job"]["id"])
        .to_string();
    let routes = [
        (Method::GET, "/api/me".to_string()),
        (Method::GET, "/api/events".to_string()),
        (Method::GET, "/api/accounts".to_string()),
        (Method::GET, "/api/accounts?q=bakery".to_string()),
        (Method::POST, "/api/accounts".to_string()),
        (Method::GET, format!("/api/accounts/{account}")),
        (Method::PUT, format!("/api/accounts/{account}")),
        (Method::DELETE, format!("/api/accounts/{account}")),
        (Method::POST, format!("/api/accounts/{account}/merge")),
        (Method::POST, format!("/api/accounts/{account}/sites")),
        (Method::POST, format!("/api/accounts/{account}/contacts")),
        (Method::GET, "/api/technicians".to_string()),
        (Method::GET, "/api/board".to_string()),
        (Method::GET, format!("/api/jobs?day={DAY}")),
        (Method::POST, "/api/jobs".to_string()),
        (Method::GET, format!("/api/jobs/{job}")),
        (Method::POST, format!("/api/jobs/{job}/assign")),
        (Method::POST, format!("/api/jobs/{job}/status")),
        (Method::POST, format!("/api/jobs/{job}/invoices")),
        (
            Method::POST,
            format!("/api/jobs/{job}/invoices/{}/void", uuid::Uuid::new_v4()),
        ),
        (Method::POST, "/api/notes".to_string()),
        (Method::POST, "/api/payments".to_string()),
    ];
    let forged = reqwest::Client::new();
    for (method, path) in &routes {
        let body = (*method != Method::GET).then(|| json!({}));
        let (status, answer) = anonymous.call(method.clone(), path, body).await;
        assert_eq!(status, 401, "{method} {path} without a session: {answer}");
        error_of(&answer);
        let response = forged
            .request(method.clone(), office.server.url(path))
            .header("Cookie", "fieldsync_session=bm90LWEtc2Vzc2lvbg")
            .timeout(PATIENCE)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            401,
            "{method} {path} with a forged cookie"
        );
    }

    // Signing out ends the session.
    office.dana.post_ok("/api/logout", json!({}), 200).await;
    let (status, _) = office.dana.get("/api/accounts").await;
    assert_eq!(status, 401);
    assert_eq!(
        admin.ok("/api/me").await["name"],
        "admin",
        "other sessions live on"
    );
}

#[tokio::test]
async fn accounts_are_found_by_any_part_of_name_type_contact_name_or_email() {
    let office = office().await;
    let dana = &office.dana;
    let all = dana.ok("/api/accounts").await["accounts"].clone();
    assert_eq!(all.as_array().unwrap().len(), 50);

    assert_eq!(
        dana.account_names("bakery").await,
        BTreeSet::from(["Harbor Bakery".to_string()])
    );
    let harbor = dana.account_names("HARBOR").await;
    assert!(
        harbor.contains("Harbor Bakery") && harbor.contains("Harborview Marina"),
        "{harbor:?}"
    );
    let prospects: BTreeSet<String> = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["account_type"] == "prospect")
        .map(|a| text(&a["name"]).to_string())
        .collect();
    assert!(!prospects.is_empty() && prospects.len() < 50);
    assert_eq!(dana.account_names("prospect").await, prospects);

    // A contact with a name and an email found nowhere else.
    let quarry = text(
        &dana
            .post_ok("/api/accounts", new_account("Basalt Works"), 201)
            .await["id"],
    )
    .to_string();
    dana.post_ok(
        &format!("/api/accounts/{quarry}/contacts"),
        json!({"name": "Zelda Quarrington", "role": "Owner", "email": "zq@lavafield.example"}),
        201,
    )
    .await;
    let only = BTreeSet::from(["Basalt Works".to_string()]);
    assert_eq!(dana.account_names("quarring").await, only);
    assert_eq!(dana.account_names("zq@lavafield").await, only);
    assert_eq!(dana.account_names("lavafield zelda").await, only);
    assert!(
        dana.account_names("no-such-account-anywhere")
            .await
            .is_empty()
    );
    let refused = dana
        .refused(
            &format!("/api/accounts/{quarry}/contacts"),
            json!({"name": "No Mail", "email": "not-an-address"}),
            422,
        )
        .await;
    assert!(refused.contains("email"), "{refused}");
}

#[tokio::test]
async fn a_customer_page_has_sites_contacts_jobs_invoices_payments_balance_and_change_log() {
    let office = office().await;
    let details = all_details(&office.dana).await;
    let detail = details
        .iter()
        .find(|d| count(d, "invoices") > 0 && count(d, "payments") > 0 && count(d, "jobs") > 0)
        .expect("a demo account with jobs, invoices and payments");
    assert!(
        count(detail, "sites") > 0 && count(detail, "contacts") > 0,
        "{detail}"
    );
    for job in detail["jobs"].as_array().unwrap() {
        assert_eq!(job["account"], detail["account"]["id"]);
    }
    let sites = ids(&detail["sites"], |s| &s["id"]);
    for job in detail["jobs"].as_array().unwrap() {
        assert!(sites.contains(text(&job["site"])), "{job}");
    }
    let jobs = ids(&detail["jobs"], |j| &j["id"]);
    for row in detail["invoices"].as_array().unwrap() {
        assert!(jobs.contains(text(&row["invoice"]["job"])), "{row}");
    }
    for payment in detail["payments"].as_array().unwrap() {
        assert_eq!(payment["account"], detail["account"]["id"]);
    }
    assert_eq!(money(&detail["balance"]), balance_from_parts(detail));
    // A page of the change log, empty until someone edits the account (see the next test).
    assert!(detail["change_log"].is_array(), "{detail}");
    assert!(
        details.iter().any(|d| money(&d["balance"]) != Money::ZERO),
        "the demo has open balances"
    );

    let (status, missing) = office
        .dana
        .get(&format!("/api/accounts/{}", uuid::Uuid::new_v4()))
        .await;
    assert_eq!(status, 404, "{missing}");
    assert!(error_of(&missing).contains("account"));
    let (status, bad) = office.dana.get("/api/accounts/not-an-id").await;
    assert_eq!(status, 422, "{bad}");
    error_of(&bad);
}

#[tokio::test]
async fn accounts_are_created_and_edited_with_clear_errors() {
    let office = office().await;
    let dana = &office.dana;
    let created = dana
        .post_ok("/api/accounts", new_account("Basalt Works"), 201)
        .await;
    let id = text(&created["id"]).to_string();
    let detail = dana.account(&id).await;
    assert_eq!(detail["account"]["name"], "Basalt Works");
    assert_eq!(detail["account"]["billing_address"]["city"], "Bend");
    assert!(text(&detail["account"]["number"]).starts_with("C-"));
    assert_eq!(money(&detail["balance"]), Money::ZERO);
    assert!(dana.account_names("basalt").await.contains("Basalt Works"));

    let taken = dana
        .refused("/api/accounts", new_account("basalt works"), 409)
        .await;
    assert!(taken.contains("already exists"), "{taken}");
    let taken = dana
        .refused("/api/accounts", new_account("Harbor Bakery"), 409)
        .await;
    assert!(taken.contains("Harbor Bakery"), "{taken}");
    let mut no_billing = new_account("Pumice Partners");
    for field in [
        "billing_line1",
        "billing_city",
        "billing_region",
        "billing_postal_code",
    ] {
        no_billing.as_object_mut().unwrap().remove(field);
    }
    let missing = dana.refused("/api/accounts", no_billing, 422).await;
    assert!(missing.contains("billing"), "{missing}");
    let mut bad_email = new_account("Pumice Partners");
    bad_email["email"] = json!("pumice");
    let refused = dana.refused("/api/accounts", bad_email, 422).await;
    assert!(refused.contains("email"), "{refused}");
    assert!(
        dana.account_names("pumice").await.is_empty(),
        "nothing of a refused form is saved"
    );

    // Edit: the whole form, with a new phone and a credit hold.
    let mut form = form_of(&detail["account"]);
    form["phone"] = json!("+1 541 555 0199");
    form["credit_hold"] = json!(true);
    let (status, answer) = dana
        .call(
            Method::PUT,
            &format!("/api/accounts/{id}"),
            Some(form.clone()),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let edited = dana.account(&id).await;
    assert_eq!(edited["account"]["phone"], "+1 541 555 0199");
    assert_eq!(edited["account"]["credit_hold"], true);
    let entry = edited["change_log"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["field"] == "record.phone")
        .unwrap_or_else(|| panic!("no phone change in {}", edited["change_log"]));
    assert!(text(&entry["from"]).contains("0100"), "{entry}");
    assert!(text(&entry["to"]).contains("0199"), "{entry}");
    assert_eq!(entry["author"]["name"], "dana", "{entry}");

    // Renaming onto another account's name is refused and changes nothing.
    form["name"] = json!("Harbor Bakery");
    let (status, answer) = dana
        .call(Method::PUT, &format!("/api/accounts/{id}"), Some(form))
        .await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(dana.account(&id).await["account"]["name"], "Basalt Works");
}

#[tokio::test]
async fn the_change_log_comes_a_page_at_a_time_newest_first() {
    let office = office().await;
    let dana = &office.dana;
    let created = dana
        .post_ok("/api/accounts", new_account("Obsidian Supply"), 201)
        .await;
    let id = text(&created["id"]).to_string();
    let mut form = form_of(&dana.account(&id).await["account"]);
    for i in 0..45 {
        form["phone"] = json!(format!("+1 541 555 {i:04}"));
        let path = format!("/api/accounts/{id}");
        let (status, answer) = dana.call(Method::PUT, &path, Some(form.clone())).await;
        assert_eq!(status, 200, "{answer}");
    }
    let mut phones = Vec::new();
    let mut ids = Vec::new();
    let mut path = format!("/api/accounts/{id}");
    loop {
        let page = dana.ok(&path).await;
        let entries = page["change_log"].as_array().unwrap();
        assert!(entries.len() <= 30, "a page holds at most 30 entries");
        for entry in entries {
            ids.push(entry["id"].as_i64().unwrap());
            if entry["field"] == "record.phone" {
                phones.push(text(&entry["to"]).to_string());
            }
        }
        match page["change_log_more"].as_i64() {
            Some(more) => path = format!("/api/accounts/{id}?changes_before={more}"),
            None => break,
        }
    }
    assert!(
        ids.windows(2).all(|w| w[0] > w[1]),
        "newest first, no repeats: {ids:?}"
    );
    let expected: Vec<String> = (0..45)
        .rev()
        .map(|i| format!("+1 541 555 {i:04}"))
        .collect();
    assert_eq!(phones, expected);
}

#[tokio::test]
async fn a_job_with_many_notes_shows_them_a_page_at_a_time_newest_first() {
    let office = office().await;
    let dana = &office.dana;
    let job =
        text(&dana.ok(&format!("/api/jobs?day={DAY}")).await["jobs"][0]["job"]["id"]).to_string();
    let already = dana.job(&job).await["notes_shown"]["total"]
        .as_u64()
        .unwrap() as usize;
    for i in 0..60 {
        let note = json!({"on": job, "kind": "service_performed", "text": format!("Visit {i}")});
        dana.post_ok("/api/notes", note, 201).await;
    }
    let total = already + 60;
    let mut seen: Vec<(chrono::DateTime<chrono::FixedOffset>, String)> = Vec::new();
    let mut path = format!("/api/jobs/{job}");
    loop {
        let detail = dana.ok(&path).await;
        let shown = &detail["notes_shown"];
        assert_eq!(shown["total"].as_u64().unwrap() as usize, total);
        let page: Vec<_> = detail["notes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                let at = chrono::DateTime::parse_from_rfc3339(text(&n["created_at"])).unwrap();
                (at, text(&n["text"]).to_string())
            })
            .collect();
        assert!(page.len() <= 50, "a page holds at most 50 notes");
        // A page is shown oldest first; pages go from the newest back.
        seen.splice(0..0, page);
        match shown["more"].as_u64() {
            Some(more) => path = format!("/api/jobs/{job}?notes_from={more}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), total, "every note, once");
    assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0), "in time order");
    let visits: BTreeSet<String> = seen
        .into_iter()
        .map(|(_, t)| t)
        .filter(|t| t.starts_with("Visit "))
        .collect();
    let expected: BTreeSet<String> = (0..60).map(|i| format!("Visit {i}")).collect();
    assert_eq!(visits, expected);
}

#[tokio::test]
async fn merging_moves_everything_to_the_target_and_adds_the_balances() {
    let office = office().await;
    let dana = &office.dana;
    let details = all_details(dana).await;
    let with_payments: Vec<&Value> = details
        .iter()
        .filter(|d| count(d, "jobs") > 0 && count(d, "payments") > 0)
        .collect();
    assert!(with_payments.len() >= 2);
    let (source, target) = (with_payments[0], with_payments[1]);
    let (source_id, target_id) = (
        text(&source["account"]["id"]),
        text(&target["account"]["id"]),
    );
    let expected = money(&source["balance"]) + money(&target["balance"]);

    dana.post_ok(
        &format!("/api/accounts/{source_id}/merge"),
        json!({"into": target_id}),
        200,
    )
    .await;
    let listed = ids(&dana.ok("/api/accounts").await["accounts"], |a| &a["id"]);
    assert!(!listed.contains(source_id) && listed.contains(target_id));
    assert!(
        !dana
            .account_names(text(&source["account"]["name"]))
            .await
            .contains(text(&source["account"]["name"])),
        "the merged account leaves search"
    );
    let merged = dana.account(target_id).await;
    for key in ["jobs", "payments", "invoices", "sites"] {
        let id_of = |v: &Value| -> String {
            text(if key == "invoices" {
                &v["invoice"]["id"]
            } else {
                &v["id"]
            })
            .to_string()
        };
        let now: BTreeSet<String> = merged[key].as_array().unwrap().iter().map(id_of).collect();
        for item in source[key]
            .as_array()
            .unwrap()
            .iter()
            .chain(target[key].as_array().unwrap())
        {
            assert!(
                now.contains(&id_of(item)),
                "{key} {} missing after the merge",
                id_of(item)
            );
        }
    }
    assert_eq!(money(&merged["balance"]), expected);
    assert_eq!(
        ids(&merged["merged"], |a| &a["id"]),
        BTreeSet::from([source_id.to_string()])
    );
    assert_eq!(
        dana.account(source_id).await["merged_into"]["id"],
        target["account"]["id"]
    );

    let again = dana
        .refused(
            &format!("/api/accounts/{source_id}/merge"),
            json!({"into": target_id}),
            409,
        )
        .await;
    assert!(again.contains("already merged"), "{again}");
    let itself = dana
        .refused(
            &format!("/api/accounts/{target_id}/merge"),
            json!({"into": target_id}),
            422,
        )
        .await;
    assert!(itself.contains("itself"), "{itself}");
}

#[tokio::test]
async fn deleting_is_refused_while_an_account_has_jobs_or_payments() {
    let office = office().await;
    let dana = &office.dana;
    let busy = dana.ok(&format!("/api/jobs?day={DAY}")).await["jobs"][0]["job"]["account"].clone();
    let busy = text(&busy).to_string();
    let (status, answer) = dana
        .call(Method::DELETE, &format!("/api/accounts/{busy}"), None)
        .await;
    assert_eq!(status, 409, "{answer}");
    let why = error_of(&answer);
    assert!(
        why.contains("cannot be deleted") && why.contains("job"),
        "{why}"
    );
    assert_eq!(dana.account(&busy).await["account"]["id"], busy.as_str());

    // Payments alone also keep an account.
    let paying = text(
        &dana
            .post_ok("/api/accounts", new_account("Cinder Cafe"), 201)
            .await["id"],
    )
    .to_string();
    dana.post_ok(
        "/api/payments",
        json!({"account": paying, "amount": "40.00", "method": "cash"}),
        201,
    )
    .await;
    let (status, answer) = dana
        .call(Method::DELETE, &format!("/api/accounts/{paying}"), None)
        .await;
    assert_eq!(status, 409, "{answer}");
    let why = error_of(&answer);
    assert!(why.contains("1 payment"), "{why}");

    let fresh = text(
        &dana
            .post_ok("/api/accounts", new_account("Obsidian Oddments"), 201)
            .await["id"],
    )
    .to_string();
    let (status, answer) = dana
        .call(Method::DELETE, &format!("/api/accounts/{fresh}"), None)
        .await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = dana.get(&format!("/api/accounts/{fresh}")).await;
    assert_eq!(status, 404, "{answer}");
    let listed = ids(&dana.ok("/api/accounts").await["accounts"], |a| &a["id"]);
    assert!(!listed.contains(&fresh) && listed.contains(&paying));
    assert!(dana.account_names("obsidian").await.is_empty());
    // Its name is free again.
    dana.post_ok("/api/accounts", new_account("Obsidian Oddments"), 201)
        .await;
}

#[tokio::test]
async fn jobs_are_listed_by_day_technician_and_status() {
    let office = office().await;
    let dana = &office.dana;
    let day = dana.ok(&format!("/api/jobs?day={DAY}")).await["jobs"].clone();
    let day_jobs = day.as_array().unwrap();
    assert!(day_jobs.len() >= 20, "{} jobs on {DAY}", day_jobs.len());
    for row in day_jobs {
        assert!(
            text(&row["job"]["scheduled_start"]).starts_with(DAY),
            "{row}"
        );
        assert!(!text(&row["account_name"]).is_empty(), "{row}");
    }
    let technicians = dana.ok("/api/technicians").await["technicians"].clone();
    assert_eq!(technicians.as_array().unwrap().len(), 5);

    // Every job of the day is in exactly the lists of its technicians, or unassigned.
    let mut seen = 0;
    for technician in &office.technicians {
        let path = format!("/api/jobs?day={DAY}&technician={}", technician.user);
        let theirs = dana.ok(&path).await["jobs"].clone();
        let theirs = theirs.as_array().unwrap();
        for row in theirs {
            assert!(
                ids(&row["technicians"], |p| &p["id"]).contains(&technician.user.to_string()),
                "{row}"
            );
        }
        seen += theirs.len();
    }
    let unassigned = day_jobs
        .iter()
        .filter(|r| r["job"]["technicians"] == json!({}))
        .count();
    assert!(seen > 0);
    assert_eq!(seen + unassigned, day_jobs.len());
    let board = dana.ok(&format!("/api/board?day={DAY}")).await;
    assert_eq!(board["unassigned"].as_array().unwrap().len(), unassigned);
    let on_board: usize = board["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["jobs"].as_array().unwrap().len())
        .sum();
    assert_eq!(on_board, seen);

    // Each status lists exactly the day's jobs of that status.
    let mut by_status = 0;
    for status in JobStatus::ALL {
        let path = format!("/api/jobs?day={DAY}&status={status}");
        let listed = dana.ok(&path).await["jobs"].clone();
        let expected = day_jobs
            .iter()
            .filter(|r| r["job"]["status"] == status.as_str())
            .count();
        assert_eq!(listed.as_array().unwrap().len(), expected, "{status}");
        by_status += expected;
    }
    assert_eq!(by_status, day_jobs.len());
    let sunday = dana.ok("/api/jobs?day=2026-11-29").await["jobs"].clone();
    assert!(sunday.as_array().unwrap().is_empty());
    for bad in ["day=tomorrow", "status=finished", "technician=tess"] {
        let (status, answer) = dana.get(&format!("/api/jobs?{bad}")).await;
        assert_eq!(status, 422, "{bad}: {answer}");
        error_of(&answer);
    }
}

/// Receives from a device's live connection until `done` holds for the documents received
/// (each `Changes`' documents, and evicted ones separately); every document must be in
/// `allowed`.
async fn follow_device(
    device: &mut SyncClient,
    allowed: &BTreeSet<DocId>,
    done: impl Fn(&BTreeSet<DocId>, &BTreeSet<DocId>) -> bool,
) {
    let (mut received, mut evicted) = (BTreeSet::new(), BTreeSet::new());
    while !done(&received, &evicted) {
        match device.recv().await.expect("the device stays connected") {
            ServerMessage::Changes { docs, .. } => {
                for data in docs {
                    assert!(
                        allowed.contains(&data.doc),
                        "{} is outside the scope",
                        data.doc
                    );
                    received.insert(data.doc);
                }
            }
            ServerMessage::Evict { docs } => evicted.extend(docs),
            _ => {}
        }
    }
}

#[tokio::test]
async fn a_job_created_and_assigned_in_the_office_reaches_the_technicians_tablet_live() {
    let office = office().await;
    let dana = &office.dana;
    let (account, site) = account_with_site(dana, "Basalt Works").await;
    let job = new_job(dana, &account, &site).await;
    let detail = dana.job(&job).await;
    assert_eq!(detail["row"]["job"]["status"], "scheduled");
    assert_eq!(
        detail["row"]["job"]["requested_services"],
        json!(["Conveyor service", "Belt inspection"])
    );
    assert_eq!(detail["row"]["site_name"], "Yard");
    // 09:00 in the demo company's zone (Chicago, six hours behind UTC in November).
    assert_eq!(
        text(&detail["row"]["job"]["scheduled_start"]),
        format!("{DAY}T15:00:00Z")
    );

    let refused = dana
        .refused(
            "/api/jobs",
            json!({"account": account, "site": site, "title": "Backwards", "day": DAY, "start": "11:00", "end": "10:00"}),
            422,
        )
        .await;
    assert!(refused.contains("after the start"), "{refused}");
    let bakery = dana.ok("/api/accounts?q=bakery").await;
    let bakery = dana.account(text(&bakery["accounts"][0]["id"])).await;
    let other_site = text(&bakery["sites"][0]["id"]).to_string();
    let refused = dana
        .refused(
            "/api/jobs",
            json!({"account": account, "site": other_site, "title": "Wrong site", "day": DAY, "start": "09:00", "end": "10:00"}),
            422,
        )
        .await;
    assert!(refused.contains("site"), "{refused}");

    // Tess's tablet is online and has none of Basalt Works.
    let tess = office.technician("tess");
    let mut device = SyncClient::connect(office.server.addr(), Some(&tess.token))
        .await
        .unwrap();
    device.hello().await;
    let expected: BTreeSet<DocId> = [
        account.parse::<AccountId>().unwrap().into(),
        DocId::from(site.parse::<fieldsync_protocol::SiteId>().unwrap()),
        job.parse::<JobId>().unwrap().into(),
    ]
    .into();

    dana.post_ok(
        &format!("/api/jobs/{job}/assign"),
        json!({"technicians": [tess.user.to_string()]}),
        200,
    )
    .await;
    follow_device(&mut device, &expected, |received, _| *received == expected).await;
    let on_board = dana
        .ok(&format!("/api/jobs?day={DAY}&technician={}", tess.user))
        .await;
    assert!(ids(&on_board["jobs"], |r| &r["job"]["id"]).contains(&job));

    // A status change reaches the tablet too.
    dana.post_ok(
        &format!("/api/jobs/{job}/status"),
        json!({"status": "en_route"}),
        200,
    )
    .await;
    let job_doc: DocId = job.parse::<JobId>().unwrap().into();
    follow_device(&mut device, &expected, |received, _| {
        received.contains(&job_doc)
    })
    .await;
    assert_eq!(dana.job(&job).await["row"]["job"]["status"], "en_route");
    let refused = dana
        .refused(
            &format!("/api/jobs/{job}/status"),
            json!({"status": "finished"}),
            422,
        )
        .await;
    assert!(refused.contains("finished"), "{refused}");
    let refused = dana
        .refused(
            &format!("/api/jobs/{job}/assign"),
            json!({"technicians": [office.dana_id().await]}),
            422,
        )
        .await;
    assert!(refused.contains("not a technician"), "{refused}");

    // Unassigned: the account leaves the tablet.
    dana.post_ok(
        &format!("/api/jobs/{job}/assign"),
        json!({"technicians": []}),
        200,
    )
    .await;
    follow_device(&mut device, &expected, |_, evicted| {
        expected.is_subset(evicted)
    })
    .await;
    device.close().await;
}

#[tokio::test]
async fn notes_are_added_with_their_author_and_bad_ones_are_refused() {
    let office = office().await;
    let dana = &office.dana;
    let job =
        text(&dana.ok(&format!("/api/jobs?day={DAY}")).await["jobs"][0]["job"]["id"]).to_string();
    let before = count(&dana.job(&job).await, "notes");
    let note = dana
        .post_ok(
            "/api/notes",
            json!({"on": job, "kind": "service_request", "text": "  Customer asks for a call 30 min ahead.  "}),
            201,
        )
        .await;
    let detail = dana.job(&job).await;
    assert_eq!(count(&detail, "notes"), before + 1);
    let added = detail["notes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == note["id"])
        .unwrap();
    assert_eq!(added["text"], "Customer asks for a call 30 min ahead.");
    assert_eq!(added["kind"], "service_request");
    assert_eq!(added["author_name"], "dana");

    let refused = dana
        .refused(
            "/api/notes",
            json!({"on": job, "kind": "gossip", "text": "x"}),
            422,
        )
        .await;
    assert!(refused.contains("note type"), "{refused}");
    let refused = dana
        .refused(
            "/api/notes",
            json!({"on": job, "kind": "private", "text": "   "}),
            422,
        )
        .await;
    assert!(refused.contains("required"), "{refused}");
    let missing = dana
        .refused(
            "/api/notes",
            json!({"on": uuid::Uuid::new_v4().to_string(), "kind": "private", "text": "x"}),
            404,
        )
        .await;
    assert!(missing.contains("not found"), "{missing}");
    assert_eq!(count(&dana.job(&job).await, "notes"), before + 1);
}

#[tokio::test]
async fn an_invoice_adds_its_lines_and_tax_and_voiding_it_takes_it_off_the_balance() {
    let office = office().await;
    let dana = &office.dana;
    let (account, site) = account_with_site(dana, "Basalt Works").await;
    let job = new_job(dana, &account, &site).await;
    let before = dana.balance(&account).await;

    let invoice = dana
        .post_ok(
            &format!("/api/jobs/{job}/invoices"),
            json!({
                "lines": [
                    {"description": "Labour", "quantity": "2", "unit_price": "85.00"},
                    {"description": "Belt", "quantity": "1", "unit_price": "42.50"},
                ],
                "tax_rate": "8.25",
            }),
            201,
        )
        .await;
    let invoice = text(&invoice["id"]).to_string();
    // 212.50 + 8.25 % tax (17.53125, rounded to 17.53) = 230.03.
    let total: Money = "230.03".parse().unwrap();
    let detail = dana.job(&job).await;
    let row = detail["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["invoice"]["id"] == invoice.as_str())
        .unwrap()
        .clone();
    assert_eq!(money(&row["total"]), total, "{row}");
    assert_eq!(row["status"], "pending");
    assert!(text(&row["invoice"]["number"]).starts_with("INV-"), "{row}");
    assert_eq!(dana.balance(&account).await, before + total);

    for (bad, what) in [
        (json!({"lines": []}), "at least one line"),
        (
            json!({"lines": [{"description": "Labour", "quantity": "2", "unit_price": "lots"}]}),
            "unit price",
        ),
        (
            json!({"lines": [{"description": "Labour", "unit_price": "10"}], "tax_rate": "much"}),
            "tax rate",
        ),
    ] {
        let refused = dana
            .refused(&format!("/api/jobs/{job}/invoices"), bad, 422)
            .await;
        assert!(refused.contains(what), "{refused}");
    }
    assert_eq!(
        count(&dana.job(&job).await, "invoices"),
        1,
        "nothing half-saved"
    );

    dana.post_ok(
        &format!("/api/jobs/{job}/invoices/{invoice}/void"),
        json!({"reason": "duplicate"}),
        200,
    )
    .await;
    let detail = dana.account(&account).await;
    let row = detail["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["invoice"]["id"] == invoice.as_str())
        .unwrap();
    assert_eq!(row["status"], "void");
    assert_eq!(row["invoice"]["voided"]["reason"], "duplicate");
    assert_eq!(money(&detail["balance"]), before);
    let missing = dana
        .refused(
            &format!("/api/jobs/{job}/invoices/{}/void", uuid::Uuid::new_v4()),
            json!({}),
            404,
        )
        .await;
    assert!(missing.contains("invoice"), "{missing}");
}

#[tokio::test]
async fn a_payment_is_an_exact_positive_amount_recorded_once_per_form() {
    let office = office().await;
    let dana = &office.dana;
    let details = all_details(dana).await;
    let detail = details
        .iter()
        .find(|d| count(d, "invoices") > 0)
        .expect("an account with invoices");
    let account = text(&detail["account"]["id"]).to_string();
    let before = money(&detail["balance"]);
    let payments_before = count(detail, "payments");

    for amount in ["-5.00", "0", "abc", "1.234", ""] {
        let refused = dana
            .refused(
                "/api/payments",
                json!({"account": account, "amount": amount, "method": "cash"}),
                422,
            )
            .await;
        assert!(!refused.is_empty(), "{amount}");
    }
    let refused = dana
        .refused(
            "/api/payments",
            json!({"account": account, "amount": "10.00", "method": "barter"}),
            422,
        )
        .await;
    assert!(refused.contains("method"), "{refused}");
    assert_eq!(dana.balance(&account).await, before, "nothing recorded");

    let form = uuid::Uuid::new_v4().to_string();
    let payment = json!({
        "id": form, "account": account, "amount": "25.50", "method": "card", "reference": "TXN-991",
    });
    let first = dana.post_ok("/api/payments", payment.clone(), 201).await;
    let second = dana.post_ok("/api/payments", payment, 201).await;
    assert_eq!(first["id"], second["id"]);
    let after = dana.account(&account).await;
    assert_eq!(
        count(&after, "payments"),
        payments_before + 1,
        "one payment for one form"
    );
    assert_eq!(
        money(&after["balance"]),
        before - "25.50".parse::<Money>().unwrap()
    );
    let recorded = after["payments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == form.as_str())
        .unwrap();
    assert_eq!(recorded["method"], "card");
    assert_eq!(recorded["reference"], "TXN-991");
    assert_eq!(recorded["recorded_by_name"], "dana");
}

#[tokio::test]
async fn the_event_stream_tells_the_office_when_a_tablet_pushes_a_change() {
    let office = office().await;
    // A job of the day on its way or booked, and the tablet of its technician.
    let jobs = office.dana.ok(&format!("/api/jobs?day={DAY}")).await["jobs"].clone();
    let row = jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            ["scheduled", "en_route"].contains(&text(&r["job"]["status"]))
                && !r["technicians"].as_array().unwrap().is_empty()
        })
        .expect("a job to start");
    let job: JobId = text(&row["job"]["id"]).parse().unwrap();
    let tess: UserId = text(&row["technicians"][0]["id"]).parse().unwrap();
    let tess = office.technicians.iter().find(|t| t.user == tess).unwrap();

    let events = office
        .dana
        .http()
        .get(office.server.url("/api/events"))
        .send();
    let events = tokio::time::timeout(PATIENCE, events)
        .await
        .expect("the event stream opens in time")
        .unwrap();
    assert_eq!(events.status(), 200);
    assert!(
        events.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut stream = events.bytes_stream();

    // The technician's tablet sets the job on site and pushes the change through the sync
    // protocol.
    let author = Author {
        user: tess.user,
        name: tess.name.clone(),
    };
    let device =
        SyncClient::push_job_status(&office.server, &tess.token, author, job, JobStatus::OnSite)
            .await;

    // The office hears of it on the stream: an event naming the job and its account.
    let account = office.dana.job(&job.to_string()).await["row"]["job"]["account"].clone();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut buffer = String::new();
    let event = 'found: loop {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("a change event in time")
            .expect("the stream stays open")
            .unwrap();
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let kind = block
                .lines()
                .find_map(|l| l.strip_prefix("event:"))
                .map(str::trim);
            let data: String = block
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim)
                .collect();
            if kind != Some("change") {
                continue;
            }
            let data: Value = serde_json::from_str(&data).unwrap();
            let names_job = data["changes"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["doc"] == job.to_string()));
            if names_job {
                break 'found data;
            }
        }
    };
    let entry = event["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["doc"] == job.to_string())
        .unwrap();
    assert_eq!(entry["account"], account, "{event}");
    assert!(event["seq"].as_u64().unwrap() > 0);
    assert_eq!(
        office.dana.job(&job.to_string()).await["row"]["job"]["status"],
        "on_site"
    );
    device.close().await;
}

/// A form posted from a page, as the browser sends it (with the session's form token); the
/// path the answer ended on (after redirects) and its body.
async fn post_form(office: &Office, path: &str, form: &[(&str, &str)]) -> (String, String) {
    let token = office.dana.form_token().await;
    let mut form = form.to_vec();
    form.push(("form_token", &token));
    let response = office
        .dana
        .http()
        .post(office.server.url(path))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    let landed = response.url().path().to_string();
    (landed, response.text().await.unwrap())
}

#[tokio::test]
async fn a_job_is_added_from_its_customers_page_and_assigned_on_the_board_by_name() {
    let office = office().await;
    let dana = &office.dana;
    let account = dana.ok("/api/accounts?q=").await["accounts"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let detail = dana.account(&account).await;
    let site = text(&detail["sites"][0]["id"]).to_string();
    let jobs_before = count(&detail, "jobs");
    let page = dana
        .http()
        .get(office.server.url(&format!("/customers/{account}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("id=\"new-job\""),
        "the customer page has the form"
    );
    assert!(
        page.contains(&format!("value=\"{account}:{site}\"")),
        "offering the customer's sites"
    );

    let place = format!("{account}:{site}");
    let back = format!("/customers/{account}");
    let (landed, _) = post_form(
        &office,
        "/jobs",
        &[
            ("back", back.as_str()),
            ("place", place.as_str()),
            ("title", "Leaking valve"),
            ("day", DAY),
            ("start", "13:00"),
            ("end", "14:00"),
        ],
    )
    .await;
    assert_eq!(landed, back, "back on the customer page");
    let detail = dana.account(&account).await;
    assert_eq!(count(&detail, "jobs"), jobs_before + 1);
    let job = detail["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["title"] == "Leaking valve")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    // On the board, by the technician's name (as the card's field offers them).
    let tess = office.technician("tess");
    let board = format!("/?day={DAY}");
    let (landed, html) = post_form(
        &office,
        &format!("/jobs/{job}/assign"),
        &[("technician", "TESS"), ("back", board.as_str())],
    )
    .await;
    assert_eq!(landed, "/");
    assert!(
        html.contains("<datalist id=\"technician-names\">"),
        "names offered once"
    );
    assert_eq!(
        dana.job(&job).await["row"]["job"]["technicians"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        vec![&tess.user.to_string()]
    );
    // A name nobody has is refused with the reason, and changes nothing.
    let (_, html) = post_form(
        &office,
        &format!("/jobs/{job}/assign"),
        &[("technician", "nobody"), ("back", board.as_str())],
    )
    .await;
    assert!(
        html.contains("no technician is named"),
        "the reason is shown"
    );
    assert!(
        dana.job(&job).await["row"]["job"]["technicians"]
            .as_object()
            .unwrap()
            .contains_key(&tess.user.to_string())
    );
}

#[tokio::test]
async fn a_live_board_refresh_gets_the_board_region_after_the_commit_it_names() {
    let office = office().await;
    let board = office.server.url(&format!("/?day={DAY}"));
    let live = |seen: u64| {
        office
            .dana
            .http()
            .get(&board)
            .header("X-Fieldsync-Seen", seen.to_string())
            .send()
    };
    let region = live(0).await.unwrap().text().await.unwrap();
    assert!(
        region.starts_with("<div id=\"board\""),
        "{}",
        &region[..80.min(region.len())]
    );
    assert!(!region.contains("<html"), "the region alone");
    // A new job of the day, then a refresh naming the commit that made it: it is there.
    let jobs = office.dana.ok(&format!("/api/jobs?day={DAY}")).await["jobs"].clone();
    let row = &jobs[0]["job"];
    let (account, site) = (text(&row["account"]), text(&row["site"]));
    let created = office
        .dana
        .post_ok(
            "/api/jobs",
            json!({"account": account, "site": site, "title": "Burst pipe", "day": DAY,
                   "start": "15:00", "end": "16:00"}),
            201,
        )
        .await;
    let seq = Store::open(office.server.db_path())
        .unwrap()
        .latest_seq()
        .unwrap();
    let region = live(seq).await.unwrap().text().await.unwrap();
    assert!(
        region.contains(text(&created["id"])),
        "the new job is on the board refreshed after its commit"
    );
}

#[tokio::test]
async fn the_aging_report_sums_what_each_customer_owes_by_days_past_due() {
    let office = office().await;
    let dana = &office.dana;
    let aging = dana.ok(&format!("/api/reports/aging?day={DAY}")).await;
    let rows = aging["rows"].as_array().unwrap();
    assert!(
        !rows.is_empty(),
        "the demo company has unpaid invoices: {aging}"
    );
    let mut sum = Money::ZERO;
    for row in rows {
        // A row is what the customer page shows owing on its pending and partly paid invoices.
        let detail = dana.account(text(&row["account"])).await;
        let owed: Money = detail["invoices"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| matches!(text(&i["status"]), "pending" | "partly_paid"))
            .map(|i| money(&i["total"]) - money(&i["paid"]))
            .sum();
        assert_eq!(money(&row["total"]), owed, "{row}");
        let buckets: Money = row["buckets"].as_array().unwrap().iter().map(money).sum();
        assert_eq!(buckets, owed);
        // Each invoice is due its date plus the customer's terms, on the job page too.
        let first = &detail["invoices"][0];
        let terms = detail["account"]["terms_net_days"].as_u64().unwrap();
        let date =
            chrono::NaiveDate::parse_from_str(text(&first["invoice"]["date"]), "%Y-%m-%d").unwrap();
        let due = (date + chrono::Days::new(terms)).to_string();
        assert_eq!(text(&first["due"]), due, "{first}");
        let job = dana.job(text(&first["invoice"]["job"])).await;
        let same = job["invoices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["invoice"]["id"] == first["invoice"]["id"])
            .unwrap();
        assert_eq!(text(&same["due"]), due);
        sum = sum + owed;
    }
    assert_eq!(money(&aging["total"]), sum);

    // A year on, all of it is over 90 days past due.
    let later = dana.ok("/api/reports/aging?day=2027-12-31").await;
    assert_eq!(money(&later["total"]), sum);
    assert_eq!(money(&later["totals"][4]), sum, "{later}");
    assert_eq!(later["headings"][4], "over 90");

    // The CSV download: a heading, a line per customer, the totals.
    let csv = dana
        .http()
        .get(office.server.url(&format!("/reports/aging.csv?day={DAY}")))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let disposition = csv.headers()["content-disposition"].to_str().unwrap();
    assert!(
        disposition.contains(&format!("aging-{DAY}.csv")),
        "{disposition}"
    );
    let body = csv.text().await.unwrap();
    let lines: Vec<&str> = body.trim_end().split("\r\n").collect();
    assert_eq!(lines.len(), rows.len() + 2, "{body}");
    assert!(lines[0].starts_with("customer,terms (net days),current,1-30"));
    assert!(lines.last().unwrap().starts_with("Total,,"));
    assert!(
        lines.last().unwrap().ends_with(&format!(",{:.2}", sum.0)),
        "{body}"
    );
    // The page, and neither without a session.
    let page = dana
        .http()
        .get(office.server.url("/reports/aging"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"aging-totals\"") && page.contains("Download CSV"));
    let (status, _) = office.anonymous().get("/api/reports/aging").await;
    assert_eq!(status, 401);
    let (status, _) = office.anonymous().get("/api/reports/aging?day=x").await;
    assert_eq!(status, 401);
}

/// The text of a PDF served at `path`, after checking it is served as one.
async fn pdf_text(office: &Office, path: &str) -> String {
    let response = office
        .dana
        .http()
        .get(office.server.url(path))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/pdf"
    );
    let bytes = response.bytes().await.unwrap();
    let pdf = lopdf::Document::load_mem(&bytes).expect("a PDF");
    let pages: Vec<u32> = pdf.get_pages().keys().copied().collect();
    assert!(!pages.is_empty());
    pdf.extract_text(&pages).unwrap()
}

fn row_of<'a>(detail: &'a Value, invoice: &str) -> &'a Value {
    detail["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["invoice"]["id"] == invoice)
        .unwrap_or_else(|| panic!("invoice {invoice} in {detail}"))
}

#[tokio::test]
async fn a_payment_pays_its_invoice_the_rest_is_credit_the_office_applies_later_and_both_print() {
    let office = office().await;
    let dana = &office.dana;
    let mut account = new_account("Cinder Cone Bakery");
    account["payment_method"] = json!("card");
    let account = dana.post_ok("/api/accounts", account, 201).await;
    let account = text(&account["id"]).to_string();
    let site = dana
        .post_ok(
            &format!("/api/accounts/{account}/sites"),
            json!({"name": "Bakery", "line1": "3 Oven Ln", "city": "Bend", "postal_code": "97701"}),
            201,
        )
        .await;
    let job = new_job(dana, &account, text(&site["id"])).await;
    let detail = dana.account(&account).await;
    assert_eq!(detail["account"]["payment_method"], "card");
    let invoice = |amount: &str| json!({"lines": [{"description": "Oven service", "quantity": "1", "unit_price": amount}]});
    let first = dana
        .post_ok(&format!("/api/jobs/{job}/invoices"), invoice("100.00"), 201)
        .await;
    let first = text(&first["id"]).to_string();
    let second = dana
        .post_ok(&format!("/api/jobs/{job}/invoices"), invoice("50.00"), 201)
        .await;
    let second = text(&second["id"]).to_string();

    dana.post_ok(
        "/api/payments",
        json!({"account": account, "job": job, "invoice": first, "amount": "130.00", "method": "card"}),
        201,
    )
    .await;
    let detail = dana.account(&account).await;
    assert_eq!(row_of(&detail, &first)["status"], "paid");
    assert_eq!(
        money(&row_of(&detail, &second)["owed"]),
        "50.00".parse().unwrap()
    );
    assert_eq!(money(&detail["unapplied_credit"]), "30.00".parse().unwrap());

    // Credit goes to an invoice that still owes, never more than there is.
    let credit = format!("/api/accounts/{account}/credit");
    let refused = dana
        .refused(&credit, json!({"invoice": second, "amount": "40.00"}), 422)
        .await;
    assert!(
        refused.contains("at most $30.00") || refused.contains("at most 30.00"),
        "{refused}"
    );
    let refused = dana.refused(&credit, json!({"invoice": first}), 422).await;
    assert!(refused.contains("owes nothing"), "{refused}");
    let applied = dana.post_ok(&credit, json!({"invoice": second}), 200).await;
    assert_eq!(money(&applied["applied"]), "30.00".parse().unwrap());
    let detail = dana.account(&account).await;
    assert_eq!(row_of(&detail, &second)["status"], "partly_paid");
    assert_eq!(
        money(&row_of(&detail, &second)["owed"]),
        "20.00".parse().unwrap()
    );
    assert_eq!(money(&detail["unapplied_credit"]), Money::ZERO);
    assert_eq!(money(&detail["balance"]), "20.00".parse().unwrap());
    let refused = dana.refused(&credit, json!({"invoice": second}), 422).await;
    assert!(refused.contains("no unapplied credit"), "{refused}");

    // Both invoices and the statement print, from the same code as the tablet's.
    let number = text(&row_of(&detail, &first)["invoice"]["number"]).to_string();
    let printed = pdf_text(&office, &format!("/invoices/{first}.pdf")).await;
    for expected in [
        number.as_str(),
        "Cinder Cone Bakery",
        "$100.00",
        "Oven service",
        "Balance due",
    ] {
        assert!(printed.contains(expected), "{expected:?} in {printed}");
    }
    let statement = pdf_text(
        &office,
        &format!("/customers/{account}/statement.pdf?from=2020-01-01"),
    )
    .await;
    assert!(
        statement.contains("$20.00") && statement.contains(&number),
        "{statement}"
    );
    for (path, status) in [
        (format!("/invoices/{}.pdf", uuid::Uuid::new_v4()), 404),
        ("/invoices/not-an-id.pdf".to_string(), 404),
        (
            format!("/customers/{account}/statement.pdf?from=2026-12-01&to=2026-11-01"),
            422,
        ),
    ] {
        let response = dana
            .http()
            .get(office.server.url(&path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{path}");
    }
}

#[tokio::test]
async fn the_office_shows_and_reads_days_and_times_in_the_companys_time_zone() {
    let office = office().await;
    let dana = &office.dana;
    // The demo company is in Springfield, Illinois.
    assert_eq!(
        dana.ok("/api/time-zone").await["time_zone"],
        "America/Chicago"
    );
    let (account, site) = account_with_site(dana, "Prairie Grain Co-op").await;
    let at = |day: &str, start: &str, end: &str| {
        json!({
            "account": account, "site": site, "title": "Dryer fan service",
            "day": day, "start": start, "end": end,
        })
    };
    // 09:00 typed in the office is 09:00 in Chicago: 15:00 UTC in winter, 14:00 in summer.
    let winter = dana
        .post_ok("/api/jobs", at(DAY, "09:00", "10:30"), 201)
        .await;
    let winter = text(&winter["id"]).to_string();
    let job = dana.job(&winter).await;
    assert_eq!(job["row"]["job"]["scheduled_start"], "2026-11-25T15:00:00Z");
    assert_eq!(job["row"]["job"]["scheduled_end"], "2026-11-25T16:30:00Z");
    let summer = dana
        .post_ok("/api/jobs", at("2026-07-15", "09:00", "10:00"), 201)
        .await;
    let summer = dana.job(text(&summer["id"])).await;
    assert_eq!(
        summer["row"]["job"]["scheduled_start"],
        "2026-07-15T14:00:00Z"
    );

    // A late job is on its own day's board, though it is already tomorrow in UTC.
    let late = dana
        .post_ok("/api/jobs", at(DAY, "22:00", "23:30"), 201)
        .await;
    let late = text(&late["id"]).to_string();
    let listed = |day: &'static str| async move {
        ids(
            &dana.ok(&format!("/api/jobs?day={day}")).await["jobs"],
            |r| &r["job"]["id"],
        )
    };
    assert!(listed(DAY).await.contains(&late));
    assert!(!listed("2026-11-26").await.contains(&late));

    // A time the clocks skip is refused with the reason; nothing is made.
    let skipped = dana
        .refused("/api/jobs", at("2026-03-08", "02:30", "03:30"), 422)
        .await;
    assert!(skipped.contains("does not exist"), "{skipped}");

    // The pages say times as people in Chicago read them, with no "UTC" anywhere.
    let page = dana.page(&format!("/jobs/{winter}")).await;
    assert!(page.contains("2026-11-25 09:00–10:30"), "{page}");
    assert!(
        page.contains(r#"name="start" value="09:00""#),
        "the edit form's start"
    );
    assert!(!page.contains("UTC"));
    let board = dana.page(&format!("/?day={DAY}")).await;
    assert!(board.contains("22:00–23:30"));
    assert!(!board.contains("UTC"));

    // The office moves the company to Berlin: the same instants read in Berlin's time.
    let moved = dana
        .call(
            Method::PUT,
            "/api/time-zone",
            Some(json!({"time_zone": "europe/berlin"})),
        )
        .await;
    assert_eq!(moved, (200, json!({"time_zone": "Europe/Berlin"})));
    let page = dana.page(&format!("/jobs/{winter}")).await;
    assert!(page.contains("2026-11-25 16:00–17:30"), "{page}");
    let (status, answer) = dana
        .call(
            Method::PUT,
            "/api/time-zone",
            Some(json!({"time_zone": "Mars/Olympus"})),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    assert!(error_of(&answer).contains("is not a time zone"));
    assert_eq!(
        dana.ok("/api/time-zone").await["time_zone"],
        "Europe/Berlin"
    );
}

#[tokio::test]
async fn the_customer_list_comes_a_page_at_a_time_and_says_how_many_there_are() {
    let office = office().await;
    let dana = &office.dana;
    // The demo's 50 customers, 20 at a time: every one once, by name.
    let mut names = Vec::new();
    let mut offset = 0;
    loop {
        let page = dana
            .ok(&format!("/api/accounts?limit=20&offset={offset}"))
            .await;
        assert_eq!(page["total"], 50, "{page}");
        assert_eq!(page["offset"], offset);
        let accounts = page["accounts"].as_array().unwrap();
        assert!(accounts.len() <= 20);
        names.extend(accounts.iter().map(|a| text(&a["name"]).to_string()));
        match page["next"].as_u64() {
            Some(next) => offset = next,
            None => break,
        }
    }
    assert_eq!(names.len(), 50);
    assert_eq!(
        names.iter().collect::<BTreeSet<_>>().len(),
        50,
        "none twice"
    );
    let lowered: Vec<String> = names.iter().map(|n| n.to_lowercase()).collect();
    assert!(lowered.windows(2).all(|w| w[0] <= w[1]), "by name");
    // A search says how many match; more than 500 at once is not handed out.
    let clinics = dana.ok("/api/accounts?q=clinic").await;
    assert_eq!(
        clinics["total"].as_u64().unwrap() as usize,
        clinics["accounts"].as_array().unwrap().len()
    );
    let capped = dana.ok("/api/accounts?limit=100000").await;
    assert_eq!(capped["accounts"].as_array().unwrap().len(), 50);
    // The page says the count, and pages with links once the list is longer than a page.
    let page = dana.page("/customers").await;
    assert!(page.contains("50 customers"), "{page}");
    for n in 0..60 {
        dana.post_ok(
            "/api/accounts",
            new_account(&format!("Zeta Storage {n:02}")),
            201,
        )
        .await;
    }
    let first = dana.page("/customers").await;
    assert!(first.contains("Customers 1–100 of 110"), "{first}");
    assert!(first.contains("from=100"), "a link to the next page");
    let second = dana.page("/customers?from=100").await;
    assert!(second.contains("Customers 101–110 of 110"), "{second}");
    assert!(second.contains("Zeta Storage 59"));
    let found = dana.page("/customers?q=zeta").await;
    assert!(found.contains("60 customers"), "{found}");
}

#[tokio::test]
async fn a_customer_with_many_jobs_shows_them_a_page_at_a_time_latest_first() {
    let office = office().await;
    let dana = &office.dana;
    let (account, site) = account_with_site(dana, "Granite Quarry Co").await;
    for day in 1..=30 {
        dana.post_ok(
            "/api/jobs",
            json!({
                "account": account, "site": site, "title": format!("Crusher service {day:02}"),
                "day": format!("2026-10-{day:02}"), "start": "09:00", "end": "10:00",
            }),
            201,
        )
        .await;
    }
    let rows = |page: &str| page.matches(r#"class="job-row""#).count();
    // The jobs card of a customer page.
    let card = |page: &str| {
        let start = page.find(r#"id="jobs""#).expect("a jobs card");
        page[start..start + page[start..].find("</section>").unwrap()].to_string()
    };
    let first = dana.page(&format!("/customers/{account}")).await;
    assert_eq!(rows(&first), 25);
    assert!(first.contains("Jobs 1–25 of 30, newest first"), "{first}");
    assert!(
        first.contains("?jobs_from=25#jobs"),
        "a link to the older ones"
    );
    assert!(card(&first).contains("Crusher service 30"));
    assert!(!card(&first).contains("Crusher service 05"));
    // The payment form offers the latest 25 jobs, and says where an older job's payment goes.
    let form = {
        let start = first.find(r#"id="payment""#).expect("a payment form");
        &first[start..start + first[start..].find("</form>").unwrap()]
    };
    let choices = form.matches("Crusher service").count();
    assert_eq!(choices, 25, "{form}");
    assert!(form.contains("Crusher service 30") && !form.contains("Crusher service 05"));
    assert!(form.contains("record the payment on its page"), "{form}");
    let older = dana
        .page(&format!("/customers/{account}?jobs_from=25"))
        .await;
    assert_eq!(rows(&older), 5);
    assert!(older.contains("Jobs 26–30 of 30"), "{older}");
    assert!(card(&older).contains("Crusher service 01"));
    assert!(!card(&older).contains("Crusher service 06"));
    // The API still has every job, for whoever wants them all.
    let all = dana.account(&account).await;
    assert_eq!(all["jobs"].as_array().unwrap().len(), 30);
}

#[tokio::test]
async fn a_customer_of_many_years_shows_a_page_of_invoices_payments_and_notes_at_a_time() {
    let office = office().await;
    let dana = &office.dana;
    let (account, site) = account_with_site(dana, "Basalt Brewing").await;
    let job = new_job(dana, &account, &site).await;
    for n in 1..=27 {
        let invoice = json!({"lines": [{"description": format!("Chiller visit {n:02}"), "quantity": "1", "unit_price": "10.00"}]});
        dana.post_ok(&format!("/api/jobs/{job}/invoices"), invoice, 201)
            .await;
    }
    for n in 1..=28 {
        let payment = json!({"account": account, "job": job, "amount": "1.00", "method": "check", "reference": format!("CHK-{n:02}")});
        dana.post_ok("/api/payments", payment, 201).await;
    }
    for n in 1..=52 {
        let note = json!({"on": account, "kind": "private", "text": format!("Called about the tap room ({n:02})")});
        dana.post_ok("/api/notes", note, 201).await;
    }
    // One card of a customer page.
    let card = |page: &str, id: &str| {
        let start = page.find(&format!(r#"id="{id}""#)).expect("the card");
        page[start..start + page[start..].find("</section>").unwrap()].to_string()
    };
    let first = dana.page(&format!("/customers/{account}")).await;
    let (invoices, payments, notes) = (
        card(&first, "invoices"),
        card(&first, "payments"),
        card(&first, "notes"),
    );
    assert_eq!(invoices.matches(r#"class="invoice""#).count(), 25);
    assert!(
        invoices.contains("Invoices 1–25 of 27, newest first"),
        "{invoices}"
    );
    assert!(
        invoices.contains("?invoices_from=25#invoices"),
        "{invoices}"
    );
    assert_eq!(payments.matches(r#"class="payment""#).count(), 25);
    assert!(
        payments.contains("Payments 1–25 of 28, newest first"),
        "{payments}"
    );
    assert!(payments.contains("CHK-28") && !payments.contains("CHK-03"));
    assert!(
        payments.contains(&format!(r#"<a href="/jobs/{job}">"#)),
        "each payment names its job"
    );
    assert_eq!(notes.matches("Called about the tap room").count(), 50);
    assert!(notes.contains("Notes 1–50 of 52, newest first"), "{notes}");
    assert!(notes.contains("(52)") && !notes.contains("(02)"));
    // The balance counts every invoice and payment, not only those shown.
    assert!(
        first.contains(r#"<span id="balance">242.00</span>"#),
        "27 invoices of 10.00 less 28 payments of 1.00"
    );

    let older = dana
        .page(&format!(
            "/customers/{account}?payments_from=25&notes_from=50&invoices_from=25"
        ))
        .await;
    let (invoices, payments, notes) = (
        card(&older, "invoices"),
        card(&older, "payments"),
        card(&older, "notes"),
    );
    assert_eq!(invoices.matches(r#"class="invoice""#).count(), 2);
    assert!(invoices.contains("Invoices 26–27 of 27"), "{invoices}");
    assert!(
        invoices.contains("?invoices_from=0#invoices"),
        "a link back to the newest"
    );
    assert_eq!(payments.matches(r#"class="payment""#).count(), 3);
    assert!(payments.contains("CHK-01") && !payments.contains("CHK-04"));
    assert!(notes.contains("(01)") && notes.contains("(02)") && !notes.contains("(03)"));
    // Past the end: an empty page that still says where the list is.
    let beyond = dana
        .page(&format!("/customers/{account}?payments_from=1000"))
        .await;
    let beyond = card(&beyond, "payments");
    assert!(beyond.contains("No payments."));
    assert!(
        beyond.contains("No payments this far back: there are 28"),
        "{beyond}"
    );
    assert!(
        beyond.contains("?payments_from=3#payments"),
        "a link back: {beyond}"
    );
    // The API still has them all.
    let all = dana.account(&account).await;
    assert_eq!(all["payments"].as_array().unwrap().len(), 28);
    assert_eq!(all["invoices"].as_array().unwrap().len(), 27);
}
