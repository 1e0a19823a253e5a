//! TLS for `wss://` servers (rustls on ring): the server's certificate is checked against the
//! system's root certificates, or, for a server with a self-signed certificate, against the
//! SHA-256 fingerprint pinned at pairing. A certificate that does not pass ends the handshake
//! before anything (the device token above all) is sent.

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, OtherError, SignatureScheme};

pub use fieldsync_protocol::Fingerprint;

/// The fingerprint of a certificate (DER).
pub fn fingerprint_of(der: &[u8]) -> Fingerprint {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    Fingerprint::from_sha256(digest.as_ref().try_into().expect("SHA-256 is 32 bytes"))
}

/// The server presented a certificate other than the pinned one.
#[derive(Debug)]
pub struct FingerprintMismatch {
    /// The fingerprint pinned at pairing.
    pub pinned: Fingerprint,
    /// The fingerprint of the certificate the server presented.
    pub presented: Fingerprint,
}

impl std::fmt::Display for FingerprintMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the server's certificate (fingerprint {}) is not the one this tablet was paired with ({}); nothing was sent. If the server's certificate was replaced, pair again with its new fingerprint",
            self.presented, self.pinned
        )
    }
}

impl std::error::Error for FingerprintMismatch {}

fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// Accepts exactly the certificate with the pinned fingerprint (whatever its names, issuer
/// or dates: the pin is the trust), and checks that the server holds its key.
#[derive(Debug)]
struct Pinned {
    fingerprint: Fingerprint,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let presented = fingerprint_of(end_entity);
        if presented == self.fingerprint {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                OtherError(Arc::new(FingerprintMismatch {
                    pinned: self.fingerprint,
                    presented,
                })),
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The system's root certificates, read once.
fn system_roots() -> Result<Arc<rustls::RootCertStore>, String> {
    static ROOTS: OnceLock<Arc<rustls::RootCertStore>> = OnceLock::new();
    if let Some(roots) = ROOTS.get() {
        return Ok(roots.clone());
    }
    let found = rustls_native_certs::load_native_certs();
    for e in &found.errors {
        tracing::warn!(error = %e, "cannot read some of the system's root certificates");
    }
    let mut roots = rustls::RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err("the server's certificate is not trusted: this system has no root certificates to check it against; pair with the server's certificate fingerprint instead".into());
    }
    Ok(ROOTS.get_or_init(|| Arc::new(roots)).clone())
}

/// The TLS client settings for a server: pinned to `fingerprint` when given, else checked
/// against the system's roots.
pub fn client_config(fingerprint: Option<Fingerprint>) -> Result<Arc<ClientConfig>, String> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let config = match fingerprint {
        Some(fingerprint) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned {
                fingerprint,
                algorithms: provider.signature_verification_algorithms,
            }))
            .with_no_client_auth(),
        None => builder
            .with_root_certificates(system_roots()?)
            .with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// What a TLS failure inside `e` means for the technician, if it is one.
pub fn failure(e: &std::io::Error) -> Option<String> {
    let tls = e.get_ref()?.downcast_ref::<rustls::Error>()?;
    Some(match tls {
        rustls::Error::InvalidCertificate(CertificateError::Other(other)) => {
            match other.0.downcast_ref::<FingerprintMismatch>() {
                Some(mismatch) => mismatch.to_string(),
                None => format!("the server's certificate is not trusted: {tls}"),
            }
        }
        rustls::Error::InvalidCertificate(_) => format!(
            "the server's certificate is not trusted ({tls}); nothing was sent. For a server with a self-signed certificate, pair with its fingerprint"
        ),
        other => format!("the secure connection failed: {other}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject as _;

    #[test]
    fn the_fingerprint_a_server_prints_is_the_one_the_tablet_computes() {
        let (cert_pem, key_pem) = fieldsync_server::tls::generate(&["localhost".into()]).unwrap();
        let der = CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
        let printed = fieldsync_server::tls::from_der(vec![der.clone()], key)
            .unwrap()
            .fingerprint;

        assert_eq!(Fingerprint::parse(&printed), Ok(fingerprint_of(&der)));
    }
}
