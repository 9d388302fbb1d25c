//! The dashboard's sessions: a bearer token (or nothing else: API keys are
//! external applications, which have no dashboard) exchanged once for an
//! opaque session id in a `Secure; HttpOnly; SameSite=Strict` cookie scoped to
//! `/dashboard`. The server keeps the token and authenticates it again on every
//! page, so the session ends when the token expires, at the latest after
//! [`SESSION_LIFETIME`], or at sign-out. Each session has its own CSRF token,
//! which the one state-changing form (sign-out) must carry.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The cookie's name.
pub const COOKIE: &str = "careledger_dashboard";
/// A session lasts at most this long (and never past its token).
pub const SESSION_LIFETIME: Duration = Duration::from_secs(8 * 3600);
/// Sessions kept at once; the oldest go first when full.
const MAX_SESSIONS: usize = 10_000;

/// One signed-in browser.
#[derive(Clone)]
pub struct Session {
    /// The bearer token presented at sign-in (authenticated again on each page).
    pub token: String,
    /// What the sign-out form must carry.
    pub csrf: String,
    pub expires: Instant,
}

/// The sessions, by the SHA-256 of their id (the id itself is kept nowhere).
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<[u8; 32], Session>>,
}

fn random_id() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("randomness");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn key(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

impl Sessions {
    /// A new session for `token`, lasting `lifetime` (at most
    /// [`SESSION_LIFETIME`]); its id (the cookie's value).
    pub fn open(&self, token: &str, lifetime: Duration, now: Instant) -> String {
        let id = random_id();
        let session = Session {
            token: token.to_string(),
            csrf: random_id(),
            expires: now + lifetime.min(SESSION_LIFETIME),
        };
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, s| s.expires > now);
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map.iter().min_by_key(|(_, s)| s.expires).map(|(k, _)| *k)
        {
            map.remove(&oldest);
        }
        map.insert(key(&id), session);
        id
    }

    /// The live session with this id (an expired one is dropped).
    pub fn get(&self, id: &str, now: Instant) -> Option<Session> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let k = key(id);
        match map.get(&k) {
            Some(s) if s.expires > now => Some(s.clone()),
            Some(_) => {
                map.remove(&k);
                None
            }
            None => None,
        }
    }

    /// Ends a session.
    pub fn close(&self, id: &str) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key(id));
    }
}

/// The session id a request's `Cookie` header carries, if any.
pub fn cookie_id(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

/// The `Set-Cookie` value that gives the browser session `id` for `lifetime`.
pub fn set_cookie(id: &str, lifetime: Duration) -> String {
    format!(
        "{COOKIE}={id}; Path=/dashboard; Max-Age={}; Secure; HttpOnly; SameSite=Strict",
        lifetime.min(SESSION_LIFETIME).as_secs()
    )
}

/// The `Set-Cookie` value that removes it.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/dashboard; Max-Age=0; Secure; HttpOnly; SameSite=Strict")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_lives_until_it_expires_or_is_closed() {
        let s = Sessions::default();
        let t0 = Instant::now();
        let id = s.open("tok", Duration::from_secs(60), t0);
        assert_eq!(s.get(&id, t0).unwrap().token, "tok");
        assert!(s.get(&id, t0 + Duration::from_secs(61)).is_none());
        assert!(s.get(&id, t0).is_none(), "an expired session is dropped");
        let id = s.open("tok", Duration::from_secs(60), t0);
        s.close(&id);
        assert!(s.get(&id, t0).is_none());
        assert!(s.get("forged", t0).is_none());
    }

    #[test]
    fn a_session_never_outlives_its_cap_and_ids_are_unguessable() {
        let s = Sessions::default();
        let t0 = Instant::now();
        let a = s.open("tok", Duration::from_secs(90 * 24 * 3600), t0);
        assert!(
            s.get(&a, t0 + SESSION_LIFETIME + Duration::from_secs(1))
                .is_none()
        );
        let b = s.open("tok", Duration::from_secs(60), t0);
        assert_ne!(a, b);
        assert_eq!(a.len(), 43, "256 random bits");
        let c = set_cookie(&b, Duration::from_secs(60));
        for attr in [
            "Secure",
            "HttpOnly",
            "SameSite=Strict",
            "Path=/dashboard",
            "Max-Age=60",
        ] {
            assert!(c.contains(attr), "{c}");
        }
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut h = axum::http::HeaderMap::new();
        h.append(
            "cookie",
            "a=1; careledger_dashboard=xyz; b=2".parse().unwrap(),
        );
        assert_eq!(cookie_id(&h).as_deref(), Some("xyz"));
        h.clear();
        h.append("cookie", "careledger_dashboardx=1".parse().unwrap());
        assert_eq!(cookie_id(&h), None);
    }
}
