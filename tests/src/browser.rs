//! A real headless browser for the office-page tests: Debian's Chromium driven by its
//! chromedriver over WebDriver ([`fantoccini`], plain http on loopback, no TLS).
//!
//! [`Browser::start`] runs `chromedriver --port=0` as a child process, reads the port it chose
//! from its first lines, and opens a session of a headless Chromium with a fresh profile in a
//! temporary directory. Waits are bounded: [`Browser::wait_for`] and [`Browser::wait_for_text`]
//! poll the page until what they look for is there, and fail the test with what they saw after
//! [`PATIENCE`].
//!
//! ```no_run
//! # async fn example(base: &str) {
//! use fieldsync_tests::browser::Browser;
//!
//! let browser = Browser::start().await;
//! browser.sign_in(base, "dana", "dana-office-demo").await;
//! browser.wait_for("#board").await;
//! browser.close().await;
//! # }
//! ```
//!
//! Dropping a [`Browser`] without [`Browser::close`] (a failed test) still ends the browser
//! session and kills chromedriver, so no Chromium is left running.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tempfile::TempDir;

/// Longest wait for the page (or the browser) before a test fails. Generous: a 2-core CI box
/// also runs the server and other tests.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// How often a bounded wait looks at the page again.
const POLL: Duration = Duration::from_millis(100);

/// The Chromium binary (Debian's `chromium` package).
const CHROMIUM: &str = "/usr/bin/chromium";

/// The chromedriver binary (Debian's `chromium-driver` package).
const CHROMEDRIVER: &str = "chromedriver";

/// A Chrome DevTools Protocol command, sent through chromedriver's `goog/cdp/execute`.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base_url: &reqwest::Url,
        session_id: Option<&str>,
    ) -> Result<reqwest::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &reqwest::Url) -> (reqwest::Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params });
        (reqwest::Method::POST, Some(body.to_string()))
    }
}

/// A running chromedriver, killed on drop.
#[derive(Debug)]
struct Chromedriver {
    child: Child,
    port: u16,
}

impl Chromedriver {
    /// Starts chromedriver on a port of its choosing and waits until it says which.
    fn start() -> Chromedriver {
        let mut child = Command::new(CHROMEDRIVER)
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {CHROMEDRIVER} (apt-get install chromium-driver): {e}")
            });
        let stdout = child.stdout.take().expect("chromedriver's stdout is piped");
        let (port_tx, port_rx) = mpsc::channel();
        // Reads the port from "ChromeDriver was started successfully on port N.", then keeps
        // draining the output so that chromedriver never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut port_tx = Some(port_tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(port) = line
                    .split_once("started successfully on port ")
                    .and_then(|(_, rest)| rest.trim_end_matches('.').trim().parse::<u16>().ok())
                    && let Some(tx) = port_tx.take()
                {
                    let _ = tx.send(port);
                }
            }
        });
        match port_rx.recv_timeout(PATIENCE) {
            Ok(port) => Chromedriver { child, port },
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromedriver did not say which port it listens on");
            }
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Ends a WebDriver session (which quits its browser) with a plain blocking request, for
    /// use in `Drop`, where nothing can be awaited.
    fn delete_session(&self, session: &str) {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return;
        };
        let _ = stream.set_read_timeout(Some(PATIENCE));
        let _ = stream.set_write_timeout(Some(PATIENCE));
        let request = format!(
            "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
            self.port
        );
        if stream.write_all(request.as_bytes()).is_err() {
            return;
        }
        // chromedriver keeps the connection open: read the answer's headers and body only.
        let mut answer = Vec::new();
        let mut chunk = [0u8; 4096];
        while !complete_response(&answer) {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => answer.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

/// Whether `answer` holds a whole HTTP response with a `Content-Length` body.
fn complete_response(answer: &[u8]) -> bool {
    let text = String::from_utf8_lossy(answer);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let length = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    body.len() >= length
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A headless Chromium session with its own chromedriver and profile.
#[derive(Debug)]
pub struct Browser {
    client: Option<Client>,
    session: Option<String>,
    driver: Chromedriver,
    _profile: TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a fresh profile.
    pub async fn start() -> Browser {
        let profile = tempfile::tempdir().expect("create a browser profile directory");
        let driver = Chromedriver::start();
        let args = [
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--window-size=1400,1000".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        // The tests' TLS servers have self-signed certificates made for the test.
        let capabilities = json!({
            "browserName": "chrome",
            "acceptInsecureCerts": true,
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities);
        let url = driver.url();
        let client = tokio::time::timeout(PATIENCE, builder.connect(&url))
            .await
            .expect("chromium starts in time")
            .unwrap_or_else(|e| panic!("cannot start {CHROMIUM} through chromedriver: {e}"));
        let session = client.session_id().await.ok().flatten();
        Browser {
            client: Some(client),
            session,
            driver,
            _profile: profile,
        }
    }

    /// The WebDriver client, for anything the helpers here do not cover.
    pub fn client(&self) -> &Client {
        self.client
            .as_ref()
            .expect("the browser is open until close")
    }

    /// Opens `url` and waits for it to load.
    pub async fn goto(&self, url: &str) {
        tokio::time::timeout(PATIENCE, self.client().goto(url))
            .await
            .unwrap_or_else(|_| panic!("{url} loads in time"))
            .unwrap_or_else(|e| panic!("opening {url}: {e}"));
    }

    /// The path of the page shown (`/customers/...`).
    pub async fn path(&self) -> String {
        self.client()
            .current_url()
            .await
            .expect("read the current URL")
            .path()
            .to_string()
    }

    /// Signs in on `<base>/login` and waits until the browser has left the sign-in page.
    pub async fn sign_in(&self, base: &str, name: &str, password: &str) {
        self.goto(&format!("{base}/login")).await;
        self.fill("form#login input[name=name]", name).await;
        self.fill("form#login input[name=password]", password).await;
        self.click("form#login button[type=submit]").await;
        self.wait_until("the browser has signed in", async || {
            let path = self.path().await;
            (path != "/login").then_some(())
        })
        .await;
    }

    /// Waits for an element matching the CSS selector `css`.
    pub async fn wait_for(&self, css: &str) -> Element {
        let found = self
            .client()
            .wait()
            .at_most(PATIENCE)
            .every(POLL)
            .for_element(Locator::Css(css))
            .await;
        match found {
            Ok(element) => element,
            Err(e) => panic!("no {css} in time: {e} ({})", self.describe().await),
        }
    }

    /// Waits until the text of the first element matching `css` satisfies `wanted`; returns
    /// the text.
    pub async fn wait_for_text(&self, css: &str, wanted: impl Fn(&str) -> bool) -> String {
        let mut last = None;
        let found = self
            .poll(async || {
                let text = self.text(css).await;
                let done = text.as_deref().is_some_and(&wanted);
                last = text.clone();
                done.then(|| text.unwrap_or_default())
            })
            .await;
        found.unwrap_or_else(|| {
            panic!("{css} did not become as expected in time; it reads {last:?}")
        })
    }

    /// Waits until `check` gives `Some`; fails the test naming `what` after [`PATIENCE`].
    pub async fn wait_until<T>(&self, what: &str, check: impl AsyncFnMut() -> Option<T>) -> T {
        match self.poll(check).await {
            Some(value) => value,
            None => panic!("not in time: {what} ({})", self.describe().await),
        }
    }

    async fn poll<T>(&self, mut check: impl AsyncFnMut() -> Option<T>) -> Option<T> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(value) = check().await {
                return Some(value);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The text of the first element matching `css`, if there is one.
    pub async fn text(&self, css: &str) -> Option<String> {
        let element = self.client().find(Locator::Css(css)).await.ok()?;
        element.text().await.ok()
    }

    /// How many elements match `css` now.
    pub async fn count(&self, css: &str) -> usize {
        self.client()
            .find_all(Locator::Css(css))
            .await
            .map_or(0, |found| found.len())
    }

    /// Types `value` into the (cleared) field matching `css`.
    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.wait_for(css).await;
        field
            .clear()
            .await
            .unwrap_or_else(|e| panic!("clear {css}: {e}"));
        field
            .send_keys(value)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Chooses the file at `path` in the file input matching `css`.
    pub async fn attach(&self, css: &str, path: &std::path::Path) {
        self.wait_for(css)
            .await
            .send_keys(&path.display().to_string())
            .await
            .unwrap_or_else(|e| panic!("attach {} to {css}: {e}", path.display()));
    }

    /// Chooses the option with `value` in the select matching `css`.
    pub async fn select(&self, css: &str, value: &str) {
        self.wait_for(css)
            .await
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("choose {value:?} in {css}: {e}"));
    }

    /// Clicks the element matching `css`.
    pub async fn click(&self, css: &str) {
        self.wait_for(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Lays the page out for `media` (`"print"`, or `""` for the screen again) through
    /// Chromium's DevTools, as printing would, without printing.
    pub async fn emulate_media(&self, media: &str) {
        self.client()
            .issue_cmd(Cdp {
                cmd: "Emulation.setEmulatedMedia",
                params: json!({ "media": media }),
            })
            .await
            .unwrap_or_else(|e| panic!("emulate {media:?} media: {e}"));
    }

    /// Resizes the window to `width`×`height` CSS pixels (a laptop, a tablet).
    pub async fn resize(&self, width: u32, height: u32) {
        self.client()
            .set_window_size(width, height)
            .await
            .unwrap_or_else(|e| panic!("resize to {width}×{height}: {e}"));
    }

    /// Runs JavaScript in the page and returns its result.
    pub async fn run(&self, script: &str) -> Value {
        self.client()
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("run {script:?}: {e}"))
    }

    /// Saves a PNG screenshot of the window to `path`.
    pub async fn screenshot(&self, path: &Path) {
        let png = self
            .client()
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("take a screenshot: {e}"));
        assert!(png.starts_with(b"\x89PNG"), "screenshots are PNG");
        std::fs::write(path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// The URL and the start of the page's text, for failure messages.
    async fn describe(&self) -> String {
        let url = match self.client().current_url().await {
            Ok(url) => url.to_string(),
            Err(e) => format!("(no URL: {e})"),
        };
        let body = self.text("body").await.unwrap_or_default();
        let body: String = body.chars().take(600).collect();
        format!("{url}: {body:?}")
    }

    /// Ends the session (Chromium quits) and stops chromedriver.
    pub async fn close(mut self) {
        if let Some(client) = self.client.take() {
            let _ = tokio::time::timeout(PATIENCE, client.close()).await;
            self.session = None;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Not closed (a test failed): end the session so that Chromium quits before
        // chromedriver is killed.
        if let Some(session) = self.session.take() {
            self.driver.delete_session(&session);
        }
    }
}
