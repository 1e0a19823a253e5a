//! Starting and stopping the server.

use fieldsync_server::db::DbError;
use fieldsync_tests::{TestServer, http_get};

#[tokio::test]
async fn shutdown_ends_serving_cleanly_and_closes_the_port() {
    let server = TestServer::start().await;
    let addr = server.addr();
    let (status, _) = http_get(addr, "/healthz").await.unwrap();
    assert_eq!(status, 200);

    server.shutdown().await.unwrap();

    let err = tokio::net::TcpStream::connect(addr).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
}

#[tokio::test]
async fn a_database_in_a_missing_directory_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("does-not-exist");
    let db_path = missing.join("fieldsync.sqlite3");

    let err = TestServer::start_with_db(&db_path).await.unwrap_err();

    assert!(
        matches!(&err, DbError::Open { path, .. } if *path == db_path),
        "{err:?}"
    );
    assert!(err.to_string().contains("does-not-exist"), "{err}");
    assert!(!missing.exists());
}
