//! The office JSON API as a test speaks it: a cookie-keeping HTTP client (reqwest) for one
//! server, with helpers that fail the test on an unexpected answer.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::TestServer;

/// Longest wait for an answer.
const PATIENCE: Duration = Duration::from_secs(15);

/// An HTTP client that keeps cookies, for one server.
#[derive(Debug)]
pub struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    /// A client with no session, for `server`.
    pub fn new(server: &TestServer) -> Api {
        Api::with_client(server, server.http_client())
    }

    /// A client for `server` on `http` (one that keeps cookies, made from
    /// [`TestServer::http_client_builder`]).
    pub fn with_client(server: &TestServer, http: reqwest::Client) -> Api {
        Api {
            http,
            base: server.url(""),
        }
    }

    /// The HTTP client itself (with the session's cookie), for requests the helpers do not
    /// cover, such as a stream.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The form token of this client's session, read from a page as the browser has it (every
    /// signed-in page's sign-out form carries it).
    pub async fn form_token(&self) -> String {
        let html = self
            .http
            .get(format!("{}/customers", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let marker = r#"name="form_token" value=""#;
        let start = html
            .find(marker)
            .expect("a signed-in page carries the form token")
            + marker.len();
        let end = start + html[start..].find('"').expect("the value ends");
        html[start..end].to_string()
    }

    /// The HTML of the office page at `path`, as the signed-in browser gets it; fails the test
    /// unless it answers 200.
    pub async fn page(&self, path: &str) -> String {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        response.text().await.unwrap()
    }

    /// Signs in; fails the test unless it works.
    pub async fn sign_in(server: &TestServer, name: &str, password: &str) -> Api {
        let api = Api::new(server);
        let (status, body) = api
            .post("/api/login", json!({"name": name, "password": password}))
            .await;
        assert_eq!(status, 200, "signing in as {name}: {body}");
        api
    }

    /// Sends a request; returns the status and the JSON body (`Null` when there is none).
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .timeout(PATIENCE);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("{method} {path}: not JSON: {text}"))
        };
        (status, value)
    }

    /// `GET path`: the status and the JSON body.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(Method::GET, path, None).await
    }

    /// `POST path` with a JSON body: the status and the JSON body.
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    /// `GET path`, which must answer 200.
    pub async fn ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// `POST path`, which must answer `expected`; returns the body.
    pub async fn post_ok(&self, path: &str, body: Value, expected: u16) -> Value {
        let (status, answer) = self.post(path, body.clone()).await;
        assert_eq!(status, expected, "POST {path} {body}: {answer}");
        answer
    }

    /// `POST path`, which must be refused with `expected`; returns the error message.
    pub async fn refused(&self, path: &str, body: Value, expected: u16) -> String {
        let (status, answer) = self.post(path, body.clone()).await;
        assert_eq!(status, expected, "POST {path} {body}: {answer}");
        error_of(&answer)
    }
}

/// The message of a JSON error, which must be there and say something.
pub fn error_of(body: &Value) -> String {
    let message = body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no JSON error in {body}"));
    assert!(!message.trim().is_empty(), "{body}");
    message.to_string()
}
