//! `GET /healthz` and unknown paths, against the real server on loopback.

use fieldsync_tests::{TestServer, http_get};
use serde_json::{Value, json};

#[tokio::test]
async fn healthz_reports_ok_with_a_working_database() {
    let server = TestServer::start().await;

    let (status, body) = http_get(server.addr(), "/healthz").await.unwrap();

    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body, json!({"status": "ok", "db": "ok"}));
    assert!(server.db_path().is_file());
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn unknown_paths_get_a_json_404() {
    let server = TestServer::start().await;

    let (status, body) = http_get(server.addr(), "/no/such/page").await.unwrap();

    assert_eq!(status, 404);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body, json!({"error": "not found"}));
    server.shutdown().await.unwrap();
}
