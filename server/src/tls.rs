//! TLS for the server's listener (rustls on ring): a certificate and key from PEM files
//! (`serve --tls-cert --tls-key`), or a self-signed certificate made once and kept next to the
//! database (`serve --tls-self-signed`) for a server on a LAN, whose SHA-256 fingerprint the
//! tablets pin at pairing.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why TLS cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file cannot be read or holds nothing usable.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The certificate and key do not go together, or rustls refuses them.
    #[error("the TLS certificate and key cannot be used: {0}")]
    Config(#[from] rustls::Error),
    /// The self-signed certificate cannot be made.
    #[error("cannot make a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// A server's TLS settings, ready for the listener, and its certificate's fingerprint.
#[derive(Clone, Debug)]
pub struct Tls {
    /// rustls's server configuration (HTTP/1.1 only, as the server speaks).
    pub config: Arc<ServerConfig>,
    /// The SHA-256 fingerprint of the certificate the server presents ([`fingerprint`]).
    pub fingerprint: String,
}

/// The SHA-256 fingerprint of a certificate (DER), as browsers show it: 32 bytes in
/// upper-case hex, separated by colons. Tablets accept it with or without the colons.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let bytes = digest.as_ref().try_into().expect("SHA-256 is 32 bytes");
    fieldsync_protocol::Fingerprint::from_sha256(bytes).to_string()
}

fn file_error(path: &Path, reason: impl std::fmt::Display) -> TlsError {
    TlsError::File {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// TLS with the certificate chain in `cert` and the private key in `key` (PEM files).
pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Tls, TlsError> {
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| file_error(cert, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(cert, e))?;
    if chain.is_empty() {
        return Err(file_error(cert, "holds no PEM certificate"));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| file_error(key, e))?;
    from_der(chain, key)
}

/// TLS with a certificate chain (the server's first) and its key.
pub fn from_der(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Tls, TlsError> {
    let fingerprint = fingerprint(chain.first().map(|c| c.as_ref()).unwrap_or_default());
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Tls {
        config: Arc::new(config),
        fingerprint,
    })
}

/// A self-signed certificate for `names` (host names and IP addresses), with its key, in
/// PEM: `(certificate, key)`.
pub fn generate(names: &[String]) -> Result<(String, String), TlsError> {
    let made = rcgen::generate_simple_self_signed(names.to_vec())?;
    Ok((made.cert.pem(), made.signing_key.serialize_pem()))
}

/// The certificate and key files of `--tls-self-signed`, next to the database `db`.
pub fn self_signed_paths(db: &Path) -> (PathBuf, PathBuf) {
    let name = |suffix: &str| {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    (name(".tls-cert.pem"), name(".tls-key.pem"))
}

/// TLS with the self-signed certificate kept next to the database `db`, made for `names`
/// the first time (the key readable by its owner only). Kept, so that its fingerprint, which
/// the tablets pinned at pairing, stays the same across restarts.
pub fn self_signed(db: &Path, names: &[String]) -> Result<Tls, TlsError> {
    let (cert, key) = self_signed_paths(db);
    if !cert.exists() && !key.exists() {
        let (cert_pem, key_pem) = generate(names)?;
        write_private(&key, key_pem.as_bytes())?;
        std::fs::write(&cert, cert_pem).map_err(|e| file_error(&cert, e))?;
    }
    from_pem_files(&cert, &key)
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| file_error(path, e))?;
    file.write_all(bytes).map_err(|e| file_error(path, e))
}

/// The names a self-signed certificate is made for: `localhost`, the loopback addresses, the
/// listening address when it is a specific one, the machine's host name, and `extra`.
pub fn default_names(listen: std::net::SocketAddr, extra: &[String]) -> Vec<String> {
    let mut names = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
    if !listen.ip().is_unspecified() && !listen.ip().is_loopback() {
        names.push(listen.ip().to_string());
    }
    if let Ok(host) = std::fs::read_to_string("/etc/hostname") {
        let host = host.trim();
        if !host.is_empty() {
            names.push(host.to_string());
        }
    }
    names.extend(extra.iter().cloned());
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_certificate_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("fieldsync.sqlite3");
        let names = vec!["localhost".to_string(), "192.168.1.20".to_string()];

        let first = self_signed(&db, &names).unwrap();
        let again = self_signed(&db, &names).unwrap();

        assert_eq!(first.fingerprint, again.fingerprint);
        assert_eq!(first.fingerprint.len(), 32 * 3 - 1, "{}", first.fingerprint);
        let (_, key) = self_signed_paths(&db);
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(key).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the key is readable by others: {mode:o}");
    }

    #[test]
    fn unusable_pem_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        std::fs::write(&cert, "not a certificate").unwrap();
        std::fs::write(&key, "not a key").unwrap();

        let err = from_pem_files(&cert, &key).unwrap_err().to_string();
        assert!(err.contains("c.pem") && err.contains("no PEM"), "{err}");

        let (cert_pem, _) = generate(&["localhost".into()]).unwrap();
        std::fs::write(&cert, cert_pem).unwrap();
        let err = from_pem_files(&cert, &key).unwrap_err().to_string();
        assert!(err.contains("k.pem"), "{err}");

        let missing = from_pem_files(&dir.path().join("none.pem"), &key).unwrap_err();
        assert!(missing.to_string().contains("none.pem"), "{missing}");
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        let (cert_pem, _) = generate(&["localhost".into()]).unwrap();
        let (_, other_key) = generate(&["localhost".into()]).unwrap();
        std::fs::write(&cert, cert_pem).unwrap();
        std::fs::write(&key, other_key).unwrap();

        assert!(matches!(
            from_pem_files(&cert, &key),
            Err(TlsError::Config(_))
        ));
    }
}
