//! Office sign-in: name and password (Argon2id, see [`crate::auth`]) give a session cookie.
//!
//! The cookie holds 32 random bytes (URL-safe base64); the server keeps only their BLAKE3 hash,
//! with the signed-in [`Clerk`], in memory and in its database (`office_sessions`), so that a
//! restart signs nobody out. A session ends at sign-out, after [`IDLE_TIMEOUT`] without a
//! request (counted in memory: a restart starts it again), or [`LIFETIME`] after sign-in
//! whatever happens.
//!
//! The cookie is `HttpOnly` and `SameSite=Lax`, so a page on another site can neither read it
//! nor send it with a cross-site form post, and `Secure` when the page is served over TLS.
//! Forms also carry a token derived from the cookie ([`form_token`]), and cross-site requests
//! are refused by their `Origin` (see `routes/guard.rs`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fieldsync_protocol::Role;
use fieldsync_store::Store;
use rand::RngCore as _;

use crate::AppState;
use crate::db::DbError;
use crate::office::{Clerk, OfficeError, OfficeResult};

/// The session cookie's name.
pub const COOKIE: &str = "fieldsync_session";

/// A session ends after this long without a request.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(12 * 60 * 60);

/// A session ends this long after sign-in, however busy.
pub const LIFETIME: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Most sessions kept at once; beyond it the least recently used is ended.
const MAX_SESSIONS: usize = 10_000;

#[derive(Debug)]
struct Session {
    clerk: Clerk,
    last_seen: Instant,
    /// Sign-in time, milliseconds since the Unix epoch.
    created_ms: i64,
}

/// The signed-in office sessions.
#[derive(Debug, Default)]
pub struct Sessions {
    by_hash: Mutex<HashMap<[u8; 32], Session>>,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn lifetime_ms() -> i64 {
    LIFETIME.as_millis() as i64
}

impl Sessions {
    /// The sessions stored in `store` that are still live, for a server starting on it. Their
    /// users are read again (a user removed since is signed out; a new role counts).
    pub fn load(store: &Store) -> Result<Sessions, DbError> {
        let now = Instant::now();
        let born_after = now_ms() - lifetime_ms();
        let map = store
            .office_sessions()
            .map_err(|e| DbError::Store(Box::new(e)))?
            .into_iter()
            .filter(|s| s.created_ms > born_after && s.user.role != Role::Technician)
            .map(|s| {
                let clerk = Clerk::new(s.user.id, s.user.name, s.user.role);
                let session = Session {
                    clerk,
                    last_seen: now,
                    created_ms: s.created_ms,
                };
                (s.hash, session)
            })
            .collect();
        Ok(Sessions {
            by_hash: Mutex::new(map),
        })
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        // Nothing is left half-updated by a panic here: take the map over.
        self.by_hash.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a session for `clerk`, stored before it is used; returns the cookie value.
    pub async fn start(&self, state: &AppState, clerk: Clerk) -> Result<String, DbError> {
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        let hash = *blake3::hash(&secret).as_bytes();
        let (user, created_ms) = (clerk.user, now_ms());
        state
            .db()
            .run(move |store| {
                let tx = store.transaction()?;
                // Sessions past their lifetime go with each sign-in.
                tx.end_office_session(None, created_ms - lifetime_ms())?;
                tx.add_office_session(&hash, user, created_ms)?;
                tx.commit()?;
                Ok(())
            })
            .await?;
        let mut map = self.map();
        let now = Instant::now();
        map.retain(|_, s| live(s, now));
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map.iter().min_by_key(|(_, s)| s.last_seen).map(|(k, _)| *k)
        {
            map.remove(&oldest);
        }
        map.insert(
            hash,
            Session {
                clerk,
                last_seen: now,
                created_ms,
            },
        );
        Ok(URL_SAFE_NO_PAD.encode(secret))
    }

    /// The clerk of the session whose cookie value is `token`, if it is live.
    pub fn clerk(&self, token: &str) -> Option<Clerk> {
        let hash = hash(token)?;
        let mut map = self.map();
        let now = Instant::now();
        let session = map.get_mut(&hash)?;
        if !live(session, now) {
            map.remove(&hash);
            return None;
        }
        session.last_seen = now;
        let mut clerk = session.clerk.clone();
        clerk.form_token = form_token(token);
        Some(clerk)
    }

    /// Ends the session whose cookie a request carries (a sign-out: the page's or the API's),
    /// if any.
    pub async fn sign_out(&self, state: &AppState, headers: &axum::http::HeaderMap) {
        if let Some(token) = token(headers) {
            self.end(state, &token).await;
        }
    }

    /// Ends the session of `token`, here and in the database.
    pub async fn end(&self, state: &AppState, token: &str) {
        let Some(hash) = hash(token) else {
            return;
        };
        self.map().remove(&hash);
        let ended = state
            .db()
            .run(move |store| {
                Ok(store
                    .write(|tx| tx.end_office_session(Some(&hash), now_ms() - lifetime_ms()))?)
            })
            .await;
        if let Err(e) = ended {
            // Signed out here all the same; the stored row ends with its lifetime.
            tracing::warn!(error = %e, "cannot remove a signed-out session from the database");
        }
    }
}

/// Whether a session may still be used at `now`.
fn live(session: &Session, now: Instant) -> bool {
    now.duration_since(session.last_seen) < IDLE_TIMEOUT
        && session.created_ms > now_ms() - lifetime_ms()
}

fn hash(token: &str) -> Option<[u8; 32]> {
    let secret: [u8; 32] = URL_SAFE_NO_PAD.decode(token).ok()?.try_into().ok()?;
    Some(*blake3::hash(&secret).as_bytes())
}

/// The session token in a request's cookies (every `Cookie` header, read by axum-extra's
/// cookie jar), if any.
pub fn token(headers: &axum::http::HeaderMap) -> Option<String> {
    CookieJar::from_headers(headers)
        .get(COOKIE)
        .map(|cookie| cookie.value().to_string())
}

/// The session cookie holding `value` for `max_age`: `HttpOnly`, `SameSite=Lax`, the whole
/// site, and `Secure` (sent over TLS only) when the page was reached over TLS.
fn session_cookie(value: String, max_age: Duration, https: bool) -> Cookie<'static> {
    Cookie::build((COOKIE, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::seconds(
            i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX),
        ))
        .secure(https)
        .build()
}

/// The `Set-Cookie` value that carries a new session.
pub fn set_cookie(token: &str, https: bool) -> String {
    session_cookie(token.to_string(), IDLE_TIMEOUT, https).to_string()
}

/// The `Set-Cookie` value that clears the session cookie.
pub fn clear_cookie(https: bool) -> String {
    session_cookie(String::new(), Duration::ZERO, https).to_string()
}

/// The token the office page's forms carry for the session whose cookie value is `token`:
/// derived from the cookie's secret, so a page on another site, which cannot read the page or
/// the cookie, cannot know it (checked by [`crate::routes`]'s form guard).
pub fn form_token(token: &str) -> String {
    let key = blake3::derive_key("fieldsync 2026-12 office form token", token.as_bytes());
    URL_SAFE_NO_PAD.encode(&key[..24])
}

/// Checks a name and password, sent from `from`; the office or admin user's clerk when they
/// match. A wrong name and a wrong password get the same answer, after the same work. After
/// too many failures for the name or from the address ([`crate::sign_in_limits`]) the attempt
/// is refused without checking; every attempt is logged.
pub async fn sign_in(
    state: &AppState,
    name: &str,
    password: &str,
    from: std::net::IpAddr,
) -> OfficeResult<Clerk> {
    if let Err(wait) = state.sign_in_limits().check(name, from) {
        tracing::warn!(name = name.trim(), %from, wait, "sign-in refused: too many failures");
        return Err(OfficeError::TooManyAttempts(wait));
    }
    let result = check_password(state, name, password).await;
    match &result {
        Ok(clerk) => tracing::info!(name = %clerk.name, %from, "signed in"),
        Err(OfficeError::WrongCredentials) => {
            state.sign_in_limits().failed(name, from);
            tracing::warn!(name = name.trim(), %from, "sign-in failed: wrong name or password");
        }
        Err(e) => tracing::info!(name = name.trim(), %from, error = %e, "sign-in refused"),
    }
    result
}

async fn check_password(state: &AppState, name: &str, password: &str) -> OfficeResult<Clerk> {
    let lookup = name.trim().to_string();
    let found = state
        .db()
        .read(move |store| Ok(store.user_by_name(&lookup)?))
        .await?;
    let password = password.to_string();
    let (user, phc) = match found {
        Some((user, Some(phc))) => (Some(user), phc),
        // Verify against a throwaway hash so that an unknown name takes as long as a known one.
        _ => (None, dummy_hash()),
    };
    let matches = crate::auth::verify_password_pooled(password, phc)
        .await
        .map_err(|_| OfficeError::Busy)?;
    let user = user
        .filter(|_| matches)
        .ok_or(OfficeError::WrongCredentials)?;
    if user.role == Role::Technician {
        return Err(OfficeError::Forbidden(
            "the office is for office and admin users; technicians use the tablet app".into(),
        ));
    }
    Ok(Clerk::new(user.id, user.name, user.role))
}

fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| crate::auth::hash_password("not a password").unwrap_or_default())
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adds the office user dana, with a session stored as signed in at `signed_in_ms`.
    async fn office_user(state: &AppState, signed_in_ms: Option<i64>) -> fieldsync_store::User {
        state
            .db()
            .run(move |store| {
                let tx = store.transaction()?;
                let user = tx.add_user("dana", Role::Office, None)?;
                if let Some(at) = signed_in_ms {
                    tx.add_office_session(&[9; 32], user.id, at)?;
                }
                tx.commit()?;
                Ok(user)
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_session_lives_until_it_ends_survives_a_restart_and_only_its_own_token_opens_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        let state = AppState::open(&path).unwrap();
        let dana = office_user(&state, None).await;
        let clerk = Clerk::new(dana.id, "dana".into(), Role::Office);
        let token = state.sessions().start(&state, clerk.clone()).await.unwrap();
        let other = state.sessions().start(&state, clerk.clone()).await.unwrap();

        assert_eq!(state.sessions().clerk(&token).unwrap().user, clerk.user);
        assert!(state.sessions().clerk("not-a-token").is_none());
        assert!(
            state
                .sessions()
                .clerk(&URL_SAFE_NO_PAD.encode([7u8; 32]))
                .is_none()
        );
        state.sessions().end(&state, &other).await;
        drop(state);

        // Restarted: the live session goes on, the ended one does not; only hashes are kept.
        let state = AppState::open(&path).unwrap();
        assert_eq!(state.sessions().clerk(&token).unwrap().user, clerk.user);
        assert!(state.sessions().clerk(&other).is_none());
        let stored = state
            .db()
            .read(|store| Ok(store.office_sessions()?))
            .await
            .unwrap();
        assert_eq!(stored.len(), 1);
        let secret = URL_SAFE_NO_PAD.decode(&token).unwrap();
        assert_ne!(&stored[0].hash[..], &secret[..], "the secret is not stored");

        state.sessions().end(&state, &token).await;
        assert!(state.sessions().clerk(&token).is_none());
        drop(state);
        let state = AppState::open(&path).unwrap();
        assert!(state.sessions().clerk(&token).is_none());
    }

    #[tokio::test]
    async fn a_session_past_its_lifetime_is_over_even_if_used_all_along() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        let state = AppState::open(&path).unwrap();
        // Signed in eight days ago.
        let old = now_ms() - lifetime_ms() - 24 * 3600 * 1000;
        let dana = office_user(&state, Some(old)).await;
        drop(state);
        let state = AppState::open(&path).unwrap();
        assert!(state.sessions().map().is_empty(), "not loaded");
        let clerk = Clerk::new(dana.id, "dana".into(), Role::Office);
        state.sessions().start(&state, clerk).await.unwrap();
        let stored = state
            .db()
            .read(|store| Ok(store.office_sessions()?))
            .await
            .unwrap();
        assert_eq!(
            stored.len(),
            1,
            "the old one was removed with the next sign-in"
        );
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let headers = |values: &[&str]| {
            let mut headers = axum::http::HeaderMap::new();
            for value in values {
                headers.append(axum::http::header::COOKIE, value.parse().unwrap());
            }
            headers
        };
        let found = headers(&["theme=dark; fieldsync_session=abc; fieldsync_session_old=zzz"]);
        assert_eq!(token(&found).as_deref(), Some("abc"));
        assert_eq!(token(&headers(&["fieldsync_session_old=zzz"])), None);
        // A browser may send its cookies in more than one header.
        let split = headers(&["theme=dark", "fieldsync_session=abc"]);
        assert_eq!(token(&split).as_deref(), Some("abc"));
        assert_eq!(token(&headers(&[])), None);
        let set = set_cookie("abc", false);
        assert!(set.starts_with("fieldsync_session=abc"), "{set}");
        for part in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=43200"] {
            assert!(set.contains(part), "{set} has {part}");
        }
        assert!(!set.contains("Secure"));
        assert!(set_cookie("abc", true).contains("Secure"));
        let cleared = clear_cookie(true);
        assert!(
            cleared.contains("Max-Age=0") && cleared.contains("Secure"),
            "{cleared}"
        );
        assert_ne!(form_token("abc"), form_token("abd"));
    }
}
