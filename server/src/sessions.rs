//! Office sign-in: name and password (Argon2id, see [`crate::auth`]) give a session cookie.
//!
//! The cookie holds 32 random bytes (URL-safe base64); the server keeps only their BLAKE3 hash,
//! in memory, with the signed-in [`Clerk`]. A session ends at sign-out or after
//! [`IDLE_TIMEOUT`] without a request. Sessions live in memory: restarting the server signs
//! everyone out (their work is all in the documents, so nothing is lost).
//!
//! The cookie is `HttpOnly` and `SameSite=Lax`, so a page on another site can neither read it
//! nor send it with a cross-site form post.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fieldsync_protocol::Role;
use rand::RngCore as _;

use crate::AppState;
use crate::office::{Clerk, OfficeError, OfficeResult};

/// The session cookie's name.
pub const COOKIE: &str = "fieldsync_session";

/// A session ends after this long without a request.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(12 * 60 * 60);

/// Most sessions kept at once; beyond it the least recently used is ended.
const MAX_SESSIONS: usize = 10_000;

#[derive(Debug)]
struct Session {
    clerk: Clerk,
    last_seen: Instant,
}

/// The signed-in office sessions.
#[derive(Debug, Default)]
pub struct Sessions {
    by_hash: Mutex<HashMap<[u8; 32], Session>>,
}

impl Sessions {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        // Nothing is left half-updated by a panic here: take the map over.
        self.by_hash.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a session for `clerk`; returns the cookie value.
    pub fn start(&self, clerk: Clerk) -> String {
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        let mut map = self.map();
        let now = Instant::now();
        map.retain(|_, s| now.duration_since(s.last_seen) < IDLE_TIMEOUT);
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map.iter().min_by_key(|(_, s)| s.last_seen).map(|(k, _)| *k)
        {
            map.remove(&oldest);
        }
        map.insert(
            *blake3::hash(&secret).as_bytes(),
            Session {
                clerk,
                last_seen: now,
            },
        );
        URL_SAFE_NO_PAD.encode(secret)
    }

    /// The clerk of the session whose cookie value is `token`, if it is live.
    pub fn clerk(&self, token: &str) -> Option<Clerk> {
        let hash = hash(token)?;
        let mut map = self.map();
        let now = Instant::now();
        let session = map.get_mut(&hash)?;
        if now.duration_since(session.last_seen) >= IDLE_TIMEOUT {
            map.remove(&hash);
            return None;
        }
        session.last_seen = now;
        Some(session.clerk.clone())
    }

    /// Ends the session of `token`.
    pub fn end(&self, token: &str) {
        if let Some(hash) = hash(token) {
            self.map().remove(&hash);
        }
    }
}

fn hash(token: &str) -> Option<[u8; 32]> {
    let secret: [u8; 32] = URL_SAFE_NO_PAD.decode(token).ok()?.try_into().ok()?;
    Some(*blake3::hash(&secret).as_bytes())
}

/// The value of cookie `name` in a `Cookie` header's value.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
}

/// The `Set-Cookie` value that carries a new session.
pub fn set_cookie(token: &str) -> String {
    format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}",
        IDLE_TIMEOUT.as_secs()
    )
}

/// The `Set-Cookie` value that clears the session cookie.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// Checks a name and password; the office or admin user's clerk when they match. A wrong
/// name and a wrong password get the same answer, after the same work.
pub async fn sign_in(state: &AppState, name: &str, password: &str) -> OfficeResult<Clerk> {
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
    let matches =
        tokio::task::spawn_blocking(move || crate::auth::verify_password(&password, &phc))
            .await
            .map_err(|e| OfficeError::Db(e.into()))?;
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
    use fieldsync_protocol::UserId;

    use super::*;

    #[test]
    fn a_session_lives_until_it_ends_and_only_its_own_token_opens_it() {
        let sessions = Sessions::default();
        let clerk = Clerk::new(UserId::new(), "Dana".into(), Role::Office);
        let token = sessions.start(clerk.clone());

        assert_eq!(sessions.clerk(&token).unwrap().user, clerk.user);
        assert!(sessions.clerk("not-a-token").is_none());
        assert!(sessions.clerk(&URL_SAFE_NO_PAD.encode([7u8; 32])).is_none());

        sessions.end(&token);
        assert!(sessions.clerk(&token).is_none());
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let header = "theme=dark; fieldsync_session=abc; fieldsync_session_old=zzz";
        assert_eq!(cookie(header, COOKIE), Some("abc"));
        assert_eq!(cookie("fieldsync_session_old=zzz", COOKIE), None);
        assert!(set_cookie("abc").contains("HttpOnly"));
    }
}
