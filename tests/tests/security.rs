//! Encrypted and locked down (issue 14), end to end against the real server: tablets over
//! `wss://` with the certificate pinned or checked, and refused before anything is sent when
//! it does not pass; the office over `https://` with secure cookies and security headers;
//! cross-site requests, forms without their token, password guessing, slow clients, open
//! redirects and too many connections per device all refused with a clear answer.

use std::time::Duration;

use fieldsync_app::net::{self, NetError, SyncLimits};
use fieldsync_app::{Tablet, net::Backoff};
use fieldsync_protocol::{Author, Role, Timestamp};
use fieldsync_server::serving::Serving;
use fieldsync_store::Store;
use fieldsync_tests::api::{Api, error_of};
use fieldsync_tests::crew::{self, Person};
use fieldsync_tests::sync_client::SyncClient;
use fieldsync_tests::{ServingExt as _, TestServer};
use reqwest::header;
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Longest wait for anything the test waits on; it only bounds waits.
const PATIENCE: Duration = Duration::from_secs(20);

fn now() -> Timestamp {
    Timestamp(chrono::Utc::now())
}

fn limits() -> SyncLimits {
    SyncLimits {
        timeout: PATIENCE,
        backoff: Backoff::new(Duration::from_millis(100), Duration::from_millis(500)),
    }
}

fn author(person: &Person) -> Author {
    Author {
        user: person.user,
        name: person.name.clone(),
    }
}

/// A fingerprint of some other certificate.
fn other_fingerprint() -> String {
    let (serving, tls) = Serving::default().with_test_tls();
    drop(serving);
    tls.unwrap().1
}

#[tokio::test]
async fn a_tablet_pairs_and_syncs_over_wss_with_the_pinned_fingerprint() {
    let company = crew::start_tls(now()).await;
    let url = company.server.url("");
    assert!(url.starts_with("https://"), "{url}");
    let fingerprint = company.server.fingerprint().unwrap().to_string();
    // Printed with colons; typed without them, or in lower case, it is the same.
    let typed = fingerprint.replace(':', "").to_lowercase();

    let identity = net::check_pairing(&url, &company.tess.token, Some(&typed))
        .await
        .unwrap();
    assert_eq!(identity.user, company.tess.user);
    let dir = tempfile::tempdir().unwrap();
    let replica = dir.path().join("tablet.sqlite3");
    let tablet = Tablet::pair_pinned(
        &replica,
        &url,
        Some(&typed),
        &company.tess.token,
        author(&company.tess),
    )
    .unwrap();
    assert_eq!(
        tablet
            .pairing()
            .unwrap()
            .unwrap()
            .tls_fingerprint
            .as_deref(),
        Some(fingerprint.as_str())
    );

    let shared = net::shared(tablet);
    net::sync_until_caught_up(&shared, limits()).await.unwrap();
    assert!(
        net::lock(&shared)
            .store()
            .load(company.job.into())
            .unwrap()
            .is_some(),
        "Tess's job came down over wss://"
    );
    // And what the technician writes goes up.
    net::lock(&shared)
        .add_job_note(
            now(),
            company.job,
            fieldsync_protocol::NoteKind::ServicePerformed,
            "Replaced the igniter.",
        )
        .unwrap();
    net::sync_until_caught_up(&shared, limits()).await.unwrap();
    assert_eq!(net::lock(&shared).pending().unwrap(), 0);
    let on_server = Store::open(company.server.db_path())
        .unwrap()
        .record(company.job.into())
        .unwrap();
    let Some(fieldsync_protocol::Record::Job(job)) = on_server else {
        panic!("the job is on the server");
    };
    assert!(
        job.notes
            .values()
            .any(|n| n.text == "Replaced the igniter.")
    );
}

#[tokio::test]
async fn a_wrong_fingerprint_is_refused_before_anything_is_sent() {
    // A TLS listener that records whatever a client sends once the handshake is done.
    let (serving, _) = Serving::default().with_test_tls();
    let acceptor = tokio_rustls::TlsAcceptor::from(serving.tls.unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let listening = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        match acceptor.accept(tcp).await {
            Ok(mut tls) => {
                let mut received = Vec::new();
                let _ = tokio::time::timeout(PATIENCE, tls.read_to_end(&mut received)).await;
                Some(received)
            }
            Err(_) => None,
        }
    });
    let token = format!("fsd_{}", "A".repeat(43));
    let pinned = other_fingerprint();

    let refused = net::check_pairing(&format!("https://{addr}"), &token, Some(&pinned)).await;

    let Err(NetError::Untrusted(why)) = refused else {
        panic!("not refused for its certificate: {refused:?}");
    };
    assert!(
        why.contains("not the one this tablet was paired with"),
        "{why}"
    );
    assert!(
        why.contains(&pinned) && why.contains("nothing was sent"),
        "{why}"
    );
    assert!(NetError::Untrusted(why).is_permanent());
    let received = tokio::time::timeout(PATIENCE, listening)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        received, None,
        "the handshake did not complete: not a byte of the request"
    );

    // The same against the real server: refused, and no device connected.
    let server = TestServer::start_tls().await;
    let refused = net::check_pairing(&server.url(""), &token, Some(&pinned)).await;
    assert!(
        matches!(refused, Err(NetError::Untrusted(_))),
        "{refused:?}"
    );
    let metrics = server
        .http_client()
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap();
    let metrics = metrics.text().await.unwrap();
    assert!(metrics.contains("fieldsync_connections 0\n"), "{metrics}");
}

#[tokio::test]
async fn without_a_pin_a_self_signed_server_is_not_trusted_and_a_pin_needs_tls() {
    let server = TestServer::start_tls().await;
    let token = format!("fsd_{}", "A".repeat(43));

    let refused = net::check_pairing(&server.url(""), &token, None).await;
    let Err(NetError::Untrusted(why)) = refused else {
        panic!("a self-signed certificate was trusted: {refused:?}");
    };
    assert!(
        why.contains("not trusted") && why.contains("fingerprint"),
        "{why}"
    );

    let dir = tempfile::tempdir().unwrap();
    let plain = Tablet::pair_pinned(
        &dir.path().join("t.sqlite3"),
        "http://10.0.0.5:8080",
        Some(&other_fingerprint()),
        &token,
        Author {
            user: Default::default(),
            name: "Tess".into(),
        },
    );
    let Err(e) = plain else {
        panic!("a fingerprint was pinned for plain HTTP");
    };
    assert!(e.to_string().contains("https://"), "{e}");
}

#[tokio::test]
async fn the_office_over_https_gets_a_secure_cookie_and_security_headers() {
    let server = TestServer::start_tls().await;
    add_office_user(&server, "olga", "olga-password-1").await;
    let http = server.http_client();

    let login = http
        .post(server.url("/api/login"))
        .json(&json!({"name": "olga", "password": "olga-password-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let cookie = login.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(
        cookie.contains("; Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );

    let page = http.get(server.url("/login")).send().await.unwrap();
    let headers = page.headers();
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(headers[header::REFERRER_POLICY], "same-origin");
    assert!(
        headers[header::STRICT_TRANSPORT_SECURITY]
            .to_str()
            .unwrap()
            .contains("max-age=")
    );

    // Over plain HTTP (a local trial): no Secure cookie, no HSTS.
    let plain = TestServer::start().await;
    add_office_user(&plain, "olga", "olga-password-1").await;
    let login = plain
        .http_client()
        .post(plain.url("/api/login"))
        .json(&json!({"name": "olga", "password": "olga-password-1"}))
        .send()
        .await
        .unwrap();
    assert!(
        !login.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Secure")
    );
    assert!(
        login
            .headers()
            .get(header::STRICT_TRANSPORT_SECURITY)
            .is_none()
    );
    assert_eq!(login.headers()[header::X_FRAME_OPTIONS], "DENY");
}

async fn add_office_user(server: &TestServer, name: &str, password: &str) {
    let hash = fieldsync_server::auth::hash_password(password).unwrap();
    let name = name.to_string();
    server
        .state()
        .db()
        .run(move |store| {
            let tx = store.transaction()?;
            tx.add_user(&name, Role::Office, Some(&hash))?;
            tx.commit()?;
            Ok(())
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn cross_site_requests_and_forms_without_their_token_are_refused() {
    let server = TestServer::start_tls().await;
    add_office_user(&server, "olga", "olga-password-1").await;
    let olga = Api::sign_in(&server, "olga", "olga-password-1").await;
    let new_account = json!({
        "name": "Mallory Ltd",
        "party": "business",
        "account_type": "customer",
        "billing_line1": "1 Forge Lane",
        "billing_city": "Bend",
        "billing_postal_code": "97701",
    });
    let post = |extra: &'static [(&'static str, &'static str)]| {
        let mut request = olga
            .http()
            .post(server.url("/api/accounts"))
            .json(&new_account);
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        request.send()
    };

    for forged in [
        &[("origin", "https://evil.example")][..],
        &[("sec-fetch-site", "cross-site")],
        &[
            ("sec-fetch-site", "same-site"),
            ("origin", "https://x.evil.example"),
        ],
        &[("origin", "null")],
    ] {
        let refused = post(forged).await.unwrap();
        assert_eq!(refused.status(), 403, "{forged:?}");
        let body: serde_json::Value = refused.json().await.unwrap();
        assert!(error_of(&body).contains("another site"), "{body}");
    }
    let names = |body: serde_json::Value| body.to_string();
    assert!(!names(olga.ok("/api/accounts?q=Mallory").await).contains("Mallory"));

    // The same request from the office page itself passes.
    let origin = server.url("");
    let same = olga
        .http()
        .post(server.url("/api/accounts"))
        .header("origin", &origin)
        .header("sec-fetch-site", "same-origin")
        .json(&new_account)
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), 201, "{:?}", same.text().await);

    // A page form without the session's token is refused; with it, it is carried out.
    let form = [
        ("name", "Mallory Two"),
        ("party", "business"),
        ("account_type", "customer"),
        ("status", "active"),
        ("billing_line1", "2 Forge Lane"),
        ("billing_city", "Bend"),
        ("billing_postal_code", "97701"),
    ];
    let refused = olga
        .http()
        .post(server.url("/customers"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    assert!(refused.text().await.unwrap().contains("reload the page"));
    let token = olga.form_token().await;
    let mut with_token = form.to_vec();
    with_token.push(("form_token", &token));
    let done = olga
        .http()
        .post(server.url("/customers"))
        .form(&with_token)
        .send()
        .await
        .unwrap();
    assert!(done.status().is_success(), "{}", done.status());
    assert!(names(olga.ok("/api/accounts?q=Mallory+Two").await).contains("Mallory Two"));
}

#[tokio::test]
async fn the_eleventh_wrong_password_in_a_minute_gets_429_with_when_to_retry() {
    let server = TestServer::start_tls().await;
    add_office_user(&server, "olga", "olga-password-1").await;
    let guesser = Api::new(&server);
    for attempt in 1..=10 {
        let (status, body) = guesser
            .post(
                "/api/login",
                json!({"name": "olga", "password": format!("guess {attempt}")}),
            )
            .await;
        assert_eq!(status, 401, "attempt {attempt}: {body}");
    }

    let eleventh = guesser
        .http()
        .post(server.url("/api/login"))
        .json(&json!({"name": "olga", "password": "olga-password-1"}))
        .send()
        .await
        .unwrap();

    assert_eq!(eleventh.status(), 429, "even the right password waits");
    let retry: u64 = eleventh.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let body: serde_json::Value = eleventh.json().await.unwrap();
    assert!(error_of(&body).contains("try again in"), "{body}");
    // The sign-in page says so too.
    let page = guesser
        .http()
        .post(server.url("/login"))
        .form(&[("name", "olga"), ("password", "olga-password-1")])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 429);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("too many failed sign-ins")
    );
}

#[tokio::test]
async fn a_client_sending_its_headers_slowly_is_cut_off() {
    for tls in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("fieldsync.sqlite3");
        let state = fieldsync_server::AppState::open(&db).unwrap();
        let serving = Serving {
            header_read_timeout: Duration::from_millis(500),
            ..Serving::default()
        };
        let serving = if tls {
            serving.with_test_tls()
        } else {
            serving.plain()
        };
        let server = TestServer::start_serving(state, &db, serving)
            .await
            .unwrap();
        let mut tcp = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
        if !tls {
            // Half a request, then nothing.
            tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                .await
                .unwrap();
        }
        // (Over TLS, not even the handshake.)
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(PATIENCE, tcp.read_to_end(&mut rest)).await;
        assert!(closed.is_ok(), "tls {tls}: the connection was left open");
        // The server goes on answering others.
        let health = server
            .http_client()
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 200);
    }
}

#[tokio::test]
async fn a_back_link_to_another_site_is_not_followed() {
    let company = crew::start_tls(now()).await;
    add_office_user(&company.server, "olga", "olga-password-1").await;
    let http = company
        .server
        .http_client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let olga = Api::with_client(&company.server, http);
    let (status, body) = olga
        .post(
            "/api/login",
            json!({"name": "olga", "password": "olga-password-1"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let token = olga.form_token().await;
    let job = company.job.to_string();
    for back in [
        "https://evil.example/phish",
        "//evil.example/phish",
        "/\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
    ] {
        let answer = olga
            .http()
            .post(company.server.url(&format!("/jobs/{job}/assign")))
            .form(&[
                ("technician", company.tess.name.as_str()),
                ("back", back),
                ("form_token", &token),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 303, "{back:?}");
        let to = answer.headers()[header::LOCATION].to_str().unwrap();
        assert!(
            to.starts_with('/') && !to.starts_with("//") && !to.contains("evil"),
            "{back:?} went to {to}"
        );
    }
}

#[tokio::test]
async fn a_device_may_hold_only_a_few_connections_and_is_told_to_come_back() {
    let company = crew::start_tls(now()).await;
    let mut open = Vec::new();
    for _ in 0..fieldsync_server::MAX_SYNC_CONNECTIONS_PER_DEVICE {
        let mut device = SyncClient::connect_to(&company.server, Some(&company.tess.token))
            .await
            .unwrap();
        device.hello().await;
        open.push(device);
    }

    let refused = SyncClient::connect_to(&company.server, Some(&company.tess.token))
        .await
        .unwrap_err();
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(refused.body.contains("try again"), "{}", refused.body);
    // The tablet takes it as a reason to come back later, not to stop.
    let busy = net::check_pairing(
        &company.server.url(""),
        &company.tess.token,
        company.server.fingerprint(),
    )
    .await;
    let Err(e) = busy else {
        panic!("a fourth connection was opened");
    };
    assert!(matches!(e, NetError::Busy(_)) && !e.is_permanent(), "{e:?}");
    // Another device is not held back, and once one closes, Tess's next one opens.
    SyncClient::connect_to(&company.server, Some(&company.theo.token))
        .await
        .unwrap()
        .close()
        .await;
    open.pop().unwrap().close().await;
    let again = tokio::time::timeout(PATIENCE, async {
        loop {
            match SyncClient::connect_to(&company.server, Some(&company.tess.token)).await {
                Ok(device) => break device,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    })
    .await
    .expect("a connection opens once another closed");
    again.close().await;
}
