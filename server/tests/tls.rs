//! `fieldsync-server serve --tls-self-signed` as an operator runs it: it prints the
//! fingerprint of the certificate it made, serves HTTPS with that very certificate, keeps it
//! across a restart, and a plain-HTTP client is not answered.

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

mod common;

/// Accepts any certificate and keeps the fingerprint of the one presented: the test compares
/// it with what the server printed.
#[derive(Debug, Default)]
struct Recorder(Mutex<Option<String>>);

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.0.lock().unwrap() = Some(fieldsync_server::tls::fingerprint(end_entity));
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// `GET /healthz` over TLS at `addr`: the certificate's fingerprint and the response.
async fn healthz(addr: &str) -> (String, String) {
    let recorder = Arc::new(Recorder::default());
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .dangerous()
    .with_custom_certificate_verifier(recorder.clone())
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    tls.read_to_string(&mut response).await.unwrap();
    let fingerprint = recorder.0.lock().unwrap().clone().unwrap();
    (fingerprint, response)
}

fn printed_fingerprint(printed: &[String]) -> String {
    printed
        .iter()
        .find_map(|line| line.trim().strip_prefix("--fingerprint "))
        .unwrap_or_else(|| panic!("no fingerprint printed: {printed:?}"))
        .to_string()
}

#[tokio::test]
async fn a_self_signed_server_prints_the_fingerprint_of_the_certificate_it_serves() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fieldsync.sqlite3");

    let (mut serving, addr, printed) = common::serve_with(&db, &["--tls-self-signed"]);
    let fingerprint = printed_fingerprint(&printed);
    let (presented, response) = healthz(&addr).await;
    assert_eq!(presented, fingerprint);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("strict-transport-security"), "{response}");
    // A client speaking plain HTTP to it gets no answer.
    let mut plain = tokio::net::TcpStream::connect(&addr).await.unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer).await;
    assert!(!String::from_utf8_lossy(&answer).contains("200 OK"));
    serving.kill().unwrap();
    serving.wait().unwrap();

    // Restarted, it serves the same certificate: the tablets' pins still hold.
    let (mut again, addr, printed) = common::serve_with(&db, &["--tls-self-signed"]);
    assert_eq!(printed_fingerprint(&printed), fingerprint);
    assert_eq!(healthz(&addr).await.0, fingerprint);
    again.kill().unwrap();
    again.wait().unwrap();
}
