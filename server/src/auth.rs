//! Who is calling: device tokens for tablets, passwords for office login.
//!
//! A device token is 32 random bytes, shown once as `fsd_` followed by 43 characters of
//! URL-safe base64 (no padding): short enough to type from a screen, safe in a URL or a QR
//! code, and recognisable in a leaked log by its prefix. The server keeps only the BLAKE3 hash
//! of the bytes. A request's token is hashed and the device looked up by that hash, so the
//! secret itself is never compared; the stored hash is then compared in constant time before
//! the device is accepted. Revoked devices are refused.
//!
//! Passwords are hashed with Argon2id (the `argon2` crate's defaults) into a PHC string, which
//! carries its own salt and parameters.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::Json;
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fieldsync_store::Device;
use rand::RngCore as _;
use serde::Serialize;

use crate::db::{Db, DbError};

/// What every device token starts with.
pub const TOKEN_PREFIX: &str = "fsd_";

/// Why a device was not let in.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The request has no `Authorization` header (or an empty one).
    #[error("device token missing: send Authorization: Bearer <token>")]
    Missing,
    /// The header is not `Bearer fsd_...` with a well-formed token.
    #[error("device token malformed: send Authorization: Bearer fsd_<43 characters>")]
    Malformed,
    /// No device has this token.
    #[error("device token not recognised: check it, or pair the tablet again")]
    Unknown,
    /// The device was revoked.
    #[error("device token revoked: pair the tablet again")]
    Revoked,
    /// The database could not be asked.
    #[error("database unavailable")]
    Unavailable(#[source] DbError),
}

impl AuthError {
    /// 401 for every refusal, 503 when the database could not be asked.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }
}

#[derive(Serialize)]
struct ErrorBody {
    error: String,
}

impl IntoResponse for AuthError {
    /// `{"error": "..."}` with the variant's message (no internal details); a 401 also says
    /// `WWW-Authenticate: Bearer`.
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            Self::Unavailable(cause) => {
                tracing::error!(error = %self, cause = %cause, "device authentication failed");
            }
            refused => tracing::debug!(reason = %refused, "device refused"),
        }
        let body = Json(ErrorBody {
            error: self.to_string(),
        });
        if status == StatusCode::UNAUTHORIZED {
            let challenge = [(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))];
            (status, challenge, body).into_response()
        } else {
            (status, body).into_response()
        }
    }
}

/// A new device token: the text to show once (and never store) and the hash to store.
pub fn new_device_token() -> (String, [u8; 32]) {
    let mut secret = [0u8; 32];
    // ThreadRng: a CSPRNG seeded (and periodically reseeded) from the operating system.
    rand::rng().fill_bytes(&mut secret);
    let shown = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(secret));
    (shown, *blake3::hash(&secret).as_bytes())
}

/// The hash under which a device token is stored; [`AuthError::Malformed`] if `token` is not
/// `fsd_` followed by the URL-safe base64 of 32 bytes.
pub fn device_token_hash(token: &str) -> Result<[u8; 32], AuthError> {
    let encoded = token
        .strip_prefix(TOKEN_PREFIX)
        .ok_or(AuthError::Malformed)?;
    let secret: [u8; 32] = URL_SAFE_NO_PAD
        .decode(encoded)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(AuthError::Malformed)?;
    Ok(*blake3::hash(&secret).as_bytes())
}

/// The token in an `Authorization` header value: `Bearer <token>` (the scheme in any case).
fn bearer_token(header_value: Option<&str>) -> Result<&str, AuthError> {
    let value = header_value.map(str::trim).unwrap_or_default();
    if value.is_empty() {
        return Err(AuthError::Missing);
    }
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Ok(token.trim()),
        _ => Err(AuthError::Malformed),
    }
}

/// The registered, unrevoked device whose token is in `header_value` (the `Authorization`
/// header's value, `Bearer <token>`).
pub async fn authenticate_device(db: &Db, header_value: Option<&str>) -> Result<Device, AuthError> {
    let hash = device_token_hash(bearer_token(header_value)?)?;
    let found = db
        .run(move |store| Ok(store.device_by_token_hash(&hash)?))
        .await
        .map_err(AuthError::Unavailable)?;
    let device = found.ok_or(AuthError::Unknown)?;
    // SQLite found the row by equality on the hash; check it again in constant time so the
    // decision itself never depends on where two hashes first differ.
    if !constant_time_eq::constant_time_eq_32(&device.token_hash, &hash) {
        return Err(AuthError::Unknown);
    }
    if device.revoked {
        return Err(AuthError::Revoked);
    }
    Ok(device)
}

/// [`authenticate_device`] with a request's headers; a header that is not visible ASCII is
/// [`AuthError::Malformed`].
pub async fn authenticate_headers(db: &Db, headers: &HeaderMap) -> Result<Device, AuthError> {
    let value = match headers.get(AUTHORIZATION) {
        Some(value) => Some(value.to_str().map_err(|_| AuthError::Malformed)?),
        None => None,
    };
    authenticate_device(db, value).await
}

/// Hashes a password for storing: Argon2id with a fresh random salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Whether `password` matches a PHC string made by [`hash_password`]; `false` also when
/// the stored string cannot be read.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// Threads that check passwords: Argon2 is slow on purpose (tens of milliseconds and
/// 19 MiB each), so sign-ins run on their own pool and cannot take the threads the database
/// work runs on.
const PASSWORD_THREADS: usize = 2;

/// Most password checks running or waiting at once; beyond, a sign-in is told the server is
/// busy rather than queued for ever.
const PASSWORD_QUEUE: usize = 64;

/// The password pool is full ([`verify_password_pooled`]).
#[derive(Debug, thiserror::Error)]
#[error("too many sign-ins are being checked at once")]
pub struct PasswordPoolBusy;

/// [`verify_password`] on the password pool.
pub async fn verify_password_pooled(
    password: String,
    phc: String,
) -> Result<bool, PasswordPoolBusy> {
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    static QUEUE: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(PASSWORD_QUEUE);
    let _queued = QUEUE.try_acquire().map_err(|_| PasswordPoolBusy)?;
    let pool = POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(PASSWORD_THREADS)
            .thread_name(|i| format!("password-{i}"))
            .build()
            .inspect_err(|e| tracing::error!(error = %e, "cannot start the password threads"))
            .ok()
    });
    let pool = pool.as_ref().ok_or(PasswordPoolBusy)?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    pool.spawn(move || {
        let _ = tx.send(verify_password(&password, &phc));
    });
    rx.await.map_err(|_| PasswordPoolBusy)
}

#[cfg(test)]
mod tests {
    use fieldsync_protocol::Role;

    use super::*;

    use crate::error::body_text;

    /// A database with one technician and two devices, the second revoked; their tokens.
    async fn db_with_devices() -> (tempfile::TempDir, Db, String, String) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path().join("db.sqlite3")).unwrap();
        let (active, hash) = new_device_token();
        let (revoked, revoked_hash) = new_device_token();
        db.run(move |store| {
            let tx = store.transaction()?;
            let tess = tx.add_user("Tess", Role::Technician, None)?;
            tx.add_device(tess.id, "Tess's tablet", hash)?;
            let old = tx.add_device(tess.id, "lost tablet", revoked_hash)?;
            tx.revoke_device(old.id)?;
            tx.commit()?;
            Ok(())
        })
        .await
        .unwrap();
        (dir, db, active, revoked)
    }

    #[test]
    fn tokens_are_prefixed_url_safe_random_and_hash_as_stored() {
        let (token, hash) = new_device_token();
        let (other, other_hash) = new_device_token();

        assert!(token.starts_with("fsd_"), "{token}");
        assert_eq!(token.len(), 4 + 43);
        assert!(
            token[4..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{token}"
        );
        assert_ne!(token, other);
        assert_ne!(hash, other_hash);
        assert_eq!(device_token_hash(&token).unwrap(), hash);
    }

    #[test]
    fn tokens_of_the_wrong_shape_are_malformed() {
        let (token, _) = new_device_token();
        for bad in [
            &token[4..],                        // no prefix
            &token[..token.len() - 1],          // 31.x bytes
            &format!("{token}AA"),              // 33 bytes
            &format!("fsd_{}", "+".repeat(43)), // not URL-safe base64
            &format!("FSD_{}", &token[4..]),    // prefix is case-sensitive
            "",
        ] {
            assert!(
                matches!(device_token_hash(bad), Err(AuthError::Malformed)),
                "{bad:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_registered_device_is_let_in_with_its_bearer_token() {
        let (_dir, db, token, _) = db_with_devices().await;

        let device = authenticate_device(&db, Some(&format!("Bearer {token}")))
            .await
            .unwrap();
        assert_eq!((device.number, device.user.name.as_str()), (1, "Tess"));

        let lower = authenticate_device(&db, Some(&format!("bearer  {token} ")))
            .await
            .unwrap();
        assert_eq!(lower, device);
    }

    #[tokio::test]
    async fn missing_malformed_unknown_and_revoked_tokens_are_refused() {
        let (_dir, db, token, revoked) = db_with_devices().await;
        let (stranger, _) = new_device_token();
        let refusal = |value: Option<String>| {
            let db = db.clone();
            async move {
                authenticate_device(&db, value.as_deref())
                    .await
                    .unwrap_err()
            }
        };

        assert!(matches!(refusal(None).await, AuthError::Missing));
        assert!(matches!(
            refusal(Some(" ".into())).await,
            AuthError::Missing
        ));
        assert!(matches!(
            refusal(Some(token.clone())).await,
            AuthError::Malformed
        ));
        assert!(matches!(
            refusal(Some(format!("Basic {token}"))).await,
            AuthError::Malformed
        ));
        assert!(matches!(
            refusal(Some("Bearer fsd_short".into())).await,
            AuthError::Malformed
        ));
        assert!(matches!(
            refusal(Some(format!("Bearer {stranger}"))).await,
            AuthError::Unknown
        ));
        assert!(matches!(
            refusal(Some(format!("Bearer {revoked}"))).await,
            AuthError::Revoked
        ));
    }

    #[tokio::test]
    async fn headers_are_read_from_a_request() {
        let (_dir, db, token, _) = db_with_devices().await;
        let mut headers = HeaderMap::new();
        assert!(matches!(
            authenticate_headers(&db, &headers).await,
            Err(AuthError::Missing)
        ));
        headers.insert(AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
        assert_eq!(authenticate_headers(&db, &headers).await.unwrap().number, 1);
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_bytes(b"Bearer \xff").unwrap(),
        );
        assert!(matches!(
            authenticate_headers(&db, &headers).await,
            Err(AuthError::Malformed)
        ));
    }

    #[tokio::test]
    async fn a_refusal_is_a_401_with_a_json_reason_and_a_bearer_challenge() {
        let response = AuthError::Revoked.into_response();

        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[WWW_AUTHENTICATE], "Bearer");
        assert_eq!(
            body_text(response).await,
            r#"{"error":"device token revoked: pair the tablet again"}"#
        );
        let missing = body_text(AuthError::Missing.into_response()).await;
        assert_eq!(
            missing,
            r#"{"error":"device token missing: send Authorization: Bearer <token>"}"#
        );
    }

    #[tokio::test]
    async fn a_database_failure_is_a_503_without_details() {
        let (_dir, db, token, _) = db_with_devices().await;
        db.drop_table("devices").await;

        let err = authenticate_device(&db, Some(&format!("Bearer {token}")))
            .await
            .unwrap_err();
        let response = err.into_response();

        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(response.headers().get(WWW_AUTHENTICATE).is_none());
        assert_eq!(
            body_text(response).await,
            r#"{"error":"database unavailable"}"#
        );
    }

    #[test]
    fn passwords_verify_against_their_salted_hash_only() {
        let hash = hash_password("correct horse").unwrap();

        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert_ne!(hash, hash_password("correct horse").unwrap(), "salted");
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("Correct horse", &hash));
        assert!(!verify_password("correct horse", "not a PHC string"));
    }
}
